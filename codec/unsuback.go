package codec

// Unsuback is an UNSUBACK packet (3.1.1 §3.11, 5.0 §3.11). MQTT 3 UNSUBACK has no payload, so
// Reasons and Props are MQTT 5 only.
type Unsuback struct {
	PacketID uint16
	Props    Properties
	Reasons  []ReasonCode
}

// Decode parses the body of an UNSUBACK packet.
func (p *Unsuback) Decode(h FixedHeader, body []byte, v Version) error {
	if err := checkHeader(h, TypeUnsuback, v); err != nil {
		return err
	}
	p.Reasons = p.Reasons[:0]
	p.Props.Reset()
	if v != V5 && len(body) != 2 {
		return ErrPacketLength
	}
	r := reader{b: body}
	var err error
	if p.PacketID, err = r.uint16(); err != nil {
		return err
	}
	if p.PacketID == 0 {
		return ErrPacketIDZero
	}
	if v != V5 {
		return nil
	}
	if err := p.Props.decode(&r, TypeUnsuback); err != nil {
		return err
	}
	if r.left() == 0 {
		return ErrNoReasons
	}
	for _, c := range r.rest() {
		if !unsubackReason.has(ReasonCode(c)) {
			return ErrReasonCode
		}
		p.Reasons = append(p.Reasons, ReasonCode(c))
	}
	return nil
}

// Append appends the UNSUBACK packet in version v (in MQTT 3 only the packet identifier).
func (p *Unsuback) Append(dst []byte, v Version) []byte {
	if v != V5 {
		return append(dst, byte(TypeUnsuback)<<4, 2, byte(p.PacketID>>8), byte(p.PacketID))
	}
	return appendReasonList(dst, TypeUnsuback, p.PacketID, &p.Props, p.Reasons, v)
}
