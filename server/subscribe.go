package server

import (
	"errors"

	"loopmq/codec"
	"loopmq/topic"
)

// retainedBatch is how many retained messages one subscription delivers per loop pass; the rest follow in later
// passes, so a '#' over a large store never fills one outbound buffer at once.
const retainedBatch = 256

// handleSubscribe adds subscriptions, answers SUBACK, then sends the matching retained messages.
func (cl *client) handleSubscribe(h codec.FixedHeader, body []byte) {
	l := cl.l
	p := &l.dec.Subscribe
	if err := p.Decode(h, body, cl.version); err != nil {
		cl.failErr(err)
		return
	}
	s := cl.s
	var subID uint32
	if len(p.Props.SubscriptionIDs) > 0 {
		subID = p.Props.SubscriptionIDs[0]
	}
	reasons := l.reasons[:0]
	walks := l.walks[:0]
	for _, sub := range p.Subs {
		opts := topic.NewOptions(sub.QoS, sub.NoLocal, sub.RetainAsPublished, sub.RetainHandling)
		if max := l.s.opts.MaxSubscriptionsPerClient; max > 0 && len(s.filters) >= max {
			if !s.filters.has(sub.Filter) { // replacing a subscription is not a new one
				// Memory stays bounded whatever a client subscribes to.
				code := codec.QuotaExceeded
				if cl.version != codec.V5 {
					code = codec.SubackFailure
				}
				reasons = append(reasons, code)
				continue
			}
		}
		existed, err := l.s.index.Subscribe(sub.Filter, topic.Subscription{Subscriber: s.subID, Opts: opts, ID: subID})
		if err != nil {
			var te *topic.Error
			code := codec.TopicFilterInvalid
			if cl.version != codec.V5 {
				code = codec.SubackFailure
			} else if errors.As(err, &te) {
				code = codec.ReasonCode(te.Code)
			}
			reasons = append(reasons, code)
			continue
		}
		if !existed {
			l.s.subscriptions.Add(1)
		}
		s.filters.add(sub.Filter)
		reasons = append(reasons, codec.ReasonCode(sub.QoS))
		// Retained messages: not for shared subscriptions; Retain Handling 1 only for a new subscription, 2 never
		// [MQTT-3.3.1-9, -10, -11].
		if _, _, shared, _ := topic.ParseShared(sub.Filter); shared {
			continue
		}
		if sub.RetainHandling == 2 || (sub.RetainHandling == 1 && existed) {
			continue
		}
		walks = append(walks, retainedWalk{filter: sub.Filter, qos: sub.QoS, id: subID})
	}
	l.reasons = reasons
	ack := codec.Suback{PacketID: p.PacketID, Reasons: reasons}
	cl.write(ack.Append(cl.buf(), cl.version))
	for i := range walks {
		w := walks[i]
		w.filter = append([]byte(nil), w.filter...) // outlives the packet when it continues in a later pass
		cl.sendRetained(&w)
	}
	clear(walks)
	l.walks = walks[:0]
}

// retainedWalk is the progress of sending the retained messages matching one new subscription.
type retainedWalk struct {
	filter  []byte
	qos     byte
	id      uint32
	cursor  topic.Cursor[*message]
	pending []*message // fetched from the store (one reference each), not yet delivered
	done    bool       // the store walk is complete
}

// sendRetained delivers retained messages for w while the client's outbound buffer stays under half the
// high-water mark; past it the walk parks until a later tick, so retained messages are paced by the client's
// reading speed and never dropped as QoS 0 overflow.
func (cl *client) sendRetained(w *retainedWalk) {
	l := cl.l
	s := cl.s
	if cl.state != stConnected || s == nil || s.cl != cl {
		w.release()
		return
	}
	var ids []uint32
	if w.id != 0 {
		ids = []uint32{w.id}
	}
	limit := l.s.opts.OutboundHighWater / 2
	for {
		for len(w.pending) > 0 {
			m := w.pending[0]
			qos := min(w.qos, m.qos)
			// Retained messages wait for room rather than overflow: in the outbound buffer for QoS 0, in the
			// session queue for QoS 1/2.
			if cl.outbound() >= limit || qos > 0 && s.full(&l.s.waits) {
				l.waiting = append(l.waiting, func() { cl.sendRetained(w) })
				return
			}
			w.pending[0] = nil
			w.pending = w.pending[1:]
			if cl.rights != nil && !cl.rights.CanRead(m.topic) {
				m.release() // acl_file: a retained message the client may not read is skipped
				continue
			}
			if qos > 0 {
				s.admit(&l.s.waits) // under the limit (just checked) and online: admitted; deliver releases it
			}
			// A retained message sent because of a subscription has RETAIN set [MQTT-3.3.1-8].
			l.deliver(s, m, qos, true, ids, true)
			m.release()
		}
		if w.done {
			return
		}
		next, more := l.s.retained.Walk(w.filter, w.cursor, retainedBatch, func(_ []byte, m *message) bool {
			w.pending = append(w.pending, m.retainRef())
			return true
		})
		w.cursor, w.done = next, !more
	}
}

// release drops the references of messages fetched but not delivered.
func (w *retainedWalk) release() {
	for i, m := range w.pending {
		m.release()
		w.pending[i] = nil
	}
	w.pending = nil
}

// handleUnsubscribe removes subscriptions and answers UNSUBACK (v5: 0x11 where there was none [MQTT-3.11.3]).
func (cl *client) handleUnsubscribe(h codec.FixedHeader, body []byte) {
	l := cl.l
	p := &l.dec.Unsubscribe
	if err := p.Decode(h, body, cl.version); err != nil {
		cl.failErr(err)
		return
	}
	s := cl.s
	reasons := l.reasons[:0]
	for _, f := range p.Filters {
		if err := topic.ValidateFilter(f); err != nil {
			reasons = append(reasons, codec.TopicFilterInvalid)
			continue
		}
		if l.s.index.Unsubscribe(f, s.subID) {
			l.s.subscriptions.Add(-1)
			s.filters.remove(f)
			reasons = append(reasons, codec.Success)
		} else {
			reasons = append(reasons, codec.NoSubscriptionExisted)
		}
	}
	l.reasons = reasons
	ack := codec.Unsuback{PacketID: p.PacketID, Reasons: reasons}
	cl.write(ack.Append(cl.buf(), cl.version))
}
