package server

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	gobwas "github.com/gobwas/ws"

	"loopmq/codec"
	"loopmq/server/ws/wstest"
	"loopmq/topic"
)

// benchClient is one end-to-end benchmark client over TCP or WebSocket. It reads MQTT bytes (WebSocket framing
// stripped) through a large bufio.Reader so the client side stays cheap next to the broker.
type benchClient struct {
	net.Conn
	isWS     bool
	br       *bufio.Reader
	remain   int          // payload bytes left in the current server frame
	got      atomic.Int64 // whole deliveries read so far
	progress chan struct{}
}

func dialBench(b *testing.B, s *Server, isWS bool, id string) *benchClient {
	b.Helper()
	addr := s.TCPAddr()
	if isWS {
		addr = s.WSAddr()
	}
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	bc := &benchClient{Conn: c, isWS: isWS, br: bufio.NewReaderSize(c, 256<<10)}
	if isWS {
		c.Write(wstest.UpgradeRequest(addr, "/mqtt", []string{"mqtt"}))
		resp, err := http.ReadResponse(bc.br, nil)
		if err != nil || resp.StatusCode != 101 {
			b.Fatalf("upgrade: %v", err)
		}
	}
	bc.send(connect311(id, true))
	bc.expect(b, []byte{0x20, 2, 0, 0})
	return bc
}

// frame returns p as the client sends it: itself on TCP, one masked binary frame on WebSocket.
func (c *benchClient) frame(p []byte) []byte {
	if !c.isWS {
		return p
	}
	f := wstest.Binary(p)
	f.Mask = [4]byte{0x5a, 0xa5, 0x3c, 0xc3}
	return f.Append(nil)
}

func (c *benchClient) send(p []byte) {
	c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	c.Write(c.frame(p))
}

// Read returns MQTT bytes.
func (c *benchClient) Read(p []byte) (int, error) {
	if !c.isWS {
		return c.br.Read(p)
	}
	for c.remain == 0 {
		var h [2]byte
		if _, err := io.ReadFull(c.br, h[:]); err != nil {
			return 0, err
		}
		if h[0] != 0x80|byte(gobwas.OpBinary) {
			return 0, fmt.Errorf("server frame %#x, want a final binary frame", h[0])
		}
		switch n := int(h[1] & 0x7f); n {
		case 126:
			var e [2]byte
			if _, err := io.ReadFull(c.br, e[:]); err != nil {
				return 0, err
			}
			c.remain = int(binary.BigEndian.Uint16(e[:]))
		case 127:
			var e [8]byte
			if _, err := io.ReadFull(c.br, e[:]); err != nil {
				return 0, err
			}
			c.remain = int(binary.BigEndian.Uint64(e[:]))
		default:
			c.remain = n
		}
	}
	n, err := c.br.Read(p[:min(len(p), c.remain)])
	c.remain -= n
	return n, err
}

func (c *benchClient) expect(b *testing.B, want []byte) {
	b.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != string(want) {
		b.Fatalf("got % x, want % x: %v", got, want, err)
	}
}

// BenchmarkTransportThroughput runs the same workloads end to end over real loopback sockets, once with every
// client on TCP and once with every client on WebSocket, on one broker: p2p QoS 0, p2p QoS 1 (the subscriber
// acknowledges every message) and fan-out to 10 QoS 0 subscribers. 64-byte payloads, published in batches of 100
// (one write, one WebSocket frame per batch). ns/op is per published message; msgs/s counts deliveries.
func BenchmarkTransportThroughput(b *testing.B) {
	// Throughput, not the drop policy: a high-water mark above the run, and the publisher keeps at most benchWindow
	// messages between itself and the slowest subscriber, below MaxQueuedMessages, so QoS 1 is never dropped.
	s := startWSBroker(b, func(o *Options) { o.OutboundHighWater = 256 << 20 })
	workloads := []struct {
		name string
		subs int
		qos  byte
	}{{"p2p-qos0", 1, 0}, {"p2p-qos1", 1, 1}, {"fanout10-qos0", 10, 0}}
	for _, w := range workloads {
		for _, tr := range []string{"tcp", "ws"} {
			b.Run(w.name+"/"+tr, func(b *testing.B) {
				benchThroughput(b, s, tr == "ws", w.subs, w.qos)
			})
		}
	}
}

var benchRun int

// benchWindow bounds the messages published but not yet read by every subscriber.
const benchWindow = 900

func benchThroughput(b *testing.B, s *Server, isWS bool, nsubs int, qos byte) {
	benchRun++
	topic := fmt.Sprintf("bench/%d", benchRun)
	subs := make([]*benchClient, nsubs)
	for i := range subs {
		subs[i] = dialBench(b, s, isWS, fmt.Sprintf("sub-%d-%d", benchRun, i))
		sp := codec.Subscribe{PacketID: 1, Subs: []codec.Subscription{{Filter: []byte(topic), QoS: qos}}}
		subs[i].send(sp.Append(nil, codec.V311))
		subs[i].expect(b, []byte{0x90, 3, 0, 1, qos})
	}
	pub := dialBench(b, s, isWS, fmt.Sprintf("pub-%d", benchRun))
	go io.Copy(io.Discard, pub) // PUBACKs
	const batchN = 100
	var batch []byte
	for i := 0; i < batchN; i++ {
		pk := codec.Publish{Topic: []byte(topic), QoS: qos, Payload: make([]byte, 64)}
		if qos > 0 {
			pk.PacketID = uint16(i + 1)
		}
		batch = pk.Append(batch, codec.V311)
	}
	msgLen := len(batch) / batchN
	framed := pub.frame(batch)
	last := pub.frame(batch[:(b.N%batchN)*msgLen])

	b.ReportAllocs()
	b.ResetTimer()
	done := make(chan error, nsubs)
	progress := make(chan struct{}, 1)
	for _, c := range subs {
		c.progress = progress
		go func(c *benchClient) { done <- c.drain(b.N, msgLen, qos) }(c)
	}
	slowest := func() int64 {
		m := subs[0].got.Load()
		for _, c := range subs[1:] {
			m = min(m, c.got.Load())
		}
		return m
	}
	for sent := 0; sent+batchN <= b.N; sent += batchN {
		for int64(sent+batchN)-slowest() > benchWindow {
			select {
			case <-progress:
			case <-time.After(10 * time.Second):
				b.Fatal("subscribers stopped reading")
			}
		}
		pub.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := pub.Conn.Write(framed); err != nil {
			b.Fatal(err)
		}
	}
	if b.N%batchN > 0 {
		pub.Conn.Write(last)
	}
	for range subs {
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*nsubs)/b.Elapsed().Seconds(), "msgs/s")
}

