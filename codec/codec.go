// Package codec parses and encodes MQTT 3.1, 3.1.1 and 5.0 control packets without allocating.
//
// Reading a packet is two steps. Peek examines the start of a buffer and reports either how many more
// bytes are needed or the packet's fixed header, so a caller can refuse an oversized packet before
// buffering it. Then the Decode method of the packet's struct (Connect, Publish, Ack, ...) parses
// b[h.Size:h.Len()] and validates it against the specification of the given protocol version.
//
// Decoded []byte fields are views into the buffer that was decoded: they stay valid until the caller
// reuses or discards that buffer (in the broker: until the packet handler returns). Slices inside the
// structs (Subscribe.Subs, Properties.User, ...) keep their capacity across Decode calls, so a struct
// reused per connection or per event loop (see Decoder) decodes with zero allocations in steady
// state. After a Decode error the struct's fields are unspecified, except that Connect keeps
// ProtocolName and Version on ErrProtocolName and ErrProtocolVersion.
//
// Encoding appends a whole packet to a caller-provided buffer (Append methods and Append* functions)
// with a minimal remaining length. Where a field would make the packet invalid and can be clamped or
// left out, the encoder does so (QoS 3, DUP with QoS 0, a property the packet type may not carry, a
// boolean property above 1, Subscription Identifier 0, ...), so what it writes always parses. What it
// cannot repair is the caller's to avoid: an empty SUBSCRIBE, UNSUBSCRIBE or reason-code list, a
// reason code foreign to the packet type, an MQTT 5 PUBLISH with an empty topic and no Topic Alias,
// strings over 65,535 bytes (cut there) or packets over 268,435,455 bytes.
//
// Every error the package returns is one of the package-level *Error values, which carry the MQTT 5
// reason code to answer with and the specification clause that was broken.
package codec

// Version is the MQTT protocol level carried in CONNECT.
type Version byte

// The protocol levels this package speaks.
const (
	V31  Version = 3 // MQTT 3.1, protocol name "MQIsdp"
	V311 Version = 4 // MQTT 3.1.1, protocol name "MQTT"
	V5   Version = 5 // MQTT 5.0, protocol name "MQTT"
)

// String returns the version as people write it, e.g. "3.1.1".
func (v Version) String() string {
	switch v {
	case V31:
		return "3.1"
	case V311:
		return "3.1.1"
	case V5:
		return "5.0"
	}
	return "unknown(" + itoa(int(v)) + ")"
}

// Type is the MQTT control packet type, the high nibble of the first byte.
type Type byte

// The control packet types. They are named Type* because the packet structs own the plain names.
const (
	TypeReserved    Type = 0
	TypeConnect     Type = 1
	TypeConnack     Type = 2
	TypePublish     Type = 3
	TypePuback      Type = 4
	TypePubrec      Type = 5
	TypePubrel      Type = 6
	TypePubcomp     Type = 7
	TypeSubscribe   Type = 8
	TypeSuback      Type = 9
	TypeUnsubscribe Type = 10
	TypeUnsuback    Type = 11
	TypePingreq     Type = 12
	TypePingresp    Type = 13
	TypeDisconnect  Type = 14
	TypeAuth        Type = 15
)

var typeNames = [16]string{
	"RESERVED", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
	"SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH",
}

// String returns the packet type's name as the specification spells it, e.g. "PUBLISH".
func (t Type) String() string {
	if t < 16 {
		return typeNames[t]
	}
	return "invalid(" + itoa(int(t)) + ")"
}

// itoa formats small non-negative numbers without pulling strconv into every String method.
func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
