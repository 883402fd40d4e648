package codec

import (
	"encoding/binary"
	"unicode/utf8"
)

// Publish is a PUBLISH packet (3.1.1 §3.3, 5.0 §3.3).
type Publish struct {
	Dup      bool
	QoS      byte
	Retain   bool
	Topic    []byte // empty only in MQTT 5 with a Topic Alias
	PacketID uint16 // only with QoS 1 and 2
	Props    Properties
	Payload  []byte
}

const (
	pubRetain = 0x01
	pubDup    = 0x08
)

// Decode parses the body of a PUBLISH packet: the topic name is valid UTF-8 without wildcards
// [MQTT-3.3.2-2], the packet identifier non-zero for QoS 1 and 2 [MQTT-2.3.1-1], and in MQTT 5 the
// properties are those PUBLISH may carry. A Subscription Identifier is accepted here because a
// server may send it; a server checks packets from clients with CheckFromClient.
func (p *Publish) Decode(h FixedHeader, body []byte, v Version) error {
	if h.Type != TypePublish {
		return ErrWrongType
	}
	if v == V5 && !h.minimal() {
		return ErrRemainingLengthNotMinimal
	}
	if err := checkFlags(TypePublish, h.Flags); err != nil {
		return err
	}
	p.Dup = h.Flags&pubDup != 0
	p.QoS = h.Flags >> 1 & 3
	p.Retain = h.Flags&pubRetain != 0
	if len(body) < 2 {
		return ErrTruncated
	}
	i := 2 + int(binary.BigEndian.Uint16(body))
	if len(body) < i {
		return ErrTruncated
	}
	topic := body[2:i:i]
	p.Topic = topic
	// The common topic name is ASCII and at least 8 bytes long: check it here, a word at a time,
	// rather than pay for a call; anything suspect goes to validTopicName, which says what is wrong.
	var bad uint64 = 1
	if len(topic) >= 8 {
		bad = suspectBytes(binary.LittleEndian.Uint64(topic[len(topic)-8:]))
		for t := topic; len(t) > 8; t = t[8:] {
			bad |= suspectBytes(binary.LittleEndian.Uint64(t))
		}
	}
	if bad != 0 {
		if err := validTopicName(topic); err != nil {
			return err
		}
	}
	p.PacketID = 0
	if p.QoS > 0 {
		if len(body) < i+2 {
			return ErrTruncated
		}
		p.PacketID = binary.BigEndian.Uint16(body[i:])
		if p.PacketID == 0 {
			return ErrPacketIDZero
		}
		i += 2
	}
	if v == V5 {
		r := reader{b: body, i: i}
		if err := p.Props.decode(&r, TypePublish); err != nil {
			return err
		}
		i = r.i
		if len(p.Topic) == 0 && !p.Props.Has(PropTopicAlias) {
			return ErrTopicEmpty
		}
	} else {
		p.Props.Reset()
		if len(p.Topic) == 0 {
			return ErrTopicEmpty
		}
	}
	p.Payload = body[i:]
	return nil
}

// CheckFromClient applies the rules that hold only for a PUBLISH sent by a client: no Subscription
// Identifier [MQTT-3.3.4-6].
func (p *Publish) CheckFromClient() error {
	if len(p.Props.SubscriptionIDs) > 0 {
		return ErrSubIDFromClient
	}
	return nil
}

// CheckPayloadFormat reports ErrPayloadFormat if the Payload Format Indicator says the payload is
// UTF-8 character data and it is not well-formed UTF-8. The receiver may check this or not
// (§3.3.2.3.2); a server that does answers with PUBACK/PUBREC or DISCONNECT 0x99.
func (p *Publish) CheckPayloadFormat() error {
	return checkPayloadFormat(&p.Props, p.Payload)
}

func checkPayloadFormat(props *Properties, payload []byte) error {
	if props.Has(PropPayloadFormat) && props.PayloadFormat == 1 && !utf8.Valid(payload) {
		return ErrPayloadFormat
	}
	return nil
}

