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

// TestIdleConnectionMemory measures the broker's Go heap per idle, connected clean-session client. The clients
// run in a child process (this test binary as the idle-clients helper, see TestMain) so their own sockets do not
// count.
func TestIdleConnectionMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("memory measurement: connects 5000 clients")
	}
	const n = 5000
	s := startBroker(t, nil)
	before := heapInUse()
	cmd := exec.Command(os.Args[0]) // TestMain runs it as the idle-clients helper
	cmd.Env = append(os.Environ(), idleAddrEnv+"="+s.TCPAddr(), idleNEnv+"="+strconv.Itoa(n))
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
