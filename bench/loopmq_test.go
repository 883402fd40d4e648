package bench

import (
	"context"
	"os"
	"testing"
	"time"

	"loopmq/server"
)

// startLoopmq starts this project's broker in process on a free loopback port, with a WebSocket
// listener when ws is set.
func startLoopmq(t *testing.T, ws bool) *server.Server {
	t.Helper()
	opts := server.DefaultOptions()
	opts.TCPAddr = "127.0.0.1:0"
	opts.WSAddr = ""
	if ws {
		opts.WSAddr = "127.0.0.1:0"
	}
	opts.HTTPAddr = ""
	s, err := server.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return s
}

func TestScenariosAgainstLoopmq(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	t.Run("tcp", func(t *testing.T) {
		s := startLoopmq(t, false)
		runScenarios(t, "tcp://"+s.TCPAddr(), 0)
	})
	t.Run("ws", func(t *testing.T) {
		s := startLoopmq(t, true)
		target, _ := ParseTarget("ws://" + s.WSAddr() + "/mqtt")
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		tr, err := dial(ctx, target, nil, 512)
		if err != nil {
			// The WebSocket layer is wired into the broker by another branch; until then the
			// listener answers the upgrade with MQTT bytes.
			t.Skipf("broker has no WebSocket upgrade yet: %v", err)
		}
		tr.conn.Close()
		runScenarios(t, "ws://"+s.WSAddr()+"/mqtt", 0)
	})
}

// TestUnpacedAgainstLoopmq floods the broker with unpaced 1 KiB publishes (about 4 GB) and checks it
// reads the stream as the well-formed sequence of packets it is (TestUnpacedStreamIsWellFormed proves
// the client's side) and keeps every connection. Opt-in with MQBENCH_STRESS=1 for its size. The
// standalone broker pinned to one core has been seen to report such streams as malformed
// [MQTT-2.2.2-1] after about a million packets; this in-process variant has not reproduced it yet.
func TestUnpacedAgainstLoopmq(t *testing.T) {
	if os.Getenv("MQBENCH_STRESS") == "" {
		t.Skip("set MQBENCH_STRESS=1")
	}
	s := startLoopmq(t, false)
	sp := quickSpec(ScenarioP2P, "tcp://"+s.TCPAddr())
	sp.Publishers, sp.Count, sp.Duration, sp.PayloadSize = 10, 0, 4*time.Second, 1024
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := Run(ctx, sp, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Dropped > 0 || len(r.Errors) > 0 {
		t.Errorf("connections dropped %d: %v", r.Dropped, r.Errors)
	}
}
