package server

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestWebSocketCrossTransport connects one client over WebSocket and one over TCP: a publish from each reaches
// the other, a WebSocket ping is answered, and a close frame closes the connection.
func TestWebSocketCrossTransport(t *testing.T) {
	s := startBroker(t, func(o *Options) { o.WSAddr = "127.0.0.2:0" })
	if s.WSAddr() == "" || s.WSAddr() == s.TCPAddr() {
		t.Fatalf("ws listener %q (tcp %q)", s.WSAddr(), s.TCPAddr())
	}
	d := websocket.Dialer{Subprotocols: []string{"mqtt"}, HandshakeTimeout: 5 * time.Second}
	wc, resp, err := d.Dial("ws://"+s.WSAddr()+"/mqtt", http.Header{})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer wc.Close()
	if resp.StatusCode != 101 || wc.Subprotocol() != "mqtt" {
		t.Fatalf("upgrade: %d, subprotocol %q", resp.StatusCode, wc.Subprotocol())
	}
	read := func(want []byte) {
		t.Helper()
		wc.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, got, err := wc.ReadMessage()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("ws read % x, %v; want % x", got, err, want)
		}
	}
	// CONNECT split over two frames, then SUBSCRIBE.
	conn := connect311("ws", true)
	wc.WriteMessage(websocket.BinaryMessage, conn[:5])
	wc.WriteMessage(websocket.BinaryMessage, conn[5:])
	read([]byte{0x20, 2, 0, 0})
	wc.WriteMessage(websocket.BinaryMessage, []byte{0x82, 6, 0, 1, 0, 1, 'w', 0})
	read([]byte{0x90, 3, 0, 1, 0})

	tc := connected311(t, s, "tcp")
	tc.send([]byte{0x82, 6, 0, 1, 0, 1, 't', 0})
	tc.expect([]byte{0x90, 3, 0, 1, 0})
	tc.send([]byte{0x30, 5, 0, 1, 'w', 'h', 'i'})
	read([]byte{0x30, 5, 0, 1, 'w', 'h', 'i'})
	wc.WriteMessage(websocket.BinaryMessage, []byte{0x30, 5, 0, 1, 't', 'y', 'o'})
	tc.expect([]byte{0x30, 5, 0, 1, 't', 'y', 'o'})

	pong := make(chan string, 1)
	wc.SetPongHandler(func(p string) error { pong <- p; return nil })
	wc.WriteControl(websocket.PingMessage, []byte("hb"), time.Now().Add(time.Second))
	go wc.ReadMessage() // the pong handler runs inside a read
	select {
	case p := <-pong:
		if p != "hb" {
			t.Fatalf("pong %q", p)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no pong")
	}
}

// TestWebSocketServerCloseSendsCloseFrame: when the broker ends the connection (here a DISCONNECT), a WebSocket
// client sees a close frame with normal closure, not just a dropped TCP connection.
func TestWebSocketServerCloseSendsCloseFrame(t *testing.T) {
	s := startBroker(t, func(o *Options) { o.WSAddr = "127.0.0.2:0" })
	d := websocket.Dialer{Subprotocols: []string{"mqtt"}, HandshakeTimeout: 5 * time.Second}
	wc, _, err := d.Dial("ws://"+s.WSAddr()+"/mqtt", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer wc.Close()
	wc.WriteMessage(websocket.BinaryMessage, connect311("bye", true))
	wc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, p, err := wc.ReadMessage(); err != nil || !bytes.Equal(p, []byte{0x20, 2, 0, 0}) {
		t.Fatalf("CONNACK % x %v", p, err)
	}
	wc.WriteMessage(websocket.BinaryMessage, []byte{0xe0, 0})
	_, _, err = wc.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Fatalf("after DISCONNECT: %v, want a normal close frame", err)
	}
}

func TestWebSocketWrongPathRefused(t *testing.T) {
	s := startBroker(t, func(o *Options) { o.WSAddr = "127.0.0.2:0" })
	d := websocket.Dialer{Subprotocols: []string{"mqtt"}, HandshakeTimeout: 5 * time.Second}
	_, resp, err := d.Dial("ws://"+s.WSAddr()+"/elsewhere", nil)
	if err == nil || resp == nil || resp.StatusCode != 404 {
		t.Fatalf("upgrade on a wrong path: %v %+v", err, resp)
	}
	// The TCP listener does not speak HTTP.
	c := dialRaw(t, s)
	c.send([]byte("GET /mqtt HTTP/1.1\r\nHost: x\r\n\r\n"))
	c.expectClosed()
}
