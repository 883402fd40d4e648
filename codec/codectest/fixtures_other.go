package codectest

import "loopmq/codec"

var otherFixtures = []Fixture{
	{Name: "pingreq v3.1.1", Rule: "§3.12", Version: v311, Raw: cat(0xC0, 0), Packet: &Ping{codec.TypePingreq}},
	{Name: "pingreq v3.1", Rule: "3.1 §3.12", Version: v31, Raw: cat(0xC0, 0), Packet: &Ping{codec.TypePingreq}},
	{Name: "pingreq v5", Rule: "§3.12", Version: v5, Raw: cat(0xC0, 0), Packet: &Ping{codec.TypePingreq}},
	{Name: "pingresp v3.1.1", Rule: "§3.13", Version: v311, Raw: cat(0xD0, 0), Packet: &Ping{codec.TypePingresp}},
	{Name: "pingresp v5", Rule: "§3.13", Version: v5, Raw: cat(0xD0, 0), Packet: &Ping{codec.TypePingresp}},
	{Name: "pingreq with a body", Rule: "§3.12", Version: v311, Raw: cat(0xC0, 1, 0), Err: codec.ErrPacketLength},
	{Name: "pingreq with a flag set", Rule: "MQTT-2.2.2-1", Version: v311, Raw: cat(0xC1, 0), Err: codec.ErrReservedFlags},
	{Name: "pingresp with a body", Rule: "§3.13", Version: v5, Raw: cat(0xD0, 2, 0, 0), Err: codec.ErrPacketLength},

	{Name: "disconnect v3.1.1", Rule: "§3.14", Version: v311, Raw: cat(0xE0, 0), Packet: &codec.Disconnect{}},
	{Name: "disconnect v3.1", Rule: "3.1 §3.14", Version: v31, Raw: cat(0xE0, 0), Packet: &codec.Disconnect{}},
	{Name: "disconnect v5 normal in short form", Rule: "§3.14.2.1", Version: v5, Raw: cat(0xE0, 0), Packet: &codec.Disconnect{}},
	{Name: "disconnect v5 with will message", Rule: "§3.14.2.1", Version: v5, Raw: cat(0xE0, 1, 0x04),
		Packet: &codec.Disconnect{Reason: codec.DisconnectWithWill}},
	{Name: "disconnect v5 normal with empty properties", Rule: "§3.14.2.2", Version: v5, Raw: cat(0xE0, 2, 0, 0),
		Packet: &codec.Disconnect{}, NonCanonical: true},
	{Name: "disconnect v5 session expiry and reason string", Rule: "§3.14.2.2", Version: v5,
		Raw: pkt(0xE0, 0x8E, props(0x11, u32(0), 0x1C, str("other:1883"), 0x1F, str("bye"))),
		Packet: &codec.Disconnect{Reason: codec.SessionTakenOver, Props: codec.Properties{
			Present:      has(codec.PropSessionExpiry, codec.PropReasonString, codec.PropServerReference),
			ReasonString: bs("bye"), ServerReference: bs("other:1883")}}},
	{Name: "disconnect v3.1.1 with a body", Rule: "§3.14", Version: v311, Raw: cat(0xE0, 1, 0), Err: codec.ErrPacketLength},
	{Name: "disconnect with a flag set", Rule: "MQTT-3.14.1-1", Version: v311, Raw: cat(0xE2, 0), Err: codec.ErrReservedFlags},
	{Name: "disconnect v5 reason code of CONNACK", Rule: "§3.14.2.1", Version: v5, Raw: cat(0xE0, 1, 0x85),
		Err: codec.ErrReasonCode},
	{Name: "disconnect v5 will delay not allowed", Rule: "§2.2.2.2", Version: v5, Raw: pkt(0xE0, 0, props(0x18, u32(1))),
		Err: codec.ErrPropertyNotAllowed},
	{Name: "disconnect v5 property length past the end", Rule: "§2.2.2.1", Version: v5, Raw: cat(0xE0, 2, 0, 9),
		Err: codec.ErrPropertyLength},

	{Name: "auth v5 success in short form", Rule: "§3.15.2.1", Version: v5, Raw: cat(0xF0, 0), Packet: &codec.Auth{}},
	{Name: "auth v5 continue authentication", Rule: "§3.15.2.2", Version: v5,
		Raw: pkt(0xF0, 0x18, props(0x15, str("SCRAM-SHA-1"), 0x16, str("\x01\x02"))),
		Packet: &codec.Auth{Reason: codec.ContinueAuthentication, Props: codec.Properties{
			Present: has(codec.PropAuthMethod, codec.PropAuthData), AuthMethod: bs("SCRAM-SHA-1"), AuthData: []byte{1, 2}}}},
	{Name: "auth v5 re-authenticate", Rule: "§3.15.2.1", Version: v5, Raw: cat(0xF0, 1, 0x19),
		Packet: &codec.Auth{Reason: codec.ReAuthenticate}},
	{Name: "auth in v3.1.1 is reserved", Rule: "§2.2.1", Version: v311, Raw: cat(0xF0, 0), Err: codec.ErrAuthV3},
	{Name: "auth v5 reason code of DISCONNECT", Rule: "MQTT-3.15.2-1", Version: v5, Raw: cat(0xF0, 1, 0x04), Err: codec.ErrReasonCode},
	{Name: "auth with a flag set", Rule: "MQTT-3.15.1-1", Version: v5, Raw: cat(0xF1, 0), Err: codec.ErrReservedFlags},
	{Name: "auth v5 session expiry not allowed", Rule: "§2.2.2.2", Version: v5, Raw: pkt(0xF0, 0x18, props(0x11, u32(1))),
		Err: codec.ErrPropertyNotAllowed},

	{Name: "reserved packet type 0", Rule: "§2.1.2", Version: v311, Raw: cat(0x00, 0), Err: codec.ErrReservedType},
	{Name: "reserved packet type 0 in v5", Rule: "§2.1.2", Version: v5, Raw: cat(0x00, 0), Err: codec.ErrReservedType},
	{Name: "remaining length of 5 bytes", Rule: "§1.5.5", Version: v311, Raw: cat(0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F),
		Err: codec.ErrMalformedRemainingLength},
}
