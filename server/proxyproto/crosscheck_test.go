package proxyproto_test

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"

	pires "github.com/pires/go-proxyproto"
	"github.com/pires/go-proxyproto/tlvparse"

	pp "loopmq/server/proxyproto"
)

// The cross-checks compare this package with github.com/pires/go-proxyproto, the PROXY protocol
// library most Go servers use: headers it writes must parse here to the same values, and the
// fixtures must get the same verdict from both except where a difference is listed and explained.

func randAddr(r *rand.Rand, v6 bool) netip.Addr {
	if !v6 {
		return netip.AddrFrom4([4]byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())})
	}
	var a [16]byte
	for i := range a {
		if r.IntN(3) > 0 { // runs of zero groups, so that "::" is exercised
			a[i] = byte(r.Uint32())
		}
	}
	if r.IntN(8) == 0 {
		return netip.AddrFrom16(netip.AddrFrom4([4]byte{10, byte(r.Uint32()), 0, 1}).As16()) // IPv4-mapped
	}
	return netip.AddrFrom16(a)
}

func randTLVs(r *rand.Rand) ([]pires.TLV, map[pp.TLVType][]byte) {
	var tlvs []pires.TLV
	want := map[pp.TLVType][]byte{}
	str := func(n int) []byte {
		b := make([]byte, 1+r.IntN(n))
		for i := range b {
			b[i] = byte('a' + r.IntN(26))
		}
		return b
	}
	for _, typ := range []pp.TLVType{pp.TypeALPN, pp.TypeAuthority, pp.TypeUniqueID, pp.TypeNetNS, pp.TypeNoop, 0xEA} {
		if r.IntN(2) == 0 {
			v := str(40)
			tlvs = append(tlvs, pires.TLV{Type: pires.PP2Type(typ), Value: v})
			want[typ] = v
		}
	}
	if r.IntN(2) == 0 {
		s := tlvparse.PP2SSL{Client: byte(r.IntN(8)), Verify: uint32(r.IntN(2))}
		for _, sub := range []pp.TLVType{pp.SubtypeSSLVersion, pp.SubtypeSSLCN, pp.SubtypeSSLCipher, pp.SubtypeSSLSigAlg,
			pp.SubtypeSSLKeyAlg, pp.SubtypeSSLGroup, pp.SubtypeSSLSigScheme, pp.SubtypeSSLClientCert} {
			if r.IntN(2) == 0 {
				v := str(60)
				s.TLV = append(s.TLV, pires.TLV{Type: pires.PP2Type(sub), Value: v})
				want[sub] = v
			}
		}
		t, err := s.Marshal()
		if err != nil {
			panic(err)
		}
		tlvs = append(tlvs, t)
		want[pp.TypeSSL] = t.Value
	}
	return tlvs, want
}

func sslField(s *pp.SSL, typ pp.TLVType) []byte {
	switch typ {
	case pp.SubtypeSSLVersion:
		return s.Version
	case pp.SubtypeSSLCN:
		return s.CN
	case pp.SubtypeSSLCipher:
		return s.Cipher
	case pp.SubtypeSSLSigAlg:
		return s.SigAlg
	case pp.SubtypeSSLKeyAlg:
		return s.KeyAlg
	case pp.SubtypeSSLGroup:
		return s.Group
	case pp.SubtypeSSLSigScheme:
		return s.SigScheme
	case pp.SubtypeSSLClientCert:
		return s.ClientCert
	}
	return nil
}

