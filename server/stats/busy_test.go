package stats

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestBusyClockCountsNestedCallbacksOnce holds the nesting rule: a callback inside another (gnet's Close running
// OnClose inside a task) adds no time of its own, and the time of the outer one is counted.
func TestBusyClockCountsNestedCallbacksOnce(t *testing.T) {
	var b BusyClock
	var total atomic.Uint64
	const d = 20 * time.Millisecond
	b.Enter()
	b.Enter()
	time.Sleep(d)
	b.Leave(false, &total)
	if got := total.Load(); got != 0 {
		t.Fatalf("inner leave added %v, want nothing until the outer callback ends", time.Duration(got))
	}
	b.Leave(false, &total)
	got := time.Duration(total.Load())
	if got < d || got > d+time.Second {
		t.Fatalf("busy %v after a %v callback", got, d)
	}
	if b.depth != 0 {
		t.Fatalf("depth %d after balanced calls", b.depth)
	}
	b.Enter()
	b.Leave(false, &total)
	if again := time.Duration(total.Load()); again < got || again > got+time.Second {
		t.Fatalf("busy went from %v to %v for an empty callback", got, again)
	}
}

// TestBusyClockSpansToTheArmedFlush holds the pass rule: a callback that armed the flush leaves the interval open,
// the callbacks until the flush add no clock reads of their own, and the flush closes it, counting the whole span.
func TestBusyClockSpansToTheArmedFlush(t *testing.T) {
	var b BusyClock
	var total atomic.Uint64
	const d = 10 * time.Millisecond
	b.Enter() // OnTraffic that queues a reply and arms the flush
	b.Leave(true, &total)
	if !b.open || total.Load() != 0 {
		t.Fatalf("open %v, busy %v: the interval must stay open until the flush", b.open, total.Load())
	}
	time.Sleep(d) // gnet reading the next connection of the batch
	b.Enter()     // OnTraffic of that connection
	b.Leave(true, &total)
	b.Enter() // the flush task, which disarms the flush
	b.Leave(false, &total)
	if b.open {
		t.Fatal("the flush left the interval open")
	}
	if got := time.Duration(total.Load()); got < d || got > d+time.Second {
		t.Fatalf("busy %v for a pass that took at least %v", got, d)
	}
}
