package server

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// v5client is a connected paho (MQTT 5) client that collects what it receives.
type v5client struct {
	*paho.Client
	mu       sync.Mutex
	got      []*paho.Publish
	arrived  chan struct{}
	connack  *paho.Connack
	serverDC chan *paho.Disconnect
}

func dialV5(t testing.TB, s *Server, cp *paho.Connect) *v5client {
	t.Helper()
	c, err := connectV5(s, cp)
	if err != nil {
		t.Fatalf("connect %q: %v", cp.ClientID, err)
	}
	t.Cleanup(func() { c.Disconnect(&paho.Disconnect{}) })
	return c
}

func connectV5(s *Server, cp *paho.Connect) (*v5client, error) {
	conn, err := net.DialTimeout("tcp", s.TCPAddr(), 5*time.Second)
	if err != nil {
		return nil, err
	}
	vc := &v5client{arrived: make(chan struct{}, 1000), serverDC: make(chan *paho.Disconnect, 1)}
	vc.Client = paho.NewClient(paho.ClientConfig{
		ClientID: cp.ClientID,
		Conn:     conn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			vc.mu.Lock()
			vc.got = append(vc.got, pr.Packet)
			vc.mu.Unlock()
			vc.arrived <- struct{}{}
			return true, nil
		}},
		OnServerDisconnect: func(d *paho.Disconnect) { vc.serverDC <- d },
		OnClientError:      func(error) {},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ca, err := vc.Connect(ctx, cp)
	vc.connack = ca
	if err != nil {
		conn.Close()
		return vc, err
	}
	return vc, nil
}

// waitN waits until n messages have arrived in total and returns them.
func (c *v5client) waitN(t testing.TB, n int) []*paho.Publish {
	t.Helper()
	deadline := time.After(5 * time.Second)
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
			c.mu.Lock()
			defer c.mu.Unlock()
			t.Fatalf("got %d messages, want %d", len(c.got), n)
		}
	}
}

func (c *v5client) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.got)
}

