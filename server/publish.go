package server

import (
	"bytes"

	"loopmq/codec"
	"loopmq/topic"
)

// A PUBLISH, top to bottom: handlePublish checks it (topic alias, QoS 1/2 state), describes it as a message
// without copying it (viewMessage), updates the retained store, plans its routing (plan lists who gets what and
// returns the verdict: what holds the acknowledgement, how many refused it), acknowledges it as the verdict says
// (ackPublish), then makes the planned deliveries (dispatch: deliver in delivery.go, or the owning loop's mailbox).

var sysPrefix = []byte("$SYS")

// handlePublish decodes and receives an application message: topic alias, QoS 1/2 handshakes, retained store,
// routing.
func (cl *client) handlePublish(h codec.FixedHeader, body []byte) {
	l := cl.l
	p := &l.dec.Publish
	if err := p.Decode(h, body, cl.version); err != nil {
		cl.failErr(err)
		return
	}
	l.stats.MsgsIn.Add(1)
	s := cl.s
	name := p.Topic
	if cl.version == codec.V5 {
		if err := p.CheckFromClient(); err != nil {
			cl.failErr(err)
			return
		}
		if p.Props.Has(codec.PropTopicAlias) {
			a := p.Props.TopicAlias
			if a == 0 || int(a) > l.s.opts.TopicAliasMaximum {
				cl.fail(codec.TopicAliasInvalid, "topic alias out of range [MQTT-3.3.2-9]")
				return
			}
			if cl.aliases == nil {
				cl.aliases = &aliasState{}
			}
			if len(name) > 0 {
				if cl.aliases.in == nil {
					cl.aliases.in = make(map[uint16][]byte)
				}
				cl.aliases.in[a] = append(cl.aliases.in[a][:0], name...)
			} else if name = cl.aliases.in[a]; name == nil {
				cl.fail(codec.ProtocolError, "unknown topic alias [MQTT-3.3.4-?]")
				return
			}
		}
	}

	if p.QoS > 0 {
		s.ensureFlow()
		// QoS 2: a re-sent PUBLISH with an id not yet released is acknowledged again, not delivered again
		// [MQTT-4.3.3]; if its PUBREC is still held back, that one answers it.
		if p.QoS == 2 {
			for _, id := range s.inQoS2 {
				if id == p.PacketID {
					if !cl.heldFor(id) {
						cl.ack(codec.TypePubrec, id, codec.Success, nil)
					}
					return
				}
			}
		}
		if cl.unackedIn() >= l.s.opts.ReceiveMaximum {
			if cl.version == codec.V5 {
				cl.fail(codec.ReceiveMaximumExceeded, "receive maximum exceeded [MQTT-3.3.4-9]")
				return
			}
			if len(s.inQoS2) >= 65535 {
				cl.fail(codec.ReceiveMaximumExceeded, "too many unreleased QoS 2 messages")
				return
			}
		}
	}
	if cl.rights != nil && !cl.rights.CanPublish(name) {
		cl.denyPublish(p, name)
		return
	}
	if bytes.HasPrefix(name, sysPrefix) {
		// $SYS belongs to the broker: client publishes there are acknowledged and dropped.
		cl.ackPublish(p, verdict{})
		return
	}
	m := l.viewMessage(name, p, s.subID)
	if p.Retain {
		l.retain(m)
	}
	// Plan, acknowledge, then deliver: the acknowledgement depends on what the plan found (a congested subscriber
	// holds it back, an offline one at its limit makes it 0x97), and the publisher sees it before any copy of its
	// own message.
	v := l.plan(m)
	cl.ackPublish(p, v)
	l.dispatch(m)
	m.endView()
	if a := cl.acks; a != nil && cl.version != codec.V5 && len(a.q) >= maxHeldAcks {
		if len(a.q) >= maxUnackedV3 {
			cl.fail(codec.ReceiveMaximumExceeded, "more unacknowledged QoS 1/2 publishes than packet identifiers")
			return
		}
		// A 3.x publisher without a window of its own: stop reading it (flow.go), unless what it waits for is its
		// own session, which drains only as its input (its PUBACKs) is read.
		cl.inputPaused = a.waitingOn != s
	}
}

