package server

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt "github.com/eclipse/paho.mqtt.golang"

	"loopmq/codec"
)

// Flow control tests (flow.go): a publisher faster than its subscribers is paced by held acknowledgements, and
// no acknowledged message is lost by a connected subscriber.

func pubPacket(v codec.Version, topic string, qos byte, id uint16, payload string) []byte {
	p := codec.Publish{QoS: qos, Topic: []byte(topic), PacketID: id, Payload: []byte(payload)}
	return p.Append(nil, v)
}

func subPacket(v codec.Version, id uint16, filter string, qos byte) []byte {
	p := codec.Subscribe{PacketID: id, Subs: []codec.Subscription{{Filter: []byte(filter), QoS: qos}}}
	return p.Append(nil, v)
}

// flowGauges sums the flow-control gauges of every loop.
func flowGauges(s *Server) (queued, inflight, held int64) {
	for _, l := range s.loopList() {
		queued += l.stats.Queued.Load()
		inflight += l.stats.Inflight.Load()
		held += l.stats.HeldAcks.Load()
	}
	return
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// readAcks reads PUBACK packets until the connection is quiet for quiet, returning their packet ids.
func readAcks(t *testing.T, c *rawConn, quiet time.Duration) []uint16 {
	t.Helper()
	var ids []uint16
	for {
		p, err := c.readPacket(quiet)
		if err != nil {
			return ids
		}
		if p[0] != 0x40 {
			t.Fatalf("publisher got % x, want PUBACK", p)
		}
		ids = append(ids, uint16(p[2])<<8|uint16(p[3]))
	}
}

func TestSlowSubscriberHoldsPublisherAcks(t *testing.T) {
	for _, v := range []codec.Version{codec.V311, codec.V5} {
		t.Run(fmt.Sprint("v", v), func(t *testing.T) {
			const limit, total = 10, 40
			s := startBroker(t, func(o *Options) { o.MaxQueuedMessages = limit; o.MaxInflight = 2 })
			connect := func(id string) *rawConn {
				if v == codec.V5 {
					return connected5(t, s, id)
				}
				return connected311(t, s, id)
			}
			sub := connect("sub")
			sub.send(subPacket(v, 1, "t", 1))
			if p, _ := sub.readPacket(5 * time.Second); len(p) == 0 || p[0] != 0x90 {
				t.Fatalf("SUBACK: % x", p)
			}
			pub := connect("pub")
			var burst []byte
			for i := 1; i <= total; i++ {
				burst = append(burst, pubPacket(v, "t", 1, uint16(i), fmt.Sprint(i))...)
			}
			pub.send(burst)

			// The subscriber reads nothing yet: the publisher gets acknowledgements only for what fits in the
			// subscriber's inflight window and queue, in order.
			first := readAcks(t, pub, 300*time.Millisecond)
			if len(first) < limit || len(first) > limit+2 {
				t.Fatalf("acknowledged %d of %d before the subscriber read anything, want %d..%d", len(first), total,
					limit, limit+2)
			}
			for i, id := range first {
				if id != uint16(i+1) {
					t.Fatalf("PUBACK order: %v", first)
				}
			}
			if _, _, held := flowGauges(s); held == 0 {
				t.Fatal("held acknowledgements gauge is 0")
			}

			// Now the subscriber reads and acknowledges: every message arrives once, in order, and every
			// acknowledgement reaches the publisher, in order.
			var got []string
			acks := first
			for len(got) < total {
				p, err := sub.readPacket(5 * time.Second)
				if err != nil {
					t.Fatalf("subscriber after %d messages: %v", len(got), err)
				}
				h, _, _ := codec.Peek(p, 0)
				var m codec.Publish
				if err := m.Decode(h, p[h.Size:h.Len()], v); err != nil {
					t.Fatalf("decode % x: %v", p, err)
				}
				got = append(got, string(m.Payload))
				sub.send(codec.AppendAck(nil, codec.TypePuback, m.PacketID, codec.Success, v))
			}
			for i, g := range got {
				if g != fmt.Sprint(i+1) {
					t.Fatalf("subscriber got %v", got)
				}
			}
			acks = append(acks, readAcks(t, pub, 500*time.Millisecond)...)
			if len(acks) != total {
				t.Fatalf("publisher got %d PUBACKs, want %d: %v", len(acks), total, acks)
			}
			for i, id := range acks {
				if id != uint16(i+1) {
					t.Fatalf("PUBACK order: %v", acks)
				}
			}
			if d := s.stats().DroppedQueueFull; d != 0 {
				t.Fatalf("dropped %d messages for a connected subscriber", d)
			}
			waitFor(t, "gauges back to 0", func() bool { q, f, h := flowGauges(s); return q == 0 && f == 0 && h == 0 })
		})
	}
}

func TestOfflineSessionAtLimitRefusesWithQuotaExceeded(t *testing.T) {
	s := startBroker(t, func(o *Options) { o.MaxQueuedMessages = 3 })
	// A persistent v5 subscriber goes offline.
	sub := dialRaw(t, s)
	sub.send(connect5With("sub", codec.Properties{SessionExpiry: 300, Present: 1 << codec.PropSessionExpiry}, nil))
	if p, _ := sub.readPacket(5 * time.Second); len(p) == 0 || p[0] != 0x20 {
		t.Fatalf("CONNACK % x", p)
	}
	sub.send(subPacket(codec.V5, 1, "off", 2))
	if p, _ := sub.readPacket(5 * time.Second); len(p) == 0 || p[0] != 0x90 {
		t.Fatalf("SUBACK % x", p)
	}
	sub.send([]byte{0xe0, 0})
	sub.expectClosed()

	pub := connected5(t, s, "pub")
	v3 := connected311(t, s, "pub3")
	for i := uint16(1); i <= 3; i++ {
		pub.send(pubPacket(codec.V5, "off", 1, i, "x"))
		pub.expect([]byte{0x40, 2, 0, byte(i)})
	}
	// The queue is full: a v5 QoS 1 publisher is told, a v3 one cannot be.
	pub.send(pubPacket(codec.V5, "off", 1, 4, "x"))
	pub.expect([]byte{0x40, 3, 0, 4, 0x97})
	v3.send(pubPacket(codec.V311, "off", 1, 5, "x"))
	v3.expect([]byte{0x40, 2, 0, 5})
	// QoS 2 that nobody took ends at PUBREC 0x97: its id is not kept, so PUBREL finds nothing.
	pub.send(pubPacket(codec.V5, "off", 2, 6, "x"))
	pub.expect([]byte{0x50, 3, 0, 6, 0x97})
	pub.send([]byte{0x62, 2, 0, 6})
	pub.expect([]byte{0x70, 3, 0, 6, 0x92})
	if d := s.stats().DroppedQueueFull; d != 3 {
		t.Fatalf("dropped_queue_full = %d, want 3", d)
	}
}

func TestStuckSubscriberIsDisconnected(t *testing.T) {
	s := startBroker(t, func(o *Options) {
		o.MaxQueuedMessages = 2
		o.MaxInflight = 1
		o.SlowConsumerTimeout = 300 * time.Millisecond
	})
	sub := connected5(t, s, "stuck")
	sub.send(subPacket(codec.V5, 1, "t", 1))
	if p, _ := sub.readPacket(5 * time.Second); len(p) == 0 || p[0] != 0x90 {
		t.Fatalf("SUBACK % x", p)
	}
	pub := connected311(t, s, "pub")
	for i := 1; i <= 10; i++ {
		pub.send(pubPacket(codec.V311, "t", 1, uint16(i), "x"))
	}
	start := time.Now()
	// The subscriber gets one message (its window), never acknowledges, and is disconnected with 0x97.
	p, err := sub.readPacket(5 * time.Second)
	if err != nil || p[0]&0xf0 != 0x30 {
		t.Fatalf("first message: % x %v", p, err)
	}
	h, body := readDecoded(t, sub)
	if h.Type != codec.TypeDisconnect || len(body) == 0 || body[0] != 0x97 {
		t.Fatalf("want DISCONNECT 0x97, got %v % x", h.Type, body)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Fatalf("disconnected after %v, before the timeout", d)
	}
	// Its session ended, so the publisher's held acknowledgements all go out.
	if acks := readAcks(t, pub, time.Second); len(acks) != 10 {
		t.Fatalf("publisher got %d PUBACKs after the stuck subscriber left, want 10", len(acks))
	}
	if n := s.stats().SlowConsumers; n != 1 {
		t.Fatalf("slow consumer count %d, want 1", n)
	}
}

func TestHeldAcksCountAgainstReceiveMaximum(t *testing.T) {
	s := startBroker(t, func(o *Options) { o.MaxQueuedMessages = 1; o.MaxInflight = 1; o.ReceiveMaximum = 3 })
	sub := connected311(t, s, "sub")
	sub.send(subPacket(codec.V311, 1, "t", 1))
	sub.expect([]byte{0x90, 3, 0, 1, 1})
	pub := connected5(t, s, "pub")
	// At most two go through (inflight 1 + queue 1); with three held the fourth over the limit is a violation.
	for i := 1; i <= 6; i++ {
		pub.send(pubPacket(codec.V5, "t", 1, uint16(i), "x"))
	}
	for {
		p, err := pub.readPacket(5 * time.Second)
		if err != nil {
			t.Fatalf("no DISCONNECT 0x93: %v", err)
		}
		if p[0] == 0x40 {
			continue
		}
		if !bytes.Equal(p, []byte{0xe0, 1, 0x93}) {
			t.Fatalf("got % x, want DISCONNECT 0x93", p)
		}
		break
	}
	pub.expectClosed()
}

func TestHeldPubrecIsNotRepeated(t *testing.T) {
	s := startBroker(t, func(o *Options) { o.MaxQueuedMessages = 0; o.MaxInflight = 1 })
	sub := connected311(t, s, "sub")
	sub.send(subPacket(codec.V311, 1, "t", 2))
	sub.expect([]byte{0x90, 3, 0, 1, 2})
	pub := connected311(t, s, "pub")
	// Two QoS 2 messages: whatever the first does, the second waits for the subscriber's window.
	pub.send(pubPacket(codec.V311, "t", 2, 1, "a"))
	pub.send(pubPacket(codec.V311, "t", 2, 2, "b"))
	var recs []uint16
	for {
		p, err := pub.readPacket(300 * time.Millisecond)
		if err != nil {
			break
		}
		recs = append(recs, uint16(p[2])<<8|uint16(p[3]))
	}
	if len(recs) > 1 {
		t.Fatalf("PUBRECs %v before the subscriber took anything", recs)
	}
	// The publisher re-sends the held one with DUP: still no PUBREC for it, and no second copy.
	dup := pubPacket(codec.V311, "t", 2, 2, "b")
	dup[0] |= 0x08
	pub.send(dup)
	pub.expectSilence(200 * time.Millisecond)
	// The subscriber completes message after message; both PUBRECs come, each once, and "b" arrives once.
	var got []string
	for comps := 0; comps < 2; {
		p, err := sub.readPacket(5 * time.Second)
		if err != nil {
			t.Fatalf("subscriber: %v (got %v)", err, got)
		}
		switch p[0] >> 4 {
		case 3:
			h, _, _ := codec.Peek(p, 0)
			var m codec.Publish
			m.Decode(h, p[h.Size:h.Len()], codec.V311)
			got = append(got, string(m.Payload))
			sub.send(codec.AppendAck(nil, codec.TypePubrec, m.PacketID, 0, codec.V311))
		case 6:
			sub.send(codec.AppendAck(nil, codec.TypePubcomp, uint16(p[2])<<8|uint16(p[3]), 0, codec.V311))
			comps++
		}
	}
	for {
		p, err := pub.readPacket(300 * time.Millisecond)
		if err != nil {
			break
		}
		recs = append(recs, uint16(p[2])<<8|uint16(p[3]))
	}
	if fmt.Sprint(recs) != "[1 2]" || fmt.Sprint(got) != "[a b]" {
		t.Fatalf("PUBRECs %v, subscriber got %v; want [1 2] and [a b]", recs, got)
	}
	sub.expectSilence(200 * time.Millisecond)
}

func TestV3PublisherWithoutWindowIsPaused(t *testing.T) {
	s := startBroker(t, func(o *Options) { o.MaxQueuedMessages = 1; o.MaxInflight = 4 })
	sub := connected311(t, s, "sub")
	sub.send(subPacket(codec.V311, 1, "t", 1))
	sub.expect([]byte{0x90, 3, 0, 1, 1})
	pub := connected311(t, s, "pub")
	const total = maxHeldAcks + 200
	var burst []byte
	for i := 1; i <= total; i++ {
		burst = append(burst, pubPacket(codec.V311, "t", 1, uint16(i), "x")...)
	}
	go pub.Write(burst) // may block once the broker stops reading
	waitFor(t, "the publisher to be paused", func() bool { _, _, h := flowGauges(s); return h >= maxHeldAcks })
	time.Sleep(100 * time.Millisecond)
	if _, _, h := flowGauges(s); h != maxHeldAcks {
		t.Fatalf("held %d acknowledgements, want the pause at %d", h, maxHeldAcks)
	}
	// The subscriber drains everything: the publisher resumes and every message arrives once.
	got := 0
	for got < total {
		p, err := sub.readPacket(5 * time.Second)
		if err != nil {
			t.Fatalf("subscriber after %d: %v", got, err)
		}
		got++
		sub.send(codec.AppendAck(nil, codec.TypePuback, uint16(p[5])<<8|uint16(p[6]), 0, codec.V311))
	}
	if acks := readAcks(t, pub, time.Second); len(acks) != total {
		t.Fatalf("publisher got %d PUBACKs, want %d", len(acks), total)
	}
	sub.expectSilence(100 * time.Millisecond)
}

// TestNoAckedLossUnderOverload runs real paho publishers on several connections (and so several loops) against
// one slow subscriber with a tiny queue: every acknowledged message must arrive.
func TestNoAckedLossUnderOverload(t *testing.T) {
	s := startBroker(t, func(o *Options) { o.MaxQueuedMessages = 5; o.MaxInflight = 2 })
	const pubs, each = 4, 250
	var mu sync.Mutex
	seen := make(map[string]int)
	done := make(chan struct{})
	sub := paho3Slow(t, s, "load/#", func(payload string) {
		mu.Lock()
		defer mu.Unlock()
		seen[payload]++
		if len(seen) == pubs*each {
			close(done)
		}
	})
	defer sub.Disconnect(100)
	var wg sync.WaitGroup
	for p := 0; p < pubs; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := mqtt.NewClientOptions().AddBroker("tcp://" + s.TCPAddr()).SetClientID(fmt.Sprint("p", p))
			c := mqtt.NewClient(o)
			if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
				t.Errorf("publisher connect: %v", tok.Error())
				return
			}
			defer c.Disconnect(100)
			toks := make([]mqtt.Token, 0, each)
			for i := 0; i < each; i++ {
				toks = append(toks, c.Publish(fmt.Sprint("load/", p), 1, false, fmt.Sprint(p, "-", i)))
			}
			for _, tk := range toks {
				if !tk.WaitTimeout(30*time.Second) || tk.Error() != nil {
					t.Errorf("publish not acknowledged: %v", tk.Error())
					return
				}
			}
		}()
	}
	wg.Wait()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != pubs*each {
		t.Fatalf("subscriber got %d distinct messages of %d acknowledged (dropped_queue_full %d)", len(seen),
			pubs*each, s.stats().DroppedQueueFull)
	}
	if d := s.stats().DroppedQueueFull; d != 0 {
		t.Fatalf("dropped_queue_full = %d", d)
	}
}

