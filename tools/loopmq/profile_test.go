package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestProfileFlag(t *testing.T) {
	tests := []struct {
		args    []string
		mode    string
		wantErr bool
	}{
		{args: nil, mode: ""},
		{args: []string{"-profile", "cpu", "-profile-dir", "/tmp/p"}, mode: "cpu"},
		{args: []string{"-profile", "trace"}, mode: "trace"},
		{args: []string{"-profile", "heap"}, wantErr: true},
	}
	for _, tt := range tests {
		_, d, err := parseOptions(tt.args)
		if (err != nil) != tt.wantErr {
			t.Fatalf("parseOptions(%q) error = %v, want error %v", tt.args, err, tt.wantErr)
		}
		if err == nil && d.profile != tt.mode {
			t.Errorf("parseOptions(%q) profile = %q, want %q", tt.args, d.profile, tt.mode)
		}
	}
}

// TestProfileWritesFile starts a memory profile the way the daemon does and checks the file it leaves.
// pkg/profile allows one profile per process, so this is the only test that starts one.
func TestProfileWritesFile(t *testing.T) {
	dir := t.TempDir()
	stop := startProfile("mem", dir)
	_ = make([]byte, 1<<20)
	stop()
	fi, err := os.Stat(filepath.Join(dir, "mem.pprof"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() == 0 {
		t.Fatal("mem.pprof is empty")
	}
}
