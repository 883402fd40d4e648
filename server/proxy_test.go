package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
	"github.com/gorilla/websocket"

	"loopmq/server/proxyproto"
	"loopmq/server/ws/wstest"
)

// peerAuth accepts every client and records, by client id, the address the broker gave it: the one its log, $SYS
// and metrics use too (client.remoteAddr).
type peerAuth struct{ seen chan [2]string }

func newPeerAuth() *peerAuth { return &peerAuth{seen: make(chan [2]string, 64)} }

func (a *peerAuth) Authenticate(info *ConnectInfo) AuthResult {
	addr := "<nil>"
	if info.RemoteAddr != nil {
		addr = info.RemoteAddr.String()
	}
	select {
	case a.seen <- [2]string{string(info.ClientID), addr}:
	default:
	}
	return AuthAccepted
}

// expect waits for the CONNECT of client id and fails unless the broker saw it from addr.
func (a *peerAuth) expect(t testing.TB, id, addr string) {
	t.Helper()
	if got := a.waitID(t, id); got != addr {
		t.Fatalf("client %s seen from %s, want %s", id, got, addr)
	}
}

// waitID waits for the CONNECT of client id and returns the address the broker saw it from.
func (a *peerAuth) waitID(t testing.TB, id string) string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case got := <-a.seen:
			if got[0] == id {
				return got[1]
			}
		case <-deadline:
			t.Fatalf("client %s never authenticated", id)
		}
	}
}

// startProxyBroker starts a broker with the PROXY protocol in mode, trusting 127.0.0.1 only.
func startProxyBroker(t testing.TB, mode string, auth *peerAuth, mutate func(*Options)) *Server {
	t.Helper()
	return startBroker(t, func(o *Options) {
		o.ProxyProtocol = mode
		o.ProxyTrustedCIDRs = []string{"127.0.0.1/32"}
		o.Authenticator = auth
		if mutate != nil {
			mutate(o)
		}
	})
}

// ppV2 builds a v2 header from the spec's layout: PROXY (or LOCAL) command, family, addresses.
func ppV2(local bool, fam byte, src, dst string) []byte {
	verCmd := byte(0x21)
	if local {
		verCmd = 0x20
	}
	var body []byte
	if fam != 0 {
		s, d := netip.MustParseAddrPort(src), netip.MustParseAddrPort(dst)
		body = append(body, s.Addr().AsSlice()...)
		body = append(body, d.Addr().AsSlice()...)
		body = binary.BigEndian.AppendUint16(body, s.Port())
		body = binary.BigEndian.AppendUint16(body, d.Port())
	}
	b := append([]byte("\r\n\r\n\x00\r\nQUIT\n"), verCmd, fam, 0, 0)
	binary.BigEndian.PutUint16(b[14:], uint16(len(body)))
	return append(b, body...)
}

// dialFrom opens a TCP connection to addr from the loopback address local (127.0.0.2 is outside the trusted
// prefix).
func dialFrom(t testing.TB, local, addr string) *rawConn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", local, err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, Conn: c}
}

