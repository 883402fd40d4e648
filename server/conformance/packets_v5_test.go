package conformance_test

import (
	"testing"
	"time"
)

// Tests for MQTT 5.0 statements about acknowledgements, properties and retransmission that the rest of the suite
// did not pin down.

// noProblemProps fails the test when an acknowledgement carries a Reason String or User Property although the client
// set Request Problem Information to 0 [MQTT-3.1.2-29].
func noProblemProps(t *testing.T, what string, r reply) {
	t.Helper()
	for _, p := range r.props {
		if p.id == propReasonString || p.id == propUserProperty {
			t.Fatalf("%s carries property 0x%02x although Request Problem Information is 0", what, p.id)
		}
	}
}

func TestSpec5_RequestProblemInformation0_NoReasonStringOnAnyAck(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c := connectWith(t, b.addr, v5, "rpi0", connectPkt(v5, flagClean, 60, props(pByte(propRequestProblemInfo, 0)),
		str("rpi0")))
	c.expectConnack5(0, 0)

	// PUBACK to a QoS 1 PUBLISH nobody subscribed to (0x00 or 0x10).
	c.send(publishPkt(v5, 1, false, false, "rpi0/none", 1, nil, "x"))
	noProblemProps(t, "PUBACK", c.expectAckOK(0x40, 1))
	// PUBREC and PUBCOMP of a QoS 2 flow.
	c.send(publishPkt(v5, 2, false, false, "rpi0/none", 2, nil, "x"))
	noProblemProps(t, "PUBREC", c.expectAckOK(0x50, 2))
	c.send(ackRC(0x62, 2, 0))
	noProblemProps(t, "PUBCOMP", c.expectReply(0x70, 2, 0))
	// PUBCOMP 0x92 for an unknown packet id: an error, still no Reason String.
	c.send(ackRC(0x62, 99, 0))
	if reference {
		noProblemProps(t, "PUBCOMP", c.expectReply(0x70, 99, 0x00)) // mosquitto 2.0.11 answers 0x00
	} else {
		noProblemProps(t, "PUBCOMP 0x92", c.expectReply(0x70, 99, 0x92))
	}
	if reference {
		return // mosquitto 2.0.11 answers an invalid filter with DISCONNECT 0x81, not SUBACK 0x8F
	}
	// SUBACK with a refused filter.
	c.send(subscribePkt(v5, 3, nil, "a/#/b", byte(0)))
	noProblemProps(t, "SUBACK 0x8F", c.expectReply(0x90, 3, 0x8F))
	// UNSUBACK 0x11 (No subscription existed).
	c.send(unsubscribePkt(v5, 4, "rpi0/never"))
	noProblemProps(t, "UNSUBACK 0x11", c.expectReply(0xB0, 4, 0x11))
}

func TestSpec5_PropertyNotValidForPacket_Malformed(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	peer := connectOK(t, b.addr, v5, "wrongprop-peer")
	for _, tc := range []struct {
		name   string
		packet []byte
	}{
		{"PUBLISH with Session Expiry Interval", publishPkt(v5, 0, false, false, "wp/t", 0,
			props(pU32(propSessionExpiry, 5)), "x")},
		{"PUBLISH with Assigned Client Identifier", publishPkt(v5, 0, false, false, "wp/t", 0,
			props(pStr(propAssignedClientID, "me")), "x")},
		{"PUBLISH with Receive Maximum", publishPkt(v5, 1, false, false, "wp/t", 1,
			props(pU16(propReceiveMaximum, 5)), "x")},
		{"SUBSCRIBE with Topic Alias", subscribePkt(v5, 1, props(pU16(propTopicAlias, 1)), "wp/t", byte(0))},
		{"SUBSCRIBE with Message Expiry Interval", subscribePkt(v5, 1, props(pU32(propMessageExpiry, 1)), "wp/t",
			byte(0))},
		{"UNSUBSCRIBE with Subscription Identifier", pkt(0xA2, u16(1), props(pVBI(propSubscriptionID, 1)),
			str("wp/t"))},
		{"PUBACK with Topic Alias", pkt(0x40, u16(1), []byte{0}, props(pU16(propTopicAlias, 1)))},
		{"PUBREL with Content Type", pkt(0x62, u16(1), []byte{0}, props(pStr(propContentType, "t")))},
		{"DISCONNECT with Topic Alias", pkt(0xE0, []byte{0}, props(pU16(propTopicAlias, 1)))},
		{"DISCONNECT with Will Delay Interval", pkt(0xE0, []byte{0}, props(pU32(propWillDelay, 1)))},
		{"PINGREQ with a body", x("c0 01 00")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if reference && tc.packet[0] == 0xC0 {
				t.Skip("mosquitto 2.0.11 ignores a PINGREQ body")
			}
			c := connectOK(t, b.addr, v5, "wrongprop")
			c.send(tc.packet)
			// §2.2.2.2: a property identifier not valid for its packet type makes the packet malformed: DISCONNECT
			// 0x81 then the close [MQTT-4.13.1-1] (0x82 tolerated).
			c.expectDisconnectOneOf(0x81, 0x82)
			peer.stillOpen()
		})
	}
	undisturbed(t, b.addr, connectOK(t, b.addr, v311, "wrongprop-after"))
}

