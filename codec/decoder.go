package codec

// Decoder holds one reusable struct per packet type, so that a connection or an event loop can
// decode any packet without allocating: after a successful Decode or Next, the field named after
// the packet's type (Connect, Publish, Ack for PUBACK/PUBREC/PUBREL/PUBCOMP, ...) holds it, and
// the others hold whatever they held before. PINGREQ and PINGRESP have no body and no field.
// The decoded []byte fields are views into the decoded buffer (see the package documentation).
type Decoder struct {
	Connect     Connect
	Connack     Connack
	Publish     Publish
	Ack         Ack
	Subscribe   Subscribe
	Suback      Suback
	Unsubscribe Unsubscribe
	Unsuback    Unsuback
	Disconnect  Disconnect
	Auth        Auth
}

// Decode decodes the body of the packet whose fixed header is h into the field for h.Type.
// v is the connection's protocol version (ignored for CONNECT, which sets d.Connect.Version).
func (d *Decoder) Decode(h FixedHeader, body []byte, v Version) error {
	if h.Type == TypePublish { // most packets are PUBLISH: skip the jump table
		return d.Publish.Decode(h, body, v)
	}
	switch h.Type {
	case TypeConnect:
		return d.Connect.Decode(h, body, v)
	case TypeConnack:
		return d.Connack.Decode(h, body, v)
	case TypePublish:
		return d.Publish.Decode(h, body, v)
	case TypePuback, TypePubrec, TypePubrel, TypePubcomp:
		return d.Ack.Decode(h, body, v)
	case TypeSubscribe:
		return d.Subscribe.Decode(h, body, v)
	case TypeSuback:
		return d.Suback.Decode(h, body, v)
	case TypeUnsubscribe:
		return d.Unsubscribe.Decode(h, body, v)
	case TypeUnsuback:
		return d.Unsuback.Decode(h, body, v)
	case TypeDisconnect:
		return d.Disconnect.Decode(h, body, v)
	case TypeAuth:
		return d.Auth.Decode(h, body, v)
	case TypePingreq, TypePingresp:
		if len(body) != 0 {
			return ErrPacketLength
		}
		return nil
	}
	return ErrReservedType
}

// Next peeks at the packet at the start of b and, if it is complete, decodes it. It returns the
// fixed header (the packet is b[:h.Len()]: the caller consumes that much) and, as Peek does, the
// number of bytes still needed when the packet is incomplete. On a decode error h is still set, so
// the caller knows which packet failed.
func (d *Decoder) Next(b []byte, v Version, maxPacketSize int) (h FixedHeader, need int, err error) {
	h, need, err = Peek(b, maxPacketSize)
	if err != nil || need > 0 {
		return h, need, err
	}
	return h, 0, d.Decode(h, b[h.Size:h.Len():h.Len()], v)
}
