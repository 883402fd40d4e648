package tlslayer

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"testing"

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
			srv, cli := tls.Server(sc, srvCfg), tls.Client(cc, pk.clientConfig())
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
			cc := pk.clientConfig()
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