func TestSubscriptionsPerClientAreCapped(t *testing.T) {
	s := startBroker(t, func(o *Options) { o.MaxSubscriptionsPerClient = 2 })
	tests := []struct {
		name string
		v5   bool
		want []byte // SUBACK for a, b, c, then a again (a replacement is not a new subscription)
	}{
		{"v3.1.1", false, []byte{0x90, 6, 0, 1, 1, 1, 0x80, 0}},
		{"v5", true, []byte{0x90, 7, 0, 1, 0, 1, 1, 0x97, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := codec.V311
			c := (*rawConn)(nil)
			if tc.v5 {
				v = codec.V5
				c = connected5(t, s, "capped5")
			} else {
				c = connected311(t, s, "capped3")
			}
			p := codec.Subscribe{PacketID: 1, Subs: []codec.Subscription{
				{Filter: []byte("a"), QoS: 1}, {Filter: []byte("b"), QoS: 1}, {Filter: []byte("c"), QoS: 1},
				{Filter: []byte("a"), QoS: 0}}}
			c.send(p.Append(nil, v))
			c.expect(tc.want)
		})
	}
}

func TestStuckQoS0SubscriberIsDisconnected(t *testing.T) {
	s := startBroker(t, func(o *Options) {
		o.OutboundHighWater = 64 << 10
		o.SlowConsumerTimeout = 300 * time.Millisecond
	})
	stuck := connected311(t, s, "stuck")
	stuck.Conn.(*net.TCPConn).SetReadBuffer(4096)
	stuck.send(subPacket(codec.V311, 1, "t", 0))
	stuck.expect([]byte{0x90, 3, 0, 1, 0})
	// A slow subscriber that does read, a little at a time, is not stuck.
	slow := connected311(t, s, "slow")
	slow.Conn.(*net.TCPConn).SetReadBuffer(4096)
	slow.send(subPacket(codec.V311, 1, "t", 0))
	slow.expect([]byte{0x90, 3, 0, 1, 0})
	slowErr := make(chan error, 1)
	stop := make(chan struct{})
	go func() {
		buf := make([]byte, 4096)
		for {
			select {
			case <-stop:
				slowErr <- nil
				return
			case <-time.After(20 * time.Millisecond):
			}
			slow.SetReadDeadline(time.Now().Add(time.Second))
			if _, err := slow.Read(buf); err != nil {
				slowErr <- err
				return
			}
		}
	}()
	pub := connected311(t, s, "pub")
	msg := pubPacket(codec.V311, "t", 0, 0, string(make([]byte, 4096)))
	// Enough to fill the kernel's buffers on both sides and then the broker's high-water mark; the stuck client
	// reads nothing from now on.
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end) && s.stats().SlowConsumers == 0; {
		pub.send(msg)
		time.Sleep(50 * time.Microsecond)
	}
	waitFor(t, "the stuck subscriber to be disconnected", func() bool { return s.stats().SlowConsumers == 1 })
	if s.stats().DroppedHighWater == 0 {
		t.Fatal("no QoS 0 message was dropped over the high-water mark")
	}
	// Keep the load on a while longer than the timeout: the slow reader stays.
	for end := time.Now().Add(time.Second); time.Now().Before(end); {
		pub.send(msg)
		time.Sleep(200 * time.Microsecond)
	}
	close(stop)
	if err := <-slowErr; err != nil {
		t.Fatalf("the slow but reading subscriber lost its connection: %v", err)
	}
	if n := s.stats().SlowConsumers; n != 1 {
		t.Fatalf("%d slow consumers disconnected, want only the stuck one", n)
	}
	pub.send([]byte{0xc0, 0})
	pub.expect([]byte{0xd0, 0})
}

