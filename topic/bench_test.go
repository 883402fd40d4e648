package topic

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// The 1M-subscription workload of issue 4: 80% exact per-device filters, 20% wildcard filters.
const (
	fixtureExact  = 800_000 // dev/{i}/cmd, subscriber i
	fixtureSites  = 150_000 // site/{i}/+/temp
	fixtureAlerts = 49_990  // alerts/{i}/#
	fixtureGlobal = 10      // alerts/#: monitoring clients that see every alert
	fixtureTotal  = fixtureExact + fixtureSites + fixtureAlerts + fixtureGlobal
)

// fixtureFilter returns the i-th filter of the workload and its subscriber.
func fixtureFilter(i int) (filter string, id SubscriberID) {
	switch {
	case i < fixtureExact:
		return "dev/" + strconv.Itoa(i) + "/cmd", SubscriberID(i)
	case i < fixtureExact+fixtureSites:
		return "site/" + strconv.Itoa(i-fixtureExact) + "/+/temp", SubscriberID(i)
	case i < fixtureExact+fixtureSites+fixtureAlerts:
		return "alerts/" + strconv.Itoa(i-fixtureExact-fixtureSites) + "/#", SubscriberID(i)
	default:
		return "alerts/#", SubscriberID(i)
	}
}

// fixtureTopics returns n publish topics: 80% to devices, 15% to site sensors, 5% alerts; every one matches.
func fixtureTopics(n int) [][]byte {
	rng := rand.New(rand.NewPCG(42, 42))
	out := make([][]byte, n)
	for i := range out {
		switch r := rng.IntN(100); {
		case r < 80:
			out[i] = fmt.Appendf(nil, "dev/%d/cmd", rng.IntN(fixtureExact))
		case r < 95:
			out[i] = fmt.Appendf(nil, "site/%d/room%d/temp", rng.IntN(fixtureSites), rng.IntN(20))
		default:
			out[i] = fmt.Appendf(nil, "alerts/%d/fire", rng.IntN(fixtureAlerts))
		}
	}
	return out
}

var (
	fixtureOnce   sync.Once
	fixtureIndex  *Index
	fixtureTopicN [][]byte
)

// loadFixture builds the 1M-subscription index once per test binary.
func loadFixture(b *testing.B) (*Index, [][]byte) {
	fixtureOnce.Do(func() {
		x := New()
		for i := 0; i < fixtureTotal; i++ {
			f, id := fixtureFilter(i)
			if _, err := x.Subscribe([]byte(f), Subscription{Subscriber: id, Opts: NewOptions(1, false, false, 0)}); err != nil {
				panic(err)
			}
		}
		fixtureIndex, fixtureTopicN = x, fixtureTopics(1<<14)
	})
	runtime.GC() // do not bill the fixture's garbage to the first benchmark
	if fixtureIndex.Len() != fixtureTotal {
		b.Fatalf("fixture holds %d subscriptions", fixtureIndex.Len())
	}
	return fixtureIndex, fixtureTopicN
}

func BenchmarkMatch1M(b *testing.B) {
	x, topics := loadFixture(b)
	dst := make([]Subscription, 0, 64)
	matched := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dst = x.Match(topics[i&(len(topics)-1)], dst[:0], nil)
		matched += len(dst)
	}
	if matched < b.N {
		b.Fatalf("%d matches for %d publishes: every topic has a subscriber", matched, b.N)
	}
}

func BenchmarkMatch1MParallel(b *testing.B) {
	x, topics := loadFixture(b)
	var seq atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		dst := make([]Subscription, 0, 64)
		i := int(seq.Add(7919))
		for pb.Next() {
			dst = x.Match(topics[i&(len(topics)-1)], dst[:0], nil)
			if len(dst) == 0 {
				panic("no match")
			}
			i++
		}
	})
}

// BenchmarkSubscribeDuringMatch measures subscribe+unsubscribe pairs (one op = both) on the 1M index while
// other goroutines match continuously, and reports the matches they completed meanwhile.
func BenchmarkSubscribeDuringMatch(b *testing.B) {
	x, topics := loadFixture(b)
	stop := make(chan struct{})
	var matches atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < runtime.GOMAXPROCS(0); g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			dst := make([]Subscription, 0, 64)
			for i := g * 1000; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				dst = x.Match(topics[i&(len(topics)-1)], dst[:0], nil)
				matches.Add(1)
			}
		}(g)
	}
	filters := make([][]byte, 4096)
	for i := range filters {
		if i%5 == 0 {
			filters[i] = fmt.Appendf(nil, "site/%d/+/humidity", i)
		} else {
			filters[i] = fmt.Appendf(nil, "dev/%d/cmd", fixtureTotal+i)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f := filters[i&(len(filters)-1)]
		id := SubscriberID(fixtureTotal + i)
		x.Subscribe(f, Subscription{Subscriber: id})
		x.Unsubscribe(f, id)
	}
	b.StopTimer()
	close(stop)
	wg.Wait()
	b.ReportMetric(float64(matches.Load())/b.Elapsed().Seconds(), "matches/s")
}

