package conformance_test

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// Tests where two features meet: versions, sessions, subscriptions and delivery state.

func TestInterplay_CrossVersionDeliveryIsEncodedForTheReceiver(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	s3 := connectOK(t, b.addr, v311, "xv-311")
	s3.subscribe(1, "xv/#", 1, 1)
	s31 := connectOK(t, b.addr, v31, "xv-31")
	s31.subscribe(1, "xv/#", 0, 0)
	s5 := connectOK(t, b.addr, v5, "xv-5")
	s5.subscribe(1, "xv/#", 1, 1)

	// A v5 publication with properties reaches a v3.1.1 client as a plain v3.1.1 PUBLISH (no property block).
	p5 := connectOK(t, b.addr, v5, "xv-pub5")
	p5.send(publishPkt(v5, 1, false, false, "xv/a", 1, props(pUser("k", "v"), pStr(propContentType, "c")), "five"))
	p5.expectReply(0x40, 1, 0)
	s3.expectPublishBytes(func(pid uint16) []byte { return publishPkt(v311, 1, false, false, "xv/a", pid, nil, "five") })
	s31.expect(publishPkt(v31, 0, false, false, "xv/a", 0, nil, "five"))
	got := s5.expectPublish()
	assertPropsContain(t, got.props, []prop{{propUserProperty, cat(str("k"), str("v"))}, {propContentType, str("c")}})

	// A v3.1.1 publication reaches a v5 client with an empty property block.
	p3 := connectOK(t, b.addr, v311, "xv-pub3")
	p3.send(publishPkt(v311, 1, false, false, "xv/b", 1, nil, "three"))
	p3.expect(ack(0x40, 1))
	s5.expectPublishBytes(func(pid uint16) []byte { return publishPkt(v5, 1, false, false, "xv/b", pid, nil, "three") })
}

func TestInterplay_IncomingDupFlagIsNotForwarded(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	sub := connectOK(t, b.addr, v311, "dupfwd-sub")
	sub.subscribe(1, "dupfwd", 1, 1)
	pub := connectOK(t, b.addr, v311, "dupfwd-pub")
	pub.send(publishPkt(v311, 1, false, true, "dupfwd", 1, nil, "resent by its publisher"))
	pub.expect(ack(0x40, 1))
	// [MQTT-3.3.1-3] the outgoing DUP flag depends only on whether the outgoing PUBLISH is a retransmission.
	sub.expectPublishBytes(func(pid uint16) []byte {
		return publishPkt(v311, 1, false, false, "dupfwd", pid, nil, "resent by its publisher")
	})
}

func TestInterplay_v5_ResubscribeReplacesSubscriptionIdentifier(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c := connectOK(t, b.addr, v5, "resub-id")
	c.send(subscribePkt(v5, 1, props(pVBI(propSubscriptionID, 1)), "ri/t", byte(0)))
	c.expectSuback(1, 0)
	c.send(subscribePkt(v5, 2, props(pVBI(propSubscriptionID, 2)), "ri/t", byte(0)))
	c.expectSuback(2, 0)
	pub := connectOK(t, b.addr, v5, "resub-id-pub")
	pub.send(publishPkt(v5, 0, false, false, "ri/t", 0, nil, "x"))
	// [MQTT-3.8.4-3] the new subscription replaces the old one completely, identifier included.
	c.expect(publishPkt(v5, 0, false, false, "ri/t", 0, props(pVBI(propSubscriptionID, 2)), "x"))
	c.expectNothing()
}

func TestInterplay_UnsubscribeOneOfOverlappingSubscriptions(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c := connectOK(t, b.addr, v311, "unsub-overlap")
	c.subscribe(1, "uo/+", 1, 1)
	c.subscribe(2, "uo/#", 0, 0)
	c.send(unsubscribePkt(v311, 3, "uo/+"))
	c.expect(ack(0xB0, 3))
	pub := connectOK(t, b.addr, v311, "unsub-overlap-pub")
	pub.send(publishPkt(v311, 1, false, false, "uo/t", 1, nil, "x"))
	pub.expect(ack(0x40, 1))
	// Only "uo/#" (QoS 0) remains.
	c.expect(publishPkt(v311, 0, false, false, "uo/t", 0, nil, "x"))
	c.expectNothing()
}

