package conformance_test

import (
	"fmt"
	"testing"
	"time"
)

// Tests for MQTT 5.0 flow statements: packet identifiers, send quota, sizes of the Server's own packets, message
// expiry once delivery started, shared subscriptions and the Server's DISCONNECT.

func TestSpec5_ServerPacketIDsNonZeroAndDistinct(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	for _, level := range []byte{v311, v5} {
		t.Run(levelName(level), func(t *testing.T) {
			topic := "pids/" + levelName(level)
			s := connectOK(t, b.addr, level, "pids")
			s.subscribe(1, topic, 2, 2)
			pub := connectOK(t, b.addr, level, "pids-pub")
			const n = 20
			for i := 0; i < n; i++ {
				q := byte(1 + i%2)
				pub.send(publishPkt(level, q, false, false, topic, uint16(100+i), nil, fmt.Sprint(i)))
				if q == 1 {
					pub.expectAckOK(0x40, uint16(100+i))
				} else {
					pub.expectAckOK(0x50, uint16(100+i))
					pub.send(ack(0x62, uint16(100+i)))
					pub.expectReply(0x70, uint16(100+i), 0)
				}
			}
			// [MQTT-2.2.1-4] / [MQTT-2.3.1-4 (3.1.1)], [MQTT-4.3.2-1], [MQTT-4.3.3-1]: every QoS > 0 PUBLISH the
			// Server sends has a non-zero packet identifier not in use by another unacknowledged one.
			seen := map[uint16]bool{}
			for i := 0; i < n; i++ {
				p := s.expectPublish()
				if p.pid == 0 || seen[p.pid] {
					t.Fatalf("delivery %d: packet id %d (in use: %v)", i, p.pid, seen[p.pid])
				}
				seen[p.pid] = true
			}
		})
	}
}

func TestSpec5_AcksFitClientMaximumPacketSize(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	// A client accepting packets of at most 12 bytes: enough for every acknowledgement with a reason code and an
	// empty property block, too small for any Reason String worth sending.
	const limit = 12
	c := connectWith(t, b.addr, v5, "ackfit", connectPkt(v5, flagClean, 60, props(pU32(propMaximumPacketSize, limit)),
		str("ackfit")))
	c.expectConnack5(0, 0)
	check := func(what string, pk []byte) reply {
		t.Helper()
		if len(pk) > limit {
			t.Fatalf("%s is %d bytes over the client's Maximum Packet Size %d: % x", what, len(pk), limit, pk)
		}
		r, err := parseReply(pk, v5)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return r
	}
	// [MQTT-3.4.2-2/3] PUBACK, [MQTT-3.5.2-2/3] PUBREC, [MQTT-3.7.2-2/3] PUBCOMP, [MQTT-3.9.2-1/2] SUBACK,
	// [MQTT-3.11.2-1/2] UNSUBACK: no Reason String or User Property that would exceed the client's maximum.
	c.send(publishPkt(v5, 1, false, false, "ackfit/none", 1, nil, "x"))
	check("PUBACK", c.next())
	c.send(publishPkt(v5, 2, false, false, "ackfit/none", 2, nil, "x"))
	check("PUBREC", c.next())
	c.send(ackRC(0x62, 2, 0))
	check("PUBCOMP", c.next())
	c.send(ackRC(0x62, 77, 0))
	if r := check("PUBCOMP for an unknown id", c.next()); r.reasons[0] != 0x92 && !reference {
		t.Fatalf("PUBCOMP reason 0x%02x, want 0x92", r.reasons[0])
	}
	if reference {
		return // mosquitto 2.0.11 answers an invalid filter with DISCONNECT 0x81, not SUBACK 0x8F
	}
	c.send(subscribePkt(v5, 3, nil, "a/#/b", byte(0)))
	if r := check("SUBACK", c.next()); r.reasons[0] != 0x8F {
		t.Fatalf("SUBACK reason 0x%02x, want 0x8F", r.reasons[0])
	}
	c.send(subscribePkt(v5, 4, nil, "ackfit/yes", byte(0)))
	check("SUBACK", c.next())
	// [MQTT-3.11.3-1] one reason code per filter, in order; [MQTT-3.11.3-2] from the UNSUBACK set.
	c.send(unsubscribePkt(v5, 5, "ackfit/no", "ackfit/yes"))
	r := check("UNSUBACK", c.next())
	if r.first != 0xB0 || r.pid != 5 || string(r.reasons) != "\x11\x00" {
		t.Fatalf("UNSUBACK %+v, want packet id 5 and reasons 11 00", r)
	}
}

