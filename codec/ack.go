package codec

// Ack is a PUBACK, PUBREC, PUBREL or PUBCOMP packet (3.1.1 §3.4-3.7, 5.0 §3.4-3.7); Type says which.
type Ack struct {
	Type     Type
	PacketID uint16
	Reason   ReasonCode // MQTT 5 only
	Props    Properties // MQTT 5 only
}

// Decode parses the body of a PUBACK, PUBREC, PUBREL or PUBCOMP packet and sets p.Type from h.
// In MQTT 5 a remaining length of 2 means Success without properties and 3 a reason code without
// properties (§3.4.2.1).
func (p *Ack) Decode(h FixedHeader, body []byte, v Version) error {
	if h.Type < TypePuback || h.Type > TypePubcomp {
		return ErrWrongType
	}
	if err := checkHeader(h, h.Type, v); err != nil {
		return err
	}
	p.Type = h.Type
	p.Reason = Success
	p.Props.Reset()
	if len(body) < 2 || v != V5 && len(body) != 2 {
		return ErrPacketLength
	}
	p.PacketID = uint16(body[0])<<8 | uint16(body[1])
	if p.PacketID == 0 {
		return ErrPacketIDZero
	}
	if len(body) == 2 {
		return nil
	}
	p.Reason = ReasonCode(body[2])
	set := &pubackReasons
	if p.Type == TypePubrel || p.Type == TypePubcomp {
		set = &pubrelReasons
	}
	if !set.has(p.Reason) {
		return ErrReasonCode
	}
	if len(body) == 3 {
		return nil
	}
	r := reader{b: body, i: 3}
	if err := p.Props.decode(&r, p.Type); err != nil {
		return err
	}
	if r.left() != 0 {
		return ErrTrailingBytes
	}
	return nil
}

// Append appends the acknowledgement in version v, in its shortest form: in MQTT 5 the reason code
// is left out when it is Success and there are no properties, and the property length when there
// are no properties.
func (p *Ack) Append(dst []byte, v Version) []byte {
	t := p.Type
	if t < TypePuback || t > TypePubcomp {
		t = TypePuback
	}
	var flags byte
	if t == TypePubrel {
		flags = 2
	}
	if v != V5 {
		return append(dst, byte(t)<<4|flags, 2, byte(p.PacketID>>8), byte(p.PacketID))
	}
	n := p.Props.encodedLen(t)
	switch {
	case n == 0 && p.Reason == Success:
		return append(dst, byte(t)<<4|flags, 2, byte(p.PacketID>>8), byte(p.PacketID))
	case n == 0:
		return append(dst, byte(t)<<4|flags, 3, byte(p.PacketID>>8), byte(p.PacketID), byte(p.Reason))
	}
	dst = appendFixedHeader(dst, t, flags, 3+varintLen(n)+n)
	dst = append(dst, byte(p.PacketID>>8), byte(p.PacketID), byte(p.Reason))
	return p.Props.appendProps(dst, t, n)
}

// AppendAck appends a PUBACK, PUBREC, PUBREL or PUBCOMP with a packet identifier and, for MQTT 5,
// a reason code and no properties: the common acknowledgement, without building an Ack.
func AppendAck(dst []byte, t Type, packetID uint16, reason ReasonCode, v Version) []byte {
	var flags byte
	if t == TypePubrel {
		flags = 2
	}
	if v != V5 || reason == Success {
		return append(dst, byte(t)<<4|flags, 2, byte(packetID>>8), byte(packetID))
	}
	return append(dst, byte(t)<<4|flags, 3, byte(packetID>>8), byte(packetID), byte(reason))
}