// denyPublish answers a PUBLISH the ACL refuses, as Mosquitto 2.0 does: the message goes nowhere (not retained,
// not routed); an MQTT 5 client gets PUBACK or PUBREC 0x87 (Not authorized), which ends a QoS 2 flow; a 3.x
// client, whose acknowledgements carry no reason, gets an ordinary PUBACK or PUBREC (then PUBCOMP), so it does not
// resend. The connection stays. QoS 0 is dropped silently.
func (cl *client) denyPublish(p *codec.Publish, name []byte) {
	cl.l.stats.PublishDenied.Add(1)
	if !cl.denyLogged {
		cl.denyLogged = true // once per connection: a client retrying a forbidden topic must not flood the log
		cl.logConn("publish denied by acl_file", "topic", string(name))
	}
	switch {
	case p.QoS == 0:
	case cl.version == codec.V5:
		t := codec.TypePuback
		if p.QoS == 2 {
			t = codec.TypePubrec
		}
		cl.ack(t, p.PacketID, codec.NotAuthorized, nil)
	case p.QoS == 1:
		cl.ack(codec.TypePuback, p.PacketID, codec.Success, nil)
	default:
		cl.s.inQoS2 = append(cl.s.inQoS2, p.PacketID)
		cl.ack(codec.TypePubrec, p.PacketID, codec.Success, nil)
	}
}

// viewMessage describes the packet being handled as a message without copying it: topic and payload are views
// into the read buffer, valid until endView. keep copies it into a pooled message only if some recipient needs
// it later.
func (l *loop) viewMessage(name []byte, p *codec.Publish, from topic.SubscriberID) *message {
	m := &l.view
	m.topic, m.payload, m.props = name, p.Payload, nil
	if len(p.Props.Raw) > 0 {
		l.propBuf = codec.FilterForwardProps(l.propBuf[:0], p.Props.Raw)
		m.props = l.propBuf
	}
	m.qos, m.retain, m.from = p.QoS, p.Retain, from
	l.viewGen++
	m.gen = l.viewGen | viewBit // never equal to a pooled message's generation
	m.expireAt, m.expiry = 0, 0
	if p.Props.Has(codec.PropMessageExpiry) && p.Props.MessageExpiry > 0 {
		m.expireAt = l.wheel.now + int64(p.Props.MessageExpiry)*10
		m.expiry = p.Props.MessageExpiry
	}
	m.copied = nil
	return m
}

// keep returns a reference to m for a holder that outlives the packet being handled (a queue, another loop, the
// retained store): a view is copied once into a pooled message, which every later keep shares.
func (m *message) keep() *message {
	if m.gen&viewBit == 0 {
		return m.retainRef()
	}
	if m.copied == nil {
		m.copied = newMessage(m.topic, m.payload, m.props, m.qos, m.retain, m.expireAt, m.from)
		m.copied.expiry = m.expiry
	}
	return m.copied.retainRef()
}

// endView ends a view when its packet is handled: its copy, if keep made one, loses its creation reference.
func (m *message) endView() {
	if m.copied != nil {
		m.copied.release()
	}
	*m = message{}
}

// retain updates the retained store: an empty payload deletes [MQTT-3.3.1-6, -7], anything else replaces.
func (l *loop) retain(m *message) {
	s := l.s
	if len(m.payload) == 0 {
		if old, ok := s.retained.Delete(m.topic); ok {
			s.retainedBytes.Add(-int64(len(old.payload)))
			old.release()
		}
		return
	}
	o := &s.opts
	if (o.MaxRetainedBytes > 0 && s.retainedBytes.Load()+int64(len(m.payload)) > o.MaxRetainedBytes) ||
		(o.MaxRetainedMessages > 0 && s.retained.Len() >= o.MaxRetainedMessages) {
		if _, exists := s.retained.Get(m.topic); !exists || o.MaxRetainedBytes > 0 {
			l.stats.DroppedRetained.Add(1)
			return
		}
	}
	k := m.keep()
	if old, ok := s.retained.Set(m.topic, k); ok {
		s.retainedBytes.Add(-int64(len(old.payload)))
		old.release()
	}
	s.retainedBytes.Add(int64(len(k.payload)))
}

// routePlan lists the deliveries of the message being routed: one per receiving session. It is loop scratch
// (l.planned, reused so that routing does not allocate), written by plan and consumed by dispatch; what plan
// decided for the publisher is its returned verdict.
type routePlan struct {
	to  []delivery // msg unset: it is the planned message
	ids []uint32   // the subscription identifiers of to, by idOff and nIDs
}

// verdict is what plan decided for the publisher's acknowledgement (ackPublish).
type verdict struct {
	hold     *session // the first connected session the message took over its queue limit: the ack waits for it
	refused  int      // offline sessions at their limit that did not take the message
	accepted int      // sessions that took it (len(l.planned.to))
}

