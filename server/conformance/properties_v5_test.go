package conformance_test

import (
	"strings"
	"testing"
	"time"
)

func TestV5_TopicAlias_ClientToServer(t *testing.T) {
	t.Parallel()
	b := startBroker(t, func(c *brokerConfig) { c.topicAliasMaximum = 10 })
	sub := connectOK(t, b.addr, v5, "alias-sub")
	sub.subscribe(1, "alias/#", 0, 0)
	pub := connectOK(t, b.addr, v5, "alias-pub")
	pub.send(publishPkt(v5, 0, false, false, "alias/one", 0, props(pU16(propTopicAlias, 1)), "a"))
	pub.send(publishPkt(v5, 0, false, false, "", 0, props(pU16(propTopicAlias, 1)), "b"))
	// Re-map alias 1 to another topic [MQTT-3.3.2-12 area]; the subscriber set no Topic Alias Maximum, so the broker
	// must send full topic names without aliases [MQTT-3.3.2-10/11 (server side: §3.3.2.3.4)].
	pub.send(publishPkt(v5, 0, false, false, "alias/two", 0, props(pU16(propTopicAlias, 1)), "c"))
	pub.send(publishPkt(v5, 0, false, false, "", 0, props(pU16(propTopicAlias, 1)), "d"))
	for _, want := range []struct{ topic, payload string }{
		{"alias/one", "a"}, {"alias/one", "b"}, {"alias/two", "c"}, {"alias/two", "d"},
	} {
		sub.expect(publishPkt(v5, 0, false, false, want.topic, 0, nil, want.payload))
	}
}

func TestV5_TopicAlias_ServerToClientWithinClientMaximum(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	sub := connectWith(t, b.addr, v5, "alias-out", connectPkt(v5, flagClean, 60, props(pU16(propTopicAliasMaximum, 2)),
		str("alias-out")))
	sub.expectConnack5(0, 0)
	sub.subscribe(1, "ao/#", 0, 0)
	pub := connectOK(t, b.addr, v5, "alias-out-pub")
	topics := []string{"ao/a", "ao/b", "ao/c", "ao/a", "ao/b", "ao/a", "ao/c", "ao/c"}
	for _, tp := range topics {
		pub.send(publishPkt(v5, 0, false, false, tp, 0, nil, tp))
	}
	// The broker may or may not use aliases; when it does they are within the client's maximum
	// [MQTT-3.3.2-10] and an empty topic only refers to an alias it set before on this connection.
	aliases := map[int]string{}
	for _, want := range topics {
		p := sub.expectPublish()
		topic := p.topic
		if a, ok := find(p.props, propTopicAlias); ok {
			if a.num() < 1 || a.num() > 2 {
				t.Fatalf("topic alias %d outside 1..2", a.num())
			}
			if topic == "" {
				topic = aliases[a.num()]
			} else {
				aliases[a.num()] = topic
			}
		}
		if topic != want || p.payload != want {
			t.Fatalf("got topic %q (%q) payload %q, want %q", p.topic, topic, p.payload, want)
		}
	}
}

func TestV5_MessageExpiry_ExpiredNotDeliveredAndRemainingDecremented(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	expiry := props(pU32(propSessionExpiry, 60))
	s := connectWith(t, b.addr, v5, "expiry-sub", connectPkt(v5, flagClean, 60, expiry, str("expiry-sub")))
	s.expectConnack5(0, 0)
	s.subscribe(1, "mx/t", 1, 1)
	s.send(disconnect)
	s.expectClosed()

	pub := connectOK(t, b.addr, v5, "expiry-pub")
	pub.send(publishPkt(v5, 1, false, false, "mx/t", 1, props(pU32(propMessageExpiry, 1)), "short"))
	pub.expectReply(0x40, 1, 0)
	pub.send(publishPkt(v5, 1, false, false, "mx/t", 2, props(pU32(propMessageExpiry, 100)), "long"))
	pub.expectReply(0x40, 2, 0)
	time.Sleep(2200 * time.Millisecond)

	s2 := connectWith(t, b.addr, v5, "expiry-sub", connectPkt(v5, 0, 60, expiry, str("expiry-sub")))
	s2.expectConnack5(1, 0)
	// [MQTT-3.3.2-5] the expired message is not delivered; [MQTT-3.3.2-6] the other carries the remaining time.
	p := s2.expectPublish()
	if p.payload != "long" {
		t.Fatalf("got %q first: the expired message was delivered", p.payload)
	}
	e, ok := find(p.props, propMessageExpiry)
	if !ok || e.num() >= 100 || e.num() < 95 {
		t.Fatalf("Message Expiry Interval %d (present %v), want 95..99 after 2 s offline", e.num(), ok)
	}
	s2.send(ack(0x40, p.pid))
	s2.expectNothing()
}

