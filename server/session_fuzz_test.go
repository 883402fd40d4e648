package server

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"loopmq/codec"
)

// FuzzSessions runs a small program of client operations, chosen by the fuzzer's bytes, over real TCP connections
// to a broker started once per fuzz process: two client ids connect (MQTT 3.1.1 or 5, clean or persistent), take
// each other's place, subscribe, publish at QoS 0, 1 and 2, acknowledge at once or hold their acknowledgements,
// and leave with a DISCONNECT or by dropping the connection. Each program uses its own client ids and topic.
//
// Invariants: every operation is answered (or the connection closed where that is the answer) within
// fuzzDeadline; CONNACK's session present flag matches the sessions the program made; a takeover closes the old
// connection; a QoS 1 or 2 message acknowledged to its publisher reaches every persistent session subscribed to
// it at the time, once that session resumes and acknowledges: at least once for QoS 1 (a message whose
// acknowledgement the broker may not have seen is resent on resume), exactly once for QoS 2 (never a PUBLISH
// after the broker's PUBREL); nothing is delivered that was not published; a fresh probe client works at the end.
//
// Each operation is one byte: the low nibble picks the operation, bit 4 the client id, bits 5 to 7 its
// arguments (see sessionOp).
func FuzzSessions(f *testing.F) {
	const (
		A = 0x00
		B = 0x10
	)
	// connect(persistent, v3.1.1) = opConnect|0x20; v5 adds 0x40.
	f.Add([]byte{opConnect | B | 0x20, opSubscribe | B | 0x40, opConnect | A, opPublish | A | 0x20,
		opDrop | B, opPublish | A | 0x40, opConnect | B | 0x20})
	f.Add([]byte{opConnect | B | 0x60, opSubscribe | B | 0x40, opHold | B | 0x20, opConnect | A | 0x40,
		opPublish | A | 0x40, opPublish | A | 0x20, opPing | B, opDrop | B, opConnect | B | 0x60, opAck | B})
	f.Add([]byte{opConnect | A | 0x20, opSubscribe | A | 0x20, opHold | A | 0x20, opPublish | A | 0x20,
		opPublish | A | 0x40, opConnect | A | 0x20, opPublish | A | 0x40, opDisconnect | A, opConnect | A | 0x60})
	f.Add([]byte{opConnect | B | 0x20, opSubscribe | B | 0x40, opHold | B | 0x20, opConnect | A,
		opPublish | A | 0x40, opPing | B, opAck | B, opDrop | B, opConnect | B | 0x20, opUnsubscribe | B,
		opPublish | A | 0x20, opConnect | B})
	f.Add([]byte{opConnect | A | 0x60, opSubscribe | A | 0x40, opConnect | B | 0x40, opPublish | B | 0x40,
		opDisconnect | A, opPublish | B | 0x20, opConnect | A | 0x20})
	f.Add([]byte{opConnect | B | 0x60, opSubscribe | B | 0x40, opConnect | A, opPublish | A | 0xc0, opDrop | B,
		opPublish | A | 0xc0, opConnect | B | 0x60})
	h := newFuzzHarness(f, func(o *Options) {
		// The programs stay far below these, so a publisher's acknowledgement is never held back and an offline
		// session never drops a message: a drop would be a lost acknowledged message.
		o.MaxQueuedMessages = 10000
		o.MaxInflight = 1000
	})
	f.Fuzz(func(t *testing.T, program []byte) {
		if len(program) > 48 {
			program = program[:48]
		}
		w := newSessionWorld(t, h)
		defer w.cleanup()
		for i, b := range program {
			w.step = i
			w.run(b)
		}
		w.resumeAndCheck()
		h.probe(t)
	})
}

// Operations of FuzzSessions, in the low nibble of a program byte.
const (
	opConnect     = iota // bit 5: persistent session; bit 6: MQTT 5
	opSubscribe          // bits 5-6: QoS (3 counts as 2)
	opUnsubscribe        //
	opPublish            // bits 5-6: QoS (3 counts as 2); bit 7: QoS 2 is sent again with DUP before PUBREL
	opHold               // bit 5: hold acknowledgements (clear: acknowledge at once)
	opAck                // send the held acknowledgements, then a PINGREQ that confirms them
	opDisconnect         // DISCONNECT, then the broker must close
	opDrop               // close the TCP connection without a word
	opPing               // PINGREQ: read what is pending
	opCount
)

