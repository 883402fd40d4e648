package topic

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// walkAll collects every (topic, message) a walk of filter visits, in batches of size batch.
func walkAll(r *Retained[int], filter string, batch int) (topics []string, msgs []int) {
	var c Cursor[int]
	for rounds := 0; ; rounds++ {
		got := 0
		var more bool
		c, more = r.Walk([]byte(filter), c, batch, func(topic []byte, m int) bool {
			topics = append(topics, string(topic))
			msgs = append(msgs, m)
			got++
			return true
		})
		if batch > 0 && got > batch {
			panic(fmt.Sprintf("batch of %d visited %d", batch, got))
		}
		if !more || rounds > 1e6 {
			return topics, msgs
		}
	}
}

func TestRetainedSetGetDelete(t *testing.T) {
	r := NewRetained[int]()
	if _, replaced := r.Set([]byte("a/b"), 1); replaced {
		t.Fatal("first Set reported a replacement")
	}
	if old, replaced := r.Set([]byte("a/b"), 2); !replaced || old != 1 {
		t.Fatalf("second Set = %d, %v; want 1, true", old, replaced)
	}
	r.Set([]byte("a"), 3)
	r.Set([]byte("a/b/c"), 4)
	if r.Len() != 3 {
		t.Fatalf("Len = %d, want 3", r.Len())
	}
	if m, ok := r.Get([]byte("a/b")); !ok || m != 2 {
		t.Fatalf("Get(a/b) = %d, %v", m, ok)
	}
	if _, ok := r.Get([]byte("a/b/c/d")); ok {
		t.Fatal("Get of a missing topic succeeded")
	}
	if old, ok := r.Delete([]byte("a/b")); !ok || old != 2 {
		t.Fatalf("Delete(a/b) = %d, %v", old, ok)
	}
	if _, ok := r.Delete([]byte("a/b")); ok {
		t.Fatal("second Delete succeeded")
	}
	if _, ok := r.Get([]byte("a/b")); ok {
		t.Fatal("deleted topic still there")
	}
	if m, ok := r.Get([]byte("a/b/c")); !ok || m != 4 {
		t.Fatal("child of deleted topic lost")
	}
	r.Delete([]byte("a/b/c"))
	r.Delete([]byte("a"))
	if r.Len() != 0 || len(r.root.kids) != 0 {
		t.Fatalf("store not emptied and pruned: Len %d, kids %d", r.Len(), len(r.root.kids))
	}
}

func TestRetainedWalkMatchesReference(t *testing.T) {
	r := NewRetained[int]()
	topics := []string{"sport", "sport/tennis", "sport/tennis/player1", "sport/tennis/player1/ranking",
		"sport/tennis/player2", "sport/golf", "/finance", "finance", "/", "//", "a//b", "$SYS/uptime", "$SYS",
		"$other/x", "sport/", "x/$y"}
	for i, tp := range topics {
		r.Set([]byte(tp), i)
	}
	filters := []string{"#", "+", "+/+", "/+", "sport/#", "sport/+", "sport/tennis/+", "+/tennis/#", "$SYS/#",
		"$SYS/+", "+/uptime", "//", "/#", "a/+/b", "sport/tennis/player1/#", "x/+", "nothing/#", "+/+/+/+"}
	for _, f := range filters {
		var want []string
		for _, tp := range topics {
			if refMatch(f, tp) {
				want = append(want, tp)
			}
		}
		for _, batch := range []int{0, 1, 2, 3, 100} {
			got, msgs := walkAll(r, f, batch)
			for i, m := range msgs {
				if topics[m] != got[i] {
					t.Fatalf("filter %q: topic %q delivered with the message of %q", f, got[i], topics[m])
				}
			}
			g := slices.Clone(got)
			slices.Sort(g)
			w := slices.Clone(want)
			slices.Sort(w)
			if !slices.Equal(g, w) {
				t.Errorf("Walk(%q) in batches of %d = %q, want %q", f, batch, got, want)
			}
		}
	}
}

func TestRetainedWalkStopsWhenFnSaysSo(t *testing.T) {
	r := NewRetained[int]()
	for i := 0; i < 10; i++ {
		r.Set(fmt.Appendf(nil, "t/%d", i), i)
	}
	n := 0
	_, more := r.Walk([]byte("#"), Cursor[int]{}, 0, func([]byte, int) bool { n++; return n < 4 })
	if n != 4 || !more {
		t.Fatalf("visited %d, more %v; want 4, true", n, more)
	}
}

// TestRetainedWalkUnderChange resumes walks while topics come and go between batches: every topic retained for
// the whole walk must be visited exactly once, and a topic set again during the walk at most once more per Set
// (a re-created topic is a new message).
func TestRetainedWalkUnderChange(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 50; round++ {
		r := NewRetained[int]()
		topicOf := func(i int) []byte { return fmt.Appendf(nil, "r/%d/%d/x", i%7, i) }
		stable := map[string]bool{}
		for i := 0; i < 300; i++ {
			r.Set(topicOf(i), i)
			if i%3 == 0 {
				stable[string(topicOf(i))] = true // never touched during the walk
			}
		}
		filter := []byte([]string{"#", "r/+/+/x", "r/#", "+/+/+/+"}[round%4])
		seen := map[string]int{}
		resets := map[string]int{}
		var c Cursor[int]
		next := 300
		for {
			var more bool
			c, more = r.Walk(filter, c, 1+rng.IntN(20), func(topic []byte, m int) bool {
				seen[string(topic)]++
				return true
			})
			if !more {
				break
			}
			for k := 0; k < 5; k++ { // churn topics that are not stable
				i := rng.IntN(next + 50)
				if i%3 == 0 {
					continue
				}
				if rng.IntN(2) == 0 {
					r.Delete(topicOf(i))
				} else {
					r.Set(topicOf(i), i)
					resets[string(topicOf(i))]++
					next = max(next, i+1)
				}
			}
		}
		for tp := range stable {
			if seen[tp] != 1 {
				t.Fatalf("round %d filter %s: stable topic %s visited %d times", round, filter, tp, seen[tp])
			}
		}
		for tp, n := range seen {
			if n > 1+resets[tp] {
				t.Fatalf("round %d: topic %s visited %d times", round, tp, n)
			}
		}
	}
}

func TestRetainedManyChildrenIndexAndCompaction(t *testing.T) {
	r := NewRetained[int]()
	const n = 2000
	for i := 0; i < n; i++ {
		r.Set(fmt.Appendf(nil, "dev/%d/status", i), i)
	}
	for i := 0; i < n; i += 2 {
		r.Delete(fmt.Appendf(nil, "dev/%d/status", i))
	}
	if r.Len() != n/2 {
		t.Fatalf("Len = %d", r.Len())
	}
	dev := r.root.child([]byte("dev"))
	if dev == nil || dev.index == nil || dev.pruned*2 > len(dev.kids) {
		t.Fatalf("dev node: index %v, pruned %d of %d", dev.index != nil, dev.pruned, len(dev.kids))
	}
	topics, _ := walkAll(r, "dev/+/status", 7)
	if len(topics) != n/2 {
		t.Fatalf("walk visited %d, want %d", len(topics), n/2)
	}
	for i := 1; i < n; i += 2 {
		if m, ok := r.Get(fmt.Appendf(nil, "dev/%d/status", i)); !ok || m != i {
			t.Fatalf("Get dev/%d/status = %d, %v", i, m, ok)
		}
	}
}
