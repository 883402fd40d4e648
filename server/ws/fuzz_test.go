package ws

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/gobwas/ws"

	"loopmq/server/ws/wstest"
)

// FuzzDeframe feeds arbitrary bytes, cut at arbitrary read boundaries, through a Deframer and checks it against
// refParse, the reference model of RFC 6455 framing: the same data, the same control frames at the same places,
// the same close code. So the deframer never panics, never reads outside its input (the race and bounds checks
// would catch it), and never delivers data that RFC 6455 forbids.
func FuzzDeframe(f *testing.F) {
	long := bytes.Repeat([]byte("x"), 300)
	seeds := [][]byte{
		wstest.Encode(wstest.Binary([]byte("hello"))),
		wstest.Encode(wstest.Binary(long), wstest.Control(ws.OpPing, []byte("p")), wstest.Binary(nil)),
		wstest.Encode(wstest.Frame{Op: ws.OpBinary, Payload: []byte("a")}, wstest.Control(ws.OpPong, nil),
			wstest.Frame{Fin: true, Op: ws.OpContinuation, Payload: []byte("b")}),
		wstest.Encode(wstest.Control(ws.OpClose, []byte("\x03\xe8ok")), wstest.Binary([]byte("after"))),
		wstest.Encode(wstest.Frame{Fin: true, Op: ws.OpBinary, Payload: []byte("abc"), LenBytes: 2}),
		wstest.Encode(wstest.Frame{Fin: true, Op: ws.OpBinary, Payload: long, LenBytes: 8, MSBSet: true}),
		wstest.Encode(wstest.Frame{Fin: true, Op: ws.OpText, Payload: []byte("t")}),
		wstest.Encode(wstest.Frame{Fin: true, Op: ws.OpBinary, Unmasked: true, Payload: []byte("u")}),
		wstest.Encode(wstest.Control(ws.OpClose, []byte{0x03, 0xe8, 0xff})),
	}
	for i, s := range seeds {
		f.Add(s, uint64(i), uint16(0))
		f.Add(s, uint64(i), uint16(100))
	}
	f.Fuzz(func(t *testing.T, in []byte, seed uint64, maxPayload uint16) {
		want := refParse(in, int(maxPayload))
		rng := rand.New(rand.NewPCG(seed, seed>>32))
		var cuts []int
		for c := 0; c < len(in); {
			c += 1 + rng.IntN(8)
			if c < len(in) {
				cuts = append(cuts, c)
			}
		}
		for _, chunks := range [][][]byte{{in}, split(in, cuts)} {
			d := Deframer{MaxPayload: int(maxPayload)}
			got := feed(&d, chunks...)
			if !bytes.Equal(got.data, want.data) {
				t.Fatalf("%d chunks: data %x, reference %x", len(chunks), got.data, want.data)
			}
			if !slices.Equal(got.events, want.events) {
				t.Fatalf("%d chunks: control frames %v, reference %v", len(chunks), got.events, want.events)
			}
			if got.code != want.code {
				t.Fatalf("%d chunks: close code %d, reference %d", len(chunks), got.code, want.code)
			}
		}
	})
}

// FuzzUpgrade feeds arbitrary requests to Upgrade. It must never panic, must keep its contract (need, Consumed,
// a well-formed response), and every request it accepts must be one that net/http reads as a valid WebSocket
// opening handshake of RFC 6455 §4.1, answered with a subprotocol the client offered.
func FuzzUpgrade(f *testing.F) {
	f.Add([]byte(req("/mqtt", nil)), false)
	f.Add([]byte(req("/mqtt", nil, "X-Forwarded-For: 203.0.113.7, 10.1.1.1", "X-Real-IP: 1.2.3.4")), true)
	f.Add([]byte(req("/mqtt?x=1", map[string]string{"Sec-WebSocket-Protocol": "mqttv3.1, mqtt-v5"})), false)
	f.Add([]byte(req("/mqtt", map[string]string{"Sec-WebSocket-Version": "8"})), false)
	f.Add([]byte(req("/other", nil, "Origin: https://app.example")), true)
	f.Add([]byte(strings.ReplaceAll(req("/mqtt", nil), "\r\n", "\n")), false)
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"), false)
	f.Fuzz(func(t *testing.T, in []byte, anyPath bool) {
		cfg := Config{
			AnyPath:            anyPath,
			AllowNoSubprotocol: anyPath,
			MaxHeaderBytes:     1024,
			AllowedOrigins:     []string{"https://app.example"},
			TrustedProxies:     []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		}
		res, need, err := Upgrade(&cfg, in, netip.MustParseAddrPort("10.0.0.1:1234"), nil)
		if need > 0 {
			if err != nil || res.Response != nil || res.Consumed != 0 {
				t.Fatalf("need %d with err %v res %+v", need, err, res)
			}
			return
		}
		if res.Consumed <= 0 || res.Consumed > len(in) {
			t.Fatalf("consumed %d of %d", res.Consumed, len(in))
		}
		if !bytes.HasPrefix(res.Response, []byte("HTTP/1.1 ")) || !bytes.HasSuffix(res.Response, []byte("\n")) {
			t.Fatalf("response %q", res.Response)
		}
		if res.OK != (err == nil) || res.OK != (res.Status == 101) {
			t.Fatalf("ok %v status %d err %v", res.OK, res.Status, err)
		}
		if !res.OK {
			return
		}
		r, rerr := http.ReadRequest(bufio.NewReader(bytes.NewReader(in[:res.Consumed])))
		if rerr != nil {
			t.Fatalf("accepted a request net/http refuses: %v\n%q", rerr, in[:res.Consumed])
		}
		key, kerr := base64.StdEncoding.DecodeString(r.Header.Get("Sec-WebSocket-Key"))
		switch {
		case r.Method != "GET" || !r.ProtoAtLeast(1, 1):
			t.Fatalf("accepted %s %s", r.Method, r.Proto)
		case len(r.Header.Values("Host")) > 0 || r.Host == "" && !bytes.Contains(bytes.ToLower(in), []byte("\nhost:")):
			t.Fatalf("accepted without exactly one Host: %q", in)
		case r.Header.Get("Sec-WebSocket-Version") != "13":
			t.Fatalf("accepted version %q", r.Header.Get("Sec-WebSocket-Version"))
		case kerr != nil || len(key) != 16:
			t.Fatalf("accepted key %q", r.Header.Get("Sec-WebSocket-Key"))
		case res.Subprotocol != "" && !offered(r.Header.Values("Sec-WebSocket-Protocol"), res.Subprotocol):
			t.Fatalf("chose %q, offered %q", res.Subprotocol, r.Header.Values("Sec-WebSocket-Protocol"))
		}
	})
}

func offered(values []string, p string) bool {
	for _, v := range values {
		for _, tok := range strings.Split(v, ",") {
			if strings.TrimSpace(tok) == p {
				return true
			}
		}
	}
	return false
}

type netipPrefix = netip.Prefix

func mustPrefix(s string) netip.Prefix     { return netip.MustParsePrefix(s) }
func mustAddrPort(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