func TestSpec5_SubscriptionIdentifierRules_ProtocolError(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	for _, tc := range []struct {
		name string
		p5   []byte
	}{
		// §3.8.2.1.2: "It is a Protocol Error if the Subscription Identifier has a value of 0" and "to include the
		// Subscription Identifier more than once".
		{"value 0", props(pVBI(propSubscriptionID, 0))},
		{"twice", props(pVBI(propSubscriptionID, 1), pVBI(propSubscriptionID, 2))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := connectOK(t, b.addr, v5, "subid")
			c.send(subscribePkt(v5, 1, tc.p5, "sid/t", byte(0)))
			c.expectDisconnectOneOf(0x82, 0x81)
		})
	}
}

func TestSpec5_SharedSubscriptionWithNoLocal_ProtocolError(t *testing.T) {
	t.Parallel()
	if reference {
		t.Skip("mosquitto 2.0.11 grants No Local on a shared subscription")
	}
	b := startBroker(t)
	c := connectOK(t, b.addr, v5, "sharednl")
	c.send(subscribePkt(v5, 1, nil, "$share/g/nl/t", optNoLocal))
	// [MQTT-3.8.3-4] No Local 1 on a Shared Subscription is a Protocol Error.
	c.expectDisconnectOneOf(0x82)
}

func TestSpec5_RetainedAtSubscribeHasRetainFlagWhateverRetainAsPublished(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	pub := connectOK(t, b.addr, v5, "rflag-pub")
	pub.send(publishPkt(v5, 1, true, false, "rflag/t", 1, nil, "kept"))
	pub.expectPubackOK(1)
	for _, opts := range []byte{0, optRetainAsPublished} {
		c := connectOK(t, b.addr, v5, "rflag-sub")
		c.subscribe(1, "rflag/t", opts, 0)
		// §3.3.1.3 (3.1.1: [MQTT-3.3.1-8]): a message sent because of a new subscription has RETAIN 1 whether or
		// not Retain As Published is set, which governs forwarded messages only [MQTT-3.3.1-12/13].
		c.expect(publishPkt(v5, 0, true, false, "rflag/t", 0, nil, "kept"))
		c.send(disconnect)
		c.expectClosed()
	}
}

func TestSpec5_ResubscribeResendsRetainedPerRetainHandling(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	pub := connectOK(t, b.addr, v5, "resr-pub")
	pub.send(publishPkt(v5, 0, true, false, "resr/t", 0, nil, "kept"))
	pub.stillOpen()
	c := connectOK(t, b.addr, v5, "resr")
	c.subscribe(1, "resr/t", 0, 0)
	c.expect(publishPkt(v5, 0, true, false, "resr/t", 0, nil, "kept"))
	// [MQTT-3.8.4-3] replacing a subscription with Retain Handling 0 re-sends the retained message.
	c.subscribe(2, "resr/t", 1, 1)
	c.expect(publishPkt(v5, 0, true, false, "resr/t", 0, nil, "kept"))
	// Retain Handling 1: sent only if the subscription did not exist [MQTT-3.3.1-10]; it does now.
	c.subscribe(3, "resr/t", optRetainHandling1, 0)
	c.expectNothing()
}

func TestSpec5_NoRetransmissionOnALiveConnection(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	s := connectOK(t, b.addr, v5, "noretry")
	s.subscribe(1, "nr/t", 1, 1)
	pub := connectOK(t, b.addr, v5, "noretry-pub")
	pub.send(publishPkt(v5, 1, false, false, "nr/t", 1, nil, "once"))
	pub.expectPubackOK(1)
	p := s.expectPublish()
	if p.dup || p.payload != "once" {
		t.Fatalf("got %+v, want the first delivery without DUP", p)
	}
	// [MQTT-4.4.0-1] v5: a PUBLISH is re-sent only when the client reconnects, never on the same connection.
	time.Sleep(1500 * time.Millisecond)
	s.expectNothing()
	s.send(ack(0x40, p.pid))
	s.stillOpen()
}

