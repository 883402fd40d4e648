package server

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gobwas "github.com/gobwas/ws"

	"loopmq/server/stats"
	"loopmq/server/ws/wstest"
)

var (
	subT    = []byte{0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 't', 0x00} // SUBSCRIBE id 1, "t" QoS 0
	subackT = []byte{0x90, 0x03, 0x00, 0x01, 0x00}
	pubHi   = []byte{0x30, 0x05, 0x00, 0x01, 't', 'h', 'i'} // PUBLISH QoS 0 "t" "hi"
	connack = []byte{0x20, 0x02, 0x00, 0x00}
	pingreq = []byte{0xc0, 0x00}
	pingres = []byte{0xd0, 0x00}
)

// TestWSFraming sends the same MQTT conversation (CONNECT, SUBSCRIBE, PUBLISH to itself, PINGREQ) framed in each
// way RFC 6455 and MQTT 6.0 allow, and expects the same answers in binary frames.
func TestWSFraming(t *testing.T) {
	conversation := concat(connect311("w", true), subT, pubHi, pingreq)
	chunks := func(b []byte, size int) [][]byte {
		var out [][]byte
		for len(b) > 0 {
			k := min(size, len(b))
			out = append(out, b[:k])
			b = b[k:]
		}
		return out
	}
	tests := []struct {
		name   string
		writes func() [][]byte // TCP writes after the upgrade response
	}{
		{"all packets in one frame", func() [][]byte { return [][]byte{frames(wstest.Binary(conversation))} }},
		{"one frame per packet in one write", func() [][]byte {
			return [][]byte{frames(wstest.Binary(connect311("w", true)), wstest.Binary(subT), wstest.Binary(pubHi),
				wstest.Binary(pingreq))}
		}},
		{"each packet split across messages of 1 byte", func() [][]byte {
			var fs []wstest.Frame
			for _, c := range chunks(conversation, 1) {
				fs = append(fs, wstest.Binary(c))
			}
			return [][]byte{frames(fs...)}
		}},
		{"fragmented message with pings between fragments", func() [][]byte {
			var fs []wstest.Frame
			parts := chunks(conversation, 5)
			for i, c := range parts {
				op := gobwas.OpContinuation
				if i == 0 {
					op = gobwas.OpBinary
				}
				fs = append(fs, fragment(op, i == len(parts)-1, c))
				if i%2 == 0 && i < len(parts)-1 {
					fs = append(fs, wstest.Control(gobwas.OpPing, []byte{byte(i)}))
				}
			}
			return [][]byte{frames(fs...)}
		}},
		{"frame headers and payloads split across TCP writes", func() [][]byte {
			var fs []wstest.Frame
			for _, c := range chunks(conversation, 7) {
				fs = append(fs, wstest.Binary(c), wstest.Control(gobwas.OpPong, nil))
			}
			return chunks(frames(fs...), 3)
		}},
	}
	s := startWSBroker(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, st := dialWS(t, s.WSAddr(), nil)
			if resp.StatusCode != 101 {
				t.Fatalf("upgrade: %s", resp.Status)
			}
			for _, w := range tt.writes() {
				st.writeRaw(t, w)
				time.Sleep(time.Millisecond) // separate TCP segments (TCP_NODELAY is the default in Go)
			}
			c := &rawConn{t: t, Conn: st}
			c.expect(connack)
			c.expect(subackT)
			c.expect(pubHi)
			c.expect(pingres)
			c.send(pingreq)
			c.expect(pingres)
		})
	}
}

// TestWSPingPongBetweenFragments checks the pong echoes the ping's payload while a message is half received.
func TestWSPingPongBetweenFragments(t *testing.T) {
	s := startWSBroker(t, nil)
	_, st := dialWS(t, s.WSAddr(), nil)
	conn := connect311("p", true)
	st.writeRaw(t, frames(fragment(gobwas.OpBinary, false, conn[:4]),
		wstest.Control(gobwas.OpPing, []byte("are you there")),
		fragment(gobwas.OpContinuation, true, conn[4:])))
	c := &rawConn{t: t, Conn: st}
	c.expect(connack)
	if len(st.pongs) != 1 || string(st.pongs[0]) != "are you there" {
		t.Fatalf("pongs %q, want one with the ping's payload", st.pongs)
	}
}

