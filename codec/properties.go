package codec

import "math/bits"

// PropID is an MQTT 5 property identifier (§2.2.2.2).
type PropID byte

// The MQTT 5 property identifiers.
const (
	PropPayloadFormat        PropID = 0x01
	PropMessageExpiry        PropID = 0x02
	PropContentType          PropID = 0x03
	PropResponseTopic        PropID = 0x08
	PropCorrelationData      PropID = 0x09
	PropSubscriptionID       PropID = 0x0B
	PropSessionExpiry        PropID = 0x11
	PropAssignedClientID     PropID = 0x12
	PropServerKeepAlive      PropID = 0x13
	PropAuthMethod           PropID = 0x15
	PropAuthData             PropID = 0x16
	PropRequestProblemInfo   PropID = 0x17
	PropWillDelay            PropID = 0x18
	PropRequestResponseInfo  PropID = 0x19
	PropResponseInfo         PropID = 0x1A
	PropServerReference      PropID = 0x1C
	PropReasonString         PropID = 0x1F
	PropReceiveMaximum       PropID = 0x21
	PropTopicAliasMaximum    PropID = 0x22
	PropTopicAlias           PropID = 0x23
	PropMaximumQoS           PropID = 0x24
	PropRetainAvailable      PropID = 0x25
	PropUser                 PropID = 0x26
	PropMaximumPacketSize    PropID = 0x27
	PropWildcardSubAvailable PropID = 0x28
	PropSubIDAvailable       PropID = 0x29
	PropSharedSubAvailable   PropID = 0x2A
)

// Properties holds the MQTT 5 properties of one packet (or of a CONNECT's will).
//
// Present has bit id set for each property that was in the packet (see Has and Set). On encoding,
// a scalar or string property is written when its bit is set and the packet type allows it;
// User and SubscriptionIDs are written whenever their slices are non-empty.
//
// Raw is the encoded property block as received, without its length prefix, a view into the packet:
// the broker can forward a PUBLISH's properties without re-encoding them (see FilterForwardProps).
// Encoding ignores Raw.
type Properties struct {
	Present uint64
	Raw     []byte

	PayloadFormat   byte
	MessageExpiry   uint32
	ContentType     []byte
	ResponseTopic   []byte
	CorrelationData []byte
	// SubscriptionIDs holds the Subscription Identifiers: a PUBLISH may carry several, a SUBSCRIBE one.
	SubscriptionIDs []uint32

	SessionExpiry       uint32
	AssignedClientID    []byte
	ServerKeepAlive     uint16
	AuthMethod          []byte
	AuthData            []byte
	RequestProblemInfo  byte
	WillDelay           uint32
	RequestResponseInfo byte
	ResponseInfo        []byte
	ServerReference     []byte
	ReasonString        []byte

	ReceiveMaximum    uint16
	TopicAliasMaximum uint16
	TopicAlias        uint16
	MaximumQoS        byte
	RetainAvailable   byte
	// User holds the User Properties in the order they came; keys may repeat.
	User              []UserProperty
	MaximumPacketSize uint32

	WildcardSubAvailable byte
	SubIDAvailable       byte
	SharedSubAvailable   byte
}

// UserProperty is one User Property: a UTF-8 string pair.
type UserProperty struct{ Key, Value []byte }

// Has reports whether the property id was present.
func (p *Properties) Has(id PropID) bool { return id < 64 && p.Present&(1<<id) != 0 }

// Set marks the property id as present, so that encoding writes its field.
func (p *Properties) Set(id PropID) {
	if id < 64 {
		p.Present |= 1 << id
	}
}

// Clear marks the property id as absent.
func (p *Properties) Clear(id PropID) {
	if id < 64 {
		p.Present &^= 1 << id
	}
}

// Reset empties p but keeps the capacity of its slices for the next decode.
func (p *Properties) Reset() {
	if p.Present|uint64(len(p.User))|uint64(len(p.SubscriptionIDs)) != 0 {
		p.clear()
		return
	}
	p.Raw = nil // the common case on the hot path: nothing else to clear
}

func (p *Properties) clear() {
	*p = Properties{User: p.User[:0], SubscriptionIDs: p.SubscriptionIDs[:0]}
}

// propKind is the data type of a property value (§1.5).
type propKind byte

const (
	kindNone propKind = iota
	kindByte
	kindUint16
	kindUint32
	kindVarint
	kindString
	kindBinary
	kindPair
)