// proxyRefused waits until the broker counted n refusals for reason.
func proxyRefused(t testing.TB, s *Server, reason proxyproto.Reason, n uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := s.stats().ProxyRefused
		if got[reason] == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("proxy refusals %v: want %d for %v", got, n, reason)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestProxyHeaders sends v1 and v2 headers of each family before a CONNECT: the broker sees the header's source
// address, or the TCP peer for UNKNOWN and LOCAL; the session then works as over plain TCP.
func TestProxyHeaders(t *testing.T) {
	auth := newPeerAuth()
	s := startProxyBroker(t, "required", auth, nil)
	for i, c := range []struct {
		name   string
		header []byte
		want   string // "" for the TCP peer
	}{
		{"v1 TCP4", []byte("PROXY TCP4 203.0.113.7 127.0.0.1 51234 1883\r\n"), "203.0.113.7:51234"},
		{"v1 TCP6", []byte("PROXY TCP6 2001:db8::7 ::1 51234 1883\r\n"), "[2001:db8::7]:51234"},
		{"v1 UNKNOWN", []byte("PROXY UNKNOWN\r\n"), ""},
		{"v2 TCP4", ppV2(false, 0x11, "198.51.100.20:40001", "127.0.0.1:1883"), "198.51.100.20:40001"},
		{"v2 TCP6", ppV2(false, 0x21, "[2001:db8::20]:40002", "[::1]:1883"), "[2001:db8::20]:40002"},
		{"v2 UNKNOWN", ppV2(false, 0x00, "", ""), ""},
		{"v2 LOCAL", ppV2(true, 0x00, "", ""), ""},
		{"v2 LOCAL with addresses", ppV2(true, 0x11, "198.51.100.20:40001", "127.0.0.1:1883"), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			c0 := dialRaw(t, s)
			id := "pp" + strconv.Itoa(i)
			c0.send(append(append([]byte{}, c.header...), connect311(id, true)...))
			c0.expect([]byte{0x20, 0x02, 0x00, 0x00})
			want := c.want
			if want == "" {
				want = c0.LocalAddr().String()
			}
			auth.expect(t, id, want)
			c0.send([]byte{0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 't', 0x00})
			c0.expect([]byte{0x90, 0x03, 0x00, 0x01, 0x00})
			c0.send([]byte{0x30, 0x05, 0x00, 0x01, 't', 'h', 'i'})
			c0.expect([]byte{0x30, 0x05, 0x00, 0x01, 't', 'h', 'i'})
		})
	}
	if got := s.stats().ProxyRefused; got != [proxyproto.NumReasons]uint64{} {
		t.Fatalf("refusals %v", got)
	}
}

// TestProxyHeaderSplit sends a v1 and a v2 header and the CONNECT behind it one byte per write, so the header
// reaches the broker split across reads (how it is cut depends on the kernel; TestLayerHeaders in proxyproto
// tries every cut deterministically), and once with the CONNECT in the same write as the header's end.
func TestProxyHeaderSplit(t *testing.T) {
	auth := newPeerAuth()
	s := startProxyBroker(t, "required", auth, nil)
	for i, h := range [][]byte{
		[]byte("PROXY TCP4 203.0.113.7 127.0.0.1 51234 1883\r\n"),
		ppV2(false, 0x11, "198.51.100.20:40001", "127.0.0.1:1883"),
	} {
		id := "split" + strconv.Itoa(i)
		stream := append(append([]byte{}, h...), connect311(id, true)...)
		c := dialRaw(t, s)
		for j := range stream {
			c.send(stream[j : j+1])
			time.Sleep(time.Millisecond)
		}
		c.expect([]byte{0x20, 0x02, 0x00, 0x00})
		want := "203.0.113.7:51234"
		if i == 1 {
			want = "198.51.100.20:40001"
		}
		auth.expect(t, id, want)

		id += "b"
		stream = append(append([]byte{}, h...), connect311(id, true)...)
		c = dialRaw(t, s)
		c.send(stream[:len(h)-3])
		time.Sleep(5 * time.Millisecond)
		c.send(stream[len(h)-3:])
		c.expect([]byte{0x20, 0x02, 0x00, 0x00})
		auth.expect(t, id, want)
	}
}

