package conformance_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSubscribe_SubackOneCodePerFilterInOrder(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	for _, level := range []byte{v311, v5} {
		c := connectOK(t, b.addr, level, "multi-"+levelName(level))
		c.send(subscribePkt(level, 0x0102, nil, "m/0", byte(0), "m/+/1", byte(1), "m/#", byte(2)))
		// [MQTT-3.8.4-1] SUBACK with the same packet id; [MQTT-3.9.3-1] one code per filter, in order.
		c.expectSuback(0x0102, 0, 1, 2)
	}
}

func TestSubscribe_v311_InvalidFilterRefused0x80(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	for _, f := range []string{"a/#/b", "a/b#", "a+/b", "#/a"} {
		t.Run(f, func(t *testing.T) {
			c := connectOK(t, b.addr, v311, "badfilter")
			c.send(subscribePkt(v311, 3, nil, "ok/1", byte(1), f, byte(1)))
			// 3.1.1 §3.9.3: 0x80 Failure for a refused filter (closing the connection is also permitted for a
			// malformed filter, §4.7.3; loopmq answers 0x80 so the valid filters in the packet still work).
			if reference {
				expectSubackOrClosed(c, pkt(0x90, u16(3), x("01 80")))
				return
			}
			c.expect(pkt(0x90, u16(3), x("01 80")))
			c.stillOpen()
		})
	}
}

func expectSubackOrClosed(c *client, want []byte) {
	c.t.Helper()
	pk, err := c.read(wait)
	if err != nil && isClosed(err) && len(pk) == 0 {
		return
	}
	if string(pk) != string(want) {
		c.t.Fatalf("%s: got % x (%v), want % x or the close", c.name, pk, err, want)
	}
}

func TestSubscribe_v5_InvalidFilter0x8F(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c := connectOK(t, b.addr, v5, "badfilter5")
	c.send(subscribePkt(v5, 3, nil, "ok/1", byte(1), "a/#/b", byte(1)))
	if reference {
		c.expectDisconnectOneOf(0x81, 0x82, 0x8F)
		return
	}
	c.expectReply(0x90, 3, 0x01, 0x8F) // §3.9.3: 0x8F Topic Filter invalid
	c.stillOpen()
}

func TestSubscribe_v5_SharedSubscriptionAnsweredAsAdvertised(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c := dial(t, b.addr, v5, "shared-adv")
	c.send(connectClean(v5, "shared-adv"))
	ps := c.expectConnack5(0, 0)
	c.send(subscribePkt(v5, 4, nil, "$share/g/s/t", byte(1)))
	if p, ok := find(ps, propSharedAvailable); ok && p.num() == 0 {
		c.expectReply(0x90, 4, 0x9E) // Shared Subscriptions not supported
		return
	}
	c.expectReply(0x90, 4, 0x01)
	// A shared subscription with No Local is a protocol error [MQTT-3.8.3-4].
	if reference {
		return // mosquitto 2.0.11 accepts it
	}
	c.send(subscribePkt(v5, 5, nil, "$share/g/s/u", byte(1|optNoLocal)))
	c.expectDisconnectOneOf(0x82)
}

func TestUnsubscribe_Unsuback(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c := connectOK(t, b.addr, v311, "unsub311")
	c.subscribe(1, "u/a", 0, 0)
	c.send(unsubscribePkt(v311, 2, "u/a", "u/none"))
	c.expect(x("b0 02 00 02")) // [MQTT-3.10.4-4] UNSUBACK with the same id, also for unknown filters [MQTT-3.10.4-5]

	c5 := connectOK(t, b.addr, v5, "unsub5")
	c5.subscribe(1, "u/a", 0, 0)
	c5.send(unsubscribePkt(v5, 2, "u/a", "u/none"))
	c5.expectReply(0xB0, 2, 0x00, 0x11) // §3.11.3: 0x11 No subscription existed

	// After UNSUBSCRIBE no more messages [MQTT-3.10.4-2].
	pub := connectOK(t, b.addr, v311, "unsub-pub")
	pub.send(publishPkt(v311, 0, false, false, "u/a", 0, nil, "x"))
	pub.stillOpen()
	c.expectNothing()
	c5.expectNothing()
}