// typeWill stands for the will properties of a CONNECT in the table of allowed packets;
// TypeReserved is never decoded, so its bit is free.
const typeWill = TypeReserved

func types(ts ...Type) uint32 {
	var m uint32
	for _, t := range ts {
		m |= 1 << t
	}
	return m
}

var propTable = [64]struct {
	kind    propKind
	allowed uint32 // bit per Type, bit 0 for will properties
}{
	PropPayloadFormat:        {kindByte, types(TypePublish, typeWill)},
	PropMessageExpiry:        {kindUint32, types(TypePublish, typeWill)},
	PropContentType:          {kindString, types(TypePublish, typeWill)},
	PropResponseTopic:        {kindString, types(TypePublish, typeWill)},
	PropCorrelationData:      {kindBinary, types(TypePublish, typeWill)},
	PropSubscriptionID:       {kindVarint, types(TypePublish, TypeSubscribe)},
	PropSessionExpiry:        {kindUint32, types(TypeConnect, TypeConnack, TypeDisconnect)},
	PropAssignedClientID:     {kindString, types(TypeConnack)},
	PropServerKeepAlive:      {kindUint16, types(TypeConnack)},
	PropAuthMethod:           {kindString, types(TypeConnect, TypeConnack, TypeAuth)},
	PropAuthData:             {kindBinary, types(TypeConnect, TypeConnack, TypeAuth)},
	PropRequestProblemInfo:   {kindByte, types(TypeConnect)},
	PropWillDelay:            {kindUint32, types(typeWill)},
	PropRequestResponseInfo:  {kindByte, types(TypeConnect)},
	PropResponseInfo:         {kindString, types(TypeConnack)},
	PropServerReference:      {kindString, types(TypeConnack, TypeDisconnect)},
	PropReasonString:         {kindString, types(TypeConnack, TypePuback, TypePubrec, TypePubrel, TypePubcomp, TypeSuback, TypeUnsuback, TypeDisconnect, TypeAuth)},
	PropReceiveMaximum:       {kindUint16, types(TypeConnect, TypeConnack)},
	PropTopicAliasMaximum:    {kindUint16, types(TypeConnect, TypeConnack)},
	PropTopicAlias:           {kindUint16, types(TypePublish)},
	PropMaximumQoS:           {kindByte, types(TypeConnack)},
	PropRetainAvailable:      {kindByte, types(TypeConnack)},
	PropUser:                 {kindPair, types(TypeConnect, TypeConnack, TypePublish, typeWill, TypePuback, TypePubrec, TypePubrel, TypePubcomp, TypeSubscribe, TypeSuback, TypeUnsubscribe, TypeUnsuback, TypeDisconnect, TypeAuth)},
	PropMaximumPacketSize:    {kindUint32, types(TypeConnect, TypeConnack)},
	PropWildcardSubAvailable: {kindByte, types(TypeConnack)},
	PropSubIDAvailable:       {kindByte, types(TypeConnack)},
	PropSharedSubAvailable:   {kindByte, types(TypeConnack)},
}

// allowedIDs[t] has bit id set for every property packet type t may carry.
var allowedIDs = func() (m [16]uint64) {
	for id, e := range propTable {
		for t := 0; t < 16; t++ {
			if e.allowed&(1<<t) != 0 {
				m[t] |= 1 << id
			}
		}
	}
	return m
}()

// PropertyAllowed reports whether packet type t may carry property id (§2.2.2.2). Pass TypeReserved
// to ask about will properties.
func PropertyAllowed(id PropID, t Type) bool {
	return id < 64 && t < 16 && allowedIDs[t]&(1<<id) != 0
}

// decode reads a property length and the property block that follows it, for packet type t.
func (p *Properties) decode(r *reader, t Type) error {
	p.Reset()
	n, err := r.varint()
	if err != nil {
		return err
	}
	if n > r.left() {
		return ErrPropertyLength
	}
	p.Raw = r.b[r.i : r.i+n : r.i+n]
	r.i += n
	if n == 0 {
		return nil
	}
	return p.parse(p.Raw, t)
}

// parse decodes the property block b for packet type t into p.
func (p *Properties) parse(b []byte, t Type) error {
	pr := reader{b: b}
	for pr.left() > 0 {
		c, _ := pr.byte()
		if c >= 64 || propTable[c].kind == kindNone {
			return ErrUnknownProperty
		}
		id := PropID(c)
		if allowedIDs[t]&(1<<id) == 0 {
			return ErrPropertyNotAllowed
		}
		bit := uint64(1) << id
		if p.Present&bit != 0 && id != PropUser && !(id == PropSubscriptionID && t == TypePublish) {
			return ErrDuplicateProperty
		}
		p.Present |= bit
		if err := p.parseValue(&pr, id); err != nil {
			return err
		}
	}
	return nil
}

