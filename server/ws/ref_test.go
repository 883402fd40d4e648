package ws

import (
	"encoding/binary"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// This file holds the test's own model of RFC 6455 client framing: an encoder that can also break the rules, a
// parser written straight from the RFC that reads a whole input at once, and a harness that feeds a Deframer the
// way the broker does (append what arrived, deframe, keep what was not consumed).

// frame is one client frame for the reference encoder.
type frame struct {
	fin      bool
	rsv      byte // the three RSV bits, as bits 6..4 of the first byte
	op       ws.OpCode
	unmasked bool    // leave the MASK bit clear
	mask     [4]byte // masking key
	payload  []byte  // unmasked payload
	lenBytes int     // 0: minimal length encoding; 2 or 8: force that extended length (maybe non-minimal)
	msbSet   bool    // with lenBytes 8: set the most significant bit of the 64-bit length
}

// encode appends f to dst as it travels on the wire.
func (f frame) encode(dst []byte) []byte {
	b0 := byte(f.op&0x0f) | f.rsv&0x70
	if f.fin {
		b0 |= 0x80
	}
	var mb byte = 0x80
	if f.unmasked {
		mb = 0
	}
	n := len(f.payload)
	switch {
	case f.lenBytes == 8 || (f.lenBytes == 0 && n > 0xffff):
		dst = append(dst, b0, mb|127)
		l := uint64(n)
		if f.msbSet {
			l |= 1 << 63
		}
		dst = binary.BigEndian.AppendUint64(dst, l)
	case f.lenBytes == 2 || (f.lenBytes == 0 && n > 125):
		dst = append(dst, b0, mb|126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, b0, mb|byte(n))
	}
	if f.unmasked {
		return append(dst, f.payload...)
	}
	dst = append(dst, f.mask[:]...)
	for i, c := range f.payload {
		dst = append(dst, c^f.mask[i%4])
	}
	return dst
}

func binaryFrame(p []byte) frame {
	return frame{fin: true, op: ws.OpBinary, mask: [4]byte{0x11, 0x22, 0x33, 0x44}, payload: p}
}

func controlFrame(op ws.OpCode, p []byte) frame {
	return frame{fin: true, op: op, mask: [4]byte{0xa1, 0xb2, 0xc3, 0xd4}, payload: p}
}

func encodeAll(frames ...frame) []byte {
	var b []byte
	for _, f := range frames {
		b = f.encode(b)
	}
	return b
}

// event is a control frame as the user of a Deframer sees it.
type event struct {
	op      ws.OpCode
	payload string
	at      int // length of the data stream when the control frame arrived
}

// outcome is everything a Deframer reports for one input.
type outcome struct {
	data   []byte
	events []event
	code   ws.StatusCode // close code of the error, 0 when none
}

// refParse models a Deframer over the whole input at once, straight from RFC 6455 §5: frames are read whole where
// possible; at the end of input a data frame yields the payload that arrived and a header or control frame that is
// cut short yields nothing. maxPayload bounds frames and messages as Deframer.MaxPayload does.
func refParse(in []byte, maxPayload int) (out outcome) {
	fragmented := false
	var message uint64
	for len(in) >= 2 {
		fin := in[0]&0x80 != 0
		rsv := in[0] & 0x70
		op := ws.OpCode(in[0] & 0x0f)
		masked := in[1]&0x80 != 0
		l7 := int(in[1] & 0x7f)
		isControl := op == ws.OpClose || op == ws.OpPing || op == ws.OpPong

		// Rules visible in the first two bytes.
		switch {
		case rsv != 0, !masked:
			out.code = 1002
		case op == ws.OpText && !fragmented:
			out.code = 1003
		case op == ws.OpText, op == ws.OpBinary && fragmented, op == ws.OpContinuation && !fragmented:
			out.code = 1002
		case isControl && (!fin || l7 > 125):
			out.code = 1002
		case !isControl && op != ws.OpBinary && op != ws.OpContinuation:
			out.code = 1002
		}
		if out.code != 0 {
			return out
		}

		ext := map[int]int{126: 2, 127: 8}[l7]
		if len(in) < 2+ext+4 {
			return out
		}
		length := uint64(l7)
		switch ext {
		case 2:
			length = uint64(in[2])<<8 | uint64(in[3])
			if length < 126 {
				out.code = 1002
			}
		case 8:
			length = binary.BigEndian.Uint64(in[2:10])
			if length >= 1<<63 || length < 1<<16 {
				out.code = 1002
			}
		}
		if out.code != 0 {
			return out
		}
		mask := in[2+ext : 2+ext+4]
		body := in[2+ext+4:]

		if isControl {
			if uint64(len(body)) < length {
				return out
			}
			p := make([]byte, length)
			for i := range p {
				p[i] = body[i] ^ mask[i%4]
			}
			if op == ws.OpClose && len(p) > 0 {
				code := int(p[0])<<8 | int(p[1%len(p)])
				switch {
				case len(p) == 1:
					out.code = 1002
				case !(code >= 1000 && code <= 1003 || code >= 1007 && code <= 1014 || code >= 3000 && code <= 4999):
					out.code = 1002
				case !utf8.Valid(p[2:]):
					out.code = 1007
				}
				if out.code != 0 {
					return out
				}
			}
			out.events = append(out.events, event{op, string(p), len(out.data)})
			if op == ws.OpClose {
				return out
			}
			in = body[length:]
			continue
		}

		if op == ws.OpBinary {
			message = 0
		}
		message += length
		if maxPayload > 0 && (length > uint64(maxPayload) || message > uint64(maxPayload)) {
			out.code = 1009
			return out
		}
		fragmented = !fin
		take := min(length, uint64(len(body)))
		for i := uint64(0); i < take; i++ {
			out.data = append(out.data, body[i]^mask[i%4])
		}
		in = body[take:]
	}
	return out
}

// feed pushes the chunks through d as the broker would: it appends each chunk to the connection's pending bytes,
// deframes them in place, takes buf[:n], answers control frames and keeps the bytes that were not consumed.
func feed(d *Deframer, chunks ...[]byte) (out outcome) {
	var pending []byte
	for _, c := range chunks {
		pending = append(pending, c...)
		for {
			n, consumed, ctl, err := d.Deframe(pending)
			if n > consumed || consumed > len(pending) {
				panic("Deframe returned data past what it consumed")
			}
			out.data = append(out.data, pending[:n]...)
			// A fresh copy, so a Deframer that kept a reference into an old buffer would be caught.
			pending = append([]byte(nil), pending[consumed:]...)
			if err != nil {
				out.code = err.(*ProtocolError).Code
				return out
			}
			if ctl.Op == 0 {
				break
			}
			out.events = append(out.events, event{ctl.Op, string(ctl.Payload), len(out.data)})
		}
	}
	return out
}

// split cuts b at the given offsets (sorted, within b).
func split(b []byte, cuts []int) [][]byte {
	var chunks [][]byte
	prev := 0
	for _, c := range cuts {
		chunks = append(chunks, b[prev:c])
		prev = c
	}
	return append(chunks, b[prev:])
}
