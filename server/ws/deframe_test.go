package ws

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"unsafe"

	"github.com/gobwas/ws"

	"loopmq/server/ws/wstest"
)

// TestDeframeRules checks, rule by rule of RFC 6455 and MQTT's WebSocket binding, what the broker sees: the data,
// the control frames, and the close code of a violation.
func TestDeframeRules(t *testing.T) {
	mqttConnect := []byte{0x10, 0x0c, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, 0}
	long := bytes.Repeat([]byte{0x5a}, 70000)
	tests := []struct {
		name       string
		in         []byte
		maxPayload int
		wantData   []byte
		wantEvents []event
		wantErr    *ProtocolError
	}{
		{
			name:     "one binary frame carries one MQTT packet",
			in:       wstest.Encode(wstest.Binary(mqttConnect)),
			wantData: mqttConnect,
		},
		{
			name:     "several frames are joined without their headers",
			in:       wstest.Encode(wstest.Binary([]byte("ab")), wstest.Binary([]byte("cde")), wstest.Binary(nil), wstest.Binary([]byte("f"))),
			wantData: []byte("abcdef"),
		},
		{
			name:     "16-bit extended length",
			in:       wstest.Encode(wstest.Binary(long[:300])),
			wantData: long[:300],
		},
		{
			name:     "64-bit extended length",
			in:       wstest.Encode(wstest.Binary(long)),
			wantData: long,
		},
		{
			name: "fragmented message with a ping between fragments",
			in: wstest.Encode(
				wstest.Frame{Op: ws.OpBinary, Mask: [4]byte{1, 2, 3, 4}, Payload: []byte("frag")},
				wstest.Control(ws.OpPing, []byte("hi")),
				wstest.Frame{Op: ws.OpContinuation, Mask: [4]byte{5, 6, 7, 8}, Payload: []byte("ment")},
				wstest.Frame{Fin: true, Op: ws.OpContinuation, Mask: [4]byte{9, 9, 9, 9}, Payload: []byte("ed")},
			),
			wantData:   []byte("fragmented"),
			wantEvents: []event{{ws.OpPing, "hi", 4}},
		},
		{
			name:       "pong is reported",
			in:         wstest.Encode(wstest.Control(ws.OpPong, []byte("x")), wstest.Binary([]byte("a"))),
			wantData:   []byte("a"),
			wantEvents: []event{{ws.OpPong, "x", 0}},
		},
		{
			name:       "ping with the maximum 125-byte payload",
			in:         wstest.Encode(wstest.Control(ws.OpPing, long[:125])),
			wantEvents: []event{{ws.OpPing, string(long[:125]), 0}},
		},
		{
			name:       "close with code and reason ends the stream",
			in:         wstest.Encode(wstest.Binary([]byte("a")), wstest.Control(ws.OpClose, []byte("\x03\xe8bye")), wstest.Binary([]byte("ignored"))),
			wantData:   []byte("a"),
			wantEvents: []event{{ws.OpClose, "\x03\xe8bye", 1}},
		},
		{
			name:       "close without a body",
			in:         wstest.Encode(wstest.Control(ws.OpClose, nil)),
			wantEvents: []event{{ws.OpClose, "", 0}},
		},
		{
			name:       "close with an application code",
			in:         wstest.Encode(wstest.Control(ws.OpClose, []byte{0x0f, 0x9f})), // 3999
			wantEvents: []event{{ws.OpClose, "\x0f\x9f", 0}},
		},
		{
			name:     "unmasked client frame [RFC 6455 5.1]",
			in:       wstest.Encode(wstest.Binary([]byte("ok")), wstest.Frame{Fin: true, Op: ws.OpBinary, Unmasked: true, Payload: []byte("no")}),
			wantData: []byte("ok"),
			wantErr:  ErrUnmaskedFrame,
		},
		{name: "RSV1 without extension", in: wstest.Encode(wstest.Frame{Fin: true, RSV: 0x40, Op: ws.OpBinary}), wantErr: ErrReservedBits},
		{name: "RSV2 without extension", in: wstest.Encode(wstest.Frame{Fin: true, RSV: 0x20, Op: ws.OpBinary}), wantErr: ErrReservedBits},
		{name: "RSV3 without extension", in: wstest.Encode(wstest.Frame{Fin: true, RSV: 0x10, Op: ws.OpBinary}), wantErr: ErrReservedBits},
		{name: "reserved data opcode 3", in: wstest.Encode(wstest.Frame{Fin: true, Op: 3}), wantErr: ErrReservedOpcode},
		{name: "reserved data opcode 7", in: wstest.Encode(wstest.Frame{Fin: true, Op: 7}), wantErr: ErrReservedOpcode},
		{name: "reserved control opcode 0xB", in: wstest.Encode(wstest.Frame{Fin: true, Op: 0xb}), wantErr: ErrReservedOpcode},
		{name: "reserved control opcode 0xF", in: wstest.Encode(wstest.Frame{Fin: true, Op: 0xf}), wantErr: ErrReservedOpcode},
		{
			name:    "text frame [MQTT-6.0.0-1]",
			in:      wstest.Encode(wstest.Frame{Fin: true, Op: ws.OpText, Payload: []byte("{}")}),
			wantErr: ErrTextFrame,
		},
		{
			name:    "ping over 125 bytes",
			in:      wstest.Encode(wstest.Control(ws.OpPing, long[:126])),
			wantErr: ErrControlTooLong,
		},
		{
			name:    "fragmented ping",
			in:      wstest.Encode(wstest.Frame{Op: ws.OpPing, Payload: []byte("a")}),
			wantErr: ErrControlFragmented,
		},
		{
			name:    "continuation without a start",
			in:      wstest.Encode(wstest.Frame{Fin: true, Op: ws.OpContinuation, Payload: []byte("a")}),
			wantErr: ErrUnexpectedContinuation,
		},
		{
			name:     "new binary frame inside a fragmented message",
			in:       wstest.Encode(wstest.Frame{Op: ws.OpBinary, Payload: []byte("a")}, wstest.Binary([]byte("b"))),
			wantData: []byte("a"),
			wantErr:  ErrInterleavedMessage,
		},
		{
			name:     "text frame inside a fragmented message",
			in:       wstest.Encode(wstest.Frame{Op: ws.OpBinary, Payload: []byte("a")}, wstest.Frame{Fin: true, Op: ws.OpText}),
			wantData: []byte("a"),
			wantErr:  ErrInterleavedMessage,
		},
		{
			name:     "continuation after the message ended",
			in:       wstest.Encode(wstest.Frame{Op: ws.OpBinary, Payload: []byte("a")}, wstest.Frame{Fin: true, Op: ws.OpContinuation, Payload: []byte("b")}, wstest.Frame{Fin: true, Op: ws.OpContinuation}),
			wantData: []byte("ab"),
			wantErr:  ErrUnexpectedContinuation,
		},
		{
			name:    "16-bit length below 126",
			in:      wstest.Encode(wstest.Frame{Fin: true, Op: ws.OpBinary, Payload: []byte("abc"), LenBytes: 2}),
			wantErr: ErrNonMinimalLength,
		},
		{
			name:    "16-bit length of 125",
			in:      wstest.Encode(wstest.Frame{Fin: true, Op: ws.OpBinary, Payload: long[:125], LenBytes: 2}),
			wantErr: ErrNonMinimalLength,
		},
		{
			name:    "64-bit length of 65535",
			in:      wstest.Encode(wstest.Frame{Fin: true, Op: ws.OpBinary, Payload: long[:65535], LenBytes: 8}),
			wantErr: ErrNonMinimalLength,
		},
		{
			name:    "64-bit length below 65536",
			in:      wstest.Encode(wstest.Frame{Fin: true, Op: ws.OpBinary, Payload: long[:300], LenBytes: 8}),
			wantErr: ErrNonMinimalLength,
		},
		{
			name:    "64-bit length with the most significant bit set",
			in:      wstest.Encode(wstest.Frame{Fin: true, Op: ws.OpBinary, Payload: long, LenBytes: 8, MSBSet: true}),
			wantErr: ErrLengthMSB,
		},
		{
			name:       "frame over MaxPayload",
			in:         wstest.Encode(wstest.Binary(long[:101])),
			maxPayload: 100,
			wantErr:    ErrMessageTooBig,
		},
		{
			name:       "frame of exactly MaxPayload",
			in:         wstest.Encode(wstest.Binary(long[:100])),
			maxPayload: 100,
			wantData:   long[:100],
		},
		{
			name: "fragmented message over MaxPayload",
			in: wstest.Encode(
				wstest.Frame{Op: ws.OpBinary, Payload: long[:60]},
				wstest.Frame{Fin: true, Op: ws.OpContinuation, Payload: long[:41]},
			),
			maxPayload: 100,
			wantData:   long[:60],
			wantErr:    ErrMessageTooBig,
		},
		{
			name:       "MaxPayload bounds each message, not the connection",
			in:         wstest.Encode(wstest.Binary(long[:80]), wstest.Binary(long[:80])),
			maxPayload: 100,
			wantData:   long[:160],
		},
		{
			name:    "close with a one-byte body",
			in:      wstest.Encode(wstest.Control(ws.OpClose, []byte{3})),
			wantErr: ErrCloseBodyTooShort,
		},
		{name: "close code 999", in: wstest.Encode(wstest.Control(ws.OpClose, []byte{0x03, 0xe7})), wantErr: ErrInvalidCloseCode},
		{name: "close code 1004", in: wstest.Encode(wstest.Control(ws.OpClose, []byte{0x03, 0xec})), wantErr: ErrInvalidCloseCode},
		{name: "close code 1005", in: wstest.Encode(wstest.Control(ws.OpClose, []byte{0x03, 0xed})), wantErr: ErrInvalidCloseCode},
		{name: "close code 1006", in: wstest.Encode(wstest.Control(ws.OpClose, []byte{0x03, 0xee})), wantErr: ErrInvalidCloseCode},
		{name: "close code 1015", in: wstest.Encode(wstest.Control(ws.OpClose, []byte{0x03, 0xf7})), wantErr: ErrInvalidCloseCode},
		{name: "close code 2999", in: wstest.Encode(wstest.Control(ws.OpClose, []byte{0x0b, 0xb7})), wantErr: ErrInvalidCloseCode},
		{name: "close code 5000", in: wstest.Encode(wstest.Control(ws.OpClose, []byte{0x13, 0x88})), wantErr: ErrInvalidCloseCode},
		{
			name:    "close reason not UTF-8",
			in:      wstest.Encode(wstest.Control(ws.OpClose, []byte{0x03, 0xe8, 0xce, 0xba, 0xe1, 0xbd})),
			wantErr: ErrCloseReasonUTF8,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Whole, then one byte at a time: the answer must not depend on how the bytes arrive.
			for _, oneByte := range []bool{false, true} {
				var chunks [][]byte
				if oneByte {
					for i := range tt.in {
						chunks = append(chunks, tt.in[i:i+1])
					}
				} else {
					chunks = [][]byte{tt.in}
				}
				d := Deframer{MaxPayload: tt.maxPayload}
				got := feed(&d, chunks...)
				if !bytes.Equal(got.data, tt.wantData) {
					t.Fatalf("oneByte=%v data = %q, want %q", oneByte, clip(got.data), clip(tt.wantData))
				}
				if len(got.events) != len(tt.wantEvents) {
					t.Fatalf("oneByte=%v events = %v, want %v", oneByte, got.events, tt.wantEvents)
				}
				for i := range got.events {
					if got.events[i] != tt.wantEvents[i] {
						t.Fatalf("oneByte=%v event %d = %+v, want %+v", oneByte, i, got.events[i], tt.wantEvents[i])
					}
				}
				var wantCode ws.StatusCode
				if tt.wantErr != nil {
					wantCode = tt.wantErr.Code
				}
				if got.code != wantCode {
					t.Fatalf("oneByte=%v close code = %d, want %d", oneByte, got.code, wantCode)
				}
				if tt.wantErr != nil {
					_, _, _, err := d.Deframe(nil)
					if !errors.Is(err, tt.wantErr) {
						t.Fatalf("oneByte=%v sticky error = %v, want %v", oneByte, err, tt.wantErr)
					}
				}
				// The reference model must agree, or the table or the model is wrong.
				ref := refParse(tt.in, tt.maxPayload)
				if !bytes.Equal(ref.data, got.data) || ref.code != got.code || len(ref.events) != len(got.events) {
					t.Fatalf("reference model disagrees: data %q code %d events %v", clip(ref.data), ref.code, ref.events)
				}
			}
		})
	}
}

