package server

import (
	"encoding/binary"

	"loopmq/codec"
)

// PUBLISH packets are encoded by codec.AppendPublishForward from a message's forwarded property block; this file
// only turns a will's property block into the property block of the PUBLISH that carries the will.

// propKinds gives the value encoding of each MQTT 5 property id, to walk a property block that the codec has
// already validated.
const (
	pkByte = iota + 1
	pkUint16
	pkUint32
	pkVarint
	pkBinary // UTF-8 string or binary data: 2-byte length prefix
	pkPair   // string pair
)

var propKinds = [64]byte{
	0x01: pkByte, 0x02: pkUint32, 0x03: pkBinary, 0x08: pkBinary, 0x09: pkBinary, 0x0B: pkVarint,
	0x11: pkUint32, 0x12: pkBinary, 0x13: pkUint16, 0x15: pkBinary, 0x16: pkBinary, 0x17: pkByte,
	0x18: pkUint32, 0x19: pkByte, 0x1A: pkBinary, 0x1C: pkBinary, 0x1F: pkBinary, 0x21: pkUint16,
	0x22: pkUint16, 0x23: pkUint16, 0x24: pkByte, 0x25: pkByte, 0x26: pkPair, 0x27: pkUint32,
	0x28: pkByte, 0x29: pkByte, 0x2A: pkByte,
}

// appendForwardProps appends the properties of raw (a validated PUBLISH or will property block) except the ids
// in drop, which the broker sets per delivery. It returns dst unchanged past a malformed tail rather than
// reading out of bounds.
func appendForwardProps(dst, raw []byte, drop func(codec.PropID) bool) []byte {
	for i := 0; i < len(raw); {
		start := i
		id := raw[i]
		if id >= 0x80 || int(id) >= len(propKinds) || propKinds[id] == 0 {
			return dst // ids are one-byte varints in practice; anything else was rejected by the codec
		}
		i++
		switch propKinds[id] {
		case pkByte:
			i++
		case pkUint16:
			i += 2
		case pkUint32:
			i += 4
		case pkVarint:
			for i < len(raw) && raw[i]&0x80 != 0 {
				i++
			}
			i++
		case pkBinary:
			if i+2 > len(raw) {
				return dst
			}
			i += 2 + int(binary.BigEndian.Uint16(raw[i:]))
		case pkPair:
			for k := 0; k < 2; k++ {
				if i+2 > len(raw) {
					return dst
				}
				i += 2 + int(binary.BigEndian.Uint16(raw[i:]))
			}
		}
		if i > len(raw) {
			return dst
		}
		if !drop(codec.PropID(id)) {
			dst = append(dst, raw[start:i]...)
		}
	}
	return dst
}

// willDropProp reports the will properties that are not part of the published will message.
func willDropProp(id codec.PropID) bool {
	return id == codec.PropWillDelay || id == codec.PropMessageExpiry
}
