// Command mutate repeats the mutation audit of issue 22: it breaks one broker behaviour at a time on purpose, in a
// copy of the tree, and checks that a real-client test (paho, mosquitto-clients, MQTT.js in Chromium) fails.
//
// Each mutation in the mutations table is a search and replace of a small anchor in the broker's non-test Go
// source. The tree (tracked files and untracked, not ignored ones, as they are in the working tree, which is never
// touched) is copied once into a temporary directory. First the unmutated copy must pass every selected test (the
// baseline); then each mutation is applied to the copy, the copy is built, the mutation's tests run (go test -run)
// and the file is restored. Per mutation it prints the real-client tests that failed (caught) or SURVIVED, and the
// raw-byte tests that failed too. A test counts as real-client when its name matches realClient.
//
// The exit status is 0 only if the baseline passed and every mutation was applied, built and caught by a
// real-client test. An anchor that is not found, or found more than once, is an error, never a skip: the code
// moves, and the table must move with it.
//
// Usage: go run ./tools/mutate [-only name,name] [-baseline=false] [-keep] [-list] (`make mutate` runs it).
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// mutation is one behaviour broken on purpose.
type mutation struct {
	name string   // short and stable: what -only selects
	what string   // the behaviour it breaks, in one line
	dir  string   // the anchor is searched in the non-test .go files under dir (recursively)
	old  string   // the anchor: must occur exactly once under dir
	new  string   // what replaces it
	run  string   // go test -run regex: the real-client tests expected to catch it, and raw-byte tests of interest
	pkgs []string // the packages the tests are in
}

// The packages the mutations' tests are in.
var (
	serverPkgs  = []string{"./server/", "./server/conformance/"}
	topicPkgs   = []string{"./server/", "./server/conformance/", "./topic/"}
	browserPkgs = []string{"./server/", "./server/conformance/", "./tests/browser/"}
	wsPkgs      = []string{"./server/", "./server/conformance/", "./server/ws/", "./tests/browser/"}
)

// mutations is the table. Keep each anchor the smallest unique piece of code that carries the behaviour; when a
// refactor moves it, update old and new here (the run fails loudly until then). Keep each run regex focused:
// `make mutate` should stay within about 15 minutes on 2 cores.
var mutations = []mutation{
	{
		name: "resend-on-resume-off",
		what: "unacknowledged QoS 1/2 messages (and PUBREL) are not re-sent when a session resumes",
		dir:  "server",
		old:  "for i := 0; i < len(s.inflight); i++ {",
		new:  "for i := len(s.inflight); i < len(s.inflight); i++ {",
		run:  `ResumeRedelivers|WithMessagesInFlight|PersistentSession|Unacknowledged`,
		pkgs: serverPkgs,
	},
	{
		name: "shared-round-robin-off",
		what: "a shared subscription group always delivers to its first member",
		dir:  "topic",
		old:  "start := g.next.Add(1) - 1",
		new:  "start := uint32(0)",
		run:  `Shared`,
		pkgs: topicPkgs,
	},
	{
		name: "retain-flag-off",
		what: "retained messages sent on subscribe lack the RETAIN flag",
		dir:  "server",
		old:  "l.deliver(s, m, qos, true, ids",
		new:  "l.deliver(s, m, qos, false, ids",
		run:  `Retain|Browser`,
		pkgs: browserPkgs,
	},
	{
		name: "will-delay-ignored",
		what: "a will with a Will Delay Interval is published at once",
		dir:  "server",
		old:  "if cl.willDelay == 0 ||",
		new:  "if true || cl.willDelay == 0 ||",
		run:  `WillDelay|SessionExpiry`,
		pkgs: serverPkgs,
	},
	{
		name: "qos2-duplicate-check-off",
		what: "a re-sent QoS 2 PUBLISH whose id is not yet released is delivered again",
		dir:  "server",
		old:  "for _, id := range s.inQoS2 {",
		new:  "for _, id := range s.inQoS2[:0] {",
		run:  `QoS2`,
		pkgs: serverPkgs,
	},
	{
		name: "will-on-connection-loss-off",
		what: "a connection lost without DISCONNECT is treated as a normal disconnect: no will",
		dir:  "server",
		old:  "if cl.normalDisconnect && will != nil {",
		new:  "if will != nil {",
		run:  `Will|Browser`,
		pkgs: browserPkgs,
	},
	{
		name: "ws-upgrade-dropped",
		what: "every WebSocket upgrade request is left unanswered",
		dir:  "server/ws",
		old:  "\tvar req request\n",
		new:  "\treturn Result{}, 1, nil // mutation: every upgrade waits for bytes that never come\n\tvar req request\n",
		run:  `WSPaho|WS_|WebSocket|Browser|TestUpgrade`,
		pkgs: wsPkgs,
	},
}

