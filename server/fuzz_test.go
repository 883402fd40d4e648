package server

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"loopmq/codec"
	"loopmq/codec/codectest"
	"loopmq/topic"
)

type topicSubscription = topic.Subscription

// fuzzDeadline bounds every wait of the fuzz targets: an answer, a close, a probe. It is generous because the
// machine is shared; a broker that hangs misses it by far more.
const fuzzDeadline = 10 * time.Second

// fuzzMaxPacket is the MaxPacketSize of the fuzz brokers: small enough that the fuzzer reaches it.
const fuzzMaxPacket = 4096

// fuzzModes are the prefixes FuzzClientInput puts before its input: a CONNECT of each protocol version, or none.
const (
	modeV311Clean = iota
	modeV311Persistent
	modeV5
	modeRaw
	fuzzModeCount
)

// fuzzModeFor is the mode a codectest fixture is sent in: a CONNECT fixture as the first bytes, any other packet
// after a CONNECT of its version.
func fuzzModeFor(fx codectest.Fixture) byte {
	switch {
	case len(fx.Raw) > 0 && fx.Raw[0]>>4 == byte(codec.TypeConnect):
		return modeRaw
	case fx.Version == codec.V5:
		return modeV5
	}
	return modeV311Clean
}

// FuzzClientInput sends arbitrary bytes on a real TCP connection to a broker started once per fuzz process, after
// a valid CONNECT of each protocol version or as the very first bytes. The broker must answer or close within
// fuzzDeadline, every packet it writes must be well formed, and a fresh probe client must still get its messages
// through afterwards.
//
// "Answer or close" is made exact by what the input is. When the input is a run of whole packets, a PINGREQ is
// appended: the broker must answer every PINGREQ of the run or close the connection. When the input has a framing
// error (reserved type or flags, a remaining length over 4 bytes, a packet over MaxPacketSize), the broker must
// close. When the input ends inside a packet, the client half-closes and the broker must close.
func FuzzClientInput(f *testing.F) {
	f.Add(byte(modeV311Clean), []byte{0x30, 5, 0, 1, 't', 'h', 'i'})
	f.Add(byte(modeV311Persistent), []byte{0x82, 6, 0, 1, 0, 1, '#', 1, 0x34, 6, 0, 1, 't', 0, 9, 'x', 0x62, 2, 0, 9})
	f.Add(byte(modeV5), []byte{0x82, 7, 0, 1, 0, 0, 1, '#', 2, 0x30, 8, 0, 1, 't', 3, 0x23, 0, 1, 'x', 0xe0, 0})
	f.Add(byte(modeV5), []byte{0x30, 7, 0, 0, 3, 0x23, 0, 1, 'x'})
	f.Add(byte(modeRaw), connect5("x"))
	f.Add(byte(modeV311Persistent), []byte{0xa2, 5, 0, 2, 0, 1, 'a', 0xc0, 0, 0xe0, 0})
	f.Add(byte(modeV311Clean), []byte{0x30, 0xff, 0xff, 0xff, 0x7f})
	f.Add(byte(modeV311Clean), []byte{0x30, 0x80, 0x80, 0x80, 0x80, 0x01})
	f.Add(byte(modeV5), []byte{0x30, 0x20, 0, 1})
	// Every byte-exact packet of codec/codectest, valid and invalid, client's and server's, in its own version.
	for _, fx := range codectest.All() {
		f.Add(fuzzModeFor(fx), fx.Raw)
	}
	h := newFuzzHarness(f, nil)
	f.Fuzz(func(t *testing.T, mode byte, data []byte) {
		var in []byte
		v := codec.Version(0)
		switch mode % fuzzModeCount {
		case modeV311Clean:
			in, v = connect311("fz", true), codec.V311
		case modeV311Persistent:
			in, v = connect311("fz", false), codec.V311
		case modeV5:
			in, v = connect5("fz"), codec.V5
		}
		in = append(in, data...)
		h.answerOrClose(t, in, v)
		h.probe(t)
	})
}

// fuzzHarness is a broker started once per fuzz process (the fuzz function's body runs once per worker) and the
// checks the fuzz targets share.
type fuzzHarness struct {
	s    *Server
	seq  atomic.Uint64
	opts Options
}

func newFuzzHarness(f *testing.F, mutate func(*Options)) *fuzzHarness {
	s := startBroker(f, func(o *Options) {
		o.MaxPacketSize = fuzzMaxPacket
		o.MaxQueuedMessages = 100
		o.SlowConsumerTimeout = 0
		// The fuzzer must not see the broker's own chatter as an answer.
		o.SysInterval = 0
		if mutate != nil {
			mutate(o)
		}
	})
	return &fuzzHarness{s: s, opts: s.Options()}
}

// inputShape says how the broker must react to in: framing is nil and partial false for a run of whole packets,
// framing is the first framing error, or partial is true when in ends inside a packet.
func inputShape(in []byte, maxPacket int) (pings int, framing error, partial bool) {
	for len(in) > 0 {
		h, need, err := codec.Peek(in, maxPacket)
		if err != nil {
			return pings, err, false
		}
		if need > 0 {
			return pings, nil, true
		}
		if h.Type == codec.TypePingreq {
			pings++
		}
		in = in[h.Len():]
	}
	return pings, nil, false
}

