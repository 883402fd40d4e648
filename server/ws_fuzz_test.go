package server

import (
	"bytes"
	"errors"
	"io"
	"testing"

	gobwas "github.com/gobwas/ws"
	"github.com/panjf2000/gnet/v2"

	"loopmq/server/ws/wstest"
)

// FuzzWSClientInput feeds arbitrary bytes to a WebSocket connection's read path (after a valid upgrade request,
// and after a CONNECT frame when mode is odd), in reads of 1 to 64 bytes, on an in-memory broker. The broker must
// never panic, and everything it writes after the 101 response must be valid server frames: unmasked, final,
// binary, pong or close, and nothing after a close frame.
func FuzzWSClientInput(f *testing.F) {
	f.Add(byte(1), wstest.Encode(wstest.Binary([]byte{0x82, 6, 0, 1, 0, 1, '#', 0, 0x30, 5, 0, 1, 't', 'h', 'i'})))
	f.Add(byte(3), wstest.Encode(wstest.Control(gobwas.OpPing, []byte("p")), wstest.Binary([]byte{0xc0, 0})))
	f.Add(byte(0), wstest.Encode(wstest.Frame{Op: gobwas.OpBinary, Payload: connect311("a", true)[:5]},
		wstest.Control(gobwas.OpPing, nil), wstest.Frame{Fin: true, Op: gobwas.OpContinuation, Payload: connect311("a", true)[5:]}))
	f.Add(byte(5), wstest.Encode(wstest.Close(gobwas.StatusNormalClosure, "x")))
	f.Add(byte(7), wstest.Encode(wstest.Frame{Fin: true, Op: gobwas.OpText, Payload: []byte("x")}))
	f.Add(byte(9), []byte{0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	upgrade := wstest.UpgradeRequest("localhost", "/mqtt", []string{"mqtt"})
	f.Fuzz(func(t *testing.T, mode byte, data []byte) {
		bb := newBenchBroker(t, 2)
		watcher, _ := bb.client(1, "watcher", 4)
		bb.s.index.Subscribe([]byte("#"), topicSub(watcher))
		var out []byte
		fc := &wsFakeConn{fakeConn: &fakeConn{el: bb.fls[0]}, capture: &out}
		cl := &client{l: bb.loops[0], c: fc}
		cl.t.owner = cl
		fc.SetContext(cl)
		// cl.transport is transportSniff: the first bytes choose, as on a same-port listener.
		input := append([]byte(nil), upgrade...)
		if mode&1 != 0 {
			input = append(input, wstest.Encode(wstest.Binary(connect311("fz", true)))...)
		}
		input = append(input, data...)
		step := int(mode>>1)%64 + 1
		closed := false
		for len(input) > 0 && !closed {
			k := min(step, len(input))
			fc.in = append(fc.in, input[:k]...)
			input = input[k:]
			if cl.onTraffic() == gnet.Close {
				cl.onClose(nil)
				closed = true
			}
			bb.pass()
		}
		if !closed {
			cl.transportClosing(false)
			cl.onClose(nil)
		}
		bb.pass()
		checkServerFrames(t, out)
	})
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
