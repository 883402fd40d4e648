package codec

import (
	"encoding/binary"
	"unicode/utf8"
)

// reader walks a packet body with an index. It lives on the caller's stack; its methods return
// views into b and one of the package's *Error values.
type reader struct {
	b []byte
	i int
}

func (r *reader) left() int { return len(r.b) - r.i }

func (r *reader) rest() []byte {
	s := r.b[r.i:]
	r.i = len(r.b)
	return s
}

func (r *reader) byte() (byte, error) {
	if r.i >= len(r.b) {
		return 0, ErrTruncated
	}
	c := r.b[r.i]
	r.i++
	return c, nil
}

func (r *reader) uint16() (uint16, error) {
	if len(r.b)-r.i < 2 {
		return 0, ErrTruncated
	}
	v := binary.BigEndian.Uint16(r.b[r.i:])
	r.i += 2
	return v, nil
}

func (r *reader) uint32() (uint32, error) {
	if len(r.b)-r.i < 4 {
		return 0, ErrTruncated
	}
	v := binary.BigEndian.Uint32(r.b[r.i:])
	r.i += 4
	return v, nil
}

// varint reads a variable byte integer of at most 4 bytes in its minimal encoding (MQTT 5 is the
// only version that has them inside packets, and it requires the minimum [MQTT-1.5.5-1]).
func (r *reader) varint() (int, error) {
	var n int
	for k := 0; k < 4; k++ {
		if r.i >= len(r.b) {
			return 0, ErrTruncated
		}
		c := r.b[r.i]
		r.i++
		n |= int(c&0x7f) << (7 * k)
		if c < 0x80 {
			if k > 0 && c == 0 {
				return 0, ErrRemainingLengthNotMinimal
			}
			return n, nil
		}
	}
	return 0, ErrMalformedVarint
}

// binary reads Binary Data: a two-byte length, then that many bytes.
func (r *reader) binary() ([]byte, error) {
	if len(r.b)-r.i < 2 {
		return nil, ErrTruncated
	}
	n := int(r.b[r.i])<<8 | int(r.b[r.i+1])
	r.i += 2
	if len(r.b)-r.i < n {
		return nil, ErrTruncated
	}
	s := r.b[r.i : r.i+n : r.i+n]
	r.i += n
	return s, nil
}

// str reads a UTF-8 Encoded String and validates it by the MQTT rules.
func (r *reader) str() ([]byte, error) {
	s, err := r.binary()
	if err != nil {
		return nil, err
	}
	if err := ValidUTF8String(s); err != nil {
		return nil, err
	}
	return s, nil
}

const (
	lowBits  = 0x0101010101010101
	highBits = 0x8080808080808080
)

// ValidUTF8String checks b against the rules for MQTT UTF-8 Encoded Strings: well-formed UTF-8
// with no surrogate code points (ErrBadUTF8, [MQTT-1.5.4-1]) and no U+0000 (ErrNullInString,
// [MQTT-1.5.4-2]). U+FEFF is allowed and kept [MQTT-1.5.4-3]. Control characters and non-characters
// are allowed: the specification only discourages them.
func ValidUTF8String(b []byte) error {
	// Fast path: eight ASCII bytes at a time, none of them zero, then the tail byte by byte.
	i := 0
	for ; len(b)-i >= 8; i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		if x&highBits != 0 || (x-lowBits)&^x&highBits != 0 {
			return validUTF8From(b, i)
		}
	}
	for ; i < len(b); i++ {
		if b[i]-1 >= 0x7f { // 0, or not ASCII
			return validUTF8From(b, i)
		}
	}
	return nil
}

// validUTF8From checks b from index i on, rune by rune.
func validUTF8From(b []byte, i int) error {
	for i < len(b) {
		c := b[i]
		if c == 0 {
			return ErrNullInString
		}
		if c < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return ErrBadUTF8 // ill-formed, overlong, surrogate (U+D800..U+DFFF) or above U+10FFFF
		}
		i += size
	}
	return nil
}

// hasWildcard reports whether a topic name contains '+' or '#'.
func hasWildcard(b []byte) bool {
	for _, c := range b {
		if c == '+' || c == '#' {
			return true
		}
	}
	return false
}

// binaryLen is the encoded size of a Binary Data or UTF-8 string field holding b.
func binaryLen(b []byte) int { return 2 + min(len(b), 0xffff) }

func appendUint16(dst []byte, v uint16) []byte { return append(dst, byte(v>>8), byte(v)) }

func appendUint32(dst []byte, v uint32) []byte {
	return append(dst, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// appendBinary appends a two-byte length and b. A field cannot hold more than 65,535 bytes, so a
// longer b is cut there rather than written with a length that wraps around.
func appendBinary(dst []byte, b []byte) []byte {
	if len(b) > 0xffff {
		b = b[:0xffff]
	}
	dst = append(dst, byte(len(b)>>8), byte(len(b)))
	return append(dst, b...)
}
