package tlslayer

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"loopmq/server/layer"
)

// memNB is a net.Conn that is blocking (a net.Conn of the test) until switched to memory, where Read returns
// errWouldBlock when nothing is buffered.
type memNB struct {
	net.Conn
	mem bool
	in  []byte
	out []byte
}

func (c *memNB) Read(p []byte) (int, error) {
	if !c.mem {
		return c.Conn.Read(p)
	}
	if len(c.in) == 0 {
		return 0, errWouldBlock
	}
	n := copy(p, c.in)
	c.in = c.in[n:]
	return n, nil
}

func (c *memNB) Write(p []byte) (int, error) {
	if !c.mem {
		return c.Conn.Write(p)
	}
	c.out = append(c.out, p...)
	return len(p), nil
}

// TestTemporaryReadKeepsConnUsable guards what the engine rests on, for the Go version at hand: after the
// handshake, a Read that fails with a net.Error whose Temporary() is true leaves a tls.Conn usable, with the
// partial record it has read kept, in both TLS versions.
func TestTemporaryReadKeepsConnUsable(t *testing.T) {
	pk := newPKI(t)
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(v), func(t *testing.T) {
			a, b := net.Pipe()
			sc, cc := &memNB{Conn: a}, &memNB{Conn: b}
			srvCfg := pk.config(t, Options{}).tls.Clone()
			srvCfg.MaxVersion = v
			srv, cli := tls.Server(sc, srvCfg), tls.Client(cc, pk.ClientConfig())
			errc := make(chan error, 1)
			go func() { errc <- srv.Handshake() }()
			if err := cli.Handshake(); err != nil {
				t.Fatal(err)
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			sc.mem, cc.mem = true, true
			buf := make([]byte, 64)
			for round := range 3 {
				msg := fmt.Appendf(nil, "message %d", round)
				if _, err := cli.Write(msg); err != nil {
					t.Fatal(err)
				}
				rec := cc.out
				cc.out = nil
				if n, err := srv.Read(buf); n != 0 || !errors.Is(err, errWouldBlock) {
					t.Fatalf("read with nothing buffered: %d, %v", n, err)
				}
				sc.in = rec[:len(rec)/2]
				if n, err := srv.Read(buf); n != 0 || !errors.Is(err, errWouldBlock) {
					t.Fatalf("read of half a record: %d, %v", n, err)
				}
				sc.in = rec[len(rec)/2:]
				n, err := srv.Read(buf)
				if err != nil || !bytes.Equal(buf[:n], msg) {
					t.Fatalf("read after temporary errors: %q, %v", buf[:n], err)
				}
				if _, err := srv.Write(msg); err != nil {
					t.Fatal(err)
				}
				cc.in, sc.out = sc.out, nil
				n, err = cli.Read(buf)
				if err != nil || !bytes.Equal(buf[:n], msg) {
					t.Fatalf("client read: %q, %v", buf[:n], err)
				}
			}
		})
	}
}

// TestRecordsSplitAtEveryByte feeds records cut at every offset, and many records in one call.
func TestRecordsSplitAtEveryByte(t *testing.T) {
	pk := newPKI(t)
	cfg := pk.config(t, Options{})
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(v), func(t *testing.T) {
			cc := pk.ClientConfig()
			cc.MaxVersion = v
			p := open(t, cfg, cc)
			msg := []byte("0123456789abcdefghijklmnopqrstuvwxyz")
			stream := p.records(t, msg)
			one := len(stream)
			want := append([]byte(nil), msg...)
			// Record i is cut at offset i: every boundary inside a record, header included.
			for i := 1; i < one; i++ {
				m := fmt.Appendf(nil, "%s%03d", msg[:len(msg)-3], i)
				want = append(want, m...)
				stream = append(stream, p.records(t, m)...)
			}
			if got := p.feedCut(t, stream); !bytes.Equal(got, want) {
				t.Fatalf("got %d bytes, want %d", len(got), len(want))
			}
			// Many records in one read.
			var many []byte
			want = want[:0]
			for i := range 200 {
				m := fmt.Appendf(nil, "record %d;", i)
				want = append(want, m...)
				many = append(many, p.records(t, m)...)
			}
			var reply layer.Vec
			r := p.l.Inbound(many, testAddr, &reply)
			if r.Consumed != len(many) || !bytes.Equal(r.Data, want) || r.Err != nil || r.Close {
				t.Fatalf("many records: consumed %d of %d, %d bytes of %d, %v", r.Consumed, len(many), len(r.Data), len(want), r.Err)
			}
		})
	}
}

