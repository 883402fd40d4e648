package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
	"github.com/gorilla/websocket"

	"loopmq/codec"

	"loopmq/server/layer"
	"loopmq/server/stats"
)

// handshakeLayer is a transport layer for testing the seam: a "GET \n" handshake answered with "OK\n", then
// frames of a 1-byte length and that many bytes inbound, and a 2-byte length header outbound. It hands over one
// frame per call, so MQTT packets split across frames exercise the carry buffer.
type handshakeLayer struct {
	handshook bool
}

func (t *handshakeLayer) Inbound(raw []byte, _ net.Addr, reply *layer.Vec) layer.Result {
	if !t.handshook {
		if len(raw) < 5 {
			return layer.Result{}
		}
		if string(raw[:5]) != "GET \n" {
			return layer.Result{Consumed: len(raw), Close: true, Err: errors.New("bad handshake")}
		}
		t.handshook = true
		from := len(reply.Scratch)
		reply.Scratch = append(reply.Scratch, "OK\n"...)
		reply.Add(from)
		return layer.Result{Consumed: 5}
	}
	if len(raw) == 0 || len(raw) < 1+int(raw[0]) {
		return layer.Result{}
	}
	if raw[0] == 0 {
		return layer.Result{Consumed: 1, Close: true} // a zero-length frame closes
	}
	n := int(raw[0])
	return layer.Result{Consumed: 1 + n, Data: raw[1 : 1+n]}
}

func (t *handshakeLayer) Outbound(out *layer.Vec, data [][]byte) bool {
	n := 0
	for _, b := range data {
		n += len(b)
	}
	from := len(out.Scratch)
	out.Scratch = binary.BigEndian.AppendUint16(out.Scratch, uint16(n))
	out.Add(from)
	out.Bufs = append(out.Bufs, data...)
	return true
}

func (t *handshakeLayer) ClientAddr() net.Addr     { return nil }
func (t *handshakeLayer) Closing(bool, *layer.Vec) {}

func TestTransportLayerSeam(t *testing.T) {
	s := startBroker(t, func(o *Options) {
		o.TCPSniffWS = true // the TCP listener hands "GET " connections to the layer
		o.testHook = func(s *Server) {
			s.layers[transportWS] = func(*client) layer.Layer { return &handshakeLayer{} }
		}
	})
	c := dialRaw(t, s)
	// Handshake, then CONNECT split over three frames, SUBSCRIBE and PUBLISH to itself in one frame.
	conn := connect311("toy", true)
	sub := []byte{0x82, 6, 0, 1, 0, 1, 't', 0}
	pub := []byte{0x30, 5, 0, 1, 't', 'h', 'i'}
	var in []byte
	in = append(in, "GET \n"...)
	for _, part := range [][]byte{conn[:3], conn[3:9], conn[9:], append(sub, pub...)} {
		in = append(in, byte(len(part)))
		in = append(in, part...)
	}
	for _, b := range in { // one byte per write: every boundary is split
		c.send([]byte{b})
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	hs := make([]byte, 3)
	if _, err := io.ReadFull(c, hs); err != nil || string(hs) != "OK\n" {
		t.Fatalf("handshake reply %q, %v", hs, err)
	}
	want := [][]byte{{0x20, 2, 0, 0}, {0x90, 3, 0, 1, 0}, pub}
	var got []byte
	for len(got) < 4+5+7 {
		var hdr [2]byte
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			t.Fatalf("frame header: %v (have % x)", err, got)
		}
		body := make([]byte, binary.BigEndian.Uint16(hdr[:]))
		if _, err := io.ReadFull(c, body); err != nil {
			t.Fatal(err)
		}
		got = append(got, body...)
	}
	if !bytes.Equal(got, bytes.Join(want, nil)) {
		t.Fatalf("MQTT bytes through the layer: % x", got)
	}
	c.send([]byte{0})
	c.expectClosed()
}

// xorKey is what xorLayer mixes into every byte.
const xorKey = 0x5a

// xorLayer is a transforming layer like TLS in miniature: records of a 1-byte length and that many bytes, each
// XORed with xorKey, in both directions. Inbound it decodes every complete record in place (so the bytes it hands
// up are a view into raw); outbound it must rewrite the data, so it builds its records in the scratch buffer.
type xorLayer struct {
	records atomic.Int64 // inbound records decoded, to prove the bytes went through this layer
}

func (x *xorLayer) Inbound(raw []byte, _ net.Addr, _ *layer.Vec) layer.Result {
	n, p := 0, 0
	for p < len(raw) && p+1+int(raw[p]) <= len(raw) {
		size := int(raw[p])
		for i, b := range raw[p+1 : p+1+size] {
			raw[n+i] = b ^ xorKey
		}
		n += size
		p += 1 + size
		x.records.Add(1)
	}
	return layer.Result{Consumed: p, Data: raw[:n]}
}

