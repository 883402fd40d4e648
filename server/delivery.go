package server

import (
	"loopmq/codec"
	"loopmq/server/stats"
)

// A message leaving for one session, on the loop that owns it: deliver puts it in the outbox, the inflight window
// or the session queue, pump moves the queue into the window as acknowledgements (handleAck) free room, and
// sendPublish encodes it for the client.

// deliver hands m to session s, which l owns (or forwards it to the loop that owns s now): into the outbox (QoS
// 0, or QoS 1/2 with room in the inflight window), into s's queue, or nowhere (s ended, m expired, QoS 0 for an
// offline or congested client). A QoS 1/2 delivery arrives admitted to s's backlog (plan, sendRetained) and
// leaves it (session.release) when it goes into the window or nowhere; from the queue, pump releases it. paced:
// the caller already waits for room (retained messages), so a QoS 0 message is not dropped at the high-water
// mark.
func (l *loop) deliver(s *session, m *message, qos byte, retain bool, ids []uint32, paced bool) {
	if o := s.owner.Load(); o != l {
		// Owned elsewhere now (a resumed session moved): forward, still admitted. Only the owner may look at the
		// session.
		if o != nil {
			o.post(delivery{sess: s, msg: m.keep(), qos: qos, retain: retain}, ids)
		} else if qos > 0 {
			s.release(&l.s.waits, 1) // the session ended on the way
		}
		return
	}
	if s.dead || m.expired(l.wheel.now) {
		if !s.dead {
			l.stats.DroppedExpired.Add(1)
		}
		if qos > 0 {
			s.release(&l.s.waits, 1)
		}
		return
	}
	cl := s.cl
	online := cl != nil && cl.state == stConnected
	if qos == 0 {
		if !online {
			return // QoS 0 is not queued for offline sessions
		}
		if !paced && cl.outbound() >= l.s.opts.OutboundHighWater {
			l.stats.DroppedHighWater.Add(1)
			l.watchOutbound(cl)
			return
		}
		cl.sendPublish(m, 0, retain, 0, ids, false)
		return
	}
	s.ensureFlow()
	e := outMsg{m: m.keep(), qos: qos, retain: retain}
	if len(ids) > 0 {
		e.ids = append([]uint32(nil), ids...)
	}
	if online && len(s.queue) == 0 && s.canSend(cl) {
		s.release(&l.s.waits, 1)
		s.sendNew(cl, e)
		return
	}
	// Queued even past max_queued_messages: plan already admitted the message, and held the publisher's
	// acknowledgement if it went over the limit.
	s.queue = append(s.queue, e)
	stats.AddOwned(&l.stats.Queued, 1)
	if online && s.backlog.Load() > l.s.waits.limit {
		l.watchCongestion(s)
	}
}

// handleAck handles PUBACK, PUBREC, PUBREL and PUBCOMP.
func (cl *client) handleAck(a *codec.Ack) {
	l := cl.l
	s := cl.s
	s.ensureFlow()
	s.progressAt = l.wheel.now // the client is alive and reading (flow.go's stuck-consumer watch)
	switch a.Type {
	case codec.TypePuback:
		if i := s.findInflight(a.PacketID, 1); i >= 0 {
			s.removeInflight(l, i)
			s.pump(l)
		}
	case codec.TypePubrec:
		i := s.findInflight(a.PacketID, 2)
		if i < 0 {
			// [MQTT-4.3.3]: answer with PUBREL; v5 says the id is unknown.
			cl.write(codec.AppendAck(cl.buf(), codec.TypePubrel, a.PacketID, codec.PacketIdentifierNotFound, cl.version))
			return
		}
		if cl.version == codec.V5 && a.Reason >= 0x80 {
			// The receiver refused the message: the flow ends here [MQTT-4.3.3-4 note].
			s.removeInflight(l, i)
			s.pump(l)
			return
		}
		s.inflight[i].released = true
		s.inflight[i].m.release()
		s.inflight[i].m = nil
		cl.write(codec.AppendAck(cl.buf(), codec.TypePubrel, a.PacketID, codec.Success, cl.version))
	case codec.TypePubrel:
		for i, id := range s.inQoS2 {
			if id == a.PacketID {
				s.inQoS2 = append(s.inQoS2[:i], s.inQoS2[i+1:]...)
				cl.write(codec.AppendAck(cl.buf(), codec.TypePubcomp, a.PacketID, codec.Success, cl.version))
				return
			}
		}
		cl.write(codec.AppendAck(cl.buf(), codec.TypePubcomp, a.PacketID, codec.PacketIdentifierNotFound, cl.version))
	case codec.TypePubcomp:
		if i := s.findInflight(a.PacketID, 2); i >= 0 && s.inflight[i].released {
			s.removeInflight(l, i)
			s.pump(l)
		}
	}
}

// findInflight returns the index of the inflight message with packet id id and QoS qos, or -1.
func (s *session) findInflight(id uint16, qos byte) int {
	for i := range s.inflight {
		if s.inflight[i].packetID == id && s.inflight[i].qos == qos {
			return i
		}
	}
	return -1
}

func (s *session) removeInflight(l *loop, i int) {
	stats.AddOwned(&l.stats.Inflight, -1)
	s.inflight[i].m.release()
	copy(s.inflight[i:], s.inflight[i+1:])
	s.inflight[len(s.inflight)-1] = outMsg{}
	s.inflight = s.inflight[:len(s.inflight)-1]
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
	stats.AddOwned(&cl.l.stats.Inflight, 1)
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
			l.stats.DroppedExpired.Add(1)
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
		stats.AddOwned(&l.stats.Queued, -int64(n))
		s.release(&l.s.waits, int32(n))
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
		l.stats.DroppedTooLarge.Add(1)
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
	l.stats.MsgsOut.Add(1)
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