func clip(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}

// TestDeframeCarry checks the consumption contract on one stream: incomplete headers and control frames stay in
// the buffer, partial payloads are delivered and consumed, and the mask continues across reads.
func TestDeframeCarry(t *testing.T) {
	payload := []byte("0123456789abcdefghijklmnopqrstuvwxyz") // 36 bytes: longer than ws.Cipher's bytewise path
	f := wstest.Binary(payload)
	f.Mask = [4]byte{0xde, 0xad, 0xbe, 0xef}
	wire := wstest.Encode(f, wstest.Control(ws.OpPing, []byte("p")))
	steps := []struct {
		give         int // wire bytes available at this step (cumulative)
		wantN        int
		wantConsumed int
		wantPing     bool
	}{
		{give: 1, wantN: 0, wantConsumed: 0},    // half the fixed header
		{give: 5, wantN: 0, wantConsumed: 0},    // header without all the mask
		{give: 6, wantN: 0, wantConsumed: 6},    // header complete, no payload yet
		{give: 9, wantN: 3, wantConsumed: 3},    // 3 payload bytes, mask offset 3 next
		{give: 30, wantN: 21, wantConsumed: 21}, // odd split inside the payload
		{give: 42, wantN: 12, wantConsumed: 12}, // payload complete
		{give: 46, wantN: 0, wantConsumed: 0},   // ping header and mask but no payload: not consumed
		{give: 49, wantN: 0, wantConsumed: 7, wantPing: true},
	}
	var d Deframer
	var pending, got []byte
	fed := 0
	for i, s := range steps {
		pending = append(pending, wire[fed:s.give]...)
		fed = s.give
		n, consumed, ctl, err := d.Deframe(pending)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if n != s.wantN || consumed != s.wantConsumed || (ctl.Op == ws.OpPing) != s.wantPing {
			t.Fatalf("step %d: n=%d consumed=%d ctl=%v, want n=%d consumed=%d ping=%v", i, n, consumed, ctl.Op, s.wantN, s.wantConsumed, s.wantPing)
		}
		got = append(got, pending[:n]...)
		pending = append([]byte(nil), pending[consumed:]...)
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("stream = %q, want %q", got, payload)
	}
}