// feedCut feeds the stream's records, record i cut at offset i (modulo its length), as a loop would: unconsumed
// bytes stay in its buffer. It returns the plaintext handed up.
func (p *pair) feedCut(t *testing.T, stream []byte) []byte {
	t.Helper()
	var reply layer.Vec
	var got, buf []byte
	push := func(b []byte) {
		buf = append(buf, b...)
		reply.Reset()
		r := p.l.Inbound(buf, testAddr, &reply)
		if r.Err != nil || r.Close {
			t.Fatalf("inbound: %v close %v", r.Err, r.Close)
		}
		got = append(got, r.Data...)
		buf = buf[:copy(buf, buf[r.Consumed:])]
	}
	for i := 0; len(stream) > 0; i++ {
		rl := 5 + (int(stream[3])<<8 | int(stream[4]))
		cut := i % rl
		push(stream[:cut])
		push(stream[cut:rl])
		stream = stream[rl:]
	}
	if len(buf) != 0 {
		t.Fatalf("%d bytes left", len(buf))
	}
	return got
}

// records splits b into TLS records and returns their count; it fails on a partial one.
func countRecords(t *testing.T, b []byte) int {
	t.Helper()
	n := 0
	for len(b) > 0 {
		if len(b) < 5 {
			t.Fatalf("partial header")
		}
		l := 5 + (int(b[3])<<8 | int(b[4]))
		if l > len(b) {
			t.Fatalf("partial record")
		}
		b = b[l:]
		n++
	}
	return n
}

// TestOutboundCoalesces: one flush of many slices is one record while it fits, and the client reads it all.
func TestOutboundCoalesces(t *testing.T) {
	pk := newPKI(t)
	p := open(t, pk.config(t, Options{}), pk.ClientConfig())
	for _, tc := range []struct{ slices, size, records int }{{1, 10, 1}, {100, 100, 1}, {16, 1024, 1}, {20, 1024, 2}, {1, 40 << 10, 3}} {
		var data [][]byte
		var want []byte
		for i := range tc.slices {
			d := bytes.Repeat([]byte{byte('a' + i%26)}, tc.size)
			data = append(data, d)
			want = append(want, d...)
		}
		var out layer.Vec
		out.Scratch = append(out.Scratch, "earlier"...) // bytes of another connection stay
		if !p.l.Outbound(&out, data) {
			t.Fatal("refused")
		}
		var wire []byte
		for _, b := range out.Bufs {
			wire = append(wire, b...)
		}
		if n := countRecords(t, wire); n != tc.records {
			t.Fatalf("%d×%d bytes: %d records, want %d", tc.slices, tc.size, n, tc.records)
		}
		if string(out.Scratch[:7]) != "earlier" {
			t.Fatal("Scratch overwritten")
		}
		p.m.feed([][]byte{wire})
		got := make([]byte, len(want))
		if _, err := io.ReadFull(p.cli, got); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("client read: %v", err)
		}
	}
}

// TestCloseNotify: the client's close_notify hands up the data before it and closes; Closing answers with ours.
func TestCloseNotify(t *testing.T) {
	pk := newPKI(t)
	p := open(t, pk.config(t, Options{}), pk.ClientConfig())
	p.cli.Write([]byte("last words"))
	p.cli.CloseWrite()
	var reply layer.Vec
	r := p.l.Inbound(p.m.take(), testAddr, &reply)
	if string(r.Data) != "last words" || !r.Close || r.Err != nil {
		t.Fatalf("got %q close %v err %v", r.Data, r.Close, r.Err)
	}
	p.l.Closing(false, &reply)
	p.m.feed(reply.Bufs)
	if _, err := p.cli.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("client read %v, want EOF after close_notify", err)
	}
	var out layer.Vec
	if p.l.Outbound(&out, [][]byte{[]byte("late")}) || len(out.Bufs) != 0 {
		t.Fatal("Outbound carried data after Closing")
	}
}