func TestSpec5_ZeroSendQuotaDoesNotDelayOtherPackets(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	s := connectWith(t, b.addr, v5, "quota0", connectPkt(v5, flagClean, 60, props(pU16(propReceiveMaximum, 1)),
		str("quota0")))
	s.expectConnack5(0, 0)
	s.subscribe(1, "q0/t", 1, 1)
	pub := connectOK(t, b.addr, v5, "quota0-pub")
	for i := uint16(1); i <= 2; i++ {
		pub.send(publishPkt(v5, 1, false, false, "q0/t", i, nil, fmt.Sprint(i)))
		pub.expectPubackOK(i)
	}
	first := s.expectPublish()
	// The send quota is now 0 [MQTT-4.9.0-2]; every other packet still flows [MQTT-3.3.4-10][MQTT-4.9.0-3].
	s.send(pingreq)
	s.expect(pingresp)
	s.subscribe(2, "q0/other", 0, 0)
	s.send(unsubscribePkt(v5, 3, "q0/other"))
	s.expectReply(0xB0, 3, 0)
	pub.send(publishPkt(v5, 0, false, false, "q0/t", 0, nil, "qos0"))
	pub.stillOpen()
	// A QoS 0 message is not held back by the quota either (§4.9: the quota counts QoS 1 and 2 only).
	p := s.expectPublish()
	if p.qos != 0 || p.payload != "qos0" {
		t.Fatalf("got %+v while the quota is 0, want the QoS 0 message", p)
	}
	s.send(ack(0x40, first.pid))
	if p := s.expectPublish(); p.payload != "2" {
		t.Fatalf("got %+v after the PUBACK, want the second QoS 1 message", p)
	}
}

func TestSpec5_ServerDisconnectHasNoSessionExpiryAndFitsClientMaximum(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	const limit = 16
	connect := func(id string) *client {
		c := connectWith(t, b.addr, v5, id, connectPkt(v5, flagClean, 60,
			props(pU32(propSessionExpiry, 30), pU32(propMaximumPacketSize, limit)), str(id)))
		c.expectConnack5(0, 0)
		return c
	}
	check := func(c *client, want byte) {
		t.Helper()
		pk := c.next()
		r, err := parseReply(pk, v5)
		if err != nil || pk[0] != 0xE0 || (r.reasons[0] != want && !(reference && r.reasons[0] >= 0x80)) {
			t.Fatalf("got % x (%v), want DISCONNECT 0x%02x", pk, err, want)
		}
		// [MQTT-3.14.2-2] the Server never sends a Session Expiry Interval on DISCONNECT; [MQTT-3.14.2-3/4] nor a
		// Reason String or User Property that would exceed the client's Maximum Packet Size.
		if _, ok := find(r.props, propSessionExpiry); ok {
			t.Fatalf("server DISCONNECT % x carries a Session Expiry Interval", pk)
		}
		if len(pk) > limit {
			t.Fatalf("server DISCONNECT is %d bytes, over the client's maximum %d: % x", len(pk), limit, pk)
		}
		c.expectClosed()
	}
	bad := connect("sxd-bad")
	bad.send(publishPkt(v5, 0, false, false, "sxd/t", 0, props(pU16(propTopicAlias, 0)), "x"))
	check(bad, 0x94)
	if reference {
		return // mosquitto 2.0.11 closes a taken-over client with a small Maximum Packet Size without DISCONNECT
	}
	first := connect("sxd-take")
	connect("sxd-take")
	check(first, 0x8E)
}