// TestWSPipelinedAfterUpgrade sends the upgrade request and the first frames in one write.
func TestWSPipelinedAfterUpgrade(t *testing.T) {
	s := startWSBroker(t, nil)
	req := concat(wstest.UpgradeRequest(s.WSAddr(), "/mqtt", []string{"mqtt"}),
		frames(wstest.Binary(connect311("pipe", true)), wstest.Binary(pingreq)))
	resp, st := dialWS(t, s.WSAddr(), req)
	if resp.StatusCode != 101 {
		t.Fatalf("upgrade: %s", resp.Status)
	}
	c := &rawConn{t: t, Conn: st}
	c.expect(connack)
	c.expect(pingres)
}

// TestWSUpgradeByteByByte trickles the upgrade request in one byte at a time: the loop must wait, not refuse.
func TestWSUpgradeByteByByte(t *testing.T) {
	s := startWSBroker(t, nil)
	c, err := net.Dial("tcp", s.WSAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := wstest.UpgradeRequest(s.WSAddr(), "/mqtt", []string{"mqttv3.1", "mqtt"})
	for i := range req {
		if _, err := c.Write(req[i : i+1]); err != nil {
			t.Fatal(err)
		}
		if i%16 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 512)
	n, err := c.Read(buf)
	if err != nil || !bytes.HasPrefix(buf[:n], []byte("HTTP/1.1 101 ")) ||
		!bytes.Contains(buf[:n], []byte("\r\nSec-WebSocket-Protocol: mqtt\r\n")) {
		t.Fatalf("response %q, %v", buf[:n], err)
	}
}

// TestWSRejections checks each refusal: the exact HTTP status or close code, then the connection ends, and a
// client connected before is undisturbed.
func TestWSRejections(t *testing.T) {
	s := startWSBroker(t, func(o *Options) {
		o.MaxPacketSize = 1024
		o.WSOrigins = []string{"https://app.example.com"}
	})
	bystander := upgradeWS(t, s.WSAddr())
	bystander.send(connect311("bystander", true))
	bystander.expect(connack)
	addr := s.WSAddr()
	long := strings.Repeat("a", 9000)

	httpTests := []struct {
		name   string
		req    []byte
		status int
	}{
		{"missing key", []byte("GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n"), 400},
		{"HTTP/1.0", bytes.Replace(wstest.UpgradeRequest(addr, "/mqtt", []string{"mqtt"}), []byte("HTTP/1.1"),
			[]byte("HTTP/1.0"), 1), 400},
		{"no acceptable subprotocol", wstest.UpgradeRequest(addr, "/mqtt", []string{"chat"}), 400},
		{"no subprotocol offered", wstest.UpgradeRequest(addr, "/mqtt", nil), 400},
		{"version 8", bytes.Replace(wstest.UpgradeRequest(addr, "/mqtt", []string{"mqtt"}),
			[]byte("Sec-WebSocket-Version: 13"), []byte("Sec-WebSocket-Version: 8"), 1), 426},
		{"headers over 8 KiB", wstest.UpgradeRequest(addr, "/mqtt", []string{"mqtt"}, "X-Long: "+long), 431},
		{"wrong path", wstest.UpgradeRequest(addr, "/other", []string{"mqtt"}), 404},
		{"foreign origin", wstest.UpgradeRequest(addr, "/mqtt", []string{"mqtt"}, "Origin: https://evil.example"), 403},
	}
	for _, tt := range httpTests {
		t.Run(tt.name, func(t *testing.T) {
			resp, st := dialWS(t, addr, tt.req)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.status == 426 && resp.Header.Get("Sec-WebSocket-Version") != "13" {
				t.Fatalf("426 without Sec-WebSocket-Version: 13: %v", resp.Header)
			}
			st.SetReadDeadline(time.Now().Add(5 * time.Second))
			if n, err := st.r.Read(make([]byte, 1)); err == nil && n > 0 {
				// the body of the error response is allowed; then the connection must end
				for err == nil {
					_, err = st.r.Read(make([]byte, 512))
				}
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Fatal("connection not closed after the refusal")
				}
			}
		})
	}
	t.Run("allowed origin", func(t *testing.T) {
		resp, _ := dialWS(t, addr, wstest.UpgradeRequest(addr, "/mqtt", []string{"mqtt"}, "Origin: https://APP.example.com"))
		if resp.StatusCode != 101 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})

	connect := frames(wstest.Binary(connect311("x", true)))
	frameTests := []struct {
		name string
		send []byte
		code gobwas.StatusCode
	}{
		{"text frame", frames(wstest.Frame{Fin: true, Op: gobwas.OpText, Payload: connect311("x", true)}), gobwas.StatusUnsupportedData},
		{"unmasked frame", frames(wstest.Frame{Fin: true, Op: gobwas.OpBinary, Unmasked: true, Payload: connect311("x", true)}), gobwas.StatusProtocolError},
		{"frame over the message bound", frameHeader(gobwas.OpBinary, true, wsMaxMessage(1024)+1),
			gobwas.StatusMessageTooBig}, // the header alone is refused, before any payload
		{"message over the bound in fragments", concat(frames(fragment(gobwas.OpBinary, false,
			bytes.Repeat(pingreq, 50))), frameHeader(gobwas.OpContinuation, true, wsMaxMessage(1024)-99)),
			gobwas.StatusMessageTooBig},
		{"reserved bit", frames(wstest.Frame{Fin: true, RSV: 0x40, Op: gobwas.OpBinary, Payload: pingreq}), gobwas.StatusProtocolError},
		{"reserved opcode", frames(wstest.Frame{Fin: true, Op: 0x3, Payload: pingreq}), gobwas.StatusProtocolError},
		{"continuation without start", frames(fragment(gobwas.OpContinuation, true, pingreq)), gobwas.StatusProtocolError},
		{"fragmented ping", frames(wstest.Frame{Op: gobwas.OpPing, Payload: []byte("x")}), gobwas.StatusProtocolError},
		{"ping over 125 bytes", frames(wstest.Control(gobwas.OpPing, make([]byte, 126))), gobwas.StatusProtocolError},
		{"close with bad code", frames(wstest.Close(999, "")), gobwas.StatusProtocolError},
		{"client close is echoed", frames(wstest.Close(gobwas.StatusNormalClosure, "bye")), gobwas.StatusNormalClosure},
		{"close reason not UTF-8", frames(wstest.Close(gobwas.StatusNormalClosure, "\xff")), gobwas.StatusInvalidFramePayloadData},
	}
	for _, tt := range frameTests {
		t.Run(tt.name, func(t *testing.T) {
			_, st := dialWS(t, addr, nil)
			if tt.name != "text frame" && tt.name != "unmasked frame" {
				st.writeRaw(t, connect)
			}
			go func() { // a large frame may not fit the socket buffers while the broker already closed
				st.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
				st.Conn.Write(tt.send)
			}()
			if tt.name != "text frame" && tt.name != "unmasked frame" {
				c := &rawConn{t: t, Conn: st}
				c.expect(connack)
			}
			expectWSClose(t, st, tt.code)
		})
	}
	bystander.send(pingreq)
	bystander.expect(pingres)
}