func TestSpec5_UnsubscribeCompletesStartedQoS2Delivery(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	for _, level := range []byte{v311, v5} {
		t.Run(levelName(level), func(t *testing.T) {
			topic := "uq2/" + levelName(level)
			s := connectOK(t, b.addr, level, "uq2")
			s.subscribe(1, topic, 2, 2)
			pub := connectOK(t, b.addr, level, "uq2-pub")
			pub.send(publishPkt(level, 2, false, false, topic, 1, nil, "started"))
			pub.expectAckOK(0x50, 1)
			pub.send(ack(0x62, 1))
			pub.expectReply(0x70, 1, 0)
			p := s.expectPublish()
			s.send(ack(0x50, p.pid))
			s.send(unsubscribePkt(level, 2, topic))
			// [MQTT-3.10.4-3] the Server completes the delivery it started: PUBREL follows (in either order with
			// the UNSUBACK, which may arrive first).
			var gotPubrel, gotUnsuback bool
			for !(gotPubrel && gotUnsuback) {
				pk := s.next()
				switch pk[0] {
				case 0x62:
					r, err := parseReply(pk, level)
					if err != nil || r.pid != p.pid {
						t.Fatalf("got PUBREL % x, want packet id %d", pk, p.pid)
					}
					gotPubrel = true
				case 0xB0:
					gotUnsuback = true
				default:
					t.Fatalf("got % x, want PUBREL and UNSUBACK", pk)
				}
			}
			s.send(ack(0x70, p.pid))
			s.stillOpen()
		})
	}
}

func TestSpec5_ValidPropertiesInEveryClientPacketAccepted(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	watcher := connectOK(t, b.addr, v5, "vp-watch")
	watcher.subscribe(1, "vp/will", 0, 0)
	user := pUser("k", "v")
	reason := pStr(propReasonString, "because")
	c := connectWith(t, b.addr, v5, "vp", connectWill(v5, "vp", 0, false, "vp/will", "w",
		props(user, pU32(propSessionExpiry, 0), pU16(propReceiveMaximum, 10), pU32(propMaximumPacketSize, 4096),
			pU16(propTopicAliasMaximum, 0), pByte(0x19, 0), pByte(propRequestProblemInfo, 1)),
		props(user, pU32(propWillDelay, 0), pByte(propPayloadFormat, 1), pU32(propMessageExpiry, 60),
			pStr(propContentType, "text/plain"), pStr(propResponseTopic, "vp/r"), pStr(propCorrelationData, "c"))))
	c.expectConnack5(0, 0)
	// SUBSCRIBE and UNSUBSCRIBE may carry User Properties (and SUBSCRIBE a Subscription Identifier), §3.8.2.1 and
	// §3.10.2.1.
	c.send(subscribePkt(v5, 1, props(pVBI(propSubscriptionID, 7), user), "vp/t", byte(2)))
	c.expectReply(0x90, 1, 2)
	// PUBLISH with every property a client may send.
	c.send(publishPkt(v5, 2, false, false, "vp/t", 2, props(pByte(propPayloadFormat, 1), pU32(propMessageExpiry, 60),
		pStr(propContentType, "text/plain"), pStr(propResponseTopic, "vp/r"), pStr(propCorrelationData, "c"), user),
		"hello"))
	c.expectAckOK(0x50, 2)
	// PUBREL with a Reason String and User Property, §3.6.2.2.
	c.send(pkt(0x62, u16(2), []byte{0}, props(reason, user)))
	// The PUBCOMP and the delivery to this client's own subscription, in either order (the Server may deliver onward
	// on PUBLISH or on PUBREL, §4.3.3).
	p := c.expectAckAndOwnDelivery(0x70, 2)
	if p.payload != "hello" || p.qos != 2 {
		t.Fatalf("got %+v, want the QoS 2 message back", p)
	}
	// PUBREC and PUBCOMP from the client with properties, §3.5.2.2 and §3.7.2.2.
	c.send(pkt(0x50, u16(p.pid), []byte{0}, props(reason, user)))
	c.expectReply(0x62, p.pid, 0)
	c.send(pkt(0x70, u16(p.pid), []byte{0}, props(reason, user)))
	// PUBACK with properties, §3.4.2.2.
	c.send(subscribePkt(v5, 3, nil, "vp/one", byte(1)))
	c.expectReply(0x90, 3, 1)
	c.send(publishPkt(v5, 1, false, false, "vp/one", 4, nil, "one"))
	q := c.expectAckAndOwnDelivery(0x40, 4)
	c.send(pkt(0x40, u16(q.pid), []byte{0}, props(reason, user)))
	c.send(pkt(0xA2, u16(5), props(user), str("vp/t")))
	c.expectReply(0xB0, 5, 0)
	// DISCONNECT 0x00 with a Reason String and User Property, §3.14.2.2: a normal disconnection, will discarded.
	c.send(disconnect5(0, reason, user))
	c.expectClosed()
	watcher.expectNothing()
}