func TestSpec5_MessageExpiryStopsOnceQoS2DeliveryStarted(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	s := connectPersistent(t, b.addr, v5, "exp2", 0)
	s.subscribe(1, "exp2/t", 2, 2)
	pub := connectOK(t, b.addr, v5, "exp2-pub")
	pub.send(publishPkt(v5, 2, false, false, "exp2/t", 1, props(pU32(propMessageExpiry, 1)), "started"))
	pub.expectAckOK(0x50, 1)
	pub.send(ack(0x62, 1))
	pub.expectReply(0x70, 1, 0)
	p := s.expectPublish()
	s.conn.Close() // delivery started, not finished
	time.Sleep(1500 * time.Millisecond)
	// [MQTT-4.3.3-7] once the PUBLISH was sent the sender applies no message expiry: it is re-sent on resume
	// [MQTT-4.4.0-1] with the same packet identifier and DUP 1.
	s2 := connectPersistent(t, b.addr, v5, "exp2", 1)
	again := s2.expectPublish()
	if again.pid != p.pid || !again.dup || again.payload != "started" {
		t.Fatalf("got %+v on resume, want %q re-sent with packet id %d and DUP", again, "started", p.pid)
	}
	s2.send(ack(0x50, again.pid))
	s2.expectReply(0x62, again.pid, 0)
	s2.send(ack(0x70, again.pid))
	s2.expectNothing()
}

func TestSpec5_QoS2SequenceContinuesAfterMessageExpiry(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	pub := connectOK(t, b.addr, v5, "exp2in")
	pub.send(publishPkt(v5, 2, false, false, "exp2in/t", 1, props(pU32(propMessageExpiry, 1)), "soon gone"))
	pub.expectAckOK(0x50, 1)
	time.Sleep(1500 * time.Millisecond)
	// [MQTT-4.3.3-13] the receiver completes the QoS 2 acknowledgement sequence although the message expired (the
	// Server may hold it until PUBREL, §4.3.3 method B, so expiry may have removed it by now).
	pub.send(ack(0x62, 1))
	pub.expectReply(0x70, 1, 0)
}

func TestSpec5_SharedSubscriptionNegativeAckNotRedistributed(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	members := []*client{connectOK(t, b.addr, v5, "shneg-a"), connectOK(t, b.addr, v5, "shneg-b")}
	for _, m := range members {
		m.subscribe(1, "$share/g/shneg/t", 1, 1)
	}
	pub := connectOK(t, b.addr, v5, "shneg-pub")
	pub.send(publishPkt(v5, 1, false, false, "shneg/t", 1, nil, "refused"))
	pub.expectPubackOK(1)
	// Whichever member gets it refuses it with PUBACK 0x80; [MQTT-4.8.2-6] the Server discards the message and does
	// not send it to the other member.
	var got, other *client
	pk, err := members[0].read(wait)
	if err == nil {
		got, other = members[0], members[1]
	} else {
		members[0].r.Reset(members[0].conn)
		pk, err = members[1].read(wait)
		if err != nil {
			t.Fatalf("no member received the message: %v", describe(err))
		}
		got, other = members[1], members[0]
	}
	p, perr := parsePublish(pk, v5)
	if perr != nil || p.payload != "refused" {
		t.Fatalf("got % x (%v), want the published message", pk, perr)
	}
	got.send(ackRC(0x40, p.pid, 0x80))
	other.expectNothing()
	got.expectNothing()
}

func TestSpec5_NoAuthenticationMethod_NoneInConnack(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c := connectWith(t, b.addr, v5, "noauth", connectClean(v5, "noauth"))
	// [MQTT-4.12.0-6] without an Authentication Method in CONNECT the Server sends no AUTH packet and no
	// Authentication Method (0x15) or Data (0x16) in CONNACK.
	for _, p := range c.expectConnack5(0, 0) {
		if p.id == 0x15 || p.id == 0x16 {
			t.Fatalf("CONNACK carries property 0x%02x although the client used no authentication method", p.id)
		}
	}
	c.stillOpen()
}

