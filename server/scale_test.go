package server

import (
	"math"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"testing"
	"time"
	"unsafe"

	"loopmq/codec"
)

// scaleWorld is a broker holding many idle clients on in-memory connections, each connected (keep alive 60 s,
// so a timer armed in its loop's wheel) and subscribed to its own device topic, all made through the engine's
// OnOpen and OnTraffic exactly as a network connection would be.
type scaleWorld struct {
	bb      *benchBroker
	e       *engine
	conns   []*fakeConn
	n       int
	created time.Duration
	heapPer float64 // live heap per session, the fake connection excluded
}

// scaleSessions is 1,000,000 unless LOOPMQ_SCALE_N says otherwise (for quick runs of the same code).
func scaleSessions() int {
	if v, err := strconv.Atoi(os.Getenv("LOOPMQ_SCALE_N")); err == nil && v > 0 {
		return v
	}
	return 1_000_000
}

// deviceFilter is the subscription of session i: every other one an exact topic, the rest a '+' wildcard, so
// both the exact-match map and the trie hold half a million entries.
func deviceFilter(i int) []byte {
	if i%2 == 0 {
		return []byte("dev/" + strconv.Itoa(i) + "/cmd")
	}
	return []byte("dev/" + strconv.Itoa(i) + "/+")
}

func deviceTopic(i int) []byte { return []byte("dev/" + strconv.Itoa(i) + "/cmd") }

func newScaleWorld(b testing.TB, n int) *scaleWorld { return buildWorld(b, n, 60, deviceFilter) }

// buildWorld connects n clients with the given keep alive (seconds; 0 arms no timer) and, unless filter is nil,
// one subscription each to filter(i).
func buildWorld(b testing.TB, n int, keepAlive uint16, filter func(int) []byte) *scaleWorld {
	w := &scaleWorld{bb: newBenchBroker(b, 2), n: n, conns: make([]*fakeConn, n)}
	w.e = &engine{s: w.bb.s}
	var pkt []byte
	before := heapLive()
	start := time.Now()
	for i := 0; i < n; i++ {
		fc := &fakeConn{el: w.bb.fls[i%2]}
		w.conns[i] = fc
		if _, a := w.e.OnOpen(fc); a != 0 {
			b.Fatalf("OnOpen refused connection %d", i)
		}
		c := codec.Connect{ProtocolName: []byte("MQTT"), Version: codec.V311, CleanStart: true,
			KeepAlive: keepAlive, ClientID: []byte("device-" + strconv.Itoa(i))}
		pkt = c.Append(pkt[:0], codec.V311)
		if filter != nil {
			sub := codec.Subscribe{PacketID: 1, Subs: []codec.Subscription{{Filter: filter(i), QoS: 0}}}
			pkt = sub.Append(pkt, codec.V311)
		}
		fc.in = pkt
		w.e.OnTraffic(fc)
		if len(fc.in) != 0 {
			b.Fatalf("client %d left %d bytes unread", i, len(fc.in))
		}
		fc.in = nil
		if i&1023 == 1023 {
			w.bb.pass()
		}
	}
	w.bb.pass()
	w.created = time.Since(start)
	if got := w.bb.s.connected.Load(); got != int64(n) {
		b.Fatalf("%d clients connected, want %d", got, n)
	}
	if got := w.bb.s.index.Len(); filter != nil && got != n {
		b.Fatalf("%d subscriptions in the index, want %d", got, n)
	}
	after := heapLive()
	fake := float64(unsafe.Sizeof(fakeConn{})) + float64(unsafe.Sizeof(&fakeConn{})) // object + slot in conns
	w.heapPer = float64(int64(after)-int64(before))/float64(n) - fake
	return w
}