func TestSpec5_ServerTopicAliasesStartFreshOnEachConnection(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	pub := connectOK(t, b.addr, v5, "fresh-pub")
	for round := 0; round < 2; round++ {
		c := connectWith(t, b.addr, v5, "fresh", connectPkt(v5, flagClean, 60, props(pU16(propTopicAliasMaximum, 3)),
			str("fresh")))
		c.expectConnack5(0, 0)
		c.subscribe(1, "fresh/#", 0, 0)
		aliases := map[int]string{}
		for i := 0; i < 4; i++ {
			pub.send(publishPkt(v5, 0, false, false, "fresh/topic", 0, nil, "x"))
			p := c.expectPublish()
			a, ok := find(p.props, propTopicAlias)
			switch {
			case !ok && p.topic == "fresh/topic":
			case ok && p.topic != "":
				aliases[a.num()] = p.topic
			case ok && aliases[a.num()] == "fresh/topic":
			default:
				// [MQTT-3.3.2-7] mappings do not survive a connection: an empty topic may only use an alias this
				// connection set.
				t.Fatalf("round %d message %d: topic %q with alias %v, but this connection mapped %v", round, i,
					p.topic, a.num(), aliases)
			}
		}
		c.send(disconnect)
		c.expectClosed()
	}
}

// expectAckAndOwnDelivery reads, in either order, the acknowledgement first/pid (success) of a PUBLISH the client
// sent to a topic it subscribes to itself and the delivery of that message, which it returns.
func (c *client) expectAckAndOwnDelivery(first byte, pid uint16) publish {
	c.t.Helper()
	var p publish
	var acked, delivered bool
	for !(acked && delivered) {
		pk := c.next()
		switch {
		case pk[0] == first && !acked:
			r, err := parseReply(pk, c.level)
			if err != nil || r.pid != pid || (r.reasons[0] != 0 && r.reasons[0] != 0x10) {
				c.t.Fatalf("%s: got % x (%v), want 0x%02x %d with success", c.name, pk, err, first, pid)
			}
			acked = true
		case pk[0]>>4 == 3 && !delivered:
			var err error
			if p, err = parsePublish(pk, c.level); err != nil {
				c.t.Fatalf("%s: %v", c.name, err)
			}
			delivered = true
		default:
			c.t.Fatalf("%s: got % x, want 0x%02x %d and the PUBLISH", c.name, pk, first, pid)
		}
	}
	return p
}

func TestSpec5_RetainedMessageKeepsItsProperties(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	sent := []prop{
		{propPayloadFormat, []byte{1}},
		{propContentType, str("text/plain")},
		{propResponseTopic, str("rk/reply")},
		{propCorrelationData, str("\x00\x01c")},
		{propUserProperty, cat(str("b"), str("2"))},
		{propUserProperty, cat(str("a"), str("1"))},
	}
	var block []byte
	for _, p := range sent {
		block = append(block, p.id)
		block = append(block, p.val...)
	}
	pub := connectOK(t, b.addr, v5, "rk-pub")
	pub.send(publishPkt(v5, 1, true, false, "rk/t", 1, cat(vbi(len(block)), block), "kept"))
	pub.expectPubackOK(1)
	c := connectOK(t, b.addr, v5, "rk-sub")
	c.subscribe(1, "rk/t", 1, 1)
	// [MQTT-3.3.2-4/15/16/17/18/20]: "all subscribers receiving the Application Message" includes one that gets it
	// as a retained message: the properties arrive unaltered, User Properties in order.
	p := c.expectPublish()
	var got []prop
	for _, pr := range p.props {
		if pr.id != propSubscriptionID && pr.id != propTopicAlias && pr.id != propMessageExpiry {
			got = append(got, pr)
		}
	}
	if len(got) != len(sent) {
		t.Fatalf("retained delivery carries properties %v, want %v", got, sent)
	}
	for _, want := range sent {
		if find2(got, want) < 0 {
			t.Fatalf("retained delivery lost property 0x%02x % x: got %v", want.id, want.val, got)
		}
	}
	if find2(got, sent[4]) > find2(got, sent[5]) {
		t.Fatalf("User Properties reordered: got %v", got)
	}
	if !p.retain || p.payload != "kept" {
		t.Fatalf("got %+v, want the retained message", p)
	}
	c.send(ack(0x40, p.pid))
}

// find2 returns the index of a property with the same id and value, or -1.
func find2(ps []prop, want prop) int {
	for i, p := range ps {
		if p.id == want.id && string(p.val) == string(want.val) {
			return i
		}
	}
	return -1
}
