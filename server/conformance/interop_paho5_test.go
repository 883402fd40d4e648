package conformance_test

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
	"github.com/eclipse/paho.golang/paho/log"
	"github.com/eclipse/paho.golang/paho/session/state"
)

// paho5 is a paho.golang client with its received messages on a channel.
type paho5 struct {
	*paho.Client
	msgs         chan *paho.Publish
	disconnected chan *paho.Disconnect
	connack      *paho.Connack
}

type paho5Opts struct {
	clean     bool
	expiry    uint32
	keepAlive uint16
	session   *state.State
	will      *paho.WillMessage
	pinger    paho.Pinger
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newPaho5 connects a paho.golang client; the connection is closed in t.Cleanup.
func newPaho5(t testing.TB, addr, id string, o paho5Opts) *paho5 {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &paho5{msgs: make(chan *paho.Publish, 1000), disconnected: make(chan *paho.Disconnect, 1)}
	cfg := paho.ClientConfig{
		ClientID: id,
		Conn:     conn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			c.msgs <- pr.Packet
			return true, nil
		}},
		OnServerDisconnect: func(d *paho.Disconnect) { c.disconnected <- d },
		OnClientError:      func(error) {},
		PingHandler:        o.pinger,
	}
	if o.session != nil {
		cfg.Session = o.session
	}
	c.Client = paho.NewClient(cfg)
	ka := o.keepAlive
	if ka == 0 {
		ka = 30
	}
	props := &paho.ConnectProperties{SessionExpiryInterval: &o.expiry}
	ca, err := c.Connect(ctxT(t), &paho.Connect{ClientID: id, CleanStart: o.clean, KeepAlive: ka, Properties: props,
		WillMessage: o.will})
	if err != nil {
		t.Fatalf("paho %s: connect: %v", id, err)
	}
	if ca.ReasonCode != 0 {
		t.Fatalf("paho %s: CONNACK reason 0x%02x", id, ca.ReasonCode)
	}
	c.connack = ca
	return c
}

func (c *paho5) sub(t testing.TB, filter string, qos byte) {
	t.Helper()
	sa, err := c.Subscribe(ctxT(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: qos}}})
	if err != nil {
		t.Fatalf("subscribe %s: %v", filter, err)
	}
	if len(sa.Reasons) != 1 || sa.Reasons[0] != qos {
		t.Fatalf("subscribe %s: SUBACK reasons %v, want [%d]", filter, sa.Reasons, qos)
	}
}

func (c *paho5) pub(t testing.TB, p *paho.Publish) {
	t.Helper()
	if _, err := c.Publish(ctxT(t), p); err != nil {
		t.Fatalf("publish %s: %v", p.Topic, err)
	}
}

func (c *paho5) next(t testing.TB) *paho.Publish {
	t.Helper()
	select {
	case m := <-c.msgs:
		return m
	case <-time.After(wait):
		t.Fatalf("paho: no message within %v", wait)
		return nil
	}
}

func (c *paho5) none(t testing.TB) {
	t.Helper()
	select {
	case m := <-c.msgs:
		t.Fatalf("paho: unexpected message %s %q", m.Topic, m.Payload)
	case <-time.After(quiet):
	}
}

func TestInteropPaho5_AllQoSBothWays(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	sub := newPaho5(t, b.addr, "p5-sub", paho5Opts{clean: true})
	pub := newPaho5(t, b.addr, "p5-pub", paho5Opts{clean: true})
	for subQoS := byte(0); subQoS <= 2; subQoS++ {
		topic := fmt.Sprint("p5/q", subQoS)
		sub.sub(t, topic, subQoS)
		for pubQoS := byte(0); pubQoS <= 2; pubQoS++ {
			payload := fmt.Sprintf("sub %d pub %d", subQoS, pubQoS)
			pub.pub(t, &paho.Publish{Topic: topic, QoS: pubQoS, Payload: []byte(payload)})
			m := sub.next(t)
			if string(m.Payload) != payload || m.QoS != min(subQoS, pubQoS) || m.Topic != topic {
				t.Fatalf("got %s QoS %d %q, want %s QoS %d %q", m.Topic, m.QoS, m.Payload, topic,
					min(subQoS, pubQoS), payload)
			}
		}
	}
}

func TestInteropPaho5_RetainedAndWill(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	pub := newPaho5(t, b.addr, "p5-ret", paho5Opts{clean: true})
	pub.pub(t, &paho.Publish{Topic: "p5/retained", QoS: 1, Retain: true, Payload: []byte("kept")})
	late := newPaho5(t, b.addr, "p5-late", paho5Opts{clean: true})
	late.sub(t, "p5/retained", 1)
	if m := late.next(t); !m.Retain || string(m.Payload) != "kept" {
		t.Fatalf("retained: got retain=%v %q", m.Retain, m.Payload)
	}

	watcher := newPaho5(t, b.addr, "p5-watch", paho5Opts{clean: true})
	watcher.sub(t, "p5/will", 1)
	// paho.golang v0.23.0 encodes will properties as an empty block, so they are tested with raw bytes
	// (TestWill_v5_WillPropertiesForwarded) rather than here.
	dying := newPaho5(t, b.addr, "p5-dying", paho5Opts{clean: true,
		will: &paho.WillMessage{Topic: "p5/will", QoS: 1, Payload: []byte("gone")}})
	dying.TerminateConnectionForTest()
	if m := watcher.next(t); string(m.Payload) != "gone" || m.QoS != 1 {
		t.Fatalf("will: got %q QoS %d", m.Payload, m.QoS)
	}
}