// plan matches m against the topic index and lists one delivery per subscriber (overlapping subscriptions merged
// [MQTT-3.3.4-2, -3]) and per shared group (a member online and under its limit, see skipsMember). Each QoS 1/2
// delivery is admitted to its session's backlog (session.admit, flow.go): an offline session at its limit
// refuses it, and a connected one taken over its limit holds the acknowledgement.
func (l *loop) plan(m *message) verdict {
	p := &l.planned
	p.to, p.ids = p.to[:0], p.ids[:0]
	var v verdict // only touched (through over) off the common path, so the loop keeps its registers
	subs := l.s.index.Match(m.topic, l.matched[:0], l.skipMember)
	l.matched = subs
	if len(subs) > 1 && !l.seen.distinct(subs) {
		topic.SortBySubscriber(subs) // overlapping subscriptions: group each subscriber's entries
	}
	for rest := subs; len(rest) > 0; {
		var one []topic.Subscription
		one, rest, _ = topic.NextDelivery(rest)
		qos, retain, ok := byte(0), false, false
		idOff := len(p.ids)
		for i := range one {
			sub := &one[i]
			if sub.Opts.NoLocal() && sub.Subscriber == m.from && !sub.Shared {
				continue // [MQTT-3.8.3-3]
			}
			ok = true
			qos = max(qos, sub.Opts.QoS())
			if sub.Opts.RetainAsPublished() {
				retain = m.retain // [MQTT-3.3.1-12, -13]
			}
			if sub.ID != 0 {
				p.ids = append(p.ids, sub.ID)
			}
		}
		var s *session
		if ok {
			s = l.s.subs.get(one[0].Subscriber)
		}
		if s == nil { // only No Local entries of the publisher, or a session that just ended
			p.ids = p.ids[:idOff]
			continue
		}
		if r := s.rights.Load(); r != nil && !r.CanRead(m.topic) {
			// acl_file: the subscriber may not read this topic (Mosquitto checks MOSQ_ACL_READ per delivery).
			p.ids = p.ids[:idOff]
			continue
		}
		qos = min(qos, m.qos) // [MQTT-3.8.4-8]: downgrade to the granted QoS
		if qos > 0 {
			if a := s.admit(&l.s.waits); a != admitted && !v.over(s, a) {
				l.stats.DroppedQueueFull.Add(1)
				p.ids = p.ids[:idOff]
				continue
			}
		}
		p.to = append(p.to, delivery{sess: s, qos: qos, retain: retain,
			idOff: uint32(idOff), nIDs: uint16(len(p.ids) - idOff)})
	}
	v.accepted = len(p.to)
	return v
}

// over records in v what admit said to a delivery to s other than admitted, and reports whether s takes it.
func (v *verdict) over(s *session, a admission) bool {
	if a == refused {
		v.refused++
		return false
	}
	if v.hold == nil { // admittedOver
		v.hold = s
	}
	return true
}

// skipsMember reports whether a shared group member should be passed over (README, shared subscriptions): it is
// offline or at its queue limit. When every member is passed over, topic.Index still picks the one whose turn it
// was. Match calls it under the index's read locks: it only reads atomics.
func (l *loop) skipsMember(id topic.SubscriberID) bool {
	s := l.s.subs.get(id)
	return s == nil || !s.online.Load() || s.full(&l.s.waits)
}

// seenSet answers "does any subscriber have two ordinary entries in this match result?" in linear time, so a
// large fan-out without overlapping subscriptions skips the sort that merging needs. It is an open-addressing set
// of subscriber ids whose slots are invalidated by bumping a generation instead of clearing.
type seenSet struct {
	slots []seenSlot
	gen   uint32
}

type seenSlot struct {
	id  topic.SubscriberID
	gen uint32
}

// distinct reports whether no subscriber appears in two non-shared entries of subs. Small results are left to
// the sort, which is cheap for them.
func (t *seenSet) distinct(subs []topic.Subscription) bool {
	if len(subs) < 32 {
		return false
	}
	size := 64
	for size < 2*len(subs) {
		size <<= 1
	}
	if len(t.slots) < size {
		t.slots = make([]seenSlot, size)
		t.gen = 0
	}
	t.gen++
	if t.gen == 0 { // wrapped: stale stamps could match
		clear(t.slots)
		t.gen = 1
	}
	mask := uint64(len(t.slots) - 1)
	for i := range subs {
		if subs[i].Shared {
			continue
		}
		id := subs[i].Subscriber
		for h := (uint64(id) * 0x9E3779B97F4A7C15) >> 20 & mask; ; h = (h + 1) & mask {
			sl := &t.slots[h]
			if sl.gen != t.gen {
				sl.id, sl.gen = id, t.gen
				break
			}
			if sl.id == id {
				return false
			}
		}
	}
	return true
}

