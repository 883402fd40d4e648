package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestParseOptions(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte("tcp_addr: 127.0.0.1:1999\nmax_packet_size: 4096\nlog_level: warn\n"), 0o600)
	tests := []struct {
		name  string
		args  []string
		tcp   string
		mps   int
		level string
		bad   bool
	}{
		{name: "defaults", args: nil, tcp: ":1883", mps: 1 << 20, level: "info"},
		{name: "flags", args: []string{"-tcp", "127.0.0.1:1", "-log-level", "debug"}, tcp: "127.0.0.1:1", mps: 1 << 20, level: "debug"},
		{name: "file", args: []string{"-config", cfg}, tcp: "127.0.0.1:1999", mps: 4096, level: "warn"},
		{name: "flag overrides file", args: []string{"-config", cfg, "-tcp", ":2000"}, tcp: ":2000", mps: 4096, level: "warn"},
		{name: "flag before -config still wins", args: []string{"-tcp", ":2001", "-config", cfg}, tcp: ":2001", mps: 4096, level: "warn"},
		{name: "missing file", args: []string{"-config", filepath.Join(dir, "nope.yaml")}, bad: true},
		{name: "bad level", args: []string{"-log-level", "loud"}, bad: true},
		{name: "stray argument", args: []string{"extra"}, bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, _, err := parseOptions(tt.args)
			if tt.bad {
				if err == nil {
					t.Fatal("accepted")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.TCPAddr != tt.tcp || o.MaxPacketSize != tt.mps || o.LogLevel != tt.level {
				t.Fatalf("got tcp %q mps %d level %q", o.TCPAddr, o.MaxPacketSize, o.LogLevel)
			}
		})
	}
}

// TestDaemonStartsAndStopsOnSIGTERM builds bin/loopmq's main, runs it and stops it with SIGTERM: exit status 0.
func TestDaemonStartsAndStopsOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "loopmq")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-tcp", "127.0.0.1:0", "-ws", "", "-http", "")
	var out syncBuffer
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "loopmq started") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, out.String())
		}
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("did not stop on SIGTERM\n%s", out.String())
	}
	if !strings.Contains(out.String(), "loopmq stopped") {
		t.Fatalf("no shutdown log:\n%s", out.String())
	}
}

// syncBuffer is a strings.Builder safe for the exec copier goroutine and the test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
