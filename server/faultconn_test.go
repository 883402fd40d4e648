package server

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/eclipse/paho.golang/paho/session/state"
	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// faultConn wraps a real client's connection to the broker. It can hold back (drop) chosen packet types in
// either direction, records every packet that crosses it, and can lose the connection abruptly (TCP reset, no
// DISCONNECT), so tests drive the paths where a broker loses data with unmodified client libraries.
type faultConn struct {
	net.Conn
	lost atomic.Bool

	mu      sync.Mutex
	dropOut [16]bool // packet types the client writes that never reach the broker
	dropIn  [16]bool // packet types the broker writes that never reach the client
	seen    []pktEvent
	changed chan struct{} // closed and replaced whenever seen grows

	wbuf []byte // client bytes not yet forming a whole packet

	rmu  sync.Mutex
	rraw []byte // broker bytes not yet forming a whole packet
	rout []byte // broker bytes passed on to the client, not yet read
}

// MQTT control packet types, as faultConn records them.
const (
	pktConnect byte = 1
	pktPublish byte = 3
	pktPuback  byte = 4
	pktPubrec  byte = 5
	pktPubrel  byte = 6
	pktPubcomp byte = 7
)

// pktEvent is one packet seen by a faultConn.
type pktEvent struct {
	in      bool // from the broker
	typ     byte
	dup     bool
	id      uint16 // packet identifier of PUBLISH QoS 1/2 and PUBACK..PUBCOMP, else 0
	dropped bool
}

func (e pktEvent) String() string {
	dir := "client->broker"
	if e.in {
		dir = "broker->client"
	}
	return fmt.Sprintf("%s type %d id %d dup %v dropped %v", dir, e.typ, e.id, e.dup, e.dropped)
}

func newFaultConn(c net.Conn) *faultConn {
	return &faultConn{Conn: c, changed: make(chan struct{})}
}

// dialFault opens a TCP connection to s wrapped in a faultConn.
func dialFault(t testing.TB, s *Server) *faultConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.TCPAddr(), patience)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	fc := newFaultConn(c)
	t.Cleanup(func() { c.Close() })
	return fc
}

// holdOut makes the packet types the client writes vanish on the way to the broker (or pass again, hold false).
func (c *faultConn) holdOut(hold bool, types ...byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range types {
		c.dropOut[t] = hold
	}
}

// holdIn makes the packet types the broker writes vanish on the way to the client.
func (c *faultConn) holdIn(hold bool, types ...byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range types {
		c.dropIn[t] = hold
	}
}

// errLost is what the client reads and writes after lose: a network failure, not a local close (which
// paho.mqtt.golang takes for its own disconnect and does not report).
var errLost = &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}

// lose ends the connection abruptly: a TCP reset, no DISCONNECT.
func (c *faultConn) lose() {
	c.lost.Store(true)
	if tc, ok := c.Conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Conn.Close()
}

// record notes a packet; c.mu is held.
func (c *faultConn) record(e pktEvent) {
	c.seen = append(c.seen, e)
	close(c.changed)
	c.changed = make(chan struct{})
}

// count returns how many recorded packets match.
func (c *faultConn) count(match func(pktEvent) bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, e := range c.seen {
		if match(e) {
			n++
		}
	}
	return n
}

// waitCount waits until at least n recorded packets match, failing the test after a generous deadline.
func (c *faultConn) waitCount(t testing.TB, what string, n int, match func(pktEvent) bool) {
	t.Helper()
	deadline := time.After(patience)
	for {
		c.mu.Lock()
		got := 0
		for _, e := range c.seen {
			if match(e) {
				got++
			}
		}
		ch := c.changed
		seen := append([]pktEvent(nil), c.seen...)
		c.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("waiting for %d× %s: saw %d; all packets: %v", n, what, got, seen)
		}
	}
}

// isPkt matches packets of one type and direction, with packet id id (any id if id is 0).
func isPkt(in bool, typ byte, id uint16) func(pktEvent) bool {
	return func(e pktEvent) bool { return e.in == in && e.typ == typ && (id == 0 || e.id == id) }
}