// BenchmarkScale1M holds the design to a million sessions without sockets. Run it alone, once:
//
//	go test -run '^$' -bench Scale1M -benchtime 1x ./server/
//
// The parent builds the world and reports heap per session and creation time; the sub-benchmarks measure
// matching, an idle keep-alive tick, GC under a publish load, and finally expiring every session.
func BenchmarkScale1M(b *testing.B) {
	if testing.Short() || raceEnabled {
		b.Skip("1M sessions: not in -short or -race runs")
	}
	n := scaleSessions()
	w := newScaleWorld(b, n)
	b.Logf("%d sessions created in %v (%.0f/s), %.0f B live heap each (fake connection excluded)",
		n, w.created.Round(time.Millisecond), float64(n)/w.created.Seconds(), w.heapPer)
	// A parent with sub-benchmarks prints no metrics of its own, so the one-off figures are reported by
	// sub-benchmarks whose loops are empty (ignore their ns/op).
	b.Run("create", func(b *testing.B) {
		b.ReportMetric(float64(n), "sessions")
		b.ReportMetric(w.heapPer, "heap-B/session")
		b.ReportMetric(float64(w.created.Nanoseconds())/float64(n), "create-ns/session")
	})

	b.Run("match", func(b *testing.B) {
		topics := make([][]byte, 4096)
		for i := range topics {
			topics[i] = deviceTopic(int(uint64(i) * 2654435761 % uint64(n)))
		}
		l := w.bb.loops[0]
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			l.matched = w.bb.s.index.Match(topics[i&4095], l.matched[:0], nil)
			if len(l.matched) != 1 {
				b.Fatalf("%s matched %d subscriptions, want 1", topics[i&4095], len(l.matched))
			}
		}
	})

	b.Run("tick-idle", func(b *testing.B) {
		// One tick of a loop's wheel that has no timer due, with n/2 timers armed on it: the cost must not
		// depend on how many timers exist. The wheel is rewound each time so every tick lands on the same
		// empty slot.
		wh := w.bb.loops[0].wheel
		base := wh.now
		for wh.slots[(base+1)&(wheelSlots-1)].next != &wh.slots[(base+1)&(wheelSlots-1)] {
			base++
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			wh.now = base
			wh.advance(base + 1)
		}
		b.StopTimer()
		wh.now = base
		if got := w.bb.s.connected.Load(); got != int64(n) {
			b.Fatalf("an idle tick closed clients: %d connected, want %d", got, n)
		}
	})

	// The publisher comes through OnOpen and CONNECT like the devices, without keep alive so it outlives them.
	pubConn := &fakeConn{el: w.bb.fls[0]}
	w.e.OnOpen(pubConn)
	c := codec.Connect{ProtocolName: []byte("MQTT"), Version: codec.V311, CleanStart: true, ClientID: []byte("publisher")}
	pubConn.in = c.Append(nil, codec.V311)
	w.e.OnTraffic(pubConn)
	w.bb.pass()
	pub := pubConn.Context().(*client)
	pkts := make([][]byte, 4096)
	for i := range pkts {
		p := codec.Publish{Topic: deviceTopic(int(uint64(i) * 40503 % uint64(n))), Payload: make([]byte, 64)}
		pkts[i] = p.Append(nil, codec.V311)
	}
	publish := func(i int) {
		pub.process(pkts[i&4095])
		if i&15 == 15 {
			w.bb.pass()
		}
	}

	b.Run("publish", func(b *testing.B) {
		// QoS 0 publishes, one subscriber each, from a publisher on loop 0 to devices on both loops, with the
		// flush of every loop pass. The GC figures show whether steady-state delivery makes any garbage at all.
		for i := 0; i < 1000; i++ {
			publish(i)
		}
		m0 := readGCMetrics()
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			publish(i)
		}
		w.bb.pass()
		b.StopTimer()
		m1 := readGCMetrics()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		b.ReportMetric(float64(m1.cycles-m0.cycles), "gc-cycles")
	})

	b.Run("gc-during-publish", func(b *testing.B) {
		// What a collection costs with every session live: one forced cycle per op while another goroutine
		// keeps publishing, so pauses and the GC's CPU share are measured against a running delivery load.
		stop, done := make(chan struct{}), make(chan int)
		go func() {
			i := 0
			for {
				select {
				case <-stop:
					done <- i
					return
				default:
				}
				for k := 0; k < 256; k++ {
					publish(i)
					i++
				}
			}
		}()
		m0 := readGCMetrics()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			runtime.GC()
		}
		b.StopTimer()
		m1 := readGCMetrics()
		close(stop)
		sent := <-done
		w.bb.pass()
		b.ReportMetric(float64(sent)/b.Elapsed().Seconds(), "msgs/s")
		if t := m1.totalCPU - m0.totalCPU; t > 0 {
			b.ReportMetric((m1.gcCPU-m0.gcCPU)/t, "gc-cpu-fraction")
		}
		b.ReportMetric(pauseQuantile(m0.pauses, m1.pauses, 0.99)*1e6, "p99-pause-µs")
		b.ReportMetric(pauseQuantile(m0.pauses, m1.pauses, 1)*1e6, "max-pause-µs")
	})
	w.bb.fls[0].Close(pubConn)
	w.bb.pass()

	// Last, jump both wheels past every keep-alive deadline: each timer fires once and closes its client. The
	// cost per expiration is the figure; the broker must end with nothing connected. It runs once whatever b.N
	// the sub-benchmark is given.
	var perExpiry float64
	b.Run("expire-all", func(b *testing.B) {
		if perExpiry == 0 {
			start := time.Now()
			for _, l := range w.bb.loops {
				l.wheel.advance(l.wheel.now + 60*15 + 100 + int64(w.created/tickDuration))
			}
			w.bb.pass()
			perExpiry = float64(time.Since(start).Nanoseconds()) / float64(n)
			if c := countsOf(w.bb.s); c != (brokerCounts{}) {
				b.Fatalf("after every keep alive expired the broker counts %+v, want all zero", c)
			}
		}
		b.ReportMetric(perExpiry, "ns/expiration")
	})
}

