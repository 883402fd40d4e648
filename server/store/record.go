package store

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrCorrupt wraps every decoding failure: a value or key that this layout cannot hold.
var ErrCorrupt = errors.New("store: corrupt record")

// recordVersion is the first byte of every value written by this build.
const recordVersion byte = 1

// Message is a message body: the PUBLISH as the broker will send it again, its properties and
// the wall-clock deadline of its Message Expiry Interval. Slices returned by Decode alias the
// decoded bytes.
type Message struct {
	Topic   []byte
	Props   []byte // MQTT 5 PUBLISH properties as on the wire, without Message Expiry Interval
	Payload []byte
	QoS     byte
	Retain  bool
	Expiry  int64 // unix nanoseconds after which the message is dropped; 0: never
}

// Expired reports whether the message expiry deadline has passed at now (unix nanoseconds).
func (m *Message) Expired(now int64) bool { return m.Expiry != 0 && m.Expiry <= now }

const (
	flagQoS       = 0x03
	flagRetain    = 0x04
	flagHasExpiry = 0x08
	flagHasWill   = 0x01
)

// AppendTo appends the encoding of m to dst.
func (m *Message) AppendTo(dst []byte) []byte {
	flags := m.QoS & flagQoS
	if m.Retain {
		flags |= flagRetain
	}
	if m.Expiry != 0 {
		flags |= flagHasExpiry
	}
	dst = append(dst, recordVersion, flags)
	if m.Expiry != 0 {
		dst = binary.AppendVarint(dst, m.Expiry)
	}
	dst = appendBytes(dst, m.Topic)
	dst = appendBytes(dst, m.Props)
	return append(dst, m.Payload...)
}

// Decode parses an encoding made by AppendTo; m's slices alias b.
func (m *Message) Decode(b []byte) error {
	r := reader{b: b}
	r.version()
	flags := r.byte()
	if flags&^(flagQoS|flagRetain|flagHasExpiry) != 0 || flags&flagQoS == 3 {
		r.fail("message flags %#x", flags)
	}
	m.QoS, m.Retain, m.Expiry = flags&flagQoS, flags&flagRetain != 0, 0
	if flags&flagHasExpiry != 0 {
		m.Expiry = r.varint()
	}
	m.Topic = r.bytes()
	m.Props = r.bytes()
	m.Payload = r.rest()
	return r.err
}

// Subscription is one subscription of a session.
type Subscription struct {
	Filter []byte
	// Options is the MQTT 5 subscription options byte: maximum QoS (bits 0-1), No Local (2),
	// Retain As Published (3), Retain Handling (4-5). A 3.1.1 subscription uses the QoS bits only.
	Options byte
	ID      uint32 // MQTT 5 Subscription Identifier; 0: none
}

// Will is a session's will message and its delay.
type Will struct {
	Topic   []byte
	Props   []byte // MQTT 5 will properties as on the wire, without Will Delay Interval
	Payload []byte
	QoS     byte
	Retain  bool
	Delay   uint32 // Will Delay Interval, seconds
}

// Session is a persistent session: one that outlives its connection (MQTT 5 Session Expiry
// Interval > 0, MQTT 3.1.1 clean session 0).
type Session struct {
	ClientID []byte
	Protocol byte   // protocol level of the last CONNECT: 3, 4 or 5
	Interval uint32 // Session Expiry Interval, seconds; 0xFFFFFFFF: never expires
	// Deadline is the wall-clock expiry (unix nanoseconds), set when the connection ends; 0 while
	// the client is connected, in which case a restart finds the connection gone and the broker
	// starts the clock again.
	Deadline int64
	HasWill  bool
	Will     Will
	Subs     []Subscription
}

// Expired reports whether the session's deadline has passed at now (unix nanoseconds).
func (s *Session) Expired(now int64) bool { return s.Deadline != 0 && s.Deadline <= now }

// AppendTo appends the encoding of s to dst; the client id lives in the key, not here.
func (s *Session) AppendTo(dst []byte) []byte {
	var flags byte
	if s.HasWill {
		flags |= flagHasWill
	}
	dst = append(dst, recordVersion, s.Protocol, flags)
	dst = binary.AppendUvarint(dst, uint64(s.Interval))
	dst = binary.AppendVarint(dst, s.Deadline)
	if s.HasWill {
		w := &s.Will
		wf := w.QoS & flagQoS
		if w.Retain {
			wf |= flagRetain
		}
		dst = append(dst, wf)
		dst = binary.AppendUvarint(dst, uint64(w.Delay))
		dst = appendBytes(dst, w.Topic)
		dst = appendBytes(dst, w.Props)
		dst = appendBytes(dst, w.Payload)
	}
	dst = binary.AppendUvarint(dst, uint64(len(s.Subs)))
	for i := range s.Subs {
		sub := &s.Subs[i]
		dst = appendBytes(dst, sub.Filter)
		dst = append(dst, sub.Options)
		dst = binary.AppendUvarint(dst, uint64(sub.ID))
	}
	return dst
}