func TestSpec5_SharedSubscriptionQoS2CompletedOnReconnect(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	a := connectPersistent(t, b.addr, v5, "shq2", 0)
	a.subscribe(1, "$share/g/shq2/t", 2, 2)
	pub := connectOK(t, b.addr, v5, "shq2-pub")
	pub.send(publishPkt(v5, 2, false, false, "shq2/t", 1, nil, "exactly once"))
	pub.expectAckOK(0x50, 1)
	pub.send(ack(0x62, 1))
	pub.expectReply(0x70, 1, 0)
	p := a.expectPublish()
	a.conn.Close() // the connection breaks before the QoS 2 delivery completed
	// [MQTT-4.8.2-4] the Server completes the delivery to the same client when it reconnects.
	a2 := connectPersistent(t, b.addr, v5, "shq2", 1)
	again := a2.expectPublish()
	if again.pid != p.pid || !again.dup || again.payload != "exactly once" || again.qos != 2 {
		t.Fatalf("got %+v on reconnect, want the QoS 2 message re-sent with packet id %d and DUP", again, p.pid)
	}
	a2.send(ack(0x50, again.pid))
	a2.expectReply(0x62, again.pid, 0)
	a2.send(ack(0x70, again.pid))
	a2.expectNothing()
}

func TestSpec5_SharedSubscriptionMessageOfAnEndedSessionNotRedistributed(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	a := connectWith(t, b.addr, v5, "shend-a", connectPkt(v5, flagClean, 60, props(pU32(propSessionExpiry, 1)),
		str("shend-a")))
	a.expectConnack5(0, 0)
	a.subscribe(1, "$share/g/shend/t", 1, 1)
	pub := connectOK(t, b.addr, v5, "shend-pub")
	pub.send(publishPkt(v5, 1, false, false, "shend/t", 1, nil, "for a"))
	pub.expectPubackOK(1)
	if p := a.expectPublish(); p.payload != "for a" {
		t.Fatalf("got %+v, want the message", p)
	}
	a.conn.Close() // unacknowledged; the session ends one second later
	other := connectOK(t, b.addr, v5, "shend-b")
	other.subscribe(1, "$share/g/shend/t", 1, 1)
	// [MQTT-4.8.2-5] the client's session ended before it reconnected: the message is not sent to another member.
	time.Sleep(1500 * time.Millisecond)
	other.expectNothing()
	// The group still works for new messages.
	pub.send(publishPkt(v5, 1, false, false, "shend/t", 2, nil, "for b"))
	pub.expectPubackOK(2)
	if p := other.expectPublish(); p.payload != "for b" {
		t.Fatalf("got %+v, want the new message", p)
	}
}

func TestSpec5_PacketIDOfAPendingPubrelIsNotReused(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	for _, level := range []byte{v311, v5} {
		t.Run(levelName(level), func(t *testing.T) {
			topic := "reuse/" + levelName(level)
			s := connectOK(t, b.addr, level, "reuse")
			s.subscribe(1, topic, 2, 2)
			pub := connectOK(t, b.addr, level, "reuse-pub")
			send := func(i int) {
				pub.send(publishPkt(level, 2, false, false, topic, uint16(i), nil, fmt.Sprint(i)))
				pub.expectAckOK(0x50, uint16(i))
				pub.send(ack(0x62, uint16(i)))
				pub.expectReply(0x70, uint16(i), 0)
			}
			send(1)
			held := s.expectPublish()
			s.send(ack(0x50, held.pid))
			s.expectReply(0x62, held.pid, 0)
			// PUBCOMP withheld: the id stays in use [MQTT-4.3.3-5]; [MQTT-2.2.1-4] new PUBLISHes use other ids.
			for i := 2; i <= 12; i++ {
				send(i)
				p := s.expectPublish()
				if p.pid == held.pid || p.pid == 0 {
					t.Fatalf("message %d got packet id %d while %d awaits PUBCOMP", i, p.pid, held.pid)
				}
				s.send(ack(0x50, p.pid))
				s.expectReply(0x62, p.pid, 0)
				s.send(ack(0x70, p.pid))
			}
			s.send(ack(0x70, held.pid))
			s.stillOpen()
		})
	}
}

