package tlslayer

import (
	"testing"
	"time"

	"loopmq/server/layer"
)

// FuzzInboundHandshake feeds random bytes to a new layer, in two calls: the handshake must fail or wait, without a
// panic, and the layer must end after Closing.
func FuzzInboundHandshake(f *testing.F) {
	pk := newPKI(f)
	cfg := pk.config(f, Options{HandshakeTimeout: 50 * time.Millisecond})
	f.Add([]byte{0x16, 3, 1, 0, 5, 1, 0, 0, 1, 0}, 3)
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"), 4)
	f.Add([]byte{0x16, 3, 3, 0xff, 0xff}, 5)
	f.Fuzz(func(t *testing.T, b []byte, cut int) {
		wake := make(chan struct{}, 1)
		l := New(cfg, func() {
			select {
			case wake <- struct{}{}:
			default:
			}
		})
		cut = min(max(cut, 0), len(b))
		var reply layer.Vec
		buf := append([]byte(nil), b[:cut]...)
		r := l.Inbound(buf, testAddr, &reply)
		if r.Consumed > len(buf) {
			t.Fatalf("consumed %d of %d", r.Consumed, len(buf))
		}
		failed := r.Err != nil && r.Close
		buf = append(buf[r.Consumed:], b[cut:]...)
		if r = l.Inbound(buf, testAddr, &reply); r.Consumed > len(buf) {
			t.Fatalf("consumed %d of %d", r.Consumed, len(buf))
		}
		failed = failed || r.Err != nil && r.Close
		if len(b) > 0 && b[0] != 0x16 && !failed {
			t.Fatal("no TLS record, yet no error")
		}
		// A ClientHello cut short waits for bytes; anything else fails at once.
		deadline := time.After(10 * time.Second)
		for l.Handshaking() {
			select {
			case <-wake:
			case <-deadline:
				l.Closing(false, &reply)
				return
			}
			reply.Reset()
			if r := l.Inbound(nil, testAddr, &reply); r.Err == nil && !l.Handshaking() {
				t.Fatal("random bytes finished a handshake")
			}
		}
		l.Closing(false, &reply)
	})
}

// FuzzInboundOpen feeds random bytes to an open layer (after a handshake), whole and cut: no panic, and a verdict
// of error or close, or bytes kept for later.
func FuzzInboundOpen(f *testing.F) {
	pk := newPKI(f)
	cfg := pk.config(f, Options{})
	f.Add([]byte{0x17, 3, 3, 0, 20, 1, 2, 3}, 2)
	f.Add([]byte{0x15, 3, 3, 0, 2, 1, 0}, 0)
	f.Add([]byte{0x17, 3, 3, 0xff, 0xff}, 5)
	f.Fuzz(func(t *testing.T, b []byte, cut int) {
		p := open(t, cfg, pk.ClientConfig())
		cut = min(max(cut, 0), len(b))
		var reply layer.Vec
		buf := append([]byte(nil), b[:cut]...)
		r := p.l.Inbound(buf, testAddr, &reply)
		if r.Err != nil || r.Close {
			return
		}
		buf = append(buf[r.Consumed:], b[cut:]...)
		r = p.l.Inbound(buf, testAddr, &reply)
		if len(r.Data) > 0 {
			t.Fatalf("random bytes decrypted to %q", r.Data)
		}
		if r.Err == nil && !r.Close && r.Consumed != 0 {
			t.Fatalf("consumed %d random bytes without a verdict", r.Consumed)
		}
		p.l.Closing(false, &reply)
	})
}