func TestSubscribe_ResubscribeReplacesQoS(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c := connectOK(t, b.addr, v311, "resub")
	c.subscribe(1, "rs/t", 2, 2)
	c.subscribe(2, "rs/t", 0, 0) // [MQTT-3.8.4-3] replaces the existing subscription
	pub := connectOK(t, b.addr, v311, "resub-pub")
	pub.send(publishPkt(v311, 1, false, false, "rs/t", 1, nil, "x"))
	pub.expect(ack(0x40, 1))
	c.expect(publishPkt(v311, 0, false, false, "rs/t", 0, nil, "x"))
	c.expectNothing() // one subscription, one delivery
}

func TestSubscribe_OverlappingFilters_OneDeliveryAtMaxQoS(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	for _, level := range []byte{v311, v5} {
		t.Run(levelName(level), func(t *testing.T) {
			if reference && level == v5 {
				t.Skip("mosquitto sends one message per matching subscription, which the standard also allows")
			}
			c := connectOK(t, b.addr, level, "overlap-"+levelName(level))
			for i, f := range []struct {
				filter string
				qos    byte
			}{{"ov/+", 1}, {"ov/#", 0}, {"ov/t", 2}, {"#", 0}} {
				var p []byte
				if level == v5 {
					p = props(pVBI(propSubscriptionID, i+1))
				}
				c.send(subscribePkt(level, uint16(i+1), p, f.filter, f.qos))
				c.expectSuback(uint16(i+1), f.qos)
			}
			pub := connectOK(t, b.addr, v311, "overlap-pub-"+levelName(level))
			pub.send(publishPkt(v311, 2, false, false, "ov/t", 1, nil, "once"))
			pub.expect(ack(0x50, 1))
			pub.send(ack(0x62, 1))
			pub.expect(ack(0x70, 1))
			p := c.expectPublish()
			if p.qos != 2 || p.payload != "once" {
				t.Fatalf("got %+v, want one QoS 2 delivery", p)
			}
			if level == v5 {
				// [MQTT-3.3.4-3/4/5]: one message with every matching subscription's identifier.
				var ids []int
				for _, pr := range p.props {
					if pr.id == propSubscriptionID {
						ids = append(ids, pr.num())
					}
				}
				if !slices.Equal(sortedCopy(ids), []int{1, 2, 3, 4}) {
					t.Fatalf("subscription identifiers %v, want 1 2 3 4", ids)
				}
			}
			c.send(ack(0x50, p.pid))
			c.expectReply(0x62, p.pid, 0)
			c.send(ack(0x70, p.pid))
			c.expectNothing()
		})
	}
}

func TestSubscribe_v5_SubscriptionIdentifierInDeliveredPublish(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c := connectOK(t, b.addr, v5, "subid")
	c.send(subscribePkt(v5, 1, props(pVBI(propSubscriptionID, 268435455)), "sid/a", byte(0)))
	c.expectSuback(1, 0)
	c.send(subscribePkt(v5, 2, nil, "sid/b", byte(0)))
	c.expectSuback(2, 0)
	pub := connectOK(t, b.addr, v5, "subid-pub")
	pub.send(publishPkt(v5, 0, false, false, "sid/a", 0, nil, "a"))
	c.expect(publishPkt(v5, 0, false, false, "sid/a", 0, props(pVBI(propSubscriptionID, 268435455)), "a"))
	pub.send(publishPkt(v5, 0, false, false, "sid/b", 0, nil, "b"))
	c.expect(publishPkt(v5, 0, false, false, "sid/b", 0, nil, "b")) // no identifier: none sent

	// Subscription Identifier 0 is a protocol error (§3.8.2.1.2).
	c.send(subscribePkt(v5, 3, props(pVBI(propSubscriptionID, 0)), "sid/c", byte(0)))
	c.expectDisconnectOneOf(0x81, 0x82)
}

func TestSubscribe_v5_NoLocal(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	self := connectOK(t, b.addr, v5, "nolocal")
	self.subscribe(1, "nl/t", optNoLocal, 0)
	other := connectOK(t, b.addr, v5, "nolocal-other")
	other.subscribe(1, "nl/t", 0, 0)
	self.send(publishPkt(v5, 0, false, false, "nl/t", 0, nil, "mine"))
	other.expect(publishPkt(v5, 0, false, false, "nl/t", 0, nil, "mine"))
	self.expectNothing() // [MQTT-3.8.3-3] not forwarded to the publishing connection
	other.send(publishPkt(v5, 0, false, false, "nl/t", 0, nil, "theirs"))
	self.expect(publishPkt(v5, 0, false, false, "nl/t", 0, nil, "theirs"))
}

