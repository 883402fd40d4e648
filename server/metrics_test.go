package server

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"loopmq/codec"
	"loopmq/server/stats"
	"loopmq/topic"
)

// scrape is one parsed /metrics answer.
type scrape map[string]*dto.MetricFamily

// scrapeMetrics GETs /metrics from s and parses it as the Prometheus text format.
func scrapeMetrics(t testing.TB, s *Server) scrape {
	t.Helper()
	resp, err := http.Get("http://" + s.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// value is the value of the series name{labels}, where labels are name, value pairs that must be exactly the
// series' labels; ok is false when there is no such series.
func (sc scrape) value(name string, labels ...string) (v float64, ok bool) {
	f := sc[name]
	if f == nil {
		return 0, false
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(want) {
			continue
		}
		match := true
		for _, lp := range m.GetLabel() {
			if want[lp.GetName()] != lp.GetValue() {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

// sum adds every series of name.
func (sc scrape) sum(name string) float64 {
	var total float64
	for _, m := range sc[name].GetMetric() {
		total += m.GetCounter().GetValue() + m.GetGauge().GetValue()
	}
	return total
}

// expectedSeries is what a known workload must leave in /metrics: exact values by series key.
type expectedSeries map[string]float64

// seriesKey is name{label=value,...}, as the failure messages print it.
func seriesKey(name string, labels ...string) string {
	pairs := make([]string, 0, len(labels)/2)
	for i := 0; i+1 < len(labels); i += 2 {
		pairs = append(pairs, labels[i]+"="+labels[i+1])
	}
	return name + "{" + strings.Join(pairs, ",") + "}"
}

func (e expectedSeries) set(v float64, name string, labels ...string) {
	e[seriesKey(name, labels...)] = v
}

// mismatches lists every expected series whose scraped value differs (or that is missing), sorted.
func (e expectedSeries) mismatches(sc scrape) []string {
	var bad []string
	for key, want := range e {
		name, rest, _ := strings.Cut(key, "{")
		rest = strings.TrimSuffix(rest, "}")
		var labels []string
		if rest != "" {
			for _, pair := range strings.Split(rest, ",") {
				k, v, _ := strings.Cut(pair, "=")
				labels = append(labels, k, v)
			}
		}
		got, ok := sc.value(name, labels...)
		switch {
		case !ok:
			bad = append(bad, key+": missing")
		case got != want:
			bad = append(bad, fmt.Sprintf("%s = %v, want %v", key, got, want))
		}
	}
	sort.Strings(bad)
	return bad
}

// packetTypes are the values of the type label, by packet type.
var packetTypes = func() map[codec.Type]string {
	m := map[codec.Type]string{}
	for t := codec.TypeConnect; t <= codec.TypeAuth; t++ {
		m[t] = strings.ToLower(t.String())
	}
	return m
}()

// dirIndex and transportIndex map the words of the series names to the snapshot's indexes.
var (
	dirIndex       = map[string]int{"received": stats.In, "sent": stats.Out}
	transportIndex = map[string]stats.Transport{"tcp": stats.TCP, "ws": stats.WS}
)

// TestMetricsScrapeAfterWorkload runs a known workload with real clients (paho.golang MQTT 5 on TCP, paho.mqtt.golang
// MQTT 3.1.1 on TCP and on WebSocket, a byte-level client on WebSocket), scrapes /metrics, and checks every
// packet counter by type and transport, the message counters and the gauges against what the workload implies.
func TestMetricsScrapeAfterWorkload(t *testing.T) {
	const n = 7 // publishes per QoS level and publisher
	s := startWSBroker(t, func(o *Options) { o.HTTPAddr = "127.0.0.1:0" })

	// No client may ping on its own: paho.golang pings at once when it has a keep alive, so it gets none, and
	// paho.mqtt.golang's keep alive is far beyond the test.
	sub := dialV5(t, s, &paho.Connect{ClientID: "metrics-sub", CleanStart: true, KeepAlive: 0})
	if _, err := sub.Subscribe(ctx5s(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "m/#", QoS: 2}}}); err != nil {
		t.Fatal(err)
	}
	dial3 := func(url, id string) mqtt.Client {
		o := mqtt.NewClientOptions().AddBroker(url).SetClientID(id).SetCleanSession(true).
			SetAutoReconnect(false).SetProtocolVersion(4).SetKeepAlive(600 * time.Second)
		c := mqtt.NewClient(o)
		if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("connect %s: %v", url, tok.Error())
		}
		t.Cleanup(func() { c.Disconnect(0) })
		return c
	}
	pubTCP := dial3("tcp://"+s.TCPAddr(), "metrics-pub-tcp")
	pubWS := dial3("ws://"+s.WSAddr()+"/mqtt", "metrics-pub-ws")
	pinger := upgradeWS(t, s.WSAddr())
	pinger.send(connect311("metrics-ping", true))
	pinger.expect([]byte{0x20, 2, 0, 0})

	for qos := byte(0); qos <= 2; qos++ {
		for i := 0; i < n; i++ {
			wait(t, pubTCP.Publish("m/tcp", qos, false, []byte("t")))
			wait(t, pubWS.Publish("m/ws", qos, false, []byte("w")))
		}
	}
	sub.waitN(t, 6*n)
	pinger.send([]byte{0xc0, 0})
	pinger.expect([]byte{0xd0, 0})

	// Every (direction, transport, type) series is listed: the ones the workload does not touch must be 0.
	want := expectedSeries{}
	for _, tr := range []string{"tcp", "ws"} {
		for _, name := range packetTypes {
			want.set(0, "loopmq_packets_received_total", "type", name, "transport", tr)
			want.set(0, "loopmq_packets_sent_total", "type", name, "transport", tr)
		}
	}
	in := func(v float64, typ, tr string) {
		want.set(v, "loopmq_packets_received_total", "type", typ, "transport", tr)
	}
	out := func(v float64, typ, tr string) {
		want.set(v, "loopmq_packets_sent_total", "type", typ, "transport", tr)
	}
	// TCP: the MQTT 5 subscriber and the 3.1.1 publisher.
	in(2, "connect", "tcp")
	out(2, "connack", "tcp")
	in(1, "subscribe", "tcp")
	out(1, "suback", "tcp")
	in(3*n, "publish", "tcp")  // the TCP publisher, n at each QoS
	out(n, "puback", "tcp")    // to it, for QoS 1
	out(n, "pubrec", "tcp")    // to it, for QoS 2
	in(n, "pubrel", "tcp")     // from it
	out(n, "pubcomp", "tcp")   // to it
	out(6*n, "publish", "tcp") // to the subscriber, from both publishers
	in(2*n, "puback", "tcp")   // from the subscriber, QoS 1
	in(2*n, "pubrec", "tcp")   // from the subscriber, QoS 2
	out(2*n, "pubrel", "tcp")  // to the subscriber
	in(2*n, "pubcomp", "tcp")  // from the subscriber
	// WebSocket: the 3.1.1 publisher and the byte-level pinger.
	in(2, "connect", "ws")
	out(2, "connack", "ws")
	in(3*n, "publish", "ws")
	out(n, "puback", "ws")
	out(n, "pubrec", "ws")
	in(n, "pubrel", "ws")
	out(n, "pubcomp", "ws")
	in(1, "pingreq", "ws")
	out(1, "pingresp", "ws")

	// Packet sizes the workload fixes: 3.1.1 PUBLISH "m/tcp" with 1 payload byte is 10 bytes at QoS 0 and 12 with
	// a packet id, "m/ws" 9 and 11; forwarded to the MQTT 5 subscriber each gains a property length byte; 3.1.1
	// acknowledgements and CONNACK are 4 bytes, PINGREQ and PINGRESP 2.
	inB := func(v float64, typ, tr string) {
		want.set(v, "loopmq_packets_received_bytes_total", "type", typ, "transport", tr)
	}
	outB := func(v float64, typ, tr string) {
		want.set(v, "loopmq_packets_sent_bytes_total", "type", typ, "transport", tr)
	}
	inB(n*(10+12+12), "publish", "tcp")
	inB(n*(9+11+11), "publish", "ws")
	outB(n*(11+13+13)+n*(10+12+12), "publish", "tcp")
	for _, tr := range []string{"tcp", "ws"} {
		inB(4*n, "pubrel", tr)
		outB(4*n, "puback", tr)
		outB(4*n, "pubrec", tr)
		outB(4*n, "pubcomp", tr)
	}
	outB(2*4, "connack", "ws")
	inB(2, "pingreq", "ws")
	outB(2, "pingresp", "ws")
	inB(0, "pingreq", "tcp")

	want.set(6*n, "loopmq_messages_received_total")
	want.set(6*n, "loopmq_messages_sent_total")
	want.set(4, "loopmq_clients_connected")
	want.set(4, "loopmq_sessions")
	want.set(1, "loopmq_subscriptions")
	want.set(0, "loopmq_retained_messages")
	want.set(2, "loopmq_transport_connections", "transport", "tcp")
	want.set(2, "loopmq_transport_connections", "transport", "ws")
	want.set(2, "loopmq_transport_connections_total", "transport", "tcp")
	want.set(2, "loopmq_transport_connections_total", "transport", "ws")
	want.set(0, "loopmq_protocol_errors_total")
	// Quiescent: every QoS 1/2 flow completed, nothing queued or held.
	want.set(0, "loopmq_session_queued_messages")
	want.set(0, "loopmq_inflight_messages")
	want.set(0, "loopmq_held_acks")
	for _, name := range []string{"loopmq_dropped_high_water_total", "loopmq_dropped_queue_full_total",
		"loopmq_dropped_too_large_total", "loopmq_dropped_expired_total", "loopmq_dropped_retained_total"} {
		want.set(0, name)
	}

	// The last acknowledgements travel after the clients saw their messages: wait for the counters to settle,
	// then check that they stay put (nothing counted twice).
	var sc scrape
	deadline := time.Now().Add(10 * time.Second)
	for {
		sc = scrapeMetrics(t, s)
		bad := want.mismatches(sc)
		if len(bad) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the workload, /metrics differs:\n%s", strings.Join(bad, "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	sc = scrapeMetrics(t, s)
	if bad := want.mismatches(sc); len(bad) > 0 {
		t.Fatalf("counters moved after the workload settled:\n%s", strings.Join(bad, "\n"))
	}

	// The per-transport totals agree with the per-type series. On TCP every byte is a packet byte; WebSocket adds
	// the handshake and the frame headers.
	for _, tr := range []string{"tcp", "ws"} {
		for _, dir := range []string{"received", "sent"} {
			var packets, packetBytes float64
			for _, name := range packetTypes {
				v, _ := sc.value("loopmq_packets_"+dir+"_total", "type", name, "transport", tr)
				packets += v
				v, _ = sc.value("loopmq_packets_"+dir+"_bytes_total", "type", name, "transport", tr)
				packetBytes += v
			}
			if sn := s.stats(); float64(sn.TransportPackets(dirIndex[dir], transportIndex[tr])) != packets {
				t.Errorf("$SYS packets %s over %s = %v, the per-type series add up to %v", dir, tr,
					sn.TransportPackets(dirIndex[dir], transportIndex[tr]), packets)
			}
			b, _ := sc.value("loopmq_transport_bytes_"+dir+"_total", "transport", tr)
			if (tr == "tcp" && b != packetBytes) || (tr == "ws" && b <= packetBytes) {
				t.Errorf("loopmq_transport_bytes_%s_total{%s} = %v, packet bytes add up to %v", dir, tr, b, packetBytes)
			}
		}
	}
	// One series per fact: totals that a sum over a label of another series gives are not exported again.
	for _, name := range []string{"loopmq_connections", "loopmq_connections_tcp_total", "loopmq_connections_ws_total",
		"loopmq_bytes_received_total", "loopmq_bytes_sent_total",
		"loopmq_transport_packets_received_total", "loopmq_transport_packets_sent_total"} {
		if sc[name] != nil {
			t.Errorf("%s is exported; it duplicates a sum of another series", name)
		}
	}
	// Every loop that served a connection reports busy time; the workload cannot have taken none.
	loops := sc["loopmq_loop_busy_seconds_total"].GetMetric()
	if len(loops) == 0 || len(loops) > 2 {
		t.Fatalf("loopmq_loop_busy_seconds_total has %d series, want 1 or 2 (2 event loops)", len(loops))
	}
	if busy := sc.sum("loopmq_loop_busy_seconds_total"); busy <= 0 || busy > time.Since(s.started).Seconds()*2 {
		t.Errorf("loop busy time %v s, want > 0 and at most the broker's uptime on each of 2 loops", busy)
	}
	if c := sc.sum("loopmq_loop_connections"); c != 4 {
		t.Errorf("loopmq_loop_connections add up to %v, want the 4 open connections", c)
	}
	for _, name := range []string{"loopmq_loop_connections", "loopmq_loop_mailbox_drains_total", "loopmq_loop_mailbox_deliveries_total",
		"loopmq_loop_mailbox_tasks_total", "loopmq_loop_mailbox_pending"} {
		if got := len(sc[name].GetMetric()); got != len(loops) {
			t.Errorf("%s has %d series, want one per loop (%d)", name, got, len(loops))
		}
	}
	// Deliveries through mailboxes are the ones whose publisher and subscriber sit on different loops.
	if d := sc.sum("loopmq_loop_mailbox_deliveries_total"); d > 6*n {
		t.Errorf("mailbox deliveries %v, more than the %d messages delivered", d, 6*n)
	}
	if p := sc.sum("loopmq_loop_mailbox_pending"); p != 0 {
		t.Errorf("mailbox pending %v after the workload, want 0", p)
	}
}

// TestLoopSeriesCountMailboxAndBusyTime drives two in-memory loops: a publish on loop 0 for a subscriber on loop 1
// crosses loop 1's mailbox once, and both loops account busy time for the tasks they ran.
func TestLoopSeriesCountMailboxAndBusyTime(t *testing.T) {
	bb := newBenchBroker(t, 2)
	sub, conn := bb.client(1, "sub", codec.V311)
	if _, err := bb.s.index.Subscribe([]byte("x/#"), topic.Subscription{Subscriber: sub.s.subID}); err != nil {
		t.Fatal(err)
	}
	pub, fc := bb.client(0, "pub", codec.V311)
	pub.transport = transportTCP
	pk := codec.Publish{Topic: []byte("x/y"), Payload: []byte("hello")}
	const msgs = 5
	for i := 0; i < msgs; i++ {
		fc.in = pk.Append(fc.in, codec.V311)
	}
	(&engine{s: bb.s}).OnTraffic(fc) // one read with every publish, as gnet would call it
	bb.pass()
	if conn.written == 0 {
		t.Fatal("the subscriber received nothing")
	}
	for _, l := range bb.loops {
		l.tick(context.Background()) // as the ticker does every 100 ms: packet counts are published for scrapes
	}
	mfs, err := stats.NewRegistry(bb.s.readStats).Gather()
	if err != nil {
		t.Fatal(err)
	}
	sc := scrape{}
	for _, f := range mfs {
		sc[f.GetName()] = f
	}
	for _, tt := range []struct {
		name, loop string
		want       float64
	}{
		{"loopmq_loop_mailbox_deliveries_total", "0", 0},
		{"loopmq_loop_mailbox_deliveries_total", "1", msgs},
		{"loopmq_loop_mailbox_drains_total", "1", 1}, // one wake-up for the whole pass
		{"loopmq_loop_mailbox_tasks_total", "1", 0},
		{"loopmq_loop_mailbox_pending", "1", 0},
	} {
		if got, ok := sc.value(tt.name, "loop", tt.loop); !ok || got != tt.want {
			t.Errorf("%s{loop=%s} = %v (present %v), want %v", tt.name, tt.loop, got, ok, tt.want)
		}
	}
	for _, l := range []string{"0", "1"} {
		if busy, ok := sc.value("loopmq_loop_busy_seconds_total", "loop", l); !ok || busy <= 0 {
			t.Errorf("loopmq_loop_busy_seconds_total{loop=%s} = %v (present %v), want > 0", l, busy, ok)
		}
	}
	if got, _ := sc.value("loopmq_packets_received_total", "type", "publish", "transport", "tcp"); got != msgs {
		t.Errorf("publish received = %v, want %d", got, msgs)
	}
	if got, _ := sc.value("loopmq_packets_sent_total", "type", "publish", "transport", "tcp"); got != msgs {
		t.Errorf("publish sent = %v, want %d", got, msgs)
	}
}

// BenchmarkBusyClock is the cost busy-time accounting adds to a loop pass that reads the clock (its first
// callback's enter and the last one's leave).
func BenchmarkBusyClock(b *testing.B) {
	l := &loop{}
	b.ReportAllocs()
	for b.Loop() {
		l.enter()
		l.leave()
	}
}

// BenchmarkOnTrafficPublish is what busy-time accounting wraps, for scale: one loop pass in which gnet calls
// OnTraffic for each of N publishers with one 64-byte QoS 0 PUBLISH for one subscriber on the same loop, then runs
// the flush, on in-memory connections (no syscalls, so the accounting's share is larger than on real sockets).
// ns/op is per pass.
func BenchmarkOnTrafficPublish(b *testing.B) {
	for _, n := range []int{1, 10} {
		b.Run(fmt.Sprintf("conns=%d", n), func(b *testing.B) {
			bb := newBenchBroker(b, 1)
			sub, _ := bb.client(0, "sub", codec.V311)
			if _, err := bb.s.index.Subscribe([]byte("b/t"), topic.Subscription{Subscriber: sub.s.subID}); err != nil {
				b.Fatal(err)
			}
			conns := make([]*fakeConn, n)
			for i := range conns {
				var pub *client
				pub, conns[i] = bb.client(0, fmt.Sprintf("pub%d", i), codec.V311)
				pub.transport = transportTCP
			}
			pk := codec.Publish{Topic: []byte("b/t"), Payload: make([]byte, 64)}
			pkt := pk.Append(nil, codec.V311)
			e := &engine{s: bb.s}
			pass := func() {
				for _, fc := range conns {
					fc.in = pkt
					e.OnTraffic(fc)
				}
				bb.pass()
			}
			// bytebufferpool discards returned buffers above the size it calibrated on earlier traffic (another
			// benchmark's), and recalibrates every 42,000 returns of a size class: get past that first.
			for range 43000 {
				pass()
			}
			b.ReportAllocs()
			for b.Loop() {
				pass()
			}
		})
	}
}

// TestMetricsQueueGauges checks the flow-control gauges against what the clients see: a QoS 1 subscriber that
// does not acknowledge has its inflight window full and the rest queued, and a publisher is missing exactly the
// PUBACKs the broker reports as held. Once the subscriber acknowledges everything, all three are back to 0.
func TestMetricsQueueGauges(t *testing.T) {
	const (
		window = 2 // max_inflight
		limit  = 4 // max_queued_messages
		msgs   = 8
	)
	s := startBroker(t, func(o *Options) {
		o.HTTPAddr = "127.0.0.1:0"
		o.MaxInflight = window
		o.MaxQueuedMessages = limit
	})
	sub := connected311(t, s, "slow")
	sub.send([]byte{0x82, 6, 0, 1, 0, 1, 'g', 1})
	sub.expect([]byte{0x90, 3, 0, 1, 1})
	pub := connected311(t, s, "fast")
	for id := byte(1); id <= msgs; id++ {
		pub.send([]byte{0x32, 5, 0, 1, 'g', 0, id})
	}
	// readAll collects the packets c receives until it has been quiet for a moment.
	readAll := func(c *rawConn) [][]byte {
		var got [][]byte
		for {
			p, err := c.readPacket(300 * time.Millisecond)
			if err != nil {
				return got
			}
			got = append(got, p)
		}
	}
	gauges := func(inflight, queued, held int) expectedSeries {
		e := expectedSeries{}
		e.set(float64(inflight), "loopmq_inflight_messages")
		e.set(float64(queued), "loopmq_session_queued_messages")
		e.set(float64(held), "loopmq_held_acks")
		return e
	}
	settle := func(want expectedSeries) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			bad := want.mismatches(scrapeMetrics(t, s))
			if len(bad) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("/metrics differs:\n%s", strings.Join(bad, "\n"))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	acks := len(readAll(pub))
	delivered := readAll(sub)
	if len(delivered) != window || acks >= msgs {
		t.Fatalf("subscriber got %d messages (window %d), publisher %d of %d PUBACKs: the workload did not congest",
			len(delivered), window, acks, msgs)
	}
	settle(gauges(window, msgs-window, msgs-acks))

	// Acknowledge every delivery as it comes until all arrived; the held PUBACKs then reach the publisher.
	received := 0
	for len(delivered) > 0 {
		for _, p := range delivered {
			if p[0]&0xf0 != 0x30 {
				t.Fatalf("subscriber got % x, want PUBLISH", p)
			}
			sub.send([]byte{0x40, 2, p[5], p[6]})
			received++
		}
		delivered = readAll(sub)
	}
	if received != msgs {
		t.Fatalf("subscriber got %d messages, want %d", received, msgs)
	}
	if acks += len(readAll(pub)); acks != msgs {
		t.Fatalf("publisher got %d PUBACKs, want %d", acks, msgs)
	}
	settle(gauges(0, 0, 0))

	// Closed connections leave the connection gauges, broker-wide and per loop.
	sub.Close()
	pub.Close()
	closed := expectedSeries{}
	closed.set(0, "loopmq_transport_connections", "transport", "tcp")
	settle(closed)
	waitFor(t, "loopmq_loop_connections to add up to 0 after every client left", func() bool {
		return scrapeMetrics(t, s).sum("loopmq_loop_connections") == 0
	})
}

// BenchmarkMetricsGather is the broker's share of a scrape: one snapshot over the loops and every loopmq_ series,
// with two loops that have served connections (the Go and process collectors are left out).
func BenchmarkMetricsGather(b *testing.B) {
	bb := newBenchBroker(b, 2)
	for i := range bb.loops {
		bb.client(i, fmt.Sprintf("c%d", i), codec.V311)
	}
	r := prometheus.NewRegistry()
	r.MustRegister(stats.NewCollector(bb.s.readStats))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}
