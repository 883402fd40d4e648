package codec

import "bytes"

// Subscription is one topic filter of a SUBSCRIBE with its options. NoLocal, RetainAsPublished and
// RetainHandling are MQTT 5 only.
type Subscription struct {
	Filter            []byte
	QoS               byte
	NoLocal           bool
	RetainAsPublished bool
	RetainHandling    byte
}

// Subscribe is a SUBSCRIBE packet (3.1.1 §3.8, 5.0 §3.8).
type Subscribe struct {
	PacketID uint16
	Props    Properties // MQTT 5 only; at most one Subscription Identifier
	Subs     []Subscription
}

const (
	optQoS            = 0x03
	optNoLocal        = 0x04
	optRetainAsPub    = 0x08
	optRetainHandling = 0x30
	optReserved5      = 0xc0
	optReserved3      = 0xfc
)

var sharePrefix = []byte("$share/")

// filter reads one topic filter of a SUBSCRIBE or UNSUBSCRIBE: a non-empty UTF-8 string [MQTT-4.7.3-1].
func (r *reader) filter() ([]byte, error) {
	f, err := r.str()
	if err == nil && len(f) == 0 {
		err = ErrFilterEmpty
	}
	return f, err
}

// packetIDProps reads what SUBSCRIBE and UNSUBSCRIBE begin with: a non-zero packet id [MQTT-2.3.1-1], then in
// MQTT 5 the properties allowed for packet type t.
func (r *reader) packetIDProps(t Type, v Version, props *Properties) (uint16, error) {
	id, err := r.uint16()
	if err != nil {
		return 0, err
	}
	if id == 0 {
		return 0, ErrPacketIDZero
	}
	if v != V5 {
		props.Reset()
		return id, nil
	}
	return id, props.decode(r, t)
}

// Decode parses the body of a SUBSCRIBE packet. Filters are checked for UTF-8 and for being
// non-empty; their wildcard syntax is the topic package's to check.
func (p *Subscribe) Decode(h FixedHeader, body []byte, v Version) error {
	if err := checkHeader(h, TypeSubscribe, v); err != nil {
		return err
	}
	p.Subs = p.Subs[:0]
	r := reader{b: body}
	var err error
	if p.PacketID, err = r.packetIDProps(TypeSubscribe, v, &p.Props); err != nil {
		return err
	}
	if r.left() == 0 {
		return ErrNoSubscriptions
	}
	for r.left() > 0 {
		f, err := r.filter()
		if err != nil {
			return err
		}
		o, err := r.byte()
		if err != nil {
			return err
		}
		s := Subscription{Filter: f, QoS: o & optQoS}
		if v == V5 {
			if o&optReserved5 != 0 {
				return ErrSubOptions
			}
			s.NoLocal = o&optNoLocal != 0
			s.RetainAsPublished = o&optRetainAsPub != 0
			s.RetainHandling = o & optRetainHandling >> 4
			if s.RetainHandling == 3 {
				return ErrRetainHandling
			}
			if s.NoLocal && bytes.HasPrefix(f, sharePrefix) {
				return ErrNoLocalShared
			}
		} else if o&optReserved3 != 0 {
			return ErrSubOptions
		}
		if s.QoS == 3 {
			return ErrSubQoS3
		}
		p.Subs = append(p.Subs, s)
	}
	return nil
}

// Append appends the SUBSCRIBE packet in version v. Options that version cannot express are left
// out; QoS above 2 is written as 2, retain handling above 2 as 2, and No Local is not written on a
// shared subscription. A SUBSCRIBE needs at least one subscription: that is the caller's to ensure.
func (p *Subscribe) Append(dst []byte, v Version) []byte {
	n := 2
	var propLen int
	if v == V5 {
		propLen = p.Props.encodedLen(TypeSubscribe)
		n += varintLen(propLen) + propLen
	}
	for i := range p.Subs {
		n += binaryLen(p.Subs[i].Filter) + 1
	}
	dst = appendFixedHeader(dst, TypeSubscribe, 2, n)
	dst = appendUint16(dst, p.PacketID)
	if v == V5 {
		dst = p.Props.appendProps(dst, TypeSubscribe, propLen)
	}
	for i := range p.Subs {
		s := &p.Subs[i]
		dst = appendBinary(dst, s.Filter)
		o := min(s.QoS, 2)
		if v == V5 {
			if s.NoLocal && !bytes.HasPrefix(s.Filter, sharePrefix) { // not on shared ones [MQTT-3.8.3-4]
				o |= optNoLocal
			}
			if s.RetainAsPublished {
				o |= optRetainAsPub
			}
			o |= min(s.RetainHandling, 2) << 4
		}
		dst = append(dst, o)
	}
	return dst
}