// msgState is what a subscriber's session knows of one message owed to it.
type msgState uint8

const (
	owed     msgState = iota // not received on any connection
	received                 // received, acknowledgement not sent
	ackSent                  // PUBACK or PUBREC sent, not known to the broker
	ackDoubt                 // sent on a connection that was dropped: the broker may or may not have it
	settled                  // QoS 1: the broker has the PUBACK; QoS 2: the broker sent PUBREL
)

// owedMsg is a message owed to a persistent session.
type owedMsg struct {
	qos   byte
	state msgState
}

// sessionModel is what the program knows of one client id's session on the broker.
type sessionModel struct {
	id         string
	exists     bool // a persistent session exists on the broker (live or offline)
	persistent bool // the current or last connection asked for a persistent session
	subQoS     int  // granted QoS of the program's one subscription; -1 without one
	v          codec.Version
	owed       map[string]*owedMsg
	pids       map[uint16]string // the broker's packet id of each QoS 1/2 delivery to this session
	delivered  map[string]uint16 // and the other way round
	conn       *fuzzConn
}

// fuzzConn is one connection of the program.
type fuzzConn struct {
	c       net.Conn
	s       *sessionModel
	v       codec.Version
	hold    bool
	pending [][]byte // held acknowledgements
	held    []string // the messages of the held acknowledgements
	acked   []string // messages whose acknowledgement was sent on this connection, not yet confirmed
	last    []byte   // the answer waitFor recognised
	buf     []byte
	nextPID uint16
}

type sessionWorld struct {
	t        *testing.T
	h        *fuzzHarness
	tag      string
	topic    string
	step     int
	sessions [2]*sessionModel
	nmsg     int
	qos      map[string]byte // every message published, with its QoS
	conns    []*fuzzConn
}

func newSessionWorld(t *testing.T, h *fuzzHarness) *sessionWorld {
	tag := fmt.Sprintf("s%d-%x", h.seq.Add(1), time.Now().UnixNano())
	w := &sessionWorld{t: t, h: h, tag: tag, topic: "fz/" + tag, qos: map[string]byte{}}
	for i, name := range []string{"A", "B"} {
		w.sessions[i] = &sessionModel{id: tag + name, subQoS: -1, owed: map[string]*owedMsg{}, pids: map[uint16]string{},
			delivered: map[string]uint16{}}
	}
	return w
}

func (w *sessionWorld) fatalf(format string, args ...any) {
	w.t.Helper()
	w.t.Fatalf("step %d: %s", w.step, fmt.Sprintf(format, args...))
}

// cleanup closes every connection and discards the program's sessions, so the broker does not accumulate them.
func (w *sessionWorld) cleanup() {
	for _, fc := range w.conns {
		fc.c.Close()
	}
	for _, s := range w.sessions {
		c, err := net.DialTimeout("tcp", w.h.s.TCPAddr(), fuzzDeadline)
		if err != nil {
			continue
		}
		c.SetDeadline(time.Now().Add(fuzzDeadline))
		c.Write(append(connect311(s.id, true), 0xe0, 0))
		var b [64]byte
		for {
			if _, err := c.Read(b[:]); err != nil {
				break
			}
		}
		c.Close()
	}
}

