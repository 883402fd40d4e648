package codec

// ReasonCode is an MQTT 5 reason code, or an MQTT 3 CONNACK return code or SUBACK return code.
// Several names share a value where the specification gives one value several meanings.
type ReasonCode byte

// MQTT 5.0 reason codes (§2.4).
const (
	Success                             ReasonCode = 0x00
	NormalDisconnection                 ReasonCode = 0x00
	GrantedQoS0                         ReasonCode = 0x00
	GrantedQoS1                         ReasonCode = 0x01
	GrantedQoS2                         ReasonCode = 0x02
	DisconnectWithWill                  ReasonCode = 0x04
	NoMatchingSubscribers               ReasonCode = 0x10
	NoSubscriptionExisted               ReasonCode = 0x11
	ContinueAuthentication              ReasonCode = 0x18
	ReAuthenticate                      ReasonCode = 0x19
	UnspecifiedError                    ReasonCode = 0x80
	MalformedPacket                     ReasonCode = 0x81
	ProtocolError                       ReasonCode = 0x82
	ImplementationSpecificError         ReasonCode = 0x83
	UnsupportedProtocolVersion          ReasonCode = 0x84
	ClientIdentifierNotValid            ReasonCode = 0x85
	BadUserNameOrPassword               ReasonCode = 0x86
	NotAuthorized                       ReasonCode = 0x87
	ServerUnavailable                   ReasonCode = 0x88
	ServerBusy                          ReasonCode = 0x89
	Banned                              ReasonCode = 0x8A
	ServerShuttingDown                  ReasonCode = 0x8B
	BadAuthenticationMethod             ReasonCode = 0x8C
	KeepAliveTimeout                    ReasonCode = 0x8D
	SessionTakenOver                    ReasonCode = 0x8E
	TopicFilterInvalid                  ReasonCode = 0x8F
	TopicNameInvalid                    ReasonCode = 0x90
	PacketIdentifierInUse               ReasonCode = 0x91
	PacketIdentifierNotFound            ReasonCode = 0x92
	ReceiveMaximumExceeded              ReasonCode = 0x93
	TopicAliasInvalid                   ReasonCode = 0x94
	PacketTooLarge                      ReasonCode = 0x95
	MessageRateTooHigh                  ReasonCode = 0x96
	QuotaExceeded                       ReasonCode = 0x97
	AdministrativeAction                ReasonCode = 0x98
	PayloadFormatInvalid                ReasonCode = 0x99
	RetainNotSupported                  ReasonCode = 0x9A
	QoSNotSupported                     ReasonCode = 0x9B
	UseAnotherServer                    ReasonCode = 0x9C
	ServerMoved                         ReasonCode = 0x9D
	SharedSubscriptionsNotSupported     ReasonCode = 0x9E
	ConnectionRateExceeded              ReasonCode = 0x9F
	MaximumConnectTime                  ReasonCode = 0xA0
	SubscriptionIdentifiersNotSupported ReasonCode = 0xA1
	WildcardSubscriptionsNotSupported   ReasonCode = 0xA2
)

// MQTT 3.1 and 3.1.1 CONNACK return codes (3.1.1 §3.2.2.3) and the SUBACK failure code (§3.9.3).
const (
	ConnAccepted                  ReasonCode = 0x00
	ConnRefusedProtocolVersion    ReasonCode = 0x01
	ConnRefusedIdentifierRejected ReasonCode = 0x02
	ConnRefusedServerUnavailable  ReasonCode = 0x03
	ConnRefusedBadUserOrPassword  ReasonCode = 0x04
	ConnRefusedNotAuthorized      ReasonCode = 0x05
	SubackFailure                 ReasonCode = 0x80
)