func (p *Properties) parseValue(r *reader, id PropID) (err error) {
	switch propTable[id].kind {
	case kindByte:
		var v byte
		if v, err = r.byte(); err != nil {
			return err
		}
		if v > 1 {
			return ErrPropertyBoolean
		}
		switch id {
		case PropPayloadFormat:
			p.PayloadFormat = v
		case PropRequestProblemInfo:
			p.RequestProblemInfo = v
		case PropRequestResponseInfo:
			p.RequestResponseInfo = v
		case PropMaximumQoS:
			p.MaximumQoS = v
		case PropRetainAvailable:
			p.RetainAvailable = v
		case PropWildcardSubAvailable:
			p.WildcardSubAvailable = v
		case PropSubIDAvailable:
			p.SubIDAvailable = v
		case PropSharedSubAvailable:
			p.SharedSubAvailable = v
		}
	case kindUint16:
		var v uint16
		if v, err = r.uint16(); err != nil {
			return err
		}
		switch id {
		case PropServerKeepAlive:
			p.ServerKeepAlive = v
		case PropReceiveMaximum:
			if v == 0 {
				return ErrReceiveMaximumZero
			}
			p.ReceiveMaximum = v
		case PropTopicAliasMaximum:
			p.TopicAliasMaximum = v
		case PropTopicAlias:
			if v == 0 {
				return ErrTopicAliasZero
			}
			p.TopicAlias = v
		}
	case kindUint32:
		var v uint32
		if v, err = r.uint32(); err != nil {
			return err
		}
		switch id {
		case PropMessageExpiry:
			p.MessageExpiry = v
		case PropSessionExpiry:
			p.SessionExpiry = v
		case PropWillDelay:
			p.WillDelay = v
		case PropMaximumPacketSize:
			if v == 0 {
				return ErrMaximumPacketSizeZero
			}
			p.MaximumPacketSize = v
		}
	case kindVarint: // only Subscription Identifier
		var v int
		if v, err = r.varint(); err != nil {
			return err
		}
		if v == 0 {
			return ErrSubscriptionIDZero
		}
		p.SubscriptionIDs = append(p.SubscriptionIDs, uint32(v))
	case kindString:
		var s []byte
		if s, err = r.str(); err != nil {
			return err
		}
		switch id {
		case PropContentType:
			p.ContentType = s
		case PropResponseTopic:
			if hasWildcard(s) {
				return ErrResponseTopic
			}
			p.ResponseTopic = s
		case PropAssignedClientID:
			p.AssignedClientID = s
		case PropAuthMethod:
			p.AuthMethod = s
		case PropResponseInfo:
			p.ResponseInfo = s
		case PropServerReference:
			p.ServerReference = s
		case PropReasonString:
			p.ReasonString = s
		}
	case kindBinary:
		var s []byte
		if s, err = r.binary(); err != nil {
			return err
		}
		switch id {
		case PropCorrelationData:
			p.CorrelationData = s
		case PropAuthData:
			p.AuthData = s
		}
	case kindPair:
		var k, v []byte
		if k, err = r.str(); err != nil {
			return err
		}
		if v, err = r.str(); err != nil {
			return err
		}
		p.User = append(p.User, UserProperty{k, v})
	}
	return nil
}

// sliceBits are the properties that encoding takes from slices rather than from p.Present.
const sliceBits = 1<<PropUser | 1<<PropSubscriptionID

// encodedLen returns the length of the property block for packet type t, without its length prefix.
func (p *Properties) encodedLen(t Type) int {
	n := 0
	for set := p.Present &^ sliceBits & allowedIDs[t]; set != 0; set &= set - 1 {
		id := PropID(bits.TrailingZeros64(set))
		n++
		switch propTable[id].kind {
		case kindByte:
			n++
		case kindUint16:
			n += 2
		case kindUint32:
			n += 4
		case kindString, kindBinary:
			n += binaryLen(p.bytesField(id))
		}
	}
	for _, v := range p.subIDsFor(t) {
		if v != 0 { // 0 is a protocol error, so it is never written
			n += 1 + varintLen(int(v&MaxRemaining))
		}
	}
	if len(p.User) > 0 && allowedIDs[t]&(1<<PropUser) != 0 {
		for _, u := range p.User {
			n += 1 + binaryLen(u.Key) + binaryLen(u.Value)
		}
	}
	return n
}

