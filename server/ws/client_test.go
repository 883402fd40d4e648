package ws

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gorilla/websocket"
)

// echoServer serves WebSocket connections with this package the way the broker drives it from an event loop:
// bytes are appended to a pending buffer, Upgrade runs until the headers are complete, then Deframe strips frames
// in place; data is echoed as one binary frame per read (header + data in one vectored write), pings get pongs and
// a close is echoed. It stands in for gnet with a goroutine per connection, which only the test uses.
func echoServer(t *testing.T, cfg *Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serveEcho(c, cfg)
		}
	}()
	return ln.Addr().String()
}

func serveEcho(c net.Conn, cfg *Config) {
	defer c.Close()
	peerAddr := netip.MustParseAddrPort(c.RemoteAddr().String())
	var pending []byte
	read := make([]byte, 8192)
	upgraded := false
	d := Deframer{MaxPayload: 1 << 20}
	var hdr [MaxFrameHeaderLen]byte
	for {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		k, err := c.Read(read)
		if err != nil {
			return
		}
		pending = append(pending, read[:k]...)
		if !upgraded {
			res, need, err := Upgrade(cfg, pending, peerAddr, nil)
			if need > 0 {
				continue
			}
			if _, werr := c.Write(res.Response); werr != nil || err != nil {
				return
			}
			upgraded = true
			pending = pending[res.Consumed:]
		}
		for {
			n, consumed, ctl, err := d.Deframe(pending)
			if n > 0 {
				h := hdr[:PutFrameHeader(&hdr, ws.OpBinary, n)]
				bufs := net.Buffers{h, pending[:n]}
				if _, werr := bufs.WriteTo(c); werr != nil {
					return
				}
			}
			if err != nil {
				var pe *ProtocolError
				errors.As(err, &pe)
				_, _ = c.Write(AppendClose(nil, pe.Code, ""))
				return
			}
			if ctl.Op != 0 {
				if _, werr := c.Write(ctl.AppendReply(nil)); werr != nil || ctl.Op == ws.OpClose {
					return
				}
			}
			pending = pending[consumed:]
			if ctl.Op == 0 {
				break
			}
		}
		pending = append([]byte(nil), pending...)
	}
}

// TestGorillaClient runs a real client (gorilla/websocket) against the package: handshake with subprotocol
// negotiation, binary messages from 0 B to 1 MiB, fragmented by the client's small write buffer, ping and pong, and
// the closing handshake.
func TestGorillaClient(t *testing.T) {
	addr := echoServer(t, &Config{})
	dialer := websocket.Dialer{Subprotocols: []string{"mqttv3.1", "mqtt"}, WriteBufferSize: 1024, HandshakeTimeout: 5 * time.Second}
	conn, resp, err := dialer.Dial("ws://"+addr+"/mqtt", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if conn.Subprotocol() != "mqtt" || resp.StatusCode != 101 {
		t.Fatalf("subprotocol %q status %d", conn.Subprotocol(), resp.StatusCode)
	}
	var pongs []string // the handler runs inside ReadMessage, on this goroutine
	conn.SetPongHandler(func(s string) error { pongs = append(pongs, s); return nil })
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))

	rng := rand.New(rand.NewPCG(3, 4))
	for _, size := range []int{0, 1, 125, 126, 65535, 65536, 300000, 1 << 20} {
		msg := make([]byte, size)
		for i := range msg {
			msg[i] = byte(rng.Uint32())
		}
		if err := conn.WriteMessage(websocket.BinaryMessage, msg); err != nil {
			t.Fatal(err)
		}
		if err := conn.WriteControl(websocket.PingMessage, []byte("ping"), time.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		var got []byte
		for len(got) < size {
			typ, p, err := conn.ReadMessage()
			if err != nil {
				t.Fatalf("size %d: %v after %d bytes", size, err, len(got))
			}
			if typ != websocket.BinaryMessage {
				t.Fatalf("message type %d", typ)
			}
			got = append(got, p...)
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("size %d: echo differs", size)
		}
	}
	// Pong frames are delivered while reading; trigger a read with one more echo.
	if err := conn.WriteMessage(websocket.BinaryMessage, []byte{0xc0, 0}); err != nil {
		t.Fatal(err)
	}
	if _, p, err := conn.ReadMessage(); err != nil || !bytes.Equal(p, []byte{0xc0, 0}) {
		t.Fatalf("last echo %q %v", p, err)
	}
	if len(pongs) != 8 {
		t.Fatalf("%d pongs, want one per ping (8)", len(pongs))
	}
	for _, s := range pongs {
		if s != "ping" {
			t.Fatalf("pong payload %q", s)
		}
	}

	if err := conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(4001, "bye")); err != nil {
		t.Fatal(err)
	}
	for {
		_, _, err := conn.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			if ce.Code != 4001 {
				t.Fatalf("close echo code %d, want 4001", ce.Code)
			}
			break
		}
		if err != nil {
			t.Fatalf("waiting for close echo: %v", err)
		}
	}
}

// TestGorillaClientRejected checks that a real client sees the refusal status.
func TestGorillaClientRejected(t *testing.T) {
	addr := echoServer(t, &Config{AllowedOrigins: []string{"https://app.example"}})
	tests := []struct {
		path    string
		subs    []string
		origin  string
		wantErr int
	}{
		{"/nope", []string{"mqtt"}, "", 404},
		{"/mqtt", []string{"chat"}, "", 400},
		{"/mqtt", []string{"mqtt"}, "https://evil.example", 403},
	}
	for _, tt := range tests {
		d := websocket.Dialer{Subprotocols: tt.subs, HandshakeTimeout: 5 * time.Second}
		h := map[string][]string{}
		if tt.origin != "" {
			h["Origin"] = []string{tt.origin}
		}
		c, resp, err := d.Dial("ws://"+addr+tt.path, h)
		if err == nil {
			c.Close()
			t.Errorf("%s %v %s: connected", tt.path, tt.subs, tt.origin)
			continue
		}
		if resp == nil || resp.StatusCode != tt.wantErr {
			t.Errorf("%s %v %s: response %v, want %d", tt.path, tt.subs, tt.origin, resp, tt.wantErr)
		}
	}
}

// TestTextFrameCloses1003 checks that a real client's text message is answered with close 1003 [MQTT-6.0.0-1].
func TestTextFrameCloses1003(t *testing.T) {
	addr := echoServer(t, &Config{})
	conn, _, err := (&websocket.Dialer{Subprotocols: []string{"mqtt"}}).Dial("ws://"+addr+"/mqtt", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if err := conn.WriteMessage(websocket.TextMessage, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	_, _, err = conn.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 1003 {
		t.Fatalf("got %v, want close 1003", err)
	}
}
