package server

import (
	"time"

	"loopmq/server/stats"
)

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
