package ws

import (
	"encoding/binary"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// This file holds the test's own model of RFC 6455 client framing (frames are written with wstest, which can also
// break the rules): a parser written straight from the RFC that reads a whole input at once, and a harness that
// feeds a Deframer the way the broker does (append what arrived, deframe, keep what was not consumed).

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
