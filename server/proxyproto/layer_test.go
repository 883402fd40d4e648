package proxyproto_test

import (
	"bytes"
	"errors"
	"net"
	"testing"

	"loopmq/server/layer"
	pp "loopmq/server/proxyproto"
)

// drive feeds stream to l in reads cut at the given offsets, as the broker's read path does: the bytes not
// consumed stay and the next read is appended to them. It returns what l handed up, and the error of its refusal.
func drive(l *pp.Layer, peer net.Addr, stream []byte, cuts ...int) (up []byte, err error) {
	var buf []byte
	var v layer.Vec
	prev := 0
	for _, c := range append(cuts, len(stream)) {
		buf = append(buf, stream[prev:c]...)
		prev = c
		r := l.Inbound(buf, peer, &v)
		if len(v.Bufs) > 0 {
			return up, errors.New("the PROXY layer replied")
		}
		up = append(up, r.Data...)
		if r.Err != nil || r.Close {
			return up, r.Err
		}
		// What follows the header is the tail of the bytes given, handed up as a view, not a copy.
		if len(r.Data) > 0 && &r.Data[len(r.Data)-1] != &buf[len(buf)-1] {
			return up, errors.New("data handed up is not a view into the bytes given")
		}
		buf = buf[r.Consumed:]
	}
	if len(buf) > 0 {
		return up, errors.New("bytes left unconsumed at the end: " + string(buf))
	}
	return up, nil
}

var (
	lb      = &net.TCPAddr{IP: net.IPv4(10, 0, 0, 5), Port: 40000} // a trusted load balancer
	outside = &net.TCPAddr{IP: net.IPv4(192, 0, 2, 9), Port: 40001}
	mqtt    = []byte("\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00")
)

func cfg(mode pp.Mode) *pp.LayerConfig {
	trusted, err := pp.ParseTrusted("10.0.0.0/8")
	if err != nil {
		panic(err)
	}
	return &pp.LayerConfig{Mode: mode, Trusted: trusted}
}

// TestLayerHeaders reads v1 and v2 headers of every family cut at every byte, and checks the client address, that
// the MQTT bytes behind the header are handed up whole and unchanged, and that LOCAL and UNKNOWN keep the peer.
func TestLayerHeaders(t *testing.T) {
	for _, c := range []struct {
		name   string
		header []byte
		want   string // ClientAddr, "" for none
	}{
		{"v1 TCP4", s("PROXY TCP4 203.0.113.7 10.0.0.1 51234 1883\r\n"), "203.0.113.7:51234"},
		{"v1 TCP6", s("PROXY TCP6 2001:db8::7 2001:db8::1 51234 1883\r\n"), "[2001:db8::7]:51234"},
		{"v1 UNKNOWN", s("PROXY UNKNOWN\r\n"), ""},
		{"v1 UNKNOWN with addresses", s("PROXY UNKNOWN 203.0.113.7 10.0.0.1 51234 1883\r\n"), ""},
		{"v2 TCP4", v2(0x21, 0x11, ip4("203.0.113.7", "10.0.0.1", 51234, 1883)), "203.0.113.7:51234"},
		{"v2 TCP6", v2(0x21, 0x21, ip6("2001:db8::7", "2001:db8::1", 51234, 1883)), "[2001:db8::7]:51234"},
		{"v2 TCP6 mapped", v2(0x21, 0x21, ip6("::ffff:203.0.113.7", "::ffff:10.0.0.1", 51234, 1883)), "203.0.113.7:51234"},
		{"v2 TCP4 with TLVs", withCRC(v2(0x21, 0x11, ip4("203.0.113.7", "10.0.0.1", 51234, 1883),
			tlv(0x01, s("mqtt")), ssl(0x01, 0, tlv(0x21, s("TLSv1.3"))))), "203.0.113.7:51234"},
		{"v2 UNSPEC", v2(0x21, 0x00), ""},
		{"v2 LOCAL", v2(0x20, 0x00), ""},
		{"v2 LOCAL with addresses", v2(0x20, 0x11, ip4("203.0.113.7", "10.0.0.1", 51234, 1883)), ""},
		{"v2 UNIX", v2(0x21, 0x31, unixAddrs("/run/client", "/run/lb")), ""},
	} {
		stream := cat(c.header, mqtt)
		for mode := pp.Optional; mode <= pp.Required; mode++ {
			for cut := 0; cut <= len(stream); cut++ {
				l := pp.NewLayer(cfg(mode))
				up, err := drive(l, lb, stream, cut)
				if err != nil || !bytes.Equal(up, mqtt) {
					t.Fatalf("%s, %v, cut at %d: handed up %q, err %v", c.name, mode, cut, up, err)
				}
				got := ""
				if a := l.ClientAddr(); a != nil {
					got = a.String()
				}
				if got != c.want || !l.Done() {
					t.Fatalf("%s, %v, cut at %d: client %q (done %v), want %q", c.name, mode, cut, got, l.Done(), c.want)
				}
			}
		}
		// Every byte in its own read.
		cuts := make([]int, 0, len(stream))
		for i := 1; i < len(stream); i++ {
			cuts = append(cuts, i)
		}
		l := pp.NewLayer(cfg(pp.Required))
		if up, err := drive(l, lb, stream, cuts...); err != nil || !bytes.Equal(up, mqtt) {
			t.Fatalf("%s byte by byte: handed up %q, err %v", c.name, up, err)
		}
	}
}

