package stats

import (
	"testing"

	"loopmq/codec"
	"loopmq/server/proxyproto"
)

// TestPacketsReachASnapshotAtPublish: packet counts are plain integers of the owner loop until Publish copies
// them for readers; other counters are read as they are.
func TestPacketsReachASnapshotAtPublish(t *testing.T) {
	var c Loop
	c.PacketIn(false, codec.FixedHeader{Type: codec.TypePublish, Remaining: 8, Size: 2})
	c.PacketIn(true, codec.FixedHeader{Type: codec.TypePingreq, Size: 2})
	out := []byte{0x20, 2, 0, 0} // a CONNACK appended after 0 bytes
	c.PacketOut(true, out, 0)
	c.PacketOut(true, out, len(out)) // nothing appended: nothing counted
	c.BytesIn.Add(12)
	c.Connects[WS].Add(1)
	c.ProxyRefused[proxyproto.ReasonMissing].Add(5)
	AddOwned(&c.Queued, 3)
	AddOwned(&c.Queued, -1)

	var before Snapshot
	before.Add(&c)
	if before.TransportPackets(In, TCP) != 0 || before.BytesIn != 12 || before.Connects[WS] != 1 || before.Queued != 2 {
		t.Fatalf("before Publish: %+v", before)
	}
	c.Packets.Publish()
	var sn Snapshot
	sn.Add(&c)
	sn.Add(&c) // a second loop with the same counts
	if sn.ProxyRefused[proxyproto.ReasonMissing] != 10 || sn.ProxyRefused[proxyproto.ReasonUntrusted] != 0 {
		t.Errorf("proxy refusals summed over loops: %v", sn.ProxyRefused)
	}
	for _, tc := range []struct {
		dir  int
		tr   Transport
		t    codec.Type
		want Count
	}{
		{In, TCP, codec.TypePublish, Count{2, 20}},
		{In, WS, codec.TypePingreq, Count{2, 4}},
		{Out, WS, codec.TypeConnack, Count{2, 8}},
		{Out, TCP, codec.TypeConnack, Count{}},
	} {
		if got := sn.Packets[tc.dir][tc.tr][tc.t]; got != tc.want {
			t.Errorf("packets[%d][%v][%v] = %+v, want %+v", tc.dir, tc.tr, tc.t, got, tc.want)
		}
	}
	if sn.BytesIn != 24 || sn.Connects[WS] != 2 || sn.Queued != 4 {
		t.Fatalf("sum of two loops: %+v", sn)
	}
}

// BenchmarkPacketIn is the per-packet cost of counting a received packet on its loop.
func BenchmarkPacketIn(b *testing.B) {
	var c Loop
	h := codec.FixedHeader{Type: codec.TypePublish, Remaining: 30, Size: 2}
	b.ReportAllocs()
	for b.Loop() {
		c.PacketIn(false, h)
	}
	if c.Packets.live[In][TCP][codec.TypePublish].n == 0 {
		b.Fatal("nothing counted")
	}
}