// TestProxyRefusals: an untrusted peer sending a header, a malformed or oversized header, a missing header in
// required mode close the connection and are counted by reason; a connection that ends inside its header is
// closed and counted nowhere; the broker keeps serving.
func TestProxyRefusals(t *testing.T) {
	auth := newPeerAuth()
	s := startProxyBroker(t, "required", auth, func(o *Options) { o.ConnectTimeout = 500 * time.Millisecond })
	hdr := []byte("PROXY TCP4 203.0.113.7 127.0.0.1 51234 1883\r\n")

	c := dialFrom(t, "127.0.0.2", s.TCPAddr())
	c.send(append(append([]byte{}, hdr...), connect311("u1", true)...))
	c.expectClosed()
	proxyRefused(t, s, proxyproto.ReasonUntrusted, 1)
	c = dialFrom(t, "127.0.0.2", s.TCPAddr())
	c.send(ppV2(false, 0x11, "198.51.100.20:40001", "127.0.0.1:1883")[:13]) // refused from the signature on
	c.expectClosed()
	proxyRefused(t, s, proxyproto.ReasonUntrusted, 2)

	c = dialRaw(t, s)
	c.send(connect311("m1", true))
	c.expectClosed()
	proxyRefused(t, s, proxyproto.ReasonMissing, 1)

	c = dialRaw(t, s)
	c.send([]byte("PROXY TCP4 203.0.113.7 127.0.0.1 051234 1883\r\n"))
	c.expectClosed()
	proxyRefused(t, s, proxyproto.ReasonMalformed, 1)

	c = dialRaw(t, s)
	c.send(append([]byte("PROXY TCP4 "), bytes.Repeat([]byte("9"), 200)...))
	c.expectClosed()
	proxyRefused(t, s, proxyproto.ReasonTooLarge, 1)
	big := ppV2(false, 0x11, "198.51.100.20:40001", "127.0.0.1:1883")
	binary.BigEndian.PutUint16(big[14:], 60000)
	c = dialRaw(t, s)
	c.send(big) // the length field alone is enough to refuse it
	c.expectClosed()
	proxyRefused(t, s, proxyproto.ReasonTooLarge, 2)

	// Truncated: the client goes away inside the header, or stalls there until the connect timeout.
	c = dialRaw(t, s)
	c.send(hdr[:20])
	c.Close()
	c = dialRaw(t, s)
	c.send(ppV2(false, 0x11, "198.51.100.20:40001", "127.0.0.1:1883")[:20])
	c.expectClosed()
	if s.stats().Connected != 0 {
		t.Fatal("a truncated header led to a connected client")
	}

	// Nothing got through, and the broker still serves.
	select {
	case got := <-auth.seen:
		t.Fatalf("refused connection authenticated: %v", got)
	default:
	}
	c = dialRaw(t, s)
	c.send(append(append([]byte{}, hdr...), connect311("ok", true)...))
	c.expect([]byte{0x20, 0x02, 0x00, 0x00})
	auth.expect(t, "ok", "203.0.113.7:51234")
	want := [proxyproto.NumReasons]uint64{2, 1, 1, 2}
	if got := s.stats().ProxyRefused; got != want {
		t.Fatalf("refusals %v, want %v", got, want)
	}
}

// TestProxyOptional: in optional mode a trusted peer may send a header or not, an untrusted one may connect
// without a header but may not send one.
func TestProxyOptional(t *testing.T) {
	auth := newPeerAuth()
	logs := &lockedLog{}
	s := startProxyBroker(t, "optional", auth, func(o *Options) { o.Logger = slog.New(slog.NewTextHandler(logs, nil)) })

	c := dialRaw(t, s)
	c.send(connect311("plain", true))
	c.expect([]byte{0x20, 0x02, 0x00, 0x00})
	auth.expect(t, "plain", c.LocalAddr().String())

	c = dialRaw(t, s)
	c.send(append(ppV2(false, 0x11, "198.51.100.20:40001", "127.0.0.1:1883"), connect311("hdr", true)...))
	c.expect([]byte{0x20, 0x02, 0x00, 0x00})
	auth.expect(t, "hdr", "198.51.100.20:40001")

	c = dialFrom(t, "127.0.0.2", s.TCPAddr())
	c.send(connect311("direct", true))
	c.expect([]byte{0x20, 0x02, 0x00, 0x00})
	auth.expect(t, "direct", c.LocalAddr().String())

	c = dialFrom(t, "127.0.0.2", s.TCPAddr())
	c.send(append([]byte("PROXY TCP4 203.0.113.7 127.0.0.1 51234 1883\r\n"), connect311("spoof", true)...))
	c.expectClosed()
	proxyRefused(t, s, proxyproto.ReasonUntrusted, 1)
	// The refusal is logged with the peer that sent the header.
	want := `msg="protocol violation" remote=` + c.LocalAddr().String() + ` err="proxyproto: PROXY header from a peer`
	if !strings.Contains(logs.String(), want) {
		t.Fatalf("log lacks %s:\n%s", want, logs.String())
	}
}