// Flags returns the low nibble of the PUBLISH first byte for p's DUP, QoS and RETAIN.
func (p *Publish) Flags() byte { return PublishFlags(p.Dup, p.QoS, p.Retain) }

// PublishFlags returns the low nibble of a PUBLISH first byte. QoS above 2 is written as 2 and DUP
// only with QoS 1 or 2, so the result is always valid [MQTT-3.3.1-2].
func PublishFlags(dup bool, qos byte, retain bool) byte {
	qos = min(qos, 2)
	f := qos << 1
	if dup && qos > 0 {
		f |= pubDup
	}
	if retain {
		f |= pubRetain
	}
	return f
}

// Append appends the PUBLISH packet in version v. The packet identifier is written for QoS 1 and 2
// only (an identifier of 0 is written as given: the caller allocates identifiers).
func (p *Publish) Append(dst []byte, v Version) []byte {
	flags := p.Flags()
	n := binaryLen(p.Topic) + len(p.Payload)
	if flags&0x06 != 0 {
		n += 2
	}
	var propLen int
	if v == V5 {
		propLen = p.Props.encodedLen(TypePublish)
		n += varintLen(propLen) + propLen
	}
	topic := p.Topic[:min(len(p.Topic), 0xffff)] // a longer topic is cut, as appendBinary does
	first := byte(TypePublish)<<4 | flags
	// The fixed header and the topic length in one append (one capacity check) for the packets
	// under 16 KiB that make up most of the traffic.
	switch {
	case n < 128:
		dst = append(dst, first, byte(n), byte(len(topic)>>8), byte(len(topic)))
	case n < 16384:
		dst = append(dst, first, byte(n)|0x80, byte(n>>7), byte(len(topic)>>8), byte(len(topic)))
	default:
		dst = appendFixedHeader(dst, TypePublish, flags, n)
		dst = append(dst, byte(len(topic)>>8), byte(len(topic)))
	}
	dst = append(dst, topic...)
	if flags&0x06 != 0 {
		dst = appendUint16(dst, p.PacketID)
	}
	if v == V5 {
		dst = p.Props.appendProps(dst, TypePublish, propLen)
	}
	return append(dst, p.Payload...)
}

// validTopicName checks a topic name's UTF-8 and that it has no wildcard characters. Topic names
// are nearly always ASCII, so it looks at eight bytes at a time for any byte that is 0, '+', '#' or
// not ASCII, and only then walks byte by byte.
func validTopicName(b []byte) error {
	if len(b) >= 8 {
		// The last, possibly partial word first: re-reading a few bytes is cheaper than a tail loop.
		bad := suspectBytes(binary.LittleEndian.Uint64(b[len(b)-8:]))
		for t := b; len(t) > 8; t = t[8:] {
			bad |= suspectBytes(binary.LittleEndian.Uint64(t))
		}
		if bad == 0 {
			return nil
		}
	}
	for j, c := range b {
		if c|0x08 == '+' { // '+' or '#': they differ only in bit 3
			return ErrTopicWildcard
		}
		if c == 0 || c >= 0x80 {
			if err := ValidUTF8String(b[j:]); err != nil {
				return err
			}
			if hasWildcard(b[j:]) {
				return ErrTopicWildcard
			}
			return nil
		}
	}
	return nil
}

const (
	plusBits = 0x2b2b2b2b2b2b2b2b // '+' in every byte
	bit3     = 0x0808080808080808 // '#' | bit3 == '+'
)

// suspectBytes returns a non-zero value if any byte of x is 0, '+', '#' or 0x80 and above.
// '#' (0x23) and '+' (0x2b) differ only in bit 3, so one zero-byte test on (x|bit3)^plusBits finds
// both. The zero-byte test (y-lowBits)&^y can misfire only above a byte that really is zero or
// not ASCII, so the result is non-zero exactly when one of those bytes is there.
func suspectBytes(x uint64) uint64 {
	p := (x | bit3) ^ plusBits
	return (x | (x-lowBits)&^x | (p-lowBits)&^p) & highBits
}
