package codectest

import "loopmq/codec"

// Fixture is one packet on the wire with what it means.
type Fixture struct {
	Name    string
	Rule    string        // the specification clause the fixture shows
	Version codec.Version // the protocol version the connection speaks
	Raw     []byte        // the whole packet
	// Err is the error decoding Raw must return; nil for a valid packet.
	Err *codec.Error
	// Packet is the decoded value of a valid packet, as Parse returns it.
	Packet any
	// NonCanonical marks a valid packet that the encoder writes differently (for example a longer
	// remaining length, or a reason code that could have been left out).
	NonCanonical bool
}

// All returns every fixture: valid and invalid, every packet type, every protocol version.
// The slices are shared; callers must not modify them.
func All() []Fixture {
	var all []Fixture
	all = append(all, connectFixtures...)
	all = append(all, connackFixtures...)
	all = append(all, publishFixtures...)
	all = append(all, ackFixtures...)
	all = append(all, subscribeFixtures...)
	all = append(all, otherFixtures...)
	return all
}

const (
	v31  = codec.V31
	v311 = codec.V311
	v5   = codec.V5
)

var connectFixtures = []Fixture{
	{
		Name: "connect v3.1.1 minimal clean session", Rule: "§3.1", Version: v311,
		Raw:    pkt(0x10, str("MQTT"), 4, 0x02, u16(60), str("")),
		Packet: &codec.Connect{ProtocolName: bs("MQTT"), Version: v311, CleanStart: true, KeepAlive: 60},
	},
	{
		Name: "connect v3.1.1 will, user name and password", Rule: "§3.1.3", Version: v311,
		Raw: pkt(0x10, str("MQTT"), 4, 0xEE, u16(30), str("client-1"), str("will/topic"), str("bye"),
			str("user"), str("pw")),
		Packet: &codec.Connect{ProtocolName: bs("MQTT"), Version: v311, CleanStart: true, KeepAlive: 30,
			ClientID: bs("client-1"), WillFlag: true, WillQoS: 1, WillRetain: true, WillTopic: bs("will/topic"),
			WillPayload: bs("bye"), UsernameFlag: true, Username: bs("user"), PasswordFlag: true, Password: bs("pw")},
	},
	{
		Name: "connect v3.1.1 will QoS 2 without retain", Rule: "MQTT-3.1.2-14", Version: v311,
		Raw: pkt(0x10, str("MQTT"), 4, 0x14, u16(0), str("c"), str("w"), str("")),
		Packet: &codec.Connect{ProtocolName: bs("MQTT"), Version: v311, ClientID: bs("c"), WillFlag: true,
			WillQoS: 2, WillTopic: bs("w")},
	},
	{
		Name: "connect v3.1 MQIsdp", Rule: "3.1 §3.1", Version: v31,
		Raw:    pkt(0x10, str("MQIsdp"), 3, 0x02, u16(60), str("cid")),
		Packet: &codec.Connect{ProtocolName: bs("MQIsdp"), Version: v31, CleanStart: true, KeepAlive: 60, ClientID: bs("cid")},
	},
	{
		Name: "connect v3.1.1 client id with U+FEFF kept", Rule: "MQTT-1.5.4-3", Version: v311,
		Raw:    pkt(0x10, str("MQTT"), 4, 0x00, u16(0), str("\uFEFFid")),
		Packet: &codec.Connect{ProtocolName: bs("MQTT"), Version: v311, ClientID: bs("\uFEFFid")},
	},
	{
		Name: "connect v3.1.1 non-minimal remaining length accepted", Rule: "3.1.1 §2.2.3", Version: v311,
		Raw:          cat(0x10, 0x8C, 0x00, str("MQTT"), 4, 0x02, u16(60), str("")),
		Packet:       &codec.Connect{ProtocolName: bs("MQTT"), Version: v311, CleanStart: true, KeepAlive: 60},
		NonCanonical: true,
	},
	{
		Name: "connect v5 with properties and will properties", Rule: "§3.1.2.11", Version: v5,
		Raw: pkt(0x10, str("MQTT"), 5, 0xC6, u16(10),
			props(0x11, u32(3600), 0x17, 0, 0x19, 1, 0x21, u16(20), 0x22, u16(10), 0x27, u32(1<<20),
				0x26, str("k"), str("v"), 0x26, str("k"), str("w")),
			str("dev"),
			props(0x01, 1, 0x02, u32(60), 0x03, str("text/plain"), 0x08, str("r/t"), 0x09, str("\x00\x01"), 0x18, u32(5)),
			str("lwt"), str("gone"), str("u"), str("p")),
		Packet: &codec.Connect{ProtocolName: bs("MQTT"), Version: v5, CleanStart: true, KeepAlive: 10,
			Props: codec.Properties{
				Present: has(codec.PropSessionExpiry, codec.PropReceiveMaximum, codec.PropTopicAliasMaximum,
					codec.PropMaximumPacketSize, codec.PropRequestProblemInfo, codec.PropRequestResponseInfo, codec.PropUser),
				SessionExpiry: 3600, ReceiveMaximum: 20, TopicAliasMaximum: 10, MaximumPacketSize: 1 << 20,
				RequestResponseInfo: 1,
				User:                []codec.UserProperty{{Key: bs("k"), Value: bs("v")}, {Key: bs("k"), Value: bs("w")}},
			},
			ClientID: bs("dev"), WillFlag: true,
			WillProps: codec.Properties{
				Present: has(codec.PropWillDelay, codec.PropPayloadFormat, codec.PropMessageExpiry,
					codec.PropContentType, codec.PropResponseTopic, codec.PropCorrelationData),
				WillDelay: 5, PayloadFormat: 1, MessageExpiry: 60, ContentType: bs("text/plain"),
				ResponseTopic: bs("r/t"), CorrelationData: []byte{0, 1},
			},
			WillTopic: bs("lwt"), WillPayload: bs("gone"), UsernameFlag: true, Username: bs("u"),
			PasswordFlag: true, Password: bs("p")},
	},
	{
		Name: "connect v5 password without user name is allowed", Rule: "§3.1.2.9", Version: v5,
		Raw: pkt(0x10, str("MQTT"), 5, 0x42, u16(0), props(), str("c"), str("secret")),
		Packet: &codec.Connect{ProtocolName: bs("MQTT"), Version: v5, CleanStart: true, ClientID: bs("c"),
			PasswordFlag: true, Password: bs("secret")},
	},
	{
		Name: "connect v5 enhanced authentication", Rule: "§4.12", Version: v5,
		Raw: pkt(0x10, str("MQTT"), 5, 0x02, u16(0), props(0x15, str("SCRAM"), 0x16, str("abc")), str("c")),
		Packet: &codec.Connect{ProtocolName: bs("MQTT"), Version: v5, CleanStart: true, ClientID: bs("c"),
			Props: codec.Properties{Present: has(codec.PropAuthMethod, codec.PropAuthData),
				AuthMethod: bs("SCRAM"), AuthData: bs("abc")}},
	},
	// Invalid CONNECT packets.
	{Name: "connect wrong protocol name", Rule: "MQTT-3.1.2-1", Version: v311,
		Raw: pkt(0x10, str("MQTX"), 4, 0x02, u16(60), str("c")), Err: codec.ErrProtocolName},
	{Name: "connect unknown protocol level 6", Rule: "MQTT-3.1.2-2", Version: v311,
		Raw: pkt(0x10, str("MQTT"), 6, 0x02, u16(60), str("c")), Err: codec.ErrProtocolVersion},
	{Name: "connect MQTT with level 3", Rule: "MQTT-3.1.2-2", Version: v311,
		Raw: pkt(0x10, str("MQTT"), 3, 0x02, u16(60), str("c")), Err: codec.ErrProtocolVersion},
	{Name: "connect MQIsdp with level 4", Rule: "MQTT-3.1.2-2", Version: v31,
		Raw: pkt(0x10, str("MQIsdp"), 4, 0x02, u16(60), str("c")), Err: codec.ErrProtocolVersion},
	{Name: "connect reserved flag set", Rule: "MQTT-3.1.2-3", Version: v311,
		Raw: pkt(0x10, str("MQTT"), 4, 0x03, u16(60), str("c")), Err: codec.ErrConnectReservedFlag},
	{Name: "connect v5 reserved flag set", Rule: "MQTT-3.1.2-3", Version: v5,
		Raw: pkt(0x10, str("MQTT"), 5, 0x01, u16(60), props(), str("c")), Err: codec.ErrConnectReservedFlag},
	{Name: "connect will QoS without will flag", Rule: "MQTT-3.1.2-13", Version: v311,
		Raw: pkt(0x10, str("MQTT"), 4, 0x0A, u16(60), str("c")), Err: codec.ErrWillFlags},
	{Name: "connect will retain without will flag", Rule: "MQTT-3.1.2-13", Version: v5,
		Raw: pkt(0x10, str("MQTT"), 5, 0x22, u16(60), props(), str("c")), Err: codec.ErrWillFlags},
	{Name: "connect will QoS 3", Rule: "MQTT-3.1.2-14", Version: v311,
		Raw: pkt(0x10, str("MQTT"), 4, 0x1E, u16(60), str("c"), str("w"), str("m")), Err: codec.ErrWillQoS3},
	{Name: "connect v3.1.1 password without user name", Rule: "MQTT-3.1.2-22", Version: v311,
		Raw: pkt(0x10, str("MQTT"), 4, 0x42, u16(60), str("c"), str("pw")), Err: codec.ErrPasswordWithoutUsername},
	{Name: "connect v3.1 password without user name", Rule: "3.1 §3.1", Version: v31,
		Raw: pkt(0x10, str("MQIsdp"), 3, 0x42, u16(60), str("c"), str("pw")), Err: codec.ErrPasswordWithoutUsername},
	{Name: "connect client id with U+0000", Rule: "MQTT-1.5.4-2", Version: v311,
		Raw: pkt(0x10, str("MQTT"), 4, 0x02, u16(60), str("a\x00b")), Err: codec.ErrNullInString},
	{Name: "connect client id ill-formed UTF-8", Rule: "MQTT-1.5.4-1", Version: v311,
		Raw: pkt(0x10, str("MQTT"), 4, 0x02, u16(60), str("a\xffb")), Err: codec.ErrBadUTF8},
	{Name: "connect client id with a surrogate", Rule: "MQTT-1.5.4-1", Version: v5,
		Raw: pkt(0x10, str("MQTT"), 5, 0x02, u16(60), props(), str("\xed\xa0\x80")), Err: codec.ErrBadUTF8},
	{Name: "connect user name with overlong U+0000", Rule: "MQTT-1.5.4-1", Version: v311,
		Raw: pkt(0x10, str("MQTT"), 4, 0x82, u16(60), str("c"), str("\xc0\x80")), Err: codec.ErrBadUTF8},
	{Name: "connect will topic with wildcard", Rule: "MQTT-3.3.2-2", Version: v311,
		Raw: pkt(0x10, str("MQTT"), 4, 0x06, u16(60), str("c"), str("a/#"), str("m")), Err: codec.ErrTopicWildcard},
	{Name: "connect empty will topic", Rule: "MQTT-4.7.3-1", Version: v311,
		Raw: pkt(0x10, str("MQTT"), 4, 0x06, u16(60), str("c"), str(""), str("m")), Err: codec.ErrTopicEmpty},
	{Name: "connect bytes after the payload", Rule: "§3.1.3", Version: v311,
		Raw: pkt(0x10, str("MQTT"), 4, 0x02, u16(60), str("c"), 0x00), Err: codec.ErrTrailingBytes},
	{Name: "connect user name flag without user name", Rule: "MQTT-3.1.2-19", Version: v311,
		Raw: pkt(0x10, str("MQTT"), 4, 0x82, u16(60), str("c")), Err: codec.ErrTruncated},
	{Name: "connect cut inside the keep alive", Rule: "§3.1.2.10", Version: v311,
		Raw: pkt(0x10, str("MQTT"), 4, 0x02, 0), Err: codec.ErrTruncated},
	{Name: "connect v5 authentication data without method", Rule: "§3.1.2.11.10", Version: v5,
		Raw: pkt(0x10, str("MQTT"), 5, 0x02, u16(60), props(0x16, str("x")), str("c")), Err: codec.ErrAuthDataWithoutMethod},
	{Name: "connect v5 topic alias not allowed", Rule: "§2.2.2.2", Version: v5,
		Raw: pkt(0x10, str("MQTT"), 5, 0x02, u16(60), props(0x23, u16(1)), str("c")), Err: codec.ErrPropertyNotAllowed},
	{Name: "connect v5 will delay outside the will", Rule: "§2.2.2.2", Version: v5,
		Raw: pkt(0x10, str("MQTT"), 5, 0x02, u16(60), props(0x18, u32(1)), str("c")), Err: codec.ErrPropertyNotAllowed},
	{Name: "connect v5 session expiry twice", Rule: "§3.1.2.11.2", Version: v5,
		Raw: pkt(0x10, str("MQTT"), 5, 0x02, u16(60), props(0x11, u32(1), 0x11, u32(2)), str("c")), Err: codec.ErrDuplicateProperty},
	{Name: "connect v5 receive maximum 0", Rule: "§3.1.2.11.3", Version: v5,
		Raw: pkt(0x10, str("MQTT"), 5, 0x02, u16(60), props(0x21, u16(0)), str("c")), Err: codec.ErrReceiveMaximumZero},
	{Name: "connect v5 maximum packet size 0", Rule: "§3.1.2.11.4", Version: v5,
		Raw: pkt(0x10, str("MQTT"), 5, 0x02, u16(60), props(0x27, u32(0)), str("c")), Err: codec.ErrMaximumPacketSizeZero},
	{Name: "connect v5 request problem information 2", Rule: "§3.1.2.11.7", Version: v5,
		Raw: pkt(0x10, str("MQTT"), 5, 0x02, u16(60), props(0x17, 2), str("c")), Err: codec.ErrPropertyBoolean},
	{Name: "connect v5 unknown property", Rule: "§2.2.2.2", Version: v5,
		Raw: pkt(0x10, str("MQTT"), 5, 0x02, u16(60), props(0x7F, 0), str("c")), Err: codec.ErrUnknownProperty},
	{Name: "connect v5 session expiry cut short", Rule: "§2.2.2.1", Version: v5,
		Raw: pkt(0x10, str("MQTT"), 5, 0x02, u16(60), props(0x11, 0, 0), str("c")), Err: codec.ErrTruncated},
	{Name: "connect v5 property length past the end", Rule: "§2.2.2.1", Version: v5,
		Raw: pkt(0x10, str("MQTT"), 5, 0x02, u16(60), 0x20, 0x11), Err: codec.ErrPropertyLength},
	{Name: "connect v5 will property not allowed in will", Rule: "§3.1.3.2", Version: v5,
		Raw: pkt(0x10, str("MQTT"), 5, 0x06, u16(60), props(), str("c"), props(0x11, u32(1)), str("w"), str("m")),
		Err: codec.ErrPropertyNotAllowed},
	{Name: "connect v5 non-minimal remaining length", Rule: "MQTT-1.5.5-1", Version: v5,
		Raw: cat(0x10, 0x8E, 0x00, str("MQTT"), 5, 0x02, u16(60), props(), str("c")), Err: codec.ErrRemainingLengthNotMinimal},
}