// lockedLog is a log destination the loops may write while the test reads it.
type lockedLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// proxyWSConnect connects autopaho over ws:// to addr through a dialer that sends header first, and waits for the
// broker to see the client from want.
func proxyWSConnect(t *testing.T, auth *peerAuth, addr, id string, header []byte, want string,
	arrived chan<- *paho.Publish) *autopaho.ConnectionManager {
	t.Helper()
	u, _ := url.Parse("ws://" + addr + "/mqtt")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	dial := func(ctx context.Context, network, a string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, a)
		if err == nil {
			_, err = c.Write(header)
		}
		return c, err
	}
	cm, err := autopaho.NewConnection(ctx, autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{u},
		KeepAlive:                     30,
		CleanStartOnInitialConnection: true,
		ConnectTimeout:                5 * time.Second,
		ConnectRetryDelay:             time.Second,
		WebSocketCfg: &autopaho.WebSocketConfig{Dialer: func(*url.URL, *tls.Config) *websocket.Dialer {
			return &websocket.Dialer{NetDialContext: dial, Subprotocols: []string{"mqtt"}, HandshakeTimeout: 5 * time.Second}
		}},
		ClientConfig: paho.ClientConfig{ClientID: id, OnPublishReceived: []func(paho.PublishReceived) (bool, error){
			func(pr paho.PublishReceived) (bool, error) {
				if arrived != nil {
					arrived <- pr.Packet
				}
				return true, nil
			}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer dcancel()
		cm.Disconnect(dctx)
	})
	if err := cm.AwaitConnection(ctx); err != nil {
		t.Fatalf("ws connect %s: %v", id, err)
	}
	auth.expect(t, id, want)
	return cm
}

