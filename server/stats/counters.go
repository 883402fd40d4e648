package stats

import (
	"sync/atomic"

	"loopmq/codec"
	"loopmq/server/proxyproto"
)

// Loop is one event loop's counters. Only the loop writes them, so an update is an uncontended atomic add (or,
// for the gauges, AddOwned's load and store; for packets, a plain add), with no lock and no allocation; scrapes
// and $SYS on other goroutines only load them (Snapshot.Add).
type Loop struct {
	BytesIn, BytesOut     atomic.Uint64 // read from and written to clients, transport framing included
	WSBytesIn, WSBytesOut atomic.Uint64 // the WebSocket share of BytesIn and BytesOut
	MsgsIn, MsgsOut       atomic.Uint64 // PUBLISH packets received, and sent
	DroppedHighWater      atomic.Uint64 // QoS 0 over the outbound high-water mark
	DroppedQueueFull      atomic.Uint64 // QoS 1/2 beyond max_queued_messages
	DroppedTooLarge       atomic.Uint64 // larger than the client's Maximum Packet Size
	DroppedExpired        atomic.Uint64 // Message Expiry Interval passed before delivery
	DroppedRetained       atomic.Uint64 // retained beyond the retained limits
	PublishDenied         atomic.Uint64 // PUBLISH refused by acl_file
	// Connects counts connections accepted, by transport, once sniffing decided it.
	Connects       [NumTransports]atomic.Uint64
	ProtocolErrors atomic.Uint64
	SlowConsumers  atomic.Uint64 // subscribers disconnected for not acknowledging
	Packets        Packets       // MQTT packets and their bytes by direction, transport and type
	// ProxyRefused counts connections closed by the PROXY protocol layer, by reason.
	ProxyRefused [proxyproto.NumReasons]atomic.Uint64

	// The loop's own work.
	BusyNanos      atomic.Uint64 // time spent in the broker's callbacks (BusyClock)
	MailDrains     atomic.Uint64 // mailbox wake-ups handled
	MailDeliveries atomic.Uint64 // deliveries other loops posted to this loop, handled
	MailTasks      atomic.Uint64 // tasks other loops posted to this loop, run
	Conns          atomic.Int64  // open connections owned by this loop

	// Gauges kept by the owner loop of each session (their sum over loops is the broker's figure), changed only
	// with AddOwned.
	Queued   atomic.Int64 // QoS 1/2 messages in session queues (waiting for the inflight window or the client)
	Inflight atomic.Int64 // QoS 1/2 messages sent to clients and not yet acknowledged
	HeldAcks atomic.Int64 // PUBACK/PUBREC held back from publishers while a subscriber's queue is over its limit
	_        [64]byte     // keep loops' counters on separate cache lines
}

// AddOwned changes a per-loop gauge from its own loop, the only writer: a plain load and store instead of a locked
// add on a path taken for every QoS 1/2 message. Scrapes on other goroutines only load.
func AddOwned(g *atomic.Int64, d int64) { g.Store(g.Load() + d) }

// Packets count MQTT packets and their bytes (fixed header included, transport framing not) by direction,
// transport and packet type. The owner loop bumps plain integers, so the per-packet path has no atomic
// instruction (a locked add, or an atomic store, costs more than the rest of handling a PINGREQ), and copies them
// into atomics with Publish at every tick for scrapes, which therefore see them at most one tick (100 ms) late.
type Packets struct {
	live [2][NumTransports][16]struct{ n, bytes uint64 }        // owner loop only
	pub  [2][NumTransports][16]struct{ n, bytes atomic.Uint64 } // live as of the last Publish
}

// count adds one packet of type t and size bytes.
func (p *Packets) count(dir int, tr Transport, t byte, size int) {
	c := &p.live[dir][tr][t&15]
	c.n++
	c.bytes += uint64(size)
}

// Publish copies the live counts for scrapes; the owner loop calls it at every tick.
func (p *Packets) Publish() {
	for d := range p.live {
		for tr := range p.live[d] {
			for t := range p.live[d][tr] {
				c, q := &p.live[d][tr][t], &p.pub[d][tr][t]
				if q.n.Load() != c.n { // every packet bumps n, so bytes changed only if n did
					q.n.Store(c.n)
					q.bytes.Store(c.bytes)
				}
			}
		}
	}
}

// trIndex is the transport of a connection: WebSocket when it has a transport layer.
func trIndex(ws bool) Transport {
	if ws {
		return WS
	}
	return TCP
}

// PacketIn counts one received packet: its fixed header h.
func (c *Loop) PacketIn(ws bool, h codec.FixedHeader) {
	c.Packets.count(In, trIndex(ws), byte(h.Type), h.Len())
}

// PacketOut counts the packet appended to an outbox since its last write, out[from:]: its type is in its first
// byte, so nothing has to be remembered between the append and the count.
func (c *Loop) PacketOut(ws bool, out []byte, from int) {
	if from < len(out) {
		c.Packets.count(Out, trIndex(ws), out[from]>>4, len(out)-from)
	}
}

// Add adds c's counters to sn (not its per-loop entry: see Loop.Snapshot).
func (sn *Snapshot) Add(c *Loop) {
	sn.BytesIn += c.BytesIn.Load()
	sn.BytesOut += c.BytesOut.Load()
	sn.WSBytesIn += c.WSBytesIn.Load()
	sn.WSBytesOut += c.WSBytesOut.Load()
	sn.MsgsIn += c.MsgsIn.Load()
	sn.MsgsOut += c.MsgsOut.Load()
	sn.DroppedHighWater += c.DroppedHighWater.Load()
	sn.DroppedQueueFull += c.DroppedQueueFull.Load()
	sn.DroppedTooLarge += c.DroppedTooLarge.Load()
	sn.DroppedExpired += c.DroppedExpired.Load()
	sn.DroppedRetained += c.DroppedRetained.Load()
	sn.PublishDenied += c.PublishDenied.Load()
	for tr := range c.Connects {
		sn.Connects[tr] += c.Connects[tr].Load()
	}
	sn.ProtocolErrors += c.ProtocolErrors.Load()
	sn.SlowConsumers += c.SlowConsumers.Load()
	for r := range c.ProxyRefused {
		sn.ProxyRefused[r] += c.ProxyRefused[r].Load()
	}
	p := &c.Packets.pub
	for d := range p {
		for tr := range p[d] {
			for t := range p[d][tr] {
				q, x := &p[d][tr][t], &sn.Packets[d][tr][t]
				x.N += q.n.Load()
				x.Bytes += q.bytes.Load()
			}
		}
	}
	sn.Queued += c.Queued.Load()
	sn.Inflight += c.Inflight.Load()
	sn.HeldAcks += c.HeldAcks.Load()
}

// Snapshot is the loop's own entry of a Snapshot; pending is its mailbox's length, which the loop's owner knows.
func (c *Loop) Snapshot(index, pending int) LoopSnapshot {
	return LoopSnapshot{
		Index:          index,
		BusyNanos:      c.BusyNanos.Load(),
		Conns:          c.Conns.Load(),
		MailDrains:     c.MailDrains.Load(),
		MailDeliveries: c.MailDeliveries.Load(),
		MailTasks:      c.MailTasks.Load(),
		MailPending:    pending,
	}
}