// TestDeframeReferenceStream frames random MQTT-like byte streams with the reference encoder (random frame sizes,
// fragmentation, pings between fragments, random masks, all three length encodings), cuts the wire at random read
// boundaries, and checks that the Deframer gives back the stream byte for byte, with every ping where it was sent.
func TestDeframeReferenceStream(t *testing.T) {
	rounds := 400
	if testing.Short() || raceEnabled {
		rounds = 60 // the race detector slows this byte-heavy test tenfold
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range rounds {
		stream := make([]byte, rng.IntN(200000))
		for i := range stream {
			stream[i] = byte(rng.Uint32())
		}
		var wire []byte
		var wantEvents []event
		fragmented := false
		for pos := 0; pos < len(stream) || fragmented; {
			if rng.IntN(8) == 0 {
				p := make([]byte, rng.IntN(126))
				for i := range p {
					p[i] = byte(rng.Uint32())
				}
				f := wstest.Control(ws.OpPing, p)
				f.Mask = [4]byte(binaryLE(rng.Uint32()))
				wire = f.Append(wire)
				wantEvents = append(wantEvents, event{ws.OpPing, string(p), pos})
			}
			size := rng.IntN(300)
			switch rng.IntN(10) {
			case 0:
				size = 0
			case 1:
				size = 66000 + rng.IntN(10000)
			case 2:
				size = 126 + rng.IntN(2000)
			}
			size = min(size, len(stream)-pos)
			f := wstest.Frame{Op: ws.OpBinary, Mask: [4]byte(binaryLE(rng.Uint32())), Payload: stream[pos : pos+size]}
			if fragmented {
				f.Op = ws.OpContinuation
			}
			f.Fin = pos+size == len(stream) || rng.IntN(3) == 0
			fragmented = !f.Fin
			wire = f.Append(wire)
			pos += size
		}
		var cuts []int
		for c := 0; c < len(wire); {
			c += 1 + rng.IntN(1+rng.IntN(20000))
			if c < len(wire) {
				cuts = append(cuts, c)
			}
		}
		var d Deframer
		got := feed(&d, split(wire, cuts)...)
		if got.code != 0 {
			t.Fatalf("round %d: close code %d on a valid stream", round, got.code)
		}
		if !bytes.Equal(got.data, stream) {
			t.Fatalf("round %d: stream differs (got %d bytes, want %d)", round, len(got.data), len(stream))
		}
		if len(got.events) != len(wantEvents) {
			t.Fatalf("round %d: %d control frames, want %d", round, len(got.events), len(wantEvents))
		}
		for i := range wantEvents {
			if got.events[i] != wantEvents[i] {
				t.Fatalf("round %d: control frame %d = %+v, want %+v", round, i, got.events[i], wantEvents[i])
			}
		}
	}
}

func binaryLE(v uint32) []byte {
	return []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)}
}