// TestCrossCheckPiresWrites parses headers written by go-proxyproto: v1 and v2, every family,
// LOCAL, and random TLVs including SSL sub-TLVs.
func TestCrossCheckPiresWrites(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	families := []pires.AddressFamilyAndProtocol{pires.TCPv4, pires.TCPv6, pires.UDPv4, pires.UDPv6, pires.UnixStream, pires.UnixDatagram}
	for i := range 2000 {
		version := byte(1 + i%2)
		fam := families[r.IntN(len(families))]
		if version == 1 {
			fam = families[r.IntN(2)]
		}
		var src, dst net.Addr
		switch {
		case fam.IsUnix():
			src = &net.UnixAddr{Net: "unix", Name: fmt.Sprintf("/run/c%d.sock", r.IntN(1000))}
			dst = &net.UnixAddr{Net: "unix", Name: "/run/loopmq.sock"}
		case fam.IsStream():
			v6 := fam.IsIPv6()
			src = net.TCPAddrFromAddrPort(netip.AddrPortFrom(randAddr(r, v6), uint16(r.Uint32())))
			dst = net.TCPAddrFromAddrPort(netip.AddrPortFrom(randAddr(r, v6), uint16(r.Uint32())))
		default:
			v6 := fam.IsIPv6()
			src = net.UDPAddrFromAddrPort(netip.AddrPortFrom(randAddr(r, v6), uint16(r.Uint32())))
			dst = net.UDPAddrFromAddrPort(netip.AddrPortFrom(randAddr(r, v6), uint16(r.Uint32())))
		}
		ph := &pires.Header{Version: version, Command: pires.PROXY, TransportProtocol: fam, SourceAddr: src, DestinationAddr: dst}
		local := version == 2 && r.IntN(10) == 0
		if local {
			ph = &pires.Header{Version: 2, Command: pires.LOCAL, TransportProtocol: pires.UNSPEC}
		}
		var want map[pp.TLVType][]byte
		if version == 2 {
			var tlvs []pires.TLV
			tlvs, want = randTLVs(r)
			if err := ph.SetTLVs(tlvs); err != nil {
				t.Fatal(err)
			}
		}
		raw, err := ph.Format()
		if err != nil {
			t.Fatalf("go-proxyproto Format %+v: %v", ph, err)
		}
		h, n, need, err := pp.Parse(append(raw, mqttConnect...))
		if err != nil || need != 0 || n != len(raw) {
			t.Fatalf("%q: n = %d, need = %d, err = %v; want n = %d", raw, n, need, err, len(raw))
		}
		if h.Version != version {
			t.Fatalf("%q: version %d", raw, h.Version)
		}
		if local {
			if h.Command != pp.Local || h.Proxied() {
				t.Fatalf("%x: LOCAL parsed as %+v", raw, h)
			}
		} else {
			if byte(h.Family) != byte(fam) || h.Command != pp.Proxy {
				t.Fatalf("%q: family %v command %v, want %#x PROXY", raw, h.Family, h.Command, byte(fam))
			}
			switch a := src.(type) {
			case *net.UnixAddr:
				if string(h.SrcUnix) != a.Name || string(h.DstUnix) != dst.(*net.UnixAddr).Name {
					t.Fatalf("%x: unix %q %q, want %q %q", raw, h.SrcUnix, h.DstUnix, a.Name, dst)
				}
			case *net.TCPAddr:
				if h.Src != a.AddrPort() || h.Dst != dst.(*net.TCPAddr).AddrPort() {
					t.Fatalf("%q: %v %v, want %v %v", raw, h.Src, h.Dst, src, dst)
				}
			case *net.UDPAddr:
				if h.Src != a.AddrPort() || h.Dst != dst.(*net.UDPAddr).AddrPort() {
					t.Fatalf("%x: %v %v, want %v %v", raw, h.Src, h.Dst, src, dst)
				}
			}
		}
		fields := map[pp.TLVType][]byte{pp.TypeALPN: h.ALPN, pp.TypeAuthority: h.Authority, pp.TypeUniqueID: h.UniqueID, pp.TypeNetNS: h.NetNS}
		for typ, v := range want {
			got, ok := fields[typ]
			switch {
			case typ == pp.TypeSSL:
				got, ok = []byte(h.SSL.Sub), h.SSL.Present
				got = append([]byte{h.SSL.Client, byte(h.SSL.Verify >> 24), byte(h.SSL.Verify >> 16), byte(h.SSL.Verify >> 8), byte(h.SSL.Verify)}, got...)
			case typ >= pp.SubtypeSSLVersion && typ <= pp.SubtypeSSLClientCert:
				got, ok = sslField(&h.SSL, typ), true
			case !ok:
				got, ok = h.TLVs.Lookup(typ)
			}
			if !ok || !bytes.Equal(got, v) {
				t.Fatalf("%x: TLV %#x = %q, want %q", raw, typ, got, v)
			}
		}
	}
}

