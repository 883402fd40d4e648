package server

import (
	"strings"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"loopmq/codec"
)

// Transport indexes of the per-transport packet counters.
const (
	trIdxTCP = iota
	trIdxWS
	trCount
)

// trLabels are the values of the transport label, by transport index.
var trLabels = [trCount]string{"tcp", "ws"}

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

// Directions of the packet counters.
const (
	dirIn = iota
	dirOut
)

// packetStats count MQTT packets and their bytes (fixed header included, transport framing not) by direction,
// transport index and packet type. The owner loop bumps plain integers, so the per-packet path has no atomic
// instruction (a locked add, or an atomic store, costs more than the rest of handling a PINGREQ), and copies them
// into atomics at every tick for scrapes, which therefore see them at most one tick (100 ms) late.
type packetStats struct {
	live [2][trCount][16]struct{ n, bytes uint64 }        // owner loop only
	pub  [2][trCount][16]struct{ n, bytes atomic.Uint64 } // live as of the last tick
}

// count adds one packet of type t and size bytes.
func (p *packetStats) count(dir, tr int, t byte, size int) {
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
func trIndex(ws bool) int {
	if ws {
		return trIdxWS
	}
	return trIdxTCP
}

// packetIn counts one received packet: its fixed header h.
func (c *counters) packetIn(ws bool, h codec.FixedHeader) {
	c.pkts.count(dirIn, trIndex(ws), byte(h.Type), h.Len())
}

// packetOut counts the packet appended to an outbox since its last write, out[from:]: its type is in its first
// byte, so nothing has to be remembered between the append and the count.
func (c *counters) packetOut(ws bool, out []byte, from int) {
	if from < len(out) {
		c.pkts.count(dirOut, trIndex(ws), out[from]>>4, len(out)-from)
	}
}

// snapshot is the sum of every loop's counters.
type snapshot struct {
	bytesIn, bytesOut, packetsIn, packetsOut, msgsIn, msgsOut                            uint64
	droppedHighWater, droppedQueueFull, droppedTooLarge, droppedExpired, droppedRetained uint64
	connectsTCP, connectsWS, protocolErrors, slowConsumers                               uint64
	wsBytesIn, wsBytesOut, wsPacketsIn, wsPacketsOut                                     uint64
	pktIn, pktOut, pktInBytes, pktOutBytes                                               [trCount][16]uint64
	queued, inflight, heldAcks                                                           int64
}

func (s *snapshot) add(c *counters) {
	s.bytesIn += c.bytesIn.Load()
	s.bytesOut += c.bytesOut.Load()
	s.msgsIn += c.msgsIn.Load()
	s.msgsOut += c.msgsOut.Load()
	s.droppedHighWater += c.droppedHighWater.Load()
	s.droppedQueueFull += c.droppedQueueFull.Load()
	s.droppedTooLarge += c.droppedTooLarge.Load()
	s.droppedExpired += c.droppedExpired.Load()
	s.droppedRetained += c.droppedRetained.Load()
	s.connectsTCP += c.connectsTCP.Load()
	s.connectsWS += c.connectsWS.Load()
	s.protocolErrors += c.protocolErrors.Load()
	s.slowConsumers += c.slowConsumers.Load()
	s.wsBytesIn += c.wsBytesIn.Load()
	s.wsBytesOut += c.wsBytesOut.Load()
	for tr := range trCount {
		for t := range 16 {
			pin, pout := &c.pkts.pub[dirIn][tr][t], &c.pkts.pub[dirOut][tr][t]
			in, out := pin.n.Load(), pout.n.Load()
			s.pktIn[tr][t] += in
			s.pktOut[tr][t] += out
			s.pktInBytes[tr][t] += pin.bytes.Load()
			s.pktOutBytes[tr][t] += pout.bytes.Load()
			s.packetsIn += in
			s.packetsOut += out
			if tr == trIdxWS {
				s.wsPacketsIn += in
				s.wsPacketsOut += out
			}
		}
	}
	s.queued += c.queued.Load()
	s.inflight += c.inflight.Load()
	s.heldAcks += c.heldAcks.Load()
}

func (s *snapshot) dropped() uint64 {
	return s.droppedHighWater + s.droppedQueueFull + s.droppedTooLarge + s.droppedExpired + s.droppedRetained
}

// stats sums the counters of every loop plus the server-wide ones.
func (s *Server) stats() snapshot {
	var sn snapshot
	sn.add(&s.global)
	for _, l := range s.loopList() {
		sn.add(&l.stats)
	}
	return sn
}

// series is one exported time series whose value is read from a snapshot (or from the server) at scrape time.
type series struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(sn *snapshot) float64
}

// brokerCollector exports the broker's series. It sums the loops' counters once per scrape, so the hot path
// only bumps per-loop atomics and a scrape costs one pass over the loops.
type brokerCollector struct {
	s      *Server
	series []series
	loops  loopSeries
}

func (c *brokerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range c.series {
		ch <- m.desc
	}
	c.loops.describe(ch)
}

func (c *brokerCollector) Collect(ch chan<- prometheus.Metric) {
	sn := c.s.stats()
	for _, m := range c.series {
		ch <- prometheus.MustNewConstMetric(m.desc, m.kind, m.value(&sn))
	}
	c.loops.collect(ch, c.s.loopList())
}

