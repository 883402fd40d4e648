package stats

import (
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"loopmq/codec"
	"loopmq/server/proxyproto"
)

// NewRegistry is the registry /metrics serves: the broker's series read through read, the Go runtime's and the
// process's.
func NewRegistry(read func(*Snapshot)) *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	r.MustRegister(NewCollector(read))
	return r
}

// Collector exports a Snapshot as the loopmq_ series, one series per fact: a total that a sum over a label of
// another series gives is not exported again. It takes one snapshot per scrape, so the loops pay nothing for a
// scrape but the mailbox lock the pending gauge takes.
type Collector struct {
	read   func(*Snapshot)
	series []series
	loops  loopSeries
}

// series is one broker-wide time series and how to read its value from a snapshot.
type series struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(sn *Snapshot) float64
}

// NewCollector returns a collector that fills a snapshot with read at every scrape.
func NewCollector(read func(*Snapshot)) *Collector {
	return &Collector{read: read, series: brokerSeries(), loops: newLoopSeries()}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range c.series {
		ch <- m.desc
	}
	c.loops.describe(ch)
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	var sn Snapshot
	c.read(&sn)
	for _, m := range c.series {
		ch <- prometheus.MustNewConstMetric(m.desc, m.kind, m.value(&sn))
	}
	c.loops.collect(ch, sn.Loops)
}

// brokerSeries lists every broker-wide series.
func brokerSeries() []series {
	var out []series
	add := func(kind prometheus.ValueType, name, help string, labels prometheus.Labels, f func(sn *Snapshot) float64) {
		out = append(out, series{prometheus.NewDesc("loopmq_"+name, help, nil, labels), kind, f})
	}
	counter := func(name, help string, f func(sn *Snapshot) uint64) {
		add(prometheus.CounterValue, name, help, nil, func(sn *Snapshot) float64 { return float64(f(sn)) })
	}
	gauge := func(name, help string, f func(sn *Snapshot) int64) {
		add(prometheus.GaugeValue, name, help, nil, func(sn *Snapshot) float64 { return float64(f(sn)) })
	}
	for tr := range NumTransports {
		for t := codec.TypeConnect; t <= codec.TypeAuth; t++ {
			labels := prometheus.Labels{"type": strings.ToLower(t.String()), "transport": tr.String()}
			add(prometheus.CounterValue, "packets_received_total", "MQTT packets received, by packet type and transport.",
				labels, func(sn *Snapshot) float64 { return float64(sn.Packets[In][tr][t].N) })
			add(prometheus.CounterValue, "packets_sent_total", "MQTT packets sent, by packet type and transport.",
				labels, func(sn *Snapshot) float64 { return float64(sn.Packets[Out][tr][t].N) })
			add(prometheus.CounterValue, "packets_received_bytes_total",
				"Bytes of the MQTT packets received (fixed header included, transport framing not), by packet type and transport.",
				labels, func(sn *Snapshot) float64 { return float64(sn.Packets[In][tr][t].Bytes) })
			add(prometheus.CounterValue, "packets_sent_bytes_total",
				"Bytes of the MQTT packets sent (fixed header included, transport framing not), by packet type and transport.",
				labels, func(sn *Snapshot) float64 { return float64(sn.Packets[Out][tr][t].Bytes) })
		}
	}
	for tr := range NumTransports {
		labels := prometheus.Labels{"transport": tr.String()}
		add(prometheus.CounterValue, "transport_bytes_received_total",
			"Bytes read from clients, by transport (WebSocket framing and handshakes included).",
			labels, func(sn *Snapshot) float64 { return float64(sn.TransportBytesIn(tr)) })
		add(prometheus.CounterValue, "transport_bytes_sent_total",
			"Bytes written to clients, by transport (WebSocket framing and handshakes included).",
			labels, func(sn *Snapshot) float64 { return float64(sn.TransportBytesOut(tr)) })
		add(prometheus.CounterValue, "transport_connections_total", "Connections accepted, by transport.",
			labels, func(sn *Snapshot) float64 { return float64(sn.Connects[tr]) })
		add(prometheus.GaugeValue, "transport_connections", "Open connections, by transport.",
			labels, func(sn *Snapshot) float64 { return float64(sn.Open[tr]) })
	}
	counter("messages_received_total", "PUBLISH packets received.", func(sn *Snapshot) uint64 { return sn.MsgsIn })
	counter("messages_sent_total", "PUBLISH packets sent.", func(sn *Snapshot) uint64 { return sn.MsgsOut })
	counter("dropped_high_water_total", "QoS 0 messages dropped over the outbound high-water mark.",
		func(sn *Snapshot) uint64 { return sn.DroppedHighWater })
	counter("dropped_queue_full_total", "QoS 1/2 messages dropped because the session queue was full.",
		func(sn *Snapshot) uint64 { return sn.DroppedQueueFull })
	counter("dropped_too_large_total", "Messages not sent because they exceed the client's Maximum Packet Size.",
		func(sn *Snapshot) uint64 { return sn.DroppedTooLarge })
	counter("dropped_expired_total", "Messages whose Message Expiry Interval passed before delivery.",
		func(sn *Snapshot) uint64 { return sn.DroppedExpired })
	counter("dropped_retained_total", "Retained messages not stored because of the retained limits.",
		func(sn *Snapshot) uint64 { return sn.DroppedRetained })
	counter("publish_denied_total", "PUBLISH packets refused by acl_file (not routed).",
		func(sn *Snapshot) uint64 { return sn.PublishDenied })
	counter("slow_consumers_total", "Clients disconnected for acknowledging nothing while their queue was over its limit.",
		func(sn *Snapshot) uint64 { return sn.SlowConsumers })
	for r := range proxyproto.NumReasons {
		add(prometheus.CounterValue, "proxy_refused_total",
			"Connections closed by the PROXY protocol layer, by reason: untrusted (a header from a peer outside "+
				"proxy_trusted_cidrs), malformed, missing (none where required), too_large.",
			prometheus.Labels{"reason": r.String()}, func(sn *Snapshot) float64 { return float64(sn.ProxyRefused[r]) })
	}
	counter("protocol_errors_total", "Connections closed for a protocol violation.",
		func(sn *Snapshot) uint64 { return sn.ProtocolErrors })
	gauge("clients_connected", "Clients with an accepted CONNECT.", func(sn *Snapshot) int64 { return sn.Connected })
	gauge("sessions", "Sessions, connected or not.", func(sn *Snapshot) int64 { return sn.Sessions })
	gauge("subscriptions", "Subscriptions in the topic index.", func(sn *Snapshot) int64 { return sn.Subscriptions })
	gauge("retained_messages", "Retained messages stored.", func(sn *Snapshot) int64 { return sn.Retained })
	gauge("session_queued_messages", "QoS 1/2 messages waiting in session queues for the inflight window or the client.",
		func(sn *Snapshot) int64 { return sn.Queued })
	gauge("inflight_messages", "QoS 1/2 messages sent to clients and not yet acknowledged.",
		func(sn *Snapshot) int64 { return sn.Inflight })
	gauge("held_acks", "PUBACK/PUBREC held back from publishers while a subscriber's queue is over its limit.",
		func(sn *Snapshot) int64 { return sn.HeldAcks })
	return out
}

