package bench

import (
	"bufio"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"loopmq/codec"
)

// The load side must not be the bottleneck: these are its per-message paths, each 0 allocs/op.

// nopConn is a net.Conn that swallows writes.
type nopConn struct{ net.Conn }

func (nopConn) Write(p []byte) (int, error) { return len(p), nil }

func benchClient(w wireWriter, v codec.Version) *client {
	c := &client{cfg: clientConfig{version: v}, w: w, ids: make(chan uint16, 64), done: make(chan struct{})}
	c.outstanding = make([]atomic.Bool, 65)
	return c
}

// BenchmarkPublishEncode is a publisher's cost per message: stamp, encode, buffer (QoS 0, 64 B).
func BenchmarkPublishEncode(b *testing.B) {
	for _, v := range []codec.Version{codec.V311, codec.V5} {
		b.Run(v.String(), func(b *testing.B) {
			c := benchClient(bufio.NewWriterSize(io.Discard, 16<<10), v)
			payload := newPayload(64, 1, 0)
			topic := []byte("mqbench/abcd1234/17")
			b.ReportAllocs()
			b.SetBytes(64)
			for i := 0; b.Loop(); i++ {
				setStamp(payload, uint64(i), int64(i))
				if err := c.publish(topic, 0, false, payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPublishEncodeWS is the same over the WebSocket framing writer (masking included).
func BenchmarkPublishEncodeWS(b *testing.B) {
	c := benchClient(newWSWriter(nopConn{}, 16<<10), codec.V5)
	payload := newPayload(64, 1, 0)
	topic := []byte("mqbench/abcd1234/17")
	b.ReportAllocs()
	b.SetBytes(64)
	for i := 0; b.Loop(); i++ {
		setStamp(payload, uint64(i), int64(i))
		if err := c.publish(topic, 0, false, payload); err != nil {
			b.Fatal(err)
		}
	}
}

// repeatReader serves the same bytes forever.
type repeatReader struct {
	b []byte
	i int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.b[r.i:])
		n += c
		r.i = (r.i + c) % len(r.b)
	}
	return n, nil
}

// BenchmarkReceive is a subscriber's cost per message: frame, decode, account, record latency.
func BenchmarkReceive(b *testing.B) {
	tag := runTag("r")
	payload := newPayload(64, tag, 3)
	var stream []byte
	for i := 0; i < 64; i++ {
		setStamp(payload, uint64(i), time.Now().UnixNano())
		p := codec.Publish{Topic: []byte("mqbench/r/3"), Payload: payload}
		stream = p.Append(stream, codec.V311)
	}
	s := &subscriber{tag: tag, tr: newTracker(), last: new(atomic.Int64), rec: newRecorder(NewHistogram())}
	c := &client{cfg: clientConfig{version: codec.V311, onMessage: s.onMessage},
		br: bufio.NewReaderSize(&repeatReader{b: stream}, 32<<10)}
	b.ReportAllocs()
	b.SetBytes(64)
	for b.Loop() {
		h, body, err := c.next()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.handle(h, body); err != nil {
			b.Fatal(err)
		}
		c.consume(h)
	}
}

// BenchmarkTrackerSee is the duplicate detection per message.
func BenchmarkTrackerSee(b *testing.B) {
	tr := newTracker()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		tr.see(uint32(i&7), uint64(i>>3)&(1<<20-1))
	}
}
