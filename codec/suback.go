package codec

// Suback is a SUBACK packet (3.1.1 §3.9, 5.0 §3.9): one reason code per filter of the SUBSCRIBE,
// in MQTT 3 the granted QoS or SubackFailure.
type Suback struct {
	PacketID uint16
	Props    Properties // MQTT 5 only
	Reasons  []ReasonCode
}

// Decode parses the body of a SUBACK packet.
func (p *Suback) Decode(h FixedHeader, body []byte, v Version) error {
	if err := checkHeader(h, TypeSuback, v); err != nil {
		return err
	}
	p.Reasons = p.Reasons[:0]
	r := reader{b: body}
	var err error
	if p.PacketID, err = r.uint16(); err != nil {
		return err
	}
	if p.PacketID == 0 {
		return ErrPacketIDZero
	}
	set := &subackReasons3
	if v == V5 {
		set = &subackReasons
		if err := p.Props.decode(&r, TypeSuback); err != nil {
			return err
		}
	} else {
		p.Props.Reset()
	}
	if r.left() == 0 {
		return ErrNoReasons
	}
	for _, c := range r.rest() {
		if !set.has(ReasonCode(c)) {
			return ErrReasonCode
		}
		p.Reasons = append(p.Reasons, ReasonCode(c))
	}
	return nil
}

// Append appends the SUBACK packet in version v.
func (p *Suback) Append(dst []byte, v Version) []byte {
	return appendReasonList(dst, TypeSuback, p.PacketID, &p.Props, p.Reasons, v)
}

// appendReasonList encodes SUBACK and UNSUBACK, which share their layout.
func appendReasonList(dst []byte, t Type, id uint16, props *Properties, reasons []ReasonCode, v Version) []byte {
	n := 2 + len(reasons)
	var propLen int
	if v == V5 {
		propLen = props.encodedLen(t)
		n += varintLen(propLen) + propLen
	}
	dst = appendFixedHeader(dst, t, 0, n)
	dst = appendUint16(dst, id)
	if v == V5 {
		dst = props.appendProps(dst, t, propLen)
	}
	for _, c := range reasons {
		dst = append(dst, byte(c))
	}
	return dst
}
