package stats

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"loopmq/server/proxyproto"
)

// sample is a snapshot whose every figure differs, so a series reading the wrong field shows.
func sample() Snapshot {
	sn := Snapshot{
		Uptime:  90 * time.Second,
		BytesIn: 1000, BytesOut: 2000, WSBytesIn: 300, WSBytesOut: 700,
		MsgsIn: 11, MsgsOut: 12,
		DroppedHighWater: 1, DroppedQueueFull: 2, DroppedTooLarge: 4, DroppedExpired: 8, DroppedRetained: 16,
		Connects:       [NumTransports]uint64{5, 6},
		Open:           [NumTransports]int64{3, 2},
		TotalConnects:  9,
		ProtocolErrors: 13, SlowConsumers: 14, PublishDenied: 15,
		ProxyRefused: [proxyproto.NumReasons]uint64{41, 42, 43, 44},
		Connected:    4, Sessions: 7, Subscriptions: 21, Retained: 22, Queued: 23, Inflight: 24, HeldAcks: 25,
		Loops: []LoopSnapshot{{Index: 0, BusyNanos: 1.5e9, Conns: 3, MailDrains: 31, MailDeliveries: 32, MailTasks: 33, MailPending: 34},
			{Index: 1, BusyNanos: 0.5e9, Conns: 2}},
	}
	sn.Packets[In][TCP][3] = Count{N: 40, Bytes: 400} // PUBLISH
	sn.Packets[In][TCP][12] = Count{N: 1, Bytes: 2}   // PINGREQ
	sn.Packets[Out][WS][3] = Count{N: 50, Bytes: 500} // PUBLISH
	sn.Packets[In][WS][1] = Count{N: 6, Bytes: 60}    // CONNECT
	return sn
}

// gather collects every series of a collector over sn as name{label=value,...} → value.
func gather(t *testing.T, sn Snapshot) map[string]float64 {
	t.Helper()
	r := prometheus.NewRegistry()
	r.MustRegister(NewCollector(func(dst *Snapshot) { *dst = sn }))
	mfs, err := r.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range mfs {
		for _, m := range f.GetMetric() {
			var ls []string
			for _, lp := range m.GetLabel() {
				ls = append(ls, lp.GetName()+"="+lp.GetValue())
			}
			key := f.GetName() + "{" + strings.Join(ls, ",") + "}"
			if _, dup := got[key]; dup {
				t.Errorf("%s exported twice", key)
			}
			got[key] = value(m)
		}
	}
	return got
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return m.GetUntyped().GetValue()
}

func TestCollectorExportsTheSnapshot(t *testing.T) {
	got := gather(t, sample())
	for key, want := range map[string]float64{
		"loopmq_packets_received_total{transport=tcp,type=publish}":       40,
		"loopmq_packets_received_bytes_total{transport=tcp,type=publish}": 400,
		"loopmq_packets_received_total{transport=tcp,type=pingreq}":       1,
		"loopmq_packets_sent_total{transport=ws,type=publish}":            50,
		"loopmq_packets_sent_bytes_total{transport=ws,type=publish}":      500,
		"loopmq_packets_received_total{transport=ws,type=connect}":        6,
		"loopmq_packets_sent_total{transport=tcp,type=publish}":           0,
		"loopmq_transport_bytes_received_total{transport=tcp}":            700,
		"loopmq_transport_bytes_received_total{transport=ws}":             300,
		"loopmq_transport_bytes_sent_total{transport=tcp}":                1300,
		"loopmq_transport_bytes_sent_total{transport=ws}":                 700,
		"loopmq_transport_connections_total{transport=tcp}":               5,
		"loopmq_transport_connections_total{transport=ws}":                6,
		"loopmq_transport_connections{transport=tcp}":                     3,
		"loopmq_transport_connections{transport=ws}":                      2,
		"loopmq_messages_received_total{}":                                11,
		"loopmq_messages_sent_total{}":                                    12,
		"loopmq_dropped_high_water_total{}":                               1,
		"loopmq_dropped_queue_full_total{}":                               2,
		"loopmq_dropped_too_large_total{}":                                4,
		"loopmq_dropped_expired_total{}":                                  8,
		"loopmq_dropped_retained_total{}":                                 16,
		"loopmq_protocol_errors_total{}":                                  13,
		"loopmq_slow_consumers_total{}":                                   14,
		"loopmq_publish_denied_total{}":                                   15,
		"loopmq_proxy_refused_total{reason=untrusted}":                    41,
		"loopmq_proxy_refused_total{reason=malformed}":                    42,
		"loopmq_proxy_refused_total{reason=missing}":                      43,
		"loopmq_proxy_refused_total{reason=too_large}":                    44,
		"loopmq_clients_connected{}":                                      4,
		"loopmq_sessions{}":                                               7,
		"loopmq_subscriptions{}":                                          21,
		"loopmq_retained_messages{}":                                      22,
		"loopmq_session_queued_messages{}":                                23,
		"loopmq_inflight_messages{}":                                      24,
		"loopmq_held_acks{}":                                              25,
		"loopmq_loop_busy_seconds_total{loop=0}":                          1.5,
		"loopmq_loop_busy_seconds_total{loop=1}":                          0.5,
		"loopmq_loop_connections{loop=0}":                                 3,
		"loopmq_loop_connections{loop=1}":                                 2,
		"loopmq_loop_mailbox_drains_total{loop=0}":                        31,
		"loopmq_loop_mailbox_deliveries_total{loop=0}":                    32,
		"loopmq_loop_mailbox_tasks_total{loop=0}":                         33,
		"loopmq_loop_mailbox_pending{loop=0}":                             34,
	} {
		if v, ok := got[key]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", key, v, ok, want)
		}
	}
	// 15 packet types × 2 transports × 4 packet series, 4 per transport, 4 PROXY refusal reasons, 17 unlabelled,
	// 6 per loop.
	if want := 15*2*4 + 2*4 + 4 + 17 + 6*2; len(got) != want {
		t.Errorf("%d series, want %d", len(got), want)
	}
}

