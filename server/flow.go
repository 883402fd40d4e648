package server

import (
	"sync"

	"golang.org/x/sys/unix"

	"loopmq/codec"
	"loopmq/server/stats"
)

// Flow control between publishers and slow subscribers.
//
// A QoS 1 or 2 message is never dropped for a connected subscriber once its publisher was acknowledged. Instead:
//
//   - Every session counts its backlog: QoS 1/2 messages routed to it and not yet in its inflight window (in a
//     loop's mailbox or in the session queue). session.admit is the one place it grows (plan, on the publisher's
//     loop; sendRetained) and session.release the one place it shrinks (deliver, pump, endSession on the owner).
//   - When a message takes a connected session's backlog past max_queued_messages, it is still queued, but the
//     publisher's PUBACK (PUBREC) is held back until that backlog falls to the low-water mark (three quarters of the
//     limit). Acknowledgements go out in the order the PUBLISH packets came [MQTT-4.6.0-2, -3], so later ones
//     wait behind a held one. A publisher is thereby paced by its own inflight window: an MQTT 5 client by our
//     Receive Maximum (exceeding it is DISCONNECT 0x93), a 3.x client by its own limit, and past maxHeldAcks held
//     acknowledgements the broker stops reading it.
//   - A subscriber whose backlog stays over the limit without acknowledging anything for slow_consumer_timeout is
//     disconnected (MQTT 5: DISCONNECT 0x97 Quota exceeded), so one stuck client cannot pace everyone for ever.
//   - A session without a connection (offline, persistent) holds at most max_queued_messages; a message beyond it
//     is dropped for that session and counted, and an MQTT 5 publisher of a QoS 1 message is told so with reason
//     0x97 in its PUBACK (for QoS 2 only when no subscriber took the message, since a retry would duplicate it).
//
// Each held acknowledgement waits on one congested session, registered in the server's wait table; the owner of
// that session wakes the waiters when its backlog falls to the low-water mark, or when it goes offline or ends.

// maxHeldAcks is how many acknowledgements a 3.x publisher may have held back before the broker stops reading it.
// MQTT 5 publishers are held to our Receive Maximum instead.
const maxHeldAcks = 1024

// maxUnackedV3 is the most unacknowledged QoS 1/2 publishes a 3.x client can have: one per packet identifier.
// A publisher paced only by its own session (it subscribes to what it publishes) is not paused; past this it is
// not following the protocol and is disconnected.
const maxUnackedV3 = 65535

// heldAck is an acknowledgement not yet sent to a publisher.
type heldAck struct {
	on     *session // the congested session it waits for; nil when it only waits for its turn
	id     uint16
	typ    codec.Type
	reason codec.ReasonCode
}

// ackQueue holds a publisher's acknowledgements, in PUBLISH order, while one of them is held back.
type ackQueue struct {
	q         []heldAck
	pubacks   int      // held PUBACKs: they count against the publisher's Receive Maximum
	waitingOn *session // where this client is registered in the wait table, nil when not registered
}

// waitTable records which publishers wait for which congested sessions. It is striped, and only touched on the
// slow path: when an acknowledgement is held and when a congested session drains.
type waitTable struct {
	low    int32 // a session backlog at or below this releases its waiters
	limit  int32 // max_queued_messages
	shards [64]waitShard
}

type waitShard struct {
	mu sync.Mutex
	m  map[*session][]*client
	_  [40]byte
}

func (t *waitTable) init(limit int) {
	t.limit = int32(min(limit, 1<<30))
	t.low = t.limit - t.limit/4
	for i := range t.shards {
		t.shards[i].m = make(map[*session][]*client)
	}
}

func (t *waitTable) shard(s *session) *waitShard { return &t.shards[uint32(s.subID)%64] }

// resolved reports whether a message held on s may be acknowledged now.
func (t *waitTable) resolved(s *session) bool {
	return !s.online.Load() || s.backlog.Load() <= t.low
}

// add registers cl as waiting for s. It returns false when s is already resolved: the check is made under the
// shard lock that wake takes too, so a drain that happens meanwhile cannot be missed.
func (t *waitTable) add(s *session, cl *client) bool {
	sh := t.shard(s)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if t.resolved(s) {
		return false
	}
	sh.m[s] = append(sh.m[s], cl)
	return true
}

// wake hands every client waiting for s a task, on its own loop, to send what it may now send.
func (t *waitTable) wake(s *session) {
	sh := t.shard(s)
	sh.mu.Lock()
	cls := sh.m[s]
	if cls != nil {
		delete(sh.m, s)
	}
	sh.mu.Unlock()
	for _, cl := range cls {
		cl.l.postTask(func() { cl.onWaitOver(s) })
	}
}

// admission is what a session's backlog says to one more QoS 1/2 message (session.admit).
type admission uint8

