package store

import (
	"errors"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// writeLog commits n retained messages (some larger than a 32 KiB log block) and closes the
// store without flushing, so they live only in the write-ahead log; it returns the log path.
func writeLog(t *testing.T, dir string, n int) string {
	t.Helper()
	s := openT(t, Options{Dir: dir})
	c := s.NewCommitter(CommitterOptions{})
	for i := range n {
		b := s.NewBatch()
		size := 50 + i*37%300
		if i%25 == 7 {
			size = 70_000 // spans blocks: first, middle and last chunks
		}
		b.PutRetained(&Message{Topic: []byte("t/" + fmtInt(i)), Payload: []byte(strings.Repeat("p", size))})
		commitT(t, c, b)
	}
	c.Close()
	s.Close()
	logs := filesWithSuffix(t, dir, ".log")
	if len(logs) == 0 {
		t.Fatal("no write-ahead log")
	}
	return logs[len(logs)-1]
}

// TestCorruptLog: pebble alone would stop replaying at a flipped byte in the newest log and
// drop every later acknowledged commit silently; Open must refuse instead.
func TestCorruptLog(t *testing.T) {
	for _, at := range []float64{0.1, 0.5, 0.9} {
		dir := t.TempDir()
		path := writeLog(t, dir, 200)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		data[int(float64(len(data))*at)] ^= 0x5A
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = Open(Options{Dir: dir})
		if !errors.Is(err, ErrCorruptLog) || !strings.Contains(err.Error(), dir) {
			t.Fatalf("flip at %.0f%%: err %v, want ErrCorruptLog naming the store", at*100, err)
		}
	}
}

// TestTornLog: a log cut anywhere (a crash in the middle of a write) opens, and keeps every
// commit whose record is complete. The intact log passes the check too.
func TestTornLog(t *testing.T) {
	const n = 120
	dir := t.TempDir()
	path := writeLog(t, dir, n)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkLog(orig, logNumOf(t, path)); err != nil {
		t.Fatalf("intact log: %v", err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	end := logEnd(orig, logNumOf(t, path)) // before the EOF trailer a clean close writes
	for _, cut := range []int{len(orig), end, end - 1, len(orig) * 3 / 4, rng.IntN(len(orig)), len(orig) / 3, 100} {
		d := t.TempDir()
		copyDir(t, dir, d)
		if err := os.WriteFile(strings.Replace(path, dir, d, 1), orig[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		got := retainedTopics(t, d)
		// A prefix of the commits survives: topics t/0 .. t/k-1, nothing after a gap.
		for i := range len(got) {
			if !got["t/"+fmtInt(i)] {
				t.Fatalf("cut at %d: %d commits found but t/%d missing", cut, len(got), i)
			}
		}
		switch {
		case (cut == len(orig) || cut == end) && len(got) != n:
			t.Fatalf("uncut log: %d of %d commits", len(got), n)
		case cut == end-1 && len(got) != n-1: // one commit is one record
			t.Fatalf("log cut by one byte: %d of %d commits", len(got), n)
		case cut == len(orig)*3/4 && (len(got) < n/2 || len(got) >= n):
			t.Fatalf("log cut at 3/4: %d of %d commits", len(got), n)
		}
	}
}

func logNumOf(t *testing.T, path string) uint32 {
	base := path[strings.LastIndexByte(path, '/')+1:]
	var n uint32
	for _, c := range strings.TrimSuffix(base, ".log") {
		n = n*10 + uint32(c-'0')
	}
	return n
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(from + "/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to+"/"+e.Name(), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