func (x *xorLayer) Outbound(out *layer.Vec, data [][]byte) bool {
	from := len(out.Scratch)
	out.Scratch = xorEncode(out.Scratch, data...)
	out.Add(from)
	return true
}

func (x *xorLayer) Closing(bool, *layer.Vec) {}
func (x *xorLayer) ClientAddr() net.Addr     { return nil }

// xorEncode appends the records carrying data to dst, at most 255 bytes each.
func xorEncode(dst []byte, data ...[]byte) []byte {
	for _, b := range data {
		for len(b) > 0 {
			k := min(len(b), 255)
			dst = append(dst, byte(k))
			for _, c := range b[:k] {
				dst = append(dst, c^xorKey)
			}
			b = b[k:]
		}
	}
	return dst
}

// xorConn is the client side of xorLayer around a real connection. It is a sync.Locker: paho.golang then holds
// it around the several Writes of one packet, so packets written from different goroutines do not interleave.
type xorConn struct {
	net.Conn
	sync.Mutex
	pending []byte // decoded bytes not yet read
	raw     []byte // received bytes of an incomplete record
}

func (c *xorConn) Write(p []byte) (int, error) {
	if _, err := c.Conn.Write(xorEncode(nil, p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *xorConn) Read(p []byte) (int, error) {
	buf := make([]byte, 4096)
	for len(c.pending) == 0 {
		n, err := c.Conn.Read(buf)
		c.raw = append(c.raw, buf[:n]...)
		for len(c.raw) > 0 && len(c.raw) >= 1+int(c.raw[0]) {
			size := int(c.raw[0])
			for _, b := range c.raw[1 : 1+size] {
				c.pending = append(c.pending, b^xorKey)
			}
			c.raw = c.raw[1+size:]
		}
		if len(c.pending) == 0 && err != nil {
			return 0, err
		}
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

func dialXor(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &xorConn{Conn: c}, nil
}

// xorLayers plugs xorLayer in under the transport t and returns the layers it made, to count their records.
func xorLayers(s *Server, t uint8) func() []*xorLayer {
	var mu sync.Mutex
	var made []*xorLayer
	above := s.layers[t]
	s.layers[t] = func(cl *client) layer.Layer {
		x := &xorLayer{}
		mu.Lock()
		made = append(made, x)
		mu.Unlock()
		if above == nil {
			return x
		}
		return layer.Stack(x, above(cl))
	}
	return func() []*xorLayer {
		mu.Lock()
		defer mu.Unlock()
		return append([]*xorLayer(nil), made...)
	}
}

// exchangeV5 publishes QoS 0, 1 and 2 messages of several sizes (up to many records and WebSocket frames) from pub
// to sub, which subscribed to "x/#", and checks they all arrive intact and in order per QoS.
func exchangeV5(t *testing.T, pub *paho.Client, arrived <-chan *paho.Publish) {
	t.Helper()
	sizes := []int{0, 1, 200, 255, 256, 4000, 70000}
	want := map[string][]byte{}
	for qos := byte(0); qos <= 2; qos++ {
		for i, size := range sizes {
			topic := fmt.Sprintf("x/%d/%d", qos, i)
			want[topic] = wsPayload(int(qos)*10+i, size)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := pub.Publish(ctx, &paho.Publish{Topic: topic, QoS: qos, Payload: want[topic]})
			cancel()
			if err != nil {
				t.Fatalf("publish %s: %v", topic, err)
			}
		}
	}
	deadline := time.After(20 * time.Second)
	for len(want) > 0 {
		select {
		case p := <-arrived:
			w, ok := want[p.Topic]
			if !ok {
				t.Fatalf("unexpected or duplicate message on %q", p.Topic)
			}
			if !bytes.Equal(p.Payload, w) {
				t.Fatalf("%s: payload of %d bytes differs from the %d sent", p.Topic, len(p.Payload), len(w))
			}
			delete(want, p.Topic)
		case <-deadline:
			t.Fatalf("%d messages never arrived", len(want))
		}
	}
}

// v5Over connects a paho.golang client over conn and subscribes it to "x/#" when arrived is not nil.
func v5Over(t *testing.T, conn net.Conn, id string, arrived chan *paho.Publish) *paho.Client {
	t.Helper()
	cfg := paho.ClientConfig{ClientID: id, Conn: conn}
	if arrived != nil {
		cfg.OnPublishReceived = []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			arrived <- pr.Packet
			return true, nil
		}}
	}
	c := paho.NewClient(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ca, err := c.Connect(ctx, &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30})
	if err != nil || ca.ReasonCode != 0 {
		t.Fatalf("connect %s: %v %+v", id, err, ca)
	}
	t.Cleanup(func() { c.Disconnect(&paho.Disconnect{}) })
	if arrived != nil {
		if _, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "x/#", QoS: 2}}}); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// TestLayerUnderMQTT stacks a transforming layer under plain MQTT on the TCP listener, without touching the session
