package store

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// ErrFull is returned by Submit when the commit queue already holds CommitterOptions.MaxPending
// bytes. The batch was not taken: the caller keeps it, keeps holding the acknowledgements that
// wait on it (and stops reading from the clients that produce them), and submits it again after
// OnDrain fires or on a later tick.
var ErrFull = errors.New("store: commit queue full")

// ErrClosed is returned by Submit after Close.
var ErrClosed = errors.New("store: committer closed")

// CommitterOptions configure a Committer.
type CommitterOptions struct {
	// MaxPending bounds the bytes of submitted, not yet committed batches; 0: 64 MiB. A batch
	// is always accepted into an empty queue, whatever its size.
	MaxPending int
	// Interval is the least time between the starts of two commits; 0: commit as soon as the
	// previous commit is done. With FsyncAlways each commit is one sync, so Interval trades
	// latency for fewer syncs; while a sync runs, later submissions gather for the next one.
	Interval time.Duration
	// OnDrain, if set, runs on the writer goroutine after a commit that emptied a queue which
	// had refused a batch with ErrFull. It must not block.
	OnDrain func()
}

// CommitStats are a Committer's counters since it started.
type CommitStats struct {
	Commits uint64 // pebble commits (one sync each with FsyncAlways)
	Batches uint64 // submitted batches committed or failed
	Bytes   uint64 // bytes of those batches
	Refused uint64 // Submit calls answered with ErrFull
}

type pending struct {
	b    *Batch
	done func(error)
}

// Committer groups batches from many producers into one pebble commit. Producers (the event
// loops) never wait on the disk: Submit queues and returns; one writer goroutine takes
// everything queued, applies it as one pebble batch, commits it (one sync with FsyncAlways),
// then calls each batch's done with the commit's result, in submission order.
//
// A failed commit (I/O error, full disk) fails every batch of that commit and every later
// one: the Committer stops writing, because what pebble has on disk after a failed log write
// is uncertain until the store is reopened. Nothing is dropped silently: each done sees the error.
type Committer struct {
	s    *Store
	opts CommitterOptions

	mu      sync.Mutex
	queue   []pending
	spare   []pending
	bytes   int
	refused bool // a Submit got ErrFull since the last commit
	closed  bool
	failed  error

	wake    chan struct{}
	stopped chan struct{}

	commits, batches, committed, refusals atomic.Uint64
}

// NewCommitter starts the writer goroutine of s. One store has one Committer; Load runs before it.
func (s *Store) NewCommitter(o CommitterOptions) *Committer {
	if o.MaxPending <= 0 {
		o.MaxPending = 64 << 20
	}
	c := &Committer{
		s:       s,
		opts:    o,
		wake:    make(chan struct{}, 1),
		stopped: make(chan struct{}),
	}
	go c.run()
	return c
}

// Submit queues b for the next commit and returns at once. On nil, the Committer owns b and
// calls done exactly once, on its writer goroutine, after the commit holding b succeeded
// (done(nil): with FsyncAlways, b is on stable storage) or failed. On an error (ErrFull,
// ErrClosed, an earlier commit failure, a malformed batch) b was not taken and done is never
// called; the caller still owns b.
func (c *Committer) Submit(b *Batch, done func(error)) error {
	if b.err != nil {
		return b.err
	}
	size := b.Size()
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		return ErrClosed
	case c.failed != nil:
		err := c.failed
		c.mu.Unlock()
		return err
	case len(c.queue) > 0 && c.bytes+size > c.opts.MaxPending:
		c.refused = true
		c.mu.Unlock()
		c.refusals.Add(1)
		return ErrFull
	}
	c.queue = append(c.queue, pending{b, done})
	c.bytes += size
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return nil
}

// Stats returns the counters.
func (c *Committer) Stats() CommitStats {
	return CommitStats{
		Commits: c.commits.Load(),
		Batches: c.batches.Load(),
		Bytes:   c.committed.Load(),
		Refused: c.refusals.Load(),
	}
}

// Err returns the error that stopped the Committer, or nil while it writes.
func (c *Committer) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failed
}

// Close commits what is queued, stops the writer and returns the error that stopped it, if
// any. Submit returns ErrClosed afterwards.
func (c *Committer) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	<-c.stopped
	return c.Err()
}

func (c *Committer) run() {
	defer close(c.stopped)
	var last time.Time
	for {
		c.mu.Lock()
		for len(c.queue) == 0 && !c.closed {
			c.mu.Unlock()
			<-c.wake
			c.mu.Lock()
		}
		if len(c.queue) == 0 { // closed and drained
			c.mu.Unlock()
			return
		}
		closing := c.closed
		c.mu.Unlock()
		if c.opts.Interval > 0 && !closing {
			if wait := c.opts.Interval - time.Since(last); wait > 0 {
				time.Sleep(wait)
			}
		}
		last = time.Now()
		c.mu.Lock()
		group := c.queue
		c.queue, c.spare = c.spare[:0], group
		c.bytes = 0
		refused := c.refused
		c.refused = false
		c.mu.Unlock()
		c.commit(group)
		clear(group) // drop references to recycled batches and callbacks
		if refused && c.opts.OnDrain != nil {
			c.opts.OnDrain()
		}
	}
}

// commit applies every batch of group to the first one's pebble batch and commits that once.
func (c *Committer) commit(group []pending) {
	c.mu.Lock()
	err := c.failed
	c.mu.Unlock()
	var size int
	if err == nil {
		head := group[0].b.pb
		for _, p := range group[1:] {
			if err = head.Apply(p.b.pb, nil); err != nil {
				err = fmt.Errorf("store: group batch: %w", err)
				break
			}
		}
		size = head.Len()
		if err == nil {
			if err = c.s.commitBatch(head, c.s.write); err != nil {
				err = fmt.Errorf("store %s: commit: %w", c.s.dir, err)
			}
		}
		c.commits.Add(1)
		if err != nil {
			c.mu.Lock()
			c.failed = err
			c.mu.Unlock()
		}
	}
	c.batches.Add(uint64(len(group)))
	c.committed.Add(uint64(size))
	for _, p := range group {
		p.done(err)
		if err == nil { // a batch of a failed commit may be unusable; let it go
			p.b.release()
		}
	}
}
