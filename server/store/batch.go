package store

import (
	"github.com/cockroachdb/pebble"
)

// Batch collects mutations in the key layout of this package for one Submit. A Batch belongs
// to one goroutine until it is submitted; after Submit the Committer owns it and recycles it,
// and the caller must not touch it again. Every method copies its arguments.
type Batch struct {
	pb      *pebble.Batch
	store   *Store
	scratch []byte
	err     error
}

// NewBatch returns an empty batch for this store, recycled when possible.
func (s *Store) NewBatch() *Batch {
	if b, ok := s.batches.Get().(*Batch); ok {
		return b
	}
	return &Batch{pb: s.db.NewBatch(), store: s}
}

// release resets b and returns it to its store's pool (a pebble batch belongs to one database).
func (b *Batch) release() {
	b.pb.Reset()
	b.err = nil
	if cap(b.scratch) > 64<<10 {
		b.scratch = nil
	}
	b.store.batches.Put(b)
}

// Count returns the number of mutations in b.
func (b *Batch) Count() int { return int(b.pb.Count()) }

// Size returns the encoded size of b in bytes.
func (b *Batch) Size() int { return b.pb.Len() }

func (b *Batch) set(keyEnd int) {
	if err := b.pb.Set(b.scratch[:keyEnd], b.scratch[keyEnd:], nil); err != nil && b.err == nil {
		b.err = err
	}
}

func (b *Batch) del(key []byte) {
	if err := b.pb.Delete(key, nil); err != nil && b.err == nil {
		b.err = err
	}
}

func (b *Batch) checkID(clientID []byte) bool {
	if len(clientID) > MaxClientIDLen {
		if b.err == nil {
			b.err = ErrClientIDTooLong
		}
		return false
	}
	return true
}

// PutMessage stores a message body under id; queue and inflight entries refer to it.
func (b *Batch) PutMessage(id uint64, m *Message) {
	b.scratch = appendMessageKey(b.scratch[:0], id)
	k := len(b.scratch)
	b.scratch = m.AppendTo(b.scratch)
	b.set(k)
}

// DeleteMessage removes the body stored under id.
func (b *Batch) DeleteMessage(id uint64) {
	b.scratch = appendMessageKey(b.scratch[:0], id)
	b.del(b.scratch)
}

// PutRetained stores m as the retained message of m.Topic, replacing any earlier one.
func (b *Batch) PutRetained(m *Message) {
	b.scratch = appendRetainedKey(b.scratch[:0], m.Topic)
	k := len(b.scratch)
	b.scratch = m.AppendTo(b.scratch)
	b.set(k)
}

// DeleteRetained removes the retained message of topic.
func (b *Batch) DeleteRetained(topic []byte) {
	b.scratch = appendRetainedKey(b.scratch[:0], topic)
	b.del(b.scratch)
}

// PutSession stores the session record (will, subscriptions, expiry), replacing the earlier
// one; its queue, inflight and inbound entries are untouched.
func (b *Batch) PutSession(s *Session) {
	if !b.checkID(s.ClientID) {
		return
	}
	b.scratch = appendSessionKey(b.scratch[:0], s.ClientID)
	k := len(b.scratch)
	b.scratch = s.AppendTo(b.scratch)
	b.set(k)
}

// DeleteSession removes the session with everything under it: record, queue, inflight and
// inbound state, as one range deletion. Message bodies stay: the broker deletes those it no
// longer references, and Load drops any left without a reference.
func (b *Batch) DeleteSession(clientID []byte) {
	if !b.checkID(clientID) {
		return
	}
	b.scratch = appendSessionPrefix(b.scratch[:0], clientID)
	if err := b.pb.DeleteRange(b.scratch, prefixEnd(b.scratch), nil); err != nil && b.err == nil {
		b.err = err
	}
}

// Enqueue appends a queued message at seq to the session's queue; the broker numbers each
// session's queue with increasing seq values.
func (b *Batch) Enqueue(clientID []byte, seq uint64, q *Queued) {
	if !b.checkID(clientID) {
		return
	}
	b.scratch = appendQueuedKey(b.scratch[:0], clientID, seq)
	k := len(b.scratch)
	b.scratch = q.AppendTo(b.scratch)
	b.set(k)
}

// Dequeue removes the queue entry at seq.
func (b *Batch) Dequeue(clientID []byte, seq uint64) {
	if !b.checkID(clientID) {
		return
	}
	b.scratch = appendQueuedKey(b.scratch[:0], clientID, seq)
	b.del(b.scratch)
}

// PutInflight stores (or advances the state of) an outbound delivery under f.PacketID.
func (b *Batch) PutInflight(clientID []byte, f *Inflight) {
	if !b.checkID(clientID) {
		return
	}
	b.scratch = appendInflightKey(b.scratch[:0], clientID, f.PacketID)
	k := len(b.scratch)
	b.scratch = f.AppendTo(b.scratch)
	b.set(k)
}

// DeleteInflight removes the outbound delivery with packetID (PUBACK or PUBCOMP received).
func (b *Batch) DeleteInflight(clientID []byte, packetID uint16) {
	if !b.checkID(clientID) {
		return
	}
	b.scratch = appendInflightKey(b.scratch[:0], clientID, packetID)
	b.del(b.scratch)
}

// PutInbound records that a QoS 2 PUBLISH with packetID was received and its PUBREL is awaited.
func (b *Batch) PutInbound(clientID []byte, packetID uint16) {
	if !b.checkID(clientID) {
		return
	}
	b.scratch = appendInboundKey(b.scratch[:0], clientID, packetID)
	k := len(b.scratch)
	b.scratch = append(b.scratch, inboundValue...)
	b.set(k)
}

// DeleteInbound forgets the inbound packetID (PUBREL received).
func (b *Batch) DeleteInbound(clientID []byte, packetID uint16) {
	if !b.checkID(clientID) {
		return
	}
	b.scratch = appendInboundKey(b.scratch[:0], clientID, packetID)
	b.del(b.scratch)
}
