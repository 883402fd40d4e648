package ws

import (
	"bytes"
	"io"
	"net/netip"
	"strconv"
	"testing"

	"github.com/gobwas/ws"

	"loopmq/server/ws/wstest"
)

// benchDeframe measures Deframe on a buffer of back-to-back masked binary frames of one size, as a loop buffer
// holds them after a read. The wire bytes are restored before each pass (outside the timer's concern: it is a
// plain copy of the same size, reported separately by BenchmarkCopyBaseline), because deframing works in place.
func benchDeframe(b *testing.B, size, frames int) {
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte(i)
	}
	var wire []byte
	for range frames {
		wire = wstest.Binary(payload).Append(wire)
	}
	buf := make([]byte, len(wire))
	var d Deframer
	b.SetBytes(int64(size * frames))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		copy(buf, wire)
		n, consumed, _, err := d.Deframe(buf)
		if err != nil || n != size*frames || consumed != len(wire) {
			b.Fatalf("n %d consumed %d err %v", n, consumed, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*frames), "ns/frame")
}

func BenchmarkDeframe64B(b *testing.B)   { benchDeframe(b, 64, 64) }
func BenchmarkDeframe16KiB(b *testing.B) { benchDeframe(b, 16<<10, 4) }

// benchPeerGobwas is the peer in the same run: the same frames read the conventional way with gobwas/ws
// (ws.ReadHeader from an io.Reader, then the payload copied into a reused buffer and unmasked with ws.Cipher).
func benchPeerGobwas(b *testing.B, size, frames int) {
	payload := make([]byte, size)
	var wire []byte
	for range frames {
		wire = wstest.Binary(payload).Append(wire)
	}
	out := make([]byte, size)
	r := bytes.NewReader(wire)
	b.SetBytes(int64(size * frames))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(wire)
		for range frames {
			h, err := ws.ReadHeader(r)
			if err != nil {
				b.Fatal(err)
			}
			p := out[:h.Length]
			if _, err := io.ReadFull(r, p); err != nil {
				b.Fatal(err)
			}
			ws.Cipher(p, h.Mask, 0)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*frames), "ns/frame")
}

func BenchmarkPeerGobwasRead64B(b *testing.B)   { benchPeerGobwas(b, 64, 64) }
func BenchmarkPeerGobwasRead16KiB(b *testing.B) { benchPeerGobwas(b, 16<<10, 4) }

// BenchmarkCopyBaseline is the cost of restoring the wire bytes in the Deframe benchmarks, to subtract.
func BenchmarkCopyBaseline(b *testing.B) {
	for _, size := range []int{64 * (64 + 6), 4 * (16<<10 + 8)} {
		src, dst := make([]byte, size), make([]byte, size)
		b.Run(strconv.Itoa(size)+"B", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				copy(dst, src)
			}
		})
	}
}

// BenchmarkDeframeSplit measures a 16 KiB frame arriving in 1460-byte reads (one TCP segment each), the case where
// the mask offset carries across calls.
func BenchmarkDeframeSplit(b *testing.B) {
	payload := make([]byte, 16<<10)
	wire := wstest.Binary(payload).Append(nil)
	buf := make([]byte, len(wire))
	var d Deframer
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		copy(buf, wire)
		for p := 0; p < len(buf); {
			end := min(p+1460, len(buf))
			_, consumed, _, err := d.Deframe(buf[p:end])
			if err != nil {
				b.Fatal(err)
			}
			p += consumed
		}
	}
}

// BenchmarkPutFrameHeader measures the header of the one binary frame per flush.
func BenchmarkPutFrameHeader(b *testing.B) {
	var h [MaxFrameHeaderLen]byte
	lengths := [...]int{64, 300, 70000}
	b.ReportAllocs()
	k := 0
	for i := 0; b.Loop(); i++ {
		k += PutFrameHeader(&h, ws.OpBinary, lengths[i%3])
	}
	if k == 0 {
		b.Fatal("no header written")
	}
}

// BenchmarkUpgrade measures one opening handshake into a reused response buffer, from a browser directly and
// through a trusted proxy (whose X-Forwarded-For address is parsed: netip's parser needs a string, 2 small allocs).
func BenchmarkUpgrade(b *testing.B) {
	in := []byte(req("/mqtt", map[string]string{"Sec-WebSocket-Protocol": "mqttv3.1, mqtt"},
		"Origin: https://app.example", "User-Agent: Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0", "X-Forwarded-For: 203.0.113.7"))
	for _, bc := range []struct {
		name    string
		proxies []netip.Prefix
	}{
		{"direct", nil},
		{"proxied", []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := Config{AllowedOrigins: []string{"https://app.example"}, TrustedProxies: bc.proxies}
			dst := make([]byte, 0, 256)
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				res, _, err := Upgrade(&cfg, in, peer, dst[:0])
				if err != nil || !res.OK {
					b.Fatal(err)
				}
			}
		})
	}
}
