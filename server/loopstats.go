package server

import "time"

// clockBase anchors monoNanos. time.Since on a time with a monotonic reading reads only the monotonic clock
// (one vDSO call), half the cost of time.Now.
var clockBase = time.Now()

// monoNanos is a monotonic clock in nanoseconds, for measuring intervals on a loop.
func monoNanos() int64 { return int64(time.Since(clockBase)) }

// busyClock measures the time an event loop spends in the broker's callbacks (OnOpen, OnTraffic, OnClose, and
// the flush, mailbox drain and tick tasks), reading the clock as seldom as it can, since one read costs about as
// much as handling a small packet:
//   - callbacks nest (gnet's Close runs OnClose inside a task): only the outermost one reads the clock;
//   - a callback that armed the flush task leaves the interval open, and the flush closes it. gnet runs the
//     flush in the same loop pass (the rest of the epoll batch, then the task queue, without sleeping), so a pass
//     that reads many connections and flushes their replies costs two clock reads, and the busy time also counts
//     gnet's reads between those callbacks, which is loop work too.
//
// It is touched only by its loop.
type busyClock struct {
	depth int32
	open  bool // an interval is running across callbacks until the armed flush ends it
	since int64
}

// enter marks the start of a callback on l.
func (l *loop) enter() {
	if l.busy.depth == 0 && !l.busy.open {
		l.busy.since = monoNanos()
	}
	l.busy.depth++
}

// leave marks the end of the callback enter started and, at the outermost one, adds the interval unless the
// flush it armed will end it.
func (l *loop) leave() {
	l.busy.depth--
	if l.busy.depth > 0 {
		return
	}
	if l.flushArmed {
		l.busy.open = true
		return
	}
	l.busy.open = false
	// Only this loop writes the counter, so a plain load and store (no locked add) cannot lose time.
	c := &l.stats.busyNanos
	c.Store(c.Load() + uint64(monoNanos()-l.busy.since))
}

// mailboxPending is how many deliveries and tasks wait in l's mailbox now.
func (l *loop) mailboxPending() int {
	m := &l.mail
	m.mu.Lock()
	n := len(m.in) + len(m.tasks)
	m.mu.Unlock()
	return n
}
