package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"loopmq/server"
)

func TestIsStuckSpreadsTheFraction(t *testing.T) {
	tests := []struct {
		f    float64
		n    int
		want []int
	}{
		{f: 0.1, n: 30, want: []int{9, 19, 29}},
		{f: 0.25, n: 8, want: []int{3, 7}},
		{f: 0, n: 10, want: nil},
		{f: 0.5, n: 4, want: []int{1, 3}},
	}
	for _, tc := range tests {
		var got []int
		for i := 0; i < tc.n; i++ {
			if isStuck(i, tc.f) {
				got = append(got, i)
			}
		}
		if len(got) != len(tc.want) || (len(got) > 0 && got[0] != tc.want[0]) || (len(got) > 0 && got[len(got)-1] != tc.want[len(tc.want)-1]) {
			t.Errorf("f=%g n=%d: stuck %v, want %v", tc.f, tc.n, got, tc.want)
		}
	}
}

// TestStreamsCoverEveryTopic: whatever the ratio of publishers to topics, every topic has a publisher, every
// publisher a topic, and stream numbers are distinct.
func TestStreamsCoverEveryTopic(t *testing.T) {
	for _, c := range [][2]int{{10, 10000}, {10, 1}, {3, 3}, {4, 6}, {6, 4}, {1, 5}} {
		sp := Spec{Publishers: c[0], Subscribers: c[1]}
		seen := map[int]bool{}
		pubHas := make([]bool, c[0])
		for tp := 0; tp < c[1]; tp++ {
			has := false
			for p := 0; p < c[0]; p++ {
				if s, ok := sp.streamFor(p, tp); ok {
					if seen[s] {
						t.Fatalf("%v: stream %d twice", c, s)
					}
					seen[s], has, pubHas[p] = true, true, true
				}
			}
			if !has {
				t.Fatalf("%v: topic %d has no publisher", c, tp)
			}
		}
		for p, ok := range pubHas {
			if !ok {
				t.Fatalf("%v: publisher %d has no topic", c, p)
			}
		}
	}
}

// TestStuckAgainstLoopmq runs the stuck scenario against the in-process broker. The healthy subscribers get
// every message; the stuck ones are connected and subscribed but read nothing; midway the operator kicks the
// stuck ones (the broker's own slow-consumer policy may or may not act within the test's few seconds), and the
// harness must notice each end within a couple of seconds although it never reads those sockets.
func TestStuckAgainstLoopmq(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	for _, qos := range []byte{0, 1} {
		t.Run("kicked/qos"+strconv.Itoa(int(qos)), func(t *testing.T) {
			// No slow-consumer policy, so only the kick ends the stuck ones.
			s := startLoopmqAdmin(t, func(o *server.Options) { o.SlowConsumerTimeout = 0 })
			sp := quickSpec(ScenarioStuck, "tcp://"+s.TCPAddr())
			sp.Version, sp.QoS = 5, qos
			sp.Publishers, sp.Subscribers, sp.Stuck, sp.Topics = 2, 20, 0.25, 1
			sp.PayloadSize, sp.Rate, sp.Duration, sp.Drain = 1000, 400, 4*time.Second, 5*time.Second
			sp.Instance = "t"
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			kicked := make(chan time.Time, 1)
			go func() {
				time.Sleep(2500 * time.Millisecond) // connected and publishing by now
				for i := 0; i < sp.Subscribers; i++ {
					if isStuck(i, sp.Stuck) {
						u := "http://" + s.HTTPAddr() + "/admin/disconnect?client=" + sp.ClientID + "t-" + strconv.Itoa(i)
						if resp, err := http.Post(u, "", nil); err == nil {
							resp.Body.Close()
						}
					}
				}
				kicked <- time.Now()
			}()
			r, err := Run(ctx, sp, nil)
			if err != nil {
				t.Fatal(err)
			}
			kickAt := <-kicked
			st := r.Stuck
			if st == nil || st.Stuck != 5 || st.Disconnected != 5 {
				t.Fatalf("stuck report %+v, want 5 stuck, 5 disconnected; errors %v", st, r.Errors)
			}
			if st.Owed != float64(r.Sent) { // all on one topic: each stuck one was owed every message
				t.Errorf("owed %v per stuck subscriber, want %d", st.Owed, r.Sent)
			}
			// Every stuck one was noticed after the kick (2.5 s into the run, under a second of it connecting)
			// and within a few seconds of it.
			if st.FirstSeconds < 1.5 || st.LastSeconds > kickAt.Sub(r.Date).Seconds()+3 {
				t.Errorf("stuck ones noticed between %.1fs and %.1fs after publishing began (kicked at %v)",
					st.FirstSeconds, st.LastSeconds, kickAt.Sub(r.Date))
			}
			// The healthy 15 got everything, with no connection lost.
			want := r.Sent * 15
			if r.Unique != want || r.Lost != 0 || r.Dropped != 0 || r.Sent == 0 {
				t.Errorf("sent %d, healthy received %d (want %d) lost %d dropped %d; errors %v",
					r.Sent, r.Unique, want, r.Lost, r.Dropped, r.Errors)
			}
			var out strings.Builder
			err = WriteTable(&out, []*Result{r})
			t.Log("\n" + out.String())
			if err != nil || !strings.Contains(out.String(), "median s") {
				t.Errorf("table %q, %v", out.String(), err)
			}
		})
	}
}

