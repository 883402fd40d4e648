package proxyproto_test

import (
	"bytes"
	"testing"

	pp "loopmq/server/proxyproto"
)

func TestTLVs(t *testing.T) {
	raw := v2(0x21, 0x11, ip4("192.0.2.10", "198.51.100.1", 1, 2),
		tlv(0x01, s("mqtt")), tlv(0xEA, s("vpce-1")), tlv(0x04, nil), tlv(0xEA, s("second")),
		ssl(0x01, 0, tlv(0x21, s("TLSv1.3")), tlv(0x2A, s("x"))))
	h, _, _, err := pp.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	type kv struct {
		typ pp.TLVType
		val string
	}
	var got []kv
	for typ, val := range h.TLVs.All() {
		got = append(got, kv{typ, string(val)})
	}
	want := []kv{{0x01, "mqtt"}, {0xEA, "vpce-1"}, {0x04, ""}, {0xEA, "second"}, {0x20, "\x01\x00\x00\x00\x00\x21\x00\x07TLSv1.3\x2a\x00\x01x"}}
	if len(got) != len(want) {
		t.Fatalf("All() = %q, want %q", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("All()[%d] = %q, want %q", i, got[i], want[i])
		}
	}
	if v, ok := h.TLVs.Lookup(0xEA); !ok || string(v) != "vpce-1" {
		t.Errorf("Lookup(0xEA) = %q, %v; want the first one", v, ok)
	}
	if _, ok := h.TLVs.Lookup(0x05); ok {
		t.Error("Lookup(0x05) found a TLV that is not there")
	}
	if v, ok := h.SSL.Sub.Lookup(0x2A); !ok || string(v) != "x" {
		t.Errorf("SSL.Sub.Lookup(0x2A) = %q, %v", v, ok)
	}
	// Views, not copies: they see the buffer change.
	i := bytes.Index(raw, s("mqtt"))
	raw[i] = 'M'
	if string(h.ALPN) != "Mqtt" {
		t.Errorf("ALPN = %q after the buffer changed; want a view into it", h.ALPN)
	}
	// A broken block (as a caller might build) stops the iteration instead of panicking.
	n := 0
	for range pp.TLVs([]byte{0x01, 0, 1, 'a', 0x02, 0, 9}).All() {
		n++
	}
	if n != 1 {
		t.Errorf("All() over a cut block yielded %d TLVs, want 1", n)
	}
}

func TestProxiedAndVerified(t *testing.T) {
	for _, c := range []struct {
		raw     []byte
		proxied bool
	}{
		{s("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), true},
		{s("PROXY TCP6 ::1 ::2 1 2\r\n"), true},
		{s("PROXY UNKNOWN\r\n"), false},
		{v2(0x21, 0x11, ip4("1.2.3.4", "5.6.7.8", 1, 2)), true},
		{v2(0x21, 0x22, ip6("::1", "::2", 1, 2)), true},
		{v2(0x20, 0x11, ip4("1.2.3.4", "5.6.7.8", 1, 2)), false},
		{v2(0x21, 0x00), false},
		{v2(0x21, 0x31, unixAddrs("/a", "/b")), false},
	} {
		h, _, _, err := pp.Parse(c.raw)
		if err != nil {
			t.Fatalf("Parse(%q): %v", c.raw, err)
		}
		if h.Proxied() != c.proxied {
			t.Errorf("Parse(%q).Proxied() = %v, want %v", c.raw, h.Proxied(), c.proxied)
		}
	}
	for _, c := range []struct {
		client byte
		verify uint32
		want   bool
	}{{0x07, 0, true}, {0x03, 0, true}, {0x01, 0, false}, {0x03, 1, false}, {0x05, 0, false}} {
		h, _, _, err := pp.Parse(v2(0x21, 0x00, ssl(c.client, c.verify)))
		if err != nil {
			t.Fatal(err)
		}
		if h.SSL.VerifiedClientCert() != c.want {
			t.Errorf("client %#x verify %d: VerifiedClientCert() = %v, want %v", c.client, c.verify, !c.want, c.want)
		}
	}
}

func TestStrings(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{pp.Local.String(), "LOCAL"}, {pp.Proxy.String(), "PROXY"}, {pp.Command(7).String(), "Command(7)"},
		{pp.TCP4.String(), "TCP4"}, {pp.TCP6.String(), "TCP6"}, {pp.UDP4.String(), "UDP4"}, {pp.UDP6.String(), "UDP6"},
		{pp.UnixStream.String(), "UNIX-STREAM"}, {pp.UnixDgram.String(), "UNIX-DGRAM"}, {pp.Unknown.String(), "UNKNOWN"},
		{pp.Family(0x41).String(), "Family(65)"},
		{pp.ErrV2CRC32C.Error(), "proxyproto: v2 CRC32c checksum does not match the header [§2.2.3]"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
