package proxyproto_test

import (
	"testing"

	pp "loopmq/server/proxyproto"
)

// TestSplitEveryByte feeds every fixture cut at every byte, the way a header arrives over TCP in
// pieces: a prefix of a good header asks for more (need > 0, never more than is missing) and the
// whole header gives the same result however it was cut; a prefix of a bad one asks for more or
// fails with the very error of the whole.
func TestSplitEveryByte(t *testing.T) {
	for _, fx := range fixtures() {
		t.Run(fx.name, func(t *testing.T) {
			full, fullN, _, fullErr := fx.cfg.Parse(fx.raw)
			for k := 0; k <= len(fx.raw); k++ {
				b := fx.raw[:k:k] // no spare capacity: nothing may be read past the cut
				h, n, need, err := fx.cfg.Parse(b)
				if fx.err != nil {
					if err != nil && err != fx.err {
						t.Fatalf("cut at %d: err = %v, the whole gives %v", k, err, fx.err)
					}
					if err == nil && (need <= 0 || n != 0) {
						t.Fatalf("cut at %d: no error, n = %d, need = %d", k, n, need)
					}
					continue
				}
				if k < fx.n {
					if err != nil || need <= 0 || n != 0 {
						t.Fatalf("cut at %d of a %d-byte header: n = %d, need = %d, err = %v", k, fx.n, n, need, err)
					}
					if need > fx.n-k {
						t.Fatalf("cut at %d of a %d-byte header: need = %d, more than is missing", k, fx.n, need)
					}
					if k >= pp.V2HeaderLen && fx.raw[0] == '\r' && need != fx.n-k {
						t.Fatalf("cut at %d of a %d-byte v2 header: need = %d, want exactly %d", k, fx.n, need, fx.n-k)
					}
					continue
				}
				if err != fullErr || need != 0 || n != fullN {
					t.Fatalf("cut at %d: n = %d, need = %d, err = %v; whole: n = %d, err = %v", k, n, need, err, fullN, fullErr)
				}
				if e := checkHeader(h, full); e != nil {
					t.Fatalf("cut at %d: %v", k, e)
				}
			}
		})
	}
}

// TestFailsEarly checks that bad headers are refused on the byte that breaks the rule, before the
// rest arrives (§2.1: "abort the connection as soon as possible").
func TestFailsEarly(t *testing.T) {
	for _, c := range []struct {
		raw []byte
		err error
	}{
		{s("G"), pp.ErrNotProxy},
		{[]byte{0x10}, pp.ErrNotProxy},
		{s("PROXX"), pp.ErrNotProxy},
		{s("PROXY X"), pp.ErrV1Protocol},
		{s("PROXY TCP4\r"), pp.ErrV1Protocol},
		{s("PROXY TCP4 1.2.3.4\n"), pp.ErrV1LineEnd},
		{s("PROXY TCP4 1.2\r3"), pp.ErrV1LineEnd},
		{s("\r\n\r\n\x00\r\nQ"), nil},
		{s("\r\n\r\n\x00\r\nX"), pp.ErrNotProxy},
		{s(sig + "\x10"), pp.ErrV2Version},
		{s(sig + "\x23"), pp.ErrV2Command},
		{s(sig + "\x21\x14"), pp.ErrV2Family},
		{s(sig + "\x21\x11\x00"), nil},
		{s(sig + "\x21\x11\x00\x0b"), pp.ErrV2AddrLen},
		{s(sig + "\x21\x11\xff\xff"), pp.ErrV2TooLarge},
	} {
		_, _, need, err := pp.Parse(c.raw)
		if err != c.err || (err == nil && need <= 0) {
			t.Errorf("Parse(%q): need = %d, err = %v; want err = %v", c.raw, need, err, c.err)
		}
	}
}

func TestParseEmpty(t *testing.T) {
	_, n, need, err := pp.Parse(nil)
	if n != 0 || need != pp.MinV1Len || err != nil {
		t.Fatalf("Parse(nil) = n %d, need %d, err %v; want need %d", n, need, err, pp.MinV1Len)
	}
}
