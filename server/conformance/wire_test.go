// Package conformance_test checks the broker against the MQTT 3.1, 3.1.1 and 5.0 standards byte by byte, and
// against real clients (paho, paho.golang, mosquitto_pub/mosquitto_sub).
//
// The packets here are written with a deliberately tiny encoder and read with a tiny decoder, both independent of
// loopmq/codec, so that a bug in the broker's codec cannot hide itself by agreeing with its own tests.
package conformance_test

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
)

// Protocol levels.
const (
	v31  byte = 3
	v311 byte = 4
	v5   byte = 5
)

// CONNECT flag bits [MQTT-3.1.2].
const (
	flagUsername   byte = 0x80
	flagPassword   byte = 0x40
	flagWillRetain byte = 0x20
	flagWill       byte = 0x04
	flagClean      byte = 0x02
)

// MQTT 5.0 property identifiers used by the tests [MQTT 5.0 §2.2.2.2].
const (
	propPayloadFormat      byte = 0x01
	propMessageExpiry      byte = 0x02
	propContentType        byte = 0x03
	propResponseTopic      byte = 0x08
	propCorrelationData    byte = 0x09
	propSubscriptionID     byte = 0x0B
	propSessionExpiry      byte = 0x11
	propAssignedClientID   byte = 0x12
	propServerKeepAlive    byte = 0x13
	propRequestProblemInfo byte = 0x17
	propWillDelay          byte = 0x18
	propReasonString       byte = 0x1F
	propReceiveMaximum     byte = 0x21
	propTopicAliasMaximum  byte = 0x22
	propTopicAlias         byte = 0x23
	propMaximumQoS         byte = 0x24
	propRetainAvailable    byte = 0x25
	propUserProperty       byte = 0x26
	propMaximumPacketSize  byte = 0x27
	propWildcardAvailable  byte = 0x28
	propSubIDAvailable     byte = 0x29
	propSharedAvailable    byte = 0x2A
)

// x decodes a hex literal; spaces are ignored so that fields can be grouped for the reader.
func x(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(fmt.Sprintf("bad hex literal %q: %v", s, err))
	}
	return b
}

// str encodes an MQTT UTF-8 string or binary data: a two-byte big-endian length, then the bytes.
func str(s string) []byte {
	b := make([]byte, 2, 2+len(s))
	binary.BigEndian.PutUint16(b, uint16(len(s)))
	return append(b, s...)
}

