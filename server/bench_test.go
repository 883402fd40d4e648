package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"

	"loopmq/codec"
	"loopmq/topic"
)

// fakeLoop is an in-memory gnet.EventLoop: Execute queues the task and run executes the queue, standing for the
// end of a loop pass.
type fakeLoop struct {
	gnet.EventLoop
	tasks, spare []gnet.Runnable
}

func (f *fakeLoop) Execute(_ context.Context, r gnet.Runnable) error {
	f.tasks = append(f.tasks, r)
	return nil
}

func (f *fakeLoop) run() {
	for len(f.tasks) > 0 {
		ts := f.tasks
		f.tasks = f.spare[:0]
		for i, r := range ts {
			r.Run(context.Background())
			ts[i] = nil
		}
		f.spare = ts[:0]
	}
}

// fakeConn is an in-memory gnet.Conn that counts what the broker writes to it.
type fakeConn struct {
	gnet.Conn
	el      *fakeLoop
	written int
	onWrite func([]byte)
	in      []byte
	ctx     any
}

var fakeAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}

func (f *fakeConn) Write(p []byte) (int, error) {
	f.written += len(p)
	if f.onWrite != nil {
		f.onWrite(p)
	}
	return len(p), nil
}

// Peek and Discard serve the bytes queued in in, like gnet's inbound buffer.
func (f *fakeConn) Peek(n int) ([]byte, error) { return f.in, nil }
func (f *fakeConn) Discard(n int) (int, error) {
	if n <= 0 || n > len(f.in) { // as gnet: 0 discards everything
		n = len(f.in)
	}
	f.in = f.in[n:]
	return n, nil
}

// Close on the fake loop runs the close path synchronously, as gnet's EventLoop.Close does.
func (f *fakeLoop) Close(c gnet.Conn) error {
	if cl, ok := c.Context().(*client); ok {
		cl.onClose(nil)
	}
	return nil
}

func (f *fakeConn) InboundBuffered() int { return len(f.in) }
func (f *fakeConn) Context() any         { return f.ctx }
func (f *fakeConn) SetContext(ctx any)   { f.ctx = ctx }

func (f *fakeConn) OutboundBuffered() int           { return 0 }
func (f *fakeConn) RemoteAddr() net.Addr            { return fakeAddr }
func (f *fakeConn) LocalAddr() net.Addr             { return fakeAddr }
func (f *fakeConn) Fd() int                         { return -1 }
func (f *fakeConn) EventLoop() gnet.EventLoop       { return f.el }
func (f *fakeConn) Writev(bs [][]byte) (int, error) { return 0, nil }

// benchBroker builds a broker without listeners and attaches clients to in-memory loops.
type benchBroker struct {
	s     *Server
	loops []*loop
	fls   []*fakeLoop
}

func newBenchBroker(tb testing.TB, loops int) *benchBroker {
	o := DefaultOptions()
	o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	o.OutboundHighWater = 1 << 30
	s, err := New(o)
	if err != nil {
		tb.Fatal(err)
	}
	b := &benchBroker{s: s}
	for i := 0; i < loops; i++ {
		fl := &fakeLoop{}
		b.fls = append(b.fls, fl)
		b.loops = append(b.loops, s.loopFor(fl))
	}
	return b
}

// client attaches a connected client with a fresh session on loop i.
func (b *benchBroker) client(i int, id string, v codec.Version) (*client, *fakeConn) {
	l := b.loops[i]
	fc := &fakeConn{el: b.fls[i]}
	cl := &client{l: l, c: fc, version: v, sendQuota: 64}
	cl.t.owner = cl
	fc.SetContext(cl)
	s := l.newSession(id)
	cl.attach(s, false)
	return cl, fc
}

func (b *benchBroker) pass() {
	for _, fl := range b.fls {
		fl.run()
	}
}

