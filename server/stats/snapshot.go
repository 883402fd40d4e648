// Package stats counts what the broker does and shows it: the counters each event loop keeps for itself, the
// busy clock, the snapshot that sums them, the Prometheus collector and the $SYS topic tree. Loops only write
// their own counters; everything else reads a Snapshot.
package stats

import (
	"time"

	"loopmq/server/proxyproto"
)

// Transport indexes the per-transport counters.
type Transport uint8

// The transports a connection can use, as the transport label and the $SYS tree name them.
const (
	TCP Transport = iota
	WS
	NumTransports
)

var transportNames = [NumTransports]string{"tcp", "ws"}

// String is the transport's label value: "tcp" or "ws".
func (t Transport) String() string { return transportNames[t] }

// Directions of the packet counters.
const (
	In = iota
	Out
)

// Count is a number of MQTT packets and their bytes (fixed header included, transport framing not).
type Count struct{ N, Bytes uint64 }

// Snapshot is the broker's figures at one moment: the loops' counters summed, the broker-wide gauges and one
// entry per loop. Counters are read one by one while loops keep counting, so two fields may disagree by the work
// done in between.
type Snapshot struct {
	Uptime time.Duration

	BytesIn, BytesOut     uint64 // bytes read from and written to clients, transport framing included
	WSBytesIn, WSBytesOut uint64 // the WebSocket share of BytesIn and BytesOut
	// Packets are the MQTT packets by direction (In, Out), transport and packet type.
	Packets         [2][NumTransports][16]Count
	MsgsIn, MsgsOut uint64 // PUBLISH packets received, and sent (deliveries, retransmissions included)

	DroppedHighWater uint64 // QoS 0 over the outbound high-water mark
	DroppedQueueFull uint64 // QoS 1/2 beyond max_queued_messages
	DroppedTooLarge  uint64 // larger than the client's Maximum Packet Size
	DroppedExpired   uint64 // Message Expiry Interval passed before delivery
	DroppedRetained  uint64 // retained beyond the retained limits
	PublishDenied    uint64 // PUBLISH refused by acl_file (not counted in the dropped total)

	Connects       [NumTransports]uint64 // connections accepted, by transport
	Open           [NumTransports]int64  // connections open, by transport
	TotalConnects  uint64                // CONNECTs accepted
	ProtocolErrors uint64                // connections closed for a protocol violation
	SlowConsumers  uint64                // subscribers disconnected for not acknowledging
	// ProxyRefused are the connections the PROXY protocol layer closed, by reason.
	ProxyRefused [proxyproto.NumReasons]uint64

	Connected     int64 // clients with an accepted CONNECT
	Sessions      int64 // sessions, connected or not
	Subscriptions int64 // subscriptions in the topic index
	Retained      int64 // retained messages stored
	Queued        int64 // QoS 1/2 messages in session queues
	Inflight      int64 // QoS 1/2 messages sent and not yet acknowledged
	HeldAcks      int64 // PUBACK/PUBREC held back from publishers

	Loops []LoopSnapshot // in the order loops served their first connection
}

// LoopSnapshot is one event loop's own figures.
type LoopSnapshot struct {
	Index          int
	BusyNanos      uint64 // time spent in the broker's callbacks
	Conns          int64  // open connections the loop serves
	MailDrains     uint64 // mailbox wake-ups handled
	MailDeliveries uint64 // deliveries other loops posted to this loop
	MailTasks      uint64 // tasks other loops posted to this loop
	MailPending    int    // deliveries and tasks waiting in the mailbox now
}

// Dropped is every message dropped, for whatever reason.
func (sn *Snapshot) Dropped() uint64 {
	return sn.DroppedHighWater + sn.DroppedQueueFull + sn.DroppedTooLarge + sn.DroppedExpired + sn.DroppedRetained
}

// TransportBytesIn is the part of BytesIn that came over transport t.
func (sn *Snapshot) TransportBytesIn(t Transport) uint64 {
	if t == WS {
		return sn.WSBytesIn
	}
	return subFloor(sn.BytesIn, sn.WSBytesIn)
}

// TransportBytesOut is the part of BytesOut that went over transport t.
func (sn *Snapshot) TransportBytesOut(t Transport) uint64 {
	if t == WS {
		return sn.WSBytesOut
	}
	return subFloor(sn.BytesOut, sn.WSBytesOut)
}

// TransportPackets is the number of MQTT packets of direction dir (In or Out) over transport t, of any type.
func (sn *Snapshot) TransportPackets(dir int, t Transport) uint64 {
	var n uint64
	for _, c := range &sn.Packets[dir][t] {
		n += c.N
	}
	return n
}

// subFloor is a - b, or 0 when b > a: the WebSocket share is read after the total, so it may briefly exceed it.
func subFloor(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}