func TestSysRendersTheSnapshot(t *testing.T) {
	sn := sample()
	got := map[string]string{}
	for _, st := range Sys("loopmq test", &sn) {
		if _, dup := got[st.Name]; dup {
			t.Errorf("%s rendered twice", st.Name)
		}
		got[st.Name] = st.Value
	}
	want := map[string]string{
		"$SYS/broker/version":                           "loopmq test",
		"$SYS/broker/uptime":                            "90 seconds",
		"$SYS/broker/clients/connected":                 "4",
		"$SYS/broker/clients/total":                     "7",
		"$SYS/broker/clients/disconnected":              "3",
		"$SYS/broker/connections/total":                 "9",
		"$SYS/broker/messages/received":                 "11",
		"$SYS/broker/messages/sent":                     "12",
		"$SYS/broker/messages/dropped":                  "31",
		"$SYS/broker/load/bytes/received":               "1000",
		"$SYS/broker/load/bytes/sent":                   "2000",
		"$SYS/broker/bytes/received":                    "1000",
		"$SYS/broker/bytes/sent":                        "2000",
		"$SYS/broker/subscriptions/count":               "21",
		"$SYS/broker/retained messages/count":           "22",
		"$SYS/broker/transport/tcp/connections/current": "3",
		"$SYS/broker/transport/tcp/connections/total":   "5",
		"$SYS/broker/transport/tcp/bytes/received":      "700",
		"$SYS/broker/transport/tcp/bytes/sent":          "1300",
		"$SYS/broker/transport/tcp/packets/received":    "41",
		"$SYS/broker/transport/tcp/packets/sent":        "0",
		"$SYS/broker/transport/ws/connections/current":  "2",
		"$SYS/broker/transport/ws/connections/total":    "6",
		"$SYS/broker/transport/ws/bytes/received":       "300",
		"$SYS/broker/transport/ws/bytes/sent":           "700",
		"$SYS/broker/transport/ws/packets/received":     "6",
		"$SYS/broker/transport/ws/packets/sent":         "50",
	}
	for name, v := range want {
		if got[name] != v {
			t.Errorf("%s = %q, want %q", name, got[name], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d topics, want %d", len(got), len(want))
	}
}

// TestTransportSharesNeverWrap: the WebSocket share is read after the total and may exceed it for a moment; the
// TCP share is then 0, not a wrapped uint64.
func TestTransportSharesNeverWrap(t *testing.T) {
	sn := Snapshot{BytesIn: 10, WSBytesIn: 12, BytesOut: 5, WSBytesOut: 6}
	if got := sn.TransportBytesIn(TCP); got != 0 {
		t.Errorf("TCP bytes in = %d, want 0", got)
	}
	if got := sn.TransportBytesOut(TCP); got != 0 {
		t.Errorf("TCP bytes out = %d, want 0", got)
	}
}
