package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"
)

// startBroker starts a broker on 127.0.0.1 with a free port (no WebSocket or HTTP listener unless mutate asks)
// and shuts it down when the test ends. mutate may be nil.
func startBroker(t testing.TB, mutate func(*Options)) *Server {
	t.Helper()
	o := DefaultOptions()
	o.TCPAddr = "127.0.0.1:0"
	o.WSAddr = ""
	o.HTTPAddr = ""
	o.EventLoops = 2
	o.SysInterval = 0
	o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		o.Logger = slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if mutate != nil {
		mutate(&o)
	}
	s, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return s
}

type testLogWriter struct{ t testing.TB }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// rawConn is a test client speaking bytes: send exact packets, expect exact packets.
type rawConn struct {
	t testing.TB
	net.Conn
}

// dialRaw opens a TCP connection to s.
func dialRaw(t testing.TB, s *Server) *rawConn {
	t.Helper()
	return dialRawAddr(t, s.TCPAddr())
}

// dialRawAddr opens a TCP connection to addr.
func dialRawAddr(t testing.TB, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, Conn: c}
}

func (c *rawConn) send(b []byte) {
	c.t.Helper()
	c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// readPacket reads one whole MQTT packet (fixed header included).
func (c *rawConn) readPacket(timeout time.Duration) ([]byte, error) {
	c.SetReadDeadline(time.Now().Add(timeout))
	hdr := make([]byte, 1, 5)
	if _, err := io.ReadFull(c, hdr); err != nil {
		return nil, err
	}
	n, mul := 0, 1
	for i := 0; i < 4; i++ {
		var b [1]byte
		if _, err := io.ReadFull(c, b[:]); err != nil {
			return nil, err
		}
		hdr = append(hdr, b[0])
		n += int(b[0]&0x7f) * mul
		mul <<= 7
		if b[0] < 0x80 {
			break
		}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c, body); err != nil {
		return nil, err
	}
	return append(hdr, body...), nil
}

// expect reads one packet and fails unless it equals want.
func (c *rawConn) expect(want []byte) {
	c.t.Helper()
	got, err := c.readPacket(5 * time.Second)
	if err != nil {
		c.t.Fatalf("reading, want % x: %v", want, err)
	}
	if !bytes.Equal(got, want) {
		c.t.Fatalf("got  % x\nwant % x", got, want)
	}
}

// expectClosed fails unless the broker closes the connection (after any packets listed in want).
func (c *rawConn) expectClosed(want ...[]byte) {
	c.t.Helper()
	for _, w := range want {
		c.expect(w)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 64)
	n, err := c.Read(b)
	if err == nil {
		c.t.Fatalf("connection still open; read % x", b[:n])
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		c.t.Fatalf("connection not closed within 5s")
	}
}

// expectSilence fails if a packet arrives within d.
func (c *rawConn) expectSilence(d time.Duration) {
	c.t.Helper()
	p, err := c.readPacket(d)
	if err == nil {
		c.t.Fatalf("unexpected packet % x", p)
	}
}
