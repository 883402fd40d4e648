package server

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"loopmq/codec"
)

// churnSubscribe is SUBSCRIBE packet id 1 to "churn/<i>/+" at QoS 1 in version v.
func churnSubscribe(i int, v codec.Version) []byte {
	s := codec.Subscribe{PacketID: 1, Subs: []codec.Subscription{{Filter: []byte(fmt.Sprintf("churn/%d/+", i)), QoS: 1}}}
	return s.Append(nil, v)
}

// brokerCounts is what the broker itself says is alive.
type brokerCounts struct {
	openConns, connected, sessions, subscriptions, indexed int64
}

func countsOf(s *Server) brokerCounts {
	return brokerCounts{s.openConns.Load(), s.connected.Load(), int64(s.sessions.count()),
		s.subscriptions.Load(), int64(s.index.Len())}
}

// openFDs counts this process's open file descriptors (Linux /proc, where the broker runs).
func openFDs(t testing.TB) int {
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("counting open descriptors needs Linux /proc/self/fd: %v", err)
	}
	return len(es)
}

// churnCycle connects one client, subscribes, and leaves in the way i%3 says: 0 sends DISCONNECT then closes, 1
// closes the socket without a word (abrupt), 2 closes right after CONNECT without waiting for CONNACK. It runs on
// worker goroutines, so it reports failures as errors instead of calling t.Fatal.
func churnCycle(addr string, g, i int) error {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	v := codec.V311
	if i%2 == 1 {
		v = codec.V5
	}
	id := fmt.Sprintf("churn-%d-%d", g, i)
	pkt := connect311(id, true)
	if v == codec.V5 {
		pkt = connect5With(id, codec.Properties{}, nil)
	}
	if _, err := nc.Write(pkt); err != nil {
		return fmt.Errorf("%s: write CONNECT: %w", id, err)
	}
	mode := i % 3
	if mode == 2 {
		return nil // closed before CONNACK: the broker must still free everything
	}
	c := &rawConn{Conn: nc}
	if err := expectType(c, codec.TypeConnack); err != nil {
		return fmt.Errorf("%s: %w", id, err)
	}
	if _, err := nc.Write(churnSubscribe(g*1_000_000+i, v)); err != nil {
		return fmt.Errorf("%s: write SUBSCRIBE: %w", id, err)
	}
	if err := expectType(c, codec.TypeSuback); err != nil {
		return fmt.Errorf("%s: %w", id, err)
	}
	if mode == 0 {
		d := codec.Disconnect{}
		if _, err := nc.Write(d.Append(nil, v)); err != nil {
			return fmt.Errorf("%s: write DISCONNECT: %w", id, err)
		}
	}
	return nil
}

// expectType reads one packet and checks its type.
func expectType(c *rawConn, want codec.Type) error {
	p, err := c.readPacket(5 * time.Second)
	if err != nil {
		return fmt.Errorf("reading, want packet type %d: %w", want, err)
	}
	h, need, err := codec.Peek(p, 0)
	if err != nil || need != 0 {
		return fmt.Errorf("fixed header % x: %v", p, err)
	}
	if h.Type != want {
		return fmt.Errorf("got packet type %d, want %d", h.Type, want)
	}
	return nil
}

// churner runs churn cycles against one broker from several goroutines.
type churner struct {
	s       *Server
	workers int
	next    int // cycle numbers are never reused, so client ids and filters are always new
}

