package store

import (
	"bytes"
	"testing"
	"time"
)

// TestQueueChurnStaysBounded: a session's queue that takes and drops many messages leaves the
// store near its live size: pebble's own compactions keep it within a few memtables, and a
// manual compaction brings it down to the live data.
func TestQueueChurnStaysBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("writes ~60 MB")
	}
	s := openT(t, Options{})
	defer s.Close()
	c := s.NewCommitter(CommitterOptions{})
	defer c.Close()
	cid := []byte("churn")
	b := s.NewBatch()
	b.PutSession(&Session{ClientID: cid, Protocol: 5, Interval: 3600})
	commitT(t, c, b)

	const (
		total   = 100_000
		window  = 100 // messages live at any time
		perCall = 500
		payload = 600
	)
	body := bytes.Repeat([]byte("x"), payload)
	var peak uint64
	for i := 0; i < total; i += perCall {
		b := s.NewBatch()
		for j := i; j < i+perCall; j++ {
			id := uint64(j + 1)
			b.PutMessage(id, &Message{Topic: []byte("churn/topic"), Payload: body, QoS: 1})
			b.Enqueue(cid, id, &Queued{MessageID: id, QoS: 1})
			if j >= window {
				old := uint64(j - window + 1)
				b.Dequeue(cid, old)
				b.DeleteMessage(old)
			}
		}
		commitT(t, c, b)
		peak = max(peak, s.DiskUsage())
	}
	churned := uint64(total * payload)
	auto := s.DiskUsage()
	if err := s.Compact(); err != nil {
		t.Fatal(err)
	}
	compacted := s.DiskUsage()
	m := s.db.Metrics()
	tables := uint64(m.Total().Size)
	t.Logf("churned %d MB; disk: peak %d KB, before manual compaction %d KB, after %d KB of which tables %d KB, logs kept for recycling %d KB",
		churned>>20, peak>>10, auto>>10, compacted>>10, tables>>10, m.WAL.ObsoletePhysicalSize>>10)
	// Pebble keeps up to a few flushed logs of one memtable (4 MiB) each to recycle: a fixed
	// cost, whatever the churn. Anything beyond it would be dead data.
	const fixed = 4*4<<20 + 1<<20
	if peak > fixed+4<<20 {
		t.Errorf("peak disk use %d KB for %d KB churned: background compaction does not keep up", peak>>10, churned>>10)
	}
	// Live data is ~100 x 630 bytes.
	if tables > 256<<10 || compacted > fixed {
		t.Errorf("after compaction: tables %d KB, total %d KB, for ~%d KB live", tables>>10, compacted>>10, window*payload>>10)
	}
	st, err := s.Load(time.Now(), Visitor{})
	if err != nil || st.Queued != window || st.Messages != window {
		t.Fatalf("load after churn: %+v, %v", st, err)
	}
}