var reasonNames = map[ReasonCode]string{
	0x00: "success", 0x01: "granted QoS 1", 0x02: "granted QoS 2", 0x04: "disconnect with will message",
	0x10: "no matching subscribers", 0x11: "no subscription existed", 0x18: "continue authentication",
	0x19: "re-authenticate", 0x80: "unspecified error", 0x81: "malformed packet", 0x82: "protocol error",
	0x83: "implementation specific error", 0x84: "unsupported protocol version",
	0x85: "client identifier not valid", 0x86: "bad user name or password", 0x87: "not authorized",
	0x88: "server unavailable", 0x89: "server busy", 0x8A: "banned", 0x8B: "server shutting down",
	0x8C: "bad authentication method", 0x8D: "keep alive timeout", 0x8E: "session taken over",
	0x8F: "topic filter invalid", 0x90: "topic name invalid", 0x91: "packet identifier in use",
	0x92: "packet identifier not found", 0x93: "receive maximum exceeded", 0x94: "topic alias invalid",
	0x95: "packet too large", 0x96: "message rate too high", 0x97: "quota exceeded",
	0x98: "administrative action", 0x99: "payload format invalid", 0x9A: "retain not supported",
	0x9B: "QoS not supported", 0x9C: "use another server", 0x9D: "server moved",
	0x9E: "shared subscriptions not supported", 0x9F: "connection rate exceeded",
	0xA0: "maximum connect time", 0xA1: "subscription identifiers not supported",
	0xA2: "wildcard subscriptions not supported",
}

// String returns the MQTT 5 name of the code in words, e.g. "malformed packet".
func (r ReasonCode) String() string {
	if s, ok := reasonNames[r]; ok {
		return s
	}
	return "reason code 0x" + hex2(byte(r))
}

// IsError reports whether the code signals a failure (0x80 and above).
func (r ReasonCode) IsError() bool { return r >= 0x80 }

// ConnackV3 maps an MQTT 5 CONNACK reason code to the MQTT 3 CONNACK return code closest in meaning.
// ok is false where MQTT 3 has no way to say it (then the server should close without a CONNACK,
// or answer ConnRefusedServerUnavailable as the v3 catch-all).
func ConnackV3(r ReasonCode) (code ReasonCode, ok bool) {
	switch r {
	case Success:
		return ConnAccepted, true
	case UnsupportedProtocolVersion:
		return ConnRefusedProtocolVersion, true
	case ClientIdentifierNotValid:
		return ConnRefusedIdentifierRejected, true
	case ServerUnavailable, ServerBusy, ServerShuttingDown, UseAnotherServer, ServerMoved,
		ConnectionRateExceeded, QuotaExceeded:
		return ConnRefusedServerUnavailable, true
	case BadUserNameOrPassword, BadAuthenticationMethod:
		return ConnRefusedBadUserOrPassword, true
	case NotAuthorized, Banned:
		return ConnRefusedNotAuthorized, true
	}
	return 0, false
}

// reasonSet is a 256-bit set of reason codes that one packet type may carry.
type reasonSet [4]uint64

func newReasonSet(codes ...ReasonCode) reasonSet {
	var s reasonSet
	for _, c := range codes {
		s[c>>6] |= 1 << (c & 63)
	}
	return s
}

func (s *reasonSet) has(c ReasonCode) bool { return s[c>>6]&(1<<(c&63)) != 0 }

// The reason codes each MQTT 5 packet may carry (§3.2.2.2, §3.4.2.1, ..., §3.15.2.1).
var (
	connackReasons = newReasonSet(0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A,
		0x8C, 0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F)
	pubackReasons  = newReasonSet(0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99) // PUBACK, PUBREC
	pubrelReasons  = newReasonSet(0x00, 0x92)                                           // PUBREL, PUBCOMP
	subackReasons  = newReasonSet(0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2)
	subackReasons3 = newReasonSet(0x00, 0x01, 0x02, 0x80)
	unsubackReason = newReasonSet(0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91)
	disconnReasons = newReasonSet(0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F,
		0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2)
	authReasons = newReasonSet(0x00, 0x18, 0x19)
)

func hex2(b byte) string {
	const digits = "0123456789ABCDEF"
	return string([]byte{digits[b>>4], digits[b&15]})
}