// splitPacket returns the length of the first whole MQTT packet in b, or 0.
func splitPacket(b []byte) int {
	n, mul := 0, 1
	for i := 1; i < 5; i++ {
		if i >= len(b) {
			return 0
		}
		n += int(b[i]&0x7f) * mul
		mul <<= 7
		if b[i] < 0x80 {
			if len(b) < i+1+n {
				return 0
			}
			return i + 1 + n
		}
	}
	return 0
}

// describePacket decodes the parts of a whole packet the tests look at.
func describePacket(p []byte, in bool) pktEvent {
	e := pktEvent{in: in, typ: p[0] >> 4}
	body := p[1:]
	for len(body) > 0 && body[0] >= 0x80 {
		body = body[1:]
	}
	body = body[1:]
	switch e.typ {
	case pktPublish:
		e.dup = p[0]&0x08 != 0
		if p[0]&0x06 != 0 && len(body) >= 2 {
			tl := int(body[0])<<8 | int(body[1])
			if len(body) >= 4+tl {
				e.id = uint16(body[2+tl])<<8 | uint16(body[3+tl])
			}
		}
	case pktPuback, pktPubrec, pktPubrel, pktPubcomp:
		if len(body) >= 2 {
			e.id = uint16(body[0])<<8 | uint16(body[1])
		}
	}
	return e
}

// Write passes the client's packets to the broker, whole, except the ones held back.
func (c *faultConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wbuf = append(c.wbuf, b...)
	for {
		n := splitPacket(c.wbuf)
		if n == 0 {
			break
		}
		p := c.wbuf[:n]
		e := describePacket(p, false)
		e.dropped = c.dropOut[e.typ]
		if !e.dropped {
			if _, err := c.Conn.Write(p); err != nil {
				c.wbuf = c.wbuf[:0]
				if c.lost.Load() {
					err = errLost
				}
				return 0, err
			}
		}
		c.record(e)
		c.wbuf = c.wbuf[n:]
	}
	if len(c.wbuf) == 0 {
		c.wbuf = nil
	}
	return len(b), nil
}

// Read passes the broker's packets to the client, except the ones held back.
func (c *faultConn) Read(b []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for len(c.rout) == 0 {
		var buf [4096]byte
		n, err := c.Conn.Read(buf[:])
		c.rraw = append(c.rraw, buf[:n]...)
		for {
			m := splitPacket(c.rraw)
			if m == 0 {
				break
			}
			p := c.rraw[:m]
			c.mu.Lock()
			e := describePacket(p, true)
			e.dropped = c.dropIn[e.typ]
			c.record(e)
			c.mu.Unlock()
			if !e.dropped {
				c.rout = append(c.rout, p...)
			}
			c.rraw = c.rraw[m:]
		}
		if err != nil && len(c.rout) == 0 {
			if c.lost.Load() {
				err = errLost
			}
			return 0, err
		}
	}
	n := copy(b, c.rout)
	c.rout = c.rout[n:]
	return n, nil
}

// v5held is a paho.golang (MQTT 5) client over a faultConn, acknowledging received messages only when the test
// says so (ClientConfig.EnableManualAcknowledgment). Its session state can be handed to the next connection.
type v5held struct {
	*paho.Client
	fc      *faultConn
	connack *paho.Connack
	mu      sync.Mutex
	got     []*paho.Publish
	changed chan struct{}
}

// dialV5Held connects a manual-ack paho.golang client using session state st (shared by the connections of one
// client id, as a real application resuming its session does; nil: a fresh one).
func dialV5Held(t testing.TB, s *Server, st *state.State, cp *paho.Connect) *v5held {
	t.Helper()
	fc := dialFault(t, s)
	c := &v5held{fc: fc, changed: make(chan struct{})}
	cfg := paho.ClientConfig{
		ClientID:                   cp.ClientID,
		Conn:                       fc,
		EnableManualAcknowledgment: true,
		SendAcksInterval:           5 * time.Millisecond,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			c.mu.Lock()
			c.got = append(c.got, pr.Packet)
			close(c.changed)
			c.changed = make(chan struct{})
			c.mu.Unlock()
			return true, nil
		}},
		OnClientError:      func(error) {},
		OnServerDisconnect: func(*paho.Disconnect) {},
	}
	if st != nil {
		cfg.Session = st
	}
	c.Client = paho.NewClient(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	ca, err := c.Connect(ctx, cp)
	if err != nil {
		t.Fatalf("connect %q: %v", cp.ClientID, err)
	}
	c.connack = ca
	t.Cleanup(func() {
		c.Disconnect(&paho.Disconnect{})
		<-c.Done()
	})
	return c
}

