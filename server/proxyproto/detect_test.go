package proxyproto_test

import (
	"testing"

	pp "loopmq/server/proxyproto"
)

func TestDetect(t *testing.T) {
	for _, c := range []struct {
		in               string
		isProxy, decided bool
	}{
		{"", false, false},
		{"P", false, false},
		{"PROXY", false, false},
		{"PROXY ", true, true},
		{"PROXY TCP4 1.2.3.4", true, true},
		{"PROXX", false, true},
		{"PROXY\r\n", false, true},
		{"\x10\x0c\x00\x04MQTT", false, true}, // MQTT CONNECT: decided on the first byte
		{"\x16\x03\x01", false, true},         // TLS ClientHello
		{"GET / HTTP/1.1\r\n", false, true},
		{"\r", false, false},
		{"\r\n\r\n\x00\r\nQUIT", false, false},
		{sig, true, true},
		{sig + "\x21\x11\x00\x0c", true, true},
		{sig[:11] + "X", false, true},
		{"\r\n\r\n\r\n", false, true},
	} {
		isProxy, decided := pp.Detect([]byte(c.in))
		if isProxy != c.isProxy || decided != c.decided {
			t.Errorf("Detect(%q) = %v, %v; want %v, %v", c.in, isProxy, decided, c.isProxy, c.decided)
		}
	}
}

// TestDetectFixtures checks that Detect agrees with Parse on every fixture and every prefix of it:
// whatever Detect calls a header Parse does not refuse as ErrNotProxy, and the reverse.
func TestDetectFixtures(t *testing.T) {
	for _, fx := range fixtures() {
		for k := 0; k <= len(fx.raw); k++ {
			b := fx.raw[:k]
			isProxy, decided := pp.Detect(b)
			_, _, _, err := pp.Parse(b)
			if decided && !isProxy && err != pp.ErrNotProxy {
				t.Fatalf("%s cut at %d: Detect says not PROXY, Parse says %v", fx.name, k, err)
			}
			if isProxy && err == pp.ErrNotProxy {
				t.Fatalf("%s cut at %d: Detect says PROXY, Parse says %v", fx.name, k, err)
			}
		}
	}
}