// TestV3PublisherToItselfIsNotPaused: a 3.x client that floods a topic it subscribes to waits only for its own
// PUBACKs, so pausing its input would deadlock it; it must get every message and every acknowledgement.
func TestV3PublisherToItselfIsNotPaused(t *testing.T) {
	s := startBroker(t, func(o *Options) { o.MaxQueuedMessages = 10; o.MaxInflight = 4 })
	c := connected311(t, s, "self")
	c.send(subPacket(codec.V311, 1, "me", 1))
	c.expect([]byte{0x90, 3, 0, 1, 1})
	const total = maxHeldAcks + 500
	go func() {
		var burst []byte
		for i := 1; i <= total; i++ {
			burst = append(burst, pubPacket(codec.V311, "me", 1, uint16(i), "x")...)
		}
		c.Write(burst)
	}()
	msgs, acks := 0, 0
	for msgs < total || acks < total {
		p, err := c.readPacket(5 * time.Second)
		if err != nil {
			t.Fatalf("after %d messages and %d PUBACKs: %v", msgs, acks, err)
		}
		switch p[0] >> 4 {
		case 3:
			msgs++
			c.send(codec.AppendAck(nil, codec.TypePuback, uint16(p[6])<<8|uint16(p[7]), 0, codec.V311))
		case 4:
			acks++
		}
	}
}