func (w *sessionWorld) run(b byte) {
	s := w.sessions[b>>4&1]
	arg := b >> 5
	switch (b & 0x0f) % opCount {
	case opConnect:
		v := codec.V311
		if arg&2 != 0 {
			v = codec.V5
		}
		w.connect(s, arg&1 != 0, v)
	case opSubscribe:
		if s.conn != nil {
			w.subscribe(s, min(arg&3, 2))
		}
	case opUnsubscribe:
		if s.conn != nil {
			w.unsubscribe(s)
		}
	case opPublish:
		if s.conn != nil {
			w.publish(s, min(arg&3, 2), arg&4 != 0)
		}
	case opHold:
		if s.conn != nil {
			s.conn.hold = arg&1 != 0
		}
	case opAck:
		if s.conn != nil {
			fc := s.conn
			for _, p := range fc.pending {
				fc.send(w, p)
			}
			for _, m := range fc.held {
				fc.sent(m)
			}
			fc.pending, fc.held = nil, nil
			w.ping(fc)
		}
	case opDisconnect:
		if s.conn != nil {
			w.disconnect(s)
		}
	case opDrop:
		if s.conn != nil {
			w.drop(s.conn, true)
		}
	case opPing:
		if s.conn != nil {
			w.ping(s.conn)
		}
	}
}

// connect opens a connection for s (taking over its live one, if any) and checks CONNACK.
func (w *sessionWorld) connect(s *sessionModel, persistent bool, v codec.Version) {
	var pkt []byte
	switch {
	case v == codec.V311:
		pkt = connect311(s.id, !persistent)
	case persistent:
		var props codec.Properties
		props.Set(codec.PropSessionExpiry)
		props.SessionExpiry = 3600
		pkt = connect5With(s.id, props, func(c *codec.Connect) { c.CleanStart = false })
	default:
		pkt = connect5(s.id)
	}
	c, err := net.DialTimeout("tcp", w.h.s.TCPAddr(), fuzzDeadline)
	if err != nil {
		w.fatalf("dial: %v", err)
	}
	fc := &fuzzConn{c: c, s: s, v: v}
	w.conns = append(w.conns, fc)
	old := s.conn
	fc.send(w, pkt)
	p := fc.waitFor(w, "CONNACK", func(p []byte) bool { return p[0] == 0x20 })
	var ack codec.Connack
	h, _, _ := codec.Peek(p, 0)
	if err := ack.Decode(h, p[h.Size:], v); err != nil {
		w.fatalf("CONNACK % x: %v", p, err)
	}
	if ack.Reason != 0 {
		w.fatalf("CONNACK refused: % x", p)
	}
	// The session present flag: a persistent connect resumes an existing persistent session, live or offline; a
	// clean session is never resumed, even by a takeover before the broker has seen its connection go
	// [MQTT-3.1.2-6]; a clean connect never reports a session.
	switch {
	case !persistent && ack.SessionPresent:
		w.fatalf("clean connect of %s got session present", s.id)
	case persistent && ack.SessionPresent != s.exists:
		w.fatalf("persistent connect of %s: session present %v, want %v", s.id, ack.SessionPresent, s.exists)
	}
	if old != nil {
		// Takeover: the broker closes the old connection (MQTT 5: after DISCONNECT 0x8E).
		w.drainClosed(old, "taken-over connection")
		w.drop(old, true)
	}
	switch {
	case !persistent:
		s.exists, s.subQoS = false, -1
		s.owed, s.pids, s.delivered = map[string]*owedMsg{}, map[uint16]string{}, map[string]uint16{}
	case !s.exists:
		s.exists, s.subQoS = true, -1
		s.owed, s.pids, s.delivered = map[string]*owedMsg{}, map[uint16]string{}, map[string]uint16{}
	}
	s.persistent, s.v, s.conn = persistent, v, fc
}

func (w *sessionWorld) subscribe(s *sessionModel, qos byte) {
	fc := s.conn
	pid := fc.pid()
	sub := codec.Subscribe{PacketID: pid, Subs: []codec.Subscription{{Filter: []byte(w.topic), QoS: qos}}}
	fc.request(w, sub.Append(nil, fc.v), "SUBACK", func(p []byte) bool { return p[0] == 0x90 && pidOf(p) == pid })
	// The last byte of a SUBACK with one filter is its reason code.
	p := fc.last
	if rc := p[len(p)-1]; rc <= 2 {
		s.subQoS = int(rc)
	} else {
		w.fatalf("SUBACK refused QoS %d: % x", qos, p)
	}
}

