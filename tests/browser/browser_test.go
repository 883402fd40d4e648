// Package browser_test runs MQTT.js in headless Chromium against an in-process broker over WebSocket, talking to
// a Node MQTT.js client on TCP (browser.mjs does the talking; this test starts the broker and judges the exit).
//
// The browser's will is tested on a real network loss: one page reaches the broker through cutProxy, which on
// browser.mjs's request resets both TCP connections (RST, no WebSocket close frame, no MQTT DISCONNECT) and reports
// what the page had sent, so the broker can only learn of the loss from the socket.
package browser_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gobwas "github.com/gobwas/ws"

	"loopmq/server"
)

const chromium = "/usr/bin/chromium"

// prerequisites returns node's path, or fails the test naming everything that is missing: .ci/run installs all of
// it, so a missing piece is a broken environment, not a reason to skip.
func prerequisites(t *testing.T) string {
	t.Helper()
	var missing []string
	node, err := exec.LookPath("node")
	if err != nil {
		missing = append(missing, "node is not on PATH (Debian package nodejs: apt-get install nodejs npm)")
	}
	if _, err := os.Stat(chromium); err != nil {
		missing = append(missing, chromium+" is missing (Debian package chromium: apt-get install chromium)")
	}
	for _, dep := range []string{"mqtt", "playwright-core"} {
		if _, err := os.Stat(filepath.Join("node_modules", dep, "package.json")); err != nil {
			missing = append(missing, "tests/browser/node_modules/"+dep+" is missing "+
				"(run: PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix tests/browser)")
		}
	}
	if len(missing) > 0 {
		t.Fatalf("the browser test needs what .ci/run installs (go test -short skips it):\n  %s",
			strings.Join(missing, "\n  "))
	}
	return node
}

func TestBrowserMQTTOverWebSocket(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	node := prerequisites(t)

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
	p := startCutProxy(t, s.WSAddr())

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "browser.mjs")
	cmd.Env = append(os.Environ(),
		"WS_URL=ws://"+s.WSAddr()+"/mqtt",
		"TCP_URL=mqtt://"+s.TCPAddr(),
		"PROXY_WS_URL=ws://"+p.ln.Addr().String()+"/mqtt",
		"CUT_URL="+p.cutURL,
		"CHROMIUM="+chromium,
		"MAX_SIZE=1048576",
		"DEADLINE_MS=60000",
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node browser.mjs: %v\n%s", err, out)
	}
	if cuts := p.cuts(); cuts != 2 {
		t.Errorf("the proxy cut %d connections, want 2 (one will page per protocol version)\n%s", cuts, out)
	}
	t.Logf("browser.mjs:\n%s", out)
}

// cutProxy forwards TCP connections to the broker's WebSocket listener and records what each client sends. A GET on
// cutURL resets every connection it holds and answers a cutReport as JSON.
type cutProxy struct {
	ln     net.Listener
	target string
	cutURL string
	wg     sync.WaitGroup // the accept loop, the control server and every pipe

	mu     sync.Mutex
	live   []*proxied
	total  int  // connections cut so far
	closed bool // the test is over: no new connections
}

// proxied is one connection through the proxy.
type proxied struct {
	client, broker *net.TCPConn
	mu             sync.Mutex
	sent           bytes.Buffer // everything the client sent, for the report
}

// cutReport is what the proxy saw on the connections it cut: the MQTT packet types the client sent inside its
// WebSocket frames, and whether a close frame was among them.
type cutReport struct {
	Cut        int      `json:"cut"`
	Packets    []string `json:"packets"`
	CloseFrame bool     `json:"closeFrame"`
	Error      string   `json:"error,omitempty"`
}

func startCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target}
	p.wg.Go(p.accept)

	ctl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.cutURL = "http://" + ctl.Addr().String() + "/cut"
	mux := http.NewServeMux()
	mux.HandleFunc("GET /cut", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(p.cut())
	})
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	p.wg.Go(func() { _ = hs.Serve(ctl) })
	t.Cleanup(func() {
		_ = hs.Close()
		_ = ln.Close()
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *cutProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		b, err := net.DialTimeout("tcp", p.target, 10*time.Second)
		if err != nil {
			_ = c.Close()
			continue
		}
		pc := &proxied{client: c.(*net.TCPConn), broker: b.(*net.TCPConn)}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			_ = c.Close()
			_ = b.Close()
			return
		}
		p.live = append(p.live, pc)
		p.mu.Unlock()
		p.wg.Go(func() { pc.pipe(pc.broker, pc.client, true) })
		p.wg.Go(func() { pc.pipe(pc.client, pc.broker, false) })
	}
}

// pipe copies src to dst until either side ends; record keeps a copy of what the client sent.
func (pc *proxied) pipe(dst, src *net.TCPConn, record bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if record {
				pc.mu.Lock()
				pc.sent.Write(buf[:n])
				pc.mu.Unlock()
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			// The other direction and the cut close the sockets; a half-close is passed on as it came.
			_ = dst.CloseWrite()
			return
		}
	}
}

// cut resets both sides of every live connection: SetLinger(0) makes Close send RST instead of FIN.
func (p *cutProxy) cut() cutReport {
	p.mu.Lock()
	live := p.live
	p.live = nil
	p.total += len(live)
	p.mu.Unlock()
	r := cutReport{Cut: len(live), Packets: []string{}}
	var errs []error
	for _, pc := range live {
		for _, c := range []*net.TCPConn{pc.broker, pc.client} {
			_ = c.SetLinger(0)
			_ = c.Close()
		}
		pc.mu.Lock()
		packets, closeFrame, err := clientTraffic(pc.sent.Bytes())
		pc.mu.Unlock()
		r.Packets = append(r.Packets, packets...)
		r.CloseFrame = r.CloseFrame || closeFrame
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		r.Error = err.Error()
	}
	return r
}

func (p *cutProxy) cuts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.total
}

// packetNames are the MQTT control packet types by their first four bits.
var packetNames = [16]string{"RESERVED", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
	"SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH"}

// clientTraffic reads what a WebSocket client sent: the HTTP upgrade request, then masked frames. It returns the
// MQTT packet types carried by the data frames (a packet cut short at the end is left out) and whether a close
// frame was sent.
func clientTraffic(b []byte) (packets []string, closeFrame bool, err error) {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		return nil, false, fmt.Errorf("no complete upgrade request in %d bytes", len(b))
	}
	r := bytes.NewReader(b[end+4:])
	var stream []byte
	for r.Len() > 0 {
		f, err := gobwas.ReadFrame(r)
		if err != nil {
			break // the last frame was cut short
		}
		f = gobwas.UnmaskFrameInPlace(f)
		switch f.Header.OpCode {
		case gobwas.OpClose:
			closeFrame = true
		case gobwas.OpBinary, gobwas.OpContinuation:
			stream = append(stream, f.Payload...)
		}
	}
	for len(stream) >= 2 {
		size, n := 0, 1
		for shift := 0; ; shift += 7 {
			if n >= len(stream) || n > 4 {
				return packets, closeFrame, nil
			}
			size |= int(stream[n]&0x7f) << shift
			n++
			if stream[n-1]&0x80 == 0 {
				break
			}
		}
		if n+size > len(stream) {
			break
		}
		packets = append(packets, packetNames[stream[0]>>4])
		stream = stream[n+size:]
	}
	return packets, closeFrame, nil
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