const (
	admitted     admission = iota
	admittedOver           // taken by a connected session over max_queued_messages: the publisher's ack waits
	refused                // an offline session at max_queued_messages: dropped for it
)

// admit counts one QoS 1/2 message routed to s in its backlog, the one place where the backlog grows. Past
// max_queued_messages a connected session still takes it (the publisher is paced instead) and an offline one
// refuses it. Any loop may call it.
func (s *session) admit(t *waitTable) admission {
	if s.backlog.Add(1) <= t.limit {
		return admitted
	}
	if !s.online.Load() {
		s.release(t, 1)
		return refused
	}
	return admittedOver
}

// release takes n admitted messages out of s's backlog (into the inflight window, dropped, or the session
// ended), the one place where it shrinks, and wakes the publishers waiting on s when it falls to the low-water
// mark. Any loop may call it.
func (s *session) release(t *waitTable, n int32) {
	v := s.backlog.Add(-n)
	if v <= t.low && v+n > t.low {
		t.wake(s)
	}
}

// full reports whether s's backlog is at max_queued_messages (at least one): paced senders (retained messages)
// wait, and shared groups pass s over.
func (s *session) full(t *waitTable) bool {
	return s.backlog.Load() >= max(t.limit, 1)
}

// setOffline marks s as having no connection (or being ended): waiters are released, and new messages beyond the
// limit are dropped instead of pacing their publishers.
func (t *waitTable) setOffline(s *session) {
	s.online.Store(false)
	t.wake(s)
}

// ack sends a PUBACK or PUBREC, or queues it behind held ones. hold is the congested session the message made
// go over its limit, if any.
func (cl *client) ack(typ codec.Type, id uint16, reason codec.ReasonCode, hold *session) {
	a := cl.acks
	if hold == nil && (a == nil || len(a.q) == 0) {
		cl.write(codec.AppendAck(cl.buf(), typ, id, reason, cl.version))
		return
	}
	if a == nil {
		a = &ackQueue{}
		cl.acks = a
	}
	a.q = append(a.q, heldAck{on: hold, id: id, typ: typ, reason: reason})
	if typ == codec.TypePuback {
		a.pubacks++
	}
	stats.AddOwned(&cl.l.stats.HeldAcks, 1)
	cl.releaseAcks()
}

// heldFor reports whether a PUBREC for id is still held back (a re-sent QoS 2 PUBLISH must not be answered twice).
func (cl *client) heldFor(id uint16) bool {
	if cl.acks == nil {
		return false
	}
	for _, e := range cl.acks.q {
		if e.typ == codec.TypePubrec && e.id == id {
			return true
		}
	}
	return false
}

// unackedIn is how many QoS 1 and 2 PUBLISH packets of this client the broker has not finished acknowledging:
// the limit MQTT 5's Receive Maximum sets [MQTT-3.3.4-7].
func (cl *client) unackedIn() int {
	n := len(cl.s.inQoS2)
	if cl.acks != nil {
		n += cl.acks.pubacks
	}
	return n
}

// releaseAcks sends the acknowledgements at the front of the queue whose sessions have drained, and registers the
// client as a waiter for the first one that still waits.
func (cl *client) releaseAcks() {
	a := cl.acks
	if a == nil {
		return
	}
	t := &cl.l.s.waits
	n := 0
	for ; n < len(a.q); n++ {
		e := &a.q[n]
		if e.on != nil && !t.resolved(e.on) {
			if a.waitingOn == e.on || t.add(e.on, cl) {
				a.waitingOn = e.on
				break
			}
		}
		cl.write(codec.AppendAck(cl.buf(), e.typ, e.id, e.reason, cl.version))
		if e.typ == codec.TypePuback {
			a.pubacks--
		}
	}
	if n > 0 {
		k := copy(a.q, a.q[n:])
		clear(a.q[k:])
		a.q = a.q[:k]
		stats.AddOwned(&cl.l.stats.HeldAcks, -int64(n))
	}
}

// onWaitOver runs on the client's loop when a session it waited for drained.
func (cl *client) onWaitOver(s *session) {
	a := cl.acks
	if a == nil || cl.state != stConnected {
		return
	}
	if a.waitingOn == s {
		a.waitingOn = nil
	}
	cl.releaseAcks()
	if cl.inputPaused && len(a.q) < maxHeldAcks/2 {
		cl.inputPaused = false
		cl.resumeInput()
	}
}

// dropAcks forgets the held acknowledgements of a closed connection: its publisher re-sends those messages when
// it resumes its session (they were delivered already; QoS 2 ids stay known, so they are not delivered twice).
func (cl *client) dropAcks() {
	if a := cl.acks; a != nil {
		stats.AddOwned(&cl.l.stats.HeldAcks, -int64(len(a.q)))
		cl.acks = nil
	}
}

// pausedInputLimit is how many bytes of a paused publisher's input are kept before it is disconnected: it keeps
// sending although the broker holds maxHeldAcks of its acknowledgements.
func (s *Server) pausedInputLimit() int {
	return max(4*s.opts.OutboundHighWater, 2*s.opts.MaxPacketSize)
}

