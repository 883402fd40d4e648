package testenv

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// recorder stands for the test that needs a program: it records Fatal and Skip, which end its goroutine as
// the real ones do, instead of ending this test.
type recorder struct {
	testing.TB
	failed, skipped string
}

func (r *recorder) Fatal(args ...any) { r.failed = fmt.Sprint(args...); runtime.Goexit() }
func (r *recorder) Skip(args ...any)  { r.skipped = fmt.Sprint(args...); runtime.Goexit() }

func TestCommandFailsWhenMissing(t *testing.T) {
	r := &recorder{TB: t}
	done := make(chan string)
	go func() {
		var p string
		defer func() { done <- p }()
		p = Command(r, "loopmq-no-such-program", "loopmq-no-such-package", "/nonexistent/loopmq")
	}()
	if p := <-done; p != "" {
		t.Fatalf("found %q", p)
	}
	got := r.failed
	if testing.Short() {
		got = r.skipped
	}
	for _, want := range []string{"loopmq-no-such-program not found", "apt-get install loopmq-no-such-package", ".ci/run"} {
		if !strings.Contains(got, want) {
			t.Errorf("message %q lacks %q", got, want)
		}
	}
	if testing.Short() == (r.failed != "") {
		t.Errorf("short %v: failed %q, skipped %q; a missing program fails, skips only under -short",
			testing.Short(), r.failed, r.skipped)
	}
}

func TestCommandFindsPathAndFallback(t *testing.T) {
	if p := Command(t, "sh", "dash"); !strings.HasSuffix(p, "/sh") {
		t.Fatalf("sh at %q", p)
	}
	t.Setenv("PATH", "")
	if p := Command(t, "sh", "dash", "/nonexistent/sh", "/bin/sh"); p != "/bin/sh" {
		t.Fatalf("fallback gave %q, want /bin/sh", p)
	}
}
