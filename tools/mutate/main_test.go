package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestTableApplies checks the mutation table against the tree without running the mutations: every anchor occurs
// exactly once, every mutation changes something, and every run regex selects at least one real-client test in
// its packages. A refactor that moves an anchor fails here, in `make test`, before anyone runs `make mutate`.
func TestTableApplies(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	r := &runner{dir: root}
	seen := map[string]bool{}
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			if seen[m.name] {
				t.Errorf("two mutations are called %s", m.name)
			}
			seen[m.name] = true
			if m.old == m.new || m.old == "" {
				t.Errorf("old %q and new %q: the mutation changes nothing", m.old, m.new)
			}
			if _, _, err := r.findAnchor(m); err != nil {
				t.Error(err)
			}
			run, err := regexp.Compile(m.run)
			if err != nil {
				t.Fatalf("run regex: %v", err)
			}
			var real []string
			for _, pkg := range m.pkgs {
				for _, name := range testNames(t, filepath.Join(root, pkg)) {
					if run.MatchString(name) && realClient.MatchString(name) {
						real = append(real, name)
					}
				}
			}
			if len(real) == 0 {
				t.Errorf("-run %q selects no real-client test in %v", m.run, m.pkgs)
			}
		})
	}
}

var testFunc = regexp.MustCompile(`(?m)^func (Test\w+)\(t \*testing\.T\)`)

// testNames lists the top-level tests declared in dir's _test.go files.
func testNames(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files in %s (%v)", dir, err)
	}
	var names []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range testFunc.FindAllSubmatch(b, -1) {
			names = append(names, string(m[1]))
		}
	}
	return names
}

func TestFindAnchorRefusesMissingAndAmbiguous(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "pkg", "a.go"), "package pkg\n\nfunc f() int { return 1 }\nfunc g() int { return 2 }\n")
	write(t, filepath.Join(dir, "pkg", "sub", "b.go"), "package sub\n\nfunc h() int { return 2 }\n")
	write(t, filepath.Join(dir, "pkg", "a_test.go"), "package pkg\n\nfunc k() int { return 3 }\n")
	r := &runner{dir: dir}
	for _, c := range []struct {
		old, wantFile, wantErr string
	}{
		{old: "return 1", wantFile: "pkg/a.go"},
		{old: "return 2", wantErr: "occurs 2 times (pkg/a.go, pkg/sub/b.go)"},
		{old: "return 3", wantErr: "not found"}, // only in a test file: tests are never mutated
		{old: "return 4", wantErr: "not found"},
	} {
		file, content, err := r.findAnchor(mutation{name: "x", dir: "pkg", old: c.old})
		switch {
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("%q: err %v, want one containing %q", c.old, err, c.wantErr)
		case c.wantErr == "" && err != nil:
			t.Errorf("%q: %v", c.old, err)
		case c.wantErr == "" && (file != filepath.Join(dir, c.wantFile) || !strings.Contains(string(content), c.old)):
			t.Errorf("%q: found in %s", c.old, file)
		}
	}
}

// TestRunnerReportsFailedTests runs go test on a small module with passing, failing and subtest-failing tests.
func TestRunnerReportsFailedTests(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test on a scratch module")
	}
	dir := t.TempDir()
	write(t, filepath.Join(dir, "go.mod"), "module scratch\n\ngo 1.26\n")
	write(t, filepath.Join(dir, "a_test.go"), `package scratch

import "testing"

func TestPass(t *testing.T)     {}
func TestFail(t *testing.T)     { t.Fatal("no") }
func TestParent(t *testing.T)   { t.Run("ok", func(t *testing.T) {}); t.Run("bad", func(t *testing.T) { t.Error("no") }) }
func TestNotRun(t *testing.T)   { t.Fatal("not selected") }
`)
	r := &runner{dir: dir, timeout: 2 * time.Minute}
	got, err := r.test([]string{"./"}, "Pass|Fail|Parent")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"scratch.TestFail", "scratch.TestParent/bad"}
	if !slices.Equal(got, want) {
		t.Errorf("failed tests %q, want %q", got, want)
	}
	if got, err := r.test([]string{"./"}, "Pass"); err != nil || len(got) != 0 {
		t.Errorf("only passing tests: failed %q, err %v", got, err)
	}

	write(t, filepath.Join(dir, "b_test.go"), "package scratch\n\nfunc broken( {}\n")
	got, err = r.test([]string{"./"}, "Pass")
	if err != nil || !slices.Equal(got, []string{"scratch: package failed"}) {
		t.Errorf("a test file that does not compile: failed %q, err %v", got, err)
	}
}

func write(t *testing.T, name, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestTopTest(t *testing.T) {
	for in, want := range map[string]string{
		"server.TestPaho5X":              "TestPaho5X",
		"server/conformance.TestA/v5":    "TestA",
		"tests/browser.TestBrowserMQTT":  "TestBrowserMQTT",
		"server: package failed":         "",
		"server.TestX/sub.with.dots/and": "TestX",
	} {
		if got := topTest(in); got != want {
			t.Errorf("topTest(%q) = %q, want %q", in, got, want)
		}
	}
}
