package codec

// Connect is a CONNECT packet (3.1.1 §3.1, 5.0 §3.1).
type Connect struct {
	// ProtocolName and Version are as received: on ErrProtocolName and ErrProtocolVersion they are
	// still set, so the server can answer with the right CONNACK (0x01 in MQTT 3, 0x84 in MQTT 5).
	ProtocolName []byte
	Version      Version
	CleanStart   bool // Clean Session in MQTT 3
	KeepAlive    uint16
	Props        Properties // MQTT 5 only

	// ClientID may be empty; whether that is acceptable is the server's decision [MQTT-3.1.3-6].
	// The MQTT 3.1 limit of 23 bytes is not enforced here either: modern servers accept longer ids.
	ClientID []byte

	WillFlag    bool
	WillQoS     byte
	WillRetain  bool
	WillProps   Properties // MQTT 5 only
	WillTopic   []byte
	WillPayload []byte

	UsernameFlag bool
	Username     []byte
	PasswordFlag bool
	Password     []byte
}

const (
	connReserved     = 0x01
	connCleanStart   = 0x02
	connWill         = 0x04
	connWillQoSShift = 3
	connWillRetain   = 0x20
	connPassword     = 0x40
	connUsername     = 0x80
)

// Decode parses the body of a CONNECT packet. v is ignored: CONNECT itself says which version the
// connection speaks, and Decode sets p.Version from it.
func (p *Connect) Decode(h FixedHeader, body []byte, _ Version) error {
	if h.Type != TypeConnect {
		return ErrWrongType
	}
	r := reader{b: body}
	// Field by field rather than *p = Connect{...}: that would copy both Properties structs.
	p.ProtocolName, p.Version, p.ClientID = nil, 0, nil
	p.WillTopic, p.WillPayload, p.Username, p.Password = nil, nil, nil, nil
	p.Props.Reset()
	p.WillProps.Reset()

	name, err := r.str()
	if err != nil {
		return err
	}
	p.ProtocolName = name
	level, err := r.byte()
	if err != nil {
		return err
	}
	p.Version = Version(level)
	switch string(name) {
	case "MQTT":
		if p.Version != V311 && p.Version != V5 {
			return ErrProtocolVersion
		}
	case "MQIsdp":
		if p.Version != V31 {
			return ErrProtocolVersion
		}
	default:
		return ErrProtocolName
	}
	if p.Version == V5 && !h.minimal() {
		return ErrRemainingLengthNotMinimal
	}

	flags, err := r.byte()
	if err != nil {
		return err
	}
	if flags&connReserved != 0 {
		return ErrConnectReservedFlag
	}
	p.CleanStart = flags&connCleanStart != 0
	p.WillFlag = flags&connWill != 0
	p.WillQoS = flags >> connWillQoSShift & 3
	p.WillRetain = flags&connWillRetain != 0
	p.PasswordFlag = flags&connPassword != 0
	p.UsernameFlag = flags&connUsername != 0
	if p.WillQoS == 3 {
		return ErrWillQoS3
	}
	if !p.WillFlag && (p.WillQoS != 0 || p.WillRetain) {
		return ErrWillFlags
	}
	if p.Version != V5 && p.PasswordFlag && !p.UsernameFlag {
		return ErrPasswordWithoutUsername
	}
	if p.KeepAlive, err = r.uint16(); err != nil {
		return err
	}
	if p.Version == V5 {
		if err := p.Props.decode(&r, TypeConnect); err != nil {
			return err
		}
		if p.Props.Has(PropAuthData) && !p.Props.Has(PropAuthMethod) {
			return ErrAuthDataWithoutMethod
		}
	}

	if p.ClientID, err = r.str(); err != nil {
		return err
	}
	if p.WillFlag {
		if p.Version == V5 {
			if err := p.WillProps.decode(&r, typeWill); err != nil {
				return err
			}
		}
		if p.WillTopic, err = r.str(); err != nil {
			return err
		}
		if len(p.WillTopic) == 0 {
			return ErrTopicEmpty
		}
		if hasWildcard(p.WillTopic) {
			return ErrTopicWildcard
		}
		if p.WillPayload, err = r.binary(); err != nil {
			return err
		}
	}
	if p.UsernameFlag {
		if p.Username, err = r.str(); err != nil {
			return err
		}
	}
	if p.PasswordFlag {
		if p.Password, err = r.binary(); err != nil {
			return err
		}
	}
	if r.left() != 0 {
		return ErrTrailingBytes
	}
	return nil
}

