package store

import (
	"encoding/binary"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"
)

func openT(t testing.TB, o Options) *Store {
	t.Helper()
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	s, err := Open(o)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return s
}

// commitT submits b and waits for its commit.
func commitT(t testing.TB, c *Committer, b *Batch) {
	t.Helper()
	errc := make(chan error, 1)
	if err := c.Submit(b, func(err error) { errc <- err }); err != nil {
		t.Fatalf("submit: %v", err)
	}
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("commit: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("commit not done in 30s")
	}
}

// setFormat overwrites the format version key of the pebble database in dir.
func setFormat(t *testing.T, dir string, v uint32) {
	t.Helper()
	db, err := pebble.Open(dir, &pebble.Options{Logger: logger{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set(keyFormat, binary.BigEndian.AppendUint32(nil, v), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestFormatVersion(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, Options{Dir: dir})
	c := s.NewCommitter(CommitterOptions{})
	b := s.NewBatch()
	b.PutRetained(&Message{Topic: []byte("t"), Payload: []byte("v")})
	commitT(t, c, b)
	c.Close()
	s.Close()

	// Reopening the same version works and keeps the data.
	s = openT(t, Options{Dir: dir})
	st, err := s.Load(time.Now(), Visitor{})
	if err != nil || st.Retained != 1 {
		t.Fatalf("reopen: %+v, %v", st, err)
	}
	s.Close()

	for _, c := range []struct {
		version uint32
		want    error
	}{{FormatVersion + 1, ErrNewerFormat}, {0, ErrOlderFormat}} {
		setFormat(t, dir, c.version)
		_, err := Open(Options{Dir: dir})
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), dir) {
			t.Errorf("format %d: err %v, want %v naming the directory", c.version, err, c.want)
		}
	}
}

func TestOpenForeignDatabase(t *testing.T) {
	dir := t.TempDir()
	db, err := pebble.Open(dir, &pebble.Options{Logger: logger{}})
	if err != nil {
		t.Fatal(err)
	}
	db.Set([]byte("some"), []byte("thing"), pebble.Sync)
	db.Close()
	if _, err := Open(Options{Dir: dir}); !errors.Is(err, ErrNotAStore) {
		t.Fatalf("err %v, want ErrNotAStore", err)
	}
}

func TestOpenLocked(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, Options{Dir: dir})
	defer s.Close()
	if _, err := Open(Options{Dir: dir}); err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("second open of a store in use: err %v", err)
	}
}

func TestCommitterOrderAndStats(t *testing.T) {
	s := openT(t, Options{})
	defer s.Close()
	c := s.NewCommitter(CommitterOptions{})
	const producers, per = 8, 200
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		last = make([]int, producers)
		bad  error
	)
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cid := []byte{'c', byte(p)}
			done := make(chan struct{}, per)
			b := s.NewBatch()
			b.PutSession(&Session{ClientID: cid, Protocol: 5, Interval: 60})
			if err := c.Submit(b, func(error) {}); err != nil {
				t.Error(err)
				return
			}
			for i := range per {
				b := s.NewBatch()
				b.PutMessage(uint64(p*per+i+1), &Message{Topic: []byte("t"), Payload: []byte("x"), QoS: 1})
				b.Enqueue(cid, uint64(i), &Queued{MessageID: uint64(p*per + i + 1), QoS: 1})
				if err := c.Submit(b, func(err error) {
					mu.Lock()
					if err != nil && bad == nil {
						bad = err
					}
					if last[p] != i { // done runs in submission order
						bad = errors.New("done out of order")
					}
					last[p] = i + 1
					mu.Unlock()
					done <- struct{}{}
				}); err != nil {
					t.Error(err)
					return
				}
			}
			for range per {
				<-done
			}
		}()
	}
	wg.Wait()
	if bad != nil {
		t.Fatal(bad)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	st := c.Stats()
	if st.Batches != producers*(per+1) || st.Commits == 0 || st.Commits > st.Batches {
		t.Fatalf("stats %+v", st)
	}
	t.Logf("%d batches in %d commits", st.Batches, st.Commits)
	var queued int
	ls, err := s.Load(time.Now(), Visitor{Queued: func(cid []byte, seq uint64, q *Queued) error { queued++; return nil }})
	if err != nil || queued != producers*per || ls.Messages != producers*per || ls.Sessions != producers {
		t.Fatalf("load: %+v queued %d, %v", ls, queued, err)
	}
	if err := c.Submit(s.NewBatch(), func(error) {}); !errors.Is(err, ErrClosed) {
		t.Fatalf("submit after close: %v", err)
	}
}

