package bench

import (
	"context"
	"os"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	if os.Getenv(WorkerEnv) == "1" {
		if err := WorkerMain(os.Stdin, os.Stdout); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// quickSpec is a small, fast run against url.
func quickSpec(s Scenario, url string) Spec {
	sp := DefaultSpec(s)
	sp.URLs = []string{url}
	sp.Quiet = true
	sp.Drain = 300 * time.Millisecond
	sp.ConnectTimeout = 5 * time.Second
	return sp
}

// TestAccountingAgainstMisbehavingBroker proves the lost, duplicated and out-of-order counts exact:
// the fake broker breaks the stream in known ways and the counts must match to the message.
func TestAccountingAgainstMisbehavingBroker(t *testing.T) {
	tests := []struct {
		name                 string
		scenario             Scenario
		pubs, subs, count    int
		qos, version         byte
		drop, dup, reorder   int
		lost, dups, ooo, got int64
	}{
		{name: "clean p2p", scenario: ScenarioP2P, pubs: 2, count: 500, version: 4,
			got: 1000},
		{name: "drop every 10th", scenario: ScenarioP2P, pubs: 1, count: 1000, version: 4, drop: 10,
			lost: 100, got: 900},
		{name: "duplicate every 7th", scenario: ScenarioP2P, pubs: 1, count: 1000, version: 5, dup: 7,
			dups: 142, got: 1142},
		{name: "reorder every 5th", scenario: ScenarioP2P, pubs: 1, count: 1001, version: 4, reorder: 5,
			ooo: 200, got: 1001},
		{name: "qos1 drop and duplicate", scenario: ScenarioP2P, pubs: 1, count: 600, qos: 1, version: 5,
			drop: 6, dup: 4, lost: 100, dups: 100, got: 600},
		{name: "qos2 reorder", scenario: ScenarioP2P, pubs: 1, count: 901, qos: 2, version: 4,
			reorder: 9, ooo: 100, got: 901},
		{name: "qos2 fan-in drop every 9th", scenario: ScenarioFanIn, pubs: 3, count: 300, qos: 2, version: 5,
			drop: 9, lost: 100, got: 800},
		{name: "fan-out duplicates to each subscriber", scenario: ScenarioFanOut, subs: 2, count: 400,
			version: 4, dup: 10, dups: 80, got: 880},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeBroker{dropEvery: tt.drop, dupEvery: tt.dup, reorderEvery: tt.reorder}
			url := startFakeBroker(t, f)
			sp := quickSpec(tt.scenario, url)
			sp.Publishers, sp.Count, sp.QoS, sp.Version = tt.pubs, tt.count, tt.qos, tt.version
			if tt.subs > 0 {
				sp.Subscribers = tt.subs
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			r, err := Run(ctx, sp, nil)
			if err != nil {
				t.Fatal(err)
			}
			sent := int64(max(tt.pubs, 1) * tt.count)
			if r.Sent != sent {
				t.Errorf("sent = %d, want %d", r.Sent, sent)
			}
			if tt.qos > 0 && r.Acked != sent {
				t.Errorf("acked = %d, want %d", r.Acked, sent)
			}
			if r.Received != tt.got || r.Lost != tt.lost || r.Duplicated != tt.dups || r.OutOfOrder != tt.ooo {
				t.Errorf("received/lost/dup/ooo = %d/%d/%d/%d, want %d/%d/%d/%d (errors %v)",
					r.Received, r.Lost, r.Duplicated, r.OutOfOrder, tt.got, tt.lost, tt.dups, tt.ooo, r.Errors)
			}
			if bad := f.errors(); len(bad) > 0 {
				t.Errorf("the client sent packets that do not parse: %v", bad)
			}
			if r.Latency.Count != r.Unique {
				t.Errorf("latency samples = %d, want one per unique message (%d)", r.Latency.Count, r.Unique)
			}
		})
	}
}

// TestRefusedPublishes checks that MQTT 5 PUBACKs with an error reason count as refused, not acked,
// and that the refused messages, which the broker did not take, are not reported as lost.
func TestRefusedPublishes(t *testing.T) {
	f := &fakeBroker{refuseEvery: 4}
	sp := quickSpec(ScenarioP2P, startFakeBroker(t, f))
	sp.Publishers, sp.Count, sp.Duration, sp.QoS, sp.Version = 1, 400, 0, 1, 5
	r, err := Run(context.Background(), sp, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Sent != 400 || r.Acked != 300 || r.Refused != 100 || r.Unique != 300 || r.Lost != 0 {
		t.Errorf("sent %d acked %d refused %d unique %d lost %d", r.Sent, r.Acked, r.Refused, r.Unique, r.Lost)
	}
}

// TestUnpacedStreamIsWellFormed floods the fake broker with unpaced publishes of several sizes (so
// packets straddle the 16 KiB write buffer and the reader's buffer) and checks that every byte the
// client wrote parses and every message arrives.
func TestUnpacedStreamIsWellFormed(t *testing.T) {
	for _, tc := range []struct {
		size int
		qos  byte
		v    byte
	}{{1024, 0, 4}, {1024, 1, 5}, {5000, 0, 5}, {40000, 2, 4}} {
		f := &fakeBroker{}
		sp := quickSpec(ScenarioP2P, startFakeBroker(t, f))
		sp.Publishers, sp.Count, sp.Duration, sp.PayloadSize, sp.QoS, sp.Version = 3, 2000, 0, tc.size, tc.qos, tc.v
		sp.Drain = 30 * time.Second // ends as soon as all arrived; the fake broker is slow under -race
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		r, err := Run(ctx, sp, nil)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if bad := f.errors(); len(bad) > 0 {
			t.Errorf("size %d: the client sent packets that do not parse: %v", tc.size, bad)
		}
		if r.Unique != 6000 || r.Lost != 0 || len(r.Errors) > 0 {
			t.Errorf("size %d qos %d: unique %d lost %d errors %v", tc.size, tc.qos, r.Unique, r.Lost, r.Errors)
		}
	}
}

// TestDistributedPubSub runs sub and pub as separate runs sharing a run id, as on two machines: the
// subscribers know nothing of the publishers, so they count gaps below the highest sequence number.
func TestDistributedPubSub(t *testing.T) {
	f := &fakeBroker{dropEvery: 5}
	url := startFakeBroker(t, f)
	sub := quickSpec(ScenarioSub, url)
	sub.RunID, sub.Subscribers, sub.Duration = "shared-run", 1, 1500*time.Millisecond
	type out struct {
		r   *Result
		err error
	}
	done := make(chan out)
	go func() {
		r, err := Run(context.Background(), sub, nil)
		done <- out{r, err}
	}()
	// Subscribed before anyone publishes.
	for deadline := time.Now().Add(10 * time.Second); f.subscribers() == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the subscriber never subscribed")
		}
	}
	pub := quickSpec(ScenarioPub, url)
	pub.RunID, pub.Publishers, pub.Count, pub.Duration, pub.Rate = "shared-run", 1, 201, 0, 2000
	pr, err := Run(context.Background(), pub, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := <-done
	if o.err != nil {
		t.Fatal(o.err)
	}
	// 201 forwards, every 5th dropped: 40 lost, all below the last message (201 is not a multiple of
	// 5), so all are gaps the subscriber can see.
	if pr.Sent != 201 || o.r.Unique != 161 || o.r.Lost != 40 || len(o.r.Errors) > 0 {
		t.Errorf("pub sent %d; sub unique %d lost %d errors %v", pr.Sent, o.r.Unique, o.r.Lost, o.r.Errors)
	}
}