func (w *sessionWorld) unsubscribe(s *sessionModel) {
	fc := s.conn
	pid := fc.pid()
	n := 2 + 2 + len(w.topic)
	if fc.v == codec.V5 {
		n++
	}
	pkt := []byte{0xa2, byte(n), byte(pid >> 8), byte(pid)}
	if fc.v == codec.V5 {
		pkt = append(pkt, 0)
	}
	pkt = append(pkt, byte(len(w.topic)>>8), byte(len(w.topic)))
	pkt = append(pkt, w.topic...)
	fc.request(w, pkt, "UNSUBACK", func(p []byte) bool { return p[0] == 0xb0 && pidOf(p) == pid })
	s.subQoS = -1
	// The broker must finish deliveries it has started, but may drop the messages it still holds back
	// (MQTT 5 §3.10.4).
	for m, o := range s.owed {
		if o.state == owed {
			delete(s.owed, m)
		}
	}
}

// publish sends one message and completes its flow. Once the broker has acknowledged it (PUBACK, PUBREC), it is
// owed to every persistent session subscribed at that time.
func (w *sessionWorld) publish(s *sessionModel, qos byte, dup bool) {
	fc := s.conn
	w.nmsg++
	msg := fmt.Sprintf("%s/m%d", w.tag, w.nmsg)
	w.qos[msg] = qos
	p := codec.Publish{QoS: qos, Topic: []byte(w.topic), Payload: []byte(msg)}
	if qos == 0 {
		fc.send(w, p.Append(nil, fc.v))
		w.ping(fc) // QoS 0 gets no answer: the PINGREQ behind it must
		return
	}
	p.PacketID = fc.pid()
	ackType := byte(0x40)
	if qos == 2 {
		ackType = 0x50
	}
	fc.request(w, p.Append(nil, fc.v), "publisher acknowledgement", func(b []byte) bool {
		return b[0] == ackType && pidOf(b) == p.PacketID
	})
	if a := fc.last; fc.v == codec.V5 && len(a) > 4 && a[4] >= 0x80 {
		return // refused: owed to nobody
	}
	for _, sub := range w.sessions {
		if sub.exists && sub.persistent && sub.subQoS >= 1 {
			if _, ok := sub.owed[msg]; !ok {
				sub.owed[msg] = &owedMsg{qos: min(qos, byte(sub.subQoS))}
			}
		}
	}
	if qos == 2 && dup {
		// The publisher did not see PUBREC and sends again: the broker must answer PUBREC again and must not
		// forward the message a second time [MQTT-4.3.3-10].
		p.Dup = true
		fc.request(w, p.Append(nil, fc.v), "second PUBREC", func(b []byte) bool {
			return b[0] == ackType && pidOf(b) == p.PacketID
		})
	}
	if qos == 2 {
		fc.request(w, []byte{0x62, 2, byte(p.PacketID >> 8), byte(p.PacketID)}, "PUBCOMP", func(b []byte) bool {
			return b[0] == 0x70 && pidOf(b) == p.PacketID
		})
	}
}

func (w *sessionWorld) ping(fc *fuzzConn) {
	fc.request(w, pingreq, "PINGRESP", func(p []byte) bool { return p[0] == 0xd0 })
}

// disconnect sends DISCONNECT: the broker has then seen every acknowledgement sent before it.
func (w *sessionWorld) disconnect(s *sessionModel) {
	fc := s.conn
	fc.send(w, []byte{0xe0, 0})
	w.drainClosed(fc, "connection after DISCONNECT")
	for _, m := range fc.acked {
		if o := s.owed[m]; o != nil && o.qos == 1 && o.state == ackSent {
			o.state = settled
		}
	}
	fc.acked = nil
	w.end(fc)
}

// drop closes fc without a word: acknowledgements not yet confirmed are in doubt.
func (w *sessionWorld) drop(fc *fuzzConn, close bool) {
	if close {
		fc.c.Close()
	}
	for _, m := range fc.acked {
		if o := fc.s.owed[m]; o != nil && o.state == ackSent {
			o.state = ackDoubt
		}
	}
	fc.acked = nil
	w.end(fc)
}

