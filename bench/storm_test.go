package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"loopmq/server"
	"loopmq/server/servertest"
)

// startLoopmqAdmin starts the broker in process with its HTTP listener (and so the kick endpoint) on free
// loopback ports; mutate may adjust the options.
func startLoopmqAdmin(t *testing.T, mutate func(*server.Options)) *server.Server {
	t.Helper()
	return servertest.Start(t, func(o *server.Options) {
		o.HTTPAddr = "127.0.0.1:0"
		if mutate != nil {
			mutate(o)
		}
	})
}

// TestStormAgainstLoopmq runs both waves of a storm against the in-process broker: every client connects,
// is disconnected by the kick (MQTT 5 clients are told 0x98 Administrative action, 3.1.1 ones see a close)
// and reconnects, and the report counts each exactly once.
func TestStormAgainstLoopmq(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	tests := []struct {
		name    string
		version byte
		workers int
		reason  string
	}{
		{name: "v5", version: 5, reason: "DISCONNECT administrative action"},
		{name: "v311", version: 4, reason: "closed"},
		{name: "v5 two worker processes", version: 5, workers: 2, reason: "DISCONNECT administrative action"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := startLoopmqAdmin(t, nil)
			const n = 300
			sp := quickSpec(ScenarioStorm, "tcp://"+s.TCPAddr())
			sp.Version, sp.Clients, sp.Workers, sp.Parallel = tc.version, n, tc.workers, 100
			sp.Duration = 200 * time.Millisecond
			sp.KickURL = "http://" + s.HTTPAddr() + "/admin/disconnect?all=1"
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			r, err := Run(ctx, sp, nil)
			if err != nil {
				t.Fatal(err)
			}
			if r.Connections != n || r.ConnectFailures != 0 || r.ConnectLatency.Count != n || r.ConnectRate <= 0 {
				t.Fatalf("first wave: conns %d failed %d latency samples %d rate %v; errors %v",
					r.Connections, r.ConnectFailures, r.ConnectLatency.Count, r.ConnectRate, r.Errors)
			}
			st := r.Storm
			if st == nil {
				t.Fatal("no second wave in the result")
			}
			if !strings.HasPrefix(st.KickStatus, "200 OK") || !strings.Contains(st.KickStatus, fmt.Sprintf(`"disconnected":%d`, n)) {
				t.Errorf("kick answered %q", st.KickStatus)
			}
			if st.Disconnected != n || st.Reconnected != n || st.Failed != 0 || st.Refused != 0 || st.Kept != 0 {
				t.Errorf("second wave %+v; errors %v", st, r.Errors)
			}
			if st.Reasons[tc.reason] != n {
				t.Errorf("connections ended by %v, want %d× %s", st.Reasons, n, tc.reason)
			}
			if st.ConnectLatency.Count != n || st.Downtime.Count != n || st.Rate <= 0 || st.Seconds <= 0 {
				t.Errorf("second wave figures: latency %+v downtime %+v rate %v seconds %v",
					st.ConnectLatency, st.Downtime, st.Rate, st.Seconds)
			}
			if r.Dropped != 0 || len(r.Errors) != 0 {
				t.Errorf("dropped %d, errors %v", r.Dropped, r.Errors)
			}
			var out strings.Builder
			if err := WriteTable(&out, []*Result{r}); err != nil || !strings.Contains(out.String(), "reconn/s") {
				t.Errorf("table %q, %v", out.String(), err)
			}
		})
	}
}