// appendBody appends the property block for packet type t, without its length prefix.
func (p *Properties) appendBody(dst []byte, t Type) []byte {
	for set := p.Present &^ sliceBits & allowedIDs[t]; set != 0; set &= set - 1 {
		id := PropID(bits.TrailingZeros64(set))
		dst = append(dst, byte(id))
		switch propTable[id].kind {
		case kindByte:
			dst = append(dst, p.byteField(id))
		case kindUint16:
			dst = appendUint16(dst, p.uint16Field(id))
		case kindUint32:
			dst = appendUint32(dst, p.uint32Field(id))
		case kindString, kindBinary:
			dst = appendBinary(dst, p.bytesField(id))
		}
	}
	for _, v := range p.subIDsFor(t) {
		if v != 0 {
			dst = append(dst, byte(PropSubscriptionID))
			dst = appendVarint(dst, int(v&MaxRemaining))
		}
	}
	if allowedIDs[t]&(1<<PropUser) != 0 {
		for _, u := range p.User {
			dst = append(dst, byte(PropUser))
			dst = appendBinary(dst, u.Key)
			dst = appendBinary(dst, u.Value)
		}
	}
	return dst
}

// subIDsFor returns the Subscription Identifiers encoding writes for packet type t: all of them in
// a PUBLISH, the first non-zero one in a SUBSCRIBE (which may carry only one), none elsewhere.
func (p *Properties) subIDsFor(t Type) []uint32 {
	switch t {
	case TypePublish:
		return p.SubscriptionIDs
	case TypeSubscribe:
		for i, v := range p.SubscriptionIDs {
			if v != 0 {
				return p.SubscriptionIDs[i : i+1]
			}
		}
	}
	return nil
}

// appendProps appends the property length and the property block; n is p.encodedLen(t).
func (p *Properties) appendProps(dst []byte, t Type, n int) []byte {
	dst = appendVarint(dst, n)
	if n == 0 {
		return dst
	}
	return p.appendBody(dst, t)
}

// byteField returns a one-byte property; values other than 0 and 1 are written as 1, since those
// properties are booleans and the encoder must produce valid packets.
func (p *Properties) byteField(id PropID) byte {
	var v byte
	switch id {
	case PropPayloadFormat:
		v = p.PayloadFormat
	case PropRequestProblemInfo:
		v = p.RequestProblemInfo
	case PropRequestResponseInfo:
		v = p.RequestResponseInfo
	case PropMaximumQoS:
		v = p.MaximumQoS
	case PropRetainAvailable:
		v = p.RetainAvailable
	case PropWildcardSubAvailable:
		v = p.WildcardSubAvailable
	case PropSubIDAvailable:
		v = p.SubIDAvailable
	case PropSharedSubAvailable:
		v = p.SharedSubAvailable
	}
	if v > 1 {
		v = 1
	}
	return v
}

func (p *Properties) uint16Field(id PropID) uint16 {
	switch id {
	case PropServerKeepAlive:
		return p.ServerKeepAlive
	case PropReceiveMaximum:
		return max(p.ReceiveMaximum, 1) // 0 is a protocol error; absent means 65,535
	case PropTopicAliasMaximum:
		return p.TopicAliasMaximum
	case PropTopicAlias:
		return max(p.TopicAlias, 1)
	}
	return 0
}

func (p *Properties) uint32Field(id PropID) uint32 {
	switch id {
	case PropMessageExpiry:
		return p.MessageExpiry
	case PropSessionExpiry:
		return p.SessionExpiry
	case PropWillDelay:
		return p.WillDelay
	case PropMaximumPacketSize:
		return max(p.MaximumPacketSize, 1)
	}
	return 0
}

func (p *Properties) bytesField(id PropID) []byte {
	switch id {
	case PropContentType:
		return p.ContentType
	case PropResponseTopic:
		return p.ResponseTopic
	case PropCorrelationData:
		return p.CorrelationData
	case PropAssignedClientID:
		return p.AssignedClientID
	case PropAuthMethod:
		return p.AuthMethod
	case PropAuthData:
		return p.AuthData
	case PropResponseInfo:
		return p.ResponseInfo
	case PropServerReference:
		return p.ServerReference
	case PropReasonString:
		return p.ReasonString
	}
	return nil
}