func (w *sessionWorld) end(fc *fuzzConn) {
	fc.c.Close()
	if fc.s.conn == fc {
		fc.s.conn = nil
		if !fc.s.persistent {
			fc.s.exists, fc.s.subQoS = false, -1
		}
	}
}

// drainClosed reads fc until the broker closes it, recording deliveries, and fails if it stays open.
func (w *sessionWorld) drainClosed(fc *fuzzConn, what string) {
	fc.c.SetDeadline(time.Now().Add(fuzzDeadline))
	for {
		p, err := fc.read()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				w.fatalf("%s of %s not closed within %v", what, fc.s.id, fuzzDeadline)
			}
			break
		}
		if p[0] == 0xe0 {
			continue // MQTT 5 DISCONNECT before the close
		}
		w.handle(fc, p, false)
	}
}

// resumeAndCheck resumes every persistent session owed a message it has not settled, acknowledges everything,
// and fails unless each such message arrives (QoS 2: its PUBREL) within fuzzDeadline.
func (w *sessionWorld) resumeAndCheck() {
	for _, s := range w.sessions {
		if !s.exists || !s.persistent {
			continue
		}
		if s.conn != nil {
			w.disconnect(s)
		}
		w.step = -1
		w.connect(s, true, s.v)
		fc := s.conn
		fc.hold = false
		// Messages received and acknowledged, but whose acknowledgement may not have reached the broker, may come
		// again; those not acknowledged must.
		missing := func() []string {
			var out []string
			for m, o := range s.owed {
				if o.state == owed || o.state == received || (o.qos == 2 && o.state != settled) {
					out = append(out, fmt.Sprintf("%s(QoS %d, %d)", m, o.qos, o.state))
				}
			}
			return out
		}
		for _, o := range s.owed {
			if o.state == received {
				o.state = owed // its delivery on a dead connection does not count
			}
		}
		fc.c.SetDeadline(time.Now().Add(fuzzDeadline))
		for len(missing()) > 0 {
			p, err := fc.read()
			if err != nil {
				w.fatalf("%s resumed, still owed %v: %v", s.id, missing(), err)
			}
			w.handle(fc, p, true)
		}
		w.ping(fc)
	}
}

// handle processes a packet the broker sent unasked: a delivery or a PUBREL. answered says whether the
// acknowledgements it sends count as sent (false while draining a connection the broker is closing).
func (w *sessionWorld) handle(fc *fuzzConn, p []byte, live bool) {
	s := fc.s
	switch p[0] >> 4 {
	case 3:
		var pub codec.Publish
		h, _, _ := codec.Peek(p, 0)
		if err := pub.Decode(h, p[h.Size:], fc.v); err != nil {
			w.fatalf("delivery to %s % x: %v", s.id, p, err)
		}
		msg := string(pub.Payload)
		q, ok := w.qos[msg]
		if !ok || string(pub.Topic) != w.topic {
			w.fatalf("delivery to %s of a message never published: %q on %q", s.id, msg, pub.Topic)
		}
		if pub.QoS > q {
			w.fatalf("delivery to %s of %s at QoS %d, published at %d", s.id, msg, pub.QoS, q)
		}
		o := s.owed[msg]
		if o != nil && o.qos == 2 && o.state == settled {
			w.fatalf("QoS 2 message %s delivered to %s again after the broker's PUBREL (exactly once)", msg, s.id)
		}
		if pub.QoS == 0 {
			return
		}
		if prev, ok := s.delivered[msg]; ok {
			switch {
			case pub.QoS == 2 && prev != pub.PacketID:
				w.fatalf("QoS 2 message %s delivered to %s twice, as packets %d and %d (exactly once)", msg, s.id, prev, pub.PacketID)
			case prev == pub.PacketID && !pub.Dup:
				w.fatalf("message %s re-sent to %s as packet %d without DUP [MQTT-3.3.1-1]", msg, s.id, prev)
			}
		}
		s.delivered[msg] = pub.PacketID
		s.pids[pub.PacketID] = msg
		if o != nil && o.state == owed {
			o.state = received
		}
		ack := []byte{0x40, 2, byte(pub.PacketID >> 8), byte(pub.PacketID)}
		if pub.QoS == 2 {
			ack[0] = 0x50
		}
		w.ack(fc, ack, msg, live)
	case 6:
		id := pidOf(p)
		msg, ok := s.pids[id]
		if o := s.owed[msg]; ok && o != nil && o.qos == 2 {
			o.state = settled
		}
		w.ack(fc, []byte{0x70, 2, byte(id >> 8), byte(id)}, "", live)
	case 0xe:
		w.fatalf("broker disconnected %s: % x", s.id, p)
	default:
		w.fatalf("%s got an unexpected % x", s.id, p)
	}
}

