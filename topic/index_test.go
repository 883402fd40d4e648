package topic

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func sub(id SubscriberID, qos byte) Subscription {
	return Subscription{Subscriber: id, Opts: NewOptions(qos, false, false, 0)}
}

// ids returns the subscribers of subs, sorted.
func ids(subs []Subscription) []SubscriberID {
	out := make([]SubscriberID, 0, len(subs))
	for _, s := range subs {
		out = append(out, s.Subscriber)
	}
	slices.Sort(out)
	return out
}

func TestIndexMatchSpecExamples(t *testing.T) {
	for _, tt := range matchCases {
		if tt.topic == "" {
			continue // not a valid topic name
		}
		x := New()
		if _, err := x.Subscribe([]byte(tt.filter), sub(1, 1)); err != nil {
			t.Fatalf("Subscribe(%q): %v", tt.filter, err)
		}
		got := x.Match([]byte(tt.topic), nil, nil)
		if (len(got) == 1) != tt.want || len(got) > 1 {
			t.Errorf("filter %q topic %q: matched %v, want %v", tt.filter, tt.topic, got, tt.want)
		}
	}
}

func TestIndexMatchAllTogether(t *testing.T) {
	x := New()
	for i, tt := range matchCases {
		if _, err := x.Subscribe([]byte(tt.filter), sub(SubscriberID(i), 0)); err != nil {
			t.Fatal(err)
		}
	}
	topics := map[string]bool{}
	for _, tt := range matchCases {
		if tt.topic != "" {
			topics[tt.topic] = true
		}
	}
	for topic := range topics {
		var want []SubscriberID
		for i, tt := range matchCases {
			if refMatch(tt.filter, topic) {
				want = append(want, SubscriberID(i))
			}
		}
		// Filters repeated in matchCases are separate subscribers, so the reference counts each.
		got := ids(x.Match([]byte(topic), nil, nil))
		if !slices.Equal(got, want) {
			t.Errorf("Match(%q) = %v, want %v", topic, got, want)
		}
	}
}

func TestExactFiltersShortAndLong(t *testing.T) {
	// Filters up to 31 bytes and longer ones are kept in different maps; lengths around the boundary, and
	// filters that differ only by trailing zero-padding-like content, must never be confused.
	x := New()
	var filters []string
	for n := 1; n <= 40; n++ {
		filters = append(filters, strings.Repeat("a", n))
		filters = append(filters, strings.Repeat("b", n-1)+"/")
	}
	for i, f := range filters {
		if _, err := x.Subscribe([]byte(f), sub(SubscriberID(i), 0)); err != nil {
			t.Fatal(err)
		}
	}
	for i, f := range filters {
		if got := ids(x.Match([]byte(f), nil, nil)); !slices.Equal(got, []SubscriberID{SubscriberID(i)}) {
			t.Fatalf("Match(%q) = %v, want [%d]", f, got, i)
		}
	}
	for i, f := range filters {
		if i%2 == 0 && !x.Unsubscribe([]byte(f), SubscriberID(i)) {
			t.Fatalf("Unsubscribe(%q) = false", f)
		}
	}
	for i, f := range filters {
		if got := len(x.Match([]byte(f), nil, nil)); got != i%2 {
			t.Fatalf("after unsubscribing, Match(%q) has %d entries, want %d", f, got, i%2)
		}
	}
}

func TestSubscribeReplacesOptions(t *testing.T) {
	x := New()
	for _, filter := range []string{"a/b", "a/+"} {
		existed, err := x.Subscribe([]byte(filter), Subscription{Subscriber: 7, Opts: NewOptions(0, false, false, 0), ID: 1})
		if err != nil || existed {
			t.Fatalf("first Subscribe(%q) = %v, %v; want false, nil", filter, existed, err)
		}
		// [MQTT-3.8.4-3]: a second SUBSCRIBE with the same filter replaces the subscription.
		existed, err = x.Subscribe([]byte(filter), Subscription{Subscriber: 7, Opts: NewOptions(2, true, true, 1), ID: 9})
		if err != nil || !existed {
			t.Fatalf("second Subscribe(%q) = %v, %v; want true, nil", filter, existed, err)
		}
	}
	if x.Len() != 2 {
		t.Fatalf("Len = %d, want 2", x.Len())
	}
	got := x.Match([]byte("a/b"), nil, nil)
	if len(got) != 2 {
		t.Fatalf("Match = %v, want 2 entries", got)
	}
	for _, s := range got {
		if s.Opts.QoS() != 2 || !s.Opts.NoLocal() || !s.Opts.RetainAsPublished() || s.Opts.RetainHandling() != 1 || s.ID != 9 {
			t.Errorf("entry %+v: options not replaced", s)
		}
	}
}