// TestStormWithoutKick: a broker without a kick endpoint gets the first wave only, held for -duration.
func TestStormWithoutKick(t *testing.T) {
	s := startLoopmqAdmin(t, nil)
	sp := quickSpec(ScenarioStorm, "tcp://"+s.TCPAddr())
	sp.Clients, sp.Duration = 50, 100*time.Millisecond
	r, err := Run(context.Background(), sp, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Connections != 50 || r.Storm != nil || r.Dropped != 0 {
		t.Errorf("conns %d storm %+v dropped %d", r.Connections, r.Storm, r.Dropped)
	}
}

// TestStormKickRefused: an endpoint that does not disconnect anyone leaves every client kept, and the report
// shows the endpoint's answer instead of inventing a second wave.
func TestStormKickRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("short: waits out the 15 s kick wait")
	}
	s := startLoopmqAdmin(t, nil)
	sp := quickSpec(ScenarioStorm, "tcp://"+s.TCPAddr())
	sp.Clients, sp.Duration = 20, 100*time.Millisecond
	sp.KickURL = "http://" + s.HTTPAddr() + "/admin/disconnect" // neither client= nor all=1: 400
	start := time.Now()
	r, err := Run(context.Background(), sp, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Storm == nil || !strings.HasPrefix(r.Storm.KickStatus, fmt.Sprint(http.StatusBadRequest)) ||
		r.Storm.Kept != 20 || r.Storm.Reconnected != 0 {
		t.Errorf("storm %+v", r.Storm)
	}
	if d := time.Since(start); d < kickWait {
		t.Errorf("gave up after %v, before the kick wait of %v", d, kickWait)
	}
}

// TestStormCompareCLI: `mqbench compare ... storm -kick-urls` kicks only the targets it names, so a broker
// without a kick endpoint runs the first wave in the same invocation.
func TestStormCompareCLI(t *testing.T) {
	a, b := startLoopmqAdmin(t, nil), startLoopmqAdmin(t, nil)
	var out, errb bytes.Buffer
	code := Main([]string{"compare", "-pause", "0",
		"-targets", "a=tcp://" + a.TCPAddr() + ",b=tcp://" + b.TCPAddr(),
		"-kick-urls", "a=http://" + a.HTTPAddr() + "/admin/disconnect?all=1",
		"storm", "-n", "40", "-duration", "100ms", "-q", "-json"}, &out, &errb)
	if code != 0 {
		t.Fatalf("code %d: %s", code, errb.String())
	}
	dec := json.NewDecoder(&out)
	var ra, rb Result
	if err := dec.Decode(&ra); err != nil {
		t.Fatal(err)
	}
	if err := dec.Decode(&rb); err != nil {
		t.Fatal(err)
	}
	if ra.Name != "a" || ra.Storm == nil || ra.Storm.Reconnected != 40 {
		t.Errorf("a: %s storm %+v", ra.Name, ra.Storm)
	}
	if rb.Name != "b" || rb.Storm != nil || rb.Connections != 40 {
		t.Errorf("b: %s storm %+v conns %d", rb.Name, rb.Storm, rb.Connections)
	}
}

func TestErrorsGroupAcrossAddresses(t *testing.T) {
	p := newPart(DefaultSpec(ScenarioConn), 0, 1)
	p.noteErr(fmt.Errorf("connect: dial tcp 127.0.0.3:0->127.0.0.1:22011: i/o timeout"))
	p.noteErr(fmt.Errorf("connect: dial tcp 127.0.0.2:0->127.0.0.1:22011: i/o timeout"))
	p.noteErr(fmt.Errorf("connect: write tcp [::1]:4000->[::1]:1883: i/o timeout"))
	got := p.errorList()
	want := []string{"1× connect: write tcp i/o timeout", "2× connect: dial tcp i/o timeout"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("errors %q, want %q", got, want)
	}
}

func TestMergeAddsWorkersErrorCounts(t *testing.T) {
	sp := DefaultSpec(ScenarioConn)
	sp.URLs = []string{"tcp://127.0.0.1:1"}
	parts := []*PartResult{
		{Errors: []string{"5× connect: dial tcp i/o timeout", "1× connect: refused"}},
		{Errors: []string{"2× connect: dial tcp i/o timeout"}},
	}
	r := merge(sp, parts)
	want := []string{"7× connect: dial tcp i/o timeout", "1× connect: refused"}
	if fmt.Sprint(r.Errors) != fmt.Sprint(want) {
		t.Errorf("errors %q, want %q", r.Errors, want)
	}
}
