package ws

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/gobwas/ws"

	"loopmq/server/layer"
	"loopmq/server/ws/wstest"
)

var peerTCP = net.TCPAddrFromAddrPort(peer)

func flat(v *layer.Vec) []byte {
	var b []byte
	for _, x := range v.Bufs {
		b = append(b, x...)
	}
	v.Reset()
	return b
}

// TestLayerConversation follows one connection through the layer: the upgrade answered in a call of its own,
// frames behind it deframed in place, a ping answered between two stretches of data, outbound data framed without a
// copy, and the client's close echoed only in Closing (after the answers to the data before it).
func TestLayerConversation(t *testing.T) {
	l := NewLayer(&Config{}, 1<<20)
	var reply, out layer.Vec
	if l.Outbound(&out, [][]byte{[]byte("x")}) || len(out.Bufs) != 0 {
		t.Fatal("data framed before the upgrade")
	}
	upgrade := wstest.UpgradeRequest("h", "/mqtt", []string{"mqtt"})
	in := append([]byte(nil), upgrade[:10]...)
	if r := l.Inbound(in, peerTCP, &reply); r.Consumed != 0 || len(reply.Bufs) != 0 || r.Close {
		t.Fatalf("a partial request: %+v", r)
	}
	in = append(append([]byte(nil), upgrade...), wstest.Encode(wstest.Binary([]byte("one")),
		wstest.Control(ws.OpPing, []byte("p")), wstest.Binary([]byte("two")), wstest.Close(4001, "bye"),
		wstest.Binary([]byte("after")))...)
	r := l.Inbound(in, peerTCP, &reply)
	if r.Consumed != len(upgrade) || len(r.Data) != 0 || r.Close || r.Err != nil {
		t.Fatalf("upgrade call %+v: it stops after the request", r)
	}
	if got := string(flat(&reply)); !strings.HasPrefix(got, "HTTP/1.1 101 ") {
		t.Fatalf("reply %q", got)
	}
	off := r.Consumed
	r = l.Inbound(in[off:], peerTCP, &reply)
	off += r.Consumed
	if string(r.Data) != "one" || r.Close {
		t.Fatalf("data %q %+v", r.Data, r)
	}
	if got := flat(&reply); !bytes.Equal(got, AppendPong(nil, []byte("p"))) {
		t.Fatalf("pong % x", got)
	}
	r = l.Inbound(in[off:], peerTCP, &reply)
	if string(r.Data) != "two" || !r.Close || r.Err != nil || off+r.Consumed != len(in) {
		t.Fatalf("data %q %+v: the data before the close, then the end", r.Data, r)
	}
	if len(reply.Bufs) != 0 {
		t.Fatal("the close echo must wait for Closing")
	}
	// The answers to "two" may still go out...
	data := []byte("answer")
	if !l.Outbound(&out, [][]byte{data}) {
		t.Fatal("answers to the data before the close were refused")
	}
	if len(out.Bufs) != 2 || !bytes.Equal(out.Bufs[0], []byte{0x82, 6}) || &out.Bufs[1][0] != &data[0] {
		t.Fatalf("framed %q: a header, then the data itself", out.Bufs)
	}
	out.Reset()
	// ...then the echo, and nothing after it.
	l.Closing(false, &reply)
	if got := flat(&reply); !bytes.Equal(got, AppendClose(nil, 4001, "")) {
		t.Fatalf("close echo % x", got)
	}
	if l.Outbound(&out, [][]byte{data}) {
		t.Fatal("data framed after the close frame")
	}
	l.Closing(true, &reply)
	if len(reply.Bufs) != 0 {
		t.Fatal("a second close frame")
	}
	if r := l.Inbound([]byte{1, 2, 3}, peerTCP, &reply); r.Consumed != 3 || !r.Close {
		t.Fatalf("input after the close: %+v", r)
	}
}

func TestLayerViolation(t *testing.T) {
	l := NewLayer(nil, 1<<20)
	var reply layer.Vec
	in := append(wstest.UpgradeRequest("h", "/mqtt", []string{"mqtt"}),
		wstest.Encode(wstest.Binary([]byte("ok")), wstest.Frame{Fin: true, Op: ws.OpText, Payload: []byte("x")})...)
	r := l.Inbound(in, peerTCP, &reply)
	reply.Reset()
	r = l.Inbound(in[r.Consumed:], peerTCP, &reply)
	if string(r.Data) != "ok" || !r.Close || !errors.Is(r.Err, ErrTextFrame) {
		t.Fatalf("%+v: the data before the violation, then the error", r)
	}
	l.Closing(false, &reply)
	if got := flat(&reply); !bytes.Equal(got, AppendClose(nil, ws.StatusUnsupportedData, "")) {
		t.Fatalf("close frame % x, want code 1003", got)
	}
}

func TestLayerRefusals(t *testing.T) {
	var reply layer.Vec
	l := NewLayer(&Config{}, 0)
	r := l.Inbound([]byte{0x10, 0x0c, 0, 4}, peerTCP, &reply)
	if !r.Close || !errors.Is(r.Err, ErrNotHTTP) || len(reply.Bufs) != 0 {
		t.Fatalf("raw MQTT: %+v, reply %q", r, reply.Bufs)
	}
	l = NewLayer(&Config{}, 0)
	r = l.Inbound(wstest.UpgradeRequest("h", "/elsewhere", []string{"mqtt"}), peerTCP, &reply)
	if !r.Close || !errors.Is(r.Err, ErrNotFound) {
		t.Fatalf("wrong path: %+v", r)
	}
	if got := string(flat(&reply)); !strings.HasPrefix(got, "HTTP/1.1 404 ") {
		t.Fatalf("refusal %q", got)
	}
	l.Closing(false, &reply)
	if len(reply.Bufs) != 0 {
		t.Fatal("a close frame after a refused upgrade")
	}
}

func TestLayerClientAddr(t *testing.T) {
	cfg := &Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}
	var reply layer.Vec
	l := NewLayer(cfg, 0)
	l.Inbound(wstest.UpgradeRequest("h", "/mqtt", []string{"mqtt"}, "X-Forwarded-For: 203.0.113.7"), peerTCP, &reply)
	if a := l.ClientAddr(); a == nil || a.String() != "203.0.113.7:0" {
		t.Fatalf("client address %v", a)
	}
	l = NewLayer(cfg, 0)
	l.Inbound(wstest.UpgradeRequest("h", "/mqtt", []string{"mqtt"}), peerTCP, &reply)
	if a := l.ClientAddr(); a != nil {
		t.Fatalf("client address %v without a proxy header, want nil (the peer)", a)
	}
}