// realClient tells real-client tests from raw-byte ones by name: a mutation is caught only when a test matching it
// fails. Tests with real clients are named after the client (TestPaho…, TestMosquitto…, TestInterop…,
// TestWSPaho…, TestWS_Interop…, TestBrowser…).
var realClient = regexp.MustCompile(`^Test(Paho|Mosquitto|WSPaho|Interop|WS_Interop|Browser)`)

func main() {
	only := flag.String("only", "", "comma-separated names of the mutations to run (default: all)")
	baseline := flag.Bool("baseline", true, "first run the selected tests on the unmutated copy; they must pass")
	keep := flag.Bool("keep", false, "keep the copy of the tree (its path is printed)")
	list := flag.Bool("list", false, "print the mutation table and exit")
	timeout := flag.Duration("timeout", 5*time.Minute, "go test -timeout of each run")
	flag.Parse()

	if *list {
		for _, m := range mutations {
			fmt.Printf("%s: %s\n    anchor under %s/: %q\n    tests: -run '%s' %s\n",
				m.name, m.what, m.dir, m.old, m.run, strings.Join(m.pkgs, " "))
		}
		return
	}
	sel, err := selectMutations(*only)
	if err != nil {
		fatal(err)
	}
	root, err := gitOutput(".", "rev-parse", "--show-toplevel")
	if err != nil {
		fatal(fmt.Errorf("not in a git tree: %w", err))
	}
	dir, err := os.MkdirTemp("", "loopmq-mutate-")
	if err != nil {
		fatal(err)
	}
	if *keep {
		fmt.Printf("copy of the tree: %s\n", dir)
	}
	r := &runner{dir: dir, timeout: *timeout}
	err = copyTree(root, dir)
	ok := err == nil && r.run(sel, *baseline)
	if !*keep {
		os.RemoveAll(dir)
	}
	if err != nil {
		fatal(fmt.Errorf("copying the tree: %w", err))
	}
	if !ok {
		os.Exit(1)
	}
}

func selectMutations(only string) ([]mutation, error) {
	if only == "" {
		return mutations, nil
	}
	var sel []mutation
	for name := range strings.SplitSeq(only, ",") {
		i := slices.IndexFunc(mutations, func(m mutation) bool { return m.name == name })
		if i < 0 {
			return nil, fmt.Errorf("no mutation called %q (see -list)", name)
		}
		sel = append(sel, mutations[i])
	}
	return sel, nil
}

// result is what became of one mutation.
type result struct {
	m      mutation
	err    error    // not applied, not built or not tested: the table or the tree needs attention
	caught []string // real-client tests that failed
	raw    []string // other tests that failed
	took   time.Duration
}

// runner applies mutations to the copy of the tree in dir and runs their tests.
type runner struct {
	dir     string
	timeout time.Duration
}