// TestWSCloseAfterDisconnect: DISCONNECT and a close frame in one write mean a normal disconnect, so no will.
func TestWSCloseAfterDisconnect(t *testing.T) {
	s := startWSBroker(t, nil)
	watcher := dialRaw(t, s)
	watcher.send(connect311("watcher", true))
	watcher.expect(connack)
	watcher.send([]byte{0x82, 0x09, 0x00, 0x01, 0x00, 0x04, 'w', 'i', 'l', 'l', 0x00})
	watcher.expect([]byte{0x90, 0x03, 0x00, 0x01, 0x00})

	withWill := func(id string) []byte {
		// CONNECT 3.1.1, clean, will flag, will topic "will", payload "gone"
		b := []byte{0x10, 0, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x06, 0, 60, 0, byte(len(id))}
		b = append(b, id...)
		b = append(b, 0, 4, 'w', 'i', 'l', 'l', 0, 4, 'g', 'o', 'n', 'e')
		b[1] = byte(len(b) - 2)
		return b
	}
	_, st := dialWS(t, s.WSAddr(), nil)
	c := &rawConn{t: t, Conn: st}
	c.send(withWill("polite"))
	c.expect(connack)
	st.writeRaw(t, frames(wstest.Binary([]byte{0xe0, 0x00}), wstest.Close(gobwas.StatusNormalClosure, "")))
	expectWSClose(t, st, gobwas.StatusNormalClosure)
	watcher.expectSilence(300 * time.Millisecond)

	_, st2 := dialWS(t, s.WSAddr(), nil)
	c2 := &rawConn{t: t, Conn: st2}
	c2.send(withWill("rude"))
	c2.expect(connack)
	st2.writeRaw(t, frames(wstest.Close(gobwas.StatusGoingAway, "")))
	expectWSClose(t, st2, gobwas.StatusGoingAway)
	watcher.expect([]byte{0x30, 0x0a, 0x00, 0x04, 'w', 'i', 'l', 'l', 'g', 'o', 'n', 'e'})
}

