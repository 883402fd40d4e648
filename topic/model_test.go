package topic

import (
	"cmp"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// model is the naive reference the index is checked against: maps from filter text to subscriptions.
type model struct {
	plain  map[string]map[SubscriberID]Subscription    // filter → subscriber → subscription
	shared map[[2]string]map[SubscriberID]Subscription // {group, inner filter} → members
}

func newModel() *model {
	return &model{plain: map[string]map[SubscriberID]Subscription{}, shared: map[[2]string]map[SubscriberID]Subscription{}}
}

func (m *model) subscribe(filter string, s Subscription) (existed bool) {
	set := m.plain
	key := filter
	if g, inner, ok := strings.Cut(strings.TrimPrefix(filter, "$share/"), "/"); strings.HasPrefix(filter, "$share/") && ok {
		k := [2]string{g, inner}
		if m.shared[k] == nil {
			m.shared[k] = map[SubscriberID]Subscription{}
		}
		_, existed = m.shared[k][s.Subscriber]
		m.shared[k][s.Subscriber] = s
		return existed
	}
	if set[key] == nil {
		set[key] = map[SubscriberID]Subscription{}
	}
	_, existed = set[key][s.Subscriber]
	set[key][s.Subscriber] = s
	return existed
}

func (m *model) unsubscribe(filter string, id SubscriberID) (existed bool) {
	if g, inner, ok := strings.Cut(strings.TrimPrefix(filter, "$share/"), "/"); strings.HasPrefix(filter, "$share/") && ok {
		k := [2]string{g, inner}
		_, existed = m.shared[k][id]
		delete(m.shared[k], id)
		if len(m.shared[k]) == 0 {
			delete(m.shared, k)
		}
		return existed
	}
	_, existed = m.plain[filter][id]
	delete(m.plain[filter], id)
	if len(m.plain[filter]) == 0 {
		delete(m.plain, filter)
	}
	return existed
}

func (m *model) len() int {
	n := 0
	for _, s := range m.plain {
		n += len(s)
	}
	for _, s := range m.shared {
		n += len(s)
	}
	return n
}

func cmpSub(a, b Subscription) int {
	return cmp.Or(cmp.Compare(a.Subscriber, b.Subscriber), cmp.Compare(a.ID, b.ID), cmp.Compare(a.Opts, b.Opts))
}

// check compares one Match result with the model and returns a description of the first difference.
func (m *model) check(topic string, got []Subscription, skip func(SubscriberID) bool) string {
	var want, gotPlain []Subscription
	for f, subs := range m.plain {
		if refMatch(f, topic) {
			want = slices.AppendSeq(want, maps.Values(subs))
		}
	}
	groups := 0
	for k, members := range m.shared {
		if len(members) > 0 && refMatch(k[1], topic) {
			groups++
		}
	}
	shared := 0
	for _, s := range got {
		if !s.Shared {
			gotPlain = append(gotPlain, s)
			continue
		}
		shared++
		// The entry must be a member of a matching group, and a member skip accepts if the group has one.
		ok := false
		for k, members := range m.shared {
			ms, in := members[s.Subscriber]
			if !in || !refMatch(k[1], topic) || ms.ID != s.ID || ms.Opts != s.Opts {
				continue
			}
			online := false
			for id := range members {
				online = online || skip == nil || !skip(id)
			}
			if !online || skip == nil || !skip(s.Subscriber) {
				ok = true
			}
		}
		if !ok {
			return fmt.Sprintf("shared entry %+v is not an eligible member of a matching group", s)
		}
	}
	if shared != groups {
		return fmt.Sprintf("%d shared entries, want one for each of %d matching groups", shared, groups)
	}
	slices.SortFunc(want, cmpSub)
	slices.SortFunc(gotPlain, cmpSub)
	if !slices.Equal(want, gotPlain) {
		return fmt.Sprintf("ordinary entries %v, want %v", gotPlain, want)
	}
	return ""
}

var modelLevels = []string{"a", "b", "", "$x", "c"}

func randFilter(rng *rand.Rand) string {
	n := 1 + rng.IntN(3)
	lv := make([]string, n)
	for i := range lv {
		switch r := rng.IntN(10); {
		case r < 2:
			lv[i] = "+"
		case r < 3 && i == n-1:
			lv[i] = "#"
		default:
			lv[i] = modelLevels[rng.IntN(len(modelLevels))]
		}
	}
	f := strings.Join(lv, "/")
	if f == "" {
		f = "/" // a filter needs at least one byte
	}
	if rng.IntN(6) == 0 {
		f = fmt.Sprintf("$share/g%d/%s", rng.IntN(2), f)
	}
	return f
}

func randTopic(rng *rand.Rand) string {
	n := 1 + rng.IntN(4)
	lv := make([]string, n)
	for i := range lv {
		lv[i] = modelLevels[rng.IntN(len(modelLevels))]
	}
	if t := strings.Join(lv, "/"); t != "" {
		return t
	}
	return "/"
}

func TestIndexAgainstModel(t *testing.T) {
	steps := 40000
	if testing.Short() {
		steps = 5000
	}
	rng := rand.New(rand.NewPCG(4, 7))
	x, m := New(), newModel()
	var dst []Subscription
	for step := 0; step < steps; step++ {
		switch op := rng.IntN(10); {
		case op < 3:
			f := randFilter(rng)
			s := Subscription{Subscriber: SubscriberID(1 + rng.IntN(8)), ID: uint32(rng.IntN(3)),
				Opts: NewOptions(byte(rng.IntN(3)), rng.IntN(2) == 0, rng.IntN(2) == 0, byte(rng.IntN(3)))}
			existed, err := x.Subscribe([]byte(f), s)
			if err != nil {
				t.Fatalf("step %d: Subscribe(%q): %v", step, f, err)
			}
			if want := m.subscribe(f, s); existed != want {
				t.Fatalf("step %d: Subscribe(%q, %d) existed = %v, want %v", step, f, s.Subscriber, existed, want)
			}
		case op < 7:
			f := randFilter(rng)
			id := SubscriberID(1 + rng.IntN(8))
			if got, want := x.Unsubscribe([]byte(f), id), m.unsubscribe(f, id); got != want {
				t.Fatalf("step %d: Unsubscribe(%q, %d) = %v, want %v", step, f, id, got, want)
			}
		default:
			topic := randTopic(rng)
			var skip func(SubscriberID) bool
			if rng.IntN(3) == 0 {
				mask := rng.Uint32()
				skip = func(id SubscriberID) bool { return mask&(1<<id) != 0 }
			}
			dst = x.Match([]byte(topic), dst[:0], skip)
			if diff := m.check(topic, dst, skip); diff != "" {
				t.Fatalf("step %d: Match(%q): %s", step, topic, diff)
			}
		}
		if x.Len() != m.len() {
			t.Fatalf("step %d: Len = %d, want %d", step, x.Len(), m.len())
		}
	}
}

// TestIndexConcurrent runs subscribers, unsubscribers and matchers at once (meant for -race). Each subscriber
// goroutine owns its own ids, so after the churn the index must hold exactly what each one left subscribed.
func TestIndexConcurrent(t *testing.T) {
	x := New()
	const writers, readers = 4, 4
	deadline := time.Now().Add(300 * time.Millisecond)
	var wg sync.WaitGroup
	final := make([]*model, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 99))
			m := newModel()
			for i := 0; i < 20000 && time.Now().Before(deadline); i++ {
				f := randFilter(rng)
				id := SubscriberID(w*100 + 1 + rng.IntN(8))
				if rng.IntN(2) == 0 {
					s := Subscription{Subscriber: id, Opts: NewOptions(1, false, false, 0)}
					existed, err := x.Subscribe([]byte(f), s)
					if err != nil || existed != m.subscribe(f, s) {
						t.Errorf("Subscribe(%q, %d) = %v, %v disagrees with the model", f, id, existed, err)
						return
					}
				} else if x.Unsubscribe([]byte(f), id) != m.unsubscribe(f, id) {
					t.Errorf("Unsubscribe(%q, %d) disagrees with the model", f, id)
					return
				}
			}
			final[w] = m
		}(w)
	}
	for r := 0; r < readers; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 7))
			var dst []Subscription
			for time.Now().Before(deadline) {
				dst = x.Match([]byte(randTopic(rng)), dst[:0], nil)
				for _, s := range dst {
					if s.Subscriber == 0 || s.Opts.QoS() != 1 {
						t.Errorf("torn entry %+v", s)
						return
					}
				}
			}
		}(r)
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	merged := newModel()
	for _, m := range final {
		for f, subs := range m.plain {
			for _, s := range subs {
				merged.subscribe(f, s)
			}
		}
		for k, subs := range m.shared {
			for _, s := range subs {
				merged.subscribe("$share/"+k[0]+"/"+k[1], s)
			}
		}
	}
	if x.Len() != merged.len() {
		t.Fatalf("Len = %d, want %d", x.Len(), merged.len())
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for i := 0; i < 2000; i++ {
		topic := randTopic(rng)
		if diff := merged.check(topic, x.Match([]byte(topic), nil, nil), nil); diff != "" {
			t.Fatalf("after churn, Match(%q): %s", topic, diff)
		}
	}
}

func TestRetainedConcurrent(t *testing.T) {
	r := NewRetained[int]()
	deadline := time.Now().Add(200 * time.Millisecond)
	var wg sync.WaitGroup
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 5))
			for time.Now().Before(deadline) {
				tp := []byte(randTopic(rng))
				if rng.IntN(3) == 0 {
					r.Delete(tp)
				} else {
					r.Set(tp, len(tp))
				}
			}
		}(w)
	}
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 6))
			for time.Now().Before(deadline) {
				f := []byte(randFilter(rng))
				if _, inner, shared, _ := ParseShared(f); shared {
					f = inner
				}
				var c Cursor[int]
				for more := true; more; {
					c, more = r.Walk(f, c, 3, func(topic []byte, m int) bool {
						if m != len(topic) || !Matches(f, topic) {
							t.Errorf("Walk(%q) visited %q with %d", f, topic, m)
						}
						return true
					})
				}
			}
		}(w)
	}
	wg.Wait()
}
