package codec

// Error is a violation of the MQTT specification found while parsing a packet. Code is the MQTT 5
// reason code the receiver answers with (in a CONNACK or DISCONNECT; MQTT 3 connections are simply
// closed, except for CONNECT errors that MQTT 3 answers with a CONNACK return code, see ConnackV3).
// Rule names the normative statement ("MQTT-3.3.2-2") or, where the specification has none, the
// section ("§2.2.3") that was broken.
//
// Every error this package returns is one of the package-level *Error values below, so returning one
// never allocates and callers may compare with ==, errors.Is, or use errors.As to get the code.
type Error struct {
	Code ReasonCode
	Rule string
	Msg  string
}

// Error formats the error as "reason: what was wrong [rule]".
func (e *Error) Error() string {
	return e.Code.String() + ": " + e.Msg + " [" + e.Rule + "]"
}

// Framing errors, reported by Peek or by any Decode.
var (
	ErrPacketTooLarge            = &Error{PacketTooLarge, "MQTT-3.2.2-15", "packet exceeds the maximum packet size"}
	ErrMalformedRemainingLength  = &Error{MalformedPacket, "§1.5.5", "variable byte integer longer than 4 bytes"}
	ErrRemainingLengthNotMinimal = &Error{MalformedPacket, "MQTT-1.5.5-1", "variable byte integer not encoded in the minimum number of bytes"}
	ErrReservedType              = &Error{MalformedPacket, "§2.1.2", "reserved control packet type 0"}
	ErrReservedFlags             = &Error{MalformedPacket, "MQTT-2.2.2-1", "reserved fixed header flags have the wrong value"}
	ErrQoS3                      = &Error{MalformedPacket, "MQTT-3.3.1-4", "PUBLISH with QoS 3"}
	ErrDupQoS0                   = &Error{MalformedPacket, "MQTT-3.3.1-2", "PUBLISH with DUP set and QoS 0"}
	ErrPacketLength              = &Error{MalformedPacket, "§2.1.4", "remaining length wrong for this packet type"}
	ErrTruncated                 = &Error{MalformedPacket, "§1.5", "field runs past the end of the packet"}
	ErrTrailingBytes             = &Error{MalformedPacket, "§2.1.4", "bytes left over after the last field"}
	ErrWrongType                 = &Error{MalformedPacket, "§2.1.2", "packet type does not match the decoder"}
	ErrAuthV3                    = &Error{MalformedPacket, "§2.2.1", "AUTH is a reserved packet type before MQTT 5"}
	ErrMalformedVarint           = &Error{MalformedPacket, "§1.5.5", "malformed variable byte integer"}
)

// String and identifier errors.
var (
	ErrBadUTF8      = &Error{MalformedPacket, "MQTT-1.5.4-1", "ill-formed UTF-8 or a surrogate in a UTF-8 string"}
	ErrNullInString = &Error{MalformedPacket, "MQTT-1.5.4-2", "U+0000 in UTF-8 string"}
	ErrPacketIDZero = &Error{ProtocolError, "MQTT-2.3.1-1", "packet identifier 0 where a non-zero one is required"}
)

// CONNECT errors.
var (
	ErrProtocolName            = &Error{UnsupportedProtocolVersion, "MQTT-3.1.2-1", "protocol name is neither \"MQTT\" nor \"MQIsdp\""}
	ErrProtocolVersion         = &Error{UnsupportedProtocolVersion, "MQTT-3.1.2-2", "unsupported protocol level for this protocol name"}
	ErrConnectReservedFlag     = &Error{MalformedPacket, "MQTT-3.1.2-3", "CONNECT reserved flag is not 0"}
	ErrWillFlags               = &Error{MalformedPacket, "MQTT-3.1.2-11", "will QoS or will retain set without the will flag"}
	ErrWillQoS3                = &Error{MalformedPacket, "MQTT-3.1.2-12", "will QoS 3"}
	ErrPasswordWithoutUsername = &Error{ProtocolError, "MQTT-3.1.2-22", "password flag set without the user name flag (MQTT 3)"}
	ErrAuthDataWithoutMethod   = &Error{ProtocolError, "§3.1.2.11.10", "authentication data without an authentication method"}
	ErrConnackReservedFlags    = &Error{MalformedPacket, "MQTT-3.2.2-1", "CONNACK acknowledge flags bits 7-1 are not 0"}
	ErrSessionPresentOnError   = &Error{ProtocolError, "MQTT-3.2.2-6", "session present set with a non-zero CONNACK code"}
)

