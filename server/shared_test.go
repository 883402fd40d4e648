package server

import (
	"testing"
	"time"

	"loopmq/codec"
)

// README, shared subscriptions: a message goes to one member chosen round-robin among members that are online and
// under their quota; when none is, the member whose turn it was gets it.

// expectPublishes reads n PUBLISH packets (QoS 1) on c, acknowledging each, and returns their payloads.
func expectPublishes(t *testing.T, c *rawConn, n int) []string {
	t.Helper()
	var got []string
	for i := 0; i < n; i++ {
		h, body := readDecoded(t, c)
		if h.Type != codec.TypePublish {
			t.Fatalf("packet %d: got %v, want PUBLISH (after %q)", i, h.Type, got)
		}
		var p codec.Publish
		if err := p.Decode(h, body, codec.V5); err != nil {
			t.Fatal(err)
		}
		got = append(got, string(p.Payload))
		c.send((&codec.Ack{Type: codec.TypePuback, PacketID: p.PacketID}).Append(nil, codec.V5))
	}
	return got
}

func subscribeShared(t *testing.T, c *rawConn, filter string) {
	t.Helper()
	c.send(subPacket(codec.V5, 1, filter, 1))
	if p, err := c.readPacket(5 * time.Second); err != nil || p[0] != 0x90 || p[len(p)-1] != 1 {
		t.Fatalf("SUBACK % x, %v", p, err)
	}
}

func TestSharedGroupSkipsOfflineMember(t *testing.T) {
	s := startBroker(t, nil)
	off := dialRaw(t, s)
	off.send(connect5With("off", codec.Properties{SessionExpiry: 300, Present: 1 << codec.PropSessionExpiry}, nil))
	if p, _ := off.readPacket(5 * time.Second); len(p) == 0 || p[0] != 0x20 {
		t.Fatalf("CONNACK % x", p)
	}
	subscribeShared(t, off, "$share/g/sh/off")
	off.send([]byte{0xe0, 0})
	off.expectClosed()

	on := connected5(t, s, "on")
	subscribeShared(t, on, "$share/g/sh/off")
	pub := connected5(t, s, "pub")
	const n = 6
	for i := uint16(1); i <= n; i++ {
		pub.send(pubPacket(codec.V5, "sh/off", 1, i, "m"))
		pub.expect([]byte{0x40, 2, 0, byte(i)})
	}
	// Every message goes to the online member: none is queued for the offline one.
	expectPublishes(t, on, n)
	on.expectSilence(200 * time.Millisecond)
	if q, _, _ := flowGauges(s); q != 0 {
		t.Fatalf("%d messages queued for the offline member, want 0", q)
	}
}

func TestSharedGroupSkipsMemberOverQuota(t *testing.T) {
	s := startBroker(t, func(o *Options) { o.MaxQueuedMessages = 2 })
	// slow takes one message into its inflight window (Receive Maximum 1) and never acknowledges it; two more
	// fill its queue to max_queued_messages.
	slow := dialRaw(t, s)
	slow.send(connect5With("slow", codec.Properties{ReceiveMaximum: 1, Present: 1 << codec.PropReceiveMaximum}, nil))
	if p, _ := slow.readPacket(5 * time.Second); len(p) == 0 || p[0] != 0x20 {
		t.Fatalf("CONNACK % x", p)
	}
	subscribeShared(t, slow, "$share/g/sh/quota")
	pub := connected5(t, s, "pub")
	for i := uint16(1); i <= 3; i++ {
		pub.send(pubPacket(codec.V5, "sh/quota", 1, i, "for slow"))
		pub.expect([]byte{0x40, 2, 0, byte(i)})
	}
	waitFor(t, "slow's queue to fill", func() bool { q, _, _ := flowGauges(s); return q == 2 })

	fast := connected5(t, s, "fast")
	subscribeShared(t, fast, "$share/g/sh/quota")
	// slow is at its quota: every new message goes to fast (which keeps up, so it stays under its own).
	for i := uint16(4); i < 10; i++ {
		pub.send(pubPacket(codec.V5, "sh/quota", 1, i, "for fast"))
		pub.expect([]byte{0x40, 2, 0, byte(i)})
		if p := expectPublishes(t, fast, 1); p[0] != "for fast" {
			t.Fatalf("fast got %q", p)
		}
	}
	if q, _, _ := flowGauges(s); q != 2 {
		t.Fatalf("%d messages queued, want slow's 2", q)
	}
}

func TestSharedGroupWithNoEligibleMemberStillDelivers(t *testing.T) {
	s := startBroker(t, nil)
	// Both members offline: the message is queued for the member whose turn it was, not lost.
	for _, id := range []string{"a", "b"} {
		c := dialRaw(t, s)
		c.send(connect5With(id, codec.Properties{SessionExpiry: 300, Present: 1 << codec.PropSessionExpiry}, nil))
		if p, _ := c.readPacket(5 * time.Second); len(p) == 0 || p[0] != 0x20 {
			t.Fatalf("CONNACK % x", p)
		}
		subscribeShared(t, c, "$share/g/sh/none")
		c.send([]byte{0xe0, 0})
		c.expectClosed()
	}
	pub := connected5(t, s, "pub")
	for i := uint16(1); i <= 4; i++ {
		pub.send(pubPacket(codec.V5, "sh/none", 1, i, "m"))
		pub.expect([]byte{0x40, 2, 0, byte(i)})
	}
	waitFor(t, "4 queued messages", func() bool { q, _, _ := flowGauges(s); return q == 4 })
}
