package server

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

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

// loopSeries are the per-loop series, labelled loop="N" in the order loops served their first connection
// (a loop that has not served one yet has no series).
type loopSeries struct {
	busy, conns, drains, deliveries, tasks, pending *prometheus.Desc
}

func newLoopSeries() loopSeries {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("loopmq_loop_"+name, help, []string{"loop"}, nil)
	}
	return loopSeries{
		busy: d("busy_seconds_total", "Time the event loop spent in the broker's callbacks (reading, handling and "+
			"writing packets, mailbox drains, flushes, timers); its rate is the loop's utilisation."),
		conns:      d("connections", "Open connections served by the event loop."),
		drains:     d("mailbox_drains_total", "Times the event loop was woken to drain its mailbox."),
		deliveries: d("mailbox_deliveries_total", "Message deliveries posted to the event loop by other loops."),
		tasks:      d("mailbox_tasks_total", "Tasks (session hand-overs, $SYS publishing) posted to the event loop."),
		pending:    d("mailbox_pending", "Deliveries and tasks waiting in the event loop's mailbox."),
	}
}

func (ls *loopSeries) describe(ch chan<- *prometheus.Desc) {
	ch <- ls.busy
	ch <- ls.conns
	ch <- ls.drains
	ch <- ls.deliveries
	ch <- ls.tasks
	ch <- ls.pending
}

func (ls *loopSeries) collect(ch chan<- prometheus.Metric, loops []*loop) {
	for _, l := range loops {
		idx := strconv.Itoa(l.idx)
		c := &l.stats
		ch <- prometheus.MustNewConstMetric(ls.busy, prometheus.CounterValue, float64(c.busyNanos.Load())/1e9, idx)
		ch <- prometheus.MustNewConstMetric(ls.conns, prometheus.GaugeValue, float64(c.conns.Load()), idx)
		ch <- prometheus.MustNewConstMetric(ls.drains, prometheus.CounterValue, float64(c.mailDrains.Load()), idx)
		ch <- prometheus.MustNewConstMetric(ls.deliveries, prometheus.CounterValue, float64(c.mailDeliveries.Load()), idx)
		ch <- prometheus.MustNewConstMetric(ls.tasks, prometheus.CounterValue, float64(c.mailTasks.Load()), idx)
		ch <- prometheus.MustNewConstMetric(ls.pending, prometheus.GaugeValue, float64(l.mailboxPending()), idx)
	}
}