func TestSpec5_MessageExpiryNeverGrowsInTransit(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	subs := []*client{connectOK(t, b.addr, v5, "mxg-a"), connectOK(t, b.addr, v5, "mxg-b")}
	for _, s := range subs {
		s.subscribe(1, "mxg/t", 1, 1)
	}
	pub := connectOK(t, b.addr, v5, "mxg-pub")
	// A steady stream for about 2 s, so that messages cross from the publisher's event loop to a subscriber on another
	// loop around many clock ticks (the broker runs two loops here; connections are spread over them).
	const n = 1000
	msg := publishPkt(v5, 0, false, false, "mxg/t", 0, props(pU32(propMessageExpiry, 30)), "x")
	done := make(chan struct{})
	pub.conn.SetWriteDeadline(time.Time{}) // the writer below outlives the deadline of the last send
	go func() {
		defer close(done)
		for i := 1; i <= n; i++ {
			pub.conn.Write(msg)
			time.Sleep(2 * time.Millisecond)
		}
	}()
	// [MQTT-3.3.2-6] the forwarded interval is the received one minus the time waited: never above 30, whichever
	// loop the subscriber is on and however the broker's clock ticks.
	for i := 1; i <= n; i++ {
		for _, s := range subs {
			p := s.expectPublish()
			e, ok := find(p.props, propMessageExpiry)
			if !ok || e.num() > 30 || e.num() < 28 {
				t.Fatalf("%s message %d: Message Expiry Interval %d (present %v), want 28..30", s.name, i, e.num(), ok)
			}
		}
	}
	<-done
}

func TestSpec5_OrderKeptAcrossLoopsUnderFlowControl(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	// Two subscribers, so that one shares the publisher's event loop and one does not; a Receive Maximum of 3 makes
	// the broker queue most messages and release them as PUBACKs come back.
	var subs []*client
	for _, id := range []string{"ord-a", "ord-b"} {
		s := connectWith(t, b.addr, v5, id, connectPkt(v5, flagClean, 60, props(pU16(propReceiveMaximum, 3)), str(id)))
		s.expectConnack5(0, 0)
		s.subscribe(1, "ord/t", 1, 1)
		subs = append(subs, s)
	}
	pub := connectOK(t, b.addr, v5, "ord-pub")
	pub.conn.SetWriteDeadline(time.Time{}) // the writer below outlives the deadline of the last send
	const n = 300
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; i <= n; i++ {
			pub.conn.Write(publishPkt(v5, 1, false, false, "ord/t", uint16(i), nil, fmt.Sprint(i)))
			if i%50 == 0 {
				time.Sleep(10 * time.Millisecond)
			}
		}
	}()
	go func() { // drain the PUBACKs so the publisher's socket never fills
		buf := make([]byte, 4096)
		for {
			pub.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := pub.conn.Read(buf); err != nil {
				return
			}
		}
	}()
	// [MQTT-4.6.0-5/6] same topic, same QoS, one publisher: delivered in the order received, to every subscriber,
	// whatever loop it is on and however long the messages waited for the send quota [MQTT-4.9.0-2].
	next := []int{1, 1}
	for next[0] <= n || next[1] <= n {
		for i, s := range subs {
			if next[i] > n {
				continue
			}
			p := s.expectPublish()
			if p.payload != fmt.Sprint(next[i]) {
				t.Fatalf("%s: got message %q, want %d", s.name, p.payload, next[i])
			}
			s.send(ack(0x40, p.pid))
			next[i]++
		}
	}
	<-done
}

func TestSpec5_SharedSubscriptionRespectsGrantedQoS(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	for _, granted := range []byte{0, 1} {
		t.Run(fmt.Sprintf("granted %d", granted), func(t *testing.T) {
			topic := fmt.Sprintf("shq/%d", granted)
			m := connectOK(t, b.addr, v5, "shq-member")
			m.subscribe(1, "$share/g/"+topic, granted, granted)
			pub := connectOK(t, b.addr, v5, "shq-pub")
			pub.send(publishPkt(v5, 2, false, false, topic, 1, nil, "x"))
			pub.expectAckOK(0x50, 1)
			pub.send(ack(0x62, 1))
			pub.expectReply(0x70, 1, 0)
			// [MQTT-4.8.2-3] the member gets the message at min(published QoS, its granted QoS).
			p := m.expectPublish()
			if p.qos != granted {
				t.Fatalf("shared delivery at QoS %d, want the granted QoS %d", p.qos, granted)
			}
			if granted == 1 {
				m.send(ack(0x40, p.pid))
			}
			m.expectNothing()
		})
	}
}

