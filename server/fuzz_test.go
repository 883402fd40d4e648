package server

import (
	"testing"

	"github.com/panjf2000/gnet/v2"

	"loopmq/codec"
	"loopmq/topic"
)

type topicSubscription = topic.Subscription

// FuzzClientInput feeds arbitrary bytes to a new connection's read path, after a valid CONNECT of each protocol
// version or as the very first bytes, on an in-memory broker with a subscriber on another loop. The broker must
// never panic, and must answer or close.
func FuzzClientInput(f *testing.F) {
	f.Add(byte(0), []byte{0x30, 5, 0, 1, 't', 'h', 'i'})
	f.Add(byte(1), []byte{0x82, 6, 0, 1, 0, 1, '#', 1, 0x34, 6, 0, 1, 't', 0, 9, 'x', 0x62, 2, 0, 9})
	f.Add(byte(2), []byte{0x82, 7, 0, 1, 0, 0, 1, '#', 2, 0x30, 8, 0, 1, 't', 3, 0x23, 0, 1, 'x', 0xe0, 0})
	f.Add(byte(2), []byte{0x30, 7, 0, 0, 3, 0x23, 0, 1, 'x'})
	f.Add(byte(3), connect5("x"))
	f.Add(byte(1), []byte{0xa2, 5, 0, 2, 0, 1, 'a', 0xc0, 0, 0xe0, 0})
	f.Fuzz(func(t *testing.T, mode byte, data []byte) {
		bb := newBenchBroker(t, 2)
		watcher, _ := bb.client(1, "watcher", codec.V5)
		bb.s.index.Subscribe([]byte("#"), topicSub(watcher))
		fc := &fakeConn{el: bb.fls[0]}
		l := bb.loops[0]
		cl := &client{l: l, c: fc}
		cl.t.owner = cl
		fc.SetContext(cl)
		switch mode % 4 {
		case 0:
			fc.in = append(fc.in, connect311("fz", true)...)
		case 1:
			fc.in = append(fc.in, connect311("fz", false)...)
		case 2:
			fc.in = append(fc.in, connect5("fz")...)
		}
		fc.in = append(fc.in, data...)
		for i := 0; i < 4 && len(fc.in) > 0; i++ {
			if cl.onTraffic() == gnet.Close {
				cl.onClose(nil)
				break
			}
			bb.pass()
		}
		bb.pass()
		if cl.state != stClosed {
			cl.onClose(nil)
		}
		bb.pass()
	})
}

func topicSub(cl *client) topicSubscription {
	return topicSubscription{Subscriber: cl.s.subID, Opts: 2}
}