// TestDeframeAfterClose checks that nothing is read after the client's close frame.
func TestDeframeAfterClose(t *testing.T) {
	var d Deframer
	in := wstest.Encode(wstest.Control(ws.OpClose, []byte{0x03, 0xe8}), wstest.Frame{Fin: true, Op: ws.OpText})
	_, consumed, ctl, err := d.Deframe(in)
	if err != nil || ctl.Op != ws.OpClose || ctl.CloseCode() != 1000 {
		t.Fatalf("got ctl %+v err %v, want close 1000", ctl, err)
	}
	n, consumed2, ctl, err := d.Deframe(in[consumed:])
	if n != 0 || consumed2 != len(in)-consumed || ctl.Op != 0 || err != nil {
		t.Fatalf("after close: n=%d consumed=%d ctl=%v err=%v, want everything discarded", n, consumed2, ctl.Op, err)
	}
}

// TestCipherOffsets checks ws.Cipher, which unmasks payloads split across reads, against the RFC's definition for
// every mask offset and every length around its word-at-a-time blocks.
func TestCipherOffsets(t *testing.T) {
	mask := [4]byte{0x12, 0x34, 0x56, 0x78}
	src := []byte(strings.Repeat("MQTT over WebSocket ", 10))
	for length := 0; length <= 150; length++ {
		for offset := 0; offset < 9; offset++ {
			got := append([]byte(nil), src[:length]...)
			ws.Cipher(got, mask, offset)
			for i := range got {
				if want := src[i] ^ mask[(offset+i)%4]; got[i] != want {
					t.Fatalf("len %d offset %d: byte %d = %#x, want %#x", length, offset, i, got[i], want)
				}
			}
		}
	}
}

// TestDeframerSize guards the per-connection cost: every idle WebSocket connection holds one Deframer, and the
// whole WebSocket overhead over TCP is budgeted at 200 bytes.
func TestDeframerSize(t *testing.T) {
	if size := unsafe.Sizeof(Deframer{}); size > 40 {
		t.Fatalf("Deframer is %d bytes, budget 40", size)
	}
}
