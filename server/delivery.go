package server

import (
	"loopmq/codec"
	"loopmq/topic"
)

// route delivers m to every matching subscriber: plan, then dispatch. A publisher's QoS 1/2 message is planned
// first and dispatched after its acknowledgement is written, so the publisher sees its ack before any copy of its
// own message.
func (l *loop) route(m *message) {
	l.plan(m)
	l.dispatch(m)
}

// planned is one delivery decided by plan.
type planned struct {
	s      *session
	qos    byte
	retain bool
	nIDs   uint16 // subscription identifiers, in planIDs from idOff
	idOff  uint32
}

// plan matches m against the topic index and lists one delivery per subscriber (overlapping subscriptions merged
// [MQTT-3.3.4-2, -3]) and per shared group. It does the flow-control accounting of QoS 1/2 deliveries (flow.go):
// each counts in its session's backlog; a connected session taken over its limit is recorded in l.hold so the
// publisher's acknowledgement waits for it; an offline session at its limit does not get the message.
func (l *loop) plan(m *message) {
	l.planned, l.planIDs = l.planned[:0], l.planIDs[:0]
	l.hold, l.quotaDropped, l.accepted = nil, false, 0
	subs := l.s.index.Match(m.topic, l.matched[:0], l.skipMember)
	l.matched = subs
	if len(subs) > 1 && !l.seen.distinct(subs) {
		topic.SortBySubscriber(subs) // overlapping subscriptions: group each subscriber's entries
	}
	limit := l.s.waits.limit
	for rest := subs; len(rest) > 0; {
		var one []topic.Subscription
		one, rest, _ = topic.NextDelivery(rest)
		qos, retain, ok := byte(0), false, false
		idOff := len(l.planIDs)
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
				l.planIDs = append(l.planIDs, sub.ID)
			}
		}
		if !ok {
			l.planIDs = l.planIDs[:idOff]
			continue
		}
		s := l.s.subs.get(one[0].Subscriber)
		if s == nil {
			l.planIDs = l.planIDs[:idOff]
			continue
		}
		qos = min(qos, m.qos) // [MQTT-3.8.4-8]: downgrade to the granted QoS
		if qos > 0 && s.backlog.Add(1) > limit {
			if !s.online.Load() {
				l.s.waits.unqueue(s, 1)
				l.stats.droppedQueueFull.Add(1)
				l.quotaDropped = true
				l.planIDs = l.planIDs[:idOff]
				continue
			}
			if l.hold == nil {
				l.hold = s
			}
		}
		l.accepted++
		l.planned = append(l.planned, planned{s: s, qos: qos, retain: retain,
			idOff: uint32(idOff), nIDs: uint16(len(l.planIDs) - idOff)})
	}
}

// skipsMember reports whether a shared group member should be passed over (README, shared subscriptions): it is
// offline or at its queue limit. When every member is passed over, topic.Index still picks the one whose turn it
// was. Match calls it under the index's read locks: it only reads atomics.
func (l *loop) skipsMember(id topic.SubscriberID) bool {
	s := l.s.subs.get(id)
	return s == nil || !s.online.Load() || s.backlog.Load() >= max(l.s.waits.limit, 1)
}

