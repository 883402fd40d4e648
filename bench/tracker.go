package bench

import (
	"sort"
	"sync"
)

// maxSeq bounds the sequence numbers a tracker records; anything larger is not from this harness.
const maxSeq = 1 << 31

// stream is what one accounting group has seen of one publisher.
type stream struct {
	seen   []uint64 // bit per sequence number
	unique int64
	dups   int64
	max    int64 // highest sequence number seen, -1 before the first
}

// tracker accounts the messages one group receives: a subscriber on its own, or all members of a
// $share group together (a message must reach exactly one of them). It detects duplicates exactly with
// a bitmap of sequence numbers per publisher.
type tracker struct {
	mu      sync.Mutex
	streams map[uint32]*stream
}

func newTracker() *tracker { return &tracker{streams: make(map[uint32]*stream)} }

// see records sequence number seq of publisher pub and reports whether it was seen before.
func (t *tracker) see(pub uint32, seq uint64) (dup bool) {
	t.mu.Lock()
	s := t.streams[pub]
	if s == nil {
		s = &stream{max: -1}
		t.streams[pub] = s
	}
	w := int(seq >> 6)
	if w >= len(s.seen) {
		n := max(2*len(s.seen), w+1, 64)
		grown := make([]uint64, n)
		copy(grown, s.seen)
		s.seen = grown
	}
	bit := uint64(1) << (seq & 63)
	dup = s.seen[w]&bit != 0
	if dup {
		s.dups++
	} else {
		s.seen[w] |= bit
		s.unique++
		s.max = max(s.max, int64(seq))
	}
	t.mu.Unlock()
	return dup
}

// unique is how many distinct messages the group has received so far.
func (t *tracker) uniqueTotal() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var n int64
	for _, s := range t.streams {
		n += s.unique
	}
	return n
}

// stats returns the group's figures per publisher, sorted by publisher.
func (t *tracker) stats(group int) []GroupStat {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]GroupStat, 0, len(t.streams))
	for pub, s := range t.streams {
		out = append(out, GroupStat{Group: group, Pub: int(pub), Unique: s.unique, Dups: s.dups, Max: s.max})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Pub < out[j].Pub })
	return out
}

// GroupStat is what one accounting group received from one publisher; workers report these and the
// coordinator turns them into lost counts against what the publishers sent.
type GroupStat struct {
	Group  int   `json:"g"`
	Pub    int   `json:"p"`
	Unique int64 `json:"u"`
	Dups   int64 `json:"d,omitempty"`
	Max    int64 `json:"m"` // highest sequence number seen
}

// order detects out-of-order delivery on one subscription: a message whose sequence number is below
// the highest already received from the same publisher, and which is not a duplicate. It is owned by
// one subscriber's reader, so it needs no lock.
type order struct {
	last map[uint32]int64
	ooo  int64
}

func (o *order) see(pub uint32, seq uint64) {
	if o.last == nil {
		o.last = make(map[uint32]int64)
	}
	last, ok := o.last[pub]
	switch {
	case !ok || int64(seq) > last:
		o.last[pub] = int64(seq)
	case int64(seq) < last:
		o.ooo++
	}
}

// accounting is the outcome of comparing what groups received with what publishers sent.
type accounting struct {
	unique, dups, lost int64
}

// account computes lost and duplicated counts. sent maps publisher number to messages sent (nil when
// the publishers ran elsewhere); expect maps a group to the publishers it must hear from (a group
// absent from it, as in the sub scenario, only counts gaps below the highest sequence number seen).
func account(stats []GroupStat, sent map[int]int64, expect map[int][]int) accounting {
	var a accounting
	got := make(map[[2]int]GroupStat, len(stats))
	for _, s := range stats {
		got[[2]int{s.Group, s.Pub}] = s
		a.unique += s.Unique
		a.dups += s.Dups
	}
	known := make(map[int]bool, len(expect))
	for g, pubs := range expect {
		known[g] = true
		for _, p := range pubs {
			s, ok := got[[2]int{g, p}] // zero when the group heard nothing from p
			var n int64
			switch {
			case sent != nil:
				n = sent[p]
			case ok:
				n = s.Max + 1
			}
			a.lost += max(0, n-s.Unique)
		}
	}
	for _, s := range stats {
		if !known[s.Group] {
			a.lost += max(0, s.Max+1-s.Unique)
		}
	}
	return a
}
