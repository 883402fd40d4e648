//go:build !race

// An allocation budget: not built under -race, whose instrumentation disturbs allocation counts. `make test` runs
// it in a pass without -race (see the Makefile's budgets).

package ws

import (
	"net/netip"
	"testing"

	"github.com/gobwas/ws"

	"loopmq/server/ws/wstest"
)

// TestZeroAllocs makes the zero-allocation promise of the data path part of the test suite, not only of the
// benchmarks: deframing (with a ping in the stream), the frame header, control replies and a direct upgrade.
func TestZeroAllocs(t *testing.T) {
	wire := wstest.Encode(wstest.Binary(make([]byte, 64)), wstest.Control(ws.OpPing, []byte("p")), wstest.Binary(make([]byte, 300)))
	buf := make([]byte, len(wire))
	var d Deframer
	out := make([]byte, 0, 256)
	var h [MaxFrameHeaderLen]byte
	upgrade := []byte(req("/mqtt", nil, "Origin: https://app.example"))
	cfg := Config{AllowedOrigins: []string{"https://app.example"}}
	tests := []struct {
		name string
		fn   func()
	}{
		{"Deframe", func() {
			copy(buf, wire)
			for p := 0; p < len(buf); {
				_, consumed, ctl, err := d.Deframe(buf[p:])
				if err != nil {
					t.Fatal(err)
				}
				out = ctl.AppendReply(out[:0])
				p += consumed
			}
		}},
		{"PutFrameHeader", func() { PutFrameHeader(&h, ws.OpBinary, 70000) }},
		{"AppendClose", func() { out = AppendClose(out[:0], ws.StatusProtocolError, "bad frame") }},
		{"Upgrade", func() {
			res, _, err := Upgrade(&cfg, upgrade, netip.AddrPort{}, out[:0])
			if err != nil || !res.OK {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		if allocs := testing.AllocsPerRun(100, tt.fn); allocs != 0 {
			t.Errorf("%s: %v allocations per run, want 0", tt.name, allocs)
		}
	}
}
