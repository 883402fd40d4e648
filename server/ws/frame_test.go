package ws

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/gobwas/ws"
)

// TestPutFrameHeader checks the server frame header against RFC 6455 §5.2 at each length-encoding boundary, and
// that gobwas/ws reads it back as the same frame.
func TestPutFrameHeader(t *testing.T) {
	tests := []struct {
		length int
		want   []byte
	}{
		{0, []byte{0x82, 0}},
		{1, []byte{0x82, 1}},
		{125, []byte{0x82, 125}},
		{126, []byte{0x82, 126, 0, 126}},
		{65535, []byte{0x82, 126, 0xff, 0xff}},
		{65536, []byte{0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
		{1 << 20, []byte{0x82, 127, 0, 0, 0, 0, 0, 0x10, 0, 0}},
		{-1, []byte{0x82, 0}},
	}
	for _, tt := range tests {
		var h [MaxFrameHeaderLen]byte
		k := PutFrameHeader(&h, ws.OpBinary, tt.length)
		if !bytes.Equal(h[:k], tt.want) {
			t.Errorf("length %d: header % x, want % x", tt.length, h[:k], tt.want)
		}
		if got := AppendFrameHeader([]byte("x"), ws.OpBinary, tt.length); !bytes.Equal(got[1:], tt.want) {
			t.Errorf("length %d: AppendFrameHeader % x, want % x", tt.length, got[1:], tt.want)
		}
		if tt.length < 0 {
			continue
		}
		hdr, err := ws.ReadHeader(bytes.NewReader(h[:k]))
		if err != nil || !hdr.Fin || hdr.OpCode != ws.OpBinary || hdr.Masked || hdr.Length != int64(tt.length) {
			t.Errorf("length %d: gobwas reads %+v, %v", tt.length, hdr, err)
		}
	}
}

// TestControlReplies checks the frames sent back for pings and closes.
func TestControlReplies(t *testing.T) {
	longReason := strings.Repeat("é", 70) // 140 bytes of two-byte characters
	tests := []struct {
		name string
		got  []byte
		want []byte
	}{
		{
			name: "pong echoes the ping payload",
			got:  Control{Op: ws.OpPing, Payload: []byte("abc")}.AppendReply(nil),
			want: []byte{0x8a, 3, 'a', 'b', 'c'},
		},
		{
			name: "close echoes the status code",
			got:  Control{Op: ws.OpClose, Payload: []byte("\x03\xe9going")}.AppendReply(nil),
			want: []byte{0x88, 2, 0x03, 0xe9},
		},
		{
			name: "empty close is echoed empty",
			got:  Control{Op: ws.OpClose}.AppendReply(nil),
			want: []byte{0x88, 0},
		},
		{
			name: "pong needs no reply",
			got:  Control{Op: ws.OpPong, Payload: []byte("x")}.AppendReply(nil),
			want: nil,
		},
		{
			name: "close with protocol error and reason",
			got:  AppendClose(nil, ws.StatusProtocolError, "bad"),
			want: []byte{0x88, 5, 0x03, 0xea, 'b', 'a', 'd'},
		},
		{
			name: "long reason is cut at a character boundary",
			got:  AppendClose(nil, 1000, longReason),
			want: append([]byte{0x88, 124, 0x03, 0xe8}, longReason[:122]...),
		},
	}
	for _, tt := range tests {
		if !bytes.Equal(tt.got, tt.want) {
			t.Errorf("%s: % x, want % x", tt.name, tt.got, tt.want)
		}
	}
	c := Control{Op: ws.OpClose, Payload: []byte("\x0f\xa0why")}
	if c.CloseCode() != 4000 || string(c.CloseReason()) != "why" {
		t.Errorf("close code %d reason %q, want 4000 why", c.CloseCode(), c.CloseReason())
	}
	if got := binary.BigEndian.Uint16(AppendClose(nil, 1009, "")[2:]); got != 1009 {
		t.Errorf("close code on the wire %d, want 1009", got)
	}
}
