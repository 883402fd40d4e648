package tlslayer

import (
	"bytes"
	"fmt"
	"testing"

	"loopmq/server/layer"
)

// BenchmarkInbound decrypts records of the given size sent by a crypto/tls client, 256 per Inbound call (the
// client's encryption is outside the timer).
func BenchmarkInbound(b *testing.B) {
	pk := newPKI(b)
	cfg := pk.config(b, Options{})
	for _, size := range []int{64, 1024, 16 << 10} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			p := open(b, cfg, pk.ClientConfig())
			msg := bytes.Repeat([]byte{'x'}, size)
			var reply layer.Vec
			var recs []byte
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.StopTimer()
			for i := 0; i < b.N; {
				k := min(256, b.N-i)
				for range k {
					p.cli.Write(msg)
				}
				recs = append(recs[:0], p.m.take()...)
				b.StartTimer()
				reply.Reset()
				r := p.l.Inbound(recs, testAddr, &reply)
				b.StopTimer()
				if r.Consumed != len(recs) || len(r.Data) != k*size {
					b.Fatalf("consumed %d of %d, %d bytes", r.Consumed, len(recs), len(r.Data))
				}
				i += k
			}
		})
	}
}

// BenchmarkOutbound encrypts one flush: a single slice of the given size, or 16 slices of size/16 gathered into
// one record.
func BenchmarkOutbound(b *testing.B) {
	pk := newPKI(b)
	cfg := pk.config(b, Options{})
	for _, size := range []int{64, 1024, 16 << 10} {
		for _, slices := range []int{1, 16} {
			if size/slices == 0 {
				continue
			}
			b.Run(fmt.Sprintf("%d/%dslices", size, slices), func(b *testing.B) {
				p := open(b, cfg, pk.ClientConfig())
				msg := bytes.Repeat([]byte{'x'}, size/slices)
				data := make([][]byte, slices)
				for i := range data {
					data[i] = msg
				}
				var out layer.Vec
				b.SetBytes(int64(size / slices * slices))
				b.ReportAllocs()
				for b.Loop() {
					out.Reset()
					if !p.l.Outbound(&out, data) {
						b.Fatal("refused")
					}
				}
			})
		}
	}
}
