package codec

// Unsubscribe is an UNSUBSCRIBE packet (3.1.1 §3.10, 5.0 §3.10).
type Unsubscribe struct {
	PacketID uint16
	Props    Properties // MQTT 5 only
	Filters  [][]byte
}

// Decode parses the body of an UNSUBSCRIBE packet: at least one filter [MQTT-3.10.3-2], each
// non-empty UTF-8.
func (p *Unsubscribe) Decode(h FixedHeader, body []byte, v Version) error {
	if err := checkHeader(h, TypeUnsubscribe, v); err != nil {
		return err
	}
	p.Filters = p.Filters[:0]
	r := reader{b: body}
	var err error
	if p.PacketID, err = r.packetIDProps(TypeUnsubscribe, v, &p.Props); err != nil {
		return err
	}
	if r.left() == 0 {
		return ErrNoUnsubscriptions
	}
	for r.left() > 0 {
		f, err := r.filter()
		if err != nil {
			return err
		}
		p.Filters = append(p.Filters, f)
	}
	return nil
}

// Append appends the UNSUBSCRIBE packet in version v.
func (p *Unsubscribe) Append(dst []byte, v Version) []byte {
	n := 2
	var propLen int
	if v == V5 {
		propLen = p.Props.encodedLen(TypeUnsubscribe)
		n += varintLen(propLen) + propLen
	}
	for _, f := range p.Filters {
		n += binaryLen(f)
	}
	dst = appendFixedHeader(dst, TypeUnsubscribe, 2, n)
	dst = appendUint16(dst, p.PacketID)
	if v == V5 {
		dst = p.Props.appendProps(dst, TypeUnsubscribe, propLen)
	}
	for _, f := range p.Filters {
		dst = appendBinary(dst, f)
	}
	return dst
}