// answerOrClose writes in on a new connection and fails unless the broker answers or closes within fuzzDeadline
// (see FuzzClientInput). When v is known, every packet the broker writes must decode for that version.
func (h *fuzzHarness) answerOrClose(t *testing.T, in []byte, v codec.Version) {
	t.Helper()
	pings, framing, partial := inputShape(in, h.opts.MaxPacketSize)
	if framing == nil && !partial {
		in = append(in[:len(in):len(in)], pingreq...)
		pings++
	}
	c, err := net.DialTimeout("tcp", h.s.TCPAddr(), fuzzDeadline)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(fuzzDeadline))
	// The broker may close before it has read everything: a failed write is then part of the answer.
	_, werr := c.Write(in)
	if partial && werr == nil {
		c.(*net.TCPConn).CloseWrite()
	}
	got, closed, err := readServerPackets(c, func(p []byte) bool {
		if p[0] == 0xd0 {
			pings--
		}
		// Only a run of whole packets may end with an answer; the others must end with a close.
		return framing == nil && !partial && pings == 0
	})
	switch {
	case err != nil:
		t.Fatalf("input % x: broker wrote a malformed stream: %v (after %d packets)", in, err, len(got))
	case !closed && (framing != nil || partial):
		what := "input ends inside a packet and was half-closed"
		if framing != nil {
			what = fmt.Sprintf("input has a framing error (%v)", framing)
		}
		t.Fatalf("input % x: %s, but the broker did not close within %v", in, what, fuzzDeadline)
	case !closed && pings > 0:
		t.Fatalf("input % x: %d PINGREQ unanswered and the connection still open after %v", in, pings, fuzzDeadline)
	}
	if v == 0 {
		return
	}
	for _, p := range got {
		if _, err := codectest.Parse(p, v); err != nil {
			t.Fatalf("input % x: broker wrote % x, which does not decode as v%d: %v", in, p, v, err)
		}
	}
}

// readServerPackets reads whole packets from c until done returns true, the connection closes or its deadline
// passes. closed reports an end of stream or a reset; err is a stream that does not frame as MQTT packets, or a
// connection closed inside a packet.
func readServerPackets(c net.Conn, done func(p []byte) bool) (got [][]byte, closed bool, err error) {
	var buf []byte
	var tmp [4096]byte
	for {
		for len(buf) > 0 {
			h, need, perr := codec.Peek(buf, 0)
			if perr != nil {
				return got, false, perr
			}
			if need > 0 {
				break
			}
			p := bytes.Clone(buf[:h.Len()])
			buf = buf[h.Len():]
			got = append(got, p)
			if done(p) {
				return got, false, nil
			}
		}
		n, rerr := c.Read(tmp[:])
		buf = append(buf, tmp[:n]...)
		if rerr != nil {
			var ne net.Error
			if errors.As(rerr, &ne) && ne.Timeout() {
				return got, false, nil
			}
			if len(buf) > 0 {
				// Packets already framed were consumed above; what is left is a cut packet.
				if _, need, _ := codec.Peek(buf, 0); need > 0 {
					return got, true, fmt.Errorf("closed inside a packet: % x", buf)
				}
				continue
			}
			return got, true, nil
		}
	}
}

// probe fails unless a fresh subscriber and a fresh publisher (on their own connections, so usually on different
// event loops) get a QoS 1 message through within fuzzDeadline.
func (h *fuzzHarness) probe(t *testing.T) {
	t.Helper()
	n := h.seq.Add(1)
	id := fmt.Sprintf("probe-%d-%x", n, time.Now().UnixNano())
	tp := "probe/" + id
	sub := h.dial(t, id+"-s")
	defer sub.Close()
	sub.send((&codec.Subscribe{PacketID: 1, Subs: []codec.Subscription{{Filter: []byte(tp), QoS: 1}}}).Append(nil, codec.V311))
	sub.expect([]byte{0x90, 3, 0, 1, 1})
	pub := h.dial(t, id+"-p")
	defer pub.Close()
	pub.send((&codec.Publish{QoS: 1, Topic: []byte(tp), PacketID: 7, Payload: []byte(id)}).Append(nil, codec.V311))
	pub.expect([]byte{0x40, 2, 0, 7})
	p, err := sub.readPacket(fuzzDeadline)
	if err != nil {
		t.Fatalf("probe: no delivery to a fresh subscriber: %v", err)
	}
	if !bytes.Contains(p, []byte(id)) {
		t.Fatalf("probe: delivered % x, want the probe's message", p)
	}
}

// dial connects a v3.1.1 clean-session client and reads its CONNACK.
func (h *fuzzHarness) dial(t *testing.T, id string) *rawConn {
	t.Helper()
	c := dialRawAddr(t, h.s.TCPAddr())
	c.send(connect311(id, true))
	p, err := c.readPacket(fuzzDeadline)
	if err != nil || !bytes.Equal(p, []byte{0x20, 2, 0, 0}) {
		t.Fatalf("probe %s: CONNACK % x, %v", id, p, err)
	}
	return c
}

func topicSub(cl *client) topicSubscription {
	return topicSubscription{Subscriber: cl.s.subID, Opts: 2}
}