// TestWorkersReleasedWhileWaiting: with one worker, a client that stalls mid-handshake does not hold it, so others
// handshake; Closing a handshake ends its goroutine (its last act is to wake the owner).
func TestWorkersReleasedWhileWaiting(t *testing.T) {
	pk := newPKI(t)
	cfg := pk.config(t, Options{Workers: 1})
	stalled := newPair(cfg, pk.ClientConfig())
	go stalled.cli.Handshake()
	<-stalled.m.wrote
	hello := stalled.m.take()
	var reply layer.Vec
	if r := stalled.l.Inbound(hello[:len(hello)/2], testAddr, &reply); r.Consumed != 0 || stalled.l.Handshaking() {
		t.Fatal("half a ClientHello started the handshake")
	}
	// The whole ClientHello: the server's flight is never delivered, so its goroutine waits for the client.
	stalled.l.Inbound(hello, testAddr, &reply)
	select {
	case <-stalled.wake:
	case <-time.After(20 * time.Second):
		t.Fatal("no server flight")
	}
	for range 3 {
		open(t, cfg, pk.ClientConfig())
	}
	h := stalled.l.hs
	stalled.l.Closing(false, &reply)
	deadline := time.Now().Add(20 * time.Second)
	for {
		h.mu.Lock()
		done := h.done
		h.mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the stopped handshake's goroutine did not end")
		}
		time.Sleep(5 * time.Millisecond)
	}
	stalled.m.Close()
	if len(cfg.workers) != 0 {
		t.Fatalf("%d worker tokens held", len(cfg.workers))
	}
}

// TestDataBehindFinished: records that come with the client's Finished are handed up by the call that ends the
// handshake, and the handshake's buffer is not kept once they are read; a partial record there waits for the rest.
func TestDataBehindFinished(t *testing.T) {
	pk := newPKI(t)
	cfg := pk.config(t, Options{})
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(v), func(t *testing.T) {
			cc := pk.ClientConfig()
			cc.MaxVersion = v
			p := newPair(cfg, cc)
			data, err := p.handshakeThen(t, [][]byte{[]byte("CONNECT"), []byte("SUBSCRIBE")})
			if err != nil {
				t.Fatal(err)
			}
			if string(data) != "CONNECTSUBSCRIBE" {
				t.Fatalf("handed up %q", data)
			}
			if p.l.left != nil {
				t.Fatalf("the layer keeps %d bytes of the handshake's buffer", cap(p.l.left))
			}
		})
	}
	// A partial record behind Finished (TLS 1.3: the client is done before the server reads its Finished): the
	// layer keeps it, and the next call completes it.
	p := newPair(cfg, pk.ClientConfig())
	errc := make(chan error, 1)
	go func() { errc <- p.cli.Handshake() }()
	var reply layer.Vec
	for p.l.state != stateOpen {
		select {
		case <-p.m.wrote:
		case <-p.wake:
		case err := <-errc:
			if err != nil {
				t.Fatal(err)
			}
			rec := p.records(t, []byte("PUBLISH"))
			cut := len(rec) - 3
			reply.Reset()
			r := p.l.Inbound(rec[:cut], testAddr, &reply)
			for p.l.state != stateOpen {
				<-p.wake
				reply.Reset()
				r = p.l.Inbound(nil, testAddr, &reply)
			}
			if len(r.Data) != 0 || p.l.left == nil {
				t.Fatalf("data %q before the record is whole", r.Data)
			}
			r = p.l.Inbound(rec[cut:], testAddr, &reply)
			if string(r.Data) != "PUBLISH" || r.Consumed != 3 || p.l.left != nil {
				t.Fatalf("got %q consumed %d", r.Data, r.Consumed)
			}
			return
		case <-time.After(20 * time.Second):
			t.Fatal("handshake did not end")
		}
		reply.Reset()
		p.l.Inbound(p.m.take(), testAddr, &reply)
		p.m.feed(reply.Bufs)
	}
	// The loop above read the client's Finished before the client's Handshake returned (which of the two the
	// select sees first is up to the scheduler): the layer is open, and a partial record must still wait for its
	// rest, which an open layer leaves in the caller's buffer.
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	rec := p.records(t, []byte("PUBLISH"))
	cut := len(rec) - 3
	reply.Reset()
	if r := p.l.Inbound(rec[:cut], testAddr, &reply); len(r.Data) != 0 || r.Consumed != 0 {
		t.Fatalf("data %q (consumed %d) before the record is whole", r.Data, r.Consumed)
	}
	if r := p.l.Inbound(rec, testAddr, &reply); string(r.Data) != "PUBLISH" || r.Consumed != len(rec) || p.l.left != nil {
		t.Fatalf("got %q consumed %d", r.Data, r.Consumed)
	}
}