// TestCommitterFull: a full queue refuses a batch without taking it, OnDrain tells when to
// resubmit, and the resubmitted batch commits.
func TestCommitterFull(t *testing.T) {
	s := openT(t, Options{})
	defer s.Close()
	drained := make(chan struct{}, 16)
	c := s.NewCommitter(CommitterOptions{MaxPending: 1024, Interval: 200 * time.Millisecond, OnDrain: func() { drained <- struct{}{} }})
	defer c.Close()
	big := func(i int) *Batch {
		b := s.NewBatch()
		b.PutRetained(&Message{Topic: []byte{'t', byte(i)}, Payload: make([]byte, 600)})
		return b
	}
	// The writer waits Interval between commits, so batches queue up behind the first.
	var accepted int
	var refused *Batch
	for i := range 5 {
		b := big(i)
		err := c.Submit(b, func(err error) {
			if err != nil {
				t.Error(err)
			}
		})
		if errors.Is(err, ErrFull) {
			refused = b
			break
		} else if err != nil {
			t.Fatal(err)
		}
		accepted++
	}
	if refused == nil {
		t.Fatalf("%d batches of 600 bytes accepted into a 1024-byte queue", accepted)
	}
	if c.Stats().Refused != 1 {
		t.Fatalf("stats %+v", c.Stats())
	}
	select {
	case <-drained:
	case <-time.After(30 * time.Second):
		t.Fatal("OnDrain not called")
	}
	commitT(t, c, refused)
	c.Close()
	st, err := s.Load(time.Now(), Visitor{})
	if err != nil || st.Retained != accepted+1 {
		t.Fatalf("load %+v, %v; want %d retained", st, err, accepted+1)
	}
}

// TestCommitterInterval: with an Interval, commits are at least that far apart however many
// batches arrive, so one sync covers all that arrived in between.
func TestCommitterInterval(t *testing.T) {
	s := openT(t, Options{})
	defer s.Close()
	const interval = 50 * time.Millisecond
	c := s.NewCommitter(CommitterOptions{Interval: interval})
	start := time.Now()
	var wg sync.WaitGroup
	for p := range 10 {
		wg.Go(func() {
			for i := range 20 {
				b := s.NewBatch()
				b.PutRetained(&Message{Topic: []byte{'t', byte(p), byte(i)}})
				commitT(t, c, b)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	c.Close()
	st := c.Stats()
	if max := uint64(elapsed/interval) + 2; st.Commits > max {
		t.Fatalf("%d commits in %v with a %v interval (at most %d)", st.Commits, elapsed, interval, max)
	}
	if st.Batches != 200 {
		t.Fatalf("stats %+v", st)
	}
	t.Logf("%d batches in %d commits over %v", st.Batches, st.Commits, elapsed)
}

// TestFsyncNever: without syncs, commits still reach the store a clean reopen finds.
func TestFsyncNever(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, Options{Dir: dir, Fsync: FsyncNever})
	c := s.NewCommitter(CommitterOptions{})
	for i := range 50 {
		commitT(t, c, retainedBatch(s, "n/"+fmtInt(i)))
	}
	c.Close()
	s.Close()
	if got := retainedTopics(t, dir); len(got) != 50 {
		t.Fatalf("%d of 50 retained messages after reopening", len(got))
	}
}

// TestSubmitRefusesMalformedBatch: a batch with a client id no key can hold is refused at
// Submit, and the Committer goes on.
func TestSubmitRefusesMalformedBatch(t *testing.T) {
	s := openT(t, Options{})
	defer s.Close()
	c := s.NewCommitter(CommitterOptions{})
	defer c.Close()
	b := s.NewBatch()
	b.Enqueue(make([]byte, MaxClientIDLen+1), 1, &Queued{MessageID: 1})
	if err := c.Submit(b, func(error) { t.Error("done called for a refused batch") }); !errors.Is(err, ErrClientIDTooLong) {
		t.Fatalf("submit: %v", err)
	}
	commitT(t, c, retainedBatch(s, "after"))
}
