package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"loopmq/codec"
)

// connect5With is CONNECT, MQTT 5, with the given flags byte extras and properties.
func connect5With(id string, props codec.Properties, mutate func(*codec.Connect)) []byte {
	p := codec.Connect{ProtocolName: []byte("MQTT"), Version: codec.V5, CleanStart: true, KeepAlive: 60,
		ClientID: []byte(id), Props: props}
	if mutate != nil {
		mutate(&p)
	}
	return p.Append(nil, codec.V5)
}

func readDecoded(t *testing.T, c *rawConn) (codec.FixedHeader, []byte) {
	t.Helper()
	p, err := c.readPacket(5 * time.Second)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	h, need, err := codec.Peek(p, 0)
	if err != nil || need != 0 {
		t.Fatalf("peek % x: %v", p, err)
	}
	return h, p[h.Size:h.Len()]
}

func TestShutdownSendsServerShuttingDown(t *testing.T) {
	s := startBroker(t, nil)
	c5 := connected5(t, s, "v5")
	c3 := connected311(t, s, "v3")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	c5.expectClosed([]byte{0xe0, 1, 0x8b})
	c3.expectClosed()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
}

func TestHTTPEndpoints(t *testing.T) {
	s := startBroker(t, func(o *Options) { o.HTTPAddr = "127.0.0.1:0" })
	connected311(t, s, "m")
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + s.HTTPAddr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tt := range []struct{ path, has string }{
		{"/healthz", "ok"},
		{"/readyz", "ready"},
		{"/metrics", "loopmq_clients_connected 1"},
		{"/metrics", `loopmq_transport_connections_total{transport="tcp"} 1`},
		{"/debug/pprof/", "goroutine"},
	} {
		code, body := get(tt.path)
		if code != 200 || !strings.Contains(body, tt.has) {
			t.Fatalf("GET %s: %d, body lacks %q", tt.path, code, tt.has)
		}
	}
}

func TestSysTopics(t *testing.T) {
	s := startBroker(t, func(o *Options) { o.SysInterval = 200 * time.Millisecond })
	c := dialV5(t, s, &paho.Connect{ClientID: "sys", CleanStart: true})
	if _, err := c.Subscribe(ctx5s(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "$SYS/broker/clients/connected"}, {Topic: "#"}}}); err != nil {
		t.Fatal(err)
	}
	// The first message may be the retained value of a tick before this client connected: wait for the count
	// that includes it, then for two more ticks, each of which would also have brought every other $SYS topic had
	// '#' matched them [MQTT-4.7.2-1].
	seen, ones := 0, 0
	for ones < 3 {
		got := c.waitN(t, seen+1)
		for _, p := range got[seen:] {
			if p.Topic != "$SYS/broker/clients/connected" {
				t.Fatalf("'#' matched %q", p.Topic)
			}
			if ones > 0 || string(p.Payload) == "1" {
				ones++
			}
		}
		seen = len(got)
	}
}

func TestWillDelayCancelledByReconnect(t *testing.T) {
	s := startBroker(t, nil)
	w := connected311(t, s, "watch")
	w.send([]byte{0x82, 6, 0, 1, 0, 1, 'w', 0})
	w.expect([]byte{0x90, 3, 0, 1, 0})
	props := codec.Properties{SessionExpiry: 60}
	props.Set(codec.PropSessionExpiry)
	withWill := func(delay uint32) []byte {
		return connect5With("delayed", props, func(p *codec.Connect) {
			p.CleanStart = false
			p.WillFlag, p.WillTopic, p.WillPayload = true, []byte("w"), []byte("bye")
			p.WillProps.WillDelay = delay
			p.WillProps.Set(codec.PropWillDelay)
		})
	}
	// Delay 1 s, reconnect once the broker has seen the connection go (well within the delay): no will.
	c := dialRaw(t, s)
	c.send(withWill(1))
	readDecoded(t, c)
	c.Close()
	waitFor(t, "the broker to see the close", func() bool { return s.connected.Load() == 1 })
	c2 := dialRaw(t, s)
	c2.send(withWill(1))
	h, body := readDecoded(t, c2)
	if h.Type != codec.TypeConnack || body[0] != 1 {
		t.Fatalf("resume CONNACK % x, want session present", body)
	}
	w.expectSilence(1500 * time.Millisecond)
	// Now drop the connection and stay away: the will comes after about 1 s.
	c2.Close()
	start := time.Now()
	w.expect([]byte{0x30, 6, 0, 1, 'w', 'b', 'y', 'e'})
	if d := time.Since(start); d < 800*time.Millisecond {
		t.Fatalf("will after %v, want after the 1 s delay", d)
	}
}