// loopSeries are the per-loop series, labelled loop="N" in the order loops served their first connection
// (a loop that has not served one yet has no series).
type loopSeries struct {
	busy, conns, drains, deliveries, tasks, pending *prometheus.Desc
}

func newLoopSeries() loopSeries {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("loopmq_loop_"+name, help, []string{"loop"}, nil)
	}
	return loopSeries{
		busy: d("busy_seconds_total", "Time the event loop spent in the broker's callbacks (reading, handling and "+
			"writing packets, mailbox drains, flushes, timers); its rate is the loop's utilisation."),
		conns:      d("connections", "Open connections served by the event loop; their sum is the broker's open connections."),
		drains:     d("mailbox_drains_total", "Times the event loop was woken to drain its mailbox."),
		deliveries: d("mailbox_deliveries_total", "Message deliveries posted to the event loop by other loops."),
		tasks:      d("mailbox_tasks_total", "Tasks (session hand-overs, $SYS publishing) posted to the event loop."),
		pending:    d("mailbox_pending", "Deliveries and tasks waiting in the event loop's mailbox."),
	}
}

func (ls *loopSeries) describe(ch chan<- *prometheus.Desc) {
	ch <- ls.busy
	ch <- ls.conns
	ch <- ls.drains
	ch <- ls.deliveries
	ch <- ls.tasks
	ch <- ls.pending
}

func (ls *loopSeries) collect(ch chan<- prometheus.Metric, loops []LoopSnapshot) {
	for i := range loops {
		l := &loops[i]
		idx := strconv.Itoa(l.Index)
		ch <- prometheus.MustNewConstMetric(ls.busy, prometheus.CounterValue, float64(l.BusyNanos)/1e9, idx)
		ch <- prometheus.MustNewConstMetric(ls.conns, prometheus.GaugeValue, float64(l.Conns), idx)
		ch <- prometheus.MustNewConstMetric(ls.drains, prometheus.CounterValue, float64(l.MailDrains), idx)
		ch <- prometheus.MustNewConstMetric(ls.deliveries, prometheus.CounterValue, float64(l.MailDeliveries), idx)
		ch <- prometheus.MustNewConstMetric(ls.tasks, prometheus.CounterValue, float64(l.MailTasks), idx)
		ch <- prometheus.MustNewConstMetric(ls.pending, prometheus.GaugeValue, float64(l.MailPending), idx)
	}
}
