package store

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkCommit: P producers, each with one batch in flight (a loop holding the PUBACKs of
// that batch), each batch one small QoS 1 message (a 64-byte body and a queue entry). One op
// is one message; commits/s is the number of pebble commits (syncs with FsyncAlways).
func BenchmarkCommit(b *testing.B) {
	for _, fsync := range []struct {
		name string
		mode Fsync
	}{{"sync", FsyncAlways}, {"nosync", FsyncNever}} {
		for _, producers := range []int{1, 64, 1024} {
			b.Run(fmt.Sprintf("%s/producers=%d", fsync.name, producers), func(b *testing.B) {
				benchCommit(b, fsync.mode, producers)
			})
		}
	}
}

func benchCommit(b *testing.B, mode Fsync, producers int) {
	s := openT(b, Options{Fsync: mode})
	defer s.Close()
	c := s.NewCommitter(CommitterOptions{})
	cids := make([][]byte, producers)
	setup := s.NewBatch()
	for p := range cids {
		cids[p] = []byte(fmt.Sprintf("client-%04d", p))
		setup.PutSession(&Session{ClientID: cids[p], Protocol: 5, Interval: 3600})
	}
	commitT(b, c, setup)
	payload := make([]byte, 64)
	topic := []byte("bench/topic/1")
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for p := range producers {
		wg.Go(func() {
			ch := make(chan error, 1)
			done := func(err error) { ch <- err }
			m := Message{Topic: topic, Payload: payload, QoS: 1}
			q := Queued{QoS: 1}
			for {
				id := next.Add(1)
				if id > int64(b.N) {
					return
				}
				batch := s.NewBatch()
				batch.PutMessage(uint64(id), &m)
				q.MessageID = uint64(id)
				batch.Enqueue(cids[p], uint64(id), &q)
				for {
					err := c.Submit(batch, done)
					if err == nil {
						break
					}
					if !errors.Is(err, ErrFull) {
						b.Error(err)
						return
					}
					time.Sleep(100 * time.Microsecond)
				}
				if err := <-ch; err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	st := c.Stats()
	c.Close()
	b.ReportMetric(float64(st.Commits-1)/elapsed.Seconds(), "commits/s")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(b.N)/float64(max(st.Commits-1, 1)), "msgs/commit")
}

// BenchmarkLoad: recovery of sessions with queued messages (Load over a store written once).
func BenchmarkLoad(b *testing.B) {
	const sessions, perSession = 10_000, 10
	s := openT(b, Options{Fsync: FsyncNever})
	defer s.Close()
	c := s.NewCommitter(CommitterOptions{})
	payload := make([]byte, 64)
	batch := s.NewBatch()
	id := uint64(0)
	for i := range sessions {
		cid := []byte(fmt.Sprintf("device-%06d", i))
		batch.PutSession(&Session{ClientID: cid, Protocol: 4, Interval: 0xFFFFFFFF,
			Subs: []Subscription{{Filter: []byte("devices/" + string(cid) + "/cmd"), Options: 1}}})
		for range perSession {
			id++
			batch.PutMessage(id, &Message{Topic: []byte("devices/cmd"), Payload: payload, QoS: 1})
			batch.Enqueue(cid, id, &Queued{MessageID: id, QoS: 1})
		}
		if i%1000 == 999 {
			commitT(b, c, batch)
			batch = s.NewBatch()
		}
	}
	c.Close()
	if err := s.Compact(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		st, err := s.Load(time.Now(), Visitor{})
		if err != nil || st.Sessions != sessions || st.Queued != sessions*perSession {
			b.Fatalf("%+v, %v", st, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/sessions, "ns/session")
	b.ReportMetric(float64(s.DiskUsage()-uint64(s.db.Metrics().WAL.ObsoletePhysicalSize))/sessions, "disk-bytes/session")
}
