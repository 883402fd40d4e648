package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"
)

// Fsync says when a commit reaches stable storage.
type Fsync uint8

const (
	// FsyncAlways syncs the write-ahead log before a commit's done callbacks run: nothing
	// acknowledged after done is lost, even on power loss. The zero value.
	FsyncAlways Fsync = iota
	// FsyncNever leaves the log in the OS page cache: a process crash (kill -9) loses nothing,
	// a power loss or kernel crash loses the last seconds of writes.
	FsyncNever
)

// Options configure Open.
type Options struct {
	Dir   string // the store's directory, created if missing
	Fsync Fsync
	// FS is the file system under the store; nil: the operating system's. Tests inject
	// failures here.
	FS vfs.FS
	// Logf receives pebble's informational messages; nil discards them.
	Logf func(format string, args ...any)
	// CacheBytes is pebble's block cache size; 0: 8 MiB.
	CacheBytes int64
}

// Errors returned by Open for a store this build cannot use. Each wraps into an error that
// names the directory.
var (
	// ErrNewerFormat: the store was written by a newer build with a layout this one does not know.
	ErrNewerFormat = errors.New("store: written by a newer loopmq (format version unknown to this build)")
	// ErrOlderFormat: the store's layout predates every layout this build can read or migrate.
	ErrOlderFormat = errors.New("store: format version older than this build can read")
	// ErrNotAStore: the directory holds a pebble database without a format version key.
	ErrNotAStore = errors.New("store: directory holds a database that is not a loopmq store")
)

// Store is one open pebble database in the key layout of this package.
type Store struct {
	db      *pebble.DB
	dir     string
	write   *pebble.WriteOptions
	batches sync.Pool // of *Batch
}

// Open opens or creates the store in o.Dir and checks its format version. A store that cannot
// be opened (corrupt files, I/O errors, a full disk, another process holding its lock, an
// unknown layout) gives an error naming the directory; nothing is modified in that case.
func Open(o Options) (*Store, error) {
	po := &pebble.Options{
		FS:                 o.FS,
		Logger:             logger{o.Logf},
		FormatMajorVersion: pebble.FormatNewest,
	}
	if po.FS == nil {
		po.FS = vfs.Default
	}
	cache := o.CacheBytes
	if cache <= 0 {
		cache = 8 << 20
	}
	c := pebble.NewCache(cache)
	defer c.Unref()
	po.Cache = c
	po.EnsureDefaults()
	if err := checkLogs(po.FS, o.Dir); err != nil {
		return nil, openError(o.Dir, err)
	}
	db, err := pebble.Open(o.Dir, po)
	if err != nil {
		return nil, openError(o.Dir, err)
	}
	s := &Store{db: db, dir: o.Dir, write: pebble.Sync}
	if o.Fsync == FsyncNever {
		s.write = pebble.NoSync
	}
	if err := s.checkFormat(); err != nil {
		db.Close()
		return nil, openError(o.Dir, err)
	}
	return s, nil
}

func openError(dir string, err error) error {
	hint := ""
	switch {
	case pebble.IsCorruptionError(err) || errors.Is(err, ErrCorrupt) || errors.Is(err, ErrCorruptLog):
		hint = " (the store is corrupt: restore a backup, or move the directory aside to start empty)"
	case errors.Is(err, ErrNewerFormat):
		hint = " (run the newer loopmq, or move the directory aside)"
	case errors.Is(err, ErrOlderFormat), errors.Is(err, ErrNotAStore):
		hint = " (move the directory aside to start empty)"
	}
	return fmt.Errorf("store %s: %w%s", dir, err, hint)
}

// checkFormat reads the format version, writing it into a store that is still empty.
func (s *Store) checkFormat() error {
	v, closer, err := s.db.Get(keyFormat)
	if errors.Is(err, pebble.ErrNotFound) {
		it, err := s.db.NewIter(nil)
		if err != nil {
			return err
		}
		nonEmpty := it.First()
		if err := errors.Join(it.Error(), it.Close()); err != nil {
			return err
		}
		if nonEmpty {
			return ErrNotAStore
		}
		b := s.db.NewBatch()
		defer b.Close()
		b.Set(keyFormat, binary.BigEndian.AppendUint32(nil, FormatVersion), nil)
		return s.commitBatch(b, pebble.Sync)
	}
	if err != nil {
		return err
	}
	defer closer.Close()
	if len(v) != 4 {
		return fmt.Errorf("%w: format version of %d bytes", ErrCorrupt, len(v))
	}
	switch got := binary.BigEndian.Uint32(v); {
	case got > FormatVersion:
		return fmt.Errorf("%w: store has %d, this build %d", ErrNewerFormat, got, FormatVersion)
	case got < FormatVersion:
		return fmt.Errorf("%w: store has %d, this build %d", ErrOlderFormat, got, FormatVersion)
	}
	return nil
}

// Close closes the database. Close a Committer on the store first.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store %s: close: %w", s.dir, err)
	}
	return nil
}

// Compact compacts the whole key space, dropping deleted and overwritten entries now rather
// than when pebble's own compactions reach them. Pebble compacts in the background as well;
// this is for an operator's maintenance and for tests.
func (s *Store) Compact() error {
	if err := s.db.Flush(); err != nil {
		return fmt.Errorf("store %s: flush: %w", s.dir, err)
	}
	if err := s.db.Compact([]byte{0x00}, []byte{0xFF}, true); err != nil {
		return fmt.Errorf("store %s: compact: %w", s.dir, err)
	}
	return nil
}

// DiskUsage returns the bytes the store's files take on disk (tables, logs, manifests).
func (s *Store) DiskUsage() uint64 { return s.db.Metrics().DiskSpaceUsage() }

// logger adapts pebble's logger: informational lines go to Logf. Pebble calls Fatalf on broken
// invariants and, in v1, when a commit fails to write or sync the WAL ("fatal commit error").
// Fatalf panics with a fatalError instead of exiting, so that a failed commit becomes an error
// for the Committer (see commitBatch); on any other goroutine the panic stops the process,
// which is what pebble asks for.
type logger struct{ logf func(string, ...any) }

func (l logger) Infof(format string, args ...any) {
	if l.logf != nil {
		l.logf(format, args...)
	}
}

func (l logger) Fatalf(format string, args ...any) {
	fe := fatalError{msg: fmt.Sprintf("pebble: "+format, args...)}
	for _, a := range args {
		if err, ok := a.(error); ok {
			fe.cause = err // keeps errors.Is(err, syscall.ENOSPC) working
			break
		}
	}
	panic(fe)
}

type fatalError struct {
	msg   string
	cause error
}

func (e fatalError) Error() string { return e.msg }
func (e fatalError) Unwrap() error { return e.cause }

// ErrFatal wraps a failure pebble deems fatal (a commit that could not write or sync its log,
// usually an I/O error or a full disk). The store takes no more writes; reopen it.
var ErrFatal = errors.New("store: fatal pebble error")

// commitBatch commits pb, turning pebble's fatal commit error into an error wrapping ErrFatal.
func (s *Store) commitBatch(pb *pebble.Batch, o *pebble.WriteOptions) (err error) {
	defer func() {
		if r := recover(); r != nil {
			fe, ok := r.(fatalError)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("%w: %w", ErrFatal, fe)
		}
	}()
	return pb.Commit(o)
}
