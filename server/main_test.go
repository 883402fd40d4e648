package server

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"loopmq/server/ws/wstest"
)

// Environment of the idle-clients helper process (this test binary re-executed by the memory budgets, so the
// clients' own sockets do not count in the broker's memory).
const (
	idleAddrEnv = "LOOPMQ_IDLE_ADDR" // broker address to connect to
	idleNEnv    = "LOOPMQ_IDLE_N"    // how many clients
	idleModeEnv = "LOOPMQ_IDLE_MODE" // "ws" for WebSocket, "tls" and "wss" over TLS, anything else for TCP
	idleCAEnv   = "LOOPMQ_IDLE_CA"   // the CA file TLS clients trust
)

// TestMain runs the idle-clients helper instead of the tests when the memory budgets start this binary as one.
func TestMain(m *testing.M) {
	if addr := os.Getenv(idleAddrEnv); addr != "" {
		n, _ := strconv.Atoi(os.Getenv(idleNEnv))
		if err := holdIdleClients(addr, n, os.Getenv(idleModeEnv)); err != nil {
			fmt.Fprintln(os.Stderr, "idle clients:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// holdIdleClients connects n clean-session MQTT 3.1.1 clients to addr over TCP, WebSocket, TLS or WebSocket over
// TLS (mode tcp, ws, tls, wss), prints "ready" and holds them until stdin closes.
func holdIdleClients(addr string, n int, mode string) error {
	isWS := mode == "ws" || mode == "wss"
	var cfg *tls.Config
	if mode == "tls" || mode == "wss" {
		pem, err := os.ReadFile(os.Getenv(idleCAEnv))
		if err != nil {
			return err
		}
		cfg = &tls.Config{RootCAs: x509.NewCertPool(), ServerName: "localhost"}
		cfg.RootCAs.AppendCertsFromPEM(pem)
	}
	conns := make([]net.Conn, 0, n)
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		if cfg != nil {
			c = tls.Client(c, cfg)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		connect := connect311(fmt.Sprintf("idle-%d", i), true)
		want := []byte{0x20, 2, 0, 0}
		if isWS {
			c.Write(wstest.UpgradeRequest(addr, "/mqtt", []string{"mqtt"}))
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil || resp.StatusCode != 101 || br.Buffered() != 0 {
				return fmt.Errorf("upgrade: %v", err)
			}
			connect = wstest.Encode(wstest.Binary(connect))
			want = []byte{0x82, 4, 0x20, 2, 0, 0}
		}
		c.Write(connect)
		got := make([]byte, len(want))
		if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, want) {
			return fmt.Errorf("connack % x: %v", got, err)
		}
		c.SetDeadline(time.Time{})
		conns = append(conns, c)
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
	return nil
}

// heapInUse is the Go heap in use after three collections.
func heapInUse() uint64 {
	var ms runtime.MemStats
	for i := 0; i < 3; i++ {
		runtime.GC()
	}
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
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