// newRegistry exposes the broker's counters to Prometheus, with the Go runtime and process collectors.
func (s *Server) newRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	r.MustRegister(&brokerCollector{s: s, series: s.brokerSeries(), loops: newLoopSeries()})
	return r
}

// brokerSeries lists every broker-wide series; the per-loop ones are in loopstats.go.
func (s *Server) brokerSeries() []series {
	var out []series
	add := func(kind prometheus.ValueType, name, help string, labels prometheus.Labels, f func(sn *snapshot) float64) {
		out = append(out, series{prometheus.NewDesc("loopmq_"+name, help, nil, labels), kind, f})
	}
	counter := func(name, help string, f func(sn *snapshot) uint64) {
		add(prometheus.CounterValue, name, help, nil, func(sn *snapshot) float64 { return float64(f(sn)) })
	}
	gauge := func(name, help string, f func(sn *snapshot) int64) {
		add(prometheus.GaugeValue, name, help, nil, func(sn *snapshot) float64 { return float64(f(sn)) })
	}
	counter("bytes_received_total", "Bytes read from clients.", func(sn *snapshot) uint64 { return sn.bytesIn })
	counter("bytes_sent_total", "Bytes written to clients.", func(sn *snapshot) uint64 { return sn.bytesOut })
	for tr := range trCount {
		for t := codec.TypeConnect; t <= codec.TypeAuth; t++ {
			labels := prometheus.Labels{"type": strings.ToLower(t.String()), "transport": trLabels[tr]}
			add(prometheus.CounterValue, "packets_received_total", "MQTT packets received, by packet type and transport.",
				labels, func(sn *snapshot) float64 { return float64(sn.pktIn[tr][t]) })
			add(prometheus.CounterValue, "packets_sent_total", "MQTT packets sent, by packet type and transport.",
				labels, func(sn *snapshot) float64 { return float64(sn.pktOut[tr][t]) })
			add(prometheus.CounterValue, "packets_received_bytes_total",
				"Bytes of the MQTT packets received (fixed header included, transport framing not), by packet type and transport.",
				labels, func(sn *snapshot) float64 { return float64(sn.pktInBytes[tr][t]) })
			add(prometheus.CounterValue, "packets_sent_bytes_total",
				"Bytes of the MQTT packets sent (fixed header included, transport framing not), by packet type and transport.",
				labels, func(sn *snapshot) float64 { return float64(sn.pktOutBytes[tr][t]) })
		}
	}
	counter("messages_received_total", "PUBLISH packets received.", func(sn *snapshot) uint64 { return sn.msgsIn })
	counter("messages_sent_total", "PUBLISH packets sent.", func(sn *snapshot) uint64 { return sn.msgsOut })
	counter("dropped_high_water_total", "QoS 0 messages dropped over the outbound high-water mark.",
		func(sn *snapshot) uint64 { return sn.droppedHighWater })
	counter("dropped_queue_full_total", "QoS 1/2 messages dropped because the session queue was full.",
		func(sn *snapshot) uint64 { return sn.droppedQueueFull })
	counter("dropped_too_large_total", "Messages not sent because they exceed the client's Maximum Packet Size.",
		func(sn *snapshot) uint64 { return sn.droppedTooLarge })
	counter("dropped_expired_total", "Messages whose Message Expiry Interval passed before delivery.",
		func(sn *snapshot) uint64 { return sn.droppedExpired })
	counter("dropped_retained_total", "Retained messages not stored because of the retained limits.",
		func(sn *snapshot) uint64 { return sn.droppedRetained })
	counter("connections_tcp_total", "TCP connections accepted.", func(sn *snapshot) uint64 { return sn.connectsTCP })
	counter("connections_ws_total", "WebSocket connections accepted.", func(sn *snapshot) uint64 { return sn.connectsWS })
	counter("slow_consumers_total", "Clients disconnected for acknowledging nothing while their queue was over its limit.",
		func(sn *snapshot) uint64 { return sn.slowConsumers })
	counter("protocol_errors_total", "Connections closed for a protocol violation.",
		func(sn *snapshot) uint64 { return sn.protocolErrors })
	gauge("connections", "Open network connections.", func(*snapshot) int64 { return s.openConns.Load() })
	out = append(out, s.transportSeries()...)
	gauge("clients_connected", "Clients with an accepted CONNECT.", func(*snapshot) int64 { return s.connected.Load() })
	gauge("sessions", "Sessions, connected or not.", func(*snapshot) int64 { return int64(s.sessions.count()) })
	gauge("subscriptions", "Subscriptions in the topic index.", func(*snapshot) int64 { return s.subscriptions.Load() })
	gauge("retained_messages", "Retained messages stored.", func(*snapshot) int64 { return int64(s.retained.Len()) })
	gauge("session_queued_messages", "QoS 1/2 messages waiting in session queues for the inflight window or the client.",
		func(sn *snapshot) int64 { return sn.queued })
	gauge("inflight_messages", "QoS 1/2 messages sent to clients and not yet acknowledged.",
		func(sn *snapshot) int64 { return sn.inflight })
	gauge("held_acks", "PUBACK/PUBREC held back from publishers while a subscriber's queue is over its limit.",
		func(sn *snapshot) int64 { return sn.heldAcks })
	return out
}

// addOwned changes a per-loop gauge from its own loop, the only writer: a plain load and store instead of a locked
// add on a path taken for every QoS 1/2 message. Scrapes on other goroutines only load.
func addOwned(g *atomic.Int64, d int64) { g.Store(g.Load() + d) }
