package codec

import "encoding/binary"

// This file serves the broker's fan-out: one incoming PUBLISH goes out to many subscribers, each
// with its own packet identifier, QoS, RETAIN flag and (MQTT 5) topic alias and subscription
// identifiers, while topic, payload and the rest of the properties stay the same.

// ForwardProps holds the properties of an outgoing MQTT 5 PUBLISH that differ per subscriber and
// per moment, and so cannot be copied from the incoming packet.
type ForwardProps struct {
	// MessageExpiry is the lifetime left, in seconds, written only if HasMessageExpiry: a server
	// forwards the received value minus the time the message waited [MQTT-3.3.2-6].
	MessageExpiry    uint32
	HasMessageExpiry bool
	// TopicAlias is the alias this connection uses for the topic, 0 for none.
	TopicAlias uint16
	// SubscriptionIDs are the identifiers of the subscriptions that matched [MQTT-3.3.4-3]; zeros
	// are skipped.
	SubscriptionIDs []uint32
}

// FilterForwardProps appends to dst the property block raw (Properties.Raw of a decoded PUBLISH)
// without Topic Alias (it belongs to one connection [MQTT-3.3.2-10]), Subscription Identifiers
// (they belong to the receiver's subscriptions) and Message Expiry Interval (it must be recomputed):
// what stays is forwarded unchanged [MQTT-3.3.2-4, MQTT-3.3.2-15, MQTT-3.3.2-17, MQTT-3.3.2-20].
// A server calls it once per incoming message. raw must come from a successful Decode; a block that
// does not parse is cut at the first property that does not.
func FilterForwardProps(dst, raw []byte) []byte {
	return filterProps(dst, raw, 1<<PropTopicAlias|1<<PropSubscriptionID|1<<PropMessageExpiry)
}

// FilterWillProps appends to dst the will property block raw (Connect.WillProps.Raw) as the
// properties of the PUBLISH that carries the will: without Will Delay Interval, which is not a
// PUBLISH property, and Message Expiry Interval, which a server sets per delivery as it does for
// FilterForwardProps (§3.1.3.2). The contract on raw is FilterForwardProps's.
func FilterWillProps(dst, raw []byte) []byte {
	return filterProps(dst, raw, 1<<PropWillDelay|1<<PropMessageExpiry)
}

// filterProps appends raw without the properties whose bit is set in drop (bit n: property id n;
// every property id is below 64).
func filterProps(dst, raw []byte, drop uint64) []byte {
	r := reader{b: raw}
	keep := 0 // start of the run of kept properties not yet copied
	for r.left() > 0 {
		start := r.i
		c, _ := r.byte()
		if c >= 64 || propTable[c].kind == kindNone || skipValue(&r, propTable[c].kind) != nil {
			return append(dst, raw[keep:start]...)
		}
		if drop&(1<<c) != 0 {
			dst = append(dst, raw[keep:start]...)
			keep = r.i
		}
	}
	return append(dst, raw[keep:]...)
}

// skipValue moves r past one property value of the given kind.
func skipValue(r *reader, k propKind) (err error) {
	switch k {
	case kindByte:
		_, err = r.byte()
	case kindUint16:
		_, err = r.uint16()
	case kindUint32:
		_, err = r.uint32()
	case kindVarint:
		_, err = r.varint()
	case kindString, kindBinary:
		_, err = r.binary()
	case kindPair:
		if _, err = r.binary(); err == nil {
			_, err = r.binary()
		}
	}
	return err
}

// forwardPropsLen is the length of the property block fwd plus the properties of x.
func forwardPropsLen(fwd []byte, x *ForwardProps) int {
	n := len(fwd)
	if x == nil {
		return n
	}
	if x.HasMessageExpiry {
		n += 5
	}
	if x.TopicAlias != 0 {
		n += 3
	}
	for _, id := range x.SubscriptionIDs {
		if id != 0 {
			n += 1 + varintLen(int(id&MaxRemaining))
		}
	}
	return n
}