// ackPublish answers a QoS 1 or 2 PUBLISH as its plan's verdict says: held back while v.hold is over its limit,
// with reason 0x97 (MQTT 5) when an offline session at its limit could not take it.
func (cl *client) ackPublish(p *codec.Publish, v verdict) {
	switch p.QoS {
	case 1:
		reason := codec.Success
		if v.refused > 0 && cl.version == codec.V5 {
			reason = codec.QuotaExceeded
		}
		cl.ack(codec.TypePuback, p.PacketID, reason, v.hold)
	case 2:
		// A refused QoS 2 message ends its flow at PUBREC; refuse it only if nobody took it, since the publisher
		// may send it again and those who took it would get it twice.
		if v.refused > 0 && v.accepted == 0 && cl.version == codec.V5 {
			cl.ack(codec.TypePubrec, p.PacketID, codec.QuotaExceeded, v.hold)
			return
		}
		cl.s.inQoS2 = append(cl.s.inQoS2, p.PacketID)
		cl.ack(codec.TypePubrec, p.PacketID, codec.Success, v.hold)
	}
}

// dispatch makes the deliveries plan listed. Deliveries to sessions owned by other loops are batched per loop and
// posted once at the end.
func (l *loop) dispatch(m *message) {
	p := &l.planned
	for i := range p.to {
		d := &p.to[i]
		var ids []uint32
		if d.nIDs > 0 { // most subscriptions have no identifier: skip the bounds checks
			ids = p.ids[d.idOff : d.idOff+uint32(d.nIDs)]
		}
		if o := d.sess.owner.Load(); o != l && o != nil {
			l.stage(o, d.sess, m, d.qos, d.retain, ids)
		} else {
			l.deliver(d.sess, m, d.qos, d.retain, ids, false)
		}
		d.sess = nil
	}
	p.to = p.to[:0]
	l.postStaged()
}

// stage queues a delivery for another loop; postStaged hands each loop its batch with one lock.
func (l *loop) stage(o *loop, s *session, m *message, qos byte, retain bool, ids []uint32) {
	for len(l.staged) <= o.idx {
		l.staged = append(l.staged, stagedBatch{})
	}
	b := &l.staged[o.idx]
	if len(b.d) == 0 {
		l.stagedLoops = append(l.stagedLoops, o)
	}
	b.d = append(b.d, delivery{sess: s, msg: m.keep(), qos: qos, retain: retain,
		idOff: uint32(len(b.ids)), nIDs: uint16(len(ids))})
	if len(ids) > 0 { // an append of nothing still costs its checks, per delivery
		b.ids = append(b.ids, ids...)
	}
}

type stagedBatch struct {
	d   []delivery
	ids []uint32
}

func (l *loop) postStaged() {
	for _, o := range l.stagedLoops {
		b := &l.staged[o.idx]
		o.postBatch(b.d, b.ids)
		clear(b.d)
		b.d, b.ids = b.d[:0], b.ids[:0]
	}
	clear(l.stagedLoops)
	l.stagedLoops = l.stagedLoops[:0]
}

// postBatch appends deliveries (with their subscription identifiers) to l's mailbox and wakes l once.
func (l *loop) postBatch(ds []delivery, ids []uint32) {
	m := &l.mail
	m.mu.Lock()
	base := uint32(len(m.inIDs))
	for _, d := range ds {
		d.idOff += base
		m.in = append(m.in, d)
	}
	m.inIDs = append(m.inIDs, ids...)
	m.mu.Unlock()
	l.wake()
}

// route delivers m to every matching subscriber: plan, then dispatch. Wills and $SYS messages take this way;
// a client's PUBLISH is acknowledged between the two (handlePublish).
func (l *loop) route(m *message) {
	l.plan(m)
	l.dispatch(m)
}

// publishWill publishes a will message (owned by the caller's reference) as if its client had sent it.
func (l *loop) publishWill(w *message) {
	if w.willTTL > 0 {
		w.expireAt = l.wheel.now + int64(w.willTTL-1)*10
		w.expiry = w.willTTL - 1
	}
	if w.retain {
		l.retain(w)
	}
	l.route(w)
	w.release()
}
