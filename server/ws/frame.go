package ws

import (
	"encoding/binary"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// MaxFrameHeaderLen is the size of the largest header of an unmasked server frame: two fixed bytes and a 64-bit
// extended payload length.
const MaxFrameHeaderLen = 10

// MaxControlPayload is the largest payload a control frame (close, ping, pong) may carry [RFC 6455 §5.5].
const MaxControlPayload = 125

// maxCloseReason is the longest close reason that fits in a close frame beside its two-byte status code.
const maxCloseReason = MaxControlPayload - 2

// PutFrameHeader writes the header of a final (FIN set), unmasked server frame with the given opcode and payload
// length into h and returns the header's length: 2, 4 or 10 bytes, always the minimal encoding [RFC 6455 §5.2].
// The broker writes one binary frame per flush as Writev([h[:k], data...]) with a header array it owns, so nothing
// is allocated. A negative length is treated as zero.
func PutFrameHeader(h *[MaxFrameHeaderLen]byte, op ws.OpCode, length int) int {
	h[0] = 0x80 | byte(op&0x0f)
	switch {
	case length < 126:
		if length < 0 {
			length = 0
		}
		h[1] = byte(length)
		return 2
	case length <= 0xffff:
		h[1] = 126
		binary.BigEndian.PutUint16(h[2:4], uint16(length))
		return 4
	default:
		h[1] = 127
		binary.BigEndian.PutUint64(h[2:10], uint64(length))
		return 10
	}
}

// AppendFrameHeader appends the header of a final, unmasked server frame with the given opcode and payload length
// to dst, as PutFrameHeader writes it, and returns the extended slice.
func AppendFrameHeader(dst []byte, op ws.OpCode, length int) []byte {
	var h [MaxFrameHeaderLen]byte
	k := PutFrameHeader(&h, op, length)
	return append(dst, h[:k]...)
}

// AppendPong appends a complete pong frame answering a ping with the given payload to dst [RFC 6455 §5.5.3]. A
// payload longer than MaxControlPayload (which the deframer never returns) is truncated to stay a valid control
// frame.
func AppendPong(dst, payload []byte) []byte {
	if len(payload) > MaxControlPayload {
		payload = payload[:MaxControlPayload]
	}
	dst = AppendFrameHeader(dst, ws.OpPong, len(payload))
	return append(dst, payload...)
}

// AppendClose appends a complete close frame to dst [RFC 6455 §5.5.1]. A zero code sends a close frame without a
// body, as the echo of a client's empty close must be; otherwise the body is the big-endian code followed by reason,
// cut at a UTF-8 character boundary to fit the 125-byte control payload.
func AppendClose(dst []byte, code ws.StatusCode, reason string) []byte {
	if code == 0 {
		return AppendFrameHeader(dst, ws.OpClose, 0)
	}
	if len(reason) > maxCloseReason {
		cut := maxCloseReason
		for cut > 0 && !utf8.RuneStart(reason[cut]) {
			cut--
		}
		reason = reason[:cut]
	}
	dst = AppendFrameHeader(dst, ws.OpClose, 2+len(reason))
	dst = binary.BigEndian.AppendUint16(dst, uint16(code))
	return append(dst, reason...)
}

// Control is a complete control frame received from the client. Payload is unmasked and points into the buffer
// given to Deframe; it stays valid until the caller reuses that buffer.
type Control struct {
	// Op is ws.OpPing, ws.OpPong or ws.OpClose; zero means no control frame was returned.
	Op ws.OpCode
	// Payload is the frame's application data: for a close frame the status code and reason.
	Payload []byte
}

// CloseCode returns the status code of a close frame, or zero when the frame carries no body; the echo of a close
// should carry the same code [RFC 6455 §5.5.1].
func (c Control) CloseCode() ws.StatusCode {
	if c.Op != ws.OpClose || len(c.Payload) < 2 {
		return 0
	}
	return ws.StatusCode(binary.BigEndian.Uint16(c.Payload))
}

// CloseReason returns the UTF-8 reason of a close frame, a view into Payload; empty when there is none.
func (c Control) CloseReason() []byte {
	if c.Op != ws.OpClose || len(c.Payload) < 2 {
		return nil
	}
	return c.Payload[2:]
}

// AppendReply appends the frame the server must send in answer to c: a pong with the same payload for a ping, an
// echo of the status code for a close, nothing for a pong.
func (c Control) AppendReply(dst []byte) []byte {
	switch c.Op {
	case ws.OpPing:
		return AppendPong(dst, c.Payload)
	case ws.OpClose:
		return AppendClose(dst, c.CloseCode(), "")
	}
	return dst
}

// validCloseCode reports whether a client may send code in a close frame: the codes RFC 6455 §7.4.1 and the IANA
// registry define for use on the wire, and the ranges for libraries and applications (3000-4999). 1004-1006 and
// 1015 are reserved and never sent [RFC 6455 §7.4.2].
func validCloseCode(code uint16) bool {
	switch {
	case code >= 1000 && code <= 1003:
		return true
	case code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}