func TestSubscribeRejectsInvalidFilters(t *testing.T) {
	x := New()
	for _, f := range []string{"", "a/#/b", "a+", "$share/g", "$share//a", "a\x00"} {
		if _, err := x.Subscribe([]byte(f), sub(1, 0)); err == nil {
			t.Errorf("Subscribe(%q) succeeded", f)
		}
		if x.Unsubscribe([]byte(f), 1) {
			t.Errorf("Unsubscribe(%q) reported a subscription", f)
		}
	}
	if x.Len() != 0 {
		t.Fatalf("Len = %d after invalid subscribes", x.Len())
	}
}

func TestUnsubscribe(t *testing.T) {
	x := New()
	filters := []string{"a/b", "a/+", "a/#", "#", "+/b", "$share/g/a/b", "$share/g/a/+", "$share/h/#"}
	for _, f := range filters {
		for id := SubscriberID(1); id <= 3; id++ {
			if _, err := x.Subscribe([]byte(f), sub(id, 0)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if x.Len() != 3*len(filters) {
		t.Fatalf("Len = %d", x.Len())
	}
	if x.Unsubscribe([]byte("a/c"), 1) || x.Unsubscribe([]byte("a/b"), 9) || x.Unsubscribe([]byte("$share/x/a/b"), 1) {
		t.Fatal("Unsubscribe of a missing subscription reported true")
	}
	for _, f := range filters {
		if !x.Unsubscribe([]byte(f), 2) {
			t.Fatalf("Unsubscribe(%q, 2) = false", f)
		}
		if x.Unsubscribe([]byte(f), 2) {
			t.Fatalf("second Unsubscribe(%q, 2) = true", f)
		}
	}
	for i := 0; i < 10; i++ { // shared groups rotate: 2 never comes back
		for _, s := range x.Match([]byte("a/b"), nil, nil) {
			if s.Subscriber == 2 {
				t.Fatalf("unsubscribed subscriber matched: %+v", s)
			}
		}
	}
	for _, f := range filters {
		x.Unsubscribe([]byte(f), 1)
		x.Unsubscribe([]byte(f), 3)
	}
	if x.Len() != 0 {
		t.Fatalf("Len = %d, want 0", x.Len())
	}
	if got := x.Match([]byte("a/b"), nil, nil); len(got) != 0 {
		t.Fatalf("Match on emptied index = %v", got)
	}
	// The tries were pruned: every stripe is back to an empty root.
	for i := range x.wild {
		if !x.wild[i].root.isEmpty() || x.wild[i].n.Load() != 0 {
			t.Fatalf("stripe %d not pruned", i)
		}
	}
	if !x.top.root.isEmpty() {
		t.Fatal("wildcard-first stripe not pruned")
	}
}

func TestSharedSubscriptions(t *testing.T) {
	x := New()
	// §4.8.2 example: two groups on the same filter are independent, each gets every message once.
	for id := SubscriberID(1); id <= 3; id++ {
		x.Subscribe([]byte("$share/consumer1/sport/tennis/+"), sub(id, 1))
	}
	for id := SubscriberID(11); id <= 12; id++ {
		x.Subscribe([]byte("$share/consumer2/sport/tennis/+"), sub(id, 1))
	}
	x.Subscribe([]byte("sport/tennis/+"), sub(99, 0)) // an ordinary subscriber gets all of them
	counts := map[SubscriberID]int{}
	const n = 60
	for i := 0; i < n; i++ {
		got := x.Match([]byte("sport/tennis/player1"), nil, nil)
		if len(got) != 3 {
			t.Fatalf("Match = %v, want one per group plus the ordinary subscriber", got)
		}
		g1, g2 := 0, 0
		for _, s := range got {
			counts[s.Subscriber]++
			switch {
			case s.Subscriber == 99:
				if s.Shared {
					t.Fatal("ordinary subscription flagged Shared")
				}
			case s.Subscriber < 10:
				g1++
			default:
				g2++
			}
			if s.Subscriber != 99 && !s.Shared {
				t.Fatalf("group member %+v not flagged Shared", s)
			}
		}
		if g1 != 1 || g2 != 1 {
			t.Fatalf("Match = %v: want exactly one member of each group", got)
		}
	}
	// Round robin: each member of a group gets an equal share.
	for id, want := range map[SubscriberID]int{1: n / 3, 2: n / 3, 3: n / 3, 11: n / 2, 12: n / 2, 99: n} {
		if counts[id] != want {
			t.Errorf("subscriber %d got %d messages, want %d (counts %v)", id, counts[id], want, counts)
		}
	}
}

func TestSharedSkip(t *testing.T) {
	for _, filter := range []string{"$share/g/a/b", "$share/g/a/+"} {
		x := New()
		for id := SubscriberID(1); id <= 4; id++ {
			x.Subscribe([]byte(filter), sub(id, 1))
		}
		offline := map[SubscriberID]bool{2: true, 3: true}
		skip := func(id SubscriberID) bool { return offline[id] }
		counts := map[SubscriberID]int{}
		for i := 0; i < 40; i++ {
			got := x.Match([]byte("a/b"), nil, skip)
			if len(got) != 1 {
				t.Fatalf("%s: Match = %v, want one member", filter, got)
			}
			counts[got[0].Subscriber]++
		}
		if counts[2] != 0 || counts[3] != 0 || counts[1] != 20 || counts[4] != 20 {
			t.Errorf("%s: counts %v, want 20 each for online members 1 and 4", filter, counts)
		}
		// All members offline: the group still yields one member so the message is queued, not lost.
		all := func(SubscriberID) bool { return true }
		if got := x.Match([]byte("a/b"), nil, all); len(got) != 1 || !got[0].Shared {
			t.Errorf("%s: Match with every member skipped = %v, want one fallback member", filter, got)
		}
	}
}

func TestSharedSubscribeExisted(t *testing.T) {
	x := New()
	if existed, _ := x.Subscribe([]byte("$share/g/a"), sub(1, 0)); existed {
		t.Fatal("new shared subscription reported existing")
	}
	if existed, _ := x.Subscribe([]byte("$share/g/a"), sub(1, 2)); !existed {
		t.Fatal("repeated shared subscription reported new")
	}
	if existed, _ := x.Subscribe([]byte("$share/h/a"), sub(1, 0)); existed {
		t.Fatal("subscription to another group reported existing")
	}
	if existed, _ := x.Subscribe([]byte("a"), sub(1, 0)); existed {
		t.Fatal("ordinary subscription reported existing because of shared ones")
	}
	got := x.Match([]byte("a"), nil, nil)
	if len(got) != 3 {
		t.Fatalf("Match = %v, want 3 entries (two groups and one ordinary)", got)
	}
}

func TestDollarTopicsNotMatchedByLeadingWildcard(t *testing.T) {
	x := New()
	for i, f := range []string{"#", "+/x", "+/#", "+", "$share/g/#", "$share/g/+/x"} {
		x.Subscribe([]byte(f), sub(SubscriberID(i+1), 0))
	}
	for _, topic := range []string{"$SYS/x", "$SYS", "$x/y/z"} {
		if got := x.Match([]byte(topic), nil, nil); len(got) != 0 {
			t.Errorf("Match(%q) = %v, want none [MQTT-4.7.2-1]", topic, got)
		}
	}
	x.Subscribe([]byte("$SYS/#"), sub(100, 0))
	x.Subscribe([]byte("$share/g/$SYS/+"), sub(101, 0))
	if got := ids(x.Match([]byte("$SYS/x"), nil, nil)); !slices.Equal(got, []SubscriberID{100, 101}) {
		t.Errorf("Match($SYS/x) = %v, want [100 101]", got)
	}
}

func TestSkipDoesNotDropOrdinarySubscribers(t *testing.T) {
	x := New()
	x.Subscribe([]byte("a/b"), sub(1, 0))
	x.Subscribe([]byte("a/+"), sub(2, 0))
	x.Subscribe([]byte("#"), sub(3, 0))
	x.Subscribe([]byte("$share/g/a/b"), sub(2, 0))
	x.Subscribe([]byte("$share/g/a/b"), sub(4, 0))
	// An offline persistent session still gets its ordinary subscriptions (to queue); only the shared group
	// passes over it.
	for i := 0; i < 4; i++ {
		got := ids(x.Match([]byte("a/b"), nil, func(id SubscriberID) bool { return id == 2 }))
		if !slices.Equal(got, []SubscriberID{1, 2, 3, 4}) {
			t.Fatalf("Match with skip = %v, want [1 2 3 4]", got)
		}
	}
}

func TestManySubscribersOnOneFilter(t *testing.T) {
	x := New()
	const n = 1000
	for _, f := range []string{"big/exact", "big/+"} {
		for id := SubscriberID(0); id < n; id++ {
			x.Subscribe([]byte(f), sub(id, 0))
		}
		for id := SubscriberID(0); id < n; id += 2 {
			if !x.Unsubscribe([]byte(f), id) {
				t.Fatalf("Unsubscribe(%q, %d) = false", f, id)
			}
		}
		for id := SubscriberID(1); id < n; id += 2 { // resubscribing an odd one replaces, not duplicates
			if existed, _ := x.Subscribe([]byte(f), sub(id, 1)); !existed {
				t.Fatalf("Subscribe(%q, %d) existed = false", f, id)
			}
		}
	}
	got := x.Match([]byte("big/exact"), nil, nil)
	if len(got) != n {
		t.Fatalf("Match = %d entries, want %d", len(got), n)
	}
	seen := map[SubscriberID]int{}
	for _, s := range got {
		seen[s.Subscriber]++
		if s.Subscriber%2 == 0 || s.Opts.QoS() != 1 {
			t.Fatalf("unexpected entry %+v", s)
		}
	}
	for id, c := range seen {
		if c != 2 {
			t.Fatalf("subscriber %d matched %d times, want 2 (one per filter)", id, c)
		}
	}
}

func TestOverlappingDeliveries(t *testing.T) {
	x := New()
	x.Subscribe([]byte("a/b"), Subscription{Subscriber: 1, Opts: NewOptions(0, false, false, 0), ID: 10})
	x.Subscribe([]byte("a/+"), Subscription{Subscriber: 1, Opts: NewOptions(2, false, false, 0), ID: 11})
	x.Subscribe([]byte("#"), Subscription{Subscriber: 1, Opts: NewOptions(1, false, false, 0)})
	x.Subscribe([]byte("$share/g/a/b"), Subscription{Subscriber: 1, Opts: NewOptions(1, false, false, 0), ID: 12})
	x.Subscribe([]byte("a/#"), Subscription{Subscriber: 2, Opts: NewOptions(1, false, false, 0), ID: 20})
	got := x.Match([]byte("a/b"), nil, nil)
	SortBySubscriber(got)
	type delivery struct {
		subscriber SubscriberID
		qos        byte
		ids        string
		shared     bool
	}
	var deliveries []delivery
	for rest := got; len(rest) > 0; {
		var one []Subscription
		var qos byte
		one, rest, qos = NextDelivery(rest)
		d := delivery{subscriber: one[0].Subscriber, qos: qos, shared: one[0].Shared}
		var idl []int
		for _, s := range one {
			if s.ID != 0 {
				idl = append(idl, int(s.ID))
			}
		}
		slices.Sort(idl)
		d.ids = fmt.Sprint(idl)
		deliveries = append(deliveries, d)
	}
	want := []delivery{
		{1, 2, "[10 11]", false}, // [MQTT-3.3.4-2, -3]: one message, max QoS, every identifier
		{1, 1, "[12]", true},     // a shared subscription is delivered on its own
		{2, 1, "[20]", false},
	}
	if !slices.Equal(deliveries, want) {
		t.Fatalf("deliveries = %+v, want %+v", deliveries, want)
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	x := New()
	for i := 0; i < 1000; i++ {
		x.Subscribe(fmt.Appendf(nil, "dev/%d/cmd", i), sub(SubscriberID(i), 1))
		x.Subscribe(fmt.Appendf(nil, "site/%d/+/temp", i), sub(SubscriberID(i), 1))
		x.Subscribe(fmt.Appendf(nil, "$share/g%d/alerts/#", i%3), sub(SubscriberID(i), 1))
	}
	x.Subscribe([]byte("#"), sub(5000, 0))
	dst := make([]Subscription, 0, 64)
	topics := [][]byte{[]byte("dev/5/cmd"), []byte("site/7/room/temp"), []byte("alerts/fire/x"), []byte("$SYS/y")}
	skip := func(id SubscriberID) bool { return id == 3 }
	allocs := testing.AllocsPerRun(200, func() {
		for _, tp := range topics {
			dst = x.Match(tp, dst[:0], skip)
		}
	})
	if allocs != 0 {
		t.Fatalf("Match allocates %v times per run, want 0", allocs)
	}
}

func TestOptions(t *testing.T) {
	for qos := byte(0); qos < 3; qos++ {
		for rh := byte(0); rh < 3; rh++ {
			for _, nl := range []bool{false, true} {
				for _, rap := range []bool{false, true} {
					o := NewOptions(qos, nl, rap, rh)
					if o.QoS() != qos || o.NoLocal() != nl || o.RetainAsPublished() != rap || o.RetainHandling() != rh {
						t.Fatalf("NewOptions(%d,%v,%v,%d) = %08b round-trips wrong", qos, nl, rap, rh, o)
					}
				}
			}
		}
	}
	// The layout is the MQTT 5 SUBSCRIBE options byte: QoS 1, No Local, RAP, Retain Handling 2 = 0b101101.
	if o := NewOptions(1, true, true, 2); byte(o) != 0x2D {
		t.Fatalf("options byte = %#x, want 0x2d", byte(o))
	}
}
