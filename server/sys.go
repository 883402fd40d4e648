package server

import "loopmq/server/stats"

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