// core, and runs paho.golang clients through it: the layer path (carry buffer, outbound through the layer) carries
// real traffic.
func TestLayerUnderMQTT(t *testing.T) {
	var made func() []*xorLayer
	s := startBroker(t, func(o *Options) {
		o.MaxPacketSize = 1 << 20
		o.testHook = func(s *Server) { made = xorLayers(s, transportTCP) }
	})
	arrived := make(chan *paho.Publish, 100)
	dial := func() net.Conn {
		c, err := dialXor(context.Background(), s.TCPAddr())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	v5Over(t, dial(), "xsub", arrived)
	pub := v5Over(t, dial(), "xpub", nil)
	exchangeV5(t, pub, arrived)
	layers := made()
	if len(layers) != 2 {
		t.Fatalf("%d xor layers made, want one per connection (2)", len(layers))
	}
	for _, x := range layers {
		if x.records.Load() == 0 {
			t.Fatal("a connection's bytes did not go through its xor layer")
		}
	}
	// Metrics go by transport name, not by whether a connection has layers: all of this was TCP. Packet counts
	// are published by each loop's tick, so wait for them.
	deadline := time.Now().Add(10 * time.Second)
	for {
		sn := s.stats()
		if sn.TransportPackets(stats.In, stats.WS) != 0 || sn.WSBytesIn != 0 || sn.WSBytesOut != 0 {
			t.Fatalf("counted as WebSocket: %d packets, %d/%d bytes", sn.TransportPackets(stats.In, stats.WS),
				sn.WSBytesIn, sn.WSBytesOut)
		}
		if sn.TransportPackets(stats.In, stats.TCP) >= 3*7 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d packets counted as TCP, want at least the 21 publishes", sn.TransportPackets(stats.In, stats.TCP))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLayerUnderWebSocket stacks the same layer under WebSocket (xor → WebSocket → MQTT) and runs a paho.golang
// client over ws:// through it, plus a gorilla client for what paho does not send: WebSocket pings and the closing
// handshake, whose answers must go back down through the xor layer.
func TestLayerUnderWebSocket(t *testing.T) {
	var made func() []*xorLayer
	s := startWSBroker(t, func(o *Options) {
		o.MaxPacketSize = 1 << 20
		o.WSAcceptMQTT = false // xor bytes never start with "GET ": this listener must not sniff
		o.testHook = func(s *Server) { made = xorLayers(s, transportWS) }
	})
	arrived := make(chan *paho.Publish, 100)
	tcpSub, err := net.DialTimeout("tcp", s.TCPAddr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	v5Over(t, tcpSub, "tcpsub", arrived)

	dialer := func(*url.URL, *tls.Config) *websocket.Dialer {
		return &websocket.Dialer{NetDialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			return dialXor(ctx, addr)
		}, Subprotocols: []string{"mqtt"}, HandshakeTimeout: 5 * time.Second}
	}
	u, _ := url.Parse("ws://" + s.WSAddr() + "/mqtt")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cm, err := autopaho.NewConnection(ctx, autopaho.ClientConfig{
		ServerUrls: []*url.URL{u}, KeepAlive: 30, CleanStartOnInitialConnection: true,
		ConnectTimeout: 5 * time.Second, ConnectRetryDelay: time.Second,
		WebSocketCfg: &autopaho.WebSocketConfig{Dialer: dialer},
		ClientConfig: paho.ClientConfig{ClientID: "xws"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cm.Disconnect(context.Background())
	if err := cm.AwaitConnection(ctx); err != nil {
		t.Fatal(err)
	}
	sizes := []int{0, 300, 70000}
	for qos := byte(0); qos <= 2; qos++ {
		for i, size := range sizes {
			if _, err := cm.Publish(ctx, &paho.Publish{Topic: fmt.Sprintf("x/%d/%d", qos, i), QoS: qos,
				Payload: wsPayload(int(qos)*10+i, size)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for n := 0; n < 3*len(sizes); n++ {
		select {
		case p := <-arrived:
			var qos, i int
			fmt.Sscanf(p.Topic, "x/%d/%d", &qos, &i)
			if !bytes.Equal(p.Payload, wsPayload(qos*10+i, sizes[i])) {
				t.Fatalf("%s: payload differs", p.Topic)
			}
		case <-ctx.Done():
			t.Fatalf("%d of %d messages arrived", n, 3*len(sizes))
		}
	}

	// Gorilla over the xor layer: CONNECT, a ping answered by a pong, and the close handshake.
	wc, _, err := dialer(nil, nil).Dial("ws://"+s.WSAddr()+"/mqtt", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer wc.Close()
	pongs := make(chan string, 1)
	wc.SetPongHandler(func(s string) error { pongs <- s; return nil })
	wc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := wc.WriteMessage(websocket.BinaryMessage, connect311("xg", true)); err != nil {
		t.Fatal(err)
	}
	if err := wc.WriteControl(websocket.PingMessage, []byte("hi"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, p, err := wc.ReadMessage(); err != nil || !bytes.Equal(p, connack) {
		t.Fatalf("CONNACK % x, %v", p, err)
	}
	if err := wc.WriteMessage(websocket.BinaryMessage, pingreq); err != nil { // the pong is read on the way
		t.Fatal(err)
	}
	if _, p, err := wc.ReadMessage(); err != nil || !bytes.Equal(p, pingres) {
		t.Fatalf("PINGRESP % x, %v", p, err)
	}
	select {
	case p := <-pongs:
		if p != "hi" {
			t.Fatalf("pong %q", p)
		}
	default:
		t.Fatal("no pong before the PINGRESP")
	}
	if err := wc.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(4001, "bye")); err != nil {
		t.Fatal(err)
	}
	_, _, err = wc.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 4001 {
		t.Fatalf("close echo: %v", err)
	}
	for _, x := range made() {
		if x.records.Load() == 0 {
			t.Fatal("a WebSocket connection's bytes did not go through its xor layer")
		}
	}
	if n := len(made()); n < 2 {
		t.Fatalf("%d xor layers made, want one per WebSocket connection (2)", n)
	}
}

func TestSniffTransport(t *testing.T) {
	tests := []struct {
		in        string
		transport uint8
		decided   bool
	}{
		{"", transportSniff, false},
		{"G", transportSniff, false},
		{"GE", transportSniff, false},
		{"GET", transportSniff, false},
		{"GET ", transportWS, true},
		{"GET /mqtt HTTP/1.1\r\n", transportWS, true},
		{"\x10\x0c\x00\x04MQTT", transportTCP, true},
		{"GEX", transportTCP, true},
		{"POST /", transportTCP, true},
	}
	for _, tt := range tests {
		got, decided := sniffTransport([]byte(tt.in))
		if got != tt.transport || decided != tt.decided {
			t.Errorf("%q: transport %d decided %v, want %d %v", tt.in, got, decided, tt.transport, tt.decided)
		}
	}
}

// TestXorLayerSplits runs QoS 0 and 1 PUBLISH packets of many sizes through an xor layer under MQTT, in memory, cut
// into random reads, and checks a subscriber gets every payload intact: the carry buffer and the layer path keep the
// byte stream whole at every split.
func TestXorLayerSplits(t *testing.T) {
	bb := newBenchBroker(t, 2)
	var got []byte
	watcher, wfc := bb.client(1, "watcher", codec.V311)
	wfc.onWrite = func(p []byte) { got = append(got, p...) }
	bb.s.index.Subscribe([]byte("#"), topicSubscription{Subscriber: watcher.s.subID}) // at most QoS 0
	pub, pfc := bb.client(0, "pub", codec.V311)
	pub.tr = &transportState{layer: &xorLayer{}}
	bb.pass()
	got = got[:0] // the CONNACKs
	rng := rand.New(rand.NewPCG(1, 2))
	var wire, want []byte
	for i := range 300 {
		size := []int{0, 1, 100, 254, 255, 256, 1000, 5000, 70000}[i%9]
		p := codec.Publish{Topic: []byte("t"), Payload: wsPayload(i, size)}
		if i%2 == 1 {
			p.QoS, p.PacketID = 1, uint16(i)
		}
		wire = xorEncode(wire, p.Append(nil, codec.V311))
		want = (&codec.Publish{Topic: []byte("t"), Payload: p.Payload}).Append(want, codec.V311)
	}
	for len(wire) > 0 {
		k := min(len(wire), 1+rng.IntN(3000))
		pfc.in = append(pfc.in, wire[:k]...)
		wire = wire[k:]
		pub.onTraffic()
		bb.pass()
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("subscriber got %d bytes, want %d; first difference at %d (% x / % x)", len(got), len(want), firstDiff(got, want), got[:min(16, len(got))], want[:16])
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