// run reports whether the baseline passed and every mutation was caught.
func (r *runner) run(sel []mutation, baseline bool) bool {
	if baseline && !r.baseline(sel) {
		return false
	}
	var results []result
	for _, m := range sel {
		fmt.Printf("== %s: %s\n", m.name, m.what)
		res := r.mutate(m)
		results = append(results, res)
		switch {
		case res.err != nil:
			fmt.Printf("   ERROR: %v\n", res.err)
			continue
		case len(res.caught) > 0:
			fmt.Printf("   caught (%s) by %s\n", round(res.took), strings.Join(res.caught, ", "))
		default:
			fmt.Printf("   SURVIVED (%s) every real-client test of -run '%s'\n", round(res.took), m.run)
		}
		fmt.Printf("   raw-byte tests failing: %s\n", orNone(res.raw))
	}

	ok := true
	fmt.Println("\n== summary: mutation → real-client tests that caught it")
	for _, res := range results {
		verdict := strings.Join(res.caught, ", ")
		switch {
		case res.err != nil:
			verdict, ok = "ERROR (see above)", false
		case len(res.caught) == 0:
			verdict, ok = "SURVIVED", false
		}
		fmt.Printf("%-28s %s\n", res.m.name, verdict)
	}
	return ok
}

// baseline runs every selected test on the unmutated copy: a failure there would make the mutations' results
// meaningless.
func (r *runner) baseline(sel []mutation) bool {
	fmt.Println("== baseline: the selected tests on the unmutated copy")
	start := time.Now()
	if err := r.build(); err != nil {
		fmt.Printf("   ERROR: the unmutated copy does not build: %v\n", err)
		return false
	}
	var pkgs, runs []string
	for _, m := range sel {
		for _, p := range m.pkgs {
			if !slices.Contains(pkgs, p) {
				pkgs = append(pkgs, p)
			}
		}
		runs = append(runs, m.run)
	}
	failed, err := r.test(pkgs, strings.Join(runs, "|"))
	switch {
	case err != nil:
		fmt.Printf("   ERROR: %v\n", err)
		return false
	case len(failed) > 0:
		fmt.Printf("   FAILED (%s): %s\n   fix these first: a mutation caught by them would prove nothing\n",
			round(time.Since(start)), strings.Join(failed, ", "))
		return false
	}
	fmt.Printf("   passed (%s)\n", round(time.Since(start)))
	return true
}

// mutate applies m to the copy, runs its tests and restores the file.
func (r *runner) mutate(m mutation) (res result) {
	res.m = m
	start := time.Now()
	defer func() { res.took = time.Since(start) }()
	file, orig, err := r.findAnchor(m)
	if err != nil {
		res.err = err
		return res
	}
	if err := os.WriteFile(file, bytes.Replace(orig, []byte(m.old), []byte(m.new), 1), 0o644); err != nil {
		res.err = err
		return res
	}
	defer func() {
		if err := os.WriteFile(file, orig, 0o644); err != nil {
			fatal(fmt.Errorf("restoring %s in the copy: %w", file, err))
		}
	}()
	if err := r.build(); err != nil {
		res.err = fmt.Errorf("the mutated tree does not build: %w", err)
		return res
	}
	failed, err := r.test(m.pkgs, m.run)
	if err != nil {
		res.err = err
		return res
	}
	for _, name := range failed {
		if realClient.MatchString(topTest(name)) {
			res.caught = append(res.caught, name)
		} else {
			res.raw = append(res.raw, name)
		}
	}
	return res
}

// findAnchor returns the one non-test Go file under m.dir holding m.old, and its content. It is an error if the
// anchor is missing or occurs more than once.
func (r *runner) findAnchor(m mutation) (file string, content []byte, err error) {
	var where []string
	n := 0
	err = filepath.WalkDir(filepath.Join(r.dir, m.dir), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if c := bytes.Count(b, []byte(m.old)); c > 0 {
			n += c
			rel, _ := filepath.Rel(r.dir, p)
			where = append(where, rel)
			file, content = p, b
		}
		return nil
	})
	switch {
	case err != nil:
		return "", nil, err
	case n == 0:
		return "", nil, fmt.Errorf("anchor %q not found in %s/**/*.go: the code changed, update the table in tools/mutate/main.go",
			m.old, m.dir)
	case n > 1:
		return "", nil, fmt.Errorf("anchor %q occurs %d times (%s): make it unique in the table in tools/mutate/main.go",
			m.old, n, strings.Join(where, ", "))
	}
	return file, content, nil
}

