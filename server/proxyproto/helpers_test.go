package proxyproto_test

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"net/netip"
	"strings"
)

// The test encoder below writes v2 headers byte by byte from the spec's layout, independently of
// the parser, so that a fixture states the wire format it tests.

const sig = "\r\n\r\n\x00\r\nQUIT\n"

// v2 builds a v2 header: signature, version/command byte, family byte, the length of what follows,
// then body (addresses and TLVs).
func v2(verCmd, fam byte, body ...[]byte) []byte {
	rest := bytes.Join(body, nil)
	b := append([]byte(sig), verCmd, fam, 0, 0)
	binary.BigEndian.PutUint16(b[14:], uint16(len(rest)))
	return append(b, rest...)
}

// v2len builds a v2 header whose length field says n whatever the body.
func v2len(verCmd, fam byte, n uint16, body ...[]byte) []byte {
	b := v2(verCmd, fam, body...)
	binary.BigEndian.PutUint16(b[14:], n)
	return b
}

func ip4(src, dst string, sport, dport uint16) []byte {
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	b := append(s[:], d[:]...)
	return binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(b, sport), dport)
}

func ip6(src, dst string, sport, dport uint16) []byte {
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	b := append(s[:], d[:]...)
	return binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(b, sport), dport)
}

func unixAddrs(src, dst string) []byte {
	b := make([]byte, 216)
	copy(b, src)
	copy(b[108:], dst)
	return b
}

func tlv(typ byte, val []byte) []byte {
	b := []byte{typ, 0, 0}
	binary.BigEndian.PutUint16(b[1:], uint16(len(val)))
	return append(b, val...)
}

func ssl(client byte, verify uint32, subs ...[]byte) []byte {
	v := binary.BigEndian.AppendUint32([]byte{client}, verify)
	return tlv(0x20, append(v, bytes.Join(subs, nil)...))
}

// withCRC appends a PP2_TYPE_CRC32C TLV to a v2 header, fixes its length and fills in the checksum
// as §2.2.3 tells a sender to (computed over the header with the field zeroed).
func withCRC(h []byte) []byte {
	h = append(h, 0x03, 0, 4, 0, 0, 0, 0)
	binary.BigEndian.PutUint16(h[14:], uint16(len(h)-16))
	sum := crc32.Checksum(h, crc32.MakeTable(crc32.Castagnoli))
	binary.BigEndian.PutUint32(h[len(h)-4:], sum)
	return h
}

func addrPort(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func s(v string) []byte { return []byte(v) }

var ffff6 = strings.Repeat("ffff:", 7) + "ffff"