func TestSubscribe_DollarTopicsNotMatchedByLeadingWildcard(t *testing.T) {
	t.Parallel()
	b := startBroker(t, func(c *brokerConfig) { c.sysInterval = time.Second })
	all := connectOK(t, b.addr, v311, "hash")
	all.subscribe(1, "#", 0, 0)
	plus := connectOK(t, b.addr, v311, "plus")
	plus.subscribe(1, "+/broker/#", 0, 0)
	sys := connectOK(t, b.addr, v311, "sys")
	sys.subscribe(1, "$SYS/#", 0, 0)
	// $SYS topics are published at the interval; the explicit subscription sees them [MQTT-4.7.2-1].
	p := sys.expectPublishWithin(3 * time.Second)
	if !strings.HasPrefix(p.topic, "$SYS/") {
		t.Fatalf("got %q on $SYS/#", p.topic)
	}
	// A client publishing to a $ topic other than $SYS is not seen by "#" either.
	pub := connectOK(t, b.addr, v311, "dollar-pub")
	pub.send(publishPkt(v311, 0, false, false, "$app/x", 0, nil, "x"))
	pub.send(publishPkt(v311, 0, false, false, "normal", 0, nil, "n"))
	for {
		p := all.expectPublish()
		if strings.HasPrefix(p.topic, "$") {
			t.Fatalf("# matched %q [MQTT-4.7.2-1]", p.topic)
		}
		if p.topic == "normal" {
			break
		}
	}
	for {
		pk, err := plus.read(quiet)
		if err != nil {
			break
		}
		if q, _ := parsePublish(pk, v311); strings.HasPrefix(q.topic, "$") {
			t.Fatalf("+/broker/# matched %q [MQTT-4.7.2-1]", q.topic)
		}
	}
}

// expectPublishWithin reads a PUBLISH, waiting up to d.
func (c *client) expectPublishWithin(d time.Duration) publish {
	c.t.Helper()
	pk, err := c.read(d)
	if err != nil {
		c.t.Fatalf("%s: no PUBLISH within %v: %s", c.name, d, describe(err))
	}
	p, err := parsePublish(pk, c.level)
	if err != nil {
		c.t.Fatalf("%s: %v", c.name, err)
	}
	return p
}

func TestSubscribe_SharedSubscription_OneMemberPerGroup(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	for _, level := range []byte{v311, v5} {
		t.Run(levelName(level), func(t *testing.T) {
			topic := "sh/" + levelName(level)
			var g1 []*client
			for i := 0; i < 3; i++ {
				c := connectOK(t, b.addr, level, fmt.Sprintf("g1-%d-%s", i, levelName(level)))
				c.subscribe(1, "$share/g1/"+topic, 1, 1)
				g1 = append(g1, c)
			}
			g2 := connectOK(t, b.addr, level, "g2-"+levelName(level))
			g2.subscribe(1, "$share/g2/"+topic, 0, 0)
			normal := connectOK(t, b.addr, level, "normal-"+levelName(level))
			normal.subscribe(1, topic, 0, 0)
			pub := connectOK(t, b.addr, level, "sh-pub-"+levelName(level))
			const n = 12
			for i := 0; i < n; i++ {
				pub.send(publishPkt(level, 1, false, false, topic, uint16(i+1), nil, fmt.Sprint(i)))
				pub.expectReply(0x40, uint16(i+1), 0)
			}
			// Each message goes to exactly one member of each group (§4.8.2), and to the plain subscriber.
			for i := 0; i < n; i++ {
				if p := g2.expectPublish(); p.payload != fmt.Sprint(i) {
					t.Fatalf("group g2 got %q, want %d", p.payload, i)
				}
				if p := normal.expectPublish(); p.payload != fmt.Sprint(i) {
					t.Fatalf("plain subscriber got %q, want %d", p.payload, i)
				}
			}
			seen := map[string]int{}
			members := 0
			for _, c := range g1 {
				got := 0
				for {
					pk, err := c.read(quiet)
					if err != nil {
						break
					}
					p, _ := parsePublish(pk, level)
					seen[p.payload]++
					c.send(ack(0x40, p.pid))
					got++
				}
				if got > 0 {
					members++
				}
			}
			for i := 0; i < n; i++ {
				if seen[fmt.Sprint(i)] != 1 {
					t.Fatalf("group g1 received message %d %d times, want once (all: %v)", i, seen[fmt.Sprint(i)], seen)
				}
			}
			if members < 2 {
				t.Errorf("only %d of 3 group members received messages: distribution expected", members)
			}
		})
	}
}