func TestInteropPaho5_PersistentSessionResumeWithQueuedMessages(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	st := state.NewInMemory()
	s := newPaho5(t, b.addr, "p5-persist", paho5Opts{clean: true, expiry: 60, session: st})
	s.sub(t, "p5/persist", 2)
	if err := s.Disconnect(&paho.Disconnect{}); err != nil {
		t.Fatal(err)
	}
	pub := newPaho5(t, b.addr, "p5-persist-pub", paho5Opts{clean: true})
	for i := 0; i < 5; i++ {
		pub.pub(t, &paho.Publish{Topic: "p5/persist", QoS: byte(1 + i%2), Payload: []byte(fmt.Sprint(i))})
	}
	s2 := newPaho5(t, b.addr, "p5-persist", paho5Opts{clean: false, expiry: 60, session: st})
	if !s2.connack.SessionPresent {
		t.Fatal("CONNACK session present = false on resume")
	}
	for i := 0; i < 5; i++ {
		if m := s2.next(t); string(m.Payload) != fmt.Sprint(i) {
			t.Fatalf("queued message %d: got %q", i, m.Payload)
		}
	}
}

func TestInteropPaho5_TakeoverDisconnect0x8E(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	first := newPaho5(t, b.addr, "p5-take", paho5Opts{clean: true})
	second := newPaho5(t, b.addr, "p5-take", paho5Opts{clean: true})
	select {
	case d := <-first.disconnected:
		if d.ReasonCode != 0x8E {
			t.Fatalf("first client: DISCONNECT reason 0x%02x, want 0x8E", d.ReasonCode)
		}
	case <-first.Done():
		select {
		case d := <-first.disconnected:
			if d.ReasonCode != 0x8E {
				t.Fatalf("first client: DISCONNECT reason 0x%02x, want 0x8E", d.ReasonCode)
			}
		case <-time.After(50 * time.Millisecond):
			if !reference {
				t.Fatal("first client: closed without DISCONNECT 0x8E (Session taken over)")
			}
		}
	case <-time.After(wait):
		t.Fatal("first client: no DISCONNECT after takeover")
	}
	second.sub(t, "p5/take", 0)
	second.pub(t, &paho.Publish{Topic: "p5/take", Payload: []byte("alive")})
	second.next(t)
}

func TestInteropPaho5_SharedSubscription(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	m1 := newPaho5(t, b.addr, "p5-sh1", paho5Opts{clean: true})
	m2 := newPaho5(t, b.addr, "p5-sh2", paho5Opts{clean: true})
	m1.sub(t, "$share/grp/p5/shared", 1)
	m2.sub(t, "$share/grp/p5/shared", 1)
	pub := newPaho5(t, b.addr, "p5-sh-pub", paho5Opts{clean: true})
	const n = 20
	for i := 0; i < n; i++ {
		pub.pub(t, &paho.Publish{Topic: "p5/shared", QoS: 1, Payload: []byte(fmt.Sprint(i))})
	}
	seen := map[string]int{}
	deadline := time.After(wait)
	for len(seen) < n {
		select {
		case m := <-m1.msgs:
			seen[string(m.Payload)]++
		case m := <-m2.msgs:
			seen[string(m.Payload)]++
		case <-deadline:
			t.Fatalf("group received %d of %d messages", len(seen), n)
		}
	}
	m1.none(t)
	m2.none(t)
	for k, v := range seen {
		if v != 1 {
			t.Fatalf("message %s delivered %d times to the group", k, v)
		}
	}
}

func TestInteropPaho5_TopicAliasAndProperties(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	// The subscriber allows no topic aliases (paho.golang leaves resolving inbound aliases to the application), so
	// the broker must send it full topic names.
	sub := newPaho5(t, b.addr, "p5-alias-sub", paho5Opts{clean: true})
	sub.sub(t, "p5/alias/#", 0)
	pub := newPaho5(t, b.addr, "p5-alias-pub", paho5Opts{clean: true})
	if pub.connack.Properties == nil || pub.connack.Properties.TopicAliasMaximum == nil ||
		*pub.connack.Properties.TopicAliasMaximum == 0 {
		t.Fatal("the broker advertises no Topic Alias Maximum, although its default allows aliases")
	}
	alias := uint16(1)
	pf := byte(1)
	pub.pub(t, &paho.Publish{Topic: "p5/alias/x", Payload: []byte("a"), Properties: &paho.PublishProperties{
		TopicAlias: &alias, PayloadFormat: &pf, ResponseTopic: "p5/reply", CorrelationData: []byte{1, 2},
		User: paho.UserProperties{{Key: "k", Value: "v1"}, {Key: "k", Value: "v2"}}}})
	pub.pub(t, &paho.Publish{Topic: "", Payload: []byte("b"), Properties: &paho.PublishProperties{TopicAlias: &alias}})
	for _, want := range []string{"a", "b"} {
		m := sub.next(t)
		if m.Topic != "p5/alias/x" || string(m.Payload) != want {
			t.Fatalf("got %q %q, want p5/alias/x %q", m.Topic, m.Payload, want)
		}
		if want == "a" {
			p := m.Properties
			if p == nil || p.ResponseTopic != "p5/reply" || string(p.CorrelationData) != "\x01\x02" ||
				p.PayloadFormat == nil || *p.PayloadFormat != 1 || len(p.User) != 2 || p.User[0].Value != "v1" ||
				p.User[1].Value != "v2" {
				t.Fatalf("properties not passed through: %+v", p)
			}
		}
	}
}