// waitFor waits until the client has received n messages carrying payload and returns them.
func (c *v5held) waitFor(t testing.TB, payload string, n int) []*paho.Publish {
	t.Helper()
	deadline := time.After(patience)
	for {
		c.mu.Lock()
		var got []*paho.Publish
		for _, p := range c.got {
			if string(p.Payload) == payload {
				got = append(got, p)
			}
		}
		ch := c.changed
		c.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("%q received %d times, want %d", payload, len(got), n)
		}
	}
}

// received returns how many messages carrying payload arrived.
func (c *v5held) received(payload string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, p := range c.got {
		if string(p.Payload) == payload {
			n++
		}
	}
	return n
}

// ack acknowledges p (PUBACK or PUBREC), failing the test on error.
func (c *v5held) ack(t testing.TB, p *paho.Publish) {
	t.Helper()
	if err := c.Ack(p); err != nil {
		t.Fatalf("ack %q: %v", p.Payload, err)
	}
}

// lose ends the connection abruptly and waits for the client to wind down, so its session state may move to
// the next connection.
func (c *v5held) lose(t testing.TB) {
	t.Helper()
	c.fc.lose()
	select {
	case <-c.Done():
	case <-time.After(patience):
		t.Fatal("paho client did not notice the lost connection")
	}
}

// v3held is a paho.mqtt.golang (MQTT 3.1.1) client with automatic acknowledgements off and each connection
// wrapped in a faultConn; Connect may be called again after a loss to resume the session.
type v3held struct {
	mqtt.Client
	mu      sync.Mutex
	fc      *faultConn
	got     []mqtt.Message
	changed chan struct{}
	lost    chan struct{}
}

func newV3Held(t testing.TB, s *Server, id string, clean bool) *v3held {
	c := &v3held{changed: make(chan struct{}), lost: make(chan struct{}, 4)}
	o := mqtt.NewClientOptions().AddBroker("tcp://" + s.TCPAddr()).SetClientID(id).SetCleanSession(clean).
		SetAutoReconnect(false).SetConnectRetry(false).SetProtocolVersion(4).SetKeepAlive(60 * time.Second).
		SetAutoAckDisabled(true).SetConnectTimeout(patience).
		SetCustomOpenConnectionFn(func(*url.URL, mqtt.ClientOptions) (net.Conn, error) {
			nc, err := net.DialTimeout("tcp", s.TCPAddr(), patience)
			if err != nil {
				return nil, err
			}
			fc := newFaultConn(nc)
			c.mu.Lock()
			c.fc = fc
			c.mu.Unlock()
			return fc, nil
		}).
		SetConnectionLostHandler(func(mqtt.Client, error) { c.lost <- struct{}{} }).
		SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) {
			c.mu.Lock()
			c.got = append(c.got, m)
			close(c.changed)
			c.changed = make(chan struct{})
			c.mu.Unlock()
		})
	c.Client = mqtt.NewClient(o)
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

// connect connects (or reconnects) and returns whether the broker reported a present session.
func (c *v3held) connect(t testing.TB) bool {
	t.Helper()
	tok := c.Connect()
	if !tok.WaitTimeout(patience) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	return tok.(*mqtt.ConnectToken).SessionPresent()
}

func (c *v3held) conn() *faultConn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fc
}

func (c *v3held) waitFor(t testing.TB, payload string, n int) []mqtt.Message {
	t.Helper()
	deadline := time.After(patience)
	for {
		c.mu.Lock()
		var got []mqtt.Message
		for _, m := range c.got {
			if string(m.Payload()) == payload {
				got = append(got, m)
			}
		}
		ch := c.changed
		c.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("%q received %d times, want %d", payload, len(got), n)
		}
	}
}

