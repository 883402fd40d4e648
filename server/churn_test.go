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

// openFDs counts this process's open file descriptors.
func openFDs(t testing.TB) int {
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(es)
}

// churnCycle connects one client, subscribes, and leaves in the way i%3 says: 0 sends DISCONNECT then closes, 1 closes the socket without a word (abrupt), 2 closes right
// after CONNECT without waiting for CONNACK.
func churnCycle(t testing.TB, addr string, g, i int) {
	// Not dialRawAddr: its t.Cleanup would keep every connection reachable until the test ends.
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer nc.Close()
	c := &rawConn{t: t, Conn: nc}
	v := codec.V311
	if i%2 == 1 {
		v = codec.V5
	}
	id := fmt.Sprintf("churn-%d-%d", g, i)
	if v == codec.V5 {
		c.send(connect5With(id, codec.Properties{}, nil))
	} else {
		c.send(connect311(id, true))
	}
	mode := i % 3
	if mode == 2 {
		return // closed before CONNACK: the broker must still free everything
	}
	h, _ := readPacketDecoded(t, c)
	if h.Type != codec.TypeConnack {
		t.Fatalf("%s: got packet type %d, want CONNACK", id, h.Type)
	}
	c.send(churnSubscribe(g*1_000_000+i, v))
	if h, _ = readPacketDecoded(t, c); h.Type != codec.TypeSuback {
		t.Fatalf("%s: got packet type %d, want SUBACK", id, h.Type)
	}
	if mode == 0 {
		d := codec.Disconnect{}
		c.send(d.Append(nil, v))
	}
}

// readPacketDecoded reads one packet and decodes its fixed header.
func readPacketDecoded(t testing.TB, c *rawConn) (codec.FixedHeader, []byte) {
	t.Helper()
	p, err := c.readPacket(5 * time.Second)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	h, need, err := codec.Peek(p, 0)
	if err != nil || need != 0 {
		t.Fatalf("fixed header % x: %v", p, err)
	}
	return h, p[h.Size:h.Len()]
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
	addr := s.TCPAddr()

	run := func(cycles int) {
		var wg sync.WaitGroup
		for g := 0; g < workers; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				for i := g; i < cycles; i += workers {
					churnCycle(t, addr, g, i)
					if t.Failed() {
						return
					}
				}
			}(g)
		}
		wg.Wait()
	}
	settle := func() brokerCounts {
		deadline := time.Now().Add(10 * time.Second)
		for {
			c := countsOf(s)
			if c == (brokerCounts{}) || time.Now().After(deadline) {
				return c
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	// Warm up so pools, loop scratch buffers and the subscriber table's first chunk exist before the baseline.
	run(200)
	if c := settle(); c != (brokerCounts{}) {
		t.Fatalf("after warm-up the broker still counts %+v, want all zero", c)
	}
	baseG, baseFD, baseHeap := runtime.NumGoroutine(), openFDs(t), heapLive()

	start := time.Now()
	run(n)
	took := time.Since(start)
	if t.Failed() {
		return
	}
	if c := settle(); c != (brokerCounts{}) {
		t.Fatalf("after %d cycles the broker still counts %+v, want all zero", n, c)
	}
	// Goroutines the client side started (conn readers in net) need a moment to exit.
	var g, fd int
	deadline := time.Now().Add(5 * time.Second)
	for {
		g, fd = runtime.NumGoroutine(), openFDs(t)
		if (g <= baseG && fd <= baseFD) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
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
	// A leaked session with its subscription and client costs well over 1 KB; 64 B per cycle of slack absorbs
	// the heap's own fragmentation and free-list growth without hiding a leak of one object graph per cycle.
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
