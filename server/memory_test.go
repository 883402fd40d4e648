package server

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// TestIdleConnectionMemory measures the broker's Go heap per idle, connected clean-session client. The clients
// run in a child process (this test binary in helper mode) so their own sockets do not count.
func TestIdleConnectionMemory(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("memory measurement: not in -short or -race runs")
	}
	const n = 5000
	s := startBroker(t, nil)
	before := heapInUse()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperIdleClients$")
	cmd.Env = append(os.Environ(), "LOOPMQ_IDLE_ADDR="+s.TCPAddr(), "LOOPMQ_IDLE_N="+strconv.Itoa(n))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("helper: %q %v", line, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.connected.Load() < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := s.connected.Load(); got != n {
		t.Fatalf("%d clients connected, want %d", got, n)
	}
	after := heapInUse()
	per := float64(int64(after)-int64(before)) / n
	t.Logf("Go heap per idle connected clean-session client: %.0f bytes (%d clients)", per, n)
	if per > 2048 {
		t.Fatalf("%.0f bytes per idle connection, budget is about 1 KB", per)
	}
}

func heapInUse() uint64 {
	var ms runtime.MemStats
	for i := 0; i < 3; i++ {
		runtime.GC()
	}
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// TestHelperIdleClients is the child process of TestIdleConnectionMemory: it connects N clients, prints "ready"
// and holds them until its stdin closes.
func TestHelperIdleClients(t *testing.T) {
	addr := os.Getenv("LOOPMQ_IDLE_ADDR")
	if addr == "" {
		t.Skip("helper process only")
	}
	n, _ := strconv.Atoi(os.Getenv("LOOPMQ_IDLE_N"))
	conns := make([]net.Conn, 0, n)
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write(connect311(fmt.Sprintf("idle-%d", i), true))
		var ack [4]byte
		if _, err := io.ReadFull(c, ack[:]); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
}
