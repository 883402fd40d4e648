package codec

// Connack is a CONNACK packet (3.1.1 §3.2, 5.0 §3.2). In MQTT 3 Reason holds the return code
// (ConnAccepted ... ConnRefusedNotAuthorized).
type Connack struct {
	SessionPresent bool
	Reason         ReasonCode
	Props          Properties // MQTT 5 only
}

// Decode parses the body of a CONNACK packet.
func (p *Connack) Decode(h FixedHeader, body []byte, v Version) error {
	if err := checkHeader(h, TypeConnack, v); err != nil {
		return err
	}
	p.Props.Reset()
	if v != V5 && len(body) != 2 {
		return ErrPacketLength
	}
	r := reader{b: body}
	flags, err := r.byte()
	if err != nil {
		return err
	}
	// MQTT 3.1 calls the first byte "reserved" and does not define a session present bit.
	if v != V31 && flags&^1 != 0 {
		return ErrConnackReservedFlags
	}
	p.SessionPresent = v != V31 && flags&1 != 0
	c, err := r.byte()
	if err != nil {
		return err
	}
	p.Reason = ReasonCode(c)
	if v == V5 {
		if !connackReasons.has(p.Reason) {
			return ErrReasonCode
		}
		if err := p.Props.decode(&r, TypeConnack); err != nil {
			return err
		}
		if r.left() != 0 {
			return ErrTrailingBytes
		}
	}
	if p.SessionPresent && p.Reason != Success {
		return ErrSessionPresentOnError
	}
	return nil
}

// Append appends the CONNACK packet in version v. Session present is written only with a
// successful code [MQTT-3.2.2-6], and never in MQTT 3.1.
func (p *Connack) Append(dst []byte, v Version) []byte {
	var flags byte
	if p.SessionPresent && p.Reason == Success && v != V31 {
		flags = 1
	}
	if v != V5 {
		return append(dst, byte(TypeConnack)<<4, 2, flags, byte(p.Reason))
	}
	n := p.Props.encodedLen(TypeConnack)
	dst = appendFixedHeader(dst, TypeConnack, 0, 2+varintLen(n)+n)
	dst = append(dst, flags, byte(p.Reason))
	return p.Props.appendProps(dst, TypeConnack, n)
}