// CheckWillPayloadFormat is Publish.CheckPayloadFormat for the will message (§3.1.3.2.3): a server
// that checks answers a failure with CONNACK 0x99.
func (p *Connect) CheckWillPayloadFormat() error {
	if !p.WillFlag {
		return nil
	}
	return checkPayloadFormat(&p.WillProps, p.WillPayload)
}

// Append appends the CONNECT packet in protocol version p.Version (the v argument is ignored; a
// Version other than V31 and V5 is written as V311).
// The protocol name is the one that belongs to the version. Will QoS and retain are written only
// with the will flag; in MQTT 3 a password is written only together with a user name, since
// anything else would be an invalid packet; for the same reason Authentication Data without an
// Authentication Method is left out.
func (p *Connect) Append(dst []byte, _ Version) []byte {
	v := p.Version
	if v != V31 && v != V5 {
		v = V311 // an unset or unknown level would make the packet invalid
	}
	name := "MQTT"
	if v == V31 {
		name = "MQIsdp"
	}
	var flags byte
	if p.CleanStart {
		flags |= connCleanStart
	}
	if p.WillFlag {
		flags |= connWill | min(p.WillQoS, 2)<<connWillQoSShift
		if p.WillRetain {
			flags |= connWillRetain
		}
	}
	password := p.PasswordFlag && (v == V5 || p.UsernameFlag)
	if password {
		flags |= connPassword
	}
	if p.UsernameFlag {
		flags |= connUsername
	}

	props := &p.Props
	if props.Has(PropAuthData) && !props.Has(PropAuthMethod) {
		// Authentication Data without a method is a protocol error (§3.1.2.11.10): leave it out.
		cp := p.Props
		cp.Clear(PropAuthData)
		props = &cp
	}
	n := 2 + len(name) + 1 + 1 + 2 + binaryLen(p.ClientID)
	var propLen, willPropLen int
	if v == V5 {
		propLen = props.encodedLen(TypeConnect)
		n += varintLen(propLen) + propLen
	}
	if p.WillFlag {
		if v == V5 {
			willPropLen = p.WillProps.encodedLen(typeWill)
			n += varintLen(willPropLen) + willPropLen
		}
		n += binaryLen(p.WillTopic) + binaryLen(p.WillPayload)
	}
	if p.UsernameFlag {
		n += binaryLen(p.Username)
	}
	if password {
		n += binaryLen(p.Password)
	}

	dst = appendFixedHeader(dst, TypeConnect, 0, n)
	dst = append(dst, 0, byte(len(name)))
	dst = append(dst, name...)
	dst = append(dst, byte(v), flags)
	dst = appendUint16(dst, p.KeepAlive)
	if v == V5 {
		dst = props.appendProps(dst, TypeConnect, propLen)
	}
	dst = appendBinary(dst, p.ClientID)
	if p.WillFlag {
		if v == V5 {
			dst = p.WillProps.appendProps(dst, typeWill, willPropLen)
		}
		dst = appendBinary(dst, p.WillTopic)
		dst = appendBinary(dst, p.WillPayload)
	}
	if p.UsernameFlag {
		dst = appendBinary(dst, p.Username)
	}
	if password {
		dst = appendBinary(dst, p.Password)
	}
	return dst
}