// TestPahoV5PublishersArePacedNotDisconnected: paho.golang publishers honour our Receive Maximum, so while their
// PUBACKs are held for a slow subscriber they wait instead of exceeding it; every publish succeeds and arrives.
func TestPahoV5PublishersArePacedNotDisconnected(t *testing.T) {
	s := startBroker(t, func(o *Options) { o.MaxQueuedMessages = 5; o.MaxInflight = 2; o.ReceiveMaximum = 4 })
	const pubs, each = 3, 200
	var mu sync.Mutex
	seen := make(map[string]bool)
	all := make(chan struct{})
	sub := paho3Slow(t, s, "load5/#", func(payload string) {
		mu.Lock()
		defer mu.Unlock()
		seen[payload] = true
		if len(seen) == pubs*each {
			close(all)
		}
	})
	defer sub.Disconnect(100)
	var maxHeld atomic.Int64
	stopSampling := make(chan struct{})
	defer close(stopSampling)
	go func() {
		for {
			select {
			case <-stopSampling:
				return
			case <-time.After(time.Millisecond):
			}
			if _, _, h := flowGauges(s); h > maxHeld.Load() {
				maxHeld.Store(h)
			}
		}
	}()
	var wg sync.WaitGroup
	var clients []*v5client
	for p := 0; p < pubs; p++ {
		c := dialV5(t, s, &paho.Connect{ClientID: fmt.Sprint("p5-", p), CleanStart: true})
		clients = append(clients, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			var inner sync.WaitGroup
			for i := 0; i < each; i++ {
				inner.Add(1)
				go func() { // concurrent publishes: paho.golang's own Receive Maximum window paces them
					defer inner.Done()
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					r, err := c.Publish(ctx, &paho.Publish{Topic: fmt.Sprint("load5/", p), QoS: 1,
						Payload: []byte(fmt.Sprint(p, "-", i))})
					if err != nil || r.ReasonCode != 0 {
						t.Errorf("publish %d-%d: %v %v", p, i, err, r)
					}
				}()
			}
			inner.Wait()
		}()
	}
	wg.Wait()
	select {
	case <-all:
	case <-time.After(30 * time.Second):
		mu.Lock()
		t.Fatalf("subscriber got %d of %d", len(seen), pubs*each)
	}
	for _, c := range clients {
		select {
		case d := <-c.serverDC:
			t.Fatalf("server disconnected a publisher: reason %#x", d.ReasonCode)
		default:
		}
	}
	if _, _, held := flowGauges(s); held != 0 {
		t.Fatalf("%d acknowledgements still held", held)
	}
	if maxHeld.Load() == 0 {
		t.Fatal("no acknowledgement was ever held: the test did not overload the subscriber")
	}
}

// paho3Slow subscribes a paho 3.1.1 client that handles each message slower than unpaced publishers send.
func paho3Slow(t *testing.T, s *Server, filter string, got func(string)) mqtt.Client {
	t.Helper()
	o := mqtt.NewClientOptions().AddBroker("tcp://" + s.TCPAddr()).SetClientID("slow-" + filter).SetAutoReconnect(false)
	o.SetOrderMatters(true)
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscriber connect: %v", tok.Error())
	}
	tok := c.Subscribe(filter, 1, func(_ mqtt.Client, m mqtt.Message) {
		time.Sleep(50 * time.Microsecond)
		got(string(m.Payload()))
	})
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	return c
}
