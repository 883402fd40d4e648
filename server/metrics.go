package server

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// counters are written by one event loop each (no contention) and summed when read.
type counters struct {
	bytesIn, bytesOut       atomic.Uint64
	packetsIn, packetsOut   atomic.Uint64
	msgsIn, msgsOut         atomic.Uint64
	droppedHighWater        atomic.Uint64 // QoS 0 over the outbound high-water mark
	droppedQueueFull        atomic.Uint64 // QoS 1/2 beyond max_queued_messages
	droppedTooLarge         atomic.Uint64 // larger than the client's Maximum Packet Size
	droppedExpired          atomic.Uint64 // Message Expiry Interval passed before delivery
	droppedRetained         atomic.Uint64 // retained beyond the retained limits
	connectsTCP, connectsWS atomic.Uint64 // connections accepted, by transport (once sniffing decided)
	wsBytesIn, wsBytesOut   atomic.Uint64 // the WebSocket share of bytesIn and bytesOut (framing included)
	wsPacketsIn             atomic.Uint64 // the WebSocket share of packetsIn
	wsPacketsOut            atomic.Uint64 // the WebSocket share of packetsOut
	protocolErrors          atomic.Uint64
	slowConsumers           atomic.Uint64 // subscribers disconnected for not acknowledging (flow.go)
	// Gauges kept by the owner loop of each session (their sum over loops is the broker's figure).
	queued   atomic.Int64 // QoS 1/2 messages in session queues (waiting for the inflight window or the client)
	inflight atomic.Int64 // QoS 1/2 messages sent to clients and not yet acknowledged
	heldAcks atomic.Int64 // PUBACK/PUBREC held back from publishers while a subscriber's queue is over its limit
	_        [64]byte     // keep loops' counters on separate cache lines
}

// snapshot is the sum of every loop's counters.
type snapshot struct {
	bytesIn, bytesOut, packetsIn, packetsOut, msgsIn, msgsOut                            uint64
	droppedHighWater, droppedQueueFull, droppedTooLarge, droppedExpired, droppedRetained uint64
	connectsTCP, connectsWS, protocolErrors, slowConsumers                               uint64
	wsBytesIn, wsBytesOut, wsPacketsIn, wsPacketsOut                                     uint64
}

func (s *snapshot) add(c *counters) {
	s.bytesIn += c.bytesIn.Load()
	s.bytesOut += c.bytesOut.Load()
	s.packetsIn += c.packetsIn.Load()
	s.packetsOut += c.packetsOut.Load()
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
	s.wsPacketsIn += c.wsPacketsIn.Load()
	s.wsPacketsOut += c.wsPacketsOut.Load()
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

// newRegistry exposes the broker's counters to Prometheus. Values are read at scrape time, so the hot path only
// bumps per-loop atomics.
func (s *Server) newRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	counter := func(name, help string, f func(sn *snapshot) uint64) {
		r.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "loopmq", Name: name, Help: help},
			func() float64 { sn := s.stats(); return float64(f(&sn)) }))
	}
	gauge := func(name, help string, f func() float64) {
		r.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "loopmq", Name: name, Help: help}, f))
	}
	counter("bytes_received_total", "Bytes read from clients.", func(sn *snapshot) uint64 { return sn.bytesIn })
	counter("bytes_sent_total", "Bytes written to clients.", func(sn *snapshot) uint64 { return sn.bytesOut })
	counter("packets_received_total", "MQTT packets received.", func(sn *snapshot) uint64 { return sn.packetsIn })
	counter("packets_sent_total", "MQTT packets sent.", func(sn *snapshot) uint64 { return sn.packetsOut })
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
	gauge("connections", "Open network connections.", func() float64 { return float64(s.openConns.Load()) })
	s.registerTransportMetrics(r)
	gauge("clients_connected", "Clients with an accepted CONNECT.", func() float64 { return float64(s.connected.Load()) })
	gauge("sessions", "Sessions, connected or not.", func() float64 { return float64(s.sessions.count()) })
	gauge("subscriptions", "Subscriptions in the topic index.", func() float64 { return float64(s.subscriptions.Load()) })
	gauge("retained_messages", "Retained messages stored.", func() float64 { return float64(s.retained.Len()) })
	return r
}
