package conformance_test

import (
	"testing"
)

func TestRetain_SetReplaceClear_DeliveredOnSubscribeWithRetainFlag(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	for _, level := range []byte{v311, v5} {
		t.Run(levelName(level), func(t *testing.T) {
			topic := "retain/" + levelName(level)
			pub := connectOK(t, b.addr, level, "rpub-"+levelName(level))

			pub.send(publishPkt(level, 0, true, false, topic, 0, nil, "v1"))
			pub.stillOpen() // the broker has handled the QoS 0 publish (it has no ack) before anyone subscribes
			s1 := connectOK(t, b.addr, level, "rs1-"+levelName(level))
			s1.subscribe(1, topic, 0, 0)
			// [MQTT-3.3.1-6] stored and sent to new subscribers with RETAIN 1 [MQTT-3.3.1-8].
			s1.expect(publishPkt(level, 0, true, false, topic, 0, nil, "v1"))

			pub.send(publishPkt(level, 0, true, false, topic, 0, nil, "v2"))
			// A live publish goes to the existing subscriber with RETAIN 0 [MQTT-3.3.1-9]; v5 without Retain
			// As Published likewise [MQTT-3.3.1-12].
			s1.expect(publishPkt(level, 0, false, false, topic, 0, nil, "v2"))
			s2 := connectOK(t, b.addr, level, "rs2-"+levelName(level))
			s2.subscribe(1, topic, 0, 0)
			// [MQTT-3.3.1-5] the new message replaces the retained one.
			s2.expect(publishPkt(level, 0, true, false, topic, 0, nil, "v2"))
			s2.expectNothing()

			// A zero-byte retained message clears it [MQTT-3.3.1-10] and is forwarded as a normal message
			// [MQTT-3.3.1-11 / 3.1.1 §3.3.1.3].
			pub.send(publishPkt(level, 0, true, false, topic, 0, nil, ""))
			s1.expect(publishPkt(level, 0, false, false, topic, 0, nil, ""))
			s3 := connectOK(t, b.addr, level, "rs3-"+levelName(level))
			s3.subscribe(1, topic, 0, 0)
			s3.expectNothing()
		})
	}
}

func TestRetain_QoSIsMinimumOfRetainedAndSubscription(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	pub := connectOK(t, b.addr, v311, "rq-pub")
	pub.send(publishPkt(v311, 1, true, false, "rq/a", 1, nil, "q1"))
	pub.expect(ack(0x40, 1))
	for _, tc := range []struct{ sub, want byte }{{0, 0}, {1, 1}, {2, 1}} {
		s := connectOK(t, b.addr, v311, "rq-sub")
		s.subscribe(1, "rq/#", tc.sub, tc.sub)
		s.expectPublishBytes(func(pid uint16) []byte {
			return publishPkt(v311, tc.want, true, false, "rq/a", pid, nil, "q1")
		})
	}
}

func TestRetain_WildcardSubscribeGetsEveryMatchingRetained(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	pub := connectOK(t, b.addr, v311, "rw-pub")
	topics := []string{"rw/a", "rw/b/c", "rw/d", "other/x"}
	for _, tp := range topics {
		pub.send(publishPkt(v311, 0, true, false, tp, 0, nil, tp))
	}
	pub.stillOpen()
	s := connectOK(t, b.addr, v311, "rw-sub")
	s.subscribe(1, "rw/#", 0, 0)
	got := map[string]bool{}
	for i := 0; i < 3; i++ {
		p := s.expectPublish()
		if !p.retain || p.payload != p.topic {
			t.Fatalf("got %+v, want a retained message", p)
		}
		got[p.topic] = true
	}
	if len(got) != 3 || got["other/x"] {
		t.Fatalf("got retained %v, want rw/a, rw/b/c, rw/d", got)
	}
	s.expectNothing()
}

func TestRetain_v5_RetainAsPublished(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	rap := connectOK(t, b.addr, v5, "rap")
	rap.subscribe(1, "rap/t", optRetainAsPublished, 0)
	plain := connectOK(t, b.addr, v5, "rap-plain")
	plain.subscribe(1, "rap/t", 0, 0)
	pub := connectOK(t, b.addr, v5, "rap-pub")
	pub.send(publishPkt(v5, 0, true, false, "rap/t", 0, nil, "kept"))
	// [MQTT-3.3.1-13] Retain As Published 1: the RETAIN flag as published; 0: cleared [MQTT-3.3.1-12].
	rap.expect(publishPkt(v5, 0, true, false, "rap/t", 0, nil, "kept"))
	plain.expect(publishPkt(v5, 0, false, false, "rap/t", 0, nil, "kept"))
}

func TestRetain_v5_RetainHandling(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	pub := connectOK(t, b.addr, v5, "rh-pub")
	pub.send(publishPkt(v5, 0, true, false, "rh/t", 0, nil, "r"))
	pub.stillOpen()
	retained := publishPkt(v5, 0, true, false, "rh/t", 0, nil, "r")

	// Retain Handling 0: sent at every subscribe, also when the subscription exists [MQTT-3.3.1-9 (v5)].
	c0 := connectOK(t, b.addr, v5, "rh0")
	c0.subscribe(1, "rh/t", 0, 0)
	c0.expect(retained)
	c0.subscribe(2, "rh/t", 0, 0)
	c0.expect(retained)

	// Retain Handling 1: sent only if the subscription did not exist [MQTT-3.3.1-10 (v5)].
	c1 := connectOK(t, b.addr, v5, "rh1")
	c1.subscribe(1, "rh/t", optRetainHandling1, 0)
	c1.expect(retained)
	c1.subscribe(2, "rh/t", optRetainHandling1, 0)
	c1.expectNothing()

	// Retain Handling 2: never sent at subscribe [MQTT-3.3.1-11 (v5)].
	c2 := connectOK(t, b.addr, v5, "rh2")
	c2.subscribe(1, "rh/t", optRetainHandling2, 0)
	c2.expectNothing()

	// Retain Handling 3 is a protocol error: Malformed Packet (§3.8.3.1).
	c3 := connectOK(t, b.addr, v5, "rh3")
	c3.send(subscribePkt(v5, 1, nil, "rh/t", byte(0x30)))
	c3.expectDisconnectOneOf(0x81, 0x82)
}

// expectDisconnectOneOf requires the close, preceded (v5) by a DISCONNECT with one of the codes; reference runs
// against mosquitto accept the bare close, which the standard allows.
func (c *client) expectDisconnectOneOf(codes ...byte) {
	c.t.Helper()
	pk, err := c.read(wait)
	if err != nil {
		if isClosed(err) && len(pk) == 0 && (reference || c.level != v5) {
			return
		}
		c.t.Fatalf("%s: expected DISCONNECT with one of % x and the close, got %s", c.name, codes, describe(err))
	}
	r, perr := parseReply(pk, v5)
	if c.level == v5 && perr == nil && pk[0] == 0xE0 {
		for _, code := range codes {
			if r.reasons[0] == code {
				c.expectClosed()
				return
			}
		}
	}
	c.t.Fatalf("%s: got % x, want DISCONNECT with one of % x then the close", c.name, pk, codes)
}