func TestSpec5_EachSubscriberGetsItsOwnPerSubscriptionFields(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	// Six subscribers: with two event loops at least three share one, so a PUBLISH encoded once per loop must still
	// carry each subscriber's own Subscription Identifier, RETAIN flag and QoS.
	type want struct {
		id     int
		rap    bool
		qos    byte
		client *client
	}
	var subs []*want
	for i := 1; i <= 6; i++ {
		w := &want{id: i * 10, rap: i%2 == 0, qos: byte(i % 3)}
		name := fmt.Sprintf("own-%d", i)
		w.client = connectOK(t, b.addr, v5, name)
		opts := w.qos
		if w.rap {
			opts |= optRetainAsPublished
		}
		w.client.send(subscribePkt(v5, 1, props(pVBI(propSubscriptionID, w.id)), "own/t", opts))
		w.client.expectReply(0x90, 1, w.qos)
		subs = append(subs, w)
	}
	pub := connectOK(t, b.addr, v5, "own-pub")
	pub.send(publishPkt(v5, 2, true, false, "own/t", 1, nil, "x"))
	pub.expectAckOK(0x50, 1)
	pub.send(ack(0x62, 1))
	pub.expectReply(0x70, 1, 0)
	for _, w := range subs {
		p := w.client.expectPublish()
		id, ok := find(p.props, propSubscriptionID)
		// [MQTT-3.3.4-3] its own identifier, [MQTT-3.3.1-12/13] its own RETAIN, [MQTT-3.8.4-8] its own QoS.
		if !ok || id.num() != w.id || count(p.props, propSubscriptionID) != 1 || p.retain != w.rap || p.qos != w.qos {
			t.Fatalf("%s got id %d (present %v), retain %v, QoS %d; want id %d, retain %v, QoS %d", w.client.name,
				id.num(), ok, p.retain, p.qos, w.id, w.rap, w.qos)
		}
	}
}

func TestSpec5_TopicAliasesOnlyToClientsThatAllowThem(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	// Alternate clients that allow aliases with clients that do not, so both kinds share each event loop.
	var with, without []*client
	for i := 0; i < 4; i++ {
		name := fmt.Sprintf("tam-%d", i)
		var c *client
		if i%2 == 0 {
			c = connectWith(t, b.addr, v5, name, connectPkt(v5, flagClean, 60, props(pU16(propTopicAliasMaximum, 5)),
				str(name)))
			with = append(with, c)
		} else {
			c = connectWith(t, b.addr, v5, name, connectClean(v5, name))
			without = append(without, c)
		}
		c.expectConnack5(0, 0)
		c.subscribe(1, "tam/t", 0, 0)
	}
	pub := connectOK(t, b.addr, v5, "tam-pub")
	for i := 0; i < 3; i++ {
		pub.send(publishPkt(v5, 0, false, false, "tam/t", 0, nil, "x"))
	}
	pub.stillOpen()
	for _, c := range without {
		for i := 0; i < 3; i++ {
			// [MQTT-3.1.2-27] no Topic Alias Maximum: the full topic, never an alias.
			c.expect(publishPkt(v5, 0, false, false, "tam/t", 0, nil, "x"))
		}
	}
	for _, c := range with {
		for i := 0; i < 3; i++ {
			p := c.expectPublish()
			if a, ok := find(p.props, propTopicAlias); ok && (a.num() < 1 || a.num() > 5) {
				t.Fatalf("%s: topic alias %d outside 1..5 [MQTT-3.1.2-26]", c.name, a.num())
			}
			if i == 0 && p.topic != "tam/t" {
				t.Fatalf("%s: first PUBLISH has topic %q, want the full name", c.name, p.topic)
			}
		}
	}
}