func TestSessionExpiry(t *testing.T) {
	s := startBroker(t, nil)
	props := codec.Properties{SessionExpiry: 1}
	props.Set(codec.PropSessionExpiry)
	conn := func(clean bool) byte {
		c := dialRaw(t, s)
		c.send(connect5With("exp", props, func(p *codec.Connect) { p.CleanStart = clean }))
		_, body := readDecoded(t, c)
		c.Close()
		return body[0]
	}
	conn(true)
	waitFor(t, "the broker to see the close", func() bool { return s.connected.Load() == 0 })
	if sp := conn(false); sp != 1 {
		t.Fatal("session did not survive a short absence")
	}
	time.Sleep(1500 * time.Millisecond)
	if sp := conn(false); sp != 0 {
		t.Fatal("session survived its expiry")
	}
}

func TestClientMaximumPacketSizeAndOutboundAlias(t *testing.T) {
	s := startBroker(t, nil)
	props := codec.Properties{MaximumPacketSize: 40, TopicAliasMaximum: 2}
	props.Set(codec.PropMaximumPacketSize)
	props.Set(codec.PropTopicAliasMaximum)
	c := dialRaw(t, s)
	c.send(connect5With("small", props, nil))
	readDecoded(t, c)
	c.send([]byte{0x82, 0x09, 0, 1, 0, 0, 3, 'a', '/', '#', 0})
	c.expect([]byte{0x90, 4, 0, 1, 0, 0})
	pub := connected311(t, s, "pub")
	pub.send(append([]byte{0x30, 6 + 60, 0, 4, 'a', '/', 'b', 'g'}, make([]byte, 60)...)) // too large for "small": dropped
	pub.send([]byte{0x30, 7, 0, 4, 'a', '/', 'x', 'y', '1'})
	pub.send([]byte{0x30, 7, 0, 4, 'a', '/', 'x', 'y', '2'})
	// First with topic and alias 1, then alias only.
	c.expect([]byte{0x30, 0x0b, 0, 4, 'a', '/', 'x', 'y', 3, 0x23, 0, 1, '1'})
	c.expect([]byte{0x30, 0x07, 0, 0, 3, 0x23, 0, 1, '2'})
}

func TestReceiveMaximumLimitsInflight(t *testing.T) {
	s := startBroker(t, nil)
	props := codec.Properties{ReceiveMaximum: 2}
	props.Set(codec.PropReceiveMaximum)
	c := dialRaw(t, s)
	c.send(connect5With("slow", props, nil))
	readDecoded(t, c)
	c.send([]byte{0x82, 7, 0, 1, 0, 0, 1, 'q', 1})
	c.expect([]byte{0x90, 4, 0, 1, 0, 1})
	pub := connected311(t, s, "pub")
	for i := byte(0); i < 4; i++ {
		pub.send([]byte{0x32, 6, 0, 1, 'q', 0, i + 1, '0' + i})
		pub.expect([]byte{0x40, 2, 0, i + 1})
	}
	c.expect([]byte{0x32, 7, 0, 1, 'q', 0, 1, 0, '0'})
	c.expect([]byte{0x32, 7, 0, 1, 'q', 0, 2, 0, '1'})
	c.expectSilence(300 * time.Millisecond)
	c.send([]byte{0x40, 2, 0, 1})
	c.expect([]byte{0x32, 7, 0, 1, 'q', 0, 3, 0, '2'})
	c.send([]byte{0x40, 2, 0, 2})
	c.expect([]byte{0x32, 7, 0, 1, 'q', 0, 4, 0, '3'})
}

