package conformance_test

import (
	"fmt"
	"testing"
	"time"
)

// Tests for MQTT 3.1.1 statements (and their 5.0 counterparts where the wire answer is the same) that the rest of the
// suite did not pin down.

func TestSpec311_UnacknowledgedResentInOriginalOrderOnResume(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	for _, level := range []byte{v311, v5} {
		t.Run(levelName(level), func(t *testing.T) {
			id := "order-" + levelName(level)
			topic := "order/" + levelName(level)
			s := connectPersistent(t, b.addr, level, id, 0)
			s.subscribe(1, topic, 2, 2)
			pub := connectOK(t, b.addr, level, id+"-pub")
			payloads := []string{"m1", "m2", "m3", "m4"}
			qos := []byte{1, 2, 1, 2}
			for i, pl := range payloads {
				pub.send(publishPkt(level, qos[i], false, false, topic, uint16(10+i), nil, pl))
				if qos[i] == 1 {
					pub.expectAckOK(0x40, uint16(10+i))
				} else {
					pub.expectAckOK(0x50, uint16(10+i))
					pub.send(ack(0x62, uint16(10+i)))
					pub.expectReply(0x70, uint16(10+i), 0)
				}
			}
			first := make([]publish, len(payloads))
			for i := range payloads {
				first[i] = s.expectPublish()
				if first[i].payload != payloads[i] || first[i].qos != qos[i] || first[i].dup {
					t.Fatalf("delivery %d: got %+v, want %q at QoS %d without DUP", i, first[i], payloads[i], qos[i])
				}
			}
			// None acknowledged; the network connection is lost.
			s.conn.Close()
			s2 := connectPersistent(t, b.addr, level, id, 1)
			// [MQTT-4.4.0-1] re-sent with their original packet identifiers and DUP 1 [MQTT-3.3.1-1];
			// [MQTT-4.6.0-1] in the order in which the originals were sent.
			for i := range payloads {
				p := s2.expectPublish()
				if p.payload != payloads[i] || p.pid != first[i].pid || !p.dup || p.qos != qos[i] {
					t.Fatalf("re-send %d: got %+v, want %q with packet id %d, QoS %d and DUP", i, p, payloads[i],
						first[i].pid, qos[i])
				}
			}
			for i := range payloads {
				if qos[i] == 1 {
					s2.send(ack(0x40, first[i].pid))
				} else {
					s2.send(ack(0x50, first[i].pid))
					s2.expectReply(0x62, first[i].pid, 0)
					s2.send(ack(0x70, first[i].pid))
				}
			}
			s2.expectNothing()
		})
	}
}

func TestSpec311_MalformedFixedHeadersAndLengths_Closed(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	peer := connectOK(t, b.addr, v311, "mfh-peer")
	for _, tc := range []struct {
		name    string
		level   byte
		packet  []byte
		lenient bool // mosquitto 2.0.11 tolerates it
	}{
		{"PUBACK flags 0001 [MQTT-2.2.2-2]", v311, x("41 02 00 01"), true},
		{"PUBREC flags 0010 [MQTT-2.2.2-2]", v311, x("52 02 00 01"), true},
		{"PUBREL flags 0011 [MQTT-3.6.1-1]", v311, x("63 02 00 01"), false},
		{"PUBCOMP flags 0100 [MQTT-2.2.2-2]", v311, x("74 02 00 01"), true},
		{"UNSUBSCRIBE packet id 0 [MQTT-2.3.1-1]", v311, x("a2 05 00 00 00 01 61"), false},
		{"PUBLISH QoS 2 packet id 0 [MQTT-2.3.1-1]", v311, x("34 07 00 03 61 2f 62 00 00"), false},
		{"PINGREQ with a body", v311, x("c0 01 00"), true},
		{"DISCONNECT with a body", v311, x("e0 01 00"), false},
		{"PUBACK shorter than a packet id", v311, x("40 01 00"), false},
		{"SUBSCRIBE filter length beyond the packet", v311, x("82 06 00 01 00 09 61 00"), false},
		{"SUBSCRIBE missing the QoS byte [MQTT-3.8.3-1]", v311, x("82 05 00 01 00 01 61"), false},
		{"UNSUBSCRIBE ill-formed UTF-8 filter [MQTT-3.10.3-1]", v311, x("a2 06 00 01 00 02 c3 28"), false},
		{"SUBSCRIBE U+0000 in filter [MQTT-4.7.3-2]", v311, x("82 08 00 01 00 03 61 00 62 00"), false},
		{"v5 PUBACK flags 0001", v5, x("41 02 00 01"), true},
		{"v5 UNSUBSCRIBE packet id 0", v5, x("a2 06 00 00 00 00 01 61"), false},
		{"v5 PINGREQ with a body", v5, x("c0 01 00"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if reference && tc.lenient {
				t.Skip("mosquitto 2.0.11 tolerates this")
			}
			c := connectOK(t, b.addr, tc.level, "mfh")
			c.send(tc.packet)
			// [MQTT-4.8.0-1] / [MQTT-4.13.1-1]: close (v5: DISCONNECT 0x81 or 0x82 first).
			if tc.level == v5 {
				c.expectDisconnectOneOf(0x81, 0x82)
			} else {
				c.expectClosed()
			}
			peer.stillOpen()
		})
	}
	undisturbed(t, b.addr, peer)
}