// build compiles the copy. -trimpath, here and in test, lets the build cache serve every package the mutation did
// not touch although the copy lives in a new directory each run.
func (r *runner) build() error {
	cmd := exec.Command("go", "build", "-trimpath", "./...")
	cmd.Dir = r.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%v\n%s", err, out)
	}
	return nil
}

// test runs the tests matching run in pkgs and returns the failed ones as "pkg.TestName[/sub]", deepest failures
// only (a test whose subtest failed is not listed again). A package that failed with no failing test (a panic
// outside a test, a test file that does not compile) is listed as "pkg: package failed". err is set only when go
// test could not run.
func (r *runner) test(pkgs []string, run string) ([]string, error) {
	args := append([]string{"test", "-trimpath", "-count=1", "-p=1", "-json", "-timeout=" + r.timeout.String(),
		"-run=" + run}, pkgs...)
	cmd := exec.Command("go", args...)
	cmd.Dir = r.dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	type test struct{ pkg, name string }
	var failedTests []test
	failedPkgs := map[string]bool{}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var ev struct{ Action, Package, Test string }
		if json.Unmarshal(sc.Bytes(), &ev) != nil || ev.Action != "fail" {
			continue
		}
		if ev.Test == "" {
			failedPkgs[ev.Package] = true
		} else {
			failedTests = append(failedTests, test{ev.Package, ev.Test})
		}
	}
	scanErr := sc.Err()
	_, _ = io.Copy(io.Discard, out)
	waitErr := cmd.Wait()
	if scanErr != nil {
		return nil, fmt.Errorf("reading go test -json: %w", scanErr)
	}
	var exit *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &exit) {
		return nil, fmt.Errorf("go test: %w", waitErr)
	}
	var failed []string
	for _, t := range failedTests {
		parentOnly := slices.ContainsFunc(failedTests, func(c test) bool {
			return c.pkg == t.pkg && strings.HasPrefix(c.name, t.name+"/")
		})
		if !parentOnly {
			failed = append(failed, shortPkg(t.pkg)+"."+t.name)
		}
		delete(failedPkgs, t.pkg)
	}
	for pkg := range failedPkgs {
		failed = append(failed, shortPkg(pkg)+": package failed")
	}
	if waitErr != nil && len(failed) == 0 {
		return nil, fmt.Errorf("go test failed and no package did: %v\n%s", waitErr, stderr.Bytes())
	}
	slices.Sort(failed)
	return failed, nil
}

// copyTree copies the files git knows of (tracked, and untracked but not ignored) from root to dst as they are in
// the working tree, and links tests/browser/node_modules (ignored, installed by npm ci) so the browser test runs.
func copyTree(root, dst string) error {
	list, err := gitOutput(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	if err != nil {
		return err
	}
	for name := range strings.SplitSeq(list, "\x00") {
		if name == "" {
			continue
		}
		src := filepath.Join(root, name)
		fi, err := os.Lstat(src)
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted in the working tree, not yet committed
		} else if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		b, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, name)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(to, b, fi.Mode().Perm()); err != nil {
			return err
		}
	}
	nm := filepath.Join(root, "tests", "browser", "node_modules")
	if _, err := os.Stat(nm); err != nil {
		return nil // the browser test will fail and say what to install
	}
	return os.Symlink(nm, filepath.Join(dst, "tests", "browser", "node_modules"))
}

func gitOutput(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return strings.TrimSuffix(string(out), "\n"), nil
}

// topTest is the top-level test of "pkg.TestX/sub" ("" for "pkg: package failed").
func topTest(failed string) string {
	_, name, _ := strings.Cut(failed, ".")
	name, _, _ = strings.Cut(name, "/")
	return name
}

func shortPkg(pkg string) string { return strings.TrimPrefix(pkg, "loopmq/") }

func round(d time.Duration) time.Duration { return d.Round(time.Second) }

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "mutate:", err)
	os.Exit(2)
}
