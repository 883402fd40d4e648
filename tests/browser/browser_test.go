// Package browser_test runs MQTT.js in headless Chromium against an in-process broker over WebSocket, talking to
// a Node MQTT.js client on TCP (browser.mjs does the talking; this test starts the broker and judges the exit).
package browser_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"loopmq/server"
)

// skipOrFail skips when a prerequisite is missing on a developer machine, and fails in CI where .ci/run installs
// everything.
func skipOrFail(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("browser test cannot run in CI: %s", why)
	}
	t.Skipf("browser test skipped: %s (set CI=true to make this a failure)", why)
}

func TestBrowserMQTTOverWebSocket(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		skipOrFail(t, "node is not installed")
	}
	const chromium = "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		skipOrFail(t, chromium+" is missing (Debian package chromium)")
	}
	for _, dep := range []string{"mqtt", "playwright-core"} {
		if _, err := os.Stat(filepath.Join("node_modules", dep)); err != nil {
			skipOrFail(t, "node_modules/"+dep+" is missing (run npm ci --prefix tests/browser)")
		}
	}

	opts := server.DefaultOptions()
	opts.TCPAddr = "127.0.0.1:0"
	opts.WSAddr = freeAddr(t) // a second "127.0.0.1:0" would mean the same listener as TCPAddr
	opts.HTTPAddr = ""
	opts.SysInterval = 0
	opts.MaxPacketSize = 2 << 20 // the 1 MiB payloads and their headers fit
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := server.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "browser.mjs")
	cmd.Env = append(os.Environ(),
		"WS_URL=ws://"+s.WSAddr()+"/mqtt",
		"TCP_URL=mqtt://"+s.TCPAddr(),
		"CHROMIUM="+chromium,
		"MAX_SIZE=1048576",
		"DEADLINE_MS=60000",
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node browser.mjs: %v\n%s", err, out)
	}
	t.Logf("browser.mjs:\n%s", out)
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