// Decode parses an encoding made by AppendTo. It reuses s.Subs; slices alias b. ClientID is
// left as it is (it comes from the key).
func (s *Session) Decode(b []byte) error {
	r := reader{b: b}
	r.version()
	s.Protocol = r.byte()
	if r.err == nil && (s.Protocol < 3 || s.Protocol > 5) {
		r.fail("protocol level %d", s.Protocol)
	}
	flags := r.byte()
	if flags&^flagHasWill != 0 {
		r.fail("session flags %#x", flags)
	}
	s.Interval = r.uint32()
	s.Deadline = r.varint()
	s.HasWill = flags&flagHasWill != 0
	s.Will = Will{}
	if s.HasWill {
		wf := r.byte()
		if wf&^(flagQoS|flagRetain) != 0 || wf&flagQoS == 3 {
			r.fail("will flags %#x", wf)
		}
		s.Will.QoS, s.Will.Retain = wf&flagQoS, wf&flagRetain != 0
		s.Will.Delay = r.uint32()
		s.Will.Topic = r.bytes()
		s.Will.Props = r.bytes()
		s.Will.Payload = r.bytes()
	}
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.b)) { // each subscription takes at least 3 bytes
		r.fail("%d subscriptions in %d bytes", n, len(r.b))
	}
	s.Subs = s.Subs[:0]
	for i := uint64(0); i < n && r.err == nil; i++ {
		var sub Subscription
		sub.Filter = r.bytes()
		sub.Options = r.byte()
		sub.ID = r.uint32()
		s.Subs = append(s.Subs, sub)
	}
	r.end()
	return r.err
}

// Queued is a message waiting in a session's queue: a reference to its body and what this
// subscriber receives (granted QoS, retain flag, subscription identifiers).
type Queued struct {
	MessageID uint64
	QoS       byte
	Retain    bool
	SubIDs    []uint32
}

// AppendTo appends the encoding of q to dst.
func (q *Queued) AppendTo(dst []byte) []byte {
	dst = append(dst, recordVersion)
	return q.appendBody(dst)
}

func (q *Queued) appendBody(dst []byte) []byte {
	flags := q.QoS & flagQoS
	if q.Retain {
		flags |= flagRetain
	}
	dst = append(dst, flags)
	dst = binary.AppendUvarint(dst, q.MessageID)
	dst = binary.AppendUvarint(dst, uint64(len(q.SubIDs)))
	for _, id := range q.SubIDs {
		dst = binary.AppendUvarint(dst, uint64(id))
	}
	return dst
}

// Decode parses an encoding made by AppendTo, reusing q.SubIDs.
func (q *Queued) Decode(b []byte) error {
	r := reader{b: b}
	r.version()
	q.decodeBody(&r)
	r.end()
	return r.err
}

func (q *Queued) decodeBody(r *reader) {
	flags := r.byte()
	if flags&^(flagQoS|flagRetain) != 0 || flags&flagQoS == 3 {
		r.fail("queued flags %#x", flags)
	}
	q.QoS, q.Retain = flags&flagQoS, flags&flagRetain != 0
	q.MessageID = r.uvarint()
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.b)) {
		r.fail("%d subscription ids in %d bytes", n, len(r.b))
	}
	q.SubIDs = q.SubIDs[:0]
	for i := uint64(0); i < n && r.err == nil; i++ {
		q.SubIDs = append(q.SubIDs, r.uint32())
	}
}

// InflightState is how far an outbound QoS 1/2 delivery has gone.
type InflightState byte

const (
	// Sent: PUBLISH sent, PUBACK (QoS 1) or PUBREC (QoS 2) awaited; a restart resends it with DUP.
	Sent InflightState = 1
	// PubrecReceived: QoS 2 PUBREC received, PUBREL sent, PUBCOMP awaited; a restart resends PUBREL.
	PubrecReceived InflightState = 2
)

// Inflight is an outbound delivery with a packet id. Seq orders the window: a restart resends
// in Seq order [MQTT-4.6.0-1], whatever the packet ids.
type Inflight struct {
	PacketID uint16 // from the key
	Seq      uint64
	State    InflightState
	Queued   // MessageID may be 0 in state PubrecReceived: the body is no longer needed
}

// AppendTo appends the encoding of f to dst; the packet id lives in the key.
func (f *Inflight) AppendTo(dst []byte) []byte {
	dst = append(dst, recordVersion, byte(f.State))
	dst = binary.AppendUvarint(dst, f.Seq)
	return f.Queued.appendBody(dst)
}

// Decode parses an encoding made by AppendTo, reusing f.SubIDs; PacketID is left as it is.
func (f *Inflight) Decode(b []byte) error {
	r := reader{b: b}
	r.version()
	f.State = InflightState(r.byte())
	if r.err == nil && f.State != Sent && f.State != PubrecReceived {
		r.fail("inflight state %d", f.State)
	}
	f.Seq = r.uvarint()
	f.Queued.decodeBody(&r)
	r.end()
	return r.err
}

// inboundValue is the value of an inbound QoS 2 key: the packet id is in the key.
var inboundValue = []byte{recordVersion}

func decodeInbound(b []byte) error {
	if len(b) != 1 || b[0] != recordVersion {
		return fmt.Errorf("%w: inbound record % x", ErrCorrupt, b)
	}
	return nil
}

func appendBytes(dst, b []byte) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(b))), b...)
}

// reader decodes a value front to back; the first error sticks and later reads return zeros.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
	}
	r.b = nil
}

func (r *reader) version() {
	v := r.byte()
	if r.err == nil && v != recordVersion {
		r.fail("record version %d, this build reads %d", v, recordVersion)
	}
}

func (r *reader) byte() byte {
	if len(r.b) == 0 {
		r.fail("truncated")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("bad uvarint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) uint32() uint32 {
	v := r.uvarint()
	if v > 0xFFFFFFFF {
		r.fail("%d overflows 32 bits", v)
		return 0
	}
	return uint32(v)
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.fail("length %d beyond %d remaining bytes", n, len(r.b))
		return nil
	}
	b := r.b[:n:n]
	r.b = r.b[n:]
	return b
}

func (r *reader) rest() []byte {
	if r.err != nil {
		return nil
	}
	b := r.b
	r.b = nil
	return b
}

func (r *reader) end() {
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d trailing bytes", len(r.b))
	}
}
