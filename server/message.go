package server

import (
	"sync"
	"sync/atomic"

	"loopmq/topic"
)

// message is an application message. While its PUBLISH is handled it is a view (viewMessage): topic and payload
// point into the read buffer, nothing is copied. What must outlive the packet (queued for an offline session,
// waiting in an inflight window, retained, crossing to another loop) takes keep's pooled copy, made once: topic,
// payload and forwarded properties copied into buf, shared by every recipient and returned to the pool when the
// last reference is released. Wills are pooled messages from the start.
type message struct {
	refs atomic.Int32
	gen  uint64 // distinguishes reuses of one pooled message (encoding caches key on it)
	buf  []byte // owns topic, payload and props

	topic   []byte
	payload []byte
	// props is the PUBLISH property block to forward (v5), without Topic Alias, Subscription Identifiers and
	// Message Expiry Interval, which are per delivery.
	props []byte

	qos    byte
	retain bool
	// expireAt is the broker tick at which the Message Expiry Interval ends; 0 means no expiry.
	expireAt int64
	// expiry is the Message Expiry Interval the message came with, in seconds: the most any delivery may show
	// [MQTT-3.3.2-6], since each loop reads its own clock and a lagging one would otherwise round up past it.
	expiry uint32
	// from is the publishing session, for No Local; 0 for wills and $SYS.
	from topic.SubscriberID
	// willTTL is, for a will, its Message Expiry Interval plus one, in seconds (0: none); the interval starts
	// when the will is published.
	willTTL uint32
	// copied is, on a view (a loop's PUBLISH being handled, see viewMessage), its pooled copy made by keep.
	copied *message
}

// viewBit marks the generation of a view: its topic, payload and props point into a read buffer.
const viewBit = 1 << 63

var (
	messagePool = sync.Pool{New: func() any { return new(message) }}
	messageGen  atomic.Uint64
)

// newMessage copies topic, payload and props into a pooled message with one reference.
func newMessage(topicName, payload, props []byte, qos byte, retain bool, expireAt int64, from topic.SubscriberID) *message {
	m := messagePool.Get().(*message)
	n := len(topicName) + len(payload) + len(props)
	if cap(m.buf) < n || cap(m.buf) > 4*n+4096 {
		m.buf = make([]byte, 0, n)
	}
	b := m.buf[:0]
	b = append(b, topicName...)
	b = append(b, payload...)
	b = append(b, props...)
	m.buf = b
	t := len(topicName)
	p := t + len(payload)
	m.topic = b[:t:t]
	m.payload = b[t:p:p]
	m.props = b[p:]
	m.qos, m.retain, m.expireAt, m.from, m.willTTL, m.expiry = qos, retain, expireAt, from, 0, 0
	m.gen = messageGen.Add(1)
	m.refs.Store(1)
	return m
}

// retainRef adds a reference for one more holder.
func (m *message) retainRef() *message {
	m.refs.Add(1)
	return m
}

// release drops one reference; the last one returns the message to the pool.
func (m *message) release() {
	if m == nil {
		return
	}
	switch n := m.refs.Add(-1); {
	case n == 0:
		m.topic, m.payload, m.props = nil, nil, nil
		messagePool.Put(m)
	case n < 0:
		panic("loopmq: message released twice")
	}
}

// expired reports whether the message's expiry interval has passed at tick now.
func (m *message) expired(now int64) bool { return m.expireAt != 0 && now >= m.expireAt }

// remainingExpiry is the Message Expiry Interval to send at tick now, in whole seconds, rounded up so a message
// never looks expired while it is still deliverable, and never more than the interval it came with.
func (m *message) remainingExpiry(now int64) uint32 {
	left := m.expireAt - now
	if left <= 0 {
		return 0
	}
	const ticksPerSecond = 1_000_000_000 / tickDuration
	return min(uint32((left+ticksPerSecond-1)/ticksPerSecond), m.expiry)
}
