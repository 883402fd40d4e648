//go:build !race

// The allocation budgets: not built under -race, whose instrumentation (and sync.Pool dropping items) makes
// allocation counts meaningless. `make test` runs them in a pass without -race (see the Makefile's budgets).

package server

import (
	"fmt"
	"testing"

	"loopmq/codec"
	"loopmq/topic"
)

// TestFanoutDoesNotAllocate holds the zero-allocation claim for QoS 0 delivery in steady state.
func TestFanoutDoesNotAllocate(t *testing.T) {
	bb := newBenchBroker(t, 2)
	for i := 0; i < 10; i++ {
		cl, _ := bb.client(i%2, fmt.Sprintf("s%d", i), codec.V311)
		bb.s.index.Subscribe([]byte("a/b"), topic.Subscription{Subscriber: cl.s.subID})
	}
	pub, _ := bb.client(0, "p", codec.V311)
	pk := codec.Publish{Topic: []byte("a/b"), Payload: []byte("hello")}
	pkt := pk.Append(nil, codec.V311)
	for i := 0; i < 100; i++ {
		pub.process(pkt)
		bb.pass()
	}
	if a := testing.AllocsPerRun(1000, func() { pub.process(pkt); bb.pass() }); a != 0 {
		t.Fatalf("%.1f allocations per publish to 10 subscribers on 2 loops, want 0", a)
	}
}

// TestFanoutWithACLDoesNotAllocate: with a 1,000-line acl_file in force, a permitted publish (CanPublish) and
// its deliveries (each subscriber's CanRead) allocate nothing; a denied publish neither.
func TestFanoutWithACLDoesNotAllocate(t *testing.T) {
	bb := newACLBenchBroker(t, 2)
	subs := make([]*fakeConn, 10)
	for i := range subs {
		var cl *client
		cl, subs[i] = bb.aclClient(i%2, fmt.Sprintf("s%d", i), codec.V311)
		bb.s.index.Subscribe([]byte("bench/+/temp"), topic.Subscription{Subscriber: cl.s.subID})
	}
	pub, _ := bb.aclClient(0, "p", codec.V311)
	pk := codec.Publish{Topic: []byte("bench/1/temp"), Payload: []byte("hello")}
	ok := pk.Append(nil, codec.V311)
	pk.Topic = []byte("bench/1/denied")
	denied := pk.Append(nil, codec.V311)
	for i := 0; i < 100; i++ {
		pub.process(ok)
		pub.process(denied)
		bb.pass()
	}
	before := subs[9].written
	if a := testing.AllocsPerRun(1000, func() { pub.process(ok); bb.pass() }); a != 0 {
		t.Fatalf("%.1f allocations per permitted publish to 10 subscribers with a 1,000-line ACL, want 0", a)
	}
	if subs[9].written == before {
		t.Fatal("the permitted publishes were not delivered")
	}
	if a := testing.AllocsPerRun(1000, func() { pub.process(denied); bb.pass() }); a != 0 {
		t.Fatalf("%.1f allocations per denied publish, want 0", a)
	}
}

// TestWSPathDoesNotAllocate holds the zero-allocation claim for WebSocket in and out in steady state, and checks
// each delivery is one binary frame of the right size.
func TestWSPathDoesNotAllocate(t *testing.T) {
	run, subs := wsPublishPath(t, 10)
	for i := 0; i < 100; i++ {
		run()
	}
	if a := testing.AllocsPerRun(1000, run); a != 0 {
		t.Fatalf("%.1f allocations per WebSocket publish to 10 WebSocket subscribers, want 0", a)
	}
	const publishLen = 2 + 2 + 3 + 64
	for i, s := range subs {
		if s.frames != 1101 || s.written != 1101*(2+publishLen) {
			t.Fatalf("subscriber %d: %d frames, %d bytes; want 1101 frames of 2+%d bytes (AllocsPerRun adds a warm-up run)", i, s.frames, s.written, publishLen)
		}
	}
}
