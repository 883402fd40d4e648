package server

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	gobwas "github.com/gobwas/ws"

	"loopmq/codec"
	"loopmq/codec/codectest"
	"loopmq/server/ws/wstest"
)

// FuzzWSClientInput sends arbitrary bytes on a real WebSocket connection (after a valid upgrade request, and
// after a CONNECT frame when mode is odd), in writes of 1 to 64 bytes, to a broker started once per fuzz process.
// The broker must answer or close within fuzzDeadline: when the input is a run of whole client frames, a PING
// with a payload of its own is appended and must get its PONG (and, when the frames carry whole MQTT packets after
// the CONNECT, a PINGREQ frame its PINGRESP), unless the broker closes; when the input ends inside a frame, the
// client half-closes and the broker must close. Everything the broker writes must be a 101 response followed by
// valid server frames: unmasked, final, binary, pong or close, and nothing after a close frame. A fresh MQTT probe
// client must work afterwards.
func FuzzWSClientInput(f *testing.F) {
	f.Add(byte(1), wstest.Encode(wstest.Binary([]byte{0x82, 6, 0, 1, 0, 1, '#', 0, 0x30, 5, 0, 1, 't', 'h', 'i'})))
	f.Add(byte(3), wstest.Encode(wstest.Control(gobwas.OpPing, []byte("p")), wstest.Binary([]byte{0xc0, 0})))
	f.Add(byte(0), wstest.Encode(wstest.Frame{Op: gobwas.OpBinary, Payload: connect311("a", true)[:5]},
		wstest.Control(gobwas.OpPing, nil), wstest.Frame{Fin: true, Op: gobwas.OpContinuation, Payload: connect311("a", true)[5:]}))
	f.Add(byte(5), wstest.Encode(wstest.Close(gobwas.StatusNormalClosure, "x")))
	f.Add(byte(7), wstest.Encode(wstest.Frame{Fin: true, Op: gobwas.OpText, Payload: []byte("x")}))
	f.Add(byte(9), []byte{0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	f.Add(byte(1), wstest.Encode(wstest.Frame{Op: gobwas.OpBinary, Payload: []byte{0xc0}}))
	f.Add(byte(11), wstest.Encode(wstest.Frame{Fin: true, Op: gobwas.OpBinary, Unmasked: true, Payload: []byte{0xc0, 0}}))
	// The codec fixtures of the connection's version, one per binary frame, and split across two frames.
	for _, fx := range codectest.All() {
		if fx.Version != codec.V311 || fx.Raw[0]>>4 == byte(codec.TypeConnect) {
			continue
		}
		f.Add(byte(1), wstest.Encode(wstest.Binary(fx.Raw)))
		half := len(fx.Raw) / 2
		f.Add(byte(3), wstest.Encode(wstest.Frame{Op: gobwas.OpBinary, Payload: fx.Raw[:half]},
			wstest.Frame{Fin: true, Op: gobwas.OpContinuation, Payload: fx.Raw[half:]}))
	}
	h := newFuzzHarness(f, func(o *Options) { o.WSAddr = freeAddr(f) })
	upgrade := wstest.UpgradeRequest("localhost", "/mqtt", []string{"mqtt"})
	f.Fuzz(func(t *testing.T, mode byte, data []byte) {
		input := append([]byte(nil), upgrade...)
		var mqtt []byte
		if mode&1 != 0 {
			input = append(input, wstest.Encode(wstest.Binary(connect311("fz", true)))...)
			mqtt = connect311("fz", true)
		}
		input = append(input, data...)
		complete, whole := clientFrames(data, mqtt)
		ping := []byte(fmt.Sprintf("fz-%d", h.seq.Add(1)))
		if complete {
			input = append(input, wstest.Encode(wstest.Control(gobwas.OpPing, ping))...)
			if whole {
				input = append(input, wstest.Encode(wstest.Binary(pingreq))...)
			}
		}
		c, err := net.DialTimeout("tcp", h.s.WSAddr(), fuzzDeadline)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(fuzzDeadline))
		step := int(mode>>1)%64 + 1
		for len(input) > 0 {
			k := min(step, len(input))
			if _, err := c.Write(input[:k]); err != nil {
				break // closed by the broker: part of the answer
			}
			input = input[k:]
		}
		if !complete && len(input) == 0 {
			c.(*net.TCPConn).CloseWrite()
		}
		out, closed := readWSAnswer(c, func(fr wstest.ServerFrame) bool {
			if fr.Op == gobwas.OpPong && bytes.Equal(fr.Payload, ping) {
				ping = nil
			}
			if fr.Op == gobwas.OpBinary && bytes.Contains(fr.Payload, pingres) {
				whole = false
			}
			return complete && ping == nil && !whole
		})
		checkServerFrames(t, out)
		switch {
		case closed:
		case !complete:
			t.Fatalf("input % x ends inside a frame and was half-closed, but the broker did not close within %v", data, fuzzDeadline)
		case ping != nil:
			t.Fatalf("input % x: PING unanswered and the connection still open after %v", data, fuzzDeadline)
		case whole:
			t.Fatalf("input % x: PINGREQ unanswered and the connection still open after %v", data, fuzzDeadline)
		}
		h.probe(t)
	})
}

// clientFrames reports whether b is a run of whole WebSocket frames (by their headers alone), and whether they
// are all final, masked, RSV-free binary frames whose payloads, after the MQTT bytes in prefix, are whole MQTT
// packets with no framing error.
func clientFrames(b, prefix []byte) (complete, wholeMQTT bool) {
	mqtt := append([]byte(nil), prefix...)
	wholeMQTT = len(prefix) > 0
	for len(b) > 0 {
		if len(b) < 2 {
			return false, false
		}
		n, hl := uint64(b[1]&0x7f), 2
		switch n {
		case 126:
			if len(b) < 4 {
				return false, false
			}
			n, hl = uint64(binary.BigEndian.Uint16(b[2:])), 4
		case 127:
			if len(b) < 10 {
				return false, false
			}
			n, hl = binary.BigEndian.Uint64(b[2:]), 10
		}
		masked := b[1]&0x80 != 0
		if masked {
			hl += 4
		}
		if uint64(len(b)) < uint64(hl) || uint64(len(b)-hl) < n {
			return false, false
		}
		payload := append([]byte(nil), b[hl:hl+int(n)]...)
		if masked {
			for i := range payload {
				payload[i] ^= b[hl-4+i%4]
			}
		}
		if b[0] != 0x82 || !masked {
			wholeMQTT = false
		}
		mqtt = append(mqtt, payload...)
		b = b[hl+int(n):]
	}
	if wholeMQTT {
		_, framing, partial := inputShape(mqtt, fuzzMaxPacket)
		wholeMQTT = framing == nil && !partial
	}
	return true, wholeMQTT
}

// readWSAnswer reads the 101 response and whole server frames until done returns true for a frame, the connection
// closes or its deadline passes. It returns the bytes read (up to the last whole frame when it stops early).
func readWSAnswer(c net.Conn, done func(wstest.ServerFrame) bool) (out []byte, closed bool) {
	var tmp [4096]byte
	used := -1 // end of the response head, then of the last whole frame
	for {
		if used < 0 {
			if i := bytes.Index(out, []byte("\r\n\r\n")); i >= 0 {
				used = i + 4
			}
		}
		for used >= 0 && used < len(out) {
			r := bytes.NewReader(out[used:])
			fr, err := wstest.ReadServerFrame(r, len(out))
			if err != nil {
				break // incomplete (or malformed: checkServerFrames says which)
			}
			used = len(out) - r.Len()
			if done(fr) {
				return out[:used], false
			}
		}
		n, err := c.Read(tmp[:])
		out = append(out, tmp[:n]...)
		if err != nil && n == 0 {
			var ne net.Error
			return out, !(errors.As(err, &ne) && ne.Timeout())
		}
	}
}

// checkServerFrames fails unless out is a 101 response followed by valid server frames, nothing after a close.
func checkServerFrames(t *testing.T, out []byte) {
	t.Helper()
	end := bytes.Index(out, []byte("\r\n\r\n"))
	if end < 0 || !bytes.HasPrefix(out, []byte("HTTP/1.1 101 ")) {
		t.Fatalf("no 101 response: %q", out)
	}
	r := bytes.NewReader(out[end+4:])
	for r.Len() > 0 {
		f, err := wstest.ReadServerFrame(r, len(out))
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				t.Fatalf("truncated server frame: %v", err)
			}
			t.Fatalf("server frame: %v", err)
		}
		if !f.Fin || f.RSV != 0 {
			t.Fatalf("server frame fin=%v rsv=%#x", f.Fin, f.RSV)
		}
		switch f.Op {
		case gobwas.OpBinary, gobwas.OpPong:
		case gobwas.OpClose:
			if r.Len() > 0 {
				t.Fatalf("%d bytes after the close frame", r.Len())
			}
		default:
			t.Fatalf("server sent opcode %v", f.Op)
		}
	}
}