// PUBLISH, SUBSCRIBE and UNSUBSCRIBE errors.
var (
	ErrTopicWildcard     = &Error{TopicNameInvalid, "MQTT-3.3.2-2", "wildcard character in a topic name"}
	ErrTopicEmpty        = &Error{ProtocolError, "MQTT-4.7.3-1", "empty topic name (and no topic alias)"}
	ErrPayloadFormat     = &Error{PayloadFormatInvalid, "§3.3.2.3.2", "payload format indicator 1 with a payload that is not UTF-8"}
	ErrSubIDFromClient   = &Error{ProtocolError, "MQTT-3.3.4-6", "subscription identifier in a PUBLISH sent by a client"}
	ErrNoSubscriptions   = &Error{ProtocolError, "MQTT-3.8.3-3", "SUBSCRIBE without a topic filter"}
	ErrNoUnsubscriptions = &Error{ProtocolError, "MQTT-3.10.3-2", "UNSUBSCRIBE without a topic filter"}
	ErrFilterEmpty       = &Error{ProtocolError, "MQTT-4.7.3-1", "empty topic filter"}
	ErrSubOptions        = &Error{MalformedPacket, "MQTT-3.8.3-5", "reserved bits of the subscription options are not 0"}
	ErrSubQoS3           = &Error{MalformedPacket, "MQTT-3.8.3-4", "requested QoS 3"}
	ErrRetainHandling    = &Error{ProtocolError, "§3.8.3.1", "retain handling 3"}
	ErrNoLocalShared     = &Error{ProtocolError, "MQTT-3.8.3-4", "no local set on a shared subscription"}
)

// Acknowledgement errors.
var (
	ErrReasonCode = &Error{ProtocolError, "§2.4", "reason code not allowed in this packet"}
	ErrNoReasons  = &Error{ProtocolError, "§3.9.3", "SUBACK or UNSUBACK without reason codes"}
)

// Property errors (MQTT 5 §2.2.2).
var (
	ErrPropertyNotAllowed    = &Error{MalformedPacket, "§2.2.2.2", "property not allowed in this packet"}
	ErrUnknownProperty       = &Error{MalformedPacket, "§2.2.2.2", "unknown property identifier"}
	ErrDuplicateProperty     = &Error{ProtocolError, "§2.2.2.2", "property that may appear once appears twice"}
	ErrPropertyLength        = &Error{MalformedPacket, "§2.2.2.1", "property length runs past the end of the packet"}
	ErrPropertyBoolean       = &Error{ProtocolError, "§3.1.2.11", "property value other than 0 or 1"}
	ErrReceiveMaximumZero    = &Error{ProtocolError, "§3.1.2.11.3", "receive maximum 0"}
	ErrMaximumPacketSizeZero = &Error{ProtocolError, "§3.1.2.11.4", "maximum packet size 0"}
	ErrSubscriptionIDZero    = &Error{ProtocolError, "§3.8.2.1.2", "subscription identifier 0"}
	ErrTopicAliasZero        = &Error{TopicAliasInvalid, "MQTT-3.3.2-8", "topic alias 0"}
	ErrResponseTopic         = &Error{ProtocolError, "MQTT-3.3.2-14", "wildcard character in a response topic"}
)
