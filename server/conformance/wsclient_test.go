package conformance_test

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// wsConn is a minimal RFC 6455 client connection, written for these tests so that the broker's WebSocket layer is
// checked against an independent implementation. Write sends each call as one masked binary frame; Read returns
// the payload bytes of binary and continuation frames as a stream, answers pings, and reports a close frame as
// io.EOF (its status code is kept in closeCode).
type wsConn struct {
	net.Conn
	br        *bufio.Reader
	pending   []byte
	closeCode int
	// textSeen records that the server sent a text frame, which it must never do [MQTT-6.0.0-1].
	textSeen bool
}

var errNotWebSocket = errors.New("the listener did not answer the upgrade with HTTP")

// dialWS opens a TCP connection, performs the opening handshake offering protocols (comma-separated; empty offers
// none) and returns the connection and the server's response.
func dialWS(t testing.TB, addr, path, protocols string) (*wsConn, *http.Response, error) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	key := make([]byte, 16)
	rand.Read(key)
	k := base64.StdEncoding.EncodeToString(key)
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + k + "\r\nSec-WebSocket-Version: 13\r\n"
	if protocols != "" {
		req += "Sec-WebSocket-Protocol: " + protocols + "\r\n"
	}
	conn.SetDeadline(time.Now().Add(wait))
	if _, err := conn.Write([]byte(req + "\r\n")); err != nil {
		return nil, nil, err
	}
	br := bufio.NewReader(conn)
	if peek, err := br.Peek(5); err != nil || string(peek) != "HTTP/" {
		return nil, nil, fmt.Errorf("%w (got % x, %v)", errNotWebSocket, peek, err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, nil, err
	}
	conn.SetDeadline(time.Time{})
	if resp.StatusCode == http.StatusSwitchingProtocols {
		h := sha1.Sum([]byte(k + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		if got := resp.Header.Get("Sec-WebSocket-Accept"); got != base64.StdEncoding.EncodeToString(h[:]) {
			t.Fatalf("Sec-WebSocket-Accept %q is wrong (RFC 6455 §4.2.2)", got)
		}
	}
	return &wsConn{Conn: conn, br: br}, resp, nil
}

// frame writes one frame with the opcode and FIN bit, masked as a client must (RFC 6455 §5.3).
func (w *wsConn) frame(fin bool, opcode byte, payload []byte) error {
	first := opcode
	if fin {
		first |= 0x80
	}
	hdr := []byte{first}
	switch n := len(payload); {
	case n < 126:
		hdr = append(hdr, 0x80|byte(n))
	case n < 65536:
		hdr = append(hdr, 0x80|126)
		hdr = binary.BigEndian.AppendUint16(hdr, uint16(n))
	default:
		hdr = append(hdr, 0x80|127)
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	var key [4]byte
	rand.Read(key[:])
	hdr = append(hdr, key[:]...)
	masked := make([]byte, len(payload))
	for i, b := range payload {
		masked[i] = b ^ key[i%4]
	}
	_, err := w.Conn.Write(append(hdr, masked...))
	return err
}

// Write sends p as one binary frame.
func (w *wsConn) Write(p []byte) (int, error) {
	if err := w.frame(true, 2, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Read returns payload bytes of data frames; server frames must not be masked (RFC 6455 §5.1).
func (w *wsConn) Read(p []byte) (int, error) {
	for len(w.pending) == 0 {
		var h [2]byte
		if _, err := io.ReadFull(w.br, h[:]); err != nil {
			return 0, err
		}
		if h[1]&0x80 != 0 {
			return 0, errors.New("server frame is masked (RFC 6455 §5.1)")
		}
		n := uint64(h[1] & 0x7F)
		switch n {
		case 126:
			var b [2]byte
			if _, err := io.ReadFull(w.br, b[:]); err != nil {
				return 0, err
			}
			n = uint64(binary.BigEndian.Uint16(b[:]))
		case 127:
			var b [8]byte
			if _, err := io.ReadFull(w.br, b[:]); err != nil {
				return 0, err
			}
			n = binary.BigEndian.Uint64(b[:])
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(w.br, payload); err != nil {
			return 0, err
		}
		switch h[0] & 0x0F {
		case 0, 2:
			w.pending = payload
		case 1:
			w.textSeen = true
			w.pending = payload
		case 8:
			if len(payload) >= 2 {
				w.closeCode = int(binary.BigEndian.Uint16(payload))
			}
			return 0, io.EOF
		case 9:
			w.frame(true, 10, payload)
		case 10:
		default:
			return 0, fmt.Errorf("unknown opcode %d", h[0]&0x0F)
		}
	}
	n := copy(p, w.pending)
	w.pending = w.pending[n:]
	return n, nil
}

// wsClient wraps a WebSocket connection in the raw MQTT test client, so every expectation works over WebSocket.
func wsClient(t testing.TB, addr string, level byte, name string) (*client, *wsConn) {
	t.Helper()
	w, resp, err := dialWS(t, addr, "/mqtt", "mqtt")
	if err != nil {
		t.Fatalf("%s: WebSocket handshake: %v", name, err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("%s: handshake answered %s", name, resp.Status)
	}
	if p := resp.Header.Get("Sec-WebSocket-Protocol"); !strings.EqualFold(p, "mqtt") {
		t.Fatalf("%s: selected subprotocol %q, want mqtt [MQTT-6.0.0-4]", name, p)
	}
	return &client{t: t, name: name, level: level, conn: w, r: bufio.NewReader(w)}, w
}
