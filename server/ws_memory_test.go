//go:build !race

// A memory budget: not built under -race, whose shadow memory and instrumentation distort the heap. `make test`
// runs it in a pass without -race (see the Makefile's budgets).

package server

import (
	"bufio"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// TestWSIdleConnectionMemory compares, in one broker, the memory of idle connected clients over TCP and over
// WebSocket (after the upgrade): Go heap and RSS growth per connection. The clients run in a child process so
// their own sockets do not count. The goal is WebSocket within 200 bytes of TCP per connection.
func TestWSIdleConnectionMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("memory measurement: connects 3 × 2000 clients")
	}
	const n = 2000
	s := startWSBroker(t, nil)
	measure := func(mode, addr string) (heap, rss float64) {
		t.Helper()
		heap0, rss0 := heapInUse(), rssBytes()
		cmd := exec.Command(os.Args[0]) // TestMain runs it as the idle-clients helper
		cmd.Env = append(os.Environ(), idleAddrEnv+"="+addr, idleNEnv+"="+strconv.Itoa(n), idleModeEnv+"="+mode)
		stdin, _ := cmd.StdinPipe()
		stdout, _ := cmd.StdoutPipe()
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { stdin.Close(); cmd.Wait() }()
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil || line != "ready\n" {
			t.Fatalf("helper %s: %q %v", mode, line, err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for s.connected.Load() < n && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if got := s.connected.Load(); got != n {
			t.Fatalf("%s: %d clients connected, want %d", mode, got, n)
		}
		heap1, rss1 := heapInUse(), rssBytes()
		stdin.Close()
		cmd.Wait()
		for s.connected.Load() > 0 && time.Now().Before(deadline.Add(10*time.Second)) {
			time.Sleep(10 * time.Millisecond)
		}
		return float64(int64(heap1)-int64(heap0)) / n, float64(int64(rss1)-int64(rss0)) / n
	}
	// Warm up: the first batch also grows the loops' tables and buffers once.
	measure("tcp", s.TCPAddr())
	tcpHeap, tcpRSS := measure("tcp", s.TCPAddr())
	wsHeap, wsRSS := measure("ws", s.WSAddr())
	t.Logf("per idle connection, %d each: Go heap tcp %.0f B, ws %.0f B (ws - tcp = %.0f B); RSS tcp %.0f B, ws %.0f B",
		n, tcpHeap, wsHeap, wsHeap-tcpHeap, tcpRSS, wsRSS)
	if wsHeap-tcpHeap > 200 {
		t.Fatalf("an idle WebSocket connection costs %.0f B of heap more than a TCP one, goal is 200", wsHeap-tcpHeap)
	}
}
