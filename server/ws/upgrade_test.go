package ws

import (
	"bytes"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"loopmq/server/ws/wstest"
)

const sampleKey = "dGhlIHNhbXBsZSBub25jZQ==" // RFC 6455 §1.3's example; its accept value is below

var peer = netip.MustParseAddrPort("192.0.2.10:50000")

// req builds an upgrade request: the standard headers, with replacements (a value "" drops the header) and extras.
func req(target string, replace map[string]string, extra ...string) string {
	std := []struct{ k, v string }{
		{"Host", "broker.example:8083"},
		{"Upgrade", "websocket"},
		{"Connection", "Upgrade"},
		{"Sec-WebSocket-Key", sampleKey},
		{"Sec-WebSocket-Version", "13"},
		{"Sec-WebSocket-Protocol", "mqtt"},
	}
	var b strings.Builder
	b.WriteString("GET " + target + " HTTP/1.1\r\n")
	for _, h := range std {
		v, ok := replace[h.k]
		if !ok {
			v = h.v
		}
		if v != "" {
			b.WriteString(h.k + ": " + v + "\r\n")
		}
	}
	for _, e := range extra {
		b.WriteString(e + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

func TestUpgradeAccepts(t *testing.T) {
	raw := req("/mqtt", nil)
	frames := wstest.Encode(wstest.Binary([]byte{0x10, 0x00}))
	buf := append([]byte(raw), frames...)
	res, need, err := Upgrade(&Config{}, buf, peer, []byte("prefix:"))
	if err != nil || need != 0 || !res.OK {
		t.Fatalf("res %+v need %d err %v", res, need, err)
	}
	want := "prefix:HTTP/1.1 101 Switching Protocols\r\n" +
		"Upgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" +
		"Sec-WebSocket-Protocol: mqtt\r\n\r\n"
	if string(res.Response) != want {
		t.Fatalf("response\n%q\nwant\n%q", res.Response, want)
	}
	if res.Consumed != len(raw) || res.Status != 101 || res.Subprotocol != "mqtt" || res.Client != peer {
		t.Fatalf("res %+v, want consumed %d, mqtt, client %v", res, len(raw), peer)
	}
	if nilRes, _, err := Upgrade(nil, buf, peer, []byte("prefix:")); err != nil || string(nilRes.Response) != want {
		t.Fatalf("nil Config: %q %v", nilRes.Response, err)
	}
	// The pipelined frame after the request is left for the deframer.
	var d Deframer
	if got := feed(&d, buf[res.Consumed:]); !bytes.Equal(got.data, []byte{0x10, 0x00}) {
		t.Fatalf("pipelined frame gave %q", got.data)
	}
}

// TestUpgradeIncomplete feeds every proper prefix of a request: each must ask for more bytes and consume nothing.
func TestUpgradeIncomplete(t *testing.T) {
	raw := req("/mqtt", nil)
	for i := 0; i < len(raw); i++ {
		res, need, err := Upgrade(&Config{}, []byte(raw[:i]), peer, nil)
		if need <= 0 || err != nil || res.Response != nil || res.Consumed != 0 {
			t.Fatalf("prefix %d: need %d err %v res %+v", i, need, err, res)
		}
		if i+need > len(raw) {
			t.Fatalf("prefix %d: need %d overshoots the %d bytes that complete it", i, need, len(raw))
		}
	}
	if _, need, err := Upgrade(&Config{}, []byte(strings.ReplaceAll(raw, "\r\n", "\n")), peer, nil); need != 0 || err != nil {
		t.Fatalf("bare LF line ends: need %d err %v", need, err)
	}
}

func TestUpgradeSizeLimit(t *testing.T) {
	big := req("/mqtt", nil, "Cookie: "+strings.Repeat("a", 9000))
	tests := []struct {
		name   string
		cfg    Config
		in     string
		status int
	}{
		{"complete request over the default 8 KiB", Config{}, big, 431},
		{"incomplete request already over the limit", Config{}, big[:8200], 431},
		{"incomplete request at the limit exactly", Config{MaxHeaderBytes: 100}, big[:100], 431},
		{"raised limit", Config{MaxHeaderBytes: 16384}, big, 101},
	}
	for _, tt := range tests {
		res, need, err := Upgrade(&tt.cfg, []byte(tt.in), peer, nil)
		if need != 0 || res.Status != tt.status {
			t.Errorf("%s: status %d need %d err %v, want %d", tt.name, res.Status, need, err, tt.status)
		}
		if tt.status == 431 && !bytes.HasPrefix(res.Response, []byte("HTTP/1.1 431 Request Header Fields Too Large\r\n")) {
			t.Errorf("%s: response %q", tt.name, res.Response)
		}
	}
}

// TestUpgradeRejects covers each rule of RFC 6455 §4.2.1 and each policy of Config, with the exact status.
func TestUpgradeRejects(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		in   string
		want *UpgradeError
	}{
		{name: "POST", in: strings.Replace(req("/mqtt", nil), "GET", "POST", 1), want: ErrMethod},
		{name: "lower-case method", in: strings.Replace(req("/mqtt", nil), "GET", "get", 1), want: ErrMethod},
		{name: "HTTP/1.0", in: strings.Replace(req("/mqtt", nil), "HTTP/1.1", "HTTP/1.0", 1), want: ErrHTTPVersion},
		{name: "HTTP/2.0 text", in: strings.Replace(req("/mqtt", nil), "HTTP/1.1", "HTTP/2.0", 1), want: ErrHTTPVersion},
		{name: "garbage version", in: strings.Replace(req("/mqtt", nil), "HTTP/1.1", "HTTQ/1.1", 1), want: ErrBadRequestLine},
		{name: "two spaces in request line", in: strings.Replace(req("/mqtt", nil), "GET ", "GET  ", 1), want: ErrBadRequestLine},
		{name: "no version", in: strings.Replace(req("/mqtt", nil), " HTTP/1.1", "", 1), want: ErrBadRequestLine},
		{name: "wrong path", in: req("/ws", nil), want: ErrNotFound},
		{name: "path prefix is not the path", in: req("/mqtt/x", nil), want: ErrNotFound},
		{name: "configured path", cfg: Config{Path: "/ws"}, in: req("/mqtt", nil), want: ErrNotFound},
		{name: "no Host", in: req("/mqtt", map[string]string{"Host": ""}), want: ErrHost},
		{name: "two Hosts", in: req("/mqtt", nil, "Host: other"), want: ErrHost},
		{name: "no Upgrade", in: req("/mqtt", map[string]string{"Upgrade": ""}), want: ErrUpgradeHeader},
		{name: "Upgrade: h2c", in: req("/mqtt", map[string]string{"Upgrade": "h2c"}), want: ErrUpgradeHeader},
		{name: "no Connection", in: req("/mqtt", map[string]string{"Connection": ""}), want: ErrConnection},
		{name: "Connection: keep-alive only", in: req("/mqtt", map[string]string{"Connection": "keep-alive"}), want: ErrConnection},
		{name: "no key", in: req("/mqtt", map[string]string{"Sec-WebSocket-Key": ""}), want: ErrKey},
		{name: "key not base64", in: req("/mqtt", map[string]string{"Sec-WebSocket-Key": "!!!!!!!!!!!!!!!!!!!!!!=="}), want: ErrKey},
		{name: "key of 15 bytes", in: req("/mqtt", map[string]string{"Sec-WebSocket-Key": "AAAAAAAAAAAAAAAAAAAA"}), want: ErrKey},
		{name: "key of 17 bytes", in: req("/mqtt", map[string]string{"Sec-WebSocket-Key": "AAAAAAAAAAAAAAAAAAAAAAA="}), want: ErrKey},
		{name: "two keys", in: req("/mqtt", nil, "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA=="), want: ErrKey},
		{name: "no version", in: req("/mqtt", map[string]string{"Sec-WebSocket-Version": ""}), want: ErrVersion},
		{name: "version 8", in: req("/mqtt", map[string]string{"Sec-WebSocket-Version": "8"}), want: ErrVersion},
		{name: "version 013", in: req("/mqtt", map[string]string{"Sec-WebSocket-Version": "013"}), want: ErrVersion},
		{name: "no subprotocol", in: req("/mqtt", map[string]string{"Sec-WebSocket-Protocol": ""}), want: ErrSubprotocol},
		{name: "only foreign subprotocols", in: req("/mqtt", map[string]string{"Sec-WebSocket-Protocol": "chat, superchat"}), want: ErrSubprotocol},
		{name: "subprotocol names are case-sensitive", in: req("/mqtt", map[string]string{"Sec-WebSocket-Protocol": "MQTT"}), want: ErrSubprotocol},
		{name: "foreign offer with AllowNoSubprotocol", cfg: Config{AllowNoSubprotocol: true}, in: req("/mqtt", map[string]string{"Sec-WebSocket-Protocol": "chat"}), want: ErrSubprotocol},
		{name: "malformed subprotocol list", in: req("/mqtt", map[string]string{"Sec-WebSocket-Protocol": "mqtt; v=1"}), want: ErrBadHeader},
		{name: "space before colon", in: req("/mqtt", nil, "Origin : http://a"), want: ErrBadHeader},
		{name: "folded header line", in: req("/mqtt", nil, "X-A: b", " c"), want: ErrBadHeader},
		{name: "no colon", in: req("/mqtt", nil, "Broken"), want: ErrBadHeader},
		{name: "NUL in a value", in: req("/mqtt", nil, "X-A: b\x00"), want: ErrBadHeader},
		{name: "request body by length", in: req("/mqtt", nil, "Content-Length: 5"), want: ErrRequestBody},
		{name: "request body chunked", in: req("/mqtt", nil, "Transfer-Encoding: chunked"), want: ErrRequestBody},
		{name: "origin not allowed", cfg: Config{AllowedOrigins: []string{"https://app.example"}}, in: req("/mqtt", nil, "Origin: https://evil.example"), want: ErrOrigin},
		{name: "origin with other port", cfg: Config{AllowedOrigins: []string{"https://app.example"}}, in: req("/mqtt", nil, "Origin: https://app.example:8443"), want: ErrOrigin},
		{name: "origin with other scheme", cfg: Config{AllowedOrigins: []string{"https://app.example"}}, in: req("/mqtt", nil, "Origin: http://app.example"), want: ErrOrigin},
		{name: "origin null", cfg: Config{AllowedOrigins: []string{"https://app.example"}}, in: req("/mqtt", nil, "Origin: null"), want: ErrOrigin},
		{name: "two origins", cfg: Config{AllowedOrigins: []string{"https://app.example"}}, in: req("/mqtt", nil, "Origin: https://app.example", "Origin: https://app.example"), want: ErrOrigin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, need, err := Upgrade(&tt.cfg, []byte(tt.in), peer, nil)
			if need != 0 || res.OK || !errors.Is(err, tt.want) {
				t.Fatalf("need %d ok %v err %v, want %v", need, res.OK, err, tt.want)
			}
			if res.Status != tt.want.Status || res.Consumed != len(tt.in) {
				t.Fatalf("status %d consumed %d, want %d %d", res.Status, res.Consumed, tt.want.Status, len(tt.in))
			}
			head, body, _ := strings.Cut(string(res.Response), "\r\n\r\n")
			if !strings.HasPrefix(head, "HTTP/1.1 "+strconv.Itoa(tt.want.Status)+" ") || !strings.Contains(head, "\r\nConnection: close") {
				t.Fatalf("response head %q", head)
			}
			if !strings.Contains(head, "\r\nContent-Length: "+strconv.Itoa(len(body))) {
				t.Fatalf("Content-Length does not match body %q in %q", body, head)
			}
			if tt.want.Status == 426 && !strings.Contains(head, "\r\nSec-WebSocket-Version: 13") {
				t.Fatalf("426 without Sec-WebSocket-Version: %q", head)
			}
		})
	}
}

// TestUpgradeTolerates checks variations that RFC 6455 and RFC 7230 allow.
func TestUpgradeTolerates(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		in   string
		sub  string
	}{
		{
			name: "header names in any case",
			in: strings.NewReplacer("Host:", "HOST:", "Upgrade:", "upgrade:", "Sec-WebSocket-Key:", "sec-websocket-key:",
				"Sec-WebSocket-Protocol:", "SEC-WEBSOCKET-PROTOCOL:").Replace(req("/mqtt", nil)),
			sub: "mqtt",
		},
		{name: "Connection list with keep-alive (Firefox)", in: req("/mqtt", map[string]string{"Connection": "keep-alive, Upgrade"}), sub: "mqtt"},
		{name: "Upgrade in another case", in: req("/mqtt", map[string]string{"Upgrade": "WebSocket"}), sub: "mqtt"},
		{name: "query string", in: req("/mqtt?token=abc", nil), sub: "mqtt"},
		{name: "absolute-form target", in: req("http://broker.example:8083/mqtt", nil), sub: "mqtt"},
		{name: "any path", cfg: Config{AnyPath: true}, in: req("/anything/at/all", nil), sub: "mqtt"},
		{name: "configured path", cfg: Config{Path: "/ws"}, in: req("/ws", nil), sub: "mqtt"},
		{name: "HTTP/1.2", in: strings.Replace(req("/mqtt", nil), "HTTP/1.1", "HTTP/1.2", 1), sub: "mqtt"},
		{name: "no subprotocol allowed", cfg: Config{AllowNoSubprotocol: true}, in: req("/mqtt", map[string]string{"Sec-WebSocket-Protocol": ""}), sub: ""},
		{name: "allowed origin", cfg: Config{AllowedOrigins: []string{"https://App.Example/"}}, in: req("/mqtt", nil, "Origin: https://app.example"), sub: "mqtt"},
		{name: "no origin with an allow-list", cfg: Config{AllowedOrigins: []string{"https://app.example"}}, in: req("/mqtt", nil), sub: "mqtt"},
		{name: "any origin without an allow-list", in: req("/mqtt", nil, "Origin: https://evil.example"), sub: "mqtt"},
		{name: "empty body declared", in: req("/mqtt", nil, "Content-Length: 0"), sub: "mqtt"},
		{name: "extension offer ignored", in: req("/mqtt", nil, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"), sub: "mqtt"},
	}
	for _, tt := range tests {
		res, need, err := Upgrade(&tt.cfg, []byte(tt.in), peer, nil)
		if err != nil || need != 0 || !res.OK || res.Subprotocol != tt.sub {
			t.Errorf("%s: ok %v sub %q err %v, want subprotocol %q", tt.name, res.OK, res.Subprotocol, err, tt.sub)
			continue
		}
		if hasHeader := strings.Contains(string(res.Response), "Sec-WebSocket-Protocol:"); hasHeader != (tt.sub != "") {
			t.Errorf("%s: response %q", tt.name, res.Response)
		}
	}
}

// TestSubprotocolNegotiation: prefer mqtt, then mqttv3.1, then the EMQX names; never answer what was not offered.
func TestSubprotocolNegotiation(t *testing.T) {
	tests := []struct {
		offer []string // one Sec-WebSocket-Protocol header per element
		want  string
	}{
		{[]string{"mqtt"}, "mqtt"},
		{[]string{"mqttv3.1"}, "mqttv3.1"},
		{[]string{"mqttv3.1.1"}, "mqttv3.1.1"},
		{[]string{"mqtt-v5"}, "mqtt-v5"},
		{[]string{"mqttv3.1, mqtt"}, "mqtt"},
		{[]string{"mqtt-v5,mqttv3.1.1 ,  mqttv3.1"}, "mqttv3.1"},
		{[]string{"chat, mqtt-v5"}, "mqtt-v5"},
		{[]string{"mqttv3.1", "mqtt"}, "mqtt"},
		{[]string{"chat", "mqttv3.1.1"}, "mqttv3.1.1"},
		{[]string{"mqtt,,mqttv3.1"}, "mqtt"},
	}
	for _, tt := range tests {
		var extra []string
		for _, o := range tt.offer {
			extra = append(extra, "Sec-WebSocket-Protocol: "+o)
		}
		in := req("/mqtt", map[string]string{"Sec-WebSocket-Protocol": ""}, extra...)
		res, _, err := Upgrade(&Config{}, []byte(in), peer, nil)
		if err != nil || res.Subprotocol != tt.want {
			t.Errorf("offer %q: got %q err %v, want %q", tt.offer, res.Subprotocol, err, tt.want)
			continue
		}
		if !strings.Contains(string(res.Response), "\r\nSec-WebSocket-Protocol: "+tt.want+"\r\n") {
			t.Errorf("offer %q: response %q", tt.offer, res.Response)
		}
	}
}

func TestTrustedProxies(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:1::/48")}
	proxyPeer := netip.MustParseAddrPort("10.1.2.3:40000")
	tests := []struct {
		name  string
		peer  netip.AddrPort
		extra []string
		want  string
	}{
		{"untrusted peer's header ignored", peer, []string{"X-Forwarded-For: 203.0.113.7"}, "192.0.2.10:50000"},
		{"trusted proxy names the client", proxyPeer, []string{"X-Forwarded-For: 203.0.113.7"}, "203.0.113.7:0"},
		{"v4-mapped proxy peer is trusted", netip.MustParseAddrPort("[::ffff:10.1.2.3]:1"), []string{"X-Forwarded-For: 203.0.113.7"}, "203.0.113.7:0"},
		{"rightmost untrusted hop wins over a spoofed left entry", proxyPeer, []string{"X-Forwarded-For: 6.6.6.6, 203.0.113.7, 10.9.9.9"}, "203.0.113.7:0"},
		{"repeated headers read as one list", proxyPeer, []string{"X-Forwarded-For: 6.6.6.6", "X-Forwarded-For: 203.0.113.7, 10.9.9.9"}, "203.0.113.7:0"},
		{"all hops trusted: the leftmost", proxyPeer, []string{"X-Forwarded-For: 10.7.7.7, 10.9.9.9"}, "10.7.7.7:0"},
		{"garbage at the rightmost untrusted hop: the peer", proxyPeer, []string{"X-Forwarded-For: 203.0.113.7, unknown, 10.9.9.9"}, "10.1.2.3:40000"},
		{"IPv6 with port in brackets", proxyPeer, []string{"X-Forwarded-For: [2001:db8:2::5]:4711"}, "[2001:db8:2::5]:4711"},
		{"IPv6 plain", proxyPeer, []string{"X-Forwarded-For: 2001:db8:2::5, 2001:db8:1::1"}, "[2001:db8:2::5]:0"},
		{"IPv4 with port", proxyPeer, []string{"X-Forwarded-For: 203.0.113.7:1234"}, "203.0.113.7:1234"},
		{"X-Real-IP when no X-Forwarded-For", proxyPeer, []string{"X-Real-IP: 198.51.100.1"}, "198.51.100.1:0"},
		{"X-Forwarded-For before X-Real-IP", proxyPeer, []string{"X-Real-IP: 198.51.100.1", "X-Forwarded-For: 203.0.113.7"}, "203.0.113.7:0"},
		{"bad X-Real-IP: the peer", proxyPeer, []string{"X-Real-IP: nonsense"}, "10.1.2.3:40000"},
		{"no header: the peer", proxyPeer, nil, "10.1.2.3:40000"},
	}
	for _, tt := range tests {
		cfg := Config{TrustedProxies: proxies}
		res, _, err := Upgrade(&cfg, []byte(req("/mqtt", nil, tt.extra...)), tt.peer, nil)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got := res.Client.String(); got != tt.want {
			t.Errorf("%s: client %s, want %s", tt.name, got, tt.want)
		}
	}
}