// TestStuckCutByBrokerPolicy: with QoS 1 the broker's own slow-consumer rule (queue over max_queued_messages and
// nothing acknowledged for slow_consumer_timeout) ends the stuck subscribers, and the harness reports when.
func TestStuckCutByBrokerPolicy(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	s := startLoopmqAdmin(t, func(o *server.Options) {
		o.MaxQueuedMessages, o.MaxInflight, o.SlowConsumerTimeout = 50, 10, time.Second
	})
	sp := quickSpec(ScenarioStuck, "tcp://"+s.TCPAddr())
	sp.Version, sp.QoS = 5, 1
	sp.Publishers, sp.Subscribers, sp.Stuck, sp.Topics = 2, 20, 0.25, 1
	sp.PayloadSize, sp.Rate, sp.Duration, sp.Drain = 200, 200, 4*time.Second, 5*time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := Run(ctx, sp, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := r.Stuck
	// 400 msg/s reach a stuck subscriber: 60 fill its window and queue within a fraction of a second, then a
	// second without acknowledgements ends it.
	if st == nil || st.Stuck != 5 || st.Disconnected != 5 || st.LastSeconds > 3.5 {
		t.Fatalf("stuck report %+v, want all 5 cut within 3.5 s; errors %v", st, r.Errors)
	}
	if want := r.Sent * 15; r.Unique != want || r.Lost != 0 || r.Dropped != 0 {
		t.Errorf("sent %d, healthy received %d (want %d) lost %d dropped %d; errors %v",
			r.Sent, r.Unique, want, r.Lost, r.Dropped, r.Errors)
	}
}

func TestStormAndStuckSpecsRefuseNonsense(t *testing.T) {
	tests := []struct {
		name   string
		scen   Scenario
		mutate func(*Spec)
		want   string
	}{
		{"storm without clients", ScenarioStorm, func(s *Spec) { s.Clients = 0 }, "at least one client"},
		{"no handshake in flight", ScenarioStorm, func(s *Spec) { s.Parallel = 0 }, "parallel 0"},
		{"kick URL not http", ScenarioStorm, func(s *Spec) { s.KickURL = "tcp://127.0.0.1:8080/x" }, "kick URL"},
		{"everyone stuck", ScenarioStuck, func(s *Spec) { s.Stuck = 1 }, "stuck fraction 1"},
		{"negative fraction", ScenarioStuck, func(s *Spec) { s.Stuck = -0.1 }, "stuck fraction"},
		{"more topics than subscribers", ScenarioStuck, func(s *Spec) { s.Topics = s.Subscribers + 1 }, "topics"},
		{"no publisher", ScenarioStuck, func(s *Spec) { s.Publishers = 0 }, "at least 1 publishers"},
		{"websocket target", ScenarioStuck, func(s *Spec) { s.URLs = []string{"ws://127.0.0.1:8083/mqtt"} }, "tcp:// targets"},
		{"negative receive buffer", ScenarioStuck, func(s *Spec) { s.StuckRcvBuf = -1 }, "receive buffer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sp := DefaultSpec(tc.scen)
			sp.URLs = []string{"tcp://127.0.0.1:1883"}
			tc.mutate(&sp)
			err := sp.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want an error about %q", err, tc.want)
			}
		})
	}
	for _, scen := range []Scenario{ScenarioStorm, ScenarioStuck} {
		sp := DefaultSpec(scen)
		sp.URLs = []string{"tcp://127.0.0.1:1883"}
		if err := sp.Validate(); err != nil {
			t.Errorf("default %s spec: %v", scen, err)
		}
	}
}

// TestStuckCLI runs `mqbench stuck` with its own flags and reads the JSON a user would save.
func TestStuckCLI(t *testing.T) {
	s := startLoopmqAdmin(t, nil)
	var out, errb bytes.Buffer
	code := Main([]string{"stuck", "-url", "tcp://" + s.TCPAddr(), "-subs", "12", "-pubs", "3", "-stuck", "0.25",
		"-topics", "4", "-stuck-rcvbuf", "2048", "-rate", "200", "-duration", "500ms", "-drain", "2s", "-q", "-json"}, &out, &errb)
	if code != 0 {
		t.Fatalf("code %d: %s", code, errb.String())
	}
	var r Result
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if r.Spec.Topics != 4 || r.Spec.StuckRcvBuf != 2048 || r.Stuck == nil || r.Stuck.Stuck != 3 || r.Connections != 15 {
		t.Fatalf("spec %+v stuck %+v conns %d", r.Spec, r.Stuck, r.Connections)
	}
	// 12 subscribers over 4 topics, 3 stuck (indexes 3, 7, 11: all on topic 3, so what each was owed is exactly
	// topic 3's messages); the healthy 9 are three on each of topics 0-2.
	want := 3 * (r.Sent - int64(r.Stuck.Owed))
	if r.Unique != want || r.Lost != 0 || want == 0 {
		t.Errorf("healthy received %d, want %d (lost %d)", r.Unique, want, r.Lost)
	}
}
