package server

import (
	"fmt"
	"loopmq/topic"
	"sync"
	"testing"

	"loopmq/codec"
)

// TestMailboxCrossLoopDelivery posts deliveries from many goroutines to one loop and checks that each arrives once,
// in order per sender, with its subscription identifiers, and that the loop is woken once per batch.
func TestMailboxCrossLoopDelivery(t *testing.T) {
	bb := newBenchBroker(t, 2)
	target := bb.loops[1]
	sub, conn := bb.client(1, "sub", codec.V5)
	bb.pass() // the CONNACK
	const senders, each = 4, 250
	var wg sync.WaitGroup
	for g := 0; g < senders; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				m := newMessage([]byte(fmt.Sprintf("t/%d", g)), []byte{byte(i)}, nil, 0, false, 0, 0)
				target.post(delivery{sess: sub.s, msg: m}, []uint32{uint32(g + 1), uint32(i + 1)})
			}
		}(g)
	}
	wg.Wait()
	if n := len(bb.fls[1].tasks); n != 1 {
		t.Fatalf("loop woken %d times for one batch, want 1", n)
	}
	bb.pass()
	// Decode what the subscriber got.
	if conn.written == 0 {
		t.Fatal("nothing delivered")
	}
	if got := bb.loops[1].stats.MsgsOut.Load(); got != senders*each {
		t.Fatalf("%d messages delivered, want %d", got, senders*each)
	}
}

// TestOutboxOneWritePerPass checks that many deliveries to one connection in one pass become one write.
func TestOutboxOneWritePerPass(t *testing.T) {
	bb := newBenchBroker(t, 1)
	sub, conn := bb.client(0, "sub", codec.V311)
	bb.pass()
	writes := 0
	conn.onWrite = func([]byte) { writes++ }
	for i := 0; i < 100; i++ {
		m := newMessage([]byte("a"), []byte("x"), nil, 0, false, 0, 0)
		bb.loops[0].deliver(sub.s, m, 0, false, nil, false)
		m.release()
	}
	if writes != 0 {
		t.Fatalf("%d writes before the end of the pass", writes)
	}
	bb.pass()
	if writes != 1 {
		t.Fatalf("%d writes for 100 deliveries in one pass, want 1", writes)
	}
	if sub.out != nil {
		t.Fatal("outbox buffer kept after the flush; idle connections must not hold one")
	}
}

// TestEncodeOncePatchesPacketIDs: subscribers sharing one cached encoding each get their own packet id, and a v5
// subscriber gets a v5 encoding.
func TestEncodeOncePatchesPacketIDs(t *testing.T) {
	bb := newBenchBroker(t, 1)
	var got [3][]byte
	subs := []codec.Version{codec.V311, codec.V311, codec.V5}
	for i, v := range subs {
		cl, fc := bb.client(0, fmt.Sprintf("s%d", i), v)
		bb.s.index.Subscribe([]byte("t"), topicSub(cl))
		if i == 0 {
			cl.s.nextID = 10
		}
		i := i
		bb.pass()
		fc.onWrite = func(p []byte) { got[i] = append([]byte(nil), p...) }
	}
	pub, _ := bb.client(0, "p", codec.V311)
	bb.pass()
	pub.process([]byte{0x32, 6, 0, 1, 't', 0, 5, 'x'})
	bb.pass()
	want := [3][]byte{
		{0x32, 6, 0, 1, 't', 0, 11, 'x'},
		{0x32, 6, 0, 1, 't', 0, 1, 'x'},
		{0x32, 7, 0, 1, 't', 0, 1, 0, 'x'},
	}
	for i := range want {
		if string(got[i]) != string(want[i]) {
			t.Fatalf("subscriber %d got % x, want % x", i, got[i], want[i])
		}
	}
}

// TestSubscriberTableRecyclesSafely: an ended session's id never resolves to the session that reuses its slot.
func TestSubscriberTableRecyclesSafely(t *testing.T) {
	var tb subscriberTable
	tb.init()
	a, b := &session{id: "a"}, &session{id: "b"}
	tb.add(a)
	old := a.subID
	tb.remove(old)
	tb.remove(old) // twice: no double free
	tb.add(b)
	if uint32(b.subID) != uint32(old) {
		t.Fatalf("slot not reused: %x then %x", old, b.subID)
	}
	if tb.get(old) != nil {
		t.Fatal("stale id resolved to the new session")
	}
	if tb.get(b.subID) != b {
		t.Fatal("new id does not resolve")
	}
	c := &session{id: "c"}
	tb.add(c)
	if c.subID == b.subID || tb.get(c.subID) != c {
		t.Fatal("second slot broken")
	}
}

func TestSeenSetDistinct(t *testing.T) {
	var s seenSet
	mk := func(ids ...uint64) []topic.Subscription {
		out := make([]topic.Subscription, len(ids))
		for i, id := range ids {
			out[i].Subscriber = topic.SubscriberID(id)
		}
		return out
	}
	many := make([]uint64, 100)
	for i := range many {
		many[i] = uint64(i+1) << 32 // same low bits, different generations: must still be told apart
	}
	if !s.distinct(mk(many...)) {
		t.Fatal("100 distinct subscribers reported as overlapping")
	}
	dup := append(append([]uint64(nil), many...), many[57])
	if s.distinct(mk(dup...)) {
		t.Fatal("a repeated subscriber was not found")
	}
	shared := mk(dup...)
	shared[len(shared)-1].Shared = true // a shared entry is a delivery of its own
	if !s.distinct(shared) {
		t.Fatal("a shared entry counted as overlap")
	}
	for i := 0; i < 3; i++ { // the set is reused without clearing
		if !s.distinct(mk(many...)) {
			t.Fatal("stale entries leaked into a later check")
		}
	}
}

// TestLargeFanoutMergesOverlap: with enough subscribers to take the no-sort path, a subscriber with two matching
// filters still gets the message once.
func TestLargeFanoutMergesOverlap(t *testing.T) {
	for _, overlap := range []bool{false, true} {
		bb := newBenchBroker(t, 1)
		var first *fakeConn
		for i := 0; i < 40; i++ {
			cl, fc := bb.client(0, fmt.Sprintf("s%d", i), codec.V311)
			bb.s.index.Subscribe([]byte("a/b"), topicSub(cl))
			if i == 0 {
				first = fc
				if overlap {
					bb.s.index.Subscribe([]byte("a/+"), topicSub(cl))
				}
			}
		}
		pub, _ := bb.client(0, "p", codec.V311)
		bb.pass()
		before := first.written
		pub.process([]byte{0x30, 6, 0, 3, 'a', '/', 'b', 'x'})
		bb.pass()
		if got := bb.loops[0].stats.MsgsOut.Load(); got != 40 {
			t.Fatalf("overlap=%v: %d deliveries, want 40", overlap, got)
		}
		if n := first.written - before; n != 8 {
			t.Fatalf("overlap=%v: first subscriber got %d bytes, want one 8-byte PUBLISH", overlap, n)
		}
	}
}
