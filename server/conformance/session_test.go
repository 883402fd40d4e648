package conformance_test

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// connectPersistent connects with clean session 0 (v5: clean start 0 and a Session Expiry Interval of 60 s) and
// requires the CONNACK with the session present flag sp.
func connectPersistent(t *testing.T, addr string, level byte, id string, sp byte) *client {
	t.Helper()
	var p []byte
	if level == v5 {
		p = props(pU32(propSessionExpiry, 60))
	}
	c := connectWith(t, addr, level, id, connectPkt(level, 0, 60, p, str(id)))
	if level == v5 {
		c.expectConnack5(sp, 0)
	} else {
		c.expectConnack(sp, 0)
	}
	return c
}

func TestSession_QueuedWhileOfflineDeliveredOnResume(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	for _, level := range []byte{v311, v5} {
		t.Run(levelName(level), func(t *testing.T) {
			id := "offline-" + levelName(level)
			topic := "offline/" + levelName(level)
			s := connectPersistent(t, b.addr, level, id, 0)
			s.subscribe(1, topic, 2, 2)
			s.send(disconnect)
			s.expectClosed()

			pub := connectOK(t, b.addr, level, "offline-pub-"+levelName(level))
			for i := 1; i <= 3; i++ {
				pub.send(publishPkt(level, 1, false, false, topic, uint16(i), nil, fmt.Sprint("m", i)))
				pub.expectReply(0x40, uint16(i), 0)
			}
			pub.send(publishPkt(level, 2, false, false, topic, 4, nil, "m4"))
			pub.expectReply(0x50, 4, 0)
			pub.send(ack(0x62, 4))
			pub.expectReply(0x70, 4, 0)

			// [MQTT-3.1.2-4] / [MQTT-4.4.0-1]: the session, its subscription and the queued QoS 1/2 messages
			// survive; they arrive in order after the resume.
			s2 := connectPersistent(t, b.addr, level, id, 1)
			for i := 1; i <= 4; i++ {
				p := s2.expectPublish()
				wantQoS := byte(1)
				if i == 4 {
					wantQoS = 2
				}
				if p.payload != fmt.Sprint("m", i) || p.qos != wantQoS || p.topic != topic {
					t.Fatalf("queued message %d: got %+v", i, p)
				}
				if p.qos == 1 {
					s2.send(ack(0x40, p.pid))
				} else {
					s2.send(ack(0x50, p.pid))
					s2.expectReply(0x62, p.pid, 0)
					s2.send(ack(0x70, p.pid))
				}
			}
			s2.expectNothing()
		})
	}
}

func TestSession_UnacknowledgedQoS1ResentWithDupOnResume(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	for _, level := range []byte{v311, v5} {
		t.Run(levelName(level), func(t *testing.T) {
			id := "dup-" + levelName(level)
			topic := "dup/" + levelName(level)
			s := connectPersistent(t, b.addr, level, id, 0)
			s.subscribe(1, topic, 1, 1)
			pub := connectOK(t, b.addr, level, "dup-pub-"+levelName(level))
			pub.send(publishPkt(level, 1, false, false, topic, 1, nil, "again"))
			pub.expectReply(0x40, 1, 0)
			first := s.expectPublish()
			s.conn.Close() // no PUBACK

			s2 := connectPersistent(t, b.addr, level, id, 1)
			// [MQTT-4.4.0-1] re-sent with the original packet id and DUP 1 [MQTT-3.3.1-1].
			s2.expect(publishPkt(level, 1, false, true, topic, first.pid, nil, "again"))
			s2.send(ack(0x40, first.pid))
			s2.expectNothing()
		})
	}
}

func TestSession_UnacknowledgedQoS2PublishResentWithDupOnResume(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	s := connectPersistent(t, b.addr, v5, "q2dup-resume", 0)
	s.subscribe(1, "q2r", 2, 2)
	pub := connectOK(t, b.addr, v5, "q2dup-resume-pub")
	pub.send(publishPkt(v5, 2, false, false, "q2r", 1, nil, "x"))
	pub.expectReply(0x50, 1, 0)
	pub.send(ack(0x62, 1))
	pub.expectReply(0x70, 1, 0)
	p := s.expectPublish()
	s.conn.Close() // no PUBREC

	s2 := connectPersistent(t, b.addr, v5, "q2dup-resume", 1)
	// [MQTT-4.4.0-1] the PUBLISH is re-sent with its packet id and DUP 1 [MQTT-3.3.1-1].
	s2.expect(publishPkt(v5, 2, false, true, "q2r", p.pid, nil, "x"))
	s2.send(ack(0x50, p.pid))
	s2.expectReply(0x62, p.pid, 0)
	s2.send(ack(0x70, p.pid))
	s2.expectNothing()
}

func TestSession_UnacknowledgedQoS2PubrelResentOnResume(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	s := connectPersistent(t, b.addr, v311, "pubrel-resume", 0)
	s.subscribe(1, "prr", 2, 2)
	pub := connectOK(t, b.addr, v311, "pubrel-resume-pub")
	pub.send(publishPkt(v311, 2, false, false, "prr", 1, nil, "x"))
	pub.expect(ack(0x50, 1))
	pub.send(ack(0x62, 1))
	pub.expect(ack(0x70, 1))
	p := s.expectPublish()
	s.send(ack(0x50, p.pid))
	s.expect(ack(0x62, p.pid))
	s.conn.Close() // no PUBCOMP

	s2 := connectPersistent(t, b.addr, v311, "pubrel-resume", 1)
	// [MQTT-4.4.0-1] the PUBREL is re-sent (never the PUBLISH again).
	s2.expect(ack(0x62, p.pid))
	s2.send(ack(0x70, p.pid))
	s2.expectNothing()
}

