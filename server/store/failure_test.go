package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/cockroachdb/pebble/vfs/errorfs"
)

// submitWait submits b and returns the commit's result.
func submitWait(t *testing.T, c *Committer, b *Batch) error {
	t.Helper()
	errc := make(chan error, 1)
	if err := c.Submit(b, func(err error) { errc <- err }); err != nil {
		return err
	}
	select {
	case err := <-errc:
		return err
	case <-time.After(60 * time.Second):
		t.Fatal("commit not done in 60s")
		return nil
	}
}

func retainedBatch(s *Store, topic string) *Batch {
	b := s.NewBatch()
	b.PutRetained(&Message{Topic: []byte(topic), Payload: []byte("payload of " + topic), Retain: true})
	return b
}

func retainedTopics(t *testing.T, dir string) map[string]bool {
	t.Helper()
	s := openT(t, Options{Dir: dir})
	defer s.Close()
	got := map[string]bool{}
	if _, err := s.Load(time.Now(), Visitor{Retained: func(m *Message) error {
		got[string(m.Topic)] = true
		return nil
	}}); err != nil {
		t.Fatalf("load: %v", err)
	}
	return got
}

// TestCommitIOError: a WAL write or sync that fails reaches done as an error, the Committer
// refuses later batches, and what was acknowledged before is there after reopening.
// The write case uses pebble's errorfs; its files pass SyncData through uninjected (pebble
// v1.1), so the sync case uses faultFS.
func TestCommitIOError(t *testing.T) {
	for _, name := range []string{"write", "sync"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			var armed atomic.Bool
			var fs vfs.FS = errorfs.Wrap(vfs.Default, errorfs.InjectorFunc(func(o errorfs.Op, path string) error {
				if armed.Load() && o == errorfs.OpFileWrite && strings.HasSuffix(path, ".log") {
					return errorfs.ErrInjected
				}
				return nil
			}))
			want := errorfs.ErrInjected
			if name == "sync" {
				ffs := &faultFS{FS: vfs.Default, armed: &armed}
				ffs.left.Store(1 << 40)
				fs, want = ffs, syscall.EIO
			}
			s := openT(t, Options{Dir: dir, FS: fs})
			c := s.NewCommitter(CommitterOptions{})
			if err := submitWait(t, c, retainedBatch(s, "before")); err != nil {
				t.Fatal(err)
			}
			armed.Store(true)
			err := submitWait(t, c, retainedBatch(s, "during"))
			if !errors.Is(err, ErrFatal) || !errors.Is(err, want) {
				t.Fatalf("commit on a failing disk: err %v, want ErrFatal wrapping the injected error", err)
			}
			if err := c.Submit(retainedBatch(s, "after"), func(error) { t.Error("done called for a refused batch") }); !errors.Is(err, ErrFatal) {
				t.Fatalf("submit after the failure: %v", err)
			}
			if err := c.Close(); !errors.Is(err, ErrFatal) {
				t.Fatalf("close: %v", err)
			}
			s.Close() // may report the broken log; the point is the reopen below
			armed.Store(false)
			if got := retainedTopics(t, dir); !got["before"] || got["after"] {
				t.Fatalf("after reopening: %v", got)
			}
		})
	}
}

// faultFS fails writes with ENOSPC once the bytes written through it exceed a budget, like a
// disk that fills up, and, while armed, fails syncs with EIO.
type faultFS struct {
	vfs.FS
	left  atomic.Int64
	armed *atomic.Bool
}

type faultFile struct {
	vfs.File
	fs *faultFS
}

func (f faultFile) syncErr() error {
	if f.fs.armed != nil && f.fs.armed.Load() {
		return &os.PathError{Op: "sync", Path: "store file", Err: syscall.EIO}
	}
	return nil
}

func (f faultFile) Sync() error {
	if err := f.syncErr(); err != nil {
		return err
	}
	return f.File.Sync()
}

func (f faultFile) SyncData() error {
	if err := f.syncErr(); err != nil {
		return err
	}
	return f.File.SyncData()
}

func (f faultFile) SyncTo(length int64) (bool, error) {
	if err := f.syncErr(); err != nil {
		return false, err
	}
	return f.File.SyncTo(length)
}

func (fs *faultFS) Create(name string) (vfs.File, error) {
	if fs.left.Load() <= 0 {
		return nil, &os.PathError{Op: "create", Path: name, Err: syscall.ENOSPC}
	}
	f, err := fs.FS.Create(name)
	if err != nil {
		return nil, err
	}
	return faultFile{f, fs}, nil
}

