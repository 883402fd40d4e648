package server

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	gobwas "github.com/gobwas/ws"

	"loopmq/server/ws/wstest"
)

// startWSBroker starts a broker with TCP and WebSocket listeners on free ports. Equal TCPAddr and WSAddr strings
// mean one listener for both, so the WebSocket port is picked here rather than with a second "127.0.0.1:0".
func startWSBroker(t testing.TB, mutate func(*Options)) *Server {
	t.Helper()
	return startBroker(t, func(o *Options) {
		o.WSAddr = freeAddr(t)
		if mutate != nil {
			mutate(o)
		}
	})
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// wsStream is a WebSocket client connection seen as a byte stream of MQTT: Write sends one masked binary frame,
// Read returns the payload of the server's binary frames. It records the server's close frame, and fails on
// anything RFC 6455 forbids a server to send (masked frames, text frames, data after close).
type wsStream struct {
	net.Conn  // the TCP connection, for tests that write raw frames
	r         *bufio.Reader
	pending   []byte // payload of the current binary frame not read yet
	closeCode gobwas.StatusCode
	closed    bool // a close frame arrived
	pongs     [][]byte
}

// dialWS connects to addr and sends request (wstest.UpgradeRequest when nil), returning the response and, when it
// is 101, the stream.
func dialWS(t testing.TB, addr string, request []byte) (*http.Response, *wsStream) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if request == nil {
		request = wstest.UpgradeRequest(addr, "/mqtt", []string{"mqtt"})
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(request); err != nil {
		t.Fatalf("write upgrade: %v", err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read upgrade response: %v", err)
	}
	c.SetDeadline(time.Time{})
	return resp, &wsStream{Conn: c, r: br}
}

// upgradeWS dials addr and fails unless the upgrade succeeds with subprotocol mqtt.
func upgradeWS(t testing.TB, addr string) *rawConn {
	t.Helper()
	resp, s := dialWS(t, addr, nil)
	if resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Accept") != wstest.ExampleKeyAccept ||
		resp.Header.Get("Sec-WebSocket-Protocol") != "mqtt" {
		t.Fatalf("upgrade: %s %v", resp.Status, resp.Header)
	}
	return &rawConn{t: t, Conn: s}
}

// Write sends p as one masked binary frame.
func (s *wsStream) Write(p []byte) (int, error) {
	if _, err := s.Conn.Write(wstest.Encode(wstest.Binary(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// writeRaw sends bytes on the TCP connection as they are.
func (s *wsStream) writeRaw(t testing.TB, b []byte) {
	t.Helper()
	s.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := s.Conn.Write(b); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// Read returns MQTT bytes from the server's binary frames; after the server's close frame it returns io.EOF.
func (s *wsStream) Read(p []byte) (int, error) {
	for len(s.pending) == 0 {
		if s.closed {
			if _, err := s.r.ReadByte(); err == nil {
				return 0, errors.New("server sent bytes after its close frame")
			}
			return 0, io.EOF
		}
		f, err := wstest.ReadServerFrame(s.r, 64<<20)
		if err != nil {
			return 0, err
		}
		if !f.Fin || f.RSV != 0 {
			return 0, fmt.Errorf("server frame fin=%v rsv=%#x: the broker sends whole frames only", f.Fin, f.RSV)
		}
		switch f.Op {
		case gobwas.OpBinary:
			s.pending = f.Payload
		case gobwas.OpClose:
			s.closed = true
			s.closeCode = f.CloseCode()
		case gobwas.OpPong:
			s.pongs = append(s.pongs, f.Payload)
		default:
			return 0, fmt.Errorf("server sent opcode %v", f.Op)
		}
	}
	n := copy(p, s.pending)
	s.pending = s.pending[n:]
	return n, nil
}

// expectWSClose reads until the server's close frame and the end of the connection, and fails unless the frame
// carries code.
func expectWSClose(t testing.TB, s *wsStream, code gobwas.StatusCode) {
	t.Helper()
	s.Conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	for {
		_, err := s.Read(buf)
		if err == nil {
			continue
		}
		if !s.closed {
			t.Fatalf("connection ended without a close frame: %v", err)
		}
		if err != io.EOF {
			t.Fatalf("after the close frame: %v", err)
		}
		break
	}
	if s.closeCode != code {
		t.Fatalf("close code %d, want %d", s.closeCode, code)
	}
}

// frames encodes client frames.
func frames(fs ...wstest.Frame) []byte { return wstest.Encode(fs...) }

// fragment is a masked binary or continuation frame with FIN as given.
func fragment(op gobwas.OpCode, fin bool, p []byte) wstest.Frame {
	return wstest.Frame{Fin: fin, Op: op, Mask: [4]byte{9, 8, 7, 6}, Payload: p}
}

// concat joins byte slices.
func concat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