// knownDifferences lists the fixtures on which this package and go-proxyproto v0.15.0 disagree
// (one accepts, the other refuses), and why. A difference that goes away fails the test, so the
// list stays true.
var knownDifferences = map[string]string{
	"v2-proxy-unspec":             "go-proxyproto refuses PROXY with AF_UNSPEC; §2.2 leaves it to the receiver, we fall back to the real endpoints",
	"v2-crc32c-mismatch":          "go-proxyproto does not verify PP2_TYPE_CRC32C; §2.2.3 says a receiver that supports it MUST",
	"v2-crc32c-3-bytes":           "go-proxyproto does not look into PP2_TYPE_CRC32C",
	"v2-crc32c-twice":             "go-proxyproto does not look into PP2_TYPE_CRC32C",
	"v2-duplicate-tlv-bad-second": "go-proxyproto does not bound PP2_TYPE_UNIQUE_ID; §2.2.5 says up to 128 bytes",
	"v2-unique-id-129":            "go-proxyproto does not bound PP2_TYPE_UNIQUE_ID; §2.2.5 says up to 128 bytes",
	"v2-ssl-4-bytes":              "go-proxyproto decodes the SSL TLV only when asked (tlvparse)",
	"v2-ssl-sub-cut":              "go-proxyproto decodes the SSL TLV only when asked (tlvparse)",
	"v2-tlv-header-cut":           "go-proxyproto checks TLVs only when Header.TLVs is called; we refuse the header",
	"v2-tlv-value-cut":            "go-proxyproto checks TLVs only when Header.TLVs is called; we refuse the header",
	"v2-over-default-bound":       "go-proxyproto has no bound below the protocol's 16+65535 bytes",
	"v2-over-configured-bound":    "go-proxyproto has no bound below the protocol's 16+65535 bytes",
}

// TestCrossCheckPiresReads gives every fixture to go-proxyproto's reader.
func TestCrossCheckPiresReads(t *testing.T) {
	for _, fx := range fixtures() {
		h, _, _, err := fx.cfg.Parse(fx.raw)
		ph, perr := pires.Read(bufio.NewReader(bytes.NewReader(fx.raw)))
		why, known := knownDifferences[fx.name]
		if (err == nil) != (perr == nil) {
			if !known {
				t.Errorf("%s: ours: %v, go-proxyproto: %v", fx.name, err, perr)
			}
			continue
		}
		if known {
			t.Errorf("%s: listed as a difference (%s) but both say ours: %v, go-proxyproto: %v", fx.name, why, err, perr)
		}
		if err != nil || !h.Proxied() {
			continue
		}
		src, dst, ok := ph.IPs()
		sport, dport, _ := ph.Ports()
		gs, _ := netip.AddrFromSlice(src)
		gd, _ := netip.AddrFromSlice(dst)
		if h.Family == pp.TCP4 || h.Family == pp.UDP4 {
			gs, gd = gs.Unmap(), gd.Unmap()
		}
		if !ok || netip.AddrPortFrom(gs, uint16(sport)) != h.Src || netip.AddrPortFrom(gd, uint16(dport)) != h.Dst {
			t.Errorf("%s: go-proxyproto reads %v:%d %v:%d, we read %v %v", fx.name, src, sport, dst, dport, h.Src, h.Dst)
		}
	}
}
