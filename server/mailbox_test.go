package server

import (
	"fmt"
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
	if got := bb.loops[1].stats.msgsOut.Load(); got != senders*each {
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
		bb.loops[0].deliver(sub.s, m, 0, false, nil)
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
