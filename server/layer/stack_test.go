package layer_test

import (
	"bytes"
	"errors"
	"net"
	"testing"

	"loopmq/server/layer"
)

// caesar is a lower layer like TLS in miniature: every byte shifted by one, in place inbound, into scratch outbound.
// It hands up everything it gets.
type caesar struct{}

func (caesar) Inbound(raw []byte, _ net.Addr, _ *layer.Vec) layer.Result {
	for i := range raw {
		raw[i]--
	}
	return layer.Result{Consumed: len(raw), Data: raw}
}

func (caesar) Outbound(out *layer.Vec, data [][]byte) bool {
	from := len(out.Scratch)
	for _, b := range data {
		for _, c := range b {
			out.Scratch = append(out.Scratch, c+1)
		}
	}
	out.Add(from)
	return true
}

func (caesar) Closing(_ bool, reply *layer.Vec) {
	from := len(reply.Scratch)
	reply.Scratch = append(reply.Scratch, "C"...)
	reply.Add(from)
}

func (caesar) ClientAddr() net.Addr { return nil }

// lines is an upper layer: "H\n" is a handshake answered with "ok\n", then every line is handed up one per call
// without its newline; "P\n" is a ping answered with "pong\n", "Q\n" ends the input and "!" is a violation. It
// stops after each line, so the stack must keep the rest.
type lines struct {
	open    bool
	closing bool
	addr    net.Addr
}

func (l *lines) Inbound(raw []byte, peer net.Addr, reply *layer.Vec) layer.Result {
	i := bytes.IndexByte(raw, '\n')
	if bytes.HasPrefix(raw, []byte("!")) {
		return layer.Result{Consumed: len(raw), Close: true, Err: errors.New("violation")}
	}
	if i < 0 {
		return layer.Result{}
	}
	line := raw[:i]
	reply1 := func(s string) {
		from := len(reply.Scratch)
		reply.Scratch = append(reply.Scratch, s...)
		reply.Add(from)
	}
	switch {
	case !l.open:
		l.open = true
		l.addr = peer
		reply1("ok\n")
		return layer.Result{Consumed: i + 1}
	case string(line) == "P":
		reply1("pong\n")
		return layer.Result{Consumed: i + 1}
	case string(line) == "Q":
		l.closing = true
		return layer.Result{Consumed: len(raw), Close: true}
	}
	return layer.Result{Consumed: i + 1, Data: line}
}

func (l *lines) Outbound(out *layer.Vec, data [][]byte) bool {
	if !l.open {
		return false
	}
	out.Bufs = append(out.Bufs, data...)
	out.Bufs = append(out.Bufs, newline)
	return true
}

var newline = []byte("\n")

func (l *lines) Closing(_ bool, reply *layer.Vec) {
	from := len(reply.Scratch)
	reply.Scratch = append(reply.Scratch, "bye\n"...)
	reply.Add(from)
}

func (l *lines) ClientAddr() net.Addr { return nil }

// drive runs raw through lay the way the session core does: call Inbound until a call makes no progress, handing
// data up and flattening replies, in order.
func drive(t *testing.T, lay layer.Layer, raw []byte, reply *layer.Vec) (data []string, replies string, consumed int, closed bool, err error) {
	t.Helper()
	for i := 0; i < 100; i++ {
		k := len(reply.Bufs)
		r := lay.Inbound(raw[consumed:], &net.TCPAddr{Port: 1}, reply)
		consumed += r.Consumed
		if len(r.Data) > 0 {
			data = append(data, string(r.Data))
		}
		replied := len(reply.Bufs) > k
		for _, b := range reply.Bufs {
			replies += string(b)
		}
		reply.Reset()
		if r.Err != nil || r.Close {
			return data, replies, consumed, r.Close, r.Err
		}
		if r.Consumed == 0 && len(r.Data) == 0 && !replied {
			return data, replies, consumed, false, nil
		}
	}
	t.Fatal("Inbound keeps making progress")
	return
}

func shift(s string) []byte {
	b := []byte(s)
	for i := range b {
		b[i]++
	}
	return b
}