// BenchmarkPublishFanout measures one PUBLISH from a client through decode, match, encode and delivery to N
// subscribers, half on the publisher's loop and half on another loop (through the mailbox), with the flush of
// every outbox, on in-memory connections. ns/op is per publish; the msgs/s metric counts deliveries.
func BenchmarkPublishFanout(b *testing.B) {
	for _, tc := range []struct {
		n   int
		v   codec.Version
		qos byte
	}{
		{1, codec.V311, 0}, {10, codec.V311, 0}, {100, codec.V311, 0}, {1000, codec.V311, 0},
		{100, codec.V5, 0}, {100, codec.V311, 1},
	} {
		b.Run(fmt.Sprintf("subs=%d/v=%s/qos=%d", tc.n, tc.v, tc.qos), func(b *testing.B) {
			bb := newBenchBroker(b, 2)
			subs := make([]*client, tc.n)
			conns := make([]*fakeConn, tc.n)
			for i := range subs {
				subs[i], conns[i] = bb.client(i%2, fmt.Sprintf("sub%d", i), tc.v)
				if _, err := bb.s.index.Subscribe([]byte("bench/+/temp"), topic.Subscription{
					Subscriber: subs[i].s.subID, Opts: topic.NewOptions(tc.qos, false, false, 0)}); err != nil {
					b.Fatal(err)
				}
			}
			pub, _ := bb.client(0, "pub", tc.v)
			pk := codec.Publish{Topic: []byte("bench/1/temp"), Payload: make([]byte, 64), QoS: tc.qos, PacketID: 1}
			pkt := pk.Append(nil, tc.v)
			var ack codec.Ack
			acks := make([][]byte, 65536)
			// Acknowledge every QoS 1 delivery so the inflight windows never fill.
			ackAll := func() {
				if tc.qos == 0 {
					return
				}
				for _, cl := range subs {
					for len(cl.s.inflight) > 0 {
						id := cl.s.inflight[0].packetID
						if acks[id] == nil {
							ack = codec.Ack{Type: codec.TypePuback, PacketID: id}
							acks[id] = ack.Append(nil, tc.v)
						}
						cl.process(acks[id])
					}
				}
			}
			for i := 0; i < 100; i++ { // warm the pools
				pub.process(pkt)
				bb.pass()
				ackAll()
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				pub.process(pkt)
				bb.pass()
				ackAll()
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N*tc.n)/b.Elapsed().Seconds(), "msgs/s")
			if conns[0].written == 0 || conns[len(conns)-1].written == 0 {
				b.Fatal("subscribers received nothing")
			}
		})
	}
}

// BenchmarkLoopbackQoS0 is end to end over real loopback sockets: one publisher writes 64-byte QoS 0 messages
// in batches, N subscribers read them back. ns/op is per published message; msgs/s counts deliveries.
func BenchmarkLoopbackQoS0(b *testing.B) {
	for _, n := range []int{1, 10} {
		b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) {
			// A high-water mark above the whole run: the point is throughput, not the drop policy.
			s := startBroker(b, func(o *Options) { o.OutboundHighWater = 256 << 20 })
			pk := codec.Publish{Topic: []byte("bench/t"), Payload: make([]byte, 64)}
			one := pk.Append(nil, codec.V311)
			subs := make([]*rawConn, n)
			for i := range subs {
				subs[i] = dialRaw(b, s)
				subs[i].send(connect311(fmt.Sprintf("s%d", i), true))
				subs[i].expect([]byte{0x20, 2, 0, 0})
				subs[i].send([]byte{0x82, 12, 0, 1, 0, 7, 'b', 'e', 'n', 'c', 'h', '/', 't', 0})
				subs[i].expect([]byte{0x90, 3, 0, 1, 0})
			}
			pub := dialRaw(b, s)
			pub.send(connect311("pub", true))
			pub.expect([]byte{0x20, 2, 0, 0})
			batch := make([]byte, 0, 100*len(one))
			for i := 0; i < 100; i++ {
				batch = append(batch, one...)
			}
			b.ReportAllocs()
			b.ResetTimer()
			done := make(chan error, n)
			for _, c := range subs {
				go func(c *rawConn) {
					want := b.N * len(one)
					buf := make([]byte, 64<<10)
					for got := 0; got < want; {
						c.SetReadDeadline(time.Now().Add(10 * time.Second))
						k, err := c.Read(buf)
						if err != nil {
							done <- err
							return
						}
						got += k
					}
					done <- nil
				}(c)
			}
			for sent := 0; sent < b.N; sent += 100 {
				k := min(100, b.N-sent)
				pub.send(batch[:k*len(one)])
			}
			for range subs {
				if err := <-done; err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkReadPath measures the read path alone: PINGREQ and a PUBLISH nobody subscribed to, decoded and
// answered on an in-memory connection.
func BenchmarkReadPath(b *testing.B) {
	for _, tc := range []struct {
		name string
		v    codec.Version
		pkt  []byte
	}{
		{"pingreq", codec.V311, []byte{0xc0, 0}},
		{"publish-qos0-unrouted", codec.V311, []byte{0x30, 0x0b, 0, 4, 'n', 'o', '/', 'b', 'o', 'd', 'y', '!', '!'}},
		{"publish-qos1-v5-props", codec.V5, func() []byte {
			p := codec.Publish{Topic: []byte("no/body"), QoS: 1, PacketID: 7, Payload: make([]byte, 64)}
			p.Props.ContentType = []byte("text/plain")
			p.Props.Set(codec.PropContentType)
			p.Props.User = []codec.UserProperty{{Key: []byte("k"), Value: []byte("v")}}
			return p.Append(nil, codec.V5)
		}()},
	} {
		b.Run(tc.name, func(b *testing.B) {
			bb := newBenchBroker(b, 1)
			cl, _ := bb.client(0, "c", tc.v)
			bb.pass()
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.pkt)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				cl.process(tc.pkt)
				if i&63 == 63 {
					bb.pass()
				}
			}
		})
	}
}

// BenchmarkConnectClose measures accepting a CONNECT (new clean session, CONNACK) and closing the connection, on
// in-memory connections: the cost of connection churn, without the kernel.
func BenchmarkConnectClose(b *testing.B) {
	bb := newBenchBroker(b, 1)
	l := bb.loops[0]
	pkt := connect311("churn", true)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fc := &fakeConn{el: bb.fls[0]}
		cl := &client{l: l, c: fc, transport: transportTCP}
		cl.t.owner = cl
		fc.SetContext(cl)
		cl.process(pkt)
		cl.onClose(nil)
		if i&63 == 63 {
			bb.pass()
		}
	}
}

