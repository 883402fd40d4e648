package bench

import (
	"bytes"
	"io"
	"net"
	"testing"

	"github.com/gobwas/ws"
)

// TestWSWriterMasksEachFlush checks the client frames against RFC 6455 as a server reads them: one
// binary frame per flush, FIN set, masked [RFC 6455 §5.3], with the payload intact after unmasking,
// for each length encoding (7-bit, 16-bit, 64-bit).
func TestWSWriterMasksEachFlush(t *testing.T) {
	for _, n := range []int{1, 125, 126, 65535, 65536, 70000} {
		cli, srv := net.Pipe()
		w := newWSWriter(cli, 1024)
		want := bytes.Repeat([]byte{0x30, 0x01, 'x'}, n/3+1)[:n]
		go func() {
			w.Write(want)
			w.Flush()
			w.Flush() // nothing buffered: no empty frame
			cli.Close()
		}()
		f, err := ws.ReadFrame(srv)
		if err != nil {
			t.Fatalf("%d: %v", n, err)
		}
		if !f.Header.Fin || f.Header.OpCode != ws.OpBinary || !f.Header.Masked || f.Header.Length != int64(n) {
			t.Errorf("%d: header %+v", n, f.Header)
		}
		ws.Cipher(f.Payload, f.Header.Mask, 0)
		if !bytes.Equal(f.Payload, want) {
			t.Errorf("%d: payload differs after unmasking", n)
		}
		if _, err := ws.ReadFrame(srv); err != io.EOF {
			t.Errorf("%d: extra frame or error %v", n, err)
		}
		srv.Close()
	}
}

// TestWSReaderStream reads MQTT bytes split over frames, with a Ping in between, and stops at Close.
func TestWSReaderStream(t *testing.T) {
	var in bytes.Buffer
	ws.WriteFrame(&in, ws.NewFrame(ws.OpBinary, false, []byte{0x20, 0x02}))
	ws.WriteFrame(&in, ws.NewPingFrame([]byte("hi")))
	ws.WriteFrame(&in, ws.NewFrame(ws.OpContinuation, true, []byte{0x00, 0x00}))
	ws.WriteFrame(&in, ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, "")))
	r := &wsReader{src: &in}
	got, err := io.ReadAll(r)
	if err != errWSClosed || !bytes.Equal(got, []byte{0x20, 0x02, 0x00, 0x00}) {
		t.Errorf("got % x, %v", got, err)
	}
	if !r.pending || string(r.ping) != "hi" {
		t.Errorf("ping not queued for a pong: %v %q", r.pending, r.ping)
	}

	in.Reset()
	ws.WriteFrame(&in, ws.NewTextFrame([]byte("{}")))
	if _, err := io.ReadAll(&wsReader{src: &in}); err == nil {
		t.Error("a text frame was accepted as MQTT")
	}
	in.Reset()
	f := ws.NewFrame(ws.OpBinary, true, []byte{1})
	f = ws.MaskFrame(f)
	ws.WriteFrame(&in, f)
	if _, err := io.ReadAll(&wsReader{src: &in}); err == nil {
		t.Error("a masked server frame was accepted [RFC 6455 §5.1]")
	}
}
