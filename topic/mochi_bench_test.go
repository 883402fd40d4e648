package topic

import (
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// The same workload through mochi-mqtt's TopicsIndex, the peer recorded in BENCHMARKS.md.

var (
	mochiOnce   sync.Once
	mochiIndex  *mochi.TopicsIndex
	mochiTopicN []string
)

func loadMochiFixture(b *testing.B) (*mochi.TopicsIndex, []string) {
	mochiOnce.Do(func() {
		x := mochi.NewTopicsIndex()
		for i := 0; i < fixtureTotal; i++ {
			f, id := fixtureFilter(i)
			x.Subscribe("c"+strconv.FormatUint(uint64(id), 10), packets.Subscription{Filter: f, Qos: 1})
		}
		for _, t := range fixtureTopics(1 << 14) {
			mochiTopicN = append(mochiTopicN, string(t))
		}
		mochiIndex = x
	})
	runtime.GC() // do not bill the fixture's garbage to the first benchmark
	return mochiIndex, mochiTopicN
}

func BenchmarkMochiMatch1M(b *testing.B) {
	x, topics := loadMochiFixture(b)
	matched := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		matched += len(x.Subscribers(topics[i&(len(topics)-1)]).Subscriptions)
	}
	if matched < b.N {
		b.Fatalf("%d matches for %d publishes", matched, b.N)
	}
}

func BenchmarkMochiMatch1MParallel(b *testing.B) {
	x, topics := loadMochiFixture(b)
	var seq atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(seq.Add(7919))
		for pb.Next() {
			if len(x.Subscribers(topics[i&(len(topics)-1)]).Subscriptions) == 0 {
				panic("no match")
			}
			i++
		}
	})
}

func BenchmarkMochiSubscribeDuringMatch(b *testing.B) {
	x, topics := loadMochiFixture(b)
	stop := make(chan struct{})
	var matches atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < runtime.GOMAXPROCS(0); g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := g * 1000; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				x.Subscribers(topics[i&(len(topics)-1)])
				matches.Add(1)
			}
		}(g)
	}
	filters := make([]string, 4096)
	for i := range filters {
		if i%5 == 0 {
			filters[i] = "site/" + strconv.Itoa(i) + "/+/humidity"
		} else {
			filters[i] = "dev/" + strconv.Itoa(fixtureTotal+i) + "/cmd"
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f := filters[i&(len(filters)-1)]
		id := "c" + strconv.Itoa(fixtureTotal+i)
		x.Subscribe(id, packets.Subscription{Filter: f})
		x.Unsubscribe(f, id)
	}
	b.StopTimer()
	close(stop)
	wg.Wait()
	b.ReportMetric(float64(matches.Load())/b.Elapsed().Seconds(), "matches/s")
}

func BenchmarkMochiBytesPerExactSubscription(b *testing.B) {
	const n = 1_000_000
	filters := make([]string, n)
	ids := make([]string, n)
	for i := range filters {
		filters[i] = "dev/" + strconv.Itoa(i) + "/cmd"
		ids[i] = "c" + strconv.Itoa(i)
	}
	for i := 0; i < b.N; i++ {
		before := heapAfterGC()
		x := mochi.NewTopicsIndex()
		for j, f := range filters {
			x.Subscribe(ids[j], packets.Subscription{Filter: f, Qos: 1})
		}
		after := heapAfterGC()
		b.ReportMetric(float64(after-before)/n, "B/sub")
		runtime.KeepAlive(x)
		runtime.KeepAlive(filters)
		runtime.KeepAlive(ids)
	}
}