func (fs *faultFS) ReuseForWrite(oldname, newname string) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname)
	if err != nil {
		return nil, err
	}
	return faultFile{f, fs}, nil
}

func (f faultFile) Write(p []byte) (int, error) {
	if f.fs.left.Add(-int64(len(p))) < 0 {
		return 0, &os.PathError{Op: "write", Path: "store file", Err: syscall.ENOSPC}
	}
	return f.File.Write(p)
}

func (f faultFile) WriteAt(p []byte, off int64) (int, error) {
	if f.fs.left.Add(-int64(len(p))) < 0 {
		return 0, &os.PathError{Op: "write", Path: "store file", Err: syscall.ENOSPC}
	}
	return f.File.WriteAt(p, off)
}

// TestDiskFull: writes that hit a full disk fail their done with ENOSPC (nothing is reported
// as committed that is not), every acknowledged write survives, and opening a store on a full
// disk is a clear error.
func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	fs := &faultFS{FS: vfs.Default}
	fs.left.Store(200 << 10)
	s := openT(t, Options{Dir: dir, FS: fs})
	c := s.NewCommitter(CommitterOptions{})
	var (
		mu    sync.Mutex
		acked []string
		fail  error
	)
	for i := 0; fail == nil && i < 10000; i++ {
		topic := "t/" + string(rune('a'+i%26)) + "/" + strings.Repeat("x", i%7) + "/" + fmtInt(i)
		err := submitWait(t, c, retainedBatch(s, topic))
		mu.Lock()
		if err == nil {
			acked = append(acked, topic)
		} else {
			fail = err
		}
		mu.Unlock()
	}
	if !errors.Is(fail, syscall.ENOSPC) {
		t.Fatalf("after %d commits: err %v, want ENOSPC", len(acked), fail)
	}
	c.Close()
	s.Close()

	fs.left.Store(0)
	if _, err := Open(Options{Dir: t.TempDir(), FS: fs}); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("open on a full disk: %v", err)
	}

	got := retainedTopics(t, dir)
	for _, topic := range acked {
		if !got[topic] {
			t.Fatalf("acknowledged %q lost (%d acknowledged, %d found)", topic, len(acked), len(got))
		}
	}
	t.Logf("%d commits acknowledged before the disk filled; all found", len(acked))
}

func fmtInt(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

// filesWithSuffix lists dir's files ending in suffix.
func filesWithSuffix(t *testing.T, dir, suffix string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+suffix))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// writeTables fills a store with retained messages and flushes them into sstables.
func writeTables(t *testing.T, dir string) {
	s := openT(t, Options{Dir: dir})
	c := s.NewCommitter(CommitterOptions{})
	b := s.NewBatch()
	for i := range 2000 {
		b.PutRetained(&Message{Topic: []byte("t/" + fmtInt(i)), Payload: []byte(strings.Repeat("p", 100))})
	}
	commitT(t, c, b)
	c.Close()
	if err := s.Compact(); err != nil {
		t.Fatal(err)
	}
	s.Close()
}

// openAndLoad opens dir and loads it, returning the first error.
func openAndLoad(dir string) error {
	s, err := Open(Options{Dir: dir})
	if err != nil {
		return err
	}
	defer s.Close()
	_, err = s.Load(time.Now(), Visitor{Retained: func(*Message) error { return nil }})
	return err
}

// TestCorruptTable: a flipped byte or a truncated sstable is an error before the broker
// would serve (at Open or at Load, which reads every live block), never a silent loss.
func TestCorruptTable(t *testing.T) {
	for _, damage := range []string{"flip", "truncate"} {
		t.Run(damage, func(t *testing.T) {
			dir := t.TempDir()
			writeTables(t, dir)
			tables := filesWithSuffix(t, dir, ".sst")
			if len(tables) == 0 {
				t.Fatal("no sstable written")
			}
			path := tables[0]
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			switch damage {
			case "flip":
				data[len(data)/3] ^= 0xFF
			case "truncate":
				data = data[:len(data)/2]
			}
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			err = openAndLoad(dir)
			if err == nil {
				t.Fatal("a damaged sstable opened and loaded without error")
			}
			if !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), filepath.Base(path)[:6]) {
				t.Fatalf("error does not name the store and the table: %v", err)
			}
			t.Logf("%s: %v", damage, err)
		})
	}
}
