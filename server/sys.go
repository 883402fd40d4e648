package server

import (
	"strconv"
	"time"
)

// publishSys publishes the $SYS/broker/... topics (names as Mosquitto uses them where they apply), retained so a
// new subscriber sees the latest values at once. It runs as a task on one loop.
func (l *loop) publishSys() {
	s := l.s
	sn := s.stats()
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	retainedCount := s.retained.Len()
	topics := [...][2]string{
		{"$SYS/broker/version", Version},
		{"$SYS/broker/uptime", i(int64(time.Since(s.started)/time.Second)) + " seconds"},
		{"$SYS/broker/clients/connected", i(s.connected.Load())},
		{"$SYS/broker/clients/total", i(int64(s.sessions.count()))},
		{"$SYS/broker/clients/disconnected", i(int64(s.sessions.count()) - s.connected.Load())},
		{"$SYS/broker/connections/total", u(s.totalConnects.Load())},
		{"$SYS/broker/messages/received", u(sn.msgsIn)},
		{"$SYS/broker/messages/sent", u(sn.msgsOut)},
		{"$SYS/broker/messages/dropped", u(sn.dropped())},
		{"$SYS/broker/load/bytes/received", u(sn.bytesIn)},
		{"$SYS/broker/load/bytes/sent", u(sn.bytesOut)},
		{"$SYS/broker/bytes/received", u(sn.bytesIn)},
		{"$SYS/broker/bytes/sent", u(sn.bytesOut)},
		{"$SYS/broker/subscriptions/count", i(s.subscriptions.Load())},
		{"$SYS/broker/retained messages/count", i(int64(retainedCount))},
	}
	for _, t := range append(topics[:], s.transportSys(&sn)...) {
		m := newMessage([]byte(t[0]), []byte(t[1]), nil, 0, true, 0, 0)
		l.retain(m)
		l.route(m)
		m.release()
	}
}
