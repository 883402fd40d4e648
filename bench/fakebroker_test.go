package bench

import (
	"bufio"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"loopmq/codec"
)

// fakeBroker speaks just enough MQTT to route PUBLISH from publishers to subscribers, and misbehaves
// on purpose: it drops, duplicates or reorders forwarded messages, counted over all forwards (1-based).
type fakeBroker struct {
	ln           net.Listener
	dropEvery    int // drop every k-th forward
	dupEvery     int // send every k-th forward twice
	reorderEvery int // hold every k-th forward and send it after the next one
	refuseEvery  int // answer every k-th inbound QoS 1 PUBLISH with PUBACK 0x97 and drop it (MQTT 5)

	mu      sync.Mutex
	bad     []error // packets that did not parse: the client broke the protocol
	n       int     // forwards so far
	in      int     // inbound QoS 1 publishes so far
	held    *heldMsg
	subs    []*fakeConn
	filters []string
	wg      sync.WaitGroup
	conns   []net.Conn
}

type heldMsg struct {
	to  *fakeConn
	pkt []byte
}

type fakeConn struct {
	c   net.Conn
	v   codec.Version
	wmu sync.Mutex
	id  uint16
}

func (c *fakeConn) send(b []byte) {
	c.wmu.Lock()
	c.c.Write(b)
	c.wmu.Unlock()
}

// subscribers is how many subscriptions the broker holds.
func (f *fakeBroker) subscribers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

func startFakeBroker(t *testing.T, f *fakeBroker) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.ln = ln
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.mu.Lock()
			f.conns = append(f.conns, c)
			f.mu.Unlock()
			f.wg.Add(1)
			go func() { defer f.wg.Done(); f.serve(c) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		f.mu.Lock()
		for _, c := range f.conns {
			c.Close()
		}
		f.mu.Unlock()
		f.wg.Wait()
	})
	return "tcp://" + ln.Addr().String()
}

func (f *fakeBroker) serve(nc net.Conn) {
	defer nc.Close()
	br := bufio.NewReaderSize(nc, 1<<20) // whole packets of the largest test payloads
	c := &fakeConn{c: nc}
	var (
		conn codec.Connect
		pub  codec.Publish
		sub  codec.Subscribe
		ack  codec.Ack
	)
	for {
		b, err := br.Peek(2)
		if err != nil {
			return
		}
		h, need, err := codec.Peek(b, 0)
		for err == nil && need > 0 {
			b, err = br.Peek(len(b) + need)
			if err == nil {
				h, need, err = codec.Peek(b, 0)
			}
		}
		if err != nil {
			if err != io.EOF {
				f.fail(err)
			}
			return
		}
		body := b[h.Size:h.Len()]
		switch h.Type {
		case codec.TypeConnect:
			if err := conn.Decode(h, body, 0); err != nil {
				f.fail(err)
				return
			}
			c.v = conn.Version
			c.send((&codec.Connack{}).Append(nil, c.v))
		case codec.TypeSubscribe:
			if err := sub.Decode(h, body, c.v); err != nil {
				f.fail(err)
				return
			}
			f.mu.Lock()
			f.subs = append(f.subs, c)
			f.filters = append(f.filters, string(sub.Subs[0].Filter))
			f.mu.Unlock()
			c.send((&codec.Suback{PacketID: sub.PacketID, Reasons: []codec.ReasonCode{codec.ReasonCode(sub.Subs[0].QoS)}}).Append(nil, c.v))
		case codec.TypePublish:
			if err := pub.Decode(h, body, c.v); err != nil {
				f.fail(err)
				return
			}
			if pub.QoS == 1 && f.refuse() {
				c.send(codec.AppendAck(nil, codec.TypePuback, pub.PacketID, codec.QuotaExceeded, c.v))
				break
			}
			f.forward(&pub)
			switch pub.QoS {
			case 1:
				c.send(codec.AppendAck(nil, codec.TypePuback, pub.PacketID, 0, c.v))
			case 2:
				c.send(codec.AppendAck(nil, codec.TypePubrec, pub.PacketID, 0, c.v))
			}
		case codec.TypePubrel:
			if err := ack.Decode(h, body, c.v); err != nil {
				f.fail(err)
				return
			}
			c.send(codec.AppendAck(nil, codec.TypePubcomp, ack.PacketID, 0, c.v))
		case codec.TypePubrec:
			if err := ack.Decode(h, body, c.v); err != nil {
				f.fail(err)
				return
			}
			c.send(codec.AppendAck(nil, codec.TypePubrel, ack.PacketID, 0, c.v))
		case codec.TypePingreq:
			c.send(codec.AppendPingresp(nil))
		case codec.TypeDisconnect:
			return
		}
		br.Discard(h.Len())
	}
}

// refuse counts an inbound QoS 1 publish and reports whether to refuse it.
func (f *fakeBroker) refuse() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.in++
	return f.refuseEvery > 0 && f.in%f.refuseEvery == 0
}

func (f *fakeBroker) fail(err error) {
	f.mu.Lock()
	f.bad = append(f.bad, err)
	f.mu.Unlock()
}

func (f *fakeBroker) errors() []error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]error(nil), f.bad...)
}

// forward sends a PUBLISH to every matching subscriber, applying the misbehaviour knobs.
func (f *fakeBroker) forward(p *codec.Publish) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, s := range f.subs {
		if !fakeMatch(f.filters[i], string(p.Topic)) {
			continue
		}
		f.n++
		out := *p
		out.Dup = false
		if out.QoS > 0 {
			s.id = s.id%65535 + 1
			out.PacketID = s.id
		}
		pkt := out.Append(nil, s.v)
		switch {
		case f.dropEvery > 0 && f.n%f.dropEvery == 0:
			continue
		case f.reorderEvery > 0 && f.n%f.reorderEvery == 0:
			f.held = &heldMsg{to: s, pkt: pkt}
			continue
		}
		s.send(pkt)
		if f.dupEvery > 0 && f.n%f.dupEvery == 0 {
			s.send(pkt)
		}
		if f.held != nil {
			f.held.to.send(f.held.pkt)
			f.held = nil
		}
	}
}

// fakeMatch matches a topic against a filter with + and # (no $ rules: the test topics have none).
func fakeMatch(filter, topic string) bool {
	fl, tl := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i, f := range fl {
		if f == "#" {
			return true
		}
		if i >= len(tl) || (f != "+" && f != tl[i]) {
			return false
		}
	}
	return len(fl) == len(tl)
}
