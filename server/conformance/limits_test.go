package conformance_test

import (
	"fmt"
	"testing"
	"time"
)

func TestLimits_MaxConnections_RefusedAtLimitThenFreed(t *testing.T) {
	t.Parallel()
	if reference {
		t.Skip("mosquitto 2.0.11 accepted a third connection with max_connections 2")
	}
	b := startBroker(t, func(c *brokerConfig) { c.maxConnections = 2 })
	a := connectOK(t, b.addr, v311, "maxconn-a")
	connectOK(t, b.addr, v5, "maxconn-b")
	third := dial(t, b.addr, v5, "maxconn-c")
	third.send(connectClean(v5, "maxconn-c"))
	// Refused at accept (closed) or, once the CONNECT is read, v5 CONNACK 0x97 Quota exceeded then the close.
	expectRefusedOrClosed(third, 0x97, 0x89)
	a.send(disconnect)
	a.expectClosed()
	// The slot is free again (allow the broker a moment to notice the close).
	deadline := time.Now().Add(wait)
	for {
		c := dial(t, b.addr, v311, "maxconn-d")
		c.send(connectClean(v311, "maxconn-d"))
		pk, err := c.read(wait)
		if err == nil && string(pk) == string(connackOK311) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("a connection slot was not freed after a client left: % x %v", pk, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestLimits_v5_SessionExpiryCappedAndAnnouncedInConnack(t *testing.T) {
	t.Parallel()
	if reference {
		t.Skip("mosquitto 2.0.11 has no session expiry cap for v5 clients")
	}
	b := startBroker(t, func(c *brokerConfig) { c.maxSessionExpiry = 10 * time.Second })
	c := connectWith(t, b.addr, v5, "capped", connectPkt(v5, flagClean, 60, props(pU32(propSessionExpiry, 3600)),
		str("capped")))
	ps := c.expectConnack5(0, 0)
	// §3.2.2.3.2: a server using a value other than the client's sends it in CONNACK.
	p, ok := find(ps, propSessionExpiry)
	if !ok || p.num() != 10 {
		t.Fatalf("CONNACK Session Expiry Interval = %d (present %v), want the cap 10", p.num(), ok)
	}
}

func TestLimits_ServerKeepAliveEnforced(t *testing.T) {
	t.Parallel()
	if reference {
		t.Skip("mosquitto refuses max_keepalive 1 in its configuration")
	}
	b := startBroker(t, func(c *brokerConfig) { c.maxKeepAlive = 1 })
	c := connectWith(t, b.addr, v5, "ska-enforced", connectPkt(v5, flagClean, 0, nil, str("ska-enforced")))
	ps := c.expectConnack5(0, 0)
	p, ok := find(ps, propServerKeepAlive)
	if !ok || p.num() != 1 {
		if reference {
			t.Skip("mosquitto 2.0.11 does not override keep alive 0")
		}
		t.Fatalf("CONNACK Server Keep Alive %d (present %v), want 1 for a client asking for 0", p.num(), ok)
	}
	// [MQTT-3.2.2-21/22] the Server Keep Alive is the one that counts: silence for 1.5 s closes the connection.
	pk, err := c.read(4 * time.Second)
	if err == nil && string(pk) == string(disconnect5(0x8D)) {
		pk, err = c.read(wait)
	}
	if err == nil || !isClosed(err) {
		t.Fatalf("silent client with Server Keep Alive 1: got % x (%v), want the close", pk, err)
	}
}

func TestConnect_KeepAliveZero_NoTimeout(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c := connectWith(t, b.addr, v311, "ka0", connectPkt(v311, flagClean, 0, nil, str("ka0")))
	c.expect(connackOK311)
	// [MQTT-3.1.2-24 (3.1.1: §3.1.2.10)] keep alive 0 turns the mechanism off.
	if pk, err := c.read(2500 * time.Millisecond); !isTimeout(err) {
		t.Fatalf("keep alive 0: got % x %v, want the connection left alone", pk, err)
	}
	c.r.Reset(c.conn)
	c.stillOpen()
}

func TestLimits_MaxQueuedMessages_OfflineQueueBounded(t *testing.T) {
	t.Parallel()
	b := startBroker(t, func(c *brokerConfig) { c.maxQueued = 3 })
	s := connectPersistent(t, b.addr, v5, "bounded", 0)
	s.subscribe(1, "bounded/t", 1, 1)
	s.send(disconnect)
	s.expectClosed()
	pub := connectOK(t, b.addr, v5, "bounded-pub")
	for i := 1; i <= 8; i++ {
		pub.send(publishPkt(v5, 1, false, false, "bounded/t", uint16(i), nil, fmt.Sprint(i)))
		got := pub.next()
		r, err := parseReply(got, v5)
		// A PUBACK per publish: success, or 0x97 Quota exceeded where the queue was full (§3.4.2.1).
		if err != nil || got[0] != 0x40 || r.pid != uint16(i) ||
			(r.reasons[0] != 0x00 && r.reasons[0] != 0x10 && r.reasons[0] != 0x97) {
			t.Fatalf("publish %d: got % x (%v)", i, got, err)
		}
	}
	s2 := connectPersistent(t, b.addr, v5, "bounded", 1)
	n := 0
	for {
		pk, err := s2.read(quiet)
		if err != nil {
			break
		}
		p, perr := parsePublish(pk, v5)
		if perr != nil {
			t.Fatalf("got % x", pk)
		}
		s2.send(ack(0x40, p.pid))
		n++
	}
	if n == 0 || n > 3 {
		t.Fatalf("%d queued messages delivered after the resume, want 1..3 with max_queued_messages 3", n)
	}
	s2.r.Reset(s2.conn)
	s2.stillOpen()
}

func TestLimits_SlowConsumerDoesNotStallOthers(t *testing.T) {
	t.Parallel()
	if reference {
		t.Skip("mosquitto without max_queued_bytes slows down behind the stalled subscriber (14 s here)")
	}
	b := startBroker(t)
	slow := connectOK(t, b.addr, v311, "slow")
	slow.subscribe(1, "flood", 0, 0) // and then never reads again
	fast := connectOK(t, b.addr, v311, "fast")
	fast.subscribe(1, "flood", 0, 0)
	const n, size = 3000, 4096
	// The reader reports every 10 messages; the publisher sends the next 10 only then, so the reading subscriber
	// is never itself over the outbound high-water mark (where dropping its QoS 0 messages would be the policy).
	progress := make(chan int, n)
	go func() {
		count := 0
		for count < n {
			pk, err := fast.read(5 * time.Second)
			if err != nil {
				break
			}
			if pk[0]>>4 == 3 {
				count++
				if count%10 == 0 {
					progress <- count
				}
			}
		}
		close(progress)
	}()
	pub := connectOK(t, b.addr, v311, "flooder")
	msg := publishPkt(v311, 0, false, false, "flood", 0, nil, string(make([]byte, size)))
	batch := cat(msg, msg, msg, msg, msg, msg, msg, msg, msg, msg)
	start := time.Now()
	for sent := 10; sent <= n; sent += 10 {
		pub.send(batch)
		got, ok := <-progress
		if !ok || got != sent {
			t.Fatalf("the reading subscriber got %d of %d QoS 0 messages while another subscriber stalled", got, sent)
		}
	}
	// 12 MB went to a subscriber that reads nothing: its outbound bytes are bounded and its QoS 0 messages beyond
	// the high-water mark dropped, without slowing the broker down for everyone else.
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("delivery took %v", d)
	}
	pub.roundTrip("after/flood")
}
