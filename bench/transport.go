package bench

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"

	"github.com/gobwas/ws"
)

// wireWriter is the buffered writer a client encodes packets into: a bufio.Writer on TCP, a framing
// writer on WebSocket (one binary frame per Flush).
type wireWriter interface {
	Write(p []byte) (int, error)
	Flush() error
	Buffered() int
	AvailableBuffer() []byte
}

// transport is an established byte stream to a broker.
type transport struct {
	conn net.Conn
	r    io.Reader // MQTT bytes: the socket, or the WebSocket deframer
	w    wireWriter
	ws   *wsReader // nil on TCP
}

// dial opens a connection to t from source address src (nil: any), upgrading to WebSocket for ws://
// targets with the "mqtt" subprotocol (MQTT 5.0 §6).
func dial(ctx context.Context, t Target, src net.IP, wbuf int) (*transport, error) {
	d := net.Dialer{}
	if src != nil {
		d.LocalAddr = &net.TCPAddr{IP: src}
	}
	if t.Scheme == "tcp" {
		c, err := d.DialContext(ctx, "tcp", t.Host)
		if err != nil {
			return nil, err
		}
		setNoDelay(c)
		return &transport{conn: c, r: c, w: bufio.NewWriterSize(c, wbuf)}, nil
	}
	wd := ws.Dialer{
		Protocols: []string{"mqtt"},
		NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
	}
	c, br, hs, err := wd.Dial(ctx, "ws://"+t.Host+t.Path)
	if err != nil {
		if c != nil {
			c.Close()
		}
		return nil, fmt.Errorf("websocket upgrade: %w", err)
	}
	if hs.Protocol != "mqtt" {
		c.Close()
		return nil, fmt.Errorf("websocket upgrade: server chose subprotocol %q, want \"mqtt\"", hs.Protocol)
	}
	setNoDelay(c)
	var in io.Reader = c
	if br != nil {
		in = br // frames that arrived with the handshake response
	}
	w := newWSWriter(c, wbuf)
	wr := &wsReader{src: in, w: w}
	return &transport{conn: c, r: wr, w: w, ws: wr}, nil
}

func setNoDelay(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
}

// wsMaxHeader is the largest client frame header: 2 + 8 bytes of length + 4 bytes of mask.
const wsMaxHeader = 14

// wsWriter buffers MQTT bytes and sends each Flush as one masked binary frame (RFC 6455 §5.2, §5.3).
// The frame header is written into space reserved in front of the payload, so a flush is one write.
type wsWriter struct {
	c   net.Conn
	buf []byte // buf[:wsMaxHeader] is reserved for the header; payload follows
}

func newWSWriter(c net.Conn, size int) *wsWriter {
	return &wsWriter{c: c, buf: make([]byte, wsMaxHeader, wsMaxHeader+size)}
}

func (w *wsWriter) Buffered() int { return len(w.buf) - wsMaxHeader }

// AvailableBuffer returns an empty slice whose capacity is the free buffer space, to be appended to
// and passed to Write at once.
func (w *wsWriter) AvailableBuffer() []byte { return w.buf[len(w.buf):len(w.buf)] }

func (w *wsWriter) Write(p []byte) (int, error) {
	if len(w.buf)+len(p) > cap(w.buf) && w.Buffered() > 0 {
		if err := w.Flush(); err != nil {
			return 0, err
		}
	}
	w.buf = append(w.buf, p...) // grows only for a packet larger than the buffer
	return len(p), nil
}

// Flush sends the buffered bytes as one binary frame with FIN set.
func (w *wsWriter) Flush() error {
	n := w.Buffered()
	if n == 0 {
		return nil
	}
	payload := w.buf[wsMaxHeader:]
	var hdr [wsMaxHeader]byte
	hdr[0] = 0x80 | byte(ws.OpBinary)
	h := 2
	switch {
	case n < 126:
		hdr[1] = 0x80 | byte(n)
	case n <= 0xffff:
		hdr[1] = 0x80 | 126
		binary.BigEndian.PutUint16(hdr[2:], uint16(n))
		h = 4
	default:
		hdr[1] = 0x80 | 127
		binary.BigEndian.PutUint64(hdr[2:], uint64(n))
		h = 10
	}
	var mask [4]byte
	binary.LittleEndian.PutUint32(mask[:], rand.Uint32()) // fresh key per frame [RFC 6455 §5.3]
	copy(hdr[h:], mask[:])
	h += 4
	ws.Cipher(payload, mask, 0)
	start := wsMaxHeader - h
	copy(w.buf[start:], hdr[:h])
	_, err := w.c.Write(w.buf[start:])
	w.buf = w.buf[:wsMaxHeader]
	return err
}

// writeControl sends a control frame immediately (the caller holds the client's write lock and has
// flushed pending data first).
func (w *wsWriter) writeControl(op ws.OpCode, payload []byte) error {
	mask := ws.NewMask()
	p := append([]byte(nil), payload...)
	ws.Cipher(p, mask, 0)
	h := ws.Header{Fin: true, OpCode: op, Masked: true, Mask: mask, Length: int64(len(p))}
	b := make([]byte, 0, wsMaxHeader+len(p))
	bw := sliceWriter{&b}
	if err := ws.WriteHeader(bw, h); err != nil {
		return err
	}
	b = append(b, p...)
	_, err := w.c.Write(b)
	return err
}

type sliceWriter struct{ b *[]byte }

func (s sliceWriter) Write(p []byte) (int, error) { *s.b = append(*s.b, p...); return len(p), nil }

// errWSClosed is returned by a wsReader after the server's Close frame.
var errWSClosed = errors.New("websocket closed by server")

// wsReader yields the payload bytes of the server's binary frames as one stream. Control frames are
// handled between reads: a Ping is queued for a Pong (answered by the client under its write lock),
// a Close ends the stream.
type wsReader struct {
	src     io.Reader
	w       *wsWriter
	remain  int64
	ping    []byte // payload of an unanswered Ping
	pending bool
}

func (r *wsReader) Read(p []byte) (int, error) {
	for r.remain == 0 {
		h, err := ws.ReadHeader(r.src)
		if err != nil {
			return 0, err
		}
		if h.Masked {
			return 0, errors.New("websocket: server frame is masked [RFC 6455 §5.1]")
		}
		switch {
		case h.OpCode.IsControl():
			if h.Length > 125 || !h.Fin {
				return 0, errors.New("websocket: bad control frame [RFC 6455 §5.5]")
			}
			body := make([]byte, h.Length)
			if _, err := io.ReadFull(r.src, body); err != nil {
				return 0, err
			}
			switch h.OpCode {
			case ws.OpClose:
				return 0, errWSClosed
			case ws.OpPing:
				r.ping, r.pending = body, true
			}
		case h.OpCode == ws.OpBinary || h.OpCode == ws.OpContinuation:
			r.remain = h.Length
		default:
			return 0, fmt.Errorf("websocket: unexpected %v frame for MQTT (binary only)", h.OpCode)
		}
	}
	if int64(len(p)) > r.remain {
		p = p[:r.remain]
	}
	n, err := r.src.Read(p)
	r.remain -= int64(n)
	return n, err
}

const wsOpPong = ws.OpPong