func TestInterplay_ResumedSessionGetsNoRetainedMessagesAgain(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	pub := connectOK(t, b.addr, v311, "rr-pub")
	pub.send(publishPkt(v311, 0, true, false, "rr/t", 0, nil, "kept"))
	pub.stillOpen()
	s := connectPersistent(t, b.addr, v311, "rr", 0)
	s.subscribe(1, "rr/t", 0, 0)
	s.expect(publishPkt(v311, 0, true, false, "rr/t", 0, nil, "kept"))
	s.send(disconnect)
	s.expectClosed()
	// Retained messages go with a SUBSCRIBE; resuming the session is not one.
	s2 := connectPersistent(t, b.addr, v311, "rr", 1)
	s2.expectNothing()
	pub.send(publishPkt(v311, 0, false, false, "rr/t", 0, nil, "live"))
	s2.expect(publishPkt(v311, 0, false, false, "rr/t", 0, nil, "live"))
}

func TestInterplay_v5_QueuedMessagesHonourReceiveMaximumOnResume(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	sessionProps := func(extra ...[]byte) []byte {
		return props(append([][]byte{pU32(propSessionExpiry, 60)}, extra...)...)
	}
	s := connectWith(t, b.addr, v5, "rm-resume", connectPkt(v5, flagClean, 60, sessionProps(), str("rm-resume")))
	s.expectConnack5(0, 0)
	s.subscribe(1, "rmr/t", 1, 1)
	s.send(disconnect)
	s.expectClosed()
	pub := connectOK(t, b.addr, v5, "rm-resume-pub")
	for i := 1; i <= 4; i++ {
		pub.send(publishPkt(v5, 1, false, false, "rmr/t", uint16(i), nil, fmt.Sprint(i)))
		pub.expectReply(0x40, uint16(i), 0)
	}
	s2 := connectWith(t, b.addr, v5, "rm-resume", connectPkt(v5, 0, 60, sessionProps(pU16(propReceiveMaximum, 1)),
		str("rm-resume")))
	s2.expectConnack5(1, 0)
	// [MQTT-3.3.4-9] one unacknowledged PUBLISH at a time, in order.
	var got []string
	for i := 1; i <= 4; i++ {
		p := s2.expectPublish()
		got = append(got, p.payload)
		s2.expectNothing()
		s2.send(ack(0x40, p.pid))
	}
	if !slices.Equal(got, []string{"1", "2", "3", "4"}) {
		t.Fatalf("delivered %v, want 1 2 3 4", got)
	}
}

func TestInterplay_v5_TakeoverWithinWillDelayKeepsWillUnpublished(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	watcher := connectOK(t, b.addr, v5, "twd-watch")
	watcher.subscribe(1, "twd/will", 0, 0)
	expiry := props(pU32(propSessionExpiry, 60))
	first := connectWith(t, b.addr, v5, "twd", connectWill(v5, "twd", 0, false, "twd/will", "gone", expiry,
		props(pU32(propWillDelay, 5))))
	first.expectConnack5(0, 0)
	second := connectWith(t, b.addr, v5, "twd", connectPkt(v5, 0, 60, expiry, str("twd")))
	second.expectConnack5(1, 0)
	first.expectDisconnect(0x8E)
	// [MQTT-3.1.2-8 (v5)]: the session continues on a new connection before the Will Delay Interval, so the will
	// is not published.
	if pk, err := watcher.read(1500 * time.Millisecond); err == nil {
		t.Fatalf("will published on takeover within the will delay: % x", pk)
	}
}

func TestInterplay_InboundQoS2StateSurvivesReconnect(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	for _, level := range []byte{v311, v5} {
		t.Run(levelName(level), func(t *testing.T) {
			topic := "q2in/" + levelName(level)
			sub := connectOK(t, b.addr, level, "q2in-sub-"+levelName(level))
			sub.subscribe(1, topic, 2, 2)
			id := "q2in-pub-" + levelName(level)
			pub := connectPersistent(t, b.addr, level, id, 0)
			pub.send(publishPkt(level, 2, false, false, topic, 9, nil, "exactly once"))
			pub.expectReply(0x50, 9, 0)
			pub.conn.Close() // PUBREC received, PUBREL not yet sent

			// On resume the publisher re-sends the PUBLISH with DUP (as a client that never saw the PUBREC would),
			// then the PUBREL: the session kept the packet id, so both are answered without a second delivery.
			pub2 := connectPersistent(t, b.addr, level, id, 1)
			pub2.send(publishPkt(level, 2, false, true, topic, 9, nil, "exactly once"))
			pub2.expectReply(0x50, 9, 0)
			pub2.send(ack(0x62, 9))
			pub2.expectReply(0x70, 9, 0)

			p := sub.expectPublish()
			if p.payload != "exactly once" {
				t.Fatalf("got %q", p.payload)
			}
			sub.send(ack(0x50, p.pid))
			sub.expectReply(0x62, p.pid, 0)
			sub.send(ack(0x70, p.pid))
			sub.expectNothing() // [MQTT-4.3.3-10 (v5)] no duplicate delivery
		})
	}
}