// bigACL writes a 1,000-line ACL file: 500 lines in the publishing user's own section (the grant it needs
// last), 400 lines of other users, 100 patterns, so each check scans or caches long rule lists.
func bigACL(tb testing.TB) string {
	var b strings.Builder
	b.WriteString("user bench\n")
	for i := 0; i < 499; i++ {
		fmt.Fprintf(&b, "topic readwrite other/%d/#\n", i)
	}
	b.WriteString("topic readwrite bench/+/temp\n")
	for i := 0; i < 400; i++ {
		if i%4 == 0 {
			fmt.Fprintf(&b, "user u%d\n", i)
		} else {
			fmt.Fprintf(&b, "topic read u/%d/#\n", i)
		}
	}
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&b, "pattern read p/%d/%%u/%%c/#\n", i)
	}
	path := filepath.Join(tb.TempDir(), "acl")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// newACLBenchBroker is newBenchBroker with acl_file set to a 1,000-line file.
func newACLBenchBroker(tb testing.TB, loops int) *benchBroker {
	o := DefaultOptions()
	o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	o.OutboundHighWater = 1 << 30
	o.ACLFile = bigACL(tb)
	s, err := New(o)
	if err != nil {
		tb.Fatal(err)
	}
	b := &benchBroker{s: s}
	for i := 0; i < loops; i++ {
		fl := &fakeLoop{}
		b.fls = append(b.fls, fl)
		b.loops = append(b.loops, s.loopFor(fl))
	}
	return b
}

// aclClient is benchBroker.client for user "bench", with its rights compiled as CONNECT compiles them.
func (b *benchBroker) aclClient(i int, id string, v codec.Version) (*client, *fakeConn) {
	cl, fc := b.client(i, id, v)
	cl.authz = &clientAuthz{user: "bench"}
	cl.compileRights(b.s.rules.Load())
	if cl.rights == nil || !cl.rights.CanPublish([]byte("bench/1/temp")) || cl.rights.CanPublish([]byte("bench/1/x")) {
		b.s.log.Error("bench rights not compiled as expected")
		panic("bench rights")
	}
	return cl, fc
}

// BenchmarkPublishACL is BenchmarkPublishFanout's QoS 0 case with and without a 1,000-line acl_file in force:
// the publisher's CanPublish and every subscriber's CanRead run on each publish.
func BenchmarkPublishACL(b *testing.B) {
	for _, n := range []int{1, 100} {
		for _, acl := range []bool{false, true} {
			b.Run(fmt.Sprintf("subs=%d/acl=%v", n, acl), func(b *testing.B) {
				var bb *benchBroker
				mk := func(i int, id string) (*client, *fakeConn) { return bb.client(i, id, codec.V311) }
				if acl {
					bb = newACLBenchBroker(b, 2)
					mk = func(i int, id string) (*client, *fakeConn) { return bb.aclClient(i, id, codec.V311) }
				} else {
					bb = newBenchBroker(b, 2)
				}
				conns := make([]*fakeConn, n)
				for i := range conns {
					var cl *client
					cl, conns[i] = mk(i%2, fmt.Sprintf("sub%d", i))
					bb.s.index.Subscribe([]byte("bench/+/temp"), topic.Subscription{Subscriber: cl.s.subID})
				}
				pub, _ := mk(0, "pub")
				pk := codec.Publish{Topic: []byte("bench/1/temp"), Payload: make([]byte, 64)}
				pkt := pk.Append(nil, codec.V311)
				for i := 0; i < 100; i++ {
					pub.process(pkt)
					bb.pass()
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					pub.process(pkt)
					bb.pass()
				}
				b.StopTimer()
				b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "msgs/s")
				if conns[0].written == 0 || conns[n-1].written == 0 {
					b.Fatal("subscribers received nothing")
				}
			})
		}
	}
}
