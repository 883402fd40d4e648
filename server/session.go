package server

import (
	"hash/maphash"
	"sync"
	"sync/atomic"

	"loopmq/codec"
	"loopmq/server/auth"
	"loopmq/server/stats"
	"loopmq/topic"
)

// neverExpire is the Session Expiry Interval that means "does not expire" (MQTT 5 §3.1.2.11.2).
const neverExpire = 0xFFFFFFFF

// session is the state MQTT keeps for a client id across connections: subscriptions (in the topic index, listed
// here to remove them), the outbound inflight window and queue, inbound QoS 2 ids, and a pending will.
//
// A session is owned by one event loop at a time (owner): only that loop reads or writes its fields, except
// those marked as guarded by the session table shard lock. Ownership moves when a client resumes the session on
// another loop; deliveries that reach the old owner are forwarded.
type session struct {
	// Words first, the small fields packed at the end: one session per persistent client, a million of them.
	id    string
	subID topic.SubscriberID
	owner atomic.Pointer[loop]

	// Guarded by the table shard lock (with handoff, discarded and transient below).
	claim    *client // a connection waiting to take this session over
	adopting *client // the claimant the session was handed to, until its adopt runs

	cl *client // the connected client, nil while offline (owner only)
	// rights are the ACL rights of the last client attached (nil: no ACL), read by the loops that route to it.
	rights  atomic.Pointer[auth.Rights]
	filters filterSet

	// flow holds the QoS 1/2 state, allocated on first use so an idle QoS 0 session does not carry it.
	*flow

	will     *message // pending will of the last connection, waiting for its delay
	willAt   int64    // tick at which the pending will is published
	expireAt int64    // tick at which the offline session ends; 0 while connected
	t        timer    // will delay and session expiry

	// Flow control (flow.go), read and written by any loop.
	backlog atomic.Int32 // QoS 1/2 messages routed here and not yet in the inflight window
	online  atomic.Bool  // a client is attached: over the limit, publishers are paced rather than dropped

	expiry  uint32 // Session Expiry Interval in seconds; neverExpire for "never"
	nextID  uint16
	version codec.Version

	handoff   bool // a handoff task is on its way to the owner (shard lock)
	discarded bool // removed from the table; ends when the owner sees it (shard lock)
	transient bool // its connection asked for Session Expiry 0: the session ends with that connection (shard lock)
	dead      bool // ended: no more deliveries
	takenOver bool // its connection was displaced by a new one
}

// flow is a session's QoS 1 and 2 state.
type flow struct {
	inflight []outMsg // sent, not yet acknowledged (in send order)
	queue    []outMsg // waiting for room in the inflight window or for the client to come back
	inQoS2   []uint16 // QoS 2 packet ids received and not yet released by PUBREL

	watch      *loop // the loop whose congestion watch list holds this session, if any
	progressAt int64 // tick of the client's last acknowledgement, while watched
}

// ensureFlow allocates the QoS 1/2 state before its first use.
func (s *session) ensureFlow() {
	if s.flow == nil {
		s.flow = new(flow)
	}
}

// outMsg is one outbound QoS 1 or 2 message of a session, queued or inflight.
type outMsg struct {
	m        *message
	ids      []uint32 // subscription identifiers, usually nil
	packetID uint16
	qos      byte
	retain   bool
	released bool // PUBREC received, PUBREL sent: waiting for PUBCOMP
}

// sessionTable maps client ids to sessions, lock-striped so that connects on many loops rarely contend.
type sessionTable struct {
	seed   maphash.Seed
	shards [256]sessionShard
	n      atomic.Int64
}

type sessionShard struct {
	mu sync.Mutex
	m  map[string]*session
	_  [40]byte
}

func (t *sessionTable) init() {
	t.seed = maphash.MakeSeed()
	for i := range t.shards {
		t.shards[i].m = make(map[string]*session)
	}
}

func (t *sessionTable) shard(id []byte) *sessionShard {
	return &t.shards[maphash.Bytes(t.seed, id)&255]
}

func (t *sessionTable) count() int { return int(t.n.Load()) }

// subscriberTable maps the topic index's subscriber ids to sessions, for routing. Reads are lock-free (two atomic
// loads), since every delivery does one: an id is a slot index in its low 32 bits and the slot's generation in its
// high 32 bits, so a recycled slot never answers for an id of an ended session.
type subscriberTable struct {
	chunks [1 << 16]atomic.Pointer[subscriberChunk]
	mu     sync.Mutex // guards free, next and chunk creation
	free   []uint32
	next   uint32
	gens   map[uint32]uint32 // generation of recycled slots
}

const subscriberChunkSize = 1 << 12

