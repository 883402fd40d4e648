package bench

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in      string
		want    Target
		wantErr string
	}{
		{in: "tcp://127.0.0.1:1883", want: Target{Scheme: "tcp", Host: "127.0.0.1:1883"}},
		{in: "mqtt://broker", want: Target{Scheme: "tcp", Host: "broker:1883"}},
		{in: "ws://127.0.0.1:8083/mqtt", want: Target{Scheme: "ws", Host: "127.0.0.1:8083", Path: "/mqtt"}},
		{in: "ws://h:80", want: Target{Scheme: "ws", Host: "h:80", Path: "/mqtt"}},
		{in: "ws://h", want: Target{Scheme: "ws", Host: "h:80", Path: "/mqtt"}},
		{in: "ssl://h:8883", wantErr: "scheme must be tcp or ws"},
		{in: "tcp://:1883", wantErr: "no host"},
	}
	for _, tt := range tests {
		got, err := ParseTarget(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: err %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		tt.want.Raw = tt.in
		if err != nil || got != tt.want {
			t.Errorf("%s: %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestSpecValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Spec)
		wantErr string
	}{
		{name: "defaults are valid", mutate: func(*Spec) {}},
		{name: "no url", mutate: func(s *Spec) { s.URLs = nil }, wantErr: "no broker URL"},
		{name: "payload too small", mutate: func(s *Spec) { s.PayloadSize = 16 }, wantErr: "at least 24"},
		{name: "qos 3", mutate: func(s *Spec) { s.QoS = 3 }, wantErr: "qos 3"},
		{name: "level 6", mutate: func(s *Spec) { s.Version = 6 }, wantErr: "protocol level 6"},
		{name: "no publishers", mutate: func(s *Spec) { s.Publishers = 0 }, wantErr: "at least 1 publishers"},
		{name: "topic without index", mutate: func(s *Spec) { s.Topic = "a/b" }, wantErr: "no %i"},
		{name: "neither count nor duration", mutate: func(s *Spec) { s.Duration = 0 }, wantErr: "-count or -duration"},
		{name: "inflight 0", mutate: func(s *Spec) { s.Inflight = 0 }, wantErr: "inflight 0"},
	}
	for _, tt := range tests {
		s := DefaultSpec(ScenarioP2P)
		s.URLs = []string{"tcp://127.0.0.1:1883"}
		tt.mutate(&s)
		err := s.Validate()
		if tt.wantErr == "" {
			if err != nil || s.RunID == "" || s.Name != s.URLs[0] {
				t.Errorf("%s: %v (run id %q, name %q)", tt.name, err, s.RunID, s.Name)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: err %v, want %q", tt.name, err, tt.wantErr)
		}
	}
}

func TestTopology(t *testing.T) {
	s := DefaultSpec(ScenarioShared)
	s.RunID, s.Publishers, s.Subscribers = "r1", 3, 2
	roles := topology(&s, 2)
	var subs, pubs int
	for _, r := range roles {
		switch r.kind {
		case roleSub:
			subs++
			if r.topic != "$share/mqbench/mqbench/r1/+" || r.group != 0 || r.worker != 0 || len(r.expect) != 3 {
				t.Errorf("shared member %+v", r)
			}
		case rolePub:
			if r.topic != "mqbench/r1/"+string(rune('0'+r.pub)) || r.worker != r.pub%2 {
				t.Errorf("publisher %+v", r)
			}
			pubs++
		}
	}
	if subs != 2 || pubs != 3 || roles[0].kind != roleSub {
		t.Errorf("%d subs %d pubs, first %v: subscribers must come first", subs, pubs, roles[0].kind)
	}
	// p2p pairs stay together in one worker, so its result is complete for the pair.
	s = DefaultSpec(ScenarioP2P)
	s.RunID, s.Publishers = "r", 5
	for _, r := range topology(&s, 3) {
		want := r.pub % 3
		if r.kind == roleSub {
			want = r.group % 3
		}
		if r.worker != want {
			t.Errorf("p2p role %+v in worker %d, want %d", r, r.worker, want)
		}
	}
}

func TestRetainedFilter(t *testing.T) {
	for tmpl, want := range map[string]string{
		"mqbench/%r/%i":   "mqbench/x/#",
		"a/%i/b":          "a/+/b",
		"dev/%r/%i/state": "dev/x/+/state",
	} {
		s := Spec{Topic: tmpl, RunID: "x"}
		if got := retainedFilter(&s); got != want {
			t.Errorf("%s: %s, want %s", tmpl, got, want)
		}
	}
}

func TestPayloadStamp(t *testing.T) {
	tag := runTag("run")
	b := newPayload(64, tag, 7)
	setStamp(b, 42, 1234567890)
	st, ok := readStamp(b, tag)
	if !ok || st != (stamp{pub: 7, seq: 42, sent: 1234567890}) {
		t.Errorf("%+v %v", st, ok)
	}
	if _, ok := readStamp(b, runTag("other run")); ok {
		t.Error("a payload of another run was accepted")
	}
	if _, ok := readStamp(b[:23], tag); ok {
		t.Error("a short payload was accepted")
	}
}

func TestTrackerAndOrder(t *testing.T) {
	tr := newTracker()
	var o order
	seqs := []uint64{0, 1, 3, 2, 2, 5, 4, 100, 0}
	var dups int
	for _, s := range seqs {
		if tr.see(9, s) {
			dups++
			continue
		}
		o.see(9, s)
	}
	st := tr.stats(1)
	want := []GroupStat{{Group: 1, Pub: 9, Unique: 7, Dups: 2, Max: 100}}
	if !reflect.DeepEqual(st, want) || dups != 2 || o.ooo != 2 {
		t.Errorf("stats %+v dups %d ooo %d", st, dups, o.ooo)
	}
	// 101 sent (0..100), 7 distinct received: 94 lost.
	a := account(st, map[int]int64{9: 101}, map[int][]int{1: {9}})
	if a.lost != 94 || a.dups != 2 || a.unique != 7 {
		t.Errorf("accounting %+v", a)
	}
	// Without sent counts (sub scenario), only gaps below the highest sequence number count.
	if a := account(st, nil, nil); a.lost != 94 {
		t.Errorf("gap accounting %+v", a)
	}
	// A group that heard nothing from an expected publisher lost all it sent.
	if a := account(nil, map[int]int64{3: 50}, map[int][]int{0: {3}}); a.lost != 50 {
		t.Errorf("silent group %+v", a)
	}
}

func TestLeastSquares(t *testing.T) {
	x := []float64{0, 1000, 2000, 3000}
	y := []float64{5e6, 5e6 + 1200e3, 5e6 + 2400e3, 5e6 + 3600e3}
	slope, icpt, r2 := leastSquares(x, y)
	if math.Abs(slope-1200) > 1e-6 || math.Abs(icpt-5e6) > 1e-3 || math.Abs(r2-1) > 1e-9 {
		t.Errorf("slope %v intercept %v r2 %v", slope, icpt, r2)
	}
	if s, _, _ := leastSquares([]float64{5, 5}, []float64{1, 2}); s != 0 {
		t.Errorf("slope over one x = %v", s)
	}
	m := memoryReport([]MemSample{{0, 10 << 20, 0}, {1000, 11 << 20, 0}, {2000, 12 << 20, 0}})
	if m.RSSPerConn != 1048.576 || m.Projected1M != float64(10<<20)+1048.576e6 {
		t.Errorf("report %+v", m)
	}
}

func TestParseRSS(t *testing.T) {
	status := "Name:\tmosquitto\nVmPeak:\t  9000 kB\nVmRSS:\t    6120 kB\nThreads:\t1\n"
	if n, err := parseRSS([]byte(status)); err != nil || n != 6120<<10 {
		t.Errorf("%d %v", n, err)
	}
	if _, err := parseRSS([]byte("Name: x\n")); err == nil {
		t.Error("no error without VmRSS")
	}
}

func TestParseCPUList(t *testing.T) {
	for in, want := range map[string][]int{"0": {0}, "1,3": {1, 3}, "0-2,5": {0, 1, 2, 5}} {
		got, err := ParseCPUList(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	for _, in := range []string{"", "a", "3-1", "-1"} {
		if _, err := ParseCPUList(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestHistogramJSONMerge(t *testing.T) {
	a, b := NewHistogram(), NewHistogram()
	for i := int64(1); i <= 1000; i++ {
		a.Record(i)
	}
	b.Record(5000)
	js, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var back Histogram
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	back.Merge(b)
	s := back.Summary()
	if s.Count != 1001 || s.Max < 4995 || s.P50 < 495 || s.P50 > 505 {
		t.Errorf("%+v", s)
	}
}

func sampleResults() []*Result {
	mk := func(name string, rate float64, p99 int64) *Result {
		return &Result{Name: name, Scenario: ScenarioP2P, Sent: 100, Received: 100, Unique: 100,
			SendRate: rate, RecvRate: rate, Latency: Percentiles{Count: 100, P50: p99 / 2, P99: p99, Max: p99},
			Series: []Sample{{T: 1, SentPS: rate, RecvPS: rate}, {T: 2, SentPS: rate, RecvPS: rate}},
			Memory: &MemoryReport{RSSPerConn: 900, Samples: []MemSample{{0, 1 << 20, 0}, {100, 2 << 20, 0}}}}
	}
	return []*Result{mk("loopmq", 200000, 2000), mk("mosquitto", 100000, 4000)}
}

func TestWriteTableRatios(t *testing.T) {
	var b bytes.Buffer
	if err := WriteTable(&b, sampleResults()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"loopmq", "mosquitto", "200.0k", "mosquitto ÷ loopmq", "0.50x", "2.00x"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	r := Ratios(sampleResults())
	if len(r) != 1 || r[0]["recv/s"] != 0.5 || r[0]["p99 ms"] != 2 {
		t.Errorf("ratios %v", r)
	}
}

func TestWriteHTMLSelfContained(t *testing.T) {
	var b bytes.Buffer
	err := WriteHTML(&b, []RunGroup{{Title: "p2p <QoS 0>", Command: "mqbench compare ...", Results: sampleResults()}})
	if err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"<svg", "Throughput over time", "Latency percentiles", "memory per connection",
		"p2p &lt;QoS 0&gt;", "polyline"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, banned := range []string{"<script", "http://", "https://"} {
		if strings.Contains(strings.ReplaceAll(out, `xmlns="http://www.w3.org/2000/svg"`, ""), banned) {
			t.Errorf("report is not self-contained: has %q", banned)
		}
	}
}

func TestMainFlags(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Main([]string{"nosuch"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "unknown scenario") {
		t.Errorf("code %d: %s", code, errb.String())
	}
	errb.Reset()
	if code := Main([]string{"p2p", "-size", "8", "-url", "tcp://127.0.0.1:1"}, &out, &errb); code != 1 ||
		!strings.Contains(errb.String(), "at least 24") {
		t.Errorf("code %d: %s", code, errb.String())
	}
	errb.Reset()
	if code := Main([]string{"compare", "p2p"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "-targets") {
		t.Errorf("code %d: %s", code, errb.String())
	}
}

// TestCompareCLI runs `mqbench compare` end to end against two fake brokers, one of which drops
// every other message, and reads the table and the HTML report a user would get.
func TestCompareCLI(t *testing.T) {
	good := startFakeBroker(t, &fakeBroker{})
	lossy := startFakeBroker(t, &fakeBroker{dropEvery: 2})
	html := t.TempDir() + "/report.html"
	var out, errb bytes.Buffer
	code := Main([]string{"compare", "-targets", "good=" + good + ",lossy=" + lossy, "-pause", "0",
		"p2p", "-pubs", "2", "-count", "100", "-rate", "1000", "-drain", "200ms", "-q", "-html", html}, &out, &errb)
	if code != 0 {
		t.Fatalf("code %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 || !strings.Contains(lines[1], "good") || !strings.Contains(lines[2], "lossy") ||
		!strings.Contains(lines[3], "lossy ÷ good") {
		t.Fatalf("table:\n%s", out.String())
	}
	// lossy row: 200 sent, 100 received, 100 lost.
	if f := strings.Fields(lines[2]); f[1] != "200" || f[3] != "100" || f[4] != "100" {
		t.Errorf("lossy row %q", lines[2])
	}
	page, err := os.ReadFile(html)
	if err != nil || !strings.Contains(string(page), "lossy") || !strings.Contains(string(page), "<svg") {
		t.Errorf("html report: %v", err)
	}
}

// TestPinKeepsEveryThreadOnTheList pins the test process to the CPUs it already has (so nothing else
// changes) and checks every thread's mask and GOMAXPROCS.
func TestPinKeepsEveryThreadOnTheList(t *testing.T) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		t.Fatalf("sched_getaffinity: %v (Pin needs it: the harness pins on Linux)", err)
	}
	var cpus []string
	for c := 0; c < 1024; c++ {
		if set.IsSet(c) {
			cpus = append(cpus, strconv.Itoa(c))
		}
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	if err := Pin(strings.Join(cpus, ",")); err != nil {
		t.Fatal(err)
	}
	if runtime.GOMAXPROCS(0) != len(cpus) {
		t.Errorf("GOMAXPROCS %d, want %d", runtime.GOMAXPROCS(0), len(cpus))
	}
	tasks, _ := os.ReadDir("/proc/self/task")
	for _, task := range tasks {
		tid, _ := strconv.Atoi(task.Name())
		var got unix.CPUSet
		if err := unix.SchedGetaffinity(tid, &got); err == nil && got != set {
			t.Errorf("thread %d mask differs", tid)
		}
	}
	if err := Pin("x"); err == nil {
		t.Error("a bad CPU list was accepted")
	}
}