func TestV5_MessageExpiry_RetainedMessageExpires(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	pub := connectOK(t, b.addr, v5, "rexp-pub")
	pub.send(publishPkt(v5, 0, true, false, "rexp/t", 0, props(pU32(propMessageExpiry, 1)), "soon gone"))
	pub.stillOpen()
	time.Sleep(2100 * time.Millisecond)
	s := connectOK(t, b.addr, v5, "rexp-sub")
	s.subscribe(1, "rexp/t", 0, 0)
	s.expectNothing() // §3.3.2.3.3: an expired retained message is not sent
}

func TestV5_PropertiesForwardedUnchangedAndInOrder(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	sub := connectOK(t, b.addr, v5, "props-sub")
	sub.subscribe(1, "props/t", 1, 1)
	pub := connectOK(t, b.addr, v5, "props-pub")
	sent := []prop{
		{propPayloadFormat, []byte{1}},
		{propContentType, str("application/json")},
		{propResponseTopic, str("reply/here")},
		{propCorrelationData, str("\x00\x01corr")},
		{propUserProperty, cat(str("k1"), str("v1"))},
		{propUserProperty, cat(str("k2"), str("v2"))},
		{propUserProperty, cat(str("k1"), str("v3"))}, // same key twice: both kept, in order [MQTT-3.3.2-18]
	}
	var raw [][]byte
	for _, p := range sent {
		raw = append(raw, cat([]byte{p.id}, p.val))
	}
	pub.send(publishPkt(v5, 1, false, false, "props/t", 1, props(raw...), `{"a":1}`))
	pub.expectReply(0x40, 1, 0)
	p := sub.expectPublish()
	if p.payload != `{"a":1}` {
		t.Fatalf("payload %q", p.payload)
	}
	// [MQTT-3.3.2-4] payload format, [MQTT-3.3.2-15] response topic, [MQTT-3.3.2-16] correlation data,
	// [MQTT-3.3.2-17/18] user properties unaltered and in order, [MQTT-3.3.2-20] content type.
	assertPropsContain(t, p.props, sent)
}

func TestV5_ClientMaximumPacketSizeRespected(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	small := connectWith(t, b.addr, v5, "mps", connectPkt(v5, flagClean, 60, props(pU32(propMaximumPacketSize, 64)),
		str("mps")))
	small.expectConnack5(0, 0)
	small.subscribe(1, "mps/#", 1, 1)
	pub := connectOK(t, b.addr, v5, "mps-pub")
	pub.send(publishPkt(v5, 1, false, false, "mps/big", 1, nil, strings.Repeat("b", 200)))
	pub.expectReply(0x40, 1, 0)
	pub.send(publishPkt(v5, 1, false, false, "mps/small", 2, nil, "s"))
	pub.expectReply(0x40, 2, 0)
	// [MQTT-3.1.2-25] a packet over the client's maximum is not sent: discarded as if delivered.
	p := small.expectPublish()
	if p.topic != "mps/small" {
		t.Fatalf("got %q (%d bytes of payload), want only mps/small", p.topic, len(p.payload))
	}
	small.send(ack(0x40, p.pid))
	small.expectNothing()
}

func TestV5_ClientReceiveMaximumLimitsInflight(t *testing.T) {
	t.Parallel()
	if reference {
		t.Skip("mosquitto 2.0.11 sends a third message into a window of 2 after the first PUBACK")
	}
	b := startBroker(t)
	sub := connectWith(t, b.addr, v5, "crm", connectPkt(v5, flagClean, 60, props(pU16(propReceiveMaximum, 2)),
		str("crm")))
	sub.expectConnack5(0, 0)
	sub.subscribe(1, "crm/t", 1, 1)
	pub := connectOK(t, b.addr, v5, "crm-pub")
	for i := 1; i <= 5; i++ {
		pub.send(publishPkt(v5, 1, false, false, "crm/t", uint16(i), nil, string(rune('0'+i))))
		pub.expectReply(0x40, uint16(i), 0)
	}
	// [MQTT-3.3.4-7] no more than Receive Maximum unacknowledged QoS 1/2 PUBLISH packets.
	first := sub.expectPublish()
	second := sub.expectPublish()
	sub.expectNothing()
	sub.send(ack(0x40, first.pid))
	third := sub.expectPublish()
	sub.expectNothing()
	sub.send(ack(0x40, second.pid), ack(0x40, third.pid))
	fourth := sub.expectPublish()
	fifth := sub.expectPublish()
	got := first.payload + second.payload + third.payload + fourth.payload + fifth.payload
	if got != "12345" {
		t.Fatalf("delivered %q, want 12345 in order", got)
	}
}

