//go:build stress

package bench

import (
	"context"
	"testing"
	"time"

	"loopmq/server/servertest"
)

// TestUnpacedAgainstLoopmq floods the broker with unpaced 1 KiB publishes (about 4 GB) and checks it
// reads the stream as the well-formed sequence of packets it is (TestUnpacedStreamIsWellFormed proves
// the client's side) and keeps every connection. Opt-in for its size, with the stress build tag:
// go test -tags stress -run TestUnpacedAgainstLoopmq ./bench/. The
// standalone broker pinned to one core has been seen to report such streams as malformed
// [MQTT-2.2.2-1] after about a million packets; this in-process variant has not reproduced it yet.
func TestUnpacedAgainstLoopmq(t *testing.T) {
	s := servertest.Start(t)
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