func u16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// vbi encodes a Variable Byte Integer [MQTT-1.5.5].
func vbi(n int) []byte {
	var b []byte
	for {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if n == 0 {
			return b
		}
	}
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// pkt builds a control packet: the first byte, the remaining length, the body.
func pkt(first byte, body ...[]byte) []byte {
	bd := cat(body...)
	return cat([]byte{first}, vbi(len(bd)), bd)
}

// props builds a v5 property block: its length, then the properties.
func props(p ...[]byte) []byte {
	bd := cat(p...)
	return cat(vbi(len(bd)), bd)
}

func pByte(id, v byte) []byte            { return []byte{id, v} }
func pU16(id byte, v uint16) []byte      { return cat([]byte{id}, u16(v)) }
func pU32(id byte, v uint32) []byte      { return cat([]byte{id}, u32(v)) }
func pVBI(id byte, v int) []byte         { return cat([]byte{id}, vbi(v)) }
func pStr(id byte, s string) []byte      { return cat([]byte{id}, str(s)) }
func pUser(key, value string) []byte     { return cat([]byte{propUserProperty}, str(key), str(value)) }
func subOpts(qos byte, more byte) []byte { return []byte{qos | more} }

// Subscription option bits [MQTT 5.0 §3.8.3.1].
const (
	optNoLocal           byte = 0x04
	optRetainAsPublished byte = 0x08
	optRetainHandling1   byte = 0x10
	optRetainHandling2   byte = 0x20
)

// connectPkt builds a CONNECT. p5 is the v5 property block (nil → empty block); payload is the client id followed by
// whatever the flags announce.
func connectPkt(level, flags byte, keepAlive uint16, p5 []byte, payload ...[]byte) []byte {
	name := "MQTT"
	if level == v31 {
		name = "MQIsdp"
	}
	var pr []byte
	if level == v5 {
		pr = p5
		if pr == nil {
			pr = []byte{0}
		}
	}
	return pkt(0x10, str(name), []byte{level, flags}, u16(keepAlive), pr, cat(payload...))
}

// connectClean builds the usual CONNECT: clean session, keep alive 60 s, no properties.
func connectClean(level byte, id string) []byte {
	return connectPkt(level, flagClean, 60, nil, str(id))
}

// publishPkt builds a PUBLISH. pid is written only for QoS > 0; p5 only for v5 (nil → empty block).
func publishPkt(level byte, qos byte, retain, dup bool, topic string, pid uint16, p5 []byte, payload string) []byte {
	first := byte(0x30) | qos<<1
	if retain {
		first |= 0x01
	}
	if dup {
		first |= 0x08
	}
	var id []byte
	if qos > 0 {
		id = u16(pid)
	}
	var pr []byte
	if level == v5 {
		pr = p5
		if pr == nil {
			pr = []byte{0}
		}
	}
	return pkt(first, str(topic), id, pr, []byte(payload))
}

// subscribePkt builds a SUBSCRIBE with one or more (filter, options byte) pairs.
func subscribePkt(level byte, pid uint16, p5 []byte, filters ...any) []byte {
	var body []byte
	for i := 0; i < len(filters); i += 2 {
		body = append(body, str(filters[i].(string))...)
		body = append(body, filters[i+1].(byte))
	}
	var pr []byte
	if level == v5 {
		pr = p5
		if pr == nil {
			pr = []byte{0}
		}
	}
	return pkt(0x82, u16(pid), pr, body)
}

// unsubscribePkt builds an UNSUBSCRIBE.
func unsubscribePkt(level byte, pid uint16, filters ...string) []byte {
	var body []byte
	for _, f := range filters {
		body = append(body, str(f)...)
	}
	var pr []byte
	if level == v5 {
		pr = []byte{0}
	}
	return pkt(0xA2, u16(pid), pr, body)
}

// ack builds PUBACK (0x40), PUBREC (0x50), PUBREL (0x62), PUBCOMP (0x70) in their shortest form.
func ack(first byte, pid uint16) []byte { return pkt(first, u16(pid)) }

// ackRC builds a v5 acknowledgement with a reason code and no properties.
func ackRC(first byte, pid uint16, rc byte) []byte { return pkt(first, u16(pid), []byte{rc}) }

var (
	pingreq      = x("c0 00")
	pingresp     = x("d0 00")
	disconnect   = x("e0 00")
	connackOK311 = x("20 02 00 00")
)

// disconnect5 builds a v5 DISCONNECT with a reason code and optional properties.
func disconnect5(rc byte, p ...[]byte) []byte {
	if len(p) == 0 {
		return pkt(0xE0, []byte{rc})
	}
	return pkt(0xE0, []byte{rc}, props(p...))
}

// prop is one decoded v5 property; val holds its encoded value (strings keep their length prefix).
type prop struct {
	id  byte
	val []byte
}

// propKinds gives each property's value shape: 1, 2, 4 bytes, 'v' variable byte integer, 's' string or binary,
// 'p' string pair.
var propKinds = map[byte]byte{
	0x01: 1, 0x02: 4, 0x03: 's', 0x08: 's', 0x09: 's', 0x0B: 'v', 0x11: 4, 0x12: 's', 0x13: 2, 0x15: 's',
	0x16: 's', 0x17: 1, 0x18: 4, 0x19: 1, 0x1A: 's', 0x1C: 's', 0x1F: 's', 0x21: 2, 0x22: 2, 0x23: 2,
	0x24: 1, 0x25: 1, 0x26: 'p', 0x27: 4, 0x28: 1, 0x29: 1, 0x2A: 1,
}

// parseProps reads a v5 property block at the start of b and returns the properties in wire order and the rest.
func parseProps(b []byte) ([]prop, []byte, error) {
	n, used, err := readVBI(b)
	if err != nil {
		return nil, nil, err
	}
	b = b[used:]
	if n > len(b) {
		return nil, nil, fmt.Errorf("property length %d beyond packet (%d)", n, len(b))
	}
	blk, rest := b[:n], b[n:]
	var out []prop
	for len(blk) > 0 {
		id := blk[0]
		kind, ok := propKinds[id]
		if !ok {
			return nil, nil, fmt.Errorf("unknown property 0x%02x", id)
		}
		blk = blk[1:]
		var l int
		switch kind {
		case 1, 2, 4:
			l = int(kind)
		case 'v':
			_, l, err = readVBI(blk)
			if err != nil {
				return nil, nil, err
			}
		case 's':
			if len(blk) < 2 {
				return nil, nil, fmt.Errorf("short property 0x%02x", id)
			}
			l = 2 + int(binary.BigEndian.Uint16(blk))
		case 'p':
			if len(blk) < 2 {
				return nil, nil, fmt.Errorf("short property 0x%02x", id)
			}
			k := 2 + int(binary.BigEndian.Uint16(blk))
			if len(blk) < k+2 {
				return nil, nil, fmt.Errorf("short property 0x%02x", id)
			}
			l = k + 2 + int(binary.BigEndian.Uint16(blk[k:]))
		}
		if l > len(blk) {
			return nil, nil, fmt.Errorf("short property 0x%02x", id)
		}
		out = append(out, prop{id, blk[:l]})
		blk = blk[l:]
	}
	return out, rest, nil
}

func readVBI(b []byte) (n, used int, err error) {
	mul := 1
	for i := 0; i < 4; i++ {
		if i >= len(b) {
			return 0, 0, fmt.Errorf("short variable byte integer")
		}
		n += int(b[i]&0x7F) * mul
		mul *= 128
		if b[i]&0x80 == 0 {
			return n, i + 1, nil
		}
	}
	return 0, 0, fmt.Errorf("variable byte integer over 4 bytes")
}

// find returns the first property with the id, and whether it was there.
func find(ps []prop, id byte) (prop, bool) {
	for _, p := range ps {
		if p.id == id {
			return p, true
		}
	}
	return prop{}, false
}

// count returns how many properties carry the id.
func count(ps []prop, id byte) int {
	n := 0
	for _, p := range ps {
		if p.id == id {
			n++
		}
	}
	return n
}

// num returns a numeric property value (1, 2, 4 bytes or a variable byte integer).
func (p prop) num() int {
	switch propKinds[p.id] {
	case 1:
		return int(p.val[0])
	case 2:
		return int(binary.BigEndian.Uint16(p.val))
	case 4:
		return int(binary.BigEndian.Uint32(p.val))
	case 'v':
		n, _, _ := readVBI(p.val)
		return n
	}
	return -1
}

// text returns a string property's value without its length prefix.
func (p prop) text() string { return string(p.val[2:]) }

// publish is a decoded PUBLISH.
type publish struct {
	first   byte
	dup     bool
	qos     byte
	retain  bool
	topic   string
	pid     uint16
	props   []prop
	payload string
}

// parsePublish decodes a whole PUBLISH packet (fixed header included) of the given level.
func parsePublish(b []byte, level byte) (publish, error) {
	if len(b) < 2 || b[0]>>4 != 3 {
		return publish{}, fmt.Errorf("not a PUBLISH: % x", b)
	}
	p := publish{first: b[0], dup: b[0]&0x08 != 0, qos: b[0] >> 1 & 3, retain: b[0]&1 != 0}
	_, used, err := readVBI(b[1:])
	if err != nil {
		return p, err
	}
	body := b[1+used:]
	if len(body) < 2 {
		return p, fmt.Errorf("short PUBLISH: % x", b)
	}
	tl := int(binary.BigEndian.Uint16(body))
	if len(body) < 2+tl {
		return p, fmt.Errorf("short PUBLISH topic: % x", b)
	}
	p.topic, body = string(body[2:2+tl]), body[2+tl:]
	if p.qos > 0 {
		if len(body) < 2 {
			return p, fmt.Errorf("PUBLISH without packet id: % x", b)
		}
		p.pid, body = binary.BigEndian.Uint16(body), body[2:]
	}
	if level == v5 {
		p.props, body, err = parseProps(body)
		if err != nil {
			return p, err
		}
	}
	p.payload = string(body)
	return p, nil
}

// reply is a decoded v5 acknowledgement, CONNACK, SUBACK, UNSUBACK or DISCONNECT: whatever follows the packet id
// (if any) is a reason code (default 0x00 when omitted) and a property block (default empty).
type reply struct {
	first   byte
	pid     uint16
	reasons []byte // CONNACK: [session present, code]; SUBACK/UNSUBACK: one per filter; others: one
	props   []prop
}

// parseReply decodes b (a whole packet) as a v5 reply; hasPID says whether the variable header starts with a packet
// id and many says whether reason codes form a list (SUBACK/UNSUBACK).
func parseReply(b []byte, level byte) (reply, error) {
	r := reply{first: b[0]}
	_, used, err := readVBI(b[1:])
	if err != nil {
		return r, err
	}
	body := b[1+used:]
	typ := b[0] >> 4
	switch typ {
	case 2: // CONNACK
		if len(body) < 2 {
			return r, fmt.Errorf("short CONNACK % x", b)
		}
		r.reasons, body = body[:2], body[2:]
		if level == v5 {
			r.props, body, err = parseProps(body)
		}
	case 4, 5, 6, 7: // PUBACK, PUBREC, PUBREL, PUBCOMP
		if len(body) < 2 {
			return r, fmt.Errorf("short ack % x", b)
		}
		r.pid, body = binary.BigEndian.Uint16(body), body[2:]
		r.reasons = []byte{0}
		if len(body) > 0 {
			r.reasons[0], body = body[0], body[1:]
			if len(body) > 0 {
				r.props, body, err = parseProps(body)
			}
		}
	case 9, 11: // SUBACK, UNSUBACK
		if len(body) < 2 {
			return r, fmt.Errorf("short ack % x", b)
		}
		r.pid, body = binary.BigEndian.Uint16(body), body[2:]
		if level == v5 {
			r.props, body, err = parseProps(body)
			if err != nil {
				return r, err
			}
		}
		r.reasons, body = body, nil
	case 14: // DISCONNECT
		r.reasons = []byte{0}
		if len(body) > 0 {
			r.reasons[0], body = body[0], body[1:]
			if len(body) > 0 {
				r.props, body, err = parseProps(body)
			}
		}
	default:
		return r, fmt.Errorf("not a reply packet: % x", b)
	}
	if err != nil {
		return r, err
	}
	if len(body) != 0 {
		return r, fmt.Errorf("trailing bytes % x in % x", body, b)
	}
	return r, nil
}
