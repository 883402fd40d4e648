// Package store keeps what the broker must not forget across a restart: retained messages,
// persistent sessions with their subscriptions and will, the QoS 1/2 messages queued for them,
// the outbound inflight window and the inbound QoS 2 receive state. It sits on one embedded
// pebble database per broker (github.com/cockroachdb/pebble v1), in a versioned key layout
// (layout.go) with compact binary records (record.go).
//
// The life of a store:
//
//	s, err := store.Open(store.Options{Dir: dir, Fsync: store.FsyncAlways})
//	stats, err := s.Load(time.Now(), store.Visitor{...}) // rebuild memory; drops what expired
//	c := s.NewCommitter(store.CommitterOptions{})
//	b := s.NewBatch(); b.PutMessage(id, &m); b.Enqueue(clientID, seq, &q)
//	err = c.Submit(b, func(err error) { /* resume on the loop: release the held PUBACKs */ })
//	...
//	c.Close(); s.Close()
//
// Writes. An event loop fills a Batch and submits it; Submit never waits for the disk. One
// writer goroutine takes everything queued, commits it as one pebble batch (one WAL sync with
// FsyncAlways), then calls each done in submission order on the writer goroutine; the broker
// hands the result back to the loop (gnet's Execute). A PUBACK or PUBREC waits for the done of
// the batch holding its message, so an acknowledgement means the message is on disk.
//
// Back-pressure. The queue of submitted batches is bounded in bytes. When it is full, Submit
// returns ErrFull and does not take the batch: the caller keeps it and the acknowledgements
// behind it, stops reading from the clients that feed it, and submits again when OnDrain fires.
//
// Failures. A commit that cannot write or sync its log (an I/O error, a full disk) fails the
// done of every batch in it with an error wrapping ErrFatal and the cause (errors.Is(err,
// syscall.ENOSPC) holds for a full disk); the Committer then refuses all writes, since pebble
// v1 treats such a commit as fatal for the open database. Reopening is the way out, after
// freeing space. Open fails with an error naming the directory when a file is unreadable, the
// layout version is unknown, or a write-ahead log is damaged in the middle; Load fails when a
// table's checksum does not match. Nothing is dropped silently.
package store