func TestV5_RequestProblemInformation0_NoReasonStringOnSuback(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c := connectWith(t, b.addr, v5, "rpi", connectPkt(v5, flagClean, 60, props(pByte(propRequestProblemInfo, 0)),
		str("rpi")))
	c.expectConnack5(0, 0)
	c.send(subscribePkt(v5, 1, nil, "ok", byte(0), "a/#/b", byte(0)))
	got := c.next()
	r, err := parseReply(got, v5)
	if err != nil || got[0] != 0x90 {
		if reference && err == nil && got[0] == 0xE0 {
			return
		}
		t.Fatalf("got % x (%v), want SUBACK", got, err)
	}
	// [MQTT-3.1.2-29] with Request Problem Information 0 no Reason String or User Property on anything but
	// PUBLISH, CONNACK and DISCONNECT.
	if _, ok := find(r.props, propReasonString); ok {
		t.Fatalf("SUBACK % x carries a Reason String although the client asked for none", got)
	}
}

func TestV5_ShutdownSendsDisconnect0x8B(t *testing.T) {
	t.Parallel()
	if reference {
		t.Skip("the reference broker is stopped by killing it")
	}
	b, stop := startStoppableBroker(t)
	c := connectOK(t, b.addr, v5, "shutdown5")
	c3 := connectOK(t, b.addr, v311, "shutdown311")
	done := make(chan error, 1)
	go func() { done <- stop() }()
	c.expectDisconnect(0x8B) // Server shutting down
	c3.expectClosed()
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

func TestV5_RetainedMessageCarriesSubscriptionIDAndRemainingExpiry(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	pub := connectOK(t, b.addr, v5, "ret-props-pub")
	pub.send(publishPkt(v5, 1, true, false, "rp/t", 1, props(pU32(propMessageExpiry, 60), pUser("k", "v")), "r"))
	pub.expectPubackOK(1)
	time.Sleep(1100 * time.Millisecond)
	c := connectOK(t, b.addr, v5, "ret-props")
	c.send(subscribePkt(v5, 1, props(pVBI(propSubscriptionID, 42)), "rp/#", byte(1)))
	c.expectSuback(1, 1)
	p := c.expectPublish()
	if !p.retain || p.payload != "r" {
		t.Fatalf("got %+v, want the retained message", p)
	}
	// The retained copy is a publication like any other: the subscription's identifier [MQTT-3.3.4-3], the
	// remaining expiry [MQTT-3.3.2-6] and the user properties unaltered [MQTT-3.3.2-17].
	if id, ok := find(p.props, propSubscriptionID); !ok || id.num() != 42 {
		t.Errorf("Subscription Identifier %d (present %v), want 42", id.num(), ok)
	}
	if e, ok := find(p.props, propMessageExpiry); !ok || e.num() >= 60 || e.num() < 55 {
		t.Errorf("Message Expiry Interval %d (present %v), want 55..59 after a second", e.num(), ok)
	}
	if u, ok := find(p.props, propUserProperty); !ok || string(u.val) != string(cat(str("k"), str("v"))) {
		t.Errorf("user property % x (present %v), want k=v", u.val, ok)
	}
	c.send(ack(0x40, p.pid))
}

func TestV5_NegativePubackIsNotRetransmitted(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	s := connectPersistent(t, b.addr, v5, "neg-ack", 0)
	s.subscribe(1, "neg/t", 1, 1)
	pub := connectOK(t, b.addr, v5, "neg-ack-pub")
	pub.send(publishPkt(v5, 1, false, false, "neg/t", 1, nil, "refused"))
	pub.expectReply(0x40, 1, 0)
	p := s.expectPublish()
	s.send(ackRC(0x40, p.pid, 0x80))
	s.stillOpen()
	s.conn.Close()
	// [MQTT-4.4.0-2] a PUBACK with a reason of 0x80 or more acknowledges: nothing is re-sent on resume.
	s2 := connectPersistent(t, b.addr, v5, "neg-ack", 1)
	s2.expectNothing()
}

func TestV5_UnsubscribeSharedSubscription(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c := connectOK(t, b.addr, v5, "unshare")
	c.subscribe(1, "$share/g/us/t", 0, 0)
	c.send(unsubscribePkt(v5, 2, "$share/g/us/t"))
	c.expectReply(0xB0, 2, 0x00)
	pub := connectOK(t, b.addr, v5, "unshare-pub")
	pub.send(publishPkt(v5, 0, false, false, "us/t", 0, nil, "x"))
	pub.stillOpen()
	c.expectNothing()
}
