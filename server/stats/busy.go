package stats

import (
	"sync/atomic"
	"time"
)

// clockBase anchors monoNanos. time.Since on a time with a monotonic reading reads only the monotonic clock
// (one vDSO call), half the cost of time.Now.
var clockBase = time.Now()

// monoNanos is a monotonic clock in nanoseconds, for measuring intervals on a loop.
func monoNanos() int64 { return int64(time.Since(clockBase)) }

// BusyClock measures the time an event loop spends in the broker's callbacks (OnOpen, OnTraffic, OnClose, and
// the flush, mailbox drain and tick tasks), reading the clock as seldom as it can, since one read costs about as
// much as handling a small packet:
//   - callbacks nest (gnet's Close runs OnClose inside a task): only the outermost one reads the clock;
//   - a callback that armed the flush task leaves the interval open, and the flush closes it. gnet runs the
//     flush in the same loop pass (the rest of the epoll batch, then the task queue, without sleeping), so a pass
//     that reads many connections and flushes their replies costs two clock reads, and the busy time also counts
//     gnet's reads between those callbacks, which is loop work too.
//
// It is touched only by its loop. The zero value is ready.
type BusyClock struct {
	depth int32
	open  bool // an interval is running across callbacks until the armed flush ends it
	since int64
}

// Enter marks the start of a callback.
func (b *BusyClock) Enter() {
	if b.depth == 0 && !b.open {
		b.since = monoNanos()
	}
	b.depth++
}

// Leave marks the end of the callback Enter started and, at the outermost one, adds the interval to total unless
// flushArmed says the flush this pass armed will end it. Only the loop writes total, so a plain load and store
// (no locked add) cannot lose time, and scrapes on other goroutines only load.
func (b *BusyClock) Leave(flushArmed bool, total *atomic.Uint64) {
	b.depth--
	if b.depth > 0 {
		return
	}
	if flushArmed {
		b.open = true
		return
	}
	b.open = false
	total.Store(total.Load() + uint64(monoNanos()-b.since))
}
