package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pkg/profile"
)

// profileModes maps -profile values to github.com/pkg/profile modes. Each writes one file into -profile-dir
// when the daemon stops: cpu.pprof, mem.pprof, mutex.pprof, block.pprof, goroutine.pprof or trace.out.
var profileModes = map[string]func(*profile.Profile){
	"cpu":       profile.CPUProfile,
	"mem":       profile.MemProfile,
	"mutex":     profile.MutexProfile,
	"block":     profile.BlockProfile,
	"goroutine": profile.GoroutineProfile,
	"trace":     profile.TraceProfile,
}

// checkProfileMode reports an unknown -profile value, listing the known ones.
func checkProfileMode(mode string) error {
	if _, ok := profileModes[mode]; ok || mode == "" {
		return nil
	}
	names := make([]string, 0, len(profileModes))
	for n := range profileModes {
		names = append(names, n)
	}
	sort.Strings(names)
	return fmt.Errorf("-profile %q: want one of %s", mode, strings.Join(names, ", "))
}

// startProfile starts mode's profile for the life of the process and returns the function that writes it.
// The daemon stops it after Shutdown, so a SIGINT/SIGTERM still leaves a complete profile behind.
// pkg/profile allows one profile per process.
func startProfile(mode, dir string) (stop func()) {
	p := profile.Start(profileModes[mode], profile.ProfilePath(dir), profile.NoShutdownHook, profile.Quiet)
	return p.Stop
}
