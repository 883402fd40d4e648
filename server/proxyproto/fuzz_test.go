package proxyproto_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	pp "loopmq/server/proxyproto"
)

// FuzzParse checks that Parse never panics and keeps its contract on any bytes: errors are the
// package's *Error values, n stays within b and the protocol's bounds, the bytes after a header do
// not change it, a cut at any point asks for more or fails with the same error, and a parsed header
// re-encodes to the bytes it came from.
func FuzzParse(f *testing.F) {
	for _, fx := range fixtures() {
		f.Add(fx.raw, uint16(len(fx.raw)/2), byte(0))
	}
	captured, _ := filepath.Glob(filepath.Join("testdata", "haproxy", "*.bin"))
	for _, name := range captured {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw, uint16(len(raw)/3), byte(0))
	}
	f.Add(s("PROXY TCP6 ::ffff:1.2.3.4 1::2:3:4:5:6:7 1 2\r\n"), uint16(20), byte(0))
	f.Add(v2(0x21, 0x11, ip4("1.2.3.4", "5.6.7.8", 1, 2), tlv(0x20, []byte{1, 0, 0, 0, 0})), uint16(30), byte(1))
	f.Fuzz(func(t *testing.T, data []byte, cut uint16, flags byte) {
		cfg := pp.Config{IgnoreCRC32C: flags&1 != 0}
		if flags&2 != 0 {
			cfg.MaxV2Len = int(flags) * 4
		}
		maxV2 := pp.DefaultMaxV2Len
		if cfg.MaxV2Len > 0 {
			maxV2 = cfg.MaxV2Len
		}
		b := data[:len(data):len(data)]
		h, n, need, err := cfg.Parse(b)
		switch {
		case err != nil:
			if _, ok := err.(*pp.Error); !ok || n != 0 || need != 0 {
				t.Fatalf("error %T %v with n = %d, need = %d", err, err, n, need)
			}
		case need > 0:
			if n != 0 {
				t.Fatalf("need = %d with n = %d", need, n)
			}
		default:
			if n <= 0 || n > len(b) {
				t.Fatalf("n = %d for %d bytes", n, len(b))
			}
			checkComplete(t, b[:n], h, maxV2)
			h2, n2, need2, err2 := cfg.Parse(b[:n:n])
			if n2 != n || need2 != 0 || err2 != nil {
				t.Fatalf("the header alone: n = %d, need = %d, err = %v; with what follows: n = %d", n2, need2, err2, n)
			}
			if e := checkHeader(h2, h); e != nil {
				t.Fatalf("the header alone parses differently: %v", e)
			}
		}

		k := int(cut) % (len(b) + 1)
		hk, nk, needk, errk := cfg.Parse(b[:k:k])
		switch {
		case errk != nil && errk != err:
			t.Fatalf("cut at %d: %v; whole: %v", k, errk, err)
		case err == nil && need == 0 && k < n && (errk != nil || needk <= 0 || needk > n-k):
			t.Fatalf("cut at %d of a %d-byte header: n = %d, need = %d, err = %v", k, n, nk, needk, errk)
		case err == nil && need == 0 && k >= n:
			if nk != n || needk != 0 || errk != nil {
				t.Fatalf("cut at %d after a %d-byte header: n = %d, need = %d, err = %v", k, n, nk, needk, errk)
			}
			if e := checkHeader(hk, h); e != nil {
				t.Fatalf("cut at %d: %v", k, e)
			}
		case need > 0 && (errk != nil || needk <= 0):
			t.Fatalf("cut at %d of an incomplete header: need = %d, err = %v", k, needk, errk)
		}
	})
}

// checkComplete checks what must hold of every header Parse accepts: its size, its TLV block, and
// that it encodes back to its own bytes.
func checkComplete(t *testing.T, raw []byte, h pp.Header, maxV2 int) {
	t.Helper()
	switch h.Version {
	case 1:
		if len(raw) > pp.MaxV1Len || len(raw) < pp.MinV1Len || !bytes.HasSuffix(raw, s("\r\n")) {
			t.Fatalf("v1 header %q", raw)
		}
		if h.Family == pp.TCP4 || h.Family == pp.TCP6 {
			line := fmt.Sprintf("PROXY %s %s %s %d %d\r\n", h.Family, h.Src.Addr(), h.Dst.Addr(), h.Src.Port(), h.Dst.Port())
			h2, n2, _, err := pp.Parse(s(line))
			if err != nil || n2 != len(line) || h2.Src != h.Src || h2.Dst != h.Dst || h2.Family != h.Family {
				t.Fatalf("%q re-encoded as %q parses as %+v, %v", raw, line, h2, err)
			}
		} else if h.Src.IsValid() || h.Dst.IsValid() {
			t.Fatalf("v1 %s header with addresses %v %v", h.Family, h.Src, h.Dst)
		}
	case 2:
		if len(raw) < pp.V2HeaderLen || len(raw) > maxV2 || len(raw) != pp.V2HeaderLen+int(binary.BigEndian.Uint16(raw[14:])) {
			t.Fatalf("v2 header of %d bytes: %x", len(raw), raw)
		}
		size := 0
		for _, val := range h.TLVs.All() {
			size += 3 + len(val)
		}
		if size != len(h.TLVs) {
			t.Fatalf("TLV block of %d bytes holds TLVs of %d", len(h.TLVs), size)
		}
		if !h.Proxied() {
			return
		}
		var addr []byte
		if h.Family == pp.TCP4 || h.Family == pp.UDP4 {
			addr = ip4(h.Src.Addr().String(), h.Dst.Addr().String(), h.Src.Port(), h.Dst.Port())
		} else {
			addr = ip6(h.Src.Addr().String(), h.Dst.Addr().String(), h.Src.Port(), h.Dst.Port())
		}
		if again := v2(0x21, byte(h.Family), addr, h.TLVs); !bytes.Equal(again, raw) {
			t.Fatalf("header %x re-encodes as %x", raw, again)
		}
	default:
		t.Fatalf("version %d", h.Version)
	}
}
