package server

// The server's side of server/stats: the loops' busy clock hooks, the snapshot that /metrics and $SYS read, and
// the $SYS publisher.

import (
	"time"

	"loopmq/server/stats"
)

// enter marks the start of a broker callback on l, for its busy clock (stats.BusyClock).
func (l *loop) enter() { l.busy.Enter() }

// leave marks the end of the callback enter started; the flush armed meanwhile, if any, ends the interval.
func (l *loop) leave() { l.busy.Leave(l.flushArmed, &l.stats.BusyNanos) }

// readStats fills sn with the broker's figures: every loop's counters summed, the broker-wide gauges and each
// loop's own figures. It is the one source of /metrics and $SYS.
func (s *Server) readStats(sn *stats.Snapshot) {
	sn.Uptime = time.Since(s.started)
	loops := s.loopList()
	sn.Loops = make([]stats.LoopSnapshot, 0, len(loops))
	for _, l := range loops {
		sn.Add(&l.stats)
		sn.Loops = append(sn.Loops, l.stats.Snapshot(l.idx, l.mailboxPending()))
	}
	sn.Open = [stats.NumTransports]int64{s.openTCP.Load(), s.openWS.Load()}
	sn.TotalConnects = s.totalConnects.Load()
	sn.Connected = s.connected.Load()
	sn.Sessions = int64(s.sessions.count())
	sn.Subscriptions = s.subscriptions.Load()
	sn.Retained = int64(s.retained.Len())
}

// stats is readStats as a value.
func (s *Server) stats() stats.Snapshot {
	var sn stats.Snapshot
	s.readStats(&sn)
	return sn
}

// mailboxPending is how many deliveries and tasks wait in l's mailbox now.
func (l *loop) mailboxPending() int {
	m := &l.mail
	m.mu.Lock()
	n := len(m.in) + len(m.tasks)
	m.mu.Unlock()
	return n
}

// publishSys publishes the $SYS tree (stats.Sys), retained so a new subscriber sees the latest values at once. It
// runs as a task on one loop.
func (l *loop) publishSys() {
	var sn stats.Snapshot
	l.s.readStats(&sn)
	for _, t := range stats.Sys(Version, &sn) {
		m := newMessage([]byte(t.Name), []byte(t.Value), nil, 0, true, 0, 0)
		l.retain(m)
		l.route(m)
		m.release()
	}
}
