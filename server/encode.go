package server

import (
	"encoding/binary"

	"loopmq/codec"
)

// This file encodes the PUBLISH packets the broker sends. A message's forwarded property block (props) is copied
// as received; only the per-delivery properties (Message Expiry, Subscription Identifiers, Topic Alias) are
// written fresh, so a v5 PUBLISH is never decoded into fields and re-encoded.

func varintLen(n int) int {
	switch {
	case n < 1<<7:
		return 1
	case n < 1<<14:
		return 2
	case n < 1<<21:
		return 3
	}
	return 4
}

func appendVarint(dst []byte, n int) []byte {
	for n >= 0x80 {
		dst = append(dst, byte(n)|0x80)
		n >>= 7
	}
	return append(dst, byte(n))
}

// pubShape is what varies between deliveries of one message.
type pubShape struct {
	qos      byte
	retain   bool
	dup      bool
	packetID uint16
	expiry   uint32 // remaining Message Expiry Interval; hasExpiry says whether to send it
	hasExp   bool
	alias    uint16 // outbound Topic Alias, 0 = none
	noTopic  bool   // send an empty topic name (the alias is already known to the client)
	subIDs   []uint32
}

// publishLen returns the size of the PUBLISH for m in version v with shape sh, and its property block length.
func publishLen(m *message, v codec.Version, sh *pubShape) (total, propLen int) {
	topicLen := len(m.topic)
	if sh.noTopic {
		topicLen = 0
	}
	rem := 2 + topicLen + len(m.payload)
	if sh.qos > 0 {
		rem += 2
	}
	if v == codec.V5 {
		propLen = len(m.props)
		if sh.hasExp {
			propLen += 5
		}
		for _, id := range sh.subIDs {
			propLen += 1 + varintLen(int(id))
		}
		if sh.alias != 0 {
			propLen += 3
		}
		rem += varintLen(propLen) + propLen
	}
	return 1 + varintLen(rem) + rem, propLen
}

// appendPublish appends m as a PUBLISH in version v with shape sh.
func appendPublish(dst []byte, m *message, v codec.Version, sh *pubShape) []byte {
	total, propLen := publishLen(m, v, sh)
	rem := remainingOf(total)
	dst = append(dst, byte(codec.TypePublish)<<4|codec.PublishFlags(sh.dup, sh.qos, sh.retain))
	dst = appendVarint(dst, rem)
	topicName := m.topic
	if sh.noTopic {
		topicName = nil
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(topicName)))
	dst = append(dst, topicName...)
	if sh.qos > 0 {
		dst = binary.BigEndian.AppendUint16(dst, sh.packetID)
	}
	if v == codec.V5 {
		dst = appendVarint(dst, propLen)
		if sh.hasExp {
			dst = append(dst, byte(codec.PropMessageExpiry))
			dst = binary.BigEndian.AppendUint32(dst, sh.expiry)
		}
		if sh.alias != 0 {
			dst = append(dst, byte(codec.PropTopicAlias))
			dst = binary.BigEndian.AppendUint16(dst, sh.alias)
		}
		for _, id := range sh.subIDs {
			dst = append(dst, byte(codec.PropSubscriptionID))
			dst = appendVarint(dst, int(id))
		}
		dst = append(dst, m.props...)
	}
	return append(dst, m.payload...)
}

// remainingOf inverts total = 1 + varintLen(rem) + rem.
func remainingOf(total int) int {
	for n := 1; n <= 4; n++ {
		if rem := total - 1 - n; rem >= 0 && varintLen(rem) == n {
			return rem
		}
	}
	return total - 2
}

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

// perDeliveryProp reports the PUBLISH properties the broker rewrites for each delivery [MQTT-3.3.2-12, 3.3.4-*].
func perDeliveryProp(id codec.PropID) bool {
	return id == codec.PropTopicAlias || id == codec.PropSubscriptionID || id == codec.PropMessageExpiry
}

// willDropProp reports the will properties that are not part of the published will message.
func willDropProp(id codec.PropID) bool {
	return id == codec.PropWillDelay || id == codec.PropMessageExpiry
}
