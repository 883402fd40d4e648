package server

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"loopmq/server/ws/wstest"
)

// TestWSIdleConnectionMemory compares, in one broker, the memory of idle connected clients over TCP and over
// WebSocket (after the upgrade): Go heap and RSS growth per connection. The clients run in a child process so
// their own sockets do not count. The goal is WebSocket within 200 bytes of TCP per connection.
func TestWSIdleConnectionMemory(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("memory measurement: not in -short or -race runs")
	}
	const n = 2000
	s := startWSBroker(t, nil)
	measure := func(mode, addr string) (heap, rss float64) {
		t.Helper()
		heap0, rss0 := heapInUse(), rssBytes()
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWSIdleClients$")
		cmd.Env = append(os.Environ(), "LOOPMQ_WSIDLE_ADDR="+addr, "LOOPMQ_WSIDLE_N="+strconv.Itoa(n),
			"LOOPMQ_WSIDLE_MODE="+mode)
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

// rssBytes is this process's resident set size from /proc/self/statm (0 when unavailable).
func rssBytes() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

// TestHelperWSIdleClients is the child process of TestWSIdleConnectionMemory: it connects N clients over TCP or
// WebSocket, prints "ready" and holds them until its stdin closes.
func TestHelperWSIdleClients(t *testing.T) {
	addr := os.Getenv("LOOPMQ_WSIDLE_ADDR")
	if addr == "" {
		t.Skip("helper process only")
	}
	n, _ := strconv.Atoi(os.Getenv("LOOPMQ_WSIDLE_N"))
	isWS := os.Getenv("LOOPMQ_WSIDLE_MODE") == "ws"
	conns := make([]net.Conn, 0, n)
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		connect := connect311(fmt.Sprintf("idle-%d", i), true)
		want := []byte{0x20, 2, 0, 0}
		if isWS {
			c.Write(wstest.UpgradeRequest(addr, "/mqtt", []string{"mqtt"}))
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil || resp.StatusCode != 101 || br.Buffered() != 0 {
				t.Fatalf("upgrade: %v", err)
			}
			connect = wstest.Encode(wstest.Binary(connect))
			want = []byte{0x82, 4, 0x20, 2, 0, 0}
		}
		c.Write(connect)
		got := make([]byte, len(want))
		if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("connack % x: %v", got, err)
		}
		c.SetDeadline(time.Time{})
		conns = append(conns, c)
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
}
