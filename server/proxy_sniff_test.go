package server

import (
	"bytes"
	"net"
	"net/netip"
	"strings"
	"testing"

	"loopmq/server/layer"
	"loopmq/server/proxyproto"
	"loopmq/server/ws"
	"loopmq/server/ws/wstest"
)

// TestSniffBehindProxyEverySplit drives the stack a sniffing listener gives a connection with the PROXY protocol
// on (PROXY layer, sniffing layer, then WebSocket or nothing) as the read path does, with the stream cut at every
// byte: the header, then an upgrade request and a frame carrying CONNECT, or CONNECT alone. The MQTT bytes come out
// whole, the upgrade is answered once, the transport is decided, and the client address is the header's.
func TestSniffBehindProxyEverySplit(t *testing.T) {
	cfg := proxyproto.LayerConfig{Mode: proxyproto.Required, Trusted: mustTrusted(t, "127.0.0.1/32")}
	wsCfg := ws.Config{Path: "/mqtt"}
	var table [transportCount]func(*client) layer.Layer
	table[transportWS] = func(*client) layer.Layer { return ws.NewLayer(&wsCfg, 1<<20) }
	peer := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5000}
	connect := connect311("sniffed", true)
	for _, c := range []struct {
		name   string
		header []byte
		body   []byte
		t      uint8
	}{
		{"v1 then MQTT", []byte("PROXY TCP4 203.0.113.7 127.0.0.1 51234 1883\r\n"), connect, transportTCP},
		{"v2 then MQTT", ppV2(false, 0x11, "203.0.113.7:51234", "127.0.0.1:1883"), connect, transportTCP},
		{"v1 then WebSocket", []byte("PROXY TCP4 203.0.113.7 127.0.0.1 51234 1883\r\n"),
			append(wstest.UpgradeRequest("x", "/mqtt", []string{"mqtt"}), wstest.Encode(wstest.Binary(connect))...), transportWS},
		{"v2 then WebSocket", ppV2(false, 0x11, "203.0.113.7:51234", "127.0.0.1:1883"),
			append(wstest.UpgradeRequest("x", "/mqtt", []string{"mqtt"}), wstest.Encode(wstest.Binary(connect))...), transportWS},
	} {
		stream := append(append([]byte{}, c.header...), c.body...)
		for cut := 0; cut <= len(stream); cut++ {
			sn := &sniffLayer{table: &table}
			l := layer.Stack(proxyproto.NewLayer(&cfg), sn)
			var up, replies []byte
			var buf []byte
			for _, part := range [][]byte{stream[:cut], stream[cut:]} {
				buf = append(buf, part...)
				for {
					var v layer.Vec
					r := l.Inbound(buf, peer, &v)
					if r.Err != nil || r.Close {
						t.Fatalf("%s, cut %d: %+v", c.name, cut, r)
					}
					up = append(up, r.Data...)
					for _, b := range v.Bufs {
						replies = append(replies, b...)
					}
					buf = buf[r.Consumed:]
					if !r.More && (len(buf) == 0 || r.Consumed == 0 && len(r.Data) == 0 && len(v.Bufs) == 0) {
						break
					}
				}
			}
			if !bytes.Equal(up, connect) || sn.t != c.t {
				t.Fatalf("%s, cut %d: handed up % x, transport %d; want % x, %d", c.name, cut, up, sn.t, connect, c.t)
			}
			if c.t == transportWS && strings.Count(string(replies), "HTTP/1.1 101") != 1 || c.t == transportTCP && len(replies) > 0 {
				t.Fatalf("%s, cut %d: replies %q", c.name, cut, replies)
			}
			if a := l.ClientAddr(); a == nil || a.String() != "203.0.113.7:51234" {
				t.Fatalf("%s, cut %d: client %v", c.name, cut, a)
			}
		}
	}
}

func mustTrusted(t *testing.T, list string) []netip.Prefix {
	t.Helper()
	p, err := proxyproto.ParseTrusted(list)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
