package bench

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"loopmq/internal/testenv"
)

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startMosquitto starts Debian's mosquitto on free loopback ports (MQTT and WebSocket) and returns
// both URLs and its pid; the test fails when mosquitto is not installed (.ci/run installs it).
func startMosquitto(t *testing.T) (tcpURL, wsURL string, pid int) {
	t.Helper()
	bin := testenv.Mosquitto(t)
	tp, wp := freePort(t), freePort(t)
	conf := filepath.Join(t.TempDir(), "mosquitto.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf("listener %d 127.0.0.1\nprotocol mqtt\nlistener %d 127.0.0.1\nprotocol websockets\n"+
		"allow_anonymous true\nmax_queued_messages 100000\n", tp, wp)), 0o644)
	cmd := exec.Command(bin, "-c", conf)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for _, p := range []int{tp, wp} {
		waitPort(t, p)
	}
	return fmt.Sprintf("tcp://127.0.0.1:%d", tp), fmt.Sprintf("ws://127.0.0.1:%d/mqtt", wp), cmd.Process.Pid
}

func waitPort(t *testing.T, port int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("port %d never opened", port)
}

// runScenarios runs every scenario briefly against url and checks what a user would read in the
// report: everything sent arrives exactly once, in order, and the scenario's own figures are filled.
func runScenarios(t *testing.T, url string, pid int) {
	for _, v := range []byte{4, 5} {
		for _, scen := range Scenarios {
			if scen == ScenarioStorm || scen == ScenarioStuck {
				continue // their own tests: storm_test.go, stuck_test.go
			}
			t.Run(fmt.Sprintf("%s/v%d", scen, v), func(t *testing.T) {
				sp := quickSpec(scen, url)
				sp.Version = v
				sp.Count, sp.Duration = 200, 0
				sp.Rate = 2000
				sp.Publishers, sp.Subscribers = min(sp.Publishers, 3), min(sp.Subscribers, 3)
				sp.QoS = 1
				switch scen {
				case ScenarioConn:
					sp.Clients, sp.Duration, sp.PID = 50, 300*time.Millisecond, pid
				case ScenarioSub:
					sp.Duration = 300 * time.Millisecond
				case ScenarioRetained:
					sp.Retained = 100
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				r, err := Run(ctx, sp, nil)
				if err != nil {
					t.Fatal(err)
				}
				if len(r.Errors) > 0 {
					t.Errorf("errors: %v", r.Errors)
				}
				switch scen {
				case ScenarioConn:
					if r.Connections != 50 || r.ConnectLatency.Count != 50 || r.ConnectRate <= 0 {
						t.Errorf("conns %d, latency samples %d, rate %v", r.Connections, r.ConnectLatency.Count, r.ConnectRate)
					}
					if pid != 0 && (r.Memory == nil || len(r.Memory.Samples) < 2) {
						t.Errorf("no memory samples for pid %d", pid)
					}
				case ScenarioPub:
					if r.Sent != int64(sp.Publishers*sp.Count) || r.Acked != r.Sent {
						t.Errorf("sent %d acked %d", r.Sent, r.Acked)
					}
				case ScenarioSub:
					if r.Connections != int64(sp.Subscribers) || r.Received != 0 {
						t.Errorf("conns %d received %d", r.Connections, r.Received)
					}
				case ScenarioRetained:
					if r.Retained == nil || r.Retained.Received != 100 || r.Lost != 0 {
						t.Errorf("retained %+v lost %d", r.Retained, r.Lost)
					}
				default:
					want := int64(sp.Publishers * sp.Count)
					if scen == ScenarioFanOut {
						want = int64(sp.Subscribers * sp.Count)
					}
					if r.Unique != want || r.Lost != 0 || r.Duplicated != 0 || r.OutOfOrder != 0 {
						t.Errorf("unique %d (want %d) lost %d dup %d ooo %d", r.Unique, want, r.Lost, r.Duplicated, r.OutOfOrder)
					}
					if r.Latency.Count != want || r.Latency.P50 <= 0 {
						t.Errorf("latency %+v", r.Latency)
					}
				}
			})
		}
	}
}

func TestScenariosAgainstMosquitto(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	tcpURL, wsURL, pid := startMosquitto(t)
	t.Run("tcp", func(t *testing.T) { runScenarios(t, tcpURL, pid) })
	t.Run("ws", func(t *testing.T) { runScenarios(t, wsURL, 0) })
}

// TestWorkerProcesses splits runs over worker processes (this test binary re-executed, see TestMain)
// with distinct source addresses, and checks the merged result is as complete as an in-process one.
func TestWorkerProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	tcpURL, _, _ := startMosquitto(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	sp := quickSpec(ScenarioFanOut, tcpURL)
	sp.Workers, sp.Subscribers, sp.Count, sp.Duration, sp.QoS, sp.Rate = 2, 6, 300, 0, 1, 3000
	r, err := Run(ctx, sp, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Workers != 2 || r.Unique != 6*300 || r.Lost != 0 || r.Latency.Count != 6*300 || r.Connections != 7 {
		t.Errorf("workers %d unique %d lost %d latency samples %d conns %d; errors %v",
			r.Workers, r.Unique, r.Lost, r.Latency.Count, r.Connections, r.Errors)
	}

	sp = quickSpec(ScenarioConn, tcpURL)
	sp.Workers, sp.Clients, sp.Duration = 3, 300, 200*time.Millisecond
	r, err = Run(ctx, sp, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Connections != 300 || r.ConnectLatency.Count != 300 {
		t.Errorf("conns %d latency samples %d; errors %v", r.Connections, r.ConnectLatency.Count, r.Errors)
	}
}
