//go:build !race

// A memory budget: not built under -race, whose instrumentation distorts the heap (make test-budgets runs it).

package tlslayer

import (
	"bytes"
	"crypto/tls"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"

	"loopmq/server/layer"
)

func heapAlloc() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// idleHeap opens n connections (TLS 1.3, ECDSA P-256), runs traffic on each, drops the clients and returns the
// Go heap each server-side connection keeps: the Layer, the tls.Conn and what it holds.
func idleHeap(t *testing.T, cfg *Config, pk *pki, n int, traffic func(p *pair), curves ...tls.CurveID) float64 {
	base := heapAlloc()
	layers := make([]*Layer, n)
	for i := range layers {
		cc := pk.ClientConfig()
		cc.NextProtos = []string{"mqtt"}
		cc.CurvePreferences = curves
		p := open(t, cfg, cc)
		if traffic != nil {
			traffic(p)
		}
		p.cli.Close()
		layers[i] = p.l
	}
	per := float64(heapAlloc()-base) / float64(n)
	if f := os.Getenv("TLSLAYER_HEAP_PROFILE"); f != "" && traffic == nil {
		// go test -run IdleMemory -memprofilerate 1, then go tool pprof -sample_index=inuse_space on the file.
		w, err := os.Create(f)
		if err != nil {
			t.Fatal(err)
		}
		pprof.Lookup("heap").WriteTo(w, 0)
		w.Close()
	}
	runtime.KeepAlive(layers)
	return per
}

// TestIdleMemory measures the heap per idle TLS connection after the handshake, after small packets and after a
// record of 16 KiB from the client.
func TestIdleMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 handshakes")
	}
	pk := newPKI(t)
	cfg := pk.config(t, Options{ALPN: []string{"mqtt"}})
	var reply, out layer.Vec
	exchange := func(msg []byte) func(p *pair) {
		return func(p *pair) {
			rec := p.records(t, msg)
			reply.Reset()
			if r := p.l.Inbound(rec, testAddr, &reply); !bytes.Equal(r.Data, msg) {
				t.Fatalf("got %d bytes", len(r.Data))
			}
			out.Reset()
			if !p.l.Outbound(&out, [][]byte{msg}) {
				t.Fatal("outbound refused")
			}
		}
	}
	idle := idleHeap(t, cfg, pk, 1000, nil)
	small := idleHeap(t, cfg, pk, 300, exchange(bytes.Repeat([]byte{'s'}, 100)))
	big := idleHeap(t, cfg, pk, 300, exchange(bytes.Repeat([]byte{'b'}, 16<<10)))
	// Clients without the ML-KEM hybrid key share (OpenSSL 3.0, most devices) send a ClientHello of a few hundred
	// bytes instead of 1.5 KB, and crypto/tls's read buffer is sized by it.
	classic := idleHeap(t, cfg, pk, 300, nil, tls.X25519, tls.CurveP256)
	t.Logf("heap per idle TLS connection: %.0f B after the handshake, %.0f after 100-byte packets, %.0f after a 16 KiB record; %.0f B after a handshake without ML-KEM",
		idle, small, big, classic)
	// 6.8 KB measured with Go 1.26. crypto/tls keeps its read buffer at the size of the biggest record received,
	// about 17 KiB after a 16 KiB one; the bounds catch a buffer kept besides it.
	if idle > 10<<10 || small > 10<<10 || big > 24<<10 {
		t.Fatal("an idle TLS connection keeps more than expected")
	}
}