// gcMetrics is a reading of the runtime's GC accounting.
type gcMetrics struct {
	gcCPU, totalCPU float64
	cycles          uint64
	pauses          *metrics.Float64Histogram
}

func readGCMetrics() gcMetrics {
	s := []metrics.Sample{
		{Name: "/cpu/classes/gc/total:cpu-seconds"},
		{Name: "/cpu/classes/total:cpu-seconds"},
		{Name: "/gc/cycles/total:gc-cycles"},
		{Name: "/sched/pauses/total/gc:seconds"},
	}
	metrics.Read(s)
	h := s[3].Value.Float64Histogram()
	cp := &metrics.Float64Histogram{Counts: append([]uint64(nil), h.Counts...), Buckets: h.Buckets}
	return gcMetrics{gcCPU: s[0].Value.Float64(), totalCPU: s[1].Value.Float64(), cycles: s[2].Value.Uint64(), pauses: cp}
}

// pauseQuantile is the q quantile of the pauses recorded between two readings, as the upper bound of its
// bucket (0 when none were recorded).
func pauseQuantile(h0, h1 *metrics.Float64Histogram, q float64) float64 {
	var total uint64
	d := make([]uint64, len(h1.Counts))
	for i := range d {
		d[i] = h1.Counts[i] - h0.Counts[i]
		total += d[i]
	}
	if total == 0 {
		return 0
	}
	want := uint64(math.Ceil(q * float64(total)))
	var acc uint64
	for i, c := range d {
		acc += c
		if acc >= want {
			if ub := h1.Buckets[i+1]; !math.IsInf(ub, 1) {
				return ub
			}
			return h1.Buckets[i]
		}
	}
	return 0
}

// TestScaleWorldSmall runs the scale benchmark's construction at a small count in the ordinary test run, so the
// benchmark's assumptions (every client connected and subscribed through OnOpen/OnTraffic, one match per device
// topic, expiry closing all) are checked on every change.
func TestScaleWorldSmall(t *testing.T) {
	const n = 2000
	w := newScaleWorld(t, n)
	for i := 0; i < n; i += 97 {
		if m := w.bb.s.index.Match(deviceTopic(i), nil, nil); len(m) != 1 {
			t.Fatalf("device %d: %d matches, want 1", i, len(m))
		}
	}
	if m := w.bb.s.index.Match([]byte("dev/x/cmd"), nil, nil); len(m) != 0 {
		t.Fatalf("unknown device matched %d subscriptions", len(m))
	}
	for _, l := range w.bb.loops {
		l.wheel.advance(l.wheel.now + 60*15 + 100 + int64(w.created/tickDuration))
	}
	w.bb.pass()
	if c := countsOf(w.bb.s); c != (brokerCounts{}) {
		t.Fatalf("after every keep alive expired the broker counts %+v, want all zero", c)
	}
}

// BenchmarkSessionComponents splits the heap per session of BenchmarkScale1M into its parts by building 100,000
// sessions with one part added at a time (the differences between rows are the parts):
//
//	go test -run '^$' -bench SessionComponents -benchtime 1x ./server/
func BenchmarkSessionComponents(b *testing.B) {
	if testing.Short() || raceEnabled {
		b.Skip("memory measurement: not in -short or -race runs")
	}
	const n = 100_000
	exact := func(i int) []byte { return deviceTopic(i) }
	wild := func(i int) []byte { return []byte("dev/" + strconv.Itoa(i) + "/+") }
	for _, tc := range []struct {
		name      string
		keepAlive uint16
		filter    func(int) []byte
	}{
		{"connected", 0, nil},
		{"connected+keepalive", 60, nil},
		{"connected+keepalive+exact-sub", 60, exact},
		{"connected+keepalive+wildcard-sub", 60, wild},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var per float64
			for i := 0; i < b.N; i++ {
				per = buildWorld(b, n, tc.keepAlive, tc.filter).heapPer
			}
			b.ReportMetric(per, "heap-B/session")
		})
	}
}
