package codec

// Disconnect is a DISCONNECT packet (3.1.1 §3.14, 5.0 §3.14). In MQTT 3 it has no body.
type Disconnect struct {
	Reason ReasonCode // MQTT 5 only
	Props  Properties // MQTT 5 only
}

// Decode parses the body of a DISCONNECT packet. In MQTT 5 a remaining length of 0 means Normal
// disconnection, and of 1 a reason code without properties (§3.14.2.1).
func (p *Disconnect) Decode(h FixedHeader, body []byte, v Version) error {
	if err := checkHeader(h, TypeDisconnect, v); err != nil {
		return err
	}
	return decodeReasonProps(body, v, TypeDisconnect, &p.Reason, &p.Props, &disconnReasons)
}

// Append appends the DISCONNECT packet in version v, in its shortest form.
func (p *Disconnect) Append(dst []byte, v Version) []byte {
	if v != V5 {
		return append(dst, byte(TypeDisconnect)<<4, 0)
	}
	return appendReasonProps(dst, TypeDisconnect, p.Reason, &p.Props)
}

// Auth is an AUTH packet (5.0 §3.15), used for enhanced authentication; MQTT 3 has no AUTH.
type Auth struct {
	Reason ReasonCode // Success, ContinueAuthentication or ReAuthenticate
	Props  Properties
}

// Decode parses the body of an AUTH packet; in MQTT 3 the packet type is reserved (ErrAuthV3).
func (p *Auth) Decode(h FixedHeader, body []byte, v Version) error {
	if err := checkHeader(h, TypeAuth, v); err != nil {
		return err
	}
	if v != V5 {
		return ErrAuthV3
	}
	return decodeReasonProps(body, v, TypeAuth, &p.Reason, &p.Props, &authReasons)
}

// Append appends the AUTH packet. AUTH exists only in MQTT 5, so v is ignored.
func (p *Auth) Append(dst []byte, _ Version) []byte {
	return appendReasonProps(dst, TypeAuth, p.Reason, &p.Props)
}

// decodeReasonProps decodes the optional reason code and properties of DISCONNECT and AUTH.
func decodeReasonProps(body []byte, v Version, t Type, reason *ReasonCode, props *Properties, set *reasonSet) error {
	*reason = Success
	props.Reset()
	if v != V5 {
		if len(body) != 0 {
			return ErrPacketLength
		}
		return nil
	}
	if len(body) == 0 {
		return nil
	}
	*reason = ReasonCode(body[0])
	if !set.has(*reason) {
		return ErrReasonCode
	}
	if len(body) == 1 {
		return nil
	}
	r := reader{b: body, i: 1}
	if err := props.decode(&r, t); err != nil {
		return err
	}
	if r.left() != 0 {
		return ErrTrailingBytes
	}
	return nil
}

// appendReasonProps encodes DISCONNECT and AUTH in MQTT 5, leaving out what may be left out.
func appendReasonProps(dst []byte, t Type, reason ReasonCode, props *Properties) []byte {
	n := props.encodedLen(t)
	switch {
	case n == 0 && reason == Success:
		return append(dst, byte(t)<<4, 0)
	case n == 0:
		return append(dst, byte(t)<<4, 1, byte(reason))
	}
	dst = appendFixedHeader(dst, t, 0, 1+varintLen(n)+n)
	dst = append(dst, byte(reason))
	return props.appendProps(dst, t, n)
}

// AppendPingreq appends a PINGREQ packet (the same in every version).
func AppendPingreq(dst []byte) []byte { return append(dst, byte(TypePingreq)<<4, 0) }

// AppendPingresp appends a PINGRESP packet (the same in every version).
func AppendPingresp(dst []byte) []byte { return append(dst, byte(TypePingresp)<<4, 0) }