func (c *v3held) received(payload string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, m := range c.got {
		if string(m.Payload()) == payload {
			n++
		}
	}
	return n
}

// lose ends the connection abruptly and waits until paho reports the loss.
func (c *v3held) lose(t testing.TB) {
	t.Helper()
	c.conn().lose()
	select {
	case <-c.lost:
	case <-time.After(patience):
		t.Fatal("paho.mqtt.golang did not report the lost connection")
	}
}

// patience is how long the real-client tests wait for an event: the machine may be loaded and -race is slow, so
// only a broken broker should ever reach it.
const patience = 20 * time.Second

// ctxPatient is a context for one paho.golang call.
func ctxPatient(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	t.Cleanup(cancel)
	return ctx
}

// waitTok waits for a paho.mqtt.golang token and fails the test on error.
func waitTok(t testing.TB, tok mqtt.Token) {
	t.Helper()
	if !tok.WaitTimeout(patience) || tok.Error() != nil {
		t.Fatalf("token: %v", tok.Error())
	}
}

// dialV5Patient is dialV5 with patient timeouts.
func dialV5Patient(t testing.TB, s *Server, cp *paho.Connect) *v5client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", s.TCPAddr(), patience)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	vc := &v5client{arrived: make(chan struct{}, 1000), serverDC: make(chan *paho.Disconnect, 1)}
	vc.Client = paho.NewClient(paho.ClientConfig{
		ClientID: cp.ClientID,
		Conn:     conn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			vc.mu.Lock()
			vc.got = append(vc.got, pr.Packet)
			vc.mu.Unlock()
			select {
			case vc.arrived <- struct{}{}:
			default:
			}
			return true, nil
		}},
		OnServerDisconnect: func(d *paho.Disconnect) {
			select {
			case vc.serverDC <- d:
			default:
			}
		},
		OnClientError: func(error) {},
	})
	ca, err := vc.Connect(ctxPatient(t), cp)
	if err != nil {
		conn.Close()
		t.Fatalf("connect %q: %v", cp.ClientID, err)
	}
	vc.connack = ca
	t.Cleanup(func() {
		vc.Disconnect(&paho.Disconnect{})
		<-vc.Done()
	})
	return vc
}

// waitPatient waits until c has received at least n messages and returns them.
func (c *v5client) waitPatient(t testing.TB, n int) []*paho.Publish {
	t.Helper()
	deadline := time.After(patience)
	for {
		c.mu.Lock()
		if len(c.got) >= n {
			got := append([]*paho.Publish(nil), c.got...)
			c.mu.Unlock()
			return got
		}
		c.mu.Unlock()
		select {
		case <-c.arrived:
		case <-deadline:
			t.Fatalf("got %d messages, want %d", c.count(), n)
		}
	}
}

// dialV3Patient is dialV3 (persistent session unless clean) with patient timeouts.
func dialV3Patient(t testing.TB, s *Server, id string, clean bool) *v3client {
	t.Helper()
	vc := &v3client{}
	o := mqtt.NewClientOptions().AddBroker("tcp://" + s.TCPAddr()).SetClientID(id).SetCleanSession(clean).
		SetAutoReconnect(false).SetProtocolVersion(4).SetKeepAlive(60 * time.Second).SetConnectTimeout(patience).
		SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) {
			vc.mu.Lock()
			vc.got = append(vc.got, m)
			vc.mu.Unlock()
		})
	vc.Client = mqtt.NewClient(o)
	waitTok(t, vc.Connect())
	t.Cleanup(func() { vc.Disconnect(0) })
	return vc
}

// waitPatient waits until c has received at least n messages and returns them.
func (c *v3client) waitPatient(t testing.TB, n int) []mqtt.Message {
	t.Helper()
	deadline := time.Now().Add(patience)
	for {
		c.mu.Lock()
		if len(c.got) >= n {
			got := append([]mqtt.Message(nil), c.got...)
			c.mu.Unlock()
			return got
		}
		have := len(c.got)
		c.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("got %d messages, want %d", have, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