// heapAfterGC returns the live heap after a full collection.
func heapAfterGC() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkBytesPerExactSubscription reports the heap cost of one exact subscription (dev/{i}/cmd) in an index
// of 1M of them; the goal is under 150 B.
func BenchmarkBytesPerExactSubscription(b *testing.B) {
	const n = 1_000_000
	filters := make([][]byte, n)
	for i := range filters {
		filters[i] = []byte("dev/" + strconv.Itoa(i) + "/cmd")
	}
	for i := 0; i < b.N; i++ {
		before := heapAfterGC()
		x := New()
		for j, f := range filters {
			x.Subscribe(f, Subscription{Subscriber: SubscriberID(j), Opts: 1})
		}
		after := heapAfterGC()
		b.ReportMetric(float64(after-before)/n, "B/sub")
		runtime.KeepAlive(x)
		runtime.KeepAlive(filters)
	}
}

// BenchmarkBytesPerWildcardSubscription reports the heap cost of one site/{i}/+/temp subscription.
func BenchmarkBytesPerWildcardSubscription(b *testing.B) {
	const n = 200_000
	filters := make([][]byte, n)
	for i := range filters {
		filters[i] = []byte("site/" + strconv.Itoa(i) + "/+/temp")
	}
	for i := 0; i < b.N; i++ {
		before := heapAfterGC()
		x := New()
		for j, f := range filters {
			x.Subscribe(f, Subscription{Subscriber: SubscriberID(j), Opts: 1})
		}
		after := heapAfterGC()
		b.ReportMetric(float64(after-before)/n, "B/sub")
		runtime.KeepAlive(x)
		runtime.KeepAlive(filters)
	}
}

func TestBytesPerExactSubscription(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 200k subscriptions")
	}
	const n = 200_000
	filters := make([][]byte, n)
	for i := range filters {
		filters[i] = []byte("dev/" + strconv.Itoa(1_000_000+i) + "/cmd")
	}
	before := heapAfterGC()
	x := New()
	for j, f := range filters {
		x.Subscribe(f, Subscription{Subscriber: SubscriberID(j), Opts: 1})
	}
	per := float64(heapAfterGC()-before) / n
	runtime.KeepAlive(x)
	runtime.KeepAlive(filters) // the input must stay live, or its release would be counted against the index
	t.Logf("%.0f B per exact subscription", per)
	if per >= 150 {
		t.Fatalf("%.0f B per exact subscription, goal < 150", per)
	}
}

func BenchmarkValidateName(b *testing.B) {
	name := []byte("site/1234/living-room/temperature")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if ValidateName(name) != nil {
			b.Fatal("invalid")
		}
	}
}

func BenchmarkValidateFilter(b *testing.B) {
	filter := []byte("$share/group/site/+/living-room/#")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if ValidateFilter(filter) != nil {
			b.Fatal("invalid")
		}
	}
}

func BenchmarkMatches(b *testing.B) {
	filter, name := []byte("site/+/living-room/#"), []byte("site/1234/living-room/temperature")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if !Matches(filter, name) {
			b.Fatal("no match")
		}
	}
}

func BenchmarkMatchSmall(b *testing.B) {
	x := New()
	for i := 0; i < 100; i++ {
		x.Subscribe(fmt.Appendf(nil, "dev/%d/cmd", i), sub(SubscriberID(i), 1))
		x.Subscribe(fmt.Appendf(nil, "$share/g/site/%d/#", i), sub(SubscriberID(i), 1))
	}
	x.Subscribe([]byte("#"), sub(1000, 0))
	topics := [][]byte{[]byte("dev/7/cmd"), []byte("site/9/a/b"), []byte("other")}
	dst := make([]Subscription, 0, 16)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		dst = x.Match(topics[i%len(topics)], dst[:0], nil)
	}
}

func BenchmarkSortAndDeliver(b *testing.B) {
	base := make([]Subscription, 32)
	for i := range base {
		base[i] = Subscription{Subscriber: SubscriberID(i % 9), ID: uint32(i), Opts: Options(i % 3), Shared: i%7 == 0}
	}
	subs := make([]Subscription, len(base))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		copy(subs, base)
		SortBySubscriber(subs)
		for rest := subs; len(rest) > 0; {
			_, rest, _ = NextDelivery(rest)
		}
	}
}

func BenchmarkRetainedSet(b *testing.B) {
	r := NewRetained[int]()
	topics := make([][]byte, 1<<16)
	for i := range topics {
		topics[i] = fmt.Appendf(nil, "dev/%d/status", i)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		r.Set(topics[i&(len(topics)-1)], i)
	}
}

func BenchmarkRetainedWalk(b *testing.B) {
	r := NewRetained[int]()
	for i := 0; i < 100_000; i++ {
		r.Set(fmt.Appendf(nil, "dev/%d/status", i), i)
	}
	filter := []byte("dev/+/status")
	b.ReportAllocs()
	b.ResetTimer()
	visited := 0
	for i := 0; i < b.N; i++ {
		var c Cursor[int]
		for more := true; more; {
			c, more = r.Walk(filter, c, 1000, func([]byte, int) bool { visited++; return true })
		}
	}
	b.ReportMetric(float64(visited)/float64(b.N), "msgs/op")
}