type subscriberChunk [subscriberChunkSize]atomic.Pointer[session]

func (t *subscriberTable) init() { t.gens = make(map[uint32]uint32) }

func (t *subscriberTable) add(s *session) {
	t.mu.Lock()
	var slot uint32
	if n := len(t.free); n > 0 {
		slot = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		slot = t.next
		t.next++
		if t.chunks[slot/subscriberChunkSize].Load() == nil {
			t.chunks[slot/subscriberChunkSize].Store(new(subscriberChunk))
		}
	}
	gen := t.gens[slot] + 1
	delete(t.gens, slot)
	t.mu.Unlock()
	s.subID = topic.SubscriberID(uint64(gen)<<32 | uint64(slot))
	t.chunks[slot/subscriberChunkSize].Load()[slot%subscriberChunkSize].Store(s)
}

func (t *subscriberTable) get(id topic.SubscriberID) *session {
	slot := uint32(id)
	c := t.chunks[slot/subscriberChunkSize].Load()
	if c == nil {
		return nil
	}
	if s := c[slot%subscriberChunkSize].Load(); s != nil && s.subID == id {
		return s
	}
	return nil
}

func (t *subscriberTable) remove(id topic.SubscriberID) {
	slot := uint32(id)
	s := t.get(id)
	if s == nil || !t.chunks[slot/subscriberChunkSize].Load()[slot%subscriberChunkSize].CompareAndSwap(s, nil) {
		return
	}
	t.mu.Lock()
	t.gens[slot] = uint32(id >> 32)
	t.free = append(t.free, slot)
	t.mu.Unlock()
}

// newSession creates a session owned by l and registers it as a subscriber. The caller adds it to the table.
func (l *loop) newSession(id string) *session {
	s := &session{id: id}
	s.t.owner = s
	s.owner.Store(l)
	l.s.subs.add(s)
	return s
}

// nextPacketID returns a packet id not used by an inflight message [MQTT-2.3.1-2].
func (s *session) nextPacketID() uint16 {
	for {
		s.nextID++
		if s.nextID == 0 {
			s.nextID = 1
		}
		free := true
		if s.flow == nil {
			return s.nextID
		}
		for i := range s.inflight {
			if s.inflight[i].packetID == s.nextID {
				free = false
				break
			}
		}
		if free {
			return s.nextID
		}
	}
}

// end discards the session on its owner loop: its subscriptions leave the index, queued messages are released,
// and a will still pending is published now [MQTT-3.1.3-9: the will is sent at the latest when the session ends].
func (l *loop) endSession(s *session) {
	if s.dead {
		return
	}
	s.dead = true
	s.t.stop()
	l.s.waits.setOffline(s)
	sh := l.s.sessions.shard([]byte(s.id))
	sh.mu.Lock()
	if sh.m[s.id] == s {
		delete(sh.m, s.id)
		l.s.sessions.n.Add(-1)
	}
	s.discarded = true
	sh.mu.Unlock()
	for _, f := range s.filters {
		if l.s.index.Unsubscribe([]byte(f), s.subID) {
			l.s.subscriptions.Add(-1)
		}
	}
	s.filters = nil
	l.s.subs.remove(s.subID)
	if f := s.flow; f != nil {
		for i := range f.inflight {
			f.inflight[i].m.release()
		}
		for i := range f.queue {
			f.queue[i].m.release()
		}
		stats.AddOwned(&l.stats.Inflight, -int64(len(f.inflight)))
		stats.AddOwned(&l.stats.Queued, -int64(len(f.queue)))
		s.release(&l.s.waits, int32(len(f.queue)))
		s.flow = nil
	}
	if w := s.will; w != nil {
		s.will = nil
		l.publishWill(w)
	}
}

// onTimer handles the session's timer: a delayed will and the expiry of an offline session.
func (s *session) onTimer(t *timer, now int64) {
	l := s.owner.Load()
	if l == nil || s.dead {
		return
	}
	if s.will != nil && now >= s.willAt {
		w := s.will
		s.will = nil
		l.publishWill(w)
	}
	if s.cl == nil && s.expireAt != 0 && now >= s.expireAt {
		l.endSession(s)
		return
	}
	s.armTimer(l)
}

// armTimer schedules the next of the session's deadlines, if any.
func (s *session) armTimer(l *loop) {
	var at int64
	if s.will != nil {
		at = s.willAt
	}
	if s.cl == nil && s.expireAt != 0 && (at == 0 || s.expireAt < at) {
		at = s.expireAt
	}
	if at == 0 {
		s.t.stop()
		return
	}
	l.wheel.schedule(&s.t, at)
}
