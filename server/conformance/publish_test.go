package conformance_test

import (
	"fmt"
	"strings"
	"testing"
)

func TestPublish_QoS0_ForwardedExactBytes(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	for _, level := range []byte{v31, v311, v5} {
		t.Run(levelName(level), func(t *testing.T) {
			sub := connectOK(t, b.addr, level, "q0sub-"+levelName(level))
			sub.subscribe(1, "q0/"+levelName(level), 0, 0)
			pub := connectOK(t, b.addr, level, "q0pub-"+levelName(level))
			pub.send(publishPkt(level, 0, false, false, "q0/"+levelName(level), 0, nil, "hello"))
			want := cat(x("30"), vbi(2+len("q0/"+levelName(level))+5), str("q0/"+levelName(level)), []byte("hello"))
			if level == v5 {
				want = cat(x("30"), vbi(2+len("q0/v5")+1+5), str("q0/v5"), x("00"), []byte("hello"))
			}
			sub.expect(want)
			pub.expectNothing() // QoS 0 is not acknowledged
		})
	}
}

func TestPublish_QoS1_BothDirectionsExactBytes(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	for _, level := range []byte{v311, v5} {
		t.Run(levelName(level), func(t *testing.T) {
			topic := "q1/" + levelName(level)
			sub := connectOK(t, b.addr, level, "q1sub-"+levelName(level))
			sub.subscribe(1, topic, 1, 1)
			pub := connectOK(t, b.addr, level, "q1pub-"+levelName(level))
			pub.send(publishPkt(level, 1, false, false, topic, 0x1234, nil, "one"))
			// [MQTT-4.3.2-2] PUBACK with the same packet id.
			if level == v5 {
				pub.expectReply(0x40, 0x1234, 0x00)
			} else {
				pub.expect(x("40 02 12 34"))
			}
			p := sub.expectPublishBytes(func(pid uint16) []byte {
				return publishPkt(level, 1, false, false, topic, pid, nil, "one")
			})
			if p.pid == 0 {
				t.Fatalf("QoS 1 PUBLISH with packet id 0 [MQTT-2.3.1-1]")
			}
			sub.send(ack(0x40, p.pid))
			sub.expectNothing() // acknowledged: no re-send on a live connection
		})
	}
}

func TestPublish_QoS2_BothDirectionsExactBytes(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	for _, level := range []byte{v311, v5} {
		t.Run(levelName(level), func(t *testing.T) {
			topic := "q2/" + levelName(level)
			sub := connectOK(t, b.addr, level, "q2sub-"+levelName(level))
			sub.subscribe(1, topic, 2, 2)
			pub := connectOK(t, b.addr, level, "q2pub-"+levelName(level))
			pub.send(publishPkt(level, 2, false, false, topic, 7, nil, "two"))
			if level == v5 {
				pub.expectReply(0x50, 7, 0x00)
			} else {
				pub.expect(x("50 02 00 07")) // [MQTT-4.3.3-2]
			}
			pub.send(ack(0x62, 7))
			if level == v5 {
				pub.expectReply(0x70, 7, 0x00)
			} else {
				pub.expect(x("70 02 00 07"))
			}
			p := sub.expectPublishBytes(func(pid uint16) []byte {
				return publishPkt(level, 2, false, false, topic, pid, nil, "two")
			})
			sub.send(ack(0x50, p.pid))
			if level == v5 {
				sub.expectReply(0x62, p.pid, 0x00)
			} else {
				sub.expect(ack(0x62, p.pid)) // [MQTT-4.3.3-5] PUBREL after PUBREC
			}
			sub.send(ack(0x70, p.pid))
			sub.expectNothing()
		})
	}
}

func TestPublish_QoSDowngradedToSubscriptionQoS(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	pub := connectOK(t, b.addr, v311, "dg-pub")
	for subQoS := byte(0); subQoS <= 2; subQoS++ {
		for pubQoS := byte(0); pubQoS <= 2; pubQoS++ {
			name := fmt.Sprintf("sub%d-pub%d", subQoS, pubQoS)
			t.Run(name, func(t *testing.T) {
				sub := connectOK(t, b.addr, v311, "dg-"+name)
				sub.subscribe(1, "dg/"+name, subQoS, subQoS)
				pid := uint16(100 + 3*subQoS + pubQoS)
				pub.send(publishPkt(v311, pubQoS, false, false, "dg/"+name, pid, nil, name))
				switch pubQoS {
				case 1:
					pub.expect(ack(0x40, pid))
				case 2:
					pub.expect(ack(0x50, pid))
					pub.send(ack(0x62, pid))
					pub.expect(ack(0x70, pid))
				}
				// [MQTT-3.8.4-6] delivered at the minimum of the published and the granted QoS.
				want := min(subQoS, pubQoS)
				sub.expectPublishBytes(func(id uint16) []byte {
					return publishPkt(v311, want, false, false, "dg/"+name, id, nil, name)
				})
			})
		}
	}
}