// TestLayerRefusals checks what closes a connection, with which reason, in each mode, and what is served.
func TestLayerRefusals(t *testing.T) {
	hdr := s("PROXY TCP4 203.0.113.7 10.0.0.1 51234 1883\r\n")
	long := append(s("PROXY TCP4 "), bytes.Repeat(s("1"), 120)...)
	big := v2len(0x21, 0x11, 5000, ip4("203.0.113.7", "10.0.0.1", 51234, 1883))
	for _, c := range []struct {
		name   string
		mode   pp.Mode
		peer   net.Addr
		stream []byte
		err    error // nil: served
		reason pp.Reason
	}{
		{"required, no header", pp.Required, lb, mqtt, pp.ErrMissing, pp.ReasonMissing},
		{"required, websocket without header", pp.Required, lb, s("GET /mqtt HTTP/1.1\r\n"), pp.ErrMissing, pp.ReasonMissing},
		{"optional, trusted peer without header", pp.Optional, lb, mqtt, nil, 0},
		{"optional, untrusted peer without header", pp.Optional, outside, mqtt, nil, 0},
		{"optional, untrusted peer with header", pp.Optional, outside, cat(hdr, mqtt), pp.ErrUntrusted, pp.ReasonUntrusted},
		{"required, untrusted peer with header", pp.Required, outside, cat(hdr, mqtt), pp.ErrUntrusted, pp.ReasonUntrusted},
		{"required, untrusted v2 header", pp.Required, outside, cat(v2(0x21, 0x00), mqtt), pp.ErrUntrusted, pp.ReasonUntrusted},
		{"no TCP peer", pp.Required, nil, cat(hdr, mqtt), pp.ErrUntrusted, pp.ReasonUntrusted},
		{"malformed v1", pp.Required, lb, s("PROXY TCP5 203.0.113.7 10.0.0.1 51234 1883\r\n"), pp.ErrV1Protocol, pp.ReasonMalformed},
		{"malformed v2 version", pp.Optional, lb, cat(s(sig), []byte{0x31, 0x11, 0, 12}), pp.ErrV2Version, pp.ReasonMalformed},
		{"v1 line too long", pp.Required, lb, long, pp.ErrV1TooLong, pp.ReasonTooLarge},
		{"v2 header too large", pp.Required, lb, big, pp.ErrV2TooLarge, pp.ReasonTooLarge},
	} {
		for cut := 0; cut <= len(c.stream); cut++ {
			l := pp.NewLayer(cfg(c.mode))
			_, err := drive(l, c.peer, c.stream, cut)
			if err != c.err {
				t.Fatalf("%s, cut at %d: err %v, want %v", c.name, cut, err, c.err)
			}
			if err == nil {
				if l.ClientAddr() != nil {
					t.Fatalf("%s: client address %v without a header", c.name, l.ClientAddr())
				}
				continue
			}
			if r, ok := pp.RefusalReason(err); !ok || r != c.reason {
				t.Fatalf("%s: reason %v %v, want %v", c.name, r, ok, c.reason)
			}
			// A refused layer carries nothing and hands nothing up.
			var v layer.Vec
			if l.Outbound(&v, [][]byte{s("x")}) || len(v.Bufs) > 0 {
				t.Fatalf("%s: refused layer still carries data", c.name)
			}
			if r := l.Inbound(mqtt, c.peer, &v); !r.Close || len(r.Data) > 0 {
				t.Fatalf("%s: refused layer handed up %q", c.name, r.Data)
			}
		}
	}
	if _, ok := pp.RefusalReason(errors.New("other")); ok {
		t.Fatal("an unrelated error has a refusal reason")
	}
}

