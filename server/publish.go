package server

import (
	"bytes"

	"loopmq/codec"
	"loopmq/topic"
)

var sysPrefix = []byte("$SYS")

// handlePublish receives an application message: topic alias, QoS 1/2 handshakes, retained store, routing.
func (cl *client) handlePublish(p *codec.Publish) {
	l := cl.l
	l.stats.msgsIn.Add(1)
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
	l.quotaDropped, l.accepted = false, 0
	if bytes.HasPrefix(name, sysPrefix) {
		// $SYS belongs to the broker: client publishes there are acknowledged and dropped.
		cl.ackPublish(p, nil)
		return
	}
	m := l.viewMessage(name, p, s.subID)
	if p.Retain {
		l.retain(m)
	}
	// Plan, acknowledge, then deliver: the acknowledgement depends on what the plan found (a congested subscriber
	// holds it back, an offline one at its limit makes it 0x97), and the publisher sees it before any copy of its
	// own message.
	l.plan(m)
	cl.ackPublish(p, l.hold)
	l.dispatch(m)
	l.doneView()
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

// ackPublish answers a QoS 1 or 2 PUBLISH after it was planned: held back while hold is over its limit, with
// reason 0x97 (MQTT 5) when an offline session at its limit could not take it.
func (cl *client) ackPublish(p *codec.Publish, hold *session) {
	l := cl.l
	reason := codec.Success
	switch p.QoS {
	case 1:
		if l.quotaDropped && cl.version == codec.V5 {
			reason = codec.QuotaExceeded
		}
		cl.ack(codec.TypePuback, p.PacketID, reason, hold)
	case 2:
		// A refused QoS 2 message ends its flow at PUBREC; refuse it only if nobody took it, since the publisher
		// may send it again and those who took it would get it twice.
		if l.quotaDropped && l.accepted == 0 && cl.version == codec.V5 {
			cl.ack(codec.TypePubrec, p.PacketID, codec.QuotaExceeded, hold)
			return
		}
		cl.s.inQoS2 = append(cl.s.inQoS2, p.PacketID)
		cl.ack(codec.TypePubrec, p.PacketID, codec.Success, hold)
	}
}

// viewMessage describes the packet being handled as a message without copying it: topic and payload are views
// into the read buffer. keep copies it into a pooled message only if some recipient needs it later.
func (l *loop) viewMessage(name []byte, p *codec.Publish, from topic.SubscriberID) *message {
	m := &l.view
	m.topic, m.payload, m.props = name, p.Payload, nil
	if len(p.Props.Raw) > 0 {
		l.propBuf = codec.FilterForwardProps(l.propBuf[:0], p.Props.Raw)
		m.props = l.propBuf
	}
	m.qos, m.retain, m.from = p.QoS, p.Retain, from
	l.viewGen++
	m.gen = l.viewGen | 1<<63 // never equal to a pooled message's generation
	m.expireAt, m.expiry = 0, 0
	if p.Props.Has(codec.PropMessageExpiry) && p.Props.MessageExpiry > 0 {
		m.expireAt = l.wheel.now + int64(p.Props.MessageExpiry)*10
		m.expiry = p.Props.MessageExpiry
	}
	l.kept = nil
	return m
}

// keep returns a reference to a message that may outlive the current packet, copying the view once.
func (l *loop) keep(m *message) *message {
	if m != &l.view {
		return m.retainRef()
	}
	if l.kept == nil {
		l.kept = newMessage(m.topic, m.payload, m.props, m.qos, m.retain, m.expireAt, m.from)
		l.kept.expiry = m.expiry
	}
	return l.kept.retainRef()
}

// doneView ends the current packet's message: the copy made by keep, if any, loses its creation reference.
func (l *loop) doneView() {
	if l.kept != nil {
		l.kept.release()
		l.kept = nil
	}
	l.view = message{}
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
			l.stats.droppedRetained.Add(1)
			return
		}
	}
	k := l.keep(m)
	if old, ok := s.retained.Set(m.topic, k); ok {
		s.retainedBytes.Add(-int64(len(old.payload)))
		old.release()
	}
	s.retainedBytes.Add(int64(len(k.payload)))
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
	addOwned(&l.stats.inflight, -1)
	s.inflight[i].m.release()
	copy(s.inflight[i:], s.inflight[i+1:])
	s.inflight[len(s.inflight)-1] = outMsg{}
	s.inflight = s.inflight[:len(s.inflight)-1]
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
