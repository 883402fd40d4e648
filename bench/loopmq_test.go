package bench

import (
	"context"
	"testing"
	"time"

	"loopmq/server"
	"loopmq/server/servertest"
)

func TestScenariosAgainstLoopmq(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	t.Run("tcp", func(t *testing.T) {
		s := servertest.Start(t)
		runScenarios(t, "tcp://"+s.TCPAddr(), 0)
	})
	t.Run("ws", func(t *testing.T) {
		// The same address for both: one listener that answers TCP and WebSocket alike.
		s := servertest.Start(t, func(o *server.Options) { o.WSAddr = o.TCPAddr })
		target, _ := ParseTarget("ws://" + s.WSAddr() + "/mqtt")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		tr, err := dial(ctx, target, nil, 512)
		if err != nil {
			t.Fatalf("WebSocket upgrade at %s: %v", target, err)
		}
		tr.conn.Close()
		runScenarios(t, "ws://"+s.WSAddr()+"/mqtt", 0)
	})
}