// AppendPublishHead appends a PUBLISH packet up to, and not including, its payload of payloadLen
// bytes: fixed header, topic, packet identifier (QoS 1 and 2) and for MQTT 5 the properties fwd
// (a FilterForwardProps result, or nil) followed by those of x (may be nil). The caller sends the
// payload right after it, so one payload buffer can serve every subscriber (for example with
// writev). flags is the low nibble of the first byte, see PublishFlags. topic is empty only when
// x.TopicAlias names an alias the receiver already knows.
func AppendPublishHead(dst []byte, v Version, flags byte, topic []byte, packetID uint16, fwd []byte, x *ForwardProps, payloadLen int) []byte {
	n := binaryLen(topic) + payloadLen
	qos := flags&0x06 != 0
	if qos {
		n += 2
	}
	var propLen int
	if v == V5 {
		propLen = forwardPropsLen(fwd, x)
		n += varintLen(propLen) + propLen
	}
	dst = appendFixedHeader(dst, TypePublish, flags&0x0f, n)
	dst = appendBinary(dst, topic)
	if qos {
		dst = appendUint16(dst, packetID)
	}
	if v != V5 {
		return dst
	}
	dst = appendVarint(dst, propLen)
	dst = append(dst, fwd...)
	if x == nil {
		return dst
	}
	if x.HasMessageExpiry {
		dst = append(dst, byte(PropMessageExpiry))
		dst = appendUint32(dst, x.MessageExpiry)
	}
	if x.TopicAlias != 0 {
		dst = append(dst, byte(PropTopicAlias))
		dst = appendUint16(dst, x.TopicAlias)
	}
	for _, id := range x.SubscriptionIDs {
		if id != 0 {
			dst = append(dst, byte(PropSubscriptionID))
			dst = appendVarint(dst, int(id&MaxRemaining))
		}
	}
	return dst
}

// AppendPublishForward appends a whole PUBLISH: AppendPublishHead followed by the payload.
func AppendPublishForward(dst []byte, v Version, flags byte, topic []byte, packetID uint16, fwd []byte, x *ForwardProps, payload []byte) []byte {
	dst = AppendPublishHead(dst, v, flags, topic, packetID, fwd, x, len(payload))
	return append(dst, payload...)
}

// PublishPacketIDOffset returns the offset of the packet identifier inside pkt, an encoded PUBLISH
// with QoS 1 or 2 (or the head of one, from AppendPublishHead), or -1 if pkt is not one.
func PublishPacketIDOffset(pkt []byte) int {
	if len(pkt) < 2 || Type(pkt[0]>>4) != TypePublish || pkt[0]&0x06 == 0 {
		return -1
	}
	i := 1
	for ; i < len(pkt) && i <= 4 && pkt[i] >= 0x80; i++ {
	}
	i++ // past the last remaining-length byte
	if i+2 > len(pkt) {
		return -1
	}
	i += 2 + int(binary.BigEndian.Uint16(pkt[i:]))
	if i+2 > len(pkt) {
		return -1
	}
	return i
}

// SetPublishPacketID overwrites, in place, the packet identifier of pkt, an encoded PUBLISH with
// QoS 1 or 2: a packet encoded once can go to each subscriber with that subscriber's identifier.
// It reports false, changing nothing, if pkt has no packet identifier.
func SetPublishPacketID(pkt []byte, id uint16) bool {
	i := PublishPacketIDOffset(pkt)
	if i < 0 {
		return false
	}
	binary.BigEndian.PutUint16(pkt[i:], id)
	return true
}

// SetPublishDup sets or clears, in place, the DUP flag of pkt, an encoded PUBLISH with QoS 1 or 2,
// as a retransmission requires [MQTT-3.3.1-1]. It reports false, changing nothing, for any other
// packet (DUP must stay 0 with QoS 0 [MQTT-3.3.1-2]).
func SetPublishDup(pkt []byte, dup bool) bool {
	if len(pkt) == 0 || Type(pkt[0]>>4) != TypePublish || pkt[0]&0x06 == 0 {
		return false
	}
	if dup {
		pkt[0] |= pubDup
	} else {
		pkt[0] &^= pubDup
	}
	return true
}
