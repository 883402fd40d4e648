package ws

import (
	"encoding/binary"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// Deframer flags.
const (
	inFragmentedMessage = 1 << iota // a binary message started with FIN clear and has not ended
	closeReceived                   // the client's close frame was returned; nothing after it is read
)

// Deframer strips the WebSocket framing from a client's byte stream in place, so that the MQTT bytes it carries
// can go to the codec without a copy into another buffer. It keeps only what it must between reads: the rest of the
// current frame's payload, its mask and the position in it, and whether a fragmented message is open. The zero
// value is ready to use. A Deframer belongs to one connection and is not safe for concurrent use.
type Deframer struct {
	// MaxPayload bounds, in bytes, each data frame and each message (all the fragments of one binary message
	// together); a longer one fails with ErrMessageTooBig (close 1009). Zero means no limit. Set it to the broker's
	// maximum packet size, or above: payloads are streamed, so the bound is a policy, not a memory need.
	MaxPayload int

	remaining uint64         // payload bytes of the current data frame not yet received
	message   uint64         // payload bytes of the current message so far, checked against MaxPayload
	err       *ProtocolError // the first violation; every later call returns it again
	mask      [4]byte        // masking key of the current data frame
	maskPos   uint8          // position in mask of the next payload byte of the current frame
	flags     uint8
}

// Deframe processes buf, which holds the connection's unread bytes and may be modified (for example the slice from
// gnet's Conn.Peek). It unmasks the payload of data frames and slides it over the frame headers, so the application
// data ends up contiguous in buf[:n]; consumed is how many bytes of buf were processed, which the caller discards.
// Since buf[:n] lies inside those bytes, the caller parses it (or copies out the tail of a partial MQTT packet)
// before it discards them, for example with gnet's Conn.Discard.
//
// Bytes of a frame header cut short by the end of buf are not consumed: they stay for the next call, after more
// bytes arrive. Payload bytes of a data frame are consumed as they arrive, even when the frame is not complete. A
// control frame is only consumed whole (it is at most 131 bytes on the wire): when one is complete, Deframe stops
// after it and returns it in ctl, with its payload unmasked in place inside buf[n:consumed]. The caller answers it
// (see Control.AppendReply) and calls Deframe again with buf[consumed:] after handling buf[:n].
//
// Once a close frame has been returned the connection is closing: later calls consume everything and return no
// data. A non-nil err is a *ProtocolError naming the close code to send before closing the connection; buf[:n]
// then holds the data that arrived in valid frames before the violation, and later calls return the same error.
func (d *Deframer) Deframe(buf []byte) (n, consumed int, ctl Control, err error) {
	if d.err != nil {
		return 0, 0, Control{}, d.err
	}
	if d.flags&closeReceived != 0 {
		return 0, len(buf), Control{}, nil
	}
	p := 0
	for {
		if d.remaining > 0 {
			k := len(buf) - p
			if k == 0 {
				break
			}
			if uint64(k) > d.remaining {
				k = int(d.remaining)
			}
			out := buf[n : n+k]
			copy(out, buf[p:p+k])
			ws.Cipher(out, d.mask, int(d.maskPos))
			n += k
			p += k
			d.remaining -= uint64(k)
			d.maskPos = uint8((int(d.maskPos) + k) & 3)
			continue
		}

		avail := len(buf) - p
		if avail < 2 {
			break
		}
		b0, b1 := buf[p], buf[p+1]
		// The first two bytes decide most violations; refuse them before waiting for the rest of the header.
		if e := d.checkFixedHeader(b0, b1); e != nil {
			return n, p, Control{}, d.fail(e)
		}
		op := ws.OpCode(b0 & 0x0f)
		size := uint64(b1 & 0x7f)
		hl := 6
		switch size {
		case 126:
			hl = 8
		case 127:
			hl = 14
		}
		if avail < hl {
			break
		}
		switch size {
		case 126:
			size = uint64(binary.BigEndian.Uint16(buf[p+2:]))
			if size < 126 {
				return n, p, Control{}, d.fail(ErrNonMinimalLength)
			}
		case 127:
			size = binary.BigEndian.Uint64(buf[p+2:])
			if size>>63 != 0 {
				return n, p, Control{}, d.fail(ErrLengthMSB)
			}
			if size <= 0xffff {
				return n, p, Control{}, d.fail(ErrNonMinimalLength)
			}
		}
		mask := [4]byte(buf[p+hl-4 : p+hl])

		if op.IsControl() {
			end := p + hl + int(size) // size <= 125, checked above
			if len(buf) < end {
				break
			}
			payload := buf[p+hl : end]
			ws.Cipher(payload, mask, 0)
			if op == ws.OpClose {
				if e := checkCloseBody(payload); e != nil {
					return n, p, Control{}, d.fail(e)
				}
				d.flags |= closeReceived
			}
			return n, end, Control{Op: op, Payload: payload}, nil
		}

		if op == ws.OpBinary {
			d.message = 0
		}
		if d.MaxPayload > 0 {
			limit := uint64(d.MaxPayload)
			if size > limit || d.message+size > limit {
				return n, p, Control{}, d.fail(ErrMessageTooBig)
			}
		}
		d.message += size
		if b0&0x80 != 0 {
			d.flags &^= inFragmentedMessage
		} else {
			d.flags |= inFragmentedMessage
		}
		d.remaining = size
		d.mask = mask
		d.maskPos = 0
		p += hl
	}
	return n, p, Control{}, nil
}

// checkFixedHeader applies the rules that the first two bytes of a client frame must follow.
func (d *Deframer) checkFixedHeader(b0, b1 byte) *ProtocolError {
	if b0&0x70 != 0 {
		return ErrReservedBits
	}
	if b1&0x80 == 0 {
		return ErrUnmaskedFrame
	}
	fragmented := d.flags&inFragmentedMessage != 0
	switch ws.OpCode(b0 & 0x0f) {
	case ws.OpContinuation:
		if !fragmented {
			return ErrUnexpectedContinuation
		}
	case ws.OpBinary:
		if fragmented {
			return ErrInterleavedMessage
		}
	case ws.OpText:
		if fragmented {
			return ErrInterleavedMessage
		}
		return ErrTextFrame
	case ws.OpClose, ws.OpPing, ws.OpPong:
		if b0&0x80 == 0 {
			return ErrControlFragmented
		}
		if b1&0x7f > MaxControlPayload {
			return ErrControlTooLong
		}
	default:
		return ErrReservedOpcode
	}
	return nil
}

// checkCloseBody validates the unmasked body of a client's close frame [RFC 6455 §5.5.1, §7.4].
func checkCloseBody(body []byte) *ProtocolError {
	switch {
	case len(body) == 0:
		return nil
	case len(body) == 1:
		return ErrCloseBodyTooShort
	case !validCloseCode(binary.BigEndian.Uint16(body)):
		return ErrInvalidCloseCode
	case !utf8.Valid(body[2:]):
		return ErrCloseReasonUTF8
	}
	return nil
}

func (d *Deframer) fail(e *ProtocolError) *ProtocolError {
	d.err = e
	return e
}
