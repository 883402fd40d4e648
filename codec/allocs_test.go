package codec_test

import (
	"testing"

	"loopmq/codec"
)

// TestZeroAllocs holds the hot paths to zero allocations in steady state: decoding into a reused
// Decoder and appending to a buffer with room, for every benchmarked packet.
func TestZeroAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts are measured in the full run")
	}
	for _, c := range benchCases() {
		var d codec.Decoder
		raw := c.raw
		if n := testing.AllocsPerRun(50, func() {
			if _, _, err := d.Next(raw, c.v, 0); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%s: decode allocates %v times", c.name, n)
		}
		if c.p == nil {
			continue
		}
		p := c.p.(interface {
			Append([]byte, codec.Version) []byte
		})
		buf := make([]byte, 0, len(raw))
		if n := testing.AllocsPerRun(50, func() { buf = p.Append(buf[:0], c.v) }); n != 0 {
			t.Errorf("%s: encode allocates %v times", c.name, n)
		}
	}
	var p codec.Publish
	var raw []byte
	for _, c := range benchCases() {
		if c.name == "publish-v5-props-qos1-16B" {
			raw = c.raw
		}
	}
	h, _, _ := codec.Peek(raw, 0)
	if err := p.Decode(h, raw[h.Size:], codec.V5); err != nil || len(p.Props.Raw) == 0 {
		t.Fatalf("v5 publish: %v, raw properties % x", err, p.Props.Raw)
	}
	fwd := make([]byte, 0, 64)
	head := make([]byte, 0, 128)
	x := &codec.ForwardProps{MessageExpiry: 5, HasMessageExpiry: true, TopicAlias: 2, SubscriptionIDs: []uint32{1, 2}}
	if n := testing.AllocsPerRun(50, func() {
		fwd = codec.FilterForwardProps(fwd[:0], p.Props.Raw)
		head = codec.AppendPublishHead(head[:0], codec.V5, 2, p.Topic, 1, fwd, x, len(p.Payload))
		codec.SetPublishPacketID(head, 9)
	}); n != 0 {
		t.Errorf("forwarding allocates %v times", n)
	}
}
