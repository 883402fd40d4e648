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
		if os.Getenv("LOOPMQ_WS_BENCH") == "" {
			// Until the WebSocket layer is wired into the broker, enabling its listener only adds
			// a data race in Server.Start (ports recorded after the engine accepts); see the report.
			t.Skip("set LOOPMQ_WS_BENCH=1 once the broker upgrades WebSocket connections")
		}
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