func TestMaxConnectionsAndAuth(t *testing.T) {
	s := startBroker(t, func(o *Options) {
		o.MaxConnections = 1
		o.Authenticator = AuthFunc(func(info *ConnectInfo) AuthResult {
			if string(info.Username) == "bad" {
				return AuthBadCredentials
			}
			return AuthAccepted
		})
	})
	first := dialRaw(t, s)
	first.send([]byte{0x10, 0x12, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x82, 0, 60, 0, 1, 'u', 0, 3, 'b', 'a', 'd'})
	first.expectClosed([]byte{0x20, 2, 0, 4}) // 3.1.1 bad user name or password
	waitFor(t, "the refused connection's slot to be freed", func() bool { return s.openConns.Load() == 0 })
	ok := connected311(t, s, "ok")
	over := dialRaw(t, s)
	over.send(connect5("over"))
	over.expectClosed([]byte{0x20, 3, 0, 0x97, 0})
	ok.send([]byte{0xc0, 0})
	ok.expect([]byte{0xd0, 0})
}

// slowAuth is a BlockingAuthenticator that takes a while and accepts only the user "good".
type slowAuth struct{}

func (slowAuth) Workers() int { return 2 }
func (slowAuth) Authenticate(info *ConnectInfo) AuthResult {
	time.Sleep(50 * time.Millisecond)
	if string(info.Username) == "good" {
		return AuthAccepted
	}
	return AuthNotAuthorized
}

func TestBlockingAuthenticatorOnWorkerPool(t *testing.T) {
	s := startBroker(t, func(o *Options) { o.Authenticator = slowAuth{} })
	good := dialRaw(t, s)
	// CONNECT with user "good", immediately followed by a PINGREQ that must wait for the verdict.
	good.send(append([]byte{0x10, 0x13, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x82, 0, 60, 0, 1, 'g', 0, 4, 'g', 'o', 'o', 'd'}, 0xc0, 0))
	good.expect([]byte{0x20, 2, 0, 0})
	good.expect([]byte{0xd0, 0})
	bad := dialRaw(t, s)
	bad.send([]byte{0x10, 0x12, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x82, 0, 60, 0, 1, 'b', 0, 3, 'b', 'a', 'd'})
	bad.expectClosed([]byte{0x20, 2, 0, 5})
}

// TestManyRetainedFlowControlled subscribes to far more retained bytes than the outbound high-water mark: every
// retained message still arrives (batches wait for the client to read) instead of being dropped.
func TestManyRetainedFlowControlled(t *testing.T) {
	s := startBroker(t, func(o *Options) { o.OutboundHighWater = 64 << 10 })
	pub := connected311(t, s, "pub")
	const n = 2000
	payload := strings.Repeat("r", 500)
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("ret/%04d", i)
		pk := codec.Publish{Topic: []byte(name), Payload: []byte(payload), Retain: true}
		pub.send(pk.Append(nil, codec.V311))
	}
	pub.send([]byte{0xc0, 0})
	pub.expect([]byte{0xd0, 0}) // all retained publishes processed
	sub := connected311(t, s, "sub")
	sub.send([]byte{0x82, 10, 0, 1, 0, 5, 'r', 'e', 't', '/', '#', 0})
	sub.expect([]byte{0x90, 3, 0, 1, 0})
	for i := 0; i < n; i++ {
		p, err := sub.readPacket(5 * time.Second)
		if err != nil {
			t.Fatalf("after %d retained messages: %v", i, err)
		}
		if p[0] != 0x31 {
			t.Fatalf("packet %d: % x", i, p[:8])
		}
		if i%200 == 0 {
			time.Sleep(20 * time.Millisecond) // a client that reads slower than the broker writes
		}
	}
}