func TestSpec311_ConnectFlagsAnnounceFieldsThatAreMissing_Closed(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	for _, tc := range []struct {
		name    string
		level   byte
		connect []byte
	}{
		{"user name flag, no user name [MQTT-3.1.2-19]", v311, connectPkt(v311, flagClean|flagUsername, 60, nil,
			str("fm"))},
		{"password flag, no password [MQTT-3.1.2-21]", v311, connectPkt(v311, flagClean|flagUsername|flagPassword,
			60, nil, str("fm"), str("user"))},
		{"will flag, no will message [MQTT-3.1.2-9]", v311, connectPkt(v311, flagClean|flagWill, 60, nil, str("fm"),
			str("w/t"))},
		{"bytes after the last field [MQTT-3.1.4-1]", v311, connectPkt(v311, flagClean, 60, nil, str("fm"),
			x("00"))},
		{"client id length beyond the packet [MQTT-3.1.3-3]", v311, pkt(0x10, str("MQTT"), []byte{4, 2}, u16(60),
			x("00 09 61"))},
		{"v5 user name flag, no user name [MQTT-3.1.2-17]", v5, connectPkt(v5, flagClean|flagUsername, 60, nil,
			str("fm"))},
		{"v5 will flag, no will properties or topic [MQTT-3.1.2-9]", v5, connectPkt(v5, flagClean|flagWill, 60, nil,
			str("fm"))},
		{"v5 bytes after the last field", v5, connectPkt(v5, flagClean, 60, nil, str("fm"), x("00"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := connectWith(t, b.addr, tc.level, "flagsmissing", tc.connect)
			expectRefusedOrClosed(c, 0x80, 0x81)
		})
	}
}

func TestSpec311_RefusalConnackHasSessionPresent0EvenWithStoredSession(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	s := connectPersistent(t, b.addr, v311, "refsp", 0)
	s.subscribe(1, "refsp/t", 1, 1)
	s.send(disconnect)
	s.expectClosed()
	// Same client id, a protocol level the Server refuses: [MQTT-3.2.2-4] Session Present 0 with a non-zero code,
	// [MQTT-3.2.2-5] then the close.
	c := connectWith(t, b.addr, v311, "refsp", pkt(0x10, str("MQTT"), []byte{6, 0}, u16(60), str("refsp")))
	c.expectRefusedAny(0x01, 0x84)
	// The refused CONNECT did not touch the stored session.
	connectPersistent(t, b.addr, v311, "refsp", 1)
}

func TestSpec311_ResubscribeResendsRetained(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	pub := connectOK(t, b.addr, v311, "rr-pub")
	pub.send(publishPkt(v311, 1, true, false, "rr/t", 1, nil, "kept"))
	pub.expect(ack(0x40, 1))
	c := connectOK(t, b.addr, v311, "rr")
	c.subscribe(1, "rr/t", 0, 0)
	c.expect(publishPkt(v311, 0, true, false, "rr/t", 0, nil, "kept"))
	// [MQTT-3.8.4-3] an identical filter replaces the subscription and any matching retained message is re-sent.
	c.subscribe(2, "rr/t", 1, 1)
	p := c.expectPublish()
	if !p.retain || p.payload != "kept" || p.qos != 1 {
		t.Fatalf("got %+v, want the retained message again with RETAIN 1 at QoS 1", p)
	}
	c.send(ack(0x40, p.pid))
	c.expectNothing()
}

func TestSpec311_UnsubscribeManyFiltersOneUnsuback(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c := connectOK(t, b.addr, v311, "um")
	c.send(subscribePkt(v311, 1, nil, "um/a", byte(0), "um/b", byte(1), "um/+", byte(0)))
	c.expectSuback(1, 0, 1, 0)
	// [MQTT-3.10.4-6] handled as a sequence of UNSUBSCRIBEs, answered by one UNSUBACK [MQTT-3.10.4-4] even for a
	// filter that was never subscribed [MQTT-3.10.4-5].
	c.send(unsubscribePkt(v311, 2, "um/a", "um/never", "um/+"))
	c.expect(x("b0 02 00 02"))
	pub := connectOK(t, b.addr, v311, "um-pub")
	pub.send(publishPkt(v311, 0, false, false, "um/a", 0, nil, "gone"))
	pub.send(publishPkt(v311, 0, false, false, "um/b", 0, nil, "kept"))
	c.expect(publishPkt(v311, 0, false, false, "um/b", 0, nil, "kept"))
	c.expectNothing()
}

func TestSpec311_NoWillFlag_NothingPublishedOnAbruptClose(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	watcher := connectOK(t, b.addr, v311, "nowill-watch")
	watcher.subscribe(1, "#", 0, 0)
	c := connectOK(t, b.addr, v311, "nowill")
	c.conn.Close()
	// [MQTT-3.1.2-12] Will Flag 0: no will message when the network connection ends.
	watcher.expectNothing()
}

func TestSpec311_QoS0RetainedReplacesRetainedOfAnyQoS(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	pub := connectOK(t, b.addr, v311, "r0-pub")
	pub.send(publishPkt(v311, 2, true, false, "r0/t", 1, nil, "qos2"))
	pub.expect(ack(0x50, 1))
	pub.send(ack(0x62, 1))
	pub.expect(ack(0x70, 1))
	// [MQTT-3.3.1-7] a QoS 0 retained message discards the one stored before; the new one is stored.
	pub.send(publishPkt(v311, 0, true, false, "r0/t", 0, nil, "qos0"))
	pub.stillOpen()
	c := connectOK(t, b.addr, v311, "r0")
	c.subscribe(1, "r0/t", 2, 2)
	c.expect(publishPkt(v311, 0, true, false, "r0/t", 0, nil, "qos0"))
	c.expectNothing()
}

func TestSpec311_RetainedOutlivesThePublishersSession(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	for _, level := range []byte{v311, v5} {
		t.Run(levelName(level), func(t *testing.T) {
			topic := "outlive/" + levelName(level)
			pub := connectOK(t, b.addr, level, "outlive-pub")
			pub.send(publishPkt(level, 1, true, false, topic, 1, nil, "stays"))
			pub.expectAckOK(0x40, 1)
			pub.send(disconnect) // a clean session: it ends here
			pub.expectClosed()
			// [MQTT-3.1.2-7] retained messages are not part of the session state; they outlive it.
			c := connectOK(t, b.addr, level, "outlive-sub")
			c.subscribe(1, topic, 0, 0)
			c.expect(publishPkt(level, 0, true, false, topic, 0, nil, "stays"))
		})
	}
}

func TestSpec311_WillPublishedAtItsQoS(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	for _, level := range []byte{v311, v5} {
		for _, qos := range []byte{1, 2} {
			t.Run(fmt.Sprintf("%s QoS %d", levelName(level), qos), func(t *testing.T) {
				topic := fmt.Sprintf("wq/%s/%d", levelName(level), qos)
				watcher := connectOK(t, b.addr, level, "wq-watch")
				watcher.subscribe(1, topic, 2, 2)
				c := connectWith(t, b.addr, level, "wq", connectWill(level, "wq", qos, false, topic, "bye", nil, nil))
				if level == v5 {
					c.expectConnack5(0, 0)
				} else {
					c.expect(connackOK311)
				}
				c.conn.Close()
				// [MQTT-3.1.2-9 (3.1.1)] the Will QoS is used when the will is published: a QoS 2 subscription gets
				// it at the will's QoS.
				p := watcher.expectPublish()
				if p.qos != qos || p.payload != "bye" || p.retain {
					t.Fatalf("got %+v, want the will at QoS %d, not retained", p, qos)
				}
			})
		}
	}
}

func TestSpec311_SameFilterTwiceInOneSubscribe(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	for _, level := range []byte{v311, v5} {
		t.Run(levelName(level), func(t *testing.T) {
			topic := "twice/" + levelName(level)
			c := connectOK(t, b.addr, level, "twice")
			c.send(subscribePkt(level, 1, nil, topic, byte(0), topic, byte(1)))
			// [MQTT-3.8.4-4 (3.1.1) / MQTT-3.8.4-5 (5.0)] handled as two SUBSCRIBEs in a row: the second replaces the
			// first [MQTT-3.8.4-3]; one SUBACK with both codes.
			c.expectSuback(1, 0, 1)
			pub := connectOK(t, b.addr, level, "twice-pub")
			pub.send(publishPkt(level, 1, false, false, topic, 1, nil, "once"))
			pub.expectAckOK(0x40, 1)
			p := c.expectPublish()
			if p.qos != 1 || p.payload != "once" {
				t.Fatalf("got %+v, want one delivery at QoS 1", p)
			}
			c.send(ack(0x40, p.pid))
			c.expectNothing()
		})
	}
}

func TestSpec311_TakeoverResendsUnacknowledgedToTheNewConnection(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	for _, level := range []byte{v311, v5} {
		t.Run(levelName(level), func(t *testing.T) {
			id := "tkr-" + levelName(level)
			topic := "tkr/" + levelName(level)
			a := connectPersistent(t, b.addr, level, id, 0)
			a.subscribe(1, topic, 1, 1)
			pub := connectOK(t, b.addr, level, id+"-pub")
			pub.send(publishPkt(level, 1, false, false, topic, 1, nil, "inflight"))
			pub.expectAckOK(0x40, 1)
			first := a.expectPublish() // not acknowledged
			c := connectPersistent(t, b.addr, level, id, 1)
			if level == v5 {
				a.expectDisconnectOneOf(0x8E)
			} else {
				a.expectClosed()
			}
			// [MQTT-3.1.4-2/3] the session moves to the new connection; [MQTT-4.4.0-1] its unacknowledged PUBLISH is
			// re-sent there with the original packet identifier and DUP 1.
			p := c.expectPublish()
			if p.pid != first.pid || !p.dup || p.payload != "inflight" {
				t.Fatalf("got %+v, want the inflight message re-sent with packet id %d and DUP", p, first.pid)
			}
			c.send(ack(0x40, p.pid))
			c.expectNothing()
		})
	}
}

func TestSpec311_NoQoS1MessageLostAcrossTakeover(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	for _, level := range []byte{v311, v5} {
		t.Run(levelName(level), func(t *testing.T) {
			id := "nolost-" + levelName(level)
			topic := "nolost/" + levelName(level)
			a := connectPersistent(t, b.addr, level, id, 0)
			a.subscribe(1, topic, 1, 1)
			pub := connectOK(t, b.addr, level, id+"-pub")
			pub.conn.SetWriteDeadline(time.Time{}) // the writer below outlives the deadline of the last send
			const n = 200
			done := make(chan struct{})
			go func() {
				defer close(done)
				for i := 1; i <= n; i++ {
					pub.conn.Write(publishPkt(level, 1, false, false, topic, uint16(i), nil, fmt.Sprint(i)))
					time.Sleep(5 * time.Millisecond)
				}
			}()
			seen := map[string]bool{}
			receive := func(c *client, until func() bool) {
				t.Helper()
				for !until() {
					p := c.expectPublish()
					seen[p.payload] = true
					c.send(ack(0x40, p.pid))
				}
			}
			receive(a, func() bool { return len(seen) >= 50 })
			// Take the session over in the middle of the stream [MQTT-3.1.4-2/3]; the old connection is closed.
			c := connectPersistent(t, b.addr, level, id, 1)
			// [MQTT-3.1.2-5 (3.1.1) / MQTT-4.5.0-1]: every QoS 1 message the broker accepted reaches the session,
			// on the old connection or the new one (re-sent with DUP if it was in flight) [MQTT-4.4.0-1].
			receive(c, func() bool { return len(seen) == n })
			<-done
			c.expectNothing()
		})
	}
}