// run does n cycles and returns the first error.
func (c *churner) run(n int) error {
	base := c.next
	c.next += n
	var wg sync.WaitGroup
	errs := make(chan error, c.workers)
	for g := 0; g < c.workers; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := g; i < n; i += c.workers {
				if err := churnCycle(c.s.TCPAddr(), g, base+i); err != nil {
					errs <- err
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// settle waits up to 10 s for the broker to count nothing alive and returns what it counts.
func (c *churner) settle() brokerCounts {
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := countsOf(c.s)
		if n == (brokerCounts{}) || time.Now().After(deadline) {
			return n
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// baseline waits up to 5 s for goroutines and open files to come down to at most g and fd (the client side's
// goroutines need a moment to exit) and returns them.
func baseline(t testing.TB, g, fd int) (int, int) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		ng, nfd := runtime.NumGoroutine(), openFDs(t)
		if (ng <= g && nfd <= fd) || time.Now().After(deadline) {
			return ng, nfd
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestChurnLeavesNoLeaks runs thousands of connect/subscribe/disconnect cycles over real TCP from several
// goroutines (clean DISCONNECT, abrupt close, close before CONNACK; MQTT 3.1.1 and 5.0) and then holds the broker
// to its baseline: its own counters at zero, goroutines, open files and heap back where they started.
func TestChurnLeavesNoLeaks(t *testing.T) {
	n, workers := 2000, 8
	if testing.Short() {
		n = 400
	}
	// A discarding logger even under -v: the test log would otherwise keep every connect line in memory.
	s := startBroker(t, func(o *Options) { o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil)) })
	ch := &churner{s: s, workers: workers}

	// Warm up so pools, loop scratch buffers and the subscriber table's first chunk exist before the baseline.
	if err := ch.run(200); err != nil {
		t.Fatal(err)
	}
	if c := ch.settle(); c != (brokerCounts{}) {
		t.Fatalf("after warm-up the broker still counts %+v, want all zero", c)
	}
	baseG, baseFD, baseHeap := runtime.NumGoroutine(), openFDs(t), heapLive()

	start := time.Now()
	if err := ch.run(n); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if c := ch.settle(); c != (brokerCounts{}) {
		t.Fatalf("after %d cycles the broker still counts %+v, want all zero", n, c)
	}
	g, fd := baseline(t, baseG, baseFD)
	heap := heapLive()
	growth := int64(heap) - int64(baseHeap)
	t.Logf("%d cycles in %v (%.0f/s); goroutines %d→%d, fds %d→%d, live heap %d→%d (%+d B, %+.0f B/cycle)",
		n, took.Round(time.Millisecond), float64(n)/took.Seconds(), baseG, g, baseFD, fd, baseHeap, heap, growth,
		float64(growth)/float64(n))
	if g > baseG {
		t.Errorf("goroutines: %d after churn, %d before", g, baseG)
	}
	if fd > baseFD {
		t.Errorf("open files: %d after churn, %d before", fd, baseFD)
	}
	// A session left in the subscriber table alone keeps about 200 B per cycle (tried on purpose); the maps that
	// never shrink add about 14 B. 64 B per cycle of slack sits between the two.
	if limit := int64(n) * 64; growth > limit {
		t.Errorf("live heap grew by %d B over %d cycles (limit %d B): something per connection is kept", growth, n, limit)
	}
}

// heapLive is the bytes of live heap objects after full collections. Unlike HeapInuse it does not count the
// free space inside partly used spans, which churn leaves behind without anything being kept.
func heapLive() uint64 {
	var ms runtime.MemStats
	for i := 0; i < 3; i++ {
		runtime.GC()
	}
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkChurn is the churn test at full counts: run it with -benchtime 100000x. ns/op is per cycle (8
// goroutines); it reports the live heap, goroutine and fd change against the warm baseline, and fails like the
// test if the broker keeps anything.
func BenchmarkChurn(b *testing.B) {
	s := startBroker(b, func(o *Options) { o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil)) })
	ch := &churner{s: s, workers: 8}
	if err := ch.run(200); err != nil {
		b.Fatal(err)
	}
	ch.settle()
	baseG, baseFD, baseHeap, baseRSS := runtime.NumGoroutine(), openFDs(b), heapLive(), rssBytes()
	b.ResetTimer()
	if err := ch.run(b.N); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if c := ch.settle(); c != (brokerCounts{}) {
		b.Fatalf("after %d cycles the broker still counts %+v, want all zero", b.N, c)
	}
	g, fd := baseline(b, baseG, baseFD)
	growth := int64(heapLive()) - int64(baseHeap)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cycles/s")
	b.ReportMetric(float64(growth)/float64(b.N), "heap-B/cycle")
	b.ReportMetric(float64(int64(rssBytes())-int64(baseRSS))/1024, "rss-KiB-change")
	b.ReportMetric(float64(g-baseG), "goroutines-change")
	b.ReportMetric(float64(fd-baseFD), "fds-change")
	if g > baseG || fd > baseFD || growth > int64(b.N)*64+64<<10 {
		b.Fatalf("after %d cycles: goroutines %d→%d, fds %d→%d, live heap %+d B", b.N, baseG, g, baseFD, fd, growth)
	}
}