var connackFixtures = []Fixture{
	{Name: "connack v3.1.1 accepted", Rule: "§3.2", Version: v311, Raw: cat(0x20, 2, 0, 0),
		Packet: &codec.Connack{}},
	{Name: "connack v3.1.1 session present", Rule: "MQTT-3.2.2-2", Version: v311, Raw: cat(0x20, 2, 1, 0),
		Packet: &codec.Connack{SessionPresent: true}},
	{Name: "connack v3.1.1 not authorized", Rule: "§3.2.2.3", Version: v311, Raw: cat(0x20, 2, 0, 5),
		Packet: &codec.Connack{Reason: codec.ConnRefusedNotAuthorized}},
	{Name: "connack v3.1 identifier rejected", Rule: "3.1 §3.2", Version: v31, Raw: cat(0x20, 2, 0, 2),
		Packet: &codec.Connack{Reason: codec.ConnRefusedIdentifierRejected}},
	{Name: "connack v5 success without properties", Rule: "§3.2.2", Version: v5, Raw: cat(0x20, 3, 0, 0, 0),
		Packet: &codec.Connack{}},
	{Name: "connack v5 with server properties", Rule: "§3.2.2.3", Version: v5,
		Raw: pkt(0x20, 1, 0, props(0x11, u32(0), 0x12, str("auto-1"), 0x13, u16(30), 0x1F, str("hi"), 0x21, u16(64), 0x22, u16(16),
			0x24, 1, 0x25, 0, 0x27, u32(65536), 0x28, 1, 0x29, 0, 0x2A, 1)),
		Packet: &codec.Connack{SessionPresent: true, Props: codec.Properties{
			Present: has(codec.PropSessionExpiry, codec.PropAssignedClientID, codec.PropServerKeepAlive,
				codec.PropReceiveMaximum, codec.PropTopicAliasMaximum, codec.PropMaximumQoS, codec.PropRetainAvailable,
				codec.PropMaximumPacketSize, codec.PropWildcardSubAvailable, codec.PropSubIDAvailable,
				codec.PropSharedSubAvailable, codec.PropReasonString),
			AssignedClientID: bs("auto-1"), ServerKeepAlive: 30, ReceiveMaximum: 64, TopicAliasMaximum: 16,
			MaximumQoS: 1, MaximumPacketSize: 65536, WildcardSubAvailable: 1, SharedSubAvailable: 1, ReasonString: bs("hi")}}},
	{Name: "connack v5 unsupported protocol version", Rule: "§3.2.2.2", Version: v5, Raw: cat(0x20, 3, 0, 0x84, 0),
		Packet: &codec.Connack{Reason: codec.UnsupportedProtocolVersion}},
	{Name: "connack v3.1.1 reserved acknowledge flags", Rule: "MQTT-3.2.2-1", Version: v311, Raw: cat(0x20, 2, 2, 0),
		Err: codec.ErrConnackReservedFlags},
	{Name: "connack v3.1.1 session present with refusal", Rule: "MQTT-3.2.2-4", Version: v311, Raw: cat(0x20, 2, 1, 5),
		Err: codec.ErrSessionPresentOnError},
	{Name: "connack v3.1.1 remaining length 3", Rule: "§3.2", Version: v311, Raw: cat(0x20, 3, 0, 0, 0),
		Err: codec.ErrPacketLength},
	{Name: "connack v5 reason code of another packet", Rule: "§3.2.2.2", Version: v5, Raw: cat(0x20, 3, 0, 0x10, 0),
		Err: codec.ErrReasonCode},
	{Name: "connack v5 topic alias not allowed", Rule: "§2.2.2.2", Version: v5, Raw: pkt(0x20, 0, 0, props(0x23, u16(1))),
		Err: codec.ErrPropertyNotAllowed},
	{Name: "connack v5 maximum QoS 2", Rule: "§3.2.2.3.4", Version: v5, Raw: pkt(0x20, 0, 0, props(0x24, 2)),
		Err: codec.ErrPropertyBoolean},
	{Name: "connack flags set in the fixed header", Rule: "MQTT-2.2.2-1", Version: v311, Raw: cat(0x21, 2, 0, 0),
		Err: codec.ErrReservedFlags},
}
