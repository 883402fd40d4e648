package conformance_test

import (
	"strings"
	"testing"
	"time"
)

// Keep Alive from the client's side of the bargain: a client that sends something at least once per Keep Alive
// period, whatever it sends, keeps its connection [MQTT-3.1.2-23 (3.1.1) / MQTT-3.1.2-20 (5.0)], and the Server
// closes only after one and a half periods of silence [MQTT-3.1.2-24 (3.1.1) / MQTT-3.1.2-22 (5.0)].

func TestSpec311_KeepAlive_AnyPacketOncePerPeriodKeepsTheConnection(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	for _, level := range []byte{v311, v5} {
		for _, tc := range []struct {
			name   string
			packet []byte
			every  time.Duration
		}{
			// Exactly once per period: the client meets its obligation, so the Server must not close.
			{"PINGREQ every 1 s", pingreq, time.Second},
			// Any control packet counts, not only PINGREQ.
			{"QoS 0 PUBLISH every 0.9 s", publishPkt(level, 0, false, false, "ka/any", 0, nil, "x"), 900 * time.Millisecond},
		} {
			t.Run(levelName(level)+" "+tc.name, func(t *testing.T) {
				t.Parallel()
				id := "ka-" + strings.ReplaceAll(tc.name, " ", "") + levelName(level)
				c := connectWith(t, b.addr, level, id, connectPkt(level, flagClean, 1, nil, str(id)))
				if level == v5 {
					c.expectConnack5(0, 0)
				} else {
					c.expect(connackOK311)
				}
				start := time.Now()
				for time.Since(start) < 3500*time.Millisecond {
					time.Sleep(tc.every)
					c.send(tc.packet)
					if tc.packet[0] == pingreq[0] {
						c.expect(pingresp)
					}
				}
				c.stillOpen()
			})
		}
	}
}

func TestSpec5_ClientMaximumPacketSizeAppliesToRetainedMessages(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	pub := connectOK(t, b.addr, v5, "mpsr-pub")
	pub.send(publishPkt(v5, 1, true, false, "mpsr/big", 1, nil, strings.Repeat("b", 300)))
	pub.expectPubackOK(1)
	pub.send(publishPkt(v5, 1, true, false, "mpsr/small", 2, nil, "s"))
	pub.expectPubackOK(2)
	c := connectWith(t, b.addr, v5, "mpsr", connectPkt(v5, flagClean, 60, props(pU32(propMaximumPacketSize, 64)),
		str("mpsr")))
	c.expectConnack5(0, 0)
	c.subscribe(1, "mpsr/+", 1, 1)
	// [MQTT-3.1.2-24] the 300-byte retained message is never sent to this client; [MQTT-3.1.2-25] it is dropped as
	// if delivered, and the one that fits still arrives.
	p := c.expectPublish()
	if p.topic != "mpsr/small" || !p.retain {
		t.Fatalf("got %q (%d bytes, retain %v), want only the small retained message", p.topic, len(p.payload),
			p.retain)
	}
	c.send(ack(0x40, p.pid))
	c.expectNothing()
}
