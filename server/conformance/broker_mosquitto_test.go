//go:build mosquittoref

package conformance_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// reference is true in this build: the suite runs against Debian's mosquitto to check the suite itself
// (go test -tags mosquittoref). Tests of loopmq-specific limits that mosquitto cannot be configured for skip.
const reference = true

// startBroker starts mosquitto on a free loopback port with a configuration derived from cfg.
func startBroker(t testing.TB, cfg ...func(*brokerConfig)) *broker {
	t.Helper()
	var bc brokerConfig
	for _, f := range cfg {
		f(&bc)
	}
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		bin = "/usr/sbin/mosquitto"
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	conf := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n", port)
	if bc.maxPacketSize > 0 {
		conf += fmt.Sprintf("max_packet_size %d\n", bc.maxPacketSize)
	}
	if bc.maxKeepAlive > 0 {
		conf += fmt.Sprintf("max_keepalive %d\n", bc.maxKeepAlive)
	}
	if bc.maxQueued > 0 {
		conf += fmt.Sprintf("max_queued_messages %d\n", bc.maxQueued)
	}
	if bc.receiveMaximum > 0 {
		conf += fmt.Sprintf("max_inflight_messages %d\n", bc.receiveMaximum)
	}
	if bc.topicAliasMaximum > 0 {
		conf += fmt.Sprintf("max_topic_alias %d\n", bc.topicAliasMaximum)
	}
	if bc.maxConnections > 0 {
		conf = fmt.Sprintf("listener %d 127.0.0.1\nmax_connections %d\n", port, bc.maxConnections) +
			conf[len(fmt.Sprintf("listener %d 127.0.0.1\n", port)):]
	}
	if bc.sysInterval > 0 {
		conf += fmt.Sprintf("sys_interval %d\n", int(bc.sysInterval/time.Second))
	}
	path := filepath.Join(t.TempDir(), "mosquitto.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", path)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			b := &broker{addr: addr}
			if bc.ws {
				b.wsAddr = wsBridge(t, addr)
			}
			return b
		}
	}
	t.Fatalf("mosquitto did not listen on %s", addr)
	return nil
}

// startStoppableBroker is not used in reference runs (the test skips); it exists so the package compiles.
func startStoppableBroker(t testing.TB) (*broker, func() error) {
	t.Helper()
	b := startBroker(t)
	return b, func() error { return nil }
}

// wsBridge serves MQTT over WebSocket in front of the reference broker's TCP port with gorilla/websocket (Debian's
// mosquitto websockets listener is unusable in this sandbox), so the WebSocket tests and their client can be checked.
func wsBridge(t testing.TB, tcpAddr string) string {
	t.Helper()
	up := websocket.Upgrader{Subprotocols: []string{"mqtt"}, CheckOrigin: func(*http.Request) bool { return true }}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		tcp, err := net.Dial("tcp", tcpAddr)
		if err != nil {
			return
		}
		defer tcp.Close()
		go func() {
			buf := make([]byte, 64<<10)
			for {
				n, err := tcp.Read(buf)
				if err != nil {
					ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), time.Now().Add(time.Second))
					ws.Close()
					return
				}
				ws.WriteMessage(websocket.BinaryMessage, buf[:n])
			}
		}()
		for {
			typ, rd, err := ws.NextReader()
			if err != nil {
				return
			}
			if typ != websocket.BinaryMessage {
				ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1003, "binary only"),
					time.Now().Add(time.Second))
				return
			}
			if _, err := io.Copy(tcp, rd); err != nil {
				return
			}
		}
	})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}
