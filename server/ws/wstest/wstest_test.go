package wstest

import (
	"bufio"
	"bytes"
	"net/http"
	"testing"

	"github.com/gobwas/ws"
)

// TestFrameRoundTrip checks the encoder against gobwas/ws's reader for valid frames of each length encoding.
func TestFrameRoundTrip(t *testing.T) {
	for _, n := range []int{0, 5, 125, 126, 65535, 65536} {
		p := bytes.Repeat([]byte{7}, n)
		r := bytes.NewReader(Binary(p).Append(nil))
		h, err := ws.ReadHeader(r)
		if err != nil || !h.Fin || h.OpCode != ws.OpBinary || !h.Masked || h.Length != int64(n) {
			t.Fatalf("len %d: header %+v, %v", n, h, err)
		}
		got := make([]byte, n)
		_, _ = r.Read(got)
		ws.Cipher(got, h.Mask, 0)
		if !bytes.Equal(got, p) {
			t.Fatalf("len %d: payload differs", n)
		}
	}
}

func TestForbiddenEncodings(t *testing.T) {
	tests := []struct {
		name string
		f    Frame
		want []byte
	}{
		{"unmasked", Frame{Fin: true, Op: ws.OpBinary, Unmasked: true, Payload: []byte("a")}, []byte{0x82, 0x01, 'a'}},
		{"RSV1", Frame{Fin: true, RSV: 0x40, Op: ws.OpBinary, Unmasked: true}, []byte{0xc2, 0x00}},
		{"non-minimal 16-bit", Frame{Op: ws.OpBinary, Unmasked: true, LenBytes: 2}, []byte{0x02, 126, 0, 0}},
		{"64-bit with MSB", Frame{Op: ws.OpBinary, Unmasked: true, LenBytes: 8, MSBSet: true}, []byte{0x02, 127, 0x80, 0, 0, 0, 0, 0, 0, 0}},
	}
	for _, tt := range tests {
		if got := tt.f.Append(nil); !bytes.Equal(got, tt.want) {
			t.Errorf("%s: % x, want % x", tt.name, got, tt.want)
		}
	}
}

func TestReadServerFrame(t *testing.T) {
	wire := []byte{0x88, 0x02, 0x03, 0xea, 0x82, 126, 0x01, 0x00}
	wire = append(wire, bytes.Repeat([]byte{1}, 256)...)
	r := bytes.NewReader(wire)
	f, err := ReadServerFrame(r, 1024)
	if err != nil || f.Op != ws.OpClose || f.CloseCode() != 1002 {
		t.Fatalf("close frame %+v %v", f, err)
	}
	f, err = ReadServerFrame(r, 1024)
	if err != nil || f.Op != ws.OpBinary || len(f.Payload) != 256 || !f.Fin {
		t.Fatalf("binary frame %+v %v", f, err)
	}
	if _, err := ReadServerFrame(bytes.NewReader([]byte{0x82, 0x81, 0, 0, 0, 0, 0}), 10); err != ErrMaskedServerFrame {
		t.Fatalf("masked server frame: %v", err)
	}
	if _, err := ReadServerFrame(bytes.NewReader([]byte{0x82, 127, 0x7f, 0, 0, 0, 0, 0, 0, 0}), 10); err == nil {
		t.Fatal("huge length accepted")
	}
}

func TestUpgradeRequest(t *testing.T) {
	raw := UpgradeRequest("localhost:8083", "/mqtt", []string{"mqttv3.1", "mqtt"}, "Origin: http://localhost")
	r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	if r.Host != "localhost:8083" || r.URL.Path != "/mqtt" || r.Header.Get("Sec-WebSocket-Protocol") != "mqttv3.1, mqtt" ||
		r.Header.Get("Origin") != "http://localhost" || r.Header.Get("Sec-WebSocket-Version") != "13" {
		t.Fatalf("request %+v", r)
	}
	if bytes.Contains(UpgradeRequest("h", "/", nil), []byte("Sec-WebSocket-Protocol")) {
		t.Fatal("protocol header without subprotocols")
	}
}
