package conformance_test

import (
	"testing"
)

func TestRules_RefusedConnectStopsProcessing(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	watcher := connectOK(t, b.addr, v311, "refused-watch")
	watcher.subscribe(1, "refused/#", 0, 0)
	c := dial(t, b.addr, v311, "refused")
	// A CONNECT the broker must refuse (0x02), with a PUBLISH right behind it in the same write.
	c.send(connectPkt(v311, 0, 60, nil, str("")), publishPkt(v311, 0, false, false, "refused/x", 0, nil, "leak"))
	c.expectRefused(0x02)
	// [MQTT-3.1.4-6 (v5)] / 3.1.1 §3.1.4: nothing after a refused CONNECT is processed.
	watcher.expectNothing()
}

func TestRules_NonRetainedPublishLeavesRetainedMessage(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	pub := connectOK(t, b.addr, v311, "keep-pub")
	pub.send(publishPkt(v311, 0, true, false, "keep/t", 0, nil, "retained"))
	pub.send(publishPkt(v311, 0, false, false, "keep/t", 0, nil, "live"))
	pub.stillOpen()
	s := connectOK(t, b.addr, v311, "keep-sub")
	s.subscribe(1, "keep/t", 0, 0)
	// [MQTT-3.3.1-8 (v5)] / [MQTT-3.3.1-7 (3.1.1)] RETAIN 0 neither stores nor replaces.
	s.expect(publishPkt(v311, 0, true, false, "keep/t", 0, nil, "retained"))
}

func TestRules_SamePacketIDAfterAckIsANewPublication(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	sub := connectOK(t, b.addr, v311, "reuse-sub")
	sub.subscribe(1, "reuse/#", 0, 0)
	pub := connectOK(t, b.addr, v311, "reuse-pub")
	// [MQTT-4.3.2-5 (v5)] after PUBACK the same id (even with DUP) is a new publication.
	pub.send(publishPkt(v311, 1, false, false, "reuse/1", 3, nil, "first"))
	pub.expect(ack(0x40, 3))
	pub.send(publishPkt(v311, 1, false, true, "reuse/1", 3, nil, "second"))
	pub.expect(ack(0x40, 3))
	sub.expect(publishPkt(v311, 0, false, false, "reuse/1", 0, nil, "first"))
	sub.expect(publishPkt(v311, 0, false, false, "reuse/1", 0, nil, "second"))
	// [MQTT-4.3.3-12 (v5)] likewise after PUBCOMP for QoS 2.
	for _, payload := range []string{"third", "fourth"} {
		pub.send(publishPkt(v311, 2, false, false, "reuse/2", 4, nil, payload))
		pub.expect(ack(0x50, 4))
		pub.send(ack(0x62, 4))
		pub.expect(ack(0x70, 4))
		sub.expect(publishPkt(v311, 0, false, false, "reuse/2", 0, nil, payload))
	}
}

func TestRules_UnsubscribeComparesFiltersCharacterByCharacter(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c := connectOK(t, b.addr, v5, "unsub-exact")
	c.subscribe(1, "ux/+", 0, 0)
	c.send(unsubscribePkt(v5, 2, "ux/a"))
	c.expectReply(0xB0, 2, 0x11) // [MQTT-3.10.4-1] "ux/a" is not the subscription "ux/+"
	pub := connectOK(t, b.addr, v5, "unsub-exact-pub")
	pub.send(publishPkt(v5, 0, false, false, "ux/a", 0, nil, "still"))
	c.expect(publishPkt(v5, 0, false, false, "ux/a", 0, nil, "still"))
}

func TestRules_ByteOrderMarkIsNotStripped(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	bom := "\uFEFFbom"
	withBOM := connectOK(t, b.addr, v311, "bom-with")
	withBOM.subscribe(1, bom, 0, 0)
	without := connectOK(t, b.addr, v311, "bom-without")
	without.subscribe(1, "bom", 0, 0)
	pub := connectOK(t, b.addr, v311, "bom-pub")
	pub.send(publishPkt(v311, 0, false, false, bom, 0, nil, "x"))
	// [MQTT-1.5.4-3 (v5)] / [MQTT-1.5.3-3 (3.1.1)] U+FEFF is a character like any other; [MQTT-4.7.3-4] no
	// normalisation when matching.
	withBOM.expect(publishPkt(v311, 0, false, false, bom, 0, nil, "x"))
	without.expectNothing()
}

func TestRules_v5_TopicAliasNotCarriedAcrossConnections(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c := connectOK(t, b.addr, v5, "alias-carry")
	c.send(publishPkt(v5, 0, false, false, "carry/t", 0, props(pU16(propTopicAlias, 1)), "a"))
	c.stillOpen()
	c.send(disconnect)
	c.expectClosed()
	c2 := connectOK(t, b.addr, v5, "alias-carry")
	c2.send(publishPkt(v5, 0, false, false, "", 0, props(pU16(propTopicAlias, 1)), "b"))
	// [MQTT-3.3.2-7] mappings die with the connection: alias 1 is unknown now, a protocol error.
	c2.expectDisconnectOneOf(0x82, 0x94)
}

func TestRules_v5_InvalidSharedSubscriptionFilters(t *testing.T) {
	t.Parallel()
	if reference {
		t.Skip("mosquitto 2.0.11 accepts several of these as plain filters")
	}
	b := startBroker(t)
	for _, f := range []string{"$share/", "$share//a", "$share/g+/a", "$share/g#/a", "$share/g"} {
		t.Run(f, func(t *testing.T) {
			c := connectOK(t, b.addr, v5, "badshare")
			c.send(subscribePkt(v5, 1, nil, f, byte(0)))
			// [MQTT-4.8.2-1/2] invalid: SUBACK 0x8F (Topic Filter invalid) — or a protocol error close.
			pk, err := c.read(wait)
			if err != nil {
				if isClosed(err) && len(pk) == 0 {
					return
				}
				t.Fatalf("%s", describe(err))
			}
			r, perr := parseReply(pk, v5)
			switch {
			case perr == nil && pk[0] == 0x90 && len(r.reasons) == 1 && r.reasons[0] >= 0x80:
			case perr == nil && pk[0] == 0xE0 && r.reasons[0] >= 0x80:
				c.expectClosed()
			default:
				t.Fatalf("got % x, want SUBACK 0x8F or DISCONNECT", pk)
			}
		})
	}
}

func TestRules_v5_SharedSubscriptionGetsNoRetainedMessages(t *testing.T) {
	t.Parallel()
	if reference {
		t.Skip("mosquitto 2.0.11 sends retained messages to shared subscriptions")
	}
	b := startBroker(t)
	pub := connectOK(t, b.addr, v5, "shret-pub")
	pub.send(publishPkt(v5, 0, true, false, "shret/t", 0, nil, "r"))
	pub.stillOpen()
	c := connectOK(t, b.addr, v5, "shret")
	c.subscribe(1, "$share/g/shret/t", 0, 0)
	// MQTT 5.0 §3.3.1.3: retained messages are sent "when a new Non-shared Subscription is made"; a Shared
	// Subscription gets none (the group, not the member that happens to subscribe, owns the stream).
	c.expectNothing()
}
