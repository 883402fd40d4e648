// Package wstest writes and reads WebSocket frames byte for byte for tests of a WebSocket server: client frames
// with any header a test needs, including the ones RFC 6455 forbids, and the server frames a test expects back.
package wstest

import (
	"encoding/binary"
	"errors"
	"io"

	"github.com/gobwas/ws"
)

// Frame is one client frame. The zero Mask is a valid masking key; set Unmasked to send the frame unmasked.
type Frame struct {
	Fin      bool
	RSV      byte // the three RSV bits in place: 0x40 (RSV1), 0x20 (RSV2), 0x10 (RSV3)
	Op       ws.OpCode
	Unmasked bool    // leave the MASK bit clear, which RFC 6455 §5.1 forbids for client frames
	Mask     [4]byte // masking key
	Payload  []byte  // payload before masking
	LenBytes int     // 0: minimal length encoding; 2 or 8: force that extended length, minimal or not
	MSBSet   bool    // with LenBytes 8: set the most significant bit of the 64-bit length
}

// Binary returns a final, masked binary frame carrying p.
func Binary(p []byte) Frame {
	return Frame{Fin: true, Op: ws.OpBinary, Mask: [4]byte{0x11, 0x22, 0x33, 0x44}, Payload: p}
}

// Control returns a final, masked control frame (ws.OpPing, ws.OpPong or ws.OpClose) carrying p.
func Control(op ws.OpCode, p []byte) Frame {
	return Frame{Fin: true, Op: op, Mask: [4]byte{0xa1, 0xb2, 0xc3, 0xd4}, Payload: p}
}

// Close returns a final, masked close frame with a status code and a reason.
func Close(code ws.StatusCode, reason string) Frame {
	return Control(ws.OpClose, append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...))
}

// Append appends f to dst as it travels on the wire.
func (f Frame) Append(dst []byte) []byte {
	b0 := byte(f.Op&0x0f) | f.RSV&0x70
	if f.Fin {
		b0 |= 0x80
	}
	var mb byte = 0x80
	if f.Unmasked {
		mb = 0
	}
	n := len(f.Payload)
	switch {
	case f.LenBytes == 8 || (f.LenBytes == 0 && n > 0xffff):
		l := uint64(n)
		if f.MSBSet {
			l |= 1 << 63
		}
		dst = binary.BigEndian.AppendUint64(append(dst, b0, mb|127), l)
	case f.LenBytes == 2 || (f.LenBytes == 0 && n > 125):
		dst = binary.BigEndian.AppendUint16(append(dst, b0, mb|126), uint16(n))
	default:
		dst = append(dst, b0, mb|byte(n))
	}
	if f.Unmasked {
		return append(dst, f.Payload...)
	}
	dst = append(dst, f.Mask[:]...)
	for i, c := range f.Payload {
		dst = append(dst, c^f.Mask[i%4])
	}
	return dst
}

// Encode returns the frames one after another as they travel on the wire.
func Encode(frames ...Frame) []byte {
	var b []byte
	for _, f := range frames {
		b = f.Append(b)
	}
	return b
}

// ServerFrame is a frame read from the server.
type ServerFrame struct {
	Fin     bool
	RSV     byte
	Op      ws.OpCode
	Payload []byte
}

// ErrMaskedServerFrame reports a masked frame from the server, which RFC 6455 §5.1 forbids.
var ErrMaskedServerFrame = errors.New("wstest: server frame is masked")

// ReadServerFrame reads one frame from the server, which must be unmasked. maxPayload bounds the payload a test
// accepts, so a broken length cannot make it allocate without bound.
func ReadServerFrame(r io.Reader, maxPayload int) (ServerFrame, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return ServerFrame{}, err
	}
	f := ServerFrame{Fin: h[0]&0x80 != 0, RSV: h[0] & 0x70, Op: ws.OpCode(h[0] & 0x0f)}
	if h[1]&0x80 != 0 {
		return f, ErrMaskedServerFrame
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var ext [2]byte
		if _, err := io.ReadFull(r, ext[:]); err != nil {
			return f, err
		}
		n = uint64(binary.BigEndian.Uint16(ext[:]))
	case 127:
		var ext [8]byte
		if _, err := io.ReadFull(r, ext[:]); err != nil {
			return f, err
		}
		n = binary.BigEndian.Uint64(ext[:])
	}
	if n > uint64(maxPayload) {
		return f, errors.New("wstest: server frame longer than the test allows")
	}
	f.Payload = make([]byte, n)
	_, err := io.ReadFull(r, f.Payload)
	return f, err
}

// CloseCode returns the status code of a close frame's payload, or 0 when it has none.
func (f ServerFrame) CloseCode() ws.StatusCode {
	if f.Op != ws.OpClose || len(f.Payload) < 2 {
		return 0
	}
	return ws.StatusCode(binary.BigEndian.Uint16(f.Payload))
}

// UpgradeRequest returns an opening handshake for path on host with the RFC 6455 example key, offering the given
// subprotocols (none: no Sec-WebSocket-Protocol header), followed by any extra header lines ("Name: value").
func UpgradeRequest(host, path string, subprotocols []string, extra ...string) []byte {
	b := []byte("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n")
	for i, p := range subprotocols {
		if i == 0 {
			b = append(b, "Sec-WebSocket-Protocol: "...)
		} else {
			b = append(b, ", "...)
		}
		b = append(b, p...)
		if i == len(subprotocols)-1 {
			b = append(b, "\r\n"...)
		}
	}
	for _, e := range extra {
		b = append(append(b, e...), "\r\n"...)
	}
	return append(b, "\r\n"...)
}

// ExampleKeyAccept is the Sec-WebSocket-Accept a server must answer to UpgradeRequest's key [RFC 6455 §1.3].
const ExampleKeyAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