// TestLayerTruncated: a header cut short consumes nothing and hands nothing up, however long it waits.
func TestLayerTruncated(t *testing.T) {
	for _, h := range [][]byte{s("PROXY TCP4 203.0.113.7 10.0.0.1 51234 18"), v2(0x21, 0x11, ip4("203.0.113.7", "10.0.0.1", 51234, 1883))[:20], s("\r\n\r\n\x00")} {
		l := pp.NewLayer(cfg(pp.Required))
		var v layer.Vec
		for i := 1; i <= len(h); i++ {
			if r := l.Inbound(h[:i], lb, &v); r.Consumed != 0 || len(r.Data) > 0 || r.Close || r.Err != nil || r.More {
				t.Fatalf("%q: %+v", h[:i], r)
			}
		}
		if l.Done() || l.ClientAddr() != nil {
			t.Fatalf("%q: done before the header is whole", h)
		}
	}
}

// TestLayerOutbound: data goes down as it is, referenced and not copied, and modes parse.
func TestLayerOutbound(t *testing.T) {
	l := pp.NewLayer(cfg(pp.Required))
	a, b := s("abc"), s("de")
	v := layer.Vec{Bufs: [][]byte{s("before")}}
	if !l.Outbound(&v, [][]byte{a, b}) || len(v.Bufs) != 3 || &v.Bufs[1][0] != &a[0] || &v.Bufs[2][0] != &b[0] {
		t.Fatalf("outbound %q", v.Bufs)
	}
	for in, want := range map[string]pp.Mode{"": pp.Off, "off": pp.Off, "optional": pp.Optional, "required": pp.Required} {
		if m, err := pp.ParseMode(in); err != nil || m != want || (in != "" && m.String() != in) {
			t.Errorf("ParseMode(%q) = %v, %v", in, m, err)
		}
	}
	if _, err := pp.ParseMode("on"); err == nil {
		t.Error("ParseMode(on) accepted")
	}
	// Off hands everything up, a header included.
	off := pp.NewLayer(&pp.LayerConfig{})
	hdr := s("PROXY UNKNOWN\r\n")
	if up, err := drive(off, lb, hdr); err != nil || !bytes.Equal(up, hdr) {
		t.Fatalf("off: %q %v", up, err)
	}
}

// TestLayerAllocs: reading a header allocates only the client's address, and passing bytes through nothing.
func TestLayerAllocs(t *testing.T) {
	c := cfg(pp.Required)
	stream := cat(v2(0x21, 0x11, ip4("203.0.113.7", "10.0.0.1", 51234, 1883)), mqtt)
	var v layer.Vec
	hdr := testing.AllocsPerRun(100, func() {
		l := pp.NewLayer(c)
		l.Inbound(stream, lb, &v)
	})
	if hdr > 2 { // the Layer and the address
		t.Errorf("header: %v allocations", hdr)
	}
	l := pp.NewLayer(c)
	l.Inbound(stream, lb, &v)
	out := [][]byte{mqtt}
	pass := testing.AllocsPerRun(100, func() {
		l.Inbound(mqtt, lb, &v)
		v.Bufs = v.Bufs[:0]
		l.Outbound(&v, out)
	})
	if pass != 0 {
		t.Errorf("pass-through: %v allocations", pass)
	}
}
