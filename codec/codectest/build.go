package codectest

import "loopmq/codec"

// cat concatenates packet pieces: a byte, a []byte, a string (its raw bytes) or an int (one byte).
func cat(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch p := p.(type) {
		case byte:
			b = append(b, p)
		case int:
			b = append(b, byte(p))
		case []byte:
			b = append(b, p...)
		case string:
			b = append(b, p...)
		default:
			panic("codectest.cat: unsupported piece")
		}
	}
	return b
}

// pkt builds a packet from its first byte and body pieces, with a minimal remaining length.
func pkt(first byte, body ...any) []byte {
	bd := cat(body...)
	b := []byte{first}
	n := len(bd)
	for n >= 128 {
		b = append(b, byte(n)|0x80)
		n >>= 7
	}
	return append(append(b, byte(n)), bd...)
}

// str encodes an MQTT UTF-8 string or binary field: a two-byte length, then the bytes.
func str(s string) []byte { return append([]byte{byte(len(s) >> 8), byte(len(s))}, s...) }

// u16 encodes a two-byte integer; u32 a four-byte one.
func u16(v int) []byte { return []byte{byte(v >> 8), byte(v)} }
func u32(v int) []byte { return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }

// props prefixes a property block with its (one-byte, < 128) length.
func props(parts ...any) []byte {
	b := cat(parts...)
	if len(b) >= 128 {
		panic("codectest.props: block too long for a one-byte length")
	}
	return append([]byte{byte(len(b))}, b...)
}

// has returns the Present bits for the given properties.
func has(ids ...codec.PropID) uint64 {
	var m uint64
	for _, id := range ids {
		m |= 1 << id
	}
	return m
}

func bs(s string) []byte { return []byte(s) }
