package bench

import (
	"sync"
	"sync/atomic"
	"time"

	"loopmq/codec"
)

// subscriber accounts what one subscription receives. Its onMessage runs on the client's reader
// goroutine; the lock is uncontended there and only lets the coordinator read the figures while late
// messages may still arrive.
type subscriber struct {
	tag      uint32
	tr       *tracker // shared by the members of a $share group
	received atomic.Int64
	foreign  atomic.Int64
	last     *atomic.Int64 // Unix nanoseconds of the latest message in the worker

	mu  sync.Mutex
	rec *recorder
	ord order
	// since, when set, makes latency the time from that instant (retained: from SUBSCRIBE) rather than
	// from the publish timestamp in the payload.
	since atomic.Int64
}

func (s *subscriber) onMessage(p *codec.Publish) {
	now := time.Now().UnixNano()
	s.received.Add(1)
	st, ok := readStamp(p.Payload, s.tag)
	if !ok || st.seq >= maxSeq {
		s.foreign.Add(1)
		return
	}
	if s.tr.see(st.pub, st.seq) {
		return // duplicates count once in the tracker and nowhere else
	}
	from := st.sent
	if since := s.since.Load(); since != 0 {
		from = since
	}
	s.mu.Lock()
	s.ord.see(st.pub, st.seq)
	s.rec.record((now - from) / 1000)
	s.mu.Unlock()
	s.last.Store(now)
}

// finish flushes buffered latency samples and returns the out-of-order count.
func (s *subscriber) finish() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rec.flush()
	return s.ord.ooo
}