func TestInteropPaho5_MessageExpiry(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	st := state.NewInMemory()
	s := newPaho5(t, b.addr, "p5-mx", paho5Opts{clean: true, expiry: 60, session: st})
	s.sub(t, "p5/mx", 1)
	s.Disconnect(&paho.Disconnect{})
	pub := newPaho5(t, b.addr, "p5-mx-pub", paho5Opts{clean: true})
	short, long := uint32(1), uint32(60)
	pub.pub(t, &paho.Publish{Topic: "p5/mx", QoS: 1, Payload: []byte("short"),
		Properties: &paho.PublishProperties{MessageExpiry: &short}})
	pub.pub(t, &paho.Publish{Topic: "p5/mx", QoS: 1, Payload: []byte("long"),
		Properties: &paho.PublishProperties{MessageExpiry: &long}})
	time.Sleep(2100 * time.Millisecond)
	s2 := newPaho5(t, b.addr, "p5-mx", paho5Opts{clean: false, expiry: 60, session: st})
	m := s2.next(t)
	if string(m.Payload) != "long" || m.Properties == nil || m.Properties.MessageExpiry == nil ||
		*m.Properties.MessageExpiry >= 60 {
		t.Fatalf("got %q with expiry %v, want only \"long\" with a decremented expiry", m.Payload, m.Properties)
	}
	s2.none(t)
}

// silentPinger never pings, so the broker's keep-alive timer runs out.
type silentPinger struct{}

func (silentPinger) Run(ctx context.Context, _ net.Conn, _ uint16) error { <-ctx.Done(); return nil }
func (silentPinger) PacketSent()                                         {}
func (silentPinger) PacketReceived()                                     {}
func (silentPinger) PingResp()                                           {}
func (silentPinger) SetDebug(log.Logger)                                 {}

func TestInteropPaho5_KeepAliveTimeout(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c := newPaho5(t, b.addr, "p5-ka", paho5Opts{clean: true, keepAlive: 1, pinger: silentPinger{}})
	limit := 4 * time.Second
	if reference {
		limit = 10 * time.Second
	}
	select {
	case <-c.Done():
	case <-time.After(limit):
		t.Fatal("connection with keep alive 1 s and no traffic still open after 4 s")
	}
}

func TestInteropAutopaho_ReconnectsAfterConnectionLossAndKeepsReceiving(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	u, _ := url.Parse("mqtt://" + b.addr)
	var mu sync.Mutex
	ups := 0
	msgs := make(chan string, 100)
	cfg := autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{u},
		KeepAlive:                     10,
		CleanStartOnInitialConnection: true,
		SessionExpiryInterval:         60,
		ConnectRetryDelay:             100 * time.Millisecond,
		ReconnectBackoff:              func(int) time.Duration { return 100 * time.Millisecond },
		ConnectTimeout:                2 * time.Second,
		OnConnectionUp: func(cm *autopaho.ConnectionManager, _ *paho.Connack) {
			mu.Lock()
			ups++
			mu.Unlock()
			go cm.Subscribe(context.Background(), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{
				{Topic: "ap/t", QoS: 1}}})
		},
		OnConnectError: func(error) {},
		ClientConfig: paho.ClientConfig{
			ClientID: "autopaho",
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
				msgs <- string(pr.Packet.Payload)
				return true, nil
			}},
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cm, err := autopaho.NewConnection(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer dcancel()
		cm.Disconnect(dctx)
	}()
	if err := cm.AwaitConnection(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	pub := newPaho5(t, b.addr, "autopaho-pub", paho5Opts{clean: true})
	expectMsg := func(want string) {
		t.Helper()
		deadline := time.After(wait)
		for {
			pub.pub(t, &paho.Publish{Topic: "ap/t", QoS: 1, Payload: []byte(want)})
			select {
			case got := <-msgs:
				if got == want {
					return
				}
			case <-time.After(200 * time.Millisecond):
			case <-deadline:
				t.Fatalf("autopaho did not receive %q", want)
			}
		}
	}
	expectMsg("before")
	cm.TerminateConnectionForTest()
	expectMsg("after")
	mu.Lock()
	defer mu.Unlock()
	if ups < 2 {
		t.Fatalf("OnConnectionUp called %d times, want a reconnect", ups)
	}
}
