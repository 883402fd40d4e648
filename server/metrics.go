package server

import (
	"sync/atomic"
	"time"

	"loopmq/codec"
	"loopmq/server/stats"
)

// counters are written by one event loop each (no contention) and summed when read.
type counters struct {
	bytesIn, bytesOut       atomic.Uint64
	msgsIn, msgsOut         atomic.Uint64
	droppedHighWater        atomic.Uint64 // QoS 0 over the outbound high-water mark
	droppedQueueFull        atomic.Uint64 // QoS 1/2 beyond max_queued_messages
	droppedTooLarge         atomic.Uint64 // larger than the client's Maximum Packet Size
	droppedExpired          atomic.Uint64 // Message Expiry Interval passed before delivery
	droppedRetained         atomic.Uint64 // retained beyond the retained limits
	connectsTCP, connectsWS atomic.Uint64 // connections accepted, by transport (once sniffing decided)
	wsBytesIn, wsBytesOut   atomic.Uint64 // the WebSocket share of bytesIn and bytesOut (framing included)
	protocolErrors          atomic.Uint64
	slowConsumers           atomic.Uint64 // subscribers disconnected for not acknowledging (flow.go)
	pkts                    packetStats   // MQTT packets and their bytes by direction, transport and type
	// Event loop accounting, kept by the loop itself (loopstats.go).
	busyNanos      atomic.Uint64 // time spent in the broker's callbacks on this loop
	mailDrains     atomic.Uint64 // mailbox wake-ups handled
	mailDeliveries atomic.Uint64 // deliveries other loops posted to this loop, handled
	mailTasks      atomic.Uint64 // tasks other loops posted to this loop, run
	conns          atomic.Int64  // open connections owned by this loop
	// Gauges kept by the owner loop of each session (their sum over loops is the broker's figure), changed only
	// with addOwned.
	queued   atomic.Int64 // QoS 1/2 messages in session queues (waiting for the inflight window or the client)
	inflight atomic.Int64 // QoS 1/2 messages sent to clients and not yet acknowledged
	heldAcks atomic.Int64 // PUBACK/PUBREC held back from publishers while a subscriber's queue is over its limit
	_        [64]byte     // keep loops' counters on separate cache lines
}

// packetStats count MQTT packets and their bytes (fixed header included, transport framing not) by direction,
// transport index and packet type. The owner loop bumps plain integers, so the per-packet path has no atomic
// instruction (a locked add, or an atomic store, costs more than the rest of handling a PINGREQ), and copies them
// into atomics at every tick for scrapes, which therefore see them at most one tick (100 ms) late.
type packetStats struct {
	live [2][stats.NumTransports][16]struct{ n, bytes uint64 }        // owner loop only
	pub  [2][stats.NumTransports][16]struct{ n, bytes atomic.Uint64 } // live as of the last tick
}

// count adds one packet of type t and size bytes.
func (p *packetStats) count(dir int, tr stats.Transport, t byte, size int) {
	c := &p.live[dir][tr][t&15]
	c.n++
	c.bytes += uint64(size)
}

// publish copies the live counts for scrapes; it runs on the owner loop at every tick.
func (p *packetStats) publish() {
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

// trIndex is the transport index of a connection: WebSocket when it has a transport layer.
func trIndex(ws bool) stats.Transport {
	if ws {
		return stats.WS
	}
	return stats.TCP
}

// packetIn counts one received packet: its fixed header h.
func (c *counters) packetIn(ws bool, h codec.FixedHeader) {
	c.pkts.count(stats.In, trIndex(ws), byte(h.Type), h.Len())
}

// packetOut counts the packet appended to an outbox since its last write, out[from:]: its type is in its first
// byte, so nothing has to be remembered between the append and the count.
func (c *counters) packetOut(ws bool, out []byte, from int) {
	if from < len(out) {
		c.pkts.count(stats.Out, trIndex(ws), out[from]>>4, len(out)-from)
	}
}

// readStats fills sn with the broker's figures: every loop's counters summed, the broker-wide gauges and each
// loop's own figures. It is the one source of /metrics and $SYS.
func (s *Server) readStats(sn *stats.Snapshot) {
	sn.Uptime = time.Since(s.started)
	loops := s.loopList()
	sn.Loops = make([]stats.LoopSnapshot, 0, len(loops))
	for _, l := range loops {
		c := &l.stats
		c.addTo(sn)
		sn.Loops = append(sn.Loops, stats.LoopSnapshot{
			Index:          l.idx,
			BusyNanos:      c.busyNanos.Load(),
			Conns:          c.conns.Load(),
			MailDrains:     c.mailDrains.Load(),
			MailDeliveries: c.mailDeliveries.Load(),
			MailTasks:      c.mailTasks.Load(),
			MailPending:    l.mailboxPending(),
		})
	}
	sn.Open = [stats.NumTransports]int64{s.openTCP.Load(), s.openWS.Load()}
	sn.TotalConnects = s.totalConnects.Load()
	sn.Connected = s.connected.Load()
	sn.Sessions = int64(s.sessions.count())
	sn.Subscriptions = s.subscriptions.Load()
	sn.Retained = int64(s.retained.Len())
}

// stats is readStats as a value.
func (s *Server) stats() stats.Snapshot {
	var sn stats.Snapshot
	s.readStats(&sn)
	return sn
}

// addTo adds c's counters to sn.
func (c *counters) addTo(sn *stats.Snapshot) {
	sn.BytesIn += c.bytesIn.Load()
	sn.BytesOut += c.bytesOut.Load()
	sn.WSBytesIn += c.wsBytesIn.Load()
	sn.WSBytesOut += c.wsBytesOut.Load()
	sn.MsgsIn += c.msgsIn.Load()
	sn.MsgsOut += c.msgsOut.Load()
	sn.DroppedHighWater += c.droppedHighWater.Load()
	sn.DroppedQueueFull += c.droppedQueueFull.Load()
	sn.DroppedTooLarge += c.droppedTooLarge.Load()
	sn.DroppedExpired += c.droppedExpired.Load()
	sn.DroppedRetained += c.droppedRetained.Load()
	sn.Connects[stats.TCP] += c.connectsTCP.Load()
	sn.Connects[stats.WS] += c.connectsWS.Load()
	sn.ProtocolErrors += c.protocolErrors.Load()
	sn.SlowConsumers += c.slowConsumers.Load()
	for d := range c.pkts.pub {
		for tr := range c.pkts.pub[d] {
			for t := range c.pkts.pub[d][tr] {
				q, x := &c.pkts.pub[d][tr][t], &sn.Packets[d][tr][t]
				x.N += q.n.Load()
				x.Bytes += q.bytes.Load()
			}
		}
	}
	sn.Queued += c.queued.Load()
	sn.Inflight += c.inflight.Load()
	sn.HeldAcks += c.heldAcks.Load()
}

// addOwned changes a per-loop gauge from its own loop, the only writer: a plain load and store instead of a locked
// add on a path taken for every QoS 1/2 message. Scrapes on other goroutines only load.
func addOwned(g *atomic.Int64, d int64) { g.Store(g.Load() + d) }