func TestPublish_QoS2_DuplicateBeforePubrelDeliveredOnce(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	for _, level := range []byte{v311, v5} {
		t.Run(levelName(level), func(t *testing.T) {
			topic := "q2dup/" + levelName(level)
			sub := connectOK(t, b.addr, level, "q2dupsub-"+levelName(level))
			sub.subscribe(1, topic, 2, 2)
			pub := connectOK(t, b.addr, level, "q2duppub-"+levelName(level))
			pub.send(publishPkt(level, 2, false, false, topic, 5, nil, "once"))
			pub.expectReply(0x50, 5, 0)
			pub.send(publishPkt(level, 2, false, true, topic, 5, nil, "once"))
			// [MQTT-4.3.3-9] the receiver acknowledges again but MUST NOT deliver the message twice.
			pub.expectReply(0x50, 5, 0)
			pub.send(ack(0x62, 5))
			pub.expectReply(0x70, 5, 0)
			p := sub.expectPublish()
			if p.payload != "once" || p.qos != 2 {
				t.Fatalf("got %+v", p)
			}
			sub.send(ack(0x50, p.pid))
			sub.expectReply(0x62, p.pid, 0)
			sub.send(ack(0x70, p.pid))
			sub.expectNothing()
		})
	}
}

func TestPublish_PubrelForUnknownID_Pubcomp(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c := connectOK(t, b.addr, v311, "pubrel311")
	c.send(ack(0x62, 0x4242))
	c.expect(x("70 02 42 42")) // [MQTT-4.3.3-11]: PUBCOMP with the same id
	c.stillOpen()

	c5 := connectOK(t, b.addr, v5, "pubrel5")
	c5.send(ack(0x62, 0x4242))
	if reference {
		c5.expectReply(0x70, 0x4242, 0x00) // mosquitto 2.0.11 answers success
	} else {
		c5.expectReply(0x70, 0x4242, 0x92) // MQTT 5.0 §3.7.2.1: 0x92 Packet Identifier not found
	}
	c5.stillOpen()
}

func TestPublish_PubackForUnknownID_Ignored(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	for _, level := range []byte{v311, v5} {
		c := connectOK(t, b.addr, level, "puback-unknown-"+levelName(level))
		c.send(ack(0x40, 77), ack(0x50, 78), ack(0x70, 79))
		// Stray acknowledgements are not a protocol violation. A PUBREC for an unknown id may be answered with a
		// PUBREL (v5: reason 0x92 Packet Identifier not found, §3.6.2.1); nothing else may come back.
		if pk, err := c.read(quiet); err == nil {
			r, perr := parseReply(pk, level)
			if perr != nil || pk[0] != 0x62 || r.pid != 78 {
				t.Fatalf("%s: unexpected answer % x to stray acks", levelName(level), pk)
			}
		} else if !isTimeout(err) {
			t.Fatalf("%s: %s", levelName(level), describe(err))
		}
		c.stillOpen()
	}
}

func TestPublish_OrderKeptPerTopicAndQoS(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	sub := connectOK(t, b.addr, v311, "order-sub")
	sub.subscribe(1, "order/#", 1, 1)
	pub := connectOK(t, b.addr, v311, "order-pub")
	const n = 50
	for i := 1; i <= n; i++ {
		pub.send(publishPkt(v311, 1, false, false, "order/x", uint16(i), nil, fmt.Sprint(i)))
	}
	for i := 1; i <= n; i++ {
		pub.expect(ack(0x40, uint16(i)))
	}
	for i := 1; i <= n; i++ {
		p := sub.expectPublish()
		if p.payload != fmt.Sprint(i) {
			t.Fatalf("message %d arrived as %q: ordered topics must keep order [MQTT-4.6.0-6]", i, p.payload)
		}
		sub.send(ack(0x40, p.pid))
	}
}

func TestPublish_LargePayloadByteExact(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	sub := connectOK(t, b.addr, v5, "large-sub")
	sub.subscribe(1, "large", 1, 1)
	pub := connectOK(t, b.addr, v311, "large-pub")
	payload := strings.Repeat("0123456789abcdef", 300_000/16) // 300 kB: a 3-byte remaining length
	pub.send(publishPkt(v311, 1, false, false, "large", 1, nil, payload))
	pub.expect(ack(0x40, 1))
	sub.expectPublishBytes(func(pid uint16) []byte {
		return publishPkt(v5, 1, false, false, "large", pid, nil, payload)
	})
}

func TestPublish_ZeroLengthPayloadAndOneByteTopic(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	sub := connectOK(t, b.addr, v311, "empty-sub")
	sub.subscribe(1, "e", 0, 0)
	pub := connectOK(t, b.addr, v311, "empty-pub")
	pub.send(x("30 03 00 01 65"))
	sub.expect(x("30 03 00 01 65"))
}

func TestPublish_v5_NoMatchingSubscribers_PubackSuccessOr0x10(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c := connectOK(t, b.addr, v5, "nomatch")
	c.send(publishPkt(v5, 1, false, false, "nobody/here", 3, nil, "x"))
	got := c.next()
	r, err := parseReply(got, v5)
	if err != nil || got[0] != 0x40 || r.pid != 3 || (r.reasons[0] != 0x00 && r.reasons[0] != 0x10) {
		t.Fatalf("got % x, want PUBACK id 3 with reason 0x00 or 0x10 (%v)", got, err)
	}
}
