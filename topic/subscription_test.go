package topic

import (
	"math/rand/v2"
	"testing"
)

// inSortOrder checks SortBySubscriber's contract: each subscriber's entries adjacent in ascending subscriber
// order, ordinary ones before shared ones.
func inSortOrder(subs []Subscription) bool {
	for i := 1; i < len(subs); i++ {
		a, b := subs[i-1], subs[i]
		if a.Subscriber > b.Subscriber || a.Subscriber == b.Subscriber && a.Shared && !b.Shared {
			return false
		}
	}
	return true
}

// TestSortBySubscriber runs random match results, some already in order (which SortBySubscriber leaves as they
// are), some not, through SortBySubscriber and checks the order and that no entry was lost or duplicated.
func TestSortBySubscriber(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	sortedIn, unsortedIn := 0, 0
	for range 5000 {
		n := r.IntN(12)
		subs := make([]Subscription, n)
		for i := range subs {
			subs[i] = Subscription{Subscriber: SubscriberID(r.IntN(6)), ID: uint32(i + 1), Shared: r.IntN(3) == 0}
		}
		if r.IntN(2) == 0 { // half the inputs start in order, as a match result often does
			for i := 1; i < n; i++ {
				for j := i; j > 0 && !inSortOrder(subs[j-1:j+1]); j-- {
					subs[j-1], subs[j] = subs[j], subs[j-1]
				}
			}
		}
		if inSortOrder(subs) {
			sortedIn++
		} else {
			unsortedIn++
		}
		seen := make(map[uint32]Subscription, n)
		for _, s := range subs {
			seen[s.ID] = s
		}
		SortBySubscriber(subs)
		if !inSortOrder(subs) {
			t.Fatalf("not in order: %+v", subs)
		}
		for _, s := range subs {
			if seen[s.ID] != s {
				t.Fatalf("entry %+v changed or duplicated", s)
			}
			delete(seen, s.ID)
		}
		if len(seen) != 0 {
			t.Fatalf("entries lost: %+v", seen)
		}
	}
	if sortedIn < 1000 || unsortedIn < 1000 {
		t.Fatalf("inputs: %d in order, %d not: both kinds must be exercised", sortedIn, unsortedIn)
	}
}