func unshift(s string) string {
	b := []byte(s)
	for i := range b {
		b[i]--
	}
	return string(b)
}

func TestStackInbound(t *testing.T) {
	up := &lines{}
	st := layer.Stack(caesar{}, up)
	var reply layer.Vec
	// The handshake, a ping and two lines arrive in one read; the last line is cut short.
	data, replies, consumed, closed, err := drive(t, st, shift("H\none\nP\ntwo\nthr"), &reply)
	if err != nil || closed {
		t.Fatalf("err %v closed %v", err, closed)
	}
	if want := []string{"one", "two"}; len(data) != 2 || data[0] != want[0] || data[1] != want[1] {
		t.Fatalf("data %q, want %q", data, want)
	}
	// The upper layer's replies went down through the lower one.
	if unshift(replies) != "ok\npong\n" {
		t.Fatalf("replies %q (unshifted %q)", replies, unshift(replies))
	}
	if consumed != len("H\none\nP\ntwo\nthr") {
		t.Fatalf("consumed %d: the lower layer took every byte, the stack keeps the partial line", consumed)
	}
	if up.addr == nil {
		t.Fatal("the upper layer got no peer address")
	}
	// The rest of the line arrives; then the end of input.
	data, _, _, _, _ = drive(t, st, shift("ee\n"), &reply)
	if len(data) != 1 || data[0] != "three" {
		t.Fatalf("data %q, want [three]: the pending bytes come first", data)
	}
	data, _, _, closed, _ = drive(t, st, shift("four\nQ\nignored\n"), &reply)
	if len(data) != 1 || data[0] != "four" || !closed {
		t.Fatalf("data %q closed %v", data, closed)
	}
	// Closing: the upper goodbye through the lower layer, then the lower one's own.
	st.Closing(false, &reply)
	var got []byte
	for _, b := range reply.Bufs {
		got = append(got, b...)
	}
	if string(got) != string(shift("bye\n"))+"C" {
		t.Fatalf("goodbye %q", got)
	}
}

func TestStackInboundError(t *testing.T) {
	st := layer.Stack(caesar{}, &lines{})
	var reply layer.Vec
	data, _, _, closed, err := drive(t, st, shift("H\nok\n!"), &reply)
	if err == nil || !closed || len(data) != 1 || data[0] != "ok" {
		t.Fatalf("data %q closed %v err %v: the data before the violation is handed up, then the error", data, closed, err)
	}
}

func TestStackOutbound(t *testing.T) {
	up := &lines{}
	st := layer.Stack(caesar{}, up)
	out := layer.Vec{Bufs: [][]byte{[]byte("before")}}
	if st.Outbound(&out, [][]byte{[]byte("x")}) {
		t.Fatal("the upper layer is not open: nothing may be carried")
	}
	if len(out.Bufs) != 1 {
		t.Fatalf("a refused Outbound changed out: %q", out.Bufs)
	}
	up.open = true
	if !st.Outbound(&out, [][]byte{[]byte("ab"), []byte("c")}) {
		t.Fatal("refused")
	}
	var got []byte
	for _, b := range out.Bufs {
		got = append(got, b...)
	}
	if string(got) != "before"+string(shift("abc\n")) {
		t.Fatalf("wrapped %q", got)
	}
	if out.Len() != len(got) {
		t.Fatalf("Len %d, want %d", out.Len(), len(got))
	}
	out.Reset()
	if len(out.Bufs) != 0 || len(out.Scratch) != 0 {
		t.Fatal("Reset left bytes")
	}
}

// TestStackOutboundAllocs holds the stacked write path to zero allocations once the vector has grown.
func TestStackOutboundAllocs(t *testing.T) {
	st := layer.Stack(caesar{}, &lines{open: true})
	out := layer.Vec{Bufs: make([][]byte, 0, 8), Scratch: make([]byte, 0, 256)}
	data := [][]byte{[]byte("payload")}
	if a := testing.AllocsPerRun(100, func() {
		st.Outbound(&out, data)
		out.Reset()
	}); a != 0 {
		t.Fatalf("%v allocations per stacked Outbound", a)
	}
}