// drain reads n deliveries of msgLen bytes each; for QoS 1 it acknowledges each one (one write per read).
func (c *benchClient) drain(n, msgLen int, qos byte) error {
	want := n * msgLen
	buf := make([]byte, 64<<10)
	var acks []byte
	var idHi byte
	partial := 0 // bytes of the current message already read
	for got := 0; got < want; {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		k, err := c.Read(buf)
		if err != nil {
			return err
		}
		got += k
		c.got.Store(int64(got / msgLen))
		select {
		case c.progress <- struct{}{}:
		default:
		}
		if qos == 0 {
			continue
		}
		acks = acks[:0]
		for _, x := range buf[:k] {
			// Deliveries are fixed-size: 0x32, remaining length, topic, packet id, 64-byte payload.
			switch partial {
			case 0:
				if x != 0x32 {
					return fmt.Errorf("%#x, want a QoS 1 PUBLISH", x)
				}
			case msgLen - 64 - 2:
				idHi = x
			case msgLen - 64 - 1:
				acks = append(acks, 0x40, 2, idHi, x)
			}
			if partial++; partial == msgLen {
				partial = 0
			}
		}
		if len(acks) > 0 {
			c.Conn.Write(c.frame(acks))
		}
	}
	return nil
}

// wsFakeConn is the in-memory connection of the benchmarks with writev counted, as WebSocket flushes use it.
type wsFakeConn struct {
	*fakeConn
	frames  int
	capture *[]byte // when set, every byte written (Write and Writev) is appended here
}

func (f *wsFakeConn) Write(p []byte) (int, error) {
	if f.capture != nil {
		*f.capture = append(*f.capture, p...)
	}
	return f.fakeConn.Write(p)
}

func (f *wsFakeConn) Writev(bs [][]byte) (int, error) {
	n := 0
	for _, b := range bs {
		n += len(b)
		if f.capture != nil {
			*f.capture = append(*f.capture, b...)
		}
	}
	f.written += n
	f.frames++
	return n, nil
}

// wsBenchClient attaches a connected client whose WebSocket upgrade is done, on loop i of bb.
func wsBenchClient(bb *benchBroker, i int, id string) (*client, *wsFakeConn) {
	l := bb.loops[i]
	fc := &wsFakeConn{fakeConn: &fakeConn{el: bb.fls[i]}}
	cl := &client{l: l, c: fc, version: codec.V311, sendQuota: 64}
	cl.t.owner = cl
	fc.SetContext(cl)
	cl.setTransport(transportWS)
	cl.tr.layer.(*wsLayer).state = wsOpen
	cl.attach(l.newSession(id), false)
	return cl, fc
}

// wsPublishPath sets up a WebSocket publisher and n WebSocket subscribers of "a/b" on two in-memory loops and
// returns a function that runs one masked binary frame holding a 64-byte QoS 0 PUBLISH through the publisher's
// read path (deframe in place, codec, match) and flushes every subscriber (one frame header + writev each).
func wsPublishPath(tb testing.TB, n int) (run func(), subs []*wsFakeConn) {
	bb := newBenchBroker(tb, 2)
	for i := 0; i < n; i++ {
		cl, fc := wsBenchClient(bb, i%2, fmt.Sprintf("s%d", i))
		bb.s.index.Subscribe([]byte("a/b"), topic.Subscription{Subscriber: cl.s.subID})
		subs = append(subs, fc)
	}
	pub, pfc := wsBenchClient(bb, 0, "p")
	pk := codec.Publish{Topic: []byte("a/b"), Payload: make([]byte, 64)}
	frame := wstest.Binary(pk.Append(nil, codec.V311))
	frame.Mask = [4]byte{1, 2, 3, 4}
	wire := frame.Append(nil)
	in := make([]byte, len(wire))
	bb.pass() // CONNACKs out
	for _, fc := range append(subs, pfc) {
		fc.written, fc.frames = 0, 0
	}
	return func() {
		copy(in, wire) // deframing unmasks in place, so every run starts from the wire bytes again
		pfc.in = in
		pub.onTraffic()
		bb.pass()
	}, subs
}

// BenchmarkWSPublishPath is the broker's WebSocket hot path in memory: one frame in, 10 frames out (half through
// the other loop's mailbox). ns/op is per publish.
func BenchmarkWSPublishPath(b *testing.B) {
	run, subs := wsPublishPath(b, 10)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		run()
	}
	b.StopTimer()
	if subs[0].frames == 0 || subs[9].frames == 0 {
		b.Fatal("subscribers received nothing")
	}
}