// TestProxyUnderWebSocket stacks the PROXY protocol under WebSocket: paho over ws:// behind a raw v2 header on the
// listener that sniffs MQTT and WebSocket on one port (the transport is sniffed after the header) and on a
// WebSocket-only listener, with raw MQTT behind a header on the sniffing port too; messages cross transports.
func TestProxyUnderWebSocket(t *testing.T) {
	for _, same := range []bool{true, false} {
		name := "sniffing listener"
		if !same {
			name = "websocket listener"
		}
		t.Run(name, func(t *testing.T) {
			auth := newPeerAuth()
			s := startWSBroker(t, func(o *Options) {
				o.ProxyProtocol = "required"
				o.ProxyTrustedCIDRs = []string{"127.0.0.1"}
				o.Authenticator = auth
				o.WSAcceptMQTT = same
				if same {
					o.TCPAddr = o.WSAddr
				}
			})
			arrived := make(chan *paho.Publish, 4)
			cm := proxyWSConnect(t, auth, s.WSAddr(), "wsc", ppV2(false, 0x11, "198.51.100.30:50001", "127.0.0.1:8083"),
				"198.51.100.30:50001", arrived)
			ctx := ctx5s(t)
			if _, err := cm.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "to-ws", QoS: 1}}}); err != nil {
				t.Fatal(err)
			}

			mqAddr := s.WSAddr()
			if !same {
				mqAddr = s.TCPAddr() // raw MQTT has its own listener
			}
			mq := dialRawAddr(t, mqAddr)
			hdr := []byte("PROXY TCP6 2001:db8::31 ::1 50002 1883\r\n")
			mq.send(append(hdr, connect311("tcpc", true)...))
			mq.expect([]byte{0x20, 0x02, 0x00, 0x00})
			auth.expect(t, "tcpc", "[2001:db8::31]:50002")
			mq.send([]byte{0x82, 0x0a, 0x00, 0x01, 0x00, 0x05, 't', 'o', '-', 't', 'c', 0x00})
			mq.expect([]byte{0x90, 0x03, 0x00, 0x01, 0x00})

			if _, err := cm.Publish(ctx, &paho.Publish{Topic: "to-tc", QoS: 1, Payload: []byte("from ws")}); err != nil {
				t.Fatal(err)
			}
			mq.expect(append([]byte{0x30, 0x0e, 0x00, 0x05, 't', 'o', '-', 't', 'c'}, "from ws"...))
			mq.send(append([]byte{0x30, 0x0e, 0x00, 0x05, 't', 'o', '-', 'w', 's'}, "from tc"...))
			select {
			case p := <-arrived:
				if p.Topic != "to-ws" || string(p.Payload) != "from tc" {
					t.Fatalf("ws got %s %q", p.Topic, p.Payload)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("ws client got nothing")
			}
			sn := s.stats()
			if sn.Connects[1] != 1 || (same && sn.Connects[0] != 1) {
				t.Fatalf("connections by transport %v", sn.Connects)
			}

			// An upgrade without a header is refused; so is a header from an untrusted peer.
			c := dialRawAddr(t, s.WSAddr())
			c.send([]byte("GET /mqtt HTTP/1.1\r\nHost: x\r\n\r\n"))
			c.expectClosed()
			proxyRefused(t, s, proxyproto.ReasonMissing, 1)
			c = dialFrom(t, "127.0.0.2", s.WSAddr())
			c.send(append(ppV2(false, 0x11, "198.51.100.30:50001", "127.0.0.1:8083"), "GET /mqtt HTTP/1.1\r\n"...))
			c.expectClosed()
			proxyRefused(t, s, proxyproto.ReasonUntrusted, 1)
		})
	}
}

// TestProxyThenForwardedFor: behind a PROXY header, the WebSocket layer sees the header's address as its peer, so
// X-Forwarded-For counts only when that address is a trusted WebSocket proxy.
func TestProxyThenForwardedFor(t *testing.T) {
	auth := newPeerAuth()
	s := startWSBroker(t, func(o *Options) {
		o.ProxyProtocol = "required"
		o.ProxyTrustedCIDRs = []string{"127.0.0.1"}
		o.WSTrustedProxies = []string{"10.1.0.0/16"}
		o.Authenticator = auth
	})
	for i, c := range []struct{ src, want string }{
		{"10.1.2.3:4000", "192.0.2.77:0"},          // a trusted reverse proxy: X-Forwarded-For names the client
		{"198.51.100.9:4001", "198.51.100.9:4001"}, // not one: X-Forwarded-For is ignored
	} {
		id := "xff" + strconv.Itoa(i)
		conn := dialRawAddr(t, s.WSAddr())
		conn.send(append(ppV2(false, 0x11, c.src, "127.0.0.1:8083"),
			wstest.UpgradeRequest(s.WSAddr(), "/mqtt", []string{"mqtt"}, "X-Forwarded-For: 192.0.2.77")...))
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		br := bufio.NewReader(conn.Conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("upgrade: %v %v", resp, err)
		}
		conn.SetReadDeadline(time.Time{})
		st := &rawConn{t: t, Conn: &wsStream{Conn: conn.Conn, r: br}}
		st.send(connect311(id, true))
		st.expect([]byte{0x20, 0x02, 0x00, 0x00})
		auth.expect(t, id, c.want)
	}
}