func (w *sessionWorld) ack(fc *fuzzConn, ack []byte, msg string, live bool) {
	if !live {
		return
	}
	if fc.hold {
		fc.pending = append(fc.pending, ack)
		if msg != "" {
			fc.held = append(fc.held, msg)
		}
		return
	}
	fc.send(w, ack)
	if msg != "" {
		fc.sent(msg)
	}
}

// sent records that the acknowledgement of msg went out on fc.
func (fc *fuzzConn) sent(msg string) {
	fc.acked = append(fc.acked, msg)
	if o := fc.s.owed[msg]; o != nil && o.state == received {
		o.state = ackSent
	}
}

// send writes b or fails.
func (fc *fuzzConn) send(w *sessionWorld, b []byte) {
	fc.c.SetWriteDeadline(time.Now().Add(fuzzDeadline))
	if _, err := fc.c.Write(b); err != nil {
		w.fatalf("%s write % x: %v", fc.s.id, b, err)
	}
}

func (fc *fuzzConn) pid() uint16 {
	fc.nextPID++
	if fc.nextPID == 0 {
		fc.nextPID = 1
	}
	return fc.nextPID
}

// request sends b and waits for the answer that match recognises; the broker has then seen every acknowledgement
// sent before b, so QoS 1 ones are settled.
func (fc *fuzzConn) request(w *sessionWorld, b []byte, what string, match func([]byte) bool) {
	confirming := fc.acked
	fc.acked = nil
	fc.send(w, b)
	fc.waitFor(w, what, match)
	for _, m := range confirming {
		if o := fc.s.owed[m]; o != nil && o.qos == 1 && o.state == ackSent {
			o.state = settled
		}
	}
}

// waitFor reads until match recognises a packet (kept in fc.last and returned), handling deliveries meanwhile.
func (fc *fuzzConn) waitFor(w *sessionWorld, what string, match func([]byte) bool) []byte {
	fc.c.SetReadDeadline(time.Now().Add(fuzzDeadline))
	for {
		p, err := fc.read()
		if err != nil {
			w.fatalf("%s waiting for %s: %v", fc.s.id, what, err)
		}
		if match(p) {
			fc.last = p
			return p
		}
		w.handle(fc, p, true)
	}
}

// read returns the next whole packet.
func (fc *fuzzConn) read() ([]byte, error) {
	var tmp [4096]byte
	for {
		h, need, err := codec.Peek(fc.buf, 0)
		if err != nil {
			return nil, fmt.Errorf("broker stream % x: %w", fc.buf, err)
		}
		if need == 0 && len(fc.buf) > 0 {
			p := bytes.Clone(fc.buf[:h.Len()])
			fc.buf = fc.buf[h.Len():]
			return p, nil
		}
		n, err := fc.c.Read(tmp[:])
		fc.buf = append(fc.buf, tmp[:n]...)
		if err != nil && n == 0 {
			return nil, err
		}
	}
}

// pidOf is the packet identifier of an acknowledgement, SUBACK or UNSUBACK.
func pidOf(p []byte) uint16 {
	h, _, _ := codec.Peek(p, 0)
	if h.Size+2 > len(p) {
		return 0
	}
	return uint16(p[h.Size])<<8 | uint16(p[h.Size+1])
}
