package server

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2"

	"loopmq/codec"
	"loopmq/server/layer"
	"loopmq/server/stats"
	"loopmq/topic"
)

// loop is the broker state of one gnet event loop. Everything in it except the mailbox is touched only on that
// loop's goroutine.
type loop struct {
	s   *Server
	el  gnet.EventLoop
	idx int

	wheel *wheel

	// dirty holds connections with bytes in their outbox; flushTask writes them once per loop pass.
	dirty      []*client
	flushArmed bool
	flushTask  gnet.RunnableFunc

	mail      mailbox
	drainTask gnet.RunnableFunc
	tickTask  gnet.RunnableFunc

	// Scratch reused by every packet on this loop: decoded packets, match results, encoding.
	dec         codec.Decoder // decodes every packet read on this loop (client.handle)
	connack     codec.Connack // encodes CONNACK
	reasons     []codec.ReasonCode
	walks       []retainedWalk
	matched     []topic.Subscription
	skipMember  func(topic.SubscriberID) bool // l.skipsMember, bound once so Match does not allocate
	view        message                       // the PUBLISH being handled, as views into the read buffer
	kept        *message                      // its pooled copy, made on first need
	propBuf     []byte                        // forwarded properties of view
	encBuf      []byte
	fwd         codec.ForwardProps
	enc         encodeCache
	seen        seenSet
	viewGen     uint64
	staged      []stagedBatch // deliveries for other loops, by loop index, posted once per publish
	stagedLoops []*loop
	planned     routePlan             // deliveries of the message being routed (scratch)
	congested   []*session            // sessions over their queue limit, watched for stuck consumers
	outbound    map[*client]*outWatch // connections whose outbound buffer reached the high-water mark
	waiting     []func()              // work paused for flow control, retried at the next tick
	reply       layer.Vec             // answers of a connection's transport layers, sent at once
	out         layer.Vec             // one flush through a connection's transport layers
	outData     [1][]byte             // the outbox of that flush, as the layers' data

	busy  stats.BusyClock
	stats stats.Loop
}

func newLoop(s *Server, el gnet.EventLoop, idx int) *loop {
	l := &loop{s: s, el: el, idx: idx, wheel: newWheel(s.tickNow())}
	l.flushTask = l.flush
	l.drainTask = l.drain
	l.tickTask = l.tick
	l.skipMember = l.skipsMember
	return l
}

// execute runs fn on this loop; after shutdown it is dropped (the loops are gone).
func (l *loop) execute(fn gnet.RunnableFunc) {
	_ = l.el.Execute(context.Background(), fn)
}

// markDirty queues cl for the flush at the end of this loop pass.
func (l *loop) markDirty(cl *client) {
	if cl.dirty {
		return
	}
	cl.dirty = true
	l.dirty = append(l.dirty, cl)
	if !l.flushArmed {
		l.flushArmed = true
		l.execute(l.flushTask)
	}
}

// flush writes every dirty connection's outbox with one write each.
func (l *loop) flush(context.Context) error {
	l.enter()
	defer l.leave()
	l.flushArmed = false
	for i, cl := range l.dirty {
		l.dirty[i] = nil
		cl.dirty = false
		cl.flush()
	}
	l.dirty = l.dirty[:0]
	// Paused work (retained batches) resumes as soon as the writes went out, not only at the next tick.
	l.runWaiting()
	return nil
}

func (l *loop) runWaiting() {
	if len(l.waiting) > 0 {
		w := l.waiting
		l.waiting = nil
		for _, fn := range w {
			fn()
		}
	}
}

// tick advances this loop's timing wheel; the engine's ticker posts it to every loop.
func (l *loop) tick(context.Context) error {
	l.enter()
	defer l.leave()
	l.wheel.advance(l.s.tickNow())
	l.stats.Packets.Publish()
	if len(l.congested) > 0 {
		l.checkCongestion()
	}
	if len(l.outbound) > 0 {
		l.checkOutbound()
	}
	l.runWaiting()
	return nil
}

// delivery is one message for one session: planned (msg unset), or crossing loops through a mailbox.
type delivery struct {
	sess   *session
	msg    *message
	qos    byte
	retain bool
	nIDs   uint16 // subscription identifiers, in the batch's subIDs starting at idOff
	idOff  uint32
}

// mailbox is how other loops hand deliveries and tasks to this loop: a mutex-guarded batch swapped out whole by
// the owner, and an armed flag so the owner is woken at most once per batch.
type mailbox struct {
	mu     sync.Mutex
	in     []delivery
	inIDs  []uint32
	tasks  []func()
	armed  atomic.Bool
	spareD []delivery
	spareI []uint32
}

// post adds a delivery (with its subscription identifiers) to l's mailbox and wakes l if needed.
func (l *loop) post(d delivery, ids []uint32) {
	m := &l.mail
	m.mu.Lock()
	d.idOff = uint32(len(m.inIDs))
	d.nIDs = uint16(len(ids))
	m.inIDs = append(m.inIDs, ids...)
	m.in = append(m.in, d)
	m.mu.Unlock()
	l.wake()
}

// postTask runs fn on l in mailbox order (after deliveries posted before it).
func (l *loop) postTask(fn func()) {
	m := &l.mail
	m.mu.Lock()
	m.tasks = append(m.tasks, fn)
	m.mu.Unlock()
	l.wake()
}

func (l *loop) wake() {
	if l.mail.armed.CompareAndSwap(false, true) {
		l.execute(l.drainTask)
	}
}

// drain delivers every mailbox entry on this loop.
func (l *loop) drain(context.Context) error {
	l.enter()
	defer l.leave()
	m := &l.mail
	m.armed.Store(false)
	m.mu.Lock()
	ds, ids, tasks := m.in, m.inIDs, m.tasks
	m.in, m.inIDs, m.tasks = m.spareD[:0], m.spareI[:0], nil
	m.mu.Unlock()
	l.stats.MailDrains.Add(1)
	l.stats.MailDeliveries.Add(uint64(len(ds)))
	l.stats.MailTasks.Add(uint64(len(tasks)))
	for i := range ds {
		d := &ds[i]
		l.deliver(d.sess, d.msg, d.qos, d.retain, ids[d.idOff:d.idOff+uint32(d.nIDs)], false)
		d.msg.release()
		*d = delivery{}
	}
	for _, fn := range tasks {
		fn()
	}
	m.mu.Lock()
	m.spareD, m.spareI = ds[:0], ids[:0]
	m.mu.Unlock()
	return nil
}
