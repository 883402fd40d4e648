package conformance_test

import (
	"fmt"
	"strings"
	"testing"
)

// TestMatching_TopicFilterTable checks wildcard matching end to end, in the style of Mosquitto's
// 03-pattern-matching: subscribe with the filter, publish to the topic, and see whether it arrives.
func TestMatching_TopicFilterTable(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	cases := []struct {
		filter, topic string
		match         bool
	}{
		// [MQTT-4.7.1-2] multi-level wildcard, also matching the parent level.
		{"#", "a", true},
		{"#", "a/b/c", true},
		{"#", "/a", true},
		{"a/#", "a", true},
		{"a/#", "a/b", true},
		{"a/#", "a/b/c", true},
		{"a/#", "ab", false},
		{"a/b/#", "a/b", true},
		{"a/b/#", "a/c", false},
		// [MQTT-4.7.1-3] single-level wildcard.
		{"+", "a", true},
		{"+", "a/b", false},
		{"+", "/a", false},
		{"+/+", "/a", true},
		{"/+", "/a", true},
		{"+/b", "a/b", true},
		{"+/b", "a/b/c", false},
		{"a/+/c", "a/b/c", true},
		{"a/+/c", "a//c", true},
		{"a/+", "a/", true},
		{"a/+", "a", false},
		{"+/+/+", "a/b/c", true},
		{"+/#", "a", true},
		{"+/#", "a/b/c", true},
		{"a/+/#", "a/b", true},
		{"a/+/#", "a", false},
		// Exact filters: levels are case sensitive and empty levels count [MQTT-4.7.3-4].
		{"a/b", "a/b", true},
		{"a/b", "A/b", false},
		{"a/b", "a/b/", false},
		{"a//b", "a//b", true},
		{"/", "/", true},
		{"a b/c", "a b/c", true},
		{"ünï/cødé", "ünï/cødé", true},
		// [MQTT-4.7.2-1] $-topics are not matched by a filter starting with a wildcard.
		{"#", "$x/a", false},
		{"+/a", "$x/a", false},
		{"$x/#", "$x/a", true},
		{"$x/+", "$x/a", true},
	}
	for i, tc := range cases {
		name := fmt.Sprintf("%d %s vs %s", i, tc.filter, tc.topic)
		t.Run(strings.ReplaceAll(name, "/", "|"), func(t *testing.T) {
			id := fmt.Sprint("match-", i)
			sub := connectOK(t, b.addr, v311, id)
			sub.subscribe(1, tc.filter, 0, 0)
			pub := connectOK(t, b.addr, v311, id+"-pub")
			pub.send(publishPkt(v311, 0, false, false, tc.topic, 0, nil, "m"))
			if !tc.match {
				// The PINGRESP proves the broker has processed the PUBLISH before; then silence means no match.
				pub.stillOpen()
				sub.expectNothing()
				return
			}
			sub.expect(publishPkt(v311, 0, false, false, tc.topic, 0, nil, "m"))
		})
	}
}

func TestMatching_LongTopicAndManyFilters(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c := connectOK(t, b.addr, v5, "many")
	// 100 filters in one SUBSCRIBE → 100 codes in order [MQTT-3.8.4-5 area].
	var args []any
	var codes []byte
	for i := 0; i < 100; i++ {
		args = append(args, fmt.Sprintf("many/%d", i), byte(i%3))
		codes = append(codes, byte(i%3))
	}
	c.send(subscribePkt(v5, 7, nil, args...))
	c.expectSuback(7, codes...)

	// A 65 535-byte topic name (the longest a UTF-8 string may be) passes intact.
	long := "long/" + strings.Repeat("l", 65535-len("long/"))
	c.subscribe(8, "long/#", 0, 0)
	c.send(publishPkt(v5, 0, false, false, long, 0, nil, "tail"))
	p := c.expectPublish()
	if p.topic != long || p.payload != "tail" {
		t.Fatalf("long topic: got %d-byte topic, payload %q", len(p.topic), p.payload)
	}
}

func TestFraming_PacketsSplitAndCoalesced(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	sub := connectOK(t, b.addr, v311, "split-sub")
	sub.subscribe(1, "split/#", 1, 1)

	c := dial(t, b.addr, v311, "split")
	// Everything one byte per write: the broker must reassemble packets across reads.
	stream := cat(connectClean(v311, "split"), publishPkt(v311, 1, false, false, "split/a", 1, nil, "bytewise"),
		pingreq)
	for _, by := range stream {
		c.send([]byte{by})
	}
	c.expect(connackOK311)
	c.expect(ack(0x40, 1))
	c.expect(pingresp)
	p := sub.expectPublish()
	if p.payload != "bytewise" {
		t.Fatalf("got %q", p.payload)
	}
	sub.send(ack(0x40, p.pid))

	// Many packets in one write: each is answered, in order.
	var burst []byte
	for i := 1; i <= 20; i++ {
		burst = append(burst, publishPkt(v311, 1, false, false, "split/b", uint16(i), nil, fmt.Sprint(i))...)
	}
	c.send(burst)
	for i := 1; i <= 20; i++ {
		c.expect(ack(0x40, uint16(i)))
	}
	for i := 1; i <= 20; i++ {
		p := sub.expectPublish()
		if p.payload != fmt.Sprint(i) {
			t.Fatalf("burst message %d arrived as %q", i, p.payload)
		}
		sub.send(ack(0x40, p.pid))
	}

	// A 100 kB packet written in uneven chunks.
	big := publishPkt(v311, 1, false, false, "split/c", 99, nil, strings.Repeat("z", 100_000))
	for off, n := 0, 1; off < len(big); n = n*3 + 1 {
		end := min(off+n, len(big))
		c.send(big[off:end])
		off = end
	}
	c.expect(ack(0x40, 99))
	if p := sub.expectPublish(); len(p.payload) != 100_000 {
		t.Fatalf("chunked packet arrived with %d bytes", len(p.payload))
	}
}