// TestWSServerCloseFrame: when the broker ends a WebSocket connection for an MQTT reason it sends a close frame
// (1000), and 1001 at shutdown.
func TestWSServerCloseFrame(t *testing.T) {
	s := startWSBroker(t, nil)
	_, st := dialWS(t, s.WSAddr(), nil)
	c := &rawConn{t: t, Conn: st}
	c.send(connect311("twice", true))
	c.expect(connack)
	c.send(connect311("twice", true)) // a second CONNECT is a protocol error [MQTT-3.1.0-2]
	expectWSClose(t, st, gobwas.StatusNormalClosure)

	s2 := startWSBroker(t, nil)
	_, st2 := dialWS(t, s2.WSAddr(), nil)
	c2 := &rawConn{t: t, Conn: st2}
	c2.send(connect311("stay", true))
	c2.expect(connack)
	go s2.Shutdown(ctx5s(t))
	expectWSClose(t, st2, gobwas.StatusGoingAway)
}

// TestWSSamePort checks sniffing: raw MQTT on the WebSocket port (default), WebSocket on the TCP port only with
// TCPSniffWS, and one listener for both when the addresses are equal.
func TestWSSamePort(t *testing.T) {
	roundTrip := func(t *testing.T, c *rawConn, id string) {
		t.Helper()
		c.send(connect311(id, true))
		c.expect(connack)
		c.send(pingreq)
		c.expect(pingres)
	}
	t.Run("raw MQTT on the WebSocket port", func(t *testing.T) {
		s := startWSBroker(t, nil)
		c, err := net.Dial("tcp", s.WSAddr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		roundTrip(t, &rawConn{t: t, Conn: c}, "raw-on-ws")
		if got := s.stats().Connects[stats.TCP]; got != 1 {
			t.Fatalf("connections counted as TCP: %d, want 1", got)
		}
	})
	t.Run("raw MQTT refused on the WebSocket port when off", func(t *testing.T) {
		s := startWSBroker(t, func(o *Options) { o.WSAcceptMQTT = false })
		c, err := net.Dial("tcp", s.WSAddr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		rc := &rawConn{t: t, Conn: c}
		rc.send(connect311("raw", true))
		rc.expectClosed()
	})
	t.Run("WebSocket on the TCP port with TCPSniffWS", func(t *testing.T) {
		s := startWSBroker(t, func(o *Options) { o.TCPSniffWS = true })
		roundTrip(t, upgradeWS(t, s.TCPAddr()), "ws-on-tcp")
		roundTrip(t, dialRaw(t, s), "tcp-on-tcp")
		if sn := s.stats(); sn.Connects[stats.WS] != 1 || sn.Connects[stats.TCP] != 1 {
			t.Fatalf("connections counted ws=%d tcp=%d, want 1 and 1", sn.Connects[stats.WS], sn.Connects[stats.TCP])
		}
	})
	t.Run("WebSocket on the TCP port without TCPSniffWS", func(t *testing.T) {
		s := startWSBroker(t, nil)
		c := dialRaw(t, s)
		c.send(wstest.UpgradeRequest(s.TCPAddr(), "/mqtt", []string{"mqtt"}))
		c.expectClosed()
	})
	t.Run("one listener for both", func(t *testing.T) {
		s := startBroker(t, func(o *Options) { o.TCPAddr, o.WSAddr = "127.0.0.1:0", "127.0.0.1:0" })
		roundTrip(t, upgradeWS(t, s.TCPAddr()), "ws-shared")
		roundTrip(t, dialRaw(t, s), "tcp-shared")
	})
}

// addrAuth records the address the Authenticator sees.
type addrAuth struct {
	mu   sync.Mutex
	seen []string
}

func (a *addrAuth) Authenticate(info *ConnectInfo) AuthResult {
	a.mu.Lock()
	a.seen = append(a.seen, info.RemoteAddr.String())
	a.mu.Unlock()
	return AuthAccepted
}

// TestWSTrustedProxy: the address in X-Forwarded-For is what the Authenticator sees, only from a trusted peer.
func TestWSTrustedProxy(t *testing.T) {
	for _, tt := range []struct {
		name    string
		proxies []string
		want    string
	}{
		{"trusted loopback proxy", []string{"127.0.0.0/8"}, "203.0.113.7:0"},
		{"untrusted peer", []string{"10.0.0.0/8"}, "127.0.0.1:"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			auth := &addrAuth{}
			s := startWSBroker(t, func(o *Options) { o.WSTrustedProxies = tt.proxies; o.Authenticator = auth })
			resp, st := dialWS(t, s.WSAddr(), wstest.UpgradeRequest(s.WSAddr(), "/mqtt", []string{"mqtt"},
				"X-Forwarded-For: 203.0.113.7"))
			if resp.StatusCode != 101 {
				t.Fatalf("upgrade: %s", resp.Status)
			}
			c := &rawConn{t: t, Conn: st}
			c.send(connect311("proxied", true))
			c.expect(connack)
			auth.mu.Lock()
			defer auth.mu.Unlock()
			if len(auth.seen) != 1 || !strings.HasPrefix(auth.seen[0], tt.want) {
				t.Fatalf("authenticator saw %q, want %s…", auth.seen, tt.want)
			}
		})
	}
}

// TestWSTransportStats checks the per-transport counters after a WebSocket and a TCP conversation.
func TestWSTransportStats(t *testing.T) {
	s := startWSBroker(t, nil)
	w := upgradeWS(t, s.WSAddr())
	w.send(connect311("ws", true))
	w.expect(connack)
	w.send(pingreq)
	w.expect(pingres)
	c := dialRaw(t, s)
	c.send(connect311("tcp", true))
	c.expect(connack)
	deadline := time.Now().Add(5 * time.Second)
	var sn stats.Snapshot
	for {
		sn = s.stats()
		ok := sn.Connects[stats.WS] == 1 && sn.Connects[stats.TCP] == 1 && sn.Open[stats.WS] == 1 && sn.Open[stats.TCP] == 1 &&
			sn.TransportPackets(stats.In, stats.WS) == 2 && sn.TransportPackets(stats.In, stats.TCP) == 1 &&
			sn.TransportPackets(stats.Out, stats.WS) == 2 && sn.TransportPackets(stats.Out, stats.TCP) == 1 &&
			sn.WSBytesIn > 4+2 && sn.WSBytesOut > 129+4+2 && sn.TransportBytesIn(stats.TCP) == uint64(len(connect311("tcp", true)))
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v", sn)
		}
		time.Sleep(10 * time.Millisecond)
	}
	sys := stats.Sys(Version, &sn)
	want := map[string]string{
		"$SYS/broker/transport/ws/connections/current":  "1",
		"$SYS/broker/transport/tcp/connections/current": "1",
		"$SYS/broker/transport/ws/packets/received":     "2",
		"$SYS/broker/transport/tcp/packets/received":    "1",
	}
	for _, st := range sys {
		if v, ok := want[st.Name]; ok {
			if st.Value != v {
				t.Errorf("%s = %q, want %q", st.Name, st.Value, v)
			}
			delete(want, st.Name)
		}
	}
	if len(want) != 0 {
		t.Fatalf("$SYS transport topics missing: %v", want)
	}
	w.Close()
	c.Close()
	for s.openWS.Load() != 0 || s.openTCP.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("open ws=%d tcp=%d after close", s.openWS.Load(), s.openTCP.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWSOptions checks option validation and the mapping to ws.Config.
func TestWSOptions(t *testing.T) {
	for _, tt := range []struct {
		name string
		set  func(*Options)
		bad  bool
	}{
		{"defaults", func(*Options) {}, false},
		{"CIDR and address", func(o *Options) { o.WSTrustedProxies = []string{"10.0.0.0/8", " 192.168.1.1", "::1"} }, false},
		{"bad CIDR", func(o *Options) { o.WSTrustedProxies = []string{"10.0.0.0/33"} }, true},
		{"not an address", func(o *Options) { o.WSTrustedProxies = []string{"proxy.local"} }, true},
		{"origins", func(o *Options) { o.WSOrigins = []string{"https://a.example", "http://b.example:8080/"} }, false},
		{"origin with a path", func(o *Options) { o.WSOrigins = []string{"https://a.example/app"} }, true},
		{"origin without scheme", func(o *Options) { o.WSOrigins = []string{"a.example"} }, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := DefaultOptions()
			tt.set(&o)
			_, err := New(o)
			if (err != nil) != tt.bad {
				t.Fatalf("New: %v, want error %v", err, tt.bad)
			}
		})
	}
	o := DefaultOptions()
	o.WSTrustedProxies = []string{"10.1.2.3/8", "192.168.1.1"}
	o.WSOrigins = []string{"http://b.example:8080/"}
	o.WSAnyPath = true
	cfg, err := o.wsConfig()
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.1/32")}
	if len(cfg.TrustedProxies) != 2 || cfg.TrustedProxies[0] != want[0] || cfg.TrustedProxies[1] != want[1] ||
		len(cfg.AllowedOrigins) != 1 || cfg.AllowedOrigins[0] != "http://b.example:8080" || !cfg.AnyPath ||
		cfg.Path != "/mqtt" {
		t.Fatalf("config %+v", cfg)
	}
}

// TestWSLargePayloads sends publishes whose frames need 16-bit and 64-bit lengths, in one frame and spread over
// frames of odd sizes, and expects them back byte-exact in frames of the same kinds.
func TestWSLargePayloads(t *testing.T) {
	s := startWSBroker(t, func(o *Options) { o.MaxPacketSize = 1 << 20 })
	c := upgradeWS(t, s.WSAddr())
	st := c.Conn.(*wsStream)
	c.send(connect311("big", true))
	c.expect(connack)
	c.send(subT)
	c.expect(subackT)
	for _, size := range []int{120, 200, 65531, 70000, 1<<20 - 16} {
		payload := make([]byte, size)
		for i := range payload {
			payload[i] = byte(i*7 + size)
		}
		pub := codecPublish0("t", payload)
		c.send(pub)
		c.expect(pub)
		var fs []wstest.Frame
		for rest := pub; len(rest) > 0; {
			k := min(len(rest), 1+len(rest)/3)
			fs = append(fs, wstest.Binary(rest[:k]))
			rest = rest[k:]
		}
		st.writeRaw(t, frames(fs...))
		c.expect(pub)
	}
}

// codecPublish0 is a QoS 0 PUBLISH (3.1.1) of payload to topic.
func codecPublish0(topic string, payload []byte) []byte {
	n := 2 + len(topic) + len(payload)
	b := []byte{0x30}
	for {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if n == 0 {
			break
		}
	}
	b = append(b, byte(len(topic)>>8), byte(len(topic)))
	b = append(b, topic...)
	return append(b, payload...)
}

// frameHeader is the header of a masked client frame announcing length payload bytes (mask 0, payload not included).
func frameHeader(op gobwas.OpCode, fin bool, length int) []byte {
	b0 := byte(op)
	if fin {
		b0 |= 0x80
	}
	return append(binary.BigEndian.AppendUint64([]byte{b0, 0x80 | 127}, uint64(length)), 0, 0, 0, 0)
}

// TestWSPingFloodWithoutReading: a client that pings without reading the pongs is closed once the broker's
// outbound backlog passes the hard limit, instead of buffering pongs without bound; others are undisturbed.
func TestWSPingFloodWithoutReading(t *testing.T) {
	// A connect timeout beyond the test, so only the backlog rule can close the pinger (it never sends CONNECT).
	s := startWSBroker(t, func(o *Options) { o.OutboundHighWater = 1024; o.ConnectTimeout = time.Minute })
	bystander := upgradeWS(t, s.WSAddr())
	bystander.send(connect311("calm", true))
	bystander.expect(connack)
	// A small receive buffer from the start (before the window is advertised), so the pongs back up in the broker
	// instead of in this socket.
	d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	c, err := d.Dial("tcp", s.WSAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(wstest.UpgradeRequest(s.WSAddr(), "/mqtt", []string{"mqtt"}))
	ping := frames(wstest.Control(gobwas.OpPing, bytes.Repeat([]byte("p"), 125)))
	burst := bytes.Repeat(ping, 1000)
	stop := make(chan struct{})
	defer close(stop)
	go func() { // pings until the broker closes the connection or the test ends
		for {
			select {
			case <-stop:
				return
			default:
			}
			c.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := c.Write(burst); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					continue
				}
				return
			}
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for s.stats().Connects[stats.WS] < 2 || s.openWS.Load() != 1 { // the pinger came, then only the bystander is left
		if time.Now().After(deadline) {
			t.Fatalf("%d WebSocket connections open: the pinging client was not closed", s.openWS.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	bystander.send(pingreq)
	bystander.expect(pingres)
}