// watchCongestion puts a connected session whose backlog went over the limit on its owner's watch list, so a
// subscriber that stops acknowledging is found (see checkCongestion).
func (l *loop) watchCongestion(s *session) {
	if s.watch == l {
		return
	}
	s.watch = l
	s.progressAt = l.wheel.now
	l.congested = append(l.congested, s)
}

// checkCongestion runs at each tick: sessions that drained leave the watch list, and a connected subscriber that
// has acknowledged nothing for slow_consumer_timeout while over its limit is disconnected.
func (l *loop) checkCongestion() {
	timeout := int64(l.s.opts.SlowConsumerTimeout / tickDuration)
	limit := l.s.waits.limit
	for i := 0; i < len(l.congested); {
		s := l.congested[i]
		if s.owner.Load() != l { // moved to another loop, which watches it now if needed
			l.congested = removeAt(l.congested, i)
			continue
		}
		cl := s.cl
		if s.dead || s.flow == nil || s.backlog.Load() <= limit || cl == nil || cl.state != stConnected {
			if s.flow != nil {
				s.watch = nil
			}
			l.congested = removeAt(l.congested, i)
			continue
		}
		if timeout > 0 && l.wheel.now-s.progressAt > timeout {
			s.watch = nil
			l.congested = removeAt(l.congested, i)
			cl.dropSlowConsumer("nothing acknowledged for", "the session queue over max_queued_messages")
			continue
		}
		i++
	}
}

func removeAt(ss []*session, i int) []*session {
	last := len(ss) - 1
	ss[i] = ss[last]
	ss[last] = nil
	return ss[:last]
}

// pausedInput is how many input bytes wait while the client is paused: in gnet's buffer, plus (WebSocket) the
// deframed bytes in carry.
func (cl *client) pausedInput() int {
	n := cl.c.InboundBuffered()
	if cl.tr != nil && cl.tr.carry != nil {
		n += cl.tr.carry.Len()
	}
	return n
}

// outWatch follows a connection whose outbound buffer reached the high-water mark (QoS 0 messages are being
// dropped for it): one that takes no bytes at all for slow_consumer_timeout is stuck, and is disconnected so that
// its buffer is freed.
type outWatch struct {
	level    int   // unsent bytes (gnet's buffer and the kernel's send queue) at the last check
	added    int   // bytes handed to gnet since
	progress int64 // tick of the last check that saw bytes leave the buffer
}

func (l *loop) watchOutbound(cl *client) {
	if cl.outWatched {
		return
	}
	if l.outbound == nil {
		l.outbound = make(map[*client]*outWatch)
	}
	cl.outWatched = true
	l.outbound[cl] = &outWatch{level: cl.unsent(), progress: l.wheel.now}
}

// unsent is how many bytes this connection has handed to gnet that the peer has not yet acknowledged: gnet's
// buffer plus the kernel's send queue (SIOCOUTQ). The kernel's queue can hold megabytes and gnet only writes
// when much of it is free, so gnet's buffer alone would make a slow reader look stuck.
func (cl *client) unsent() int {
	n := cl.c.OutboundBuffered()
	if fd := cl.c.Fd(); fd > 2 {
		if q, err := unix.IoctlGetInt(fd, unix.SIOCOUTQ); err == nil {
			n += q
		}
	}
	return n
}

// checkOutbound runs at each tick over the watched connections.
func (l *loop) checkOutbound() {
	timeout := int64(l.s.opts.SlowConsumerTimeout / tickDuration)
	for cl, w := range l.outbound {
		if cl.state >= stClosing {
			delete(l.outbound, cl)
			continue
		}
		cur := cl.unsent()
		if cur < w.level+w.added {
			w.progress = l.wheel.now // some bytes reached the socket
		}
		w.level, w.added = cur, 0
		if cl.outbound() < l.s.opts.OutboundHighWater/2 {
			cl.outWatched = false
			delete(l.outbound, cl)
			continue
		}
		if timeout > 0 && l.wheel.now-w.progress > timeout {
			cl.outWatched = false
			delete(l.outbound, cl)
			cl.dropSlowConsumer("no bytes taken for", "the outbound buffer over outbound_high_water")
		}
	}
}

// dropSlowConsumer disconnects a client that made no progress for slow_consumer_timeout while over a limit
// (MQTT 5: DISCONNECT 0x97 Quota exceeded first).
func (cl *client) dropSlowConsumer(what, over string) {
	l := cl.l
	l.stats.SlowConsumers.Add(1)
	why := "slow consumer: " + what + " " + l.s.opts.SlowConsumerTimeout.String() + " with " + over
	if cl.version == codec.V5 {
		cl.sendDisconnect(codec.QuotaExceeded, why)
	}
	cl.closeNow(why)
}