func ctx5s(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func u32(v uint32) *uint32 { return &v }
func u16(v uint16) *uint16 { return &v }

func TestPaho5QoSLevelsAndDowngrade(t *testing.T) {
	s := startBroker(t, nil)
	sub := dialV5(t, s, &paho.Connect{ClientID: "sub", CleanStart: true, KeepAlive: 30})
	pub := dialV5(t, s, &paho.Connect{ClientID: "pub", CleanStart: true, KeepAlive: 30})
	if _, err := sub.Subscribe(ctx5s(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{
		{Topic: "q/2", QoS: 2}, {Topic: "q/1", QoS: 1}, {Topic: "q/0", QoS: 0},
	}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		topic   string
		pubQoS  byte
		wantQoS byte
	}{
		{"q/2", 2, 2}, {"q/2", 1, 1}, {"q/2", 0, 0},
		{"q/1", 2, 1}, {"q/1", 1, 1},
		{"q/0", 2, 0}, {"q/0", 1, 0},
	}
	for i, tt := range tests {
		if _, err := pub.Publish(ctx5s(t), &paho.Publish{Topic: tt.topic, QoS: tt.pubQoS, Payload: []byte{byte(i)}}); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		got := sub.waitN(t, i+1)[i]
		if got.Topic != tt.topic || got.QoS != tt.wantQoS || got.Payload[0] != byte(i) {
			t.Fatalf("case %d: got topic %q qos %d payload %v, want %q qos %d", i, got.Topic, got.QoS, got.Payload, tt.topic, tt.wantQoS)
		}
	}
}

func TestPaho5ConnackProperties(t *testing.T) {
	s := startBroker(t, func(o *Options) { o.MaxKeepAlive = 20 * time.Second })
	c := dialV5(t, s, &paho.Connect{ClientID: "", CleanStart: true, KeepAlive: 60})
	ca := c.connack
	if ca.Properties == nil || ca.Properties.AssignedClientID == "" {
		t.Fatalf("no assigned client id in %+v", ca.Properties)
	}
	if ca.Properties.ServerKeepAlive == nil || *ca.Properties.ServerKeepAlive != 20 {
		t.Fatalf("server keep alive %v, want 20", ca.Properties.ServerKeepAlive)
	}
	if ca.Properties.ReceiveMaximum == nil || *ca.Properties.ReceiveMaximum != 64 {
		t.Fatalf("receive maximum %v, want 64", ca.Properties.ReceiveMaximum)
	}
	if ca.SessionPresent {
		t.Fatal("session present on a clean start")
	}
}

func TestPaho5RetainedAndRetainHandling(t *testing.T) {
	s := startBroker(t, nil)
	pub := dialV5(t, s, &paho.Connect{ClientID: "pub", CleanStart: true})
	for _, tp := range []string{"r/a", "r/b"} {
		if _, err := pub.Publish(ctx5s(t), &paho.Publish{Topic: tp, QoS: 1, Retain: true, Payload: []byte(tp)}); err != nil {
			t.Fatal(err)
		}
	}
	// Clear r/b with an empty retained payload.
	if _, err := pub.Publish(ctx5s(t), &paho.Publish{Topic: "r/b", QoS: 1, Retain: true}); err != nil {
		t.Fatal(err)
	}
	sub := dialV5(t, s, &paho.Connect{ClientID: "sub", CleanStart: true})
	if _, err := sub.Subscribe(ctx5s(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "r/#", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	got := sub.waitN(t, 1)
	if got[0].Topic != "r/a" || !got[0].Retain {
		t.Fatalf("retained delivery %+v", got[0])
	}
	// Retain Handling 1: subscribing again to an existing subscription sends nothing.
	if _, err := sub.Subscribe(ctx5s(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "r/#", QoS: 1, RetainHandling: 1}}}); err != nil {
		t.Fatal(err)
	}
	// Retain Handling 2: never.
	if _, err := sub.Subscribe(ctx5s(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "r/+", QoS: 1, RetainHandling: 2}}}); err != nil {
		t.Fatal(err)
	}
	// Retain Handling 0 on an existing subscription: sent again.
	if _, err := sub.Subscribe(ctx5s(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "r/#", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	sub.waitN(t, 2)
	// A live publish to a subscriber without Retain As Published has RETAIN cleared. It comes after every retained
	// delivery the SUBSCRIBEs caused, so it is the third message: no other retained delivery came.
	if _, err := pub.Publish(ctx5s(t), &paho.Publish{Topic: "r/c", QoS: 1, Retain: true, Payload: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	got = sub.waitN(t, 3)
	if got[1].Topic != "r/a" || got[2].Topic != "r/c" {
		t.Fatalf("deliveries %q, %q, %q; want r/a twice (Retain Handling 0 only), then the live r/c",
			got[0].Topic, got[1].Topic, got[2].Topic)
	}
	if got[2].Retain {
		t.Fatal("live delivery kept RETAIN without Retain As Published")
	}
}

func TestPaho5PersistentSessionQueue(t *testing.T) {
	s := startBroker(t, nil)
	cp := &paho.Connect{ClientID: "persist", CleanStart: true, Properties: &paho.ConnectProperties{SessionExpiryInterval: u32(60)}}
	c, err := connectV5(s, cp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Subscribe(ctx5s(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "p/#", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	c.Disconnect(&paho.Disconnect{})
	pub := dialV5(t, s, &paho.Connect{ClientID: "pub", CleanStart: true})
	// QoS 0 first: the acknowledged QoS 1 publishes after it prove it was routed before the client returns.
	if _, err := pub.Publish(ctx5s(t), &paho.Publish{Topic: "p/x", QoS: 0, Payload: []byte("qos0")}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if _, err := pub.Publish(ctx5s(t), &paho.Publish{Topic: "p/x", QoS: 1, Payload: []byte{byte(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	cp.CleanStart = false
	c2 := dialV5(t, s, cp)
	if !c2.connack.SessionPresent {
		t.Fatal("session present not set on resume")
	}
	// A live message after the resume comes after the whole queue: the five QoS 1 messages, nothing else.
	if _, err := pub.Publish(ctx5s(t), &paho.Publish{Topic: "p/x", QoS: 1, Payload: []byte("live")}); err != nil {
		t.Fatal(err)
	}
	got := c2.waitN(t, 6)
	for i, p := range got[:5] {
		if p.Payload[0] != byte(i) || p.QoS != 1 {
			t.Fatalf("message %d: %+v (QoS 0 is not queued)", i, p)
		}
	}
	if string(got[5].Payload) != "live" {
		t.Fatalf("message 5: %q, want the live one after the queue", got[5].Payload)
	}
}

func TestPaho5TakeoverDisconnects(t *testing.T) {
	s := startBroker(t, nil)
	first := dialV5(t, s, &paho.Connect{ClientID: "same", CleanStart: true})
	dialV5(t, s, &paho.Connect{ClientID: "same", CleanStart: false})
	select {
	case d := <-first.serverDC:
		if d.ReasonCode != 0x8E {
			t.Fatalf("first client got DISCONNECT reason %#x, want 0x8E", d.ReasonCode)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("first client got no DISCONNECT on takeover")
	}
}

func TestPaho5WillOnAbnormalClose(t *testing.T) {
	s := startBroker(t, nil)
	sub := dialV5(t, s, &paho.Connect{ClientID: "watcher", CleanStart: true})
	if _, err := sub.Subscribe(ctx5s(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "will/#", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", s.TCPAddr())
	if err != nil {
		t.Fatal(err)
	}
	wc := paho.NewClient(paho.ClientConfig{ClientID: "dying", Conn: conn})
	if _, err := wc.Connect(ctx5s(t), &paho.Connect{ClientID: "dying", CleanStart: true,
		WillMessage: &paho.WillMessage{Topic: "will/dying", QoS: 1, Payload: []byte("gone")}}); err != nil {
		t.Fatal(err)
	}
	conn.Close() // no DISCONNECT
	got := sub.waitN(t, 1)
	if got[0].Topic != "will/dying" || string(got[0].Payload) != "gone" {
		t.Fatalf("will %+v", got[0])
	}
}

func TestPaho5SharedSubscription(t *testing.T) {
	s := startBroker(t, nil)
	a := dialV5(t, s, &paho.Connect{ClientID: "a", CleanStart: true})
	b := dialV5(t, s, &paho.Connect{ClientID: "b", CleanStart: true})
	for _, c := range []*v5client{a, b} {
		if _, err := c.Subscribe(ctx5s(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "$share/g/jobs/+", QoS: 1}}}); err != nil {
			t.Fatal(err)
		}
	}
	pub := dialV5(t, s, &paho.Connect{ClientID: "pub", CleanStart: true})
	const n = 20
	for i := 0; i < n; i++ {
		if _, err := pub.Publish(ctx5s(t), &paho.Publish{Topic: "jobs/x", QoS: 1, Payload: []byte{byte(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for a.count()+b.count() < n && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	if a.count()+b.count() != n || a.count() == 0 || b.count() == 0 {
		t.Fatalf("a got %d, b got %d; want %d in total, shared between both", a.count(), b.count(), n)
	}
}

func TestPaho5SubscriptionIDsAndNoLocal(t *testing.T) {
	s := startBroker(t, nil)
	c := dialV5(t, s, &paho.Connect{ClientID: "c", CleanStart: true})
	id1, id2 := 7, 300
	if _, err := c.Subscribe(ctx5s(t), &paho.Subscribe{Properties: &paho.SubscribeProperties{SubscriptionIdentifier: &id1},
		Subscriptions: []paho.SubscribeOptions{{Topic: "s/+", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Subscribe(ctx5s(t), &paho.Subscribe{Properties: &paho.SubscribeProperties{SubscriptionIdentifier: &id2},
		Subscriptions: []paho.SubscribeOptions{{Topic: "s/#", QoS: 0}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Subscribe(ctx5s(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "own", QoS: 0, NoLocal: true}}}); err != nil {
		t.Fatal(err)
	}
	pub := dialV5(t, s, &paho.Connect{ClientID: "pub", CleanStart: true})
	if _, err := pub.Publish(ctx5s(t), &paho.Publish{Topic: "s/x", QoS: 1, Payload: []byte("m")}); err != nil {
		t.Fatal(err)
	}
	got := c.waitN(t, 1)
	if got[0].QoS != 1 {
		t.Fatalf("overlapping subscriptions: QoS %d, want the maximum 1", got[0].QoS)
	}
	// paho exposes one identifier; the wire carries both (checked byte-level elsewhere).
	if got[0].Properties == nil || got[0].Properties.SubscriptionIdentifier == nil {
		t.Fatalf("no subscription identifier in %+v", got[0].Properties)
	}
	if _, err := c.Publish(ctx5s(t), &paho.Publish{Topic: "own", QoS: 0, Payload: []byte("self")}); err != nil {
		t.Fatal(err)
	}
	// Then an own publish on a subscription without No Local: it comes back, after "self" had it not been suppressed.
	if _, err := c.Publish(ctx5s(t), &paho.Publish{Topic: "s/mark", QoS: 0, Payload: []byte("mark")}); err != nil {
		t.Fatal(err)
	}
	if got := c.waitN(t, 2); string(got[1].Payload) != "mark" {
		t.Fatalf("got %q before the marker; No Local should have suppressed the own publish", got[1].Payload)
	}
}

func TestPaho5MessageExpiryAndUserProperties(t *testing.T) {
	s := startBroker(t, nil)
	pub := dialV5(t, s, &paho.Connect{ClientID: "pub", CleanStart: true})
	props := &paho.PublishProperties{MessageExpiry: u32(100), ContentType: "text/plain", ResponseTopic: "resp",
		CorrelationData: []byte{1, 2}, User: paho.UserProperties{{Key: "k", Value: "v"}}}
	if _, err := pub.Publish(ctx5s(t), &paho.Publish{Topic: "e/1", QoS: 1, Retain: true, Payload: []byte("x"), Properties: props}); err != nil {
		t.Fatal(err)
	}
	if _, err := pub.Publish(ctx5s(t), &paho.Publish{Topic: "e/2", QoS: 1, Retain: true, Payload: []byte("y"),
		Properties: &paho.PublishProperties{MessageExpiry: u32(1)}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1300 * time.Millisecond)
	sub := dialV5(t, s, &paho.Connect{ClientID: "sub", CleanStart: true})
	if _, err := sub.Subscribe(ctx5s(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "e/#", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	// A live message after the SUBSCRIBE comes after its retained deliveries: e/1 alone (e/2 expired), then it.
	if _, err := pub.Publish(ctx5s(t), &paho.Publish{Topic: "e/live", QoS: 1, Payload: []byte("live")}); err != nil {
		t.Fatal(err)
	}
	got := sub.waitN(t, 2)
	if got[0].Topic != "e/1" || got[1].Topic != "e/live" {
		t.Fatalf("got %q then %q, want e/1 then e/live (e/2 expired)", got[0].Topic, got[1].Topic)
	}
	p := got[0].Properties
	if p == nil || p.MessageExpiry == nil || *p.MessageExpiry > 99 || *p.MessageExpiry < 97 {
		t.Fatalf("message expiry not decremented: %+v", p)
	}
	if p.ContentType != "text/plain" || p.ResponseTopic != "resp" || string(p.CorrelationData) != "\x01\x02" ||
		len(p.User) != 1 || p.User[0].Key != "k" || p.User[0].Value != "v" {
		t.Fatalf("properties not passed through: %+v", p)
	}
}

func TestPaho5InboundTopicAlias(t *testing.T) {
	s := startBroker(t, nil)
	sub := dialV5(t, s, &paho.Connect{ClientID: "sub", CleanStart: true})
	if _, err := sub.Subscribe(ctx5s(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "alias/t", QoS: 0}}}); err != nil {
		t.Fatal(err)
	}
	pub := dialV5(t, s, &paho.Connect{ClientID: "pub", CleanStart: true})
	if _, err := pub.Publish(ctx5s(t), &paho.Publish{Topic: "alias/t", Payload: []byte("1"), Properties: &paho.PublishProperties{TopicAlias: u16(3)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := pub.Publish(ctx5s(t), &paho.Publish{Topic: "", Payload: []byte("2"), Properties: &paho.PublishProperties{TopicAlias: u16(3)}}); err != nil {
		t.Fatal(err)
	}
	got := sub.waitN(t, 2)
	if got[1].Topic != "alias/t" || string(got[1].Payload) != "2" {
		t.Fatalf("aliased publish arrived as %+v", got[1])
	}
}