// dispatch makes the deliveries plan listed. Deliveries to sessions owned by other loops are batched per loop
// and posted once at the end.
func (l *loop) dispatch(m *message) {
	for i := range l.planned {
		p := &l.planned[i]
		ids := l.planIDs[p.idOff : p.idOff+uint32(p.nIDs)]
		if o := p.s.owner.Load(); o != l && o != nil {
			l.stage(o, p.s, m, p.qos, p.retain, ids)
		} else {
			l.deliver(p.s, m, p.qos, p.retain, ids)
		}
		p.s = nil
	}
	l.planned = l.planned[:0]
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
	b.d = append(b.d, delivery{sess: s, msg: l.keep(m), qos: qos, retain: retain,
		idOff: uint32(len(b.ids)), nIDs: uint16(len(ids))})
	b.ids = append(b.ids, ids...)
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

// deliver hands m to session s, which l owns (or forwards it to the loop that owns s now). A QoS 1/2 delivery
// was counted in s's backlog by plan; it leaves the backlog here when it goes straight into the inflight window
// or goes nowhere, and in pump when it leaves the queue.
func (l *loop) deliver(s *session, m *message, qos byte, retain bool, ids []uint32) {
	if o := s.owner.Load(); o != l {
		// Owned elsewhere now (a resumed session moved): forward. Only the owner may look at the session.
		if o != nil {
			o.post(delivery{sess: s, msg: l.keep(m), qos: qos, retain: retain}, ids)
		} else if qos > 0 {
			l.s.waits.unqueue(s, 1)
		}
		return
	}
	if s.dead || m.expired(l.wheel.now) {
		if !s.dead {
			l.stats.droppedExpired.Add(1)
		}
		if qos > 0 {
			l.s.waits.unqueue(s, 1)
		}
		return
	}
	cl := s.cl
	online := cl != nil && cl.state == stConnected
	if qos == 0 {
		if !online {
			return // QoS 0 is not queued for offline sessions
		}
		if !l.pacedDelivery && cl.outbound() >= l.s.opts.OutboundHighWater {
			l.stats.droppedHighWater.Add(1)
			l.watchOutbound(cl)
			return
		}
		cl.sendPublish(m, 0, retain, 0, ids, false)
		return
	}
	s.ensureFlow()
	e := outMsg{m: l.keep(m), qos: qos, retain: retain}
	if len(ids) > 0 {
		e.ids = append([]uint32(nil), ids...)
	}
	if online && len(s.queue) == 0 && s.canSend(cl) {
		l.s.waits.unqueue(s, 1)
		s.sendNew(cl, e)
		return
	}
	// Queued even past max_queued_messages: plan already decided this session takes the message, and held the
	// publisher's acknowledgement if it went over the limit.
	s.queue = append(s.queue, e)
	addOwned(&l.stats.queued, 1)
	if online && s.backlog.Load() > l.s.waits.limit {
		l.watchCongestion(s)
	}
}

// canSend reports whether the inflight window and the outbound buffer have room for one more QoS 1/2 message.
// With nothing inflight one message always goes, so a full buffer cannot stall the queue for good.
func (s *session) canSend(cl *client) bool {
	n := len(s.inflight)
	return n < int(cl.sendQuota) && (n == 0 || cl.outbound() < cl.l.s.opts.OutboundHighWater)
}

// sendNew assigns a packet id to e, puts it in the inflight window and sends it.
func (s *session) sendNew(cl *client, e outMsg) {
	e.packetID = s.nextPacketID()
	if !cl.sendPublish(e.m, e.qos, e.retain, e.packetID, e.ids, false) {
		e.m.release() // too large for this client: dropped [MQTT-3.1.2-25]
		return
	}
	s.inflight = append(s.inflight, e)
	addOwned(&cl.l.stats.inflight, 1)
}

// pump moves queued messages into the inflight window while there is room.
func (s *session) pump(l *loop) {
	cl := s.cl
	if cl == nil || cl.state != stConnected || s.flow == nil {
		return
	}
	n := 0
	for n < len(s.queue) && s.canSend(cl) {
		e := s.queue[n]
		n++
		if e.m.expired(l.wheel.now) {
			l.stats.droppedExpired.Add(1)
			e.m.release()
			continue
		}
		s.sendNew(cl, e)
	}
	if n > 0 {
		// Slice the sent messages off the front rather than moving the rest up: one acknowledgement usually
		// frees one slot, and moving a long queue per message would make draining it quadratic. append
		// reallocates once the tail is used up, which keeps the backing array within twice the queue.
		clear(s.queue[:n])
		if n == len(s.queue) {
			s.queue = s.queue[:0] // keep the backing array: a queue that empties allocates nothing
		} else {
			s.queue = s.queue[n:]
		}
		addOwned(&l.stats.queued, -int64(n))
		l.s.waits.unqueue(s, int32(n))
	}
}

// resume re-sends the inflight window of a resumed session, PUBLISH with DUP or PUBREL [MQTT-4.4.0-1], then
// continues with the queue.
func (s *session) resume(l *loop) {
	if s.flow == nil {
		return
	}
	cl := s.cl
	for i := 0; i < len(s.inflight); i++ {
		e := &s.inflight[i]
		if e.released {
			cl.write(codec.AppendAck(cl.buf(), codec.TypePubrel, e.packetID, codec.Success, cl.version))
			continue
		}
		// Onward delivery already started, so an inflight message is re-sent even past its expiry
		// [MQTT-3.3.2-5 applies to copies not yet sent].
		if !cl.sendPublish(e.m, e.qos, e.retain, e.packetID, e.ids, true) {
			s.removeInflight(l, i)
			i--
		}
	}
	s.pump(l)
}

// sendPublish encodes m for this client into its outbox. It returns false (and counts a drop) when the packet
// would exceed the client's Maximum Packet Size [MQTT-3.1.2-25].
func (cl *client) sendPublish(m *message, qos byte, retain bool, packetID uint16, ids []uint32, dup bool) bool {
	l := cl.l
	flags := codec.PublishFlags(dup, qos, retain)
	var x *codec.ForwardProps
	if cl.version == codec.V5 {
		x = &l.fwd
		*x = codec.ForwardProps{SubscriptionIDs: ids}
		if m.expireAt != 0 {
			x.HasMessageExpiry = true
			x.MessageExpiry = m.remainingExpiry(l.wheel.now)
		}
	}
	b := cl.buf()
	start := len(b)
	// The common shape (no subscription identifiers, no alias) is encoded once per message, QoS, RETAIN and
	// protocol family, then copied to each subscriber with its packet id patched in.
	cacheable := len(ids) == 0 && cl.aliasMaxOut == 0
	key := encodeKey{m: m, gen: m.gen, v5: cl.version == codec.V5, flags: flags &^ 0x08, now: l.wheel.now}
	if c := &l.enc; cacheable && c.key == key {
		b = append(b, c.pkt...)
		if qos > 0 {
			codec.SetPublishPacketID(b[start:], packetID)
			codec.SetPublishDup(b[start:], dup)
		}
	} else {
		b = codec.AppendPublishForward(b, cl.version, flags, m.topic, packetID, m.props, x, m.payload)
		if cacheable {
			c.key = key
			c.pkt = append(c.pkt[:0], b[start:]...)
		}
	}
	if cl.maxOut > 0 && uint32(len(b)-start) > cl.maxOut {
		cl.out.B = b[:start]
		l.stats.droppedTooLarge.Add(1)
		return false
	}
	if x != nil && cl.aliasMaxOut > 0 {
		// Re-encode with a Topic Alias: only ever smaller than the packet just measured.
		if alias, known := cl.outboundAlias(m.topic); alias != 0 {
			x.TopicAlias = alias
			name := m.topic
			if known {
				name = nil
			}
			b = codec.AppendPublishForward(b[:start], cl.version, flags, name, packetID, m.props, x, m.payload)
		}
	}
	cl.write(b)
	l.stats.msgsOut.Add(1)
	return true
}

// outboundAlias picks a Topic Alias towards a v5 client that allows them: the first aliasMaxOut topics get one,
// and later messages on them carry an empty topic name [MQTT-3.3.2-10]. known reports that the client already
// has the mapping.
func (cl *client) outboundAlias(name []byte) (alias uint16, known bool) {
	if cl.aliases == nil {
		cl.aliases = &aliasState{}
	}
	out := cl.aliases.out
	if a, ok := out[string(name)]; ok {
		return a, true
	}
	if len(out) >= int(cl.aliasMaxOut) || len(name) < 4 {
		return 0, false
	}
	if out == nil {
		out = make(map[string]uint16)
		cl.aliases.out = out
	}
	a := uint16(len(out) + 1)
	out[string(name)] = a
	return a, false
}

// encodeKey identifies one encoding of a message: same message (and generation, since messages are pooled), same
// protocol family (3.x encodings are identical), same QoS and RETAIN, and the same tick (the Message Expiry left).
type encodeKey struct {
	m     *message
	gen   uint64
	v5    bool
	flags byte
	now   int64
}

// encodeCache is a loop's last PUBLISH encoding.
type encodeCache struct {
	key encodeKey
	pkt []byte
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