func TestSession_CleanSessionDiscardsSubscriptions(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	s := connectPersistent(t, b.addr, v311, "discard", 0)
	s.subscribe(1, "discard/t", 1, 1)
	s.send(disconnect)
	s.expectClosed()
	c := connectWith(t, b.addr, v311, "discard", connectClean(v311, "discard"))
	c.expect(connackOK311) // [MQTT-3.1.2-6] previous session discarded
	c.send(disconnect)
	c.expectClosed()
	pub := connectOK(t, b.addr, v311, "discard-pub")
	pub.send(publishPkt(v311, 1, false, false, "discard/t", 1, nil, "x"))
	pub.expect(ack(0x40, 1))
	s2 := connectPersistent(t, b.addr, v311, "discard", 0)
	s2.expectNothing()
}

func TestSession_v5_SessionExpiresAfterInterval(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c := connectWith(t, b.addr, v5, "expiring", connectPkt(v5, flagClean, 60, props(pU32(propSessionExpiry, 1)),
		str("expiring")))
	c.expectConnack5(0, 0)
	c.subscribe(1, "exp/t", 1, 1)
	c.send(disconnect)
	c.expectClosed()
	time.Sleep(2500 * time.Millisecond)
	c2 := connectWith(t, b.addr, v5, "expiring", connectPkt(v5, 0, 60, props(pU32(propSessionExpiry, 60)),
		str("expiring")))
	// [MQTT-3.1.2-23 (v5)] the session is gone after the Session Expiry Interval.
	c2.expectConnack5(0, 0)
}

func TestSession_v5_ExpiryIntervalRaisedAtDisconnectKeepsSession(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c := connectWith(t, b.addr, v5, "raise", connectPkt(v5, flagClean, 60, props(pU32(propSessionExpiry, 1)),
		str("raise")))
	c.expectConnack5(0, 0)
	c.send(pkt(0xE0, []byte{0}, props(pU32(propSessionExpiry, 60))))
	c.expectClosed()
	time.Sleep(1500 * time.Millisecond)
	c2 := connectWith(t, b.addr, v5, "raise", connectPkt(v5, 0, 60, props(pU32(propSessionExpiry, 60)),
		str("raise")))
	c2.expectConnack5(1, 0) // §3.14.2.2.2: the DISCONNECT's interval replaces the CONNECT's
}

func TestTakeover_SecondConnectClosesFirst(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	a := connectOK(t, b.addr, v311, "same")
	c := connectOK(t, b.addr, v311, "same")
	a.expectClosed() // [MQTT-3.1.4-2]
	c.roundTrip("takeover/311")

	a5 := connectOK(t, b.addr, v5, "same5")
	c5 := connectOK(t, b.addr, v5, "same5")
	a5.expectDisconnect(0x8E) // MQTT 5.0 §3.1.4: Session taken over
	c5.roundTrip("takeover/5")
}

func TestTakeover_SessionContinuesOnNewConnection(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	a := connectPersistent(t, b.addr, v311, "moving", 0)
	a.subscribe(1, "moving/t", 1, 1)
	c := connectPersistent(t, b.addr, v311, "moving", 1)
	a.expectClosed()
	pub := connectOK(t, b.addr, v311, "moving-pub")
	pub.send(publishPkt(v311, 1, false, false, "moving/t", 1, nil, "here"))
	pub.expect(ack(0x40, 1))
	c.expectPublishBytes(func(pid uint16) []byte { return publishPkt(v311, 1, false, false, "moving/t", pid, nil, "here") })
}

func TestTakeover_ManyConcurrentConnectsLeaveExactlyOne(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	const n = 20
	clients := make([]*client, n)
	var wg sync.WaitGroup
	for i := range clients {
		clients[i] = dial(t, b.addr, v311, fmt.Sprint("race-", i))
	}
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.conn.Write(connectClean(v311, "race"))
		}()
	}
	wg.Wait()
	// Every connection gets its CONNACK (each CONNECT is valid when it arrives), then all but the last are closed.
	// Connections only ever close, so ping the open ones until exactly one is left, or fail at the deadline.
	closed := make([]bool, n)
	connacked := make([]bool, n)
	deadline := time.Now().Add(2 * wait)
	for {
		open := 0
		for i, c := range clients {
			if closed[i] {
				continue
			}
			c.conn.Write(pingreq)
			pk, err := c.read(wait)
			if err == nil && !connacked[i] && string(pk) == string(connackOK311) {
				connacked[i] = true
				pk, err = c.read(wait)
			}
			switch {
			case err == nil && string(pk) == string(pingresp):
				open++
			case err != nil && isClosed(err):
				closed[i] = true
			default:
				t.Fatalf("%s: got % x, %v", c.name, pk, err)
			}
		}
		if open == 1 {
			return
		}
		if open == 0 || time.Now().After(deadline) {
			t.Fatalf("%d connections with client id %q still open, want exactly 1", open, "race")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
