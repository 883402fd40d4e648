package proxyproto_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	pp "loopmq/server/proxyproto"
)

// fixture is one header on the wire and what Parse must make of it. Fixtures that parse carry the
// number of bytes the header takes (n) and may be followed by bytes of the relayed protocol; the
// others carry the error. Every fixture names the rule of proxy-protocol.txt it shows.
type fixture struct {
	name string
	rule string
	raw  []byte
	cfg  pp.Config
	n    int
	want pp.Header
	err  error
}

var (
	specGET     = "GET / HTTP/1.1\r\nHost: 192.168.0.11\r\n\r\n"
	mqttConnect = []byte{0x10, 0x0c, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, 0}
	certDER     = bytes.Repeat([]byte{0x30, 0x82}, 300)
)

func v1(fam pp.Family, src, dst string) pp.Header {
	h := pp.Header{Version: 1, Command: pp.Proxy, Family: fam}
	if src != "" {
		h.Src, h.Dst = addrPort(src), addrPort(dst)
	}
	return h
}

func fixtures() []fixture {
	line := func(s string) int { return len(s) }
	unknownWorst := "PROXY UNKNOWN " + ffff6 + " " + ffff6 + " 65535 65535\r\n"
	tlvs := cat(tlv(0x01, s("mqtt")), tlv(0x02, s("broker.example.com")), tlv(0x04, nil),
		tlv(0x05, s("conn-42")), tlv(0x30, s("ns1")), tlv(0xEA, s("vpce-0123456789abcdef0")))
	sslFull := ssl(0x07, 0, tlv(0x21, s("TLSv1.3")), tlv(0x22, s("device-17")),
		tlv(0x23, s("TLS_AES_128_GCM_SHA256")), tlv(0x24, s("ECDSA-SHA256")), tlv(0x25, s("EC256")),
		tlv(0x26, s("X25519")), tlv(0x27, s("ecdsa_secp256r1_sha256")), tlv(0x28, certDER), tlv(0x29, s("future")))
	tcp4 := pp.Header{Version: 2, Command: pp.Proxy, Family: pp.TCP4,
		Src: addrPort("192.0.2.10:51234"), Dst: addrPort("198.51.100.1:1883")}
	crcHdr := withCRC(v2(0x21, 0x11, ip4("192.0.2.10", "198.51.100.1", 51234, 1883), tlv(0x01, s("mqtt"))))
	badCRC := bytes.Clone(crcHdr)
	badCRC[len(badCRC)-1] ^= 1
	long := v2(0x21, 0x11, ip4("192.0.2.10", "198.51.100.1", 51234, 1883), tlv(0x04, make([]byte, 4096-16-12-3)))

	return []fixture{
		// Version 1, §2.1.
		{name: "v1-spec-example-tcp4", rule: "§2.1 example before an HTTP request",
			raw: s("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n" + specGET),
			n:   line("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"), want: v1(pp.TCP4, "192.168.0.1:56324", "192.168.0.11:443")},
		{name: "v1-spec-longest-tcp4", rule: "§2.1 TCP/IPv4 maximum line, 56 chars",
			raw: s("PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n"), n: 56,
			want: v1(pp.TCP4, "255.255.255.255:65535", "255.255.255.255:65535")},
		{name: "v1-spec-longest-tcp6", rule: "§2.1 TCP/IPv6 maximum line, 104 chars",
			raw: s("PROXY TCP6 " + ffff6 + " " + ffff6 + " 65535 65535\r\n"), n: 104,
			want: v1(pp.TCP6, "["+ffff6+"]:65535", "["+ffff6+"]:65535")},
		{name: "v1-spec-unknown-short", rule: "§2.1 unknown connection (short form), 15 chars",
			raw: s("PROXY UNKNOWN\r\n"), n: 15, want: v1(pp.Unknown, "", "")},
		{name: "v1-spec-unknown-worst-case", rule: "§2.1 worst case, 107 chars; the receiver must ignore the rest of an UNKNOWN line",
			raw: s(unknownWorst), n: 107, want: v1(pp.Unknown, "", "")},
		{name: "v1-unknown-anything", rule: "§2.1 for UNKNOWN the receiver must ignore anything presented before the CRLF",
			raw: s("PROXY UNKNOWN garbage\tthat is ignored\r\n\x10"), n: line("PROXY UNKNOWN garbage\tthat is ignored\r\n"), want: v1(pp.Unknown, "", "")},
		{name: "v1-tcp4-mqtt", rule: "§2.1 the header is prepended before any data",
			raw: cat(s("PROXY TCP4 10.1.2.3 10.0.0.1 40000 1883\r\n"), mqttConnect), n: 41,
			want: v1(pp.TCP4, "10.1.2.3:40000", "10.0.0.1:1883")},
		{name: "v1-tcp4-zeros", rule: "§2.1 a single 0 is not a leading zero",
			raw: s("PROXY TCP4 0.0.0.0 0.10.100.0 0 0\r\n"), n: 35, want: v1(pp.TCP4, "0.0.0.0:0", "0.10.100.0:0")},
		{name: "v1-tcp6-compressed", rule: "§2.1 one double colon replaces a range of zeroes",
			raw: s("PROXY TCP6 2001:db8::1 ::1 443 8883\r\n"), n: 37, want: v1(pp.TCP6, "[2001:db8::1]:443", "[::1]:8883")},
		{name: "v1-tcp6-upper-case", rule: "§2.1 hexadecimal digits (upper or lower case)",
			raw: s("PROXY TCP6 2001:DB8:0:0:0:0:0:AbCd 1:: 1 2\r\n"), n: 44, want: v1(pp.TCP6, "[2001:db8::abcd]:1", "[1::]:2")},
		{name: "v1-tcp6-v4-mapped", rule: "§2.1 TCP6; inet_ntop writes IPv4-mapped addresses with a dotted tail",
			raw: s("PROXY TCP6 ::ffff:192.0.2.1 ::ffff:c000:202 5 6\r\n"), n: 49, want: v1(pp.TCP6, "[::ffff:192.0.2.1]:5", "[::ffff:192.0.2.2]:6")},

		{name: "v1-tcp6-dotted-tail", rule: "§2.1 128 bits: six groups and an IPv4 tail",
			raw: s("PROXY TCP6 1:2:3:4:5:6:1.2.3.4 ::1.2.3.4 1 2\r\n"), n: 46, want: v1(pp.TCP6, "[1:2:3:4:5:6:102:304]:1", "[::102:304]:2")},
		{name: "v1-ipv6-dotted-tail-late", rule: "§2.1 the total number of decoded bits must exactly be 128",
			raw: s("PROXY TCP6 1:2:3:4:5:6:7:1.2.3.4 ::1 1 2\r\n"), err: pp.ErrV1Address},
		{name: "v1-ipv6-dotted-tail-short", rule: "§2.1 the total number of decoded bits must exactly be 128",
			raw: s("PROXY TCP6 1:2:3:4:5:1.2.3.4 ::1 1 2\r\n"), err: pp.ErrV1Address},
		{name: "v1-ipv6-dotted-tail-bad", rule: "§2.1 the IPv4 part has exactly 4 integers",
			raw: s("PROXY TCP6 ::ffff:1.2.3 ::1 1 2\r\n"), err: pp.ErrV1Address},
		{name: "v1-line-108", rule: "§2.1 CRLF not found in the first 107 characters",
			raw: s("PROXY UNKNOWN " + ffff6 + " " + ffff6 + " 65535 655350\r\n"), err: pp.ErrV1TooLong},
		{name: "v1-cr-at-107", rule: "§2.1 CRLF not found in the first 107 characters (a CR in the 107th is too late)",
			raw: s("PROXY UNKNOWN" + strings.Repeat("0", 93) + "\r0"), err: pp.ErrV1TooLong},
		{name: "v1-no-crlf", rule: "§2.1 CRLF not found in the first 107 characters",
			raw: s("PROXY UNKNOWN " + strings.Repeat("x", 200)), err: pp.ErrV1TooLong},
		{name: "v1-bare-lf", rule: "§2.1 must not tolerate a single CR or LF to end the line",
			raw: s("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"), err: pp.ErrV1LineEnd},
		{name: "v1-bare-cr", rule: "§2.1 must not tolerate a single CR or LF to end the line",
			raw: s("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rGET"), err: pp.ErrV1LineEnd},
		{name: "v1-lf-cr", rule: "§2.1 CRLF, not LFCR",
			raw: s("PROXY UNKNOWN\n\r"), err: pp.ErrV1LineEnd},
		{name: "v1-proxy-no-space", rule: "§2.1 exactly one space after PROXY",
			raw: s("PROXY\r\n"), err: pp.ErrNotProxy},
		{name: "v1-proxy-lower", rule: "§2.1 \"PROXY\" ( \\x50 \\x52 \\x4F \\x58 \\x59 )",
			raw: s("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), err: pp.ErrNotProxy},
		{name: "v1-proxy-two-spaces", rule: "§2.1 exactly one space",
			raw: s("PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), err: pp.ErrV1Protocol},
		{name: "v1-tcp5", rule: "§2.1 only TCP4, TCP6 and UNKNOWN",
			raw: s("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n"), err: pp.ErrV1Protocol},
		{name: "v1-udp4", rule: "§2.1 only TCP4, TCP6 and UNKNOWN",
			raw: s("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n"), err: pp.ErrV1Protocol},
		{name: "v1-tcp4-lower", rule: "§2.1 \"TCP4\" ( \\x54 \\x43 \\x50 \\x34 )",
			raw: s("PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n"), err: pp.ErrV1Protocol},
		{name: "v1-unknownx", rule: "§2.1 UNKNOWN is followed by a space or the CRLF",
			raw: s("PROXY UNKNOWNX\r\n"), err: pp.ErrV1Protocol},
		{name: "v1-tcp4-alone", rule: "§2.1 TCP4 is followed by four fields",
			raw: s("PROXY TCP4\r\n"), err: pp.ErrV1Protocol},
		{name: "v1-three-fields", rule: "§2.1 source, destination, source port, destination port",
			raw: s("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"), err: pp.ErrV1Fields},
		{name: "v1-five-fields", rule: "§2.1 the destination port is followed by the CRLF",
			raw: s("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n"), err: pp.ErrV1Fields},
		{name: "v1-trailing-space", rule: "§2.1 the destination port is followed by the CRLF",
			raw: s("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n"), err: pp.ErrV1Fields},
		{name: "v1-double-space", rule: "§2.1 exactly one space",
			raw: s("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n"), err: pp.ErrV1Fields},
		{name: "v1-tab", rule: "§2.1 exactly one space ( \\x20 )",
			raw: s("PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n"), err: pp.ErrV1Fields},
		{name: "v1-ipv4-leading-zero", rule: "§2.1 heading zeroes are not permitted (octal confusion)",
			raw: s("PROXY TCP4 192.168.000.1 5.6.7.8 1 2\r\n"), err: pp.ErrV1Address},
		{name: "v1-ipv4-octal", rule: "§2.1 heading zeroes are not permitted",
			raw: s("PROXY TCP4 1.2.3.4 010.6.7.8 1 2\r\n"), err: pp.ErrV1Address},
		{name: "v1-ipv4-256", rule: "§2.1 integers in the range [0..255]",
			raw: s("PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n"), err: pp.ErrV1Address},
		{name: "v1-ipv4-three-parts", rule: "§2.1 exactly 4 integers",
			raw: s("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n"), err: pp.ErrV1Address},
		{name: "v1-ipv4-five-parts", rule: "§2.1 exactly 4 integers",
			raw: s("PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n"), err: pp.ErrV1Address},
		{name: "v1-ipv4-hex", rule: "§2.1 decimal representation",
			raw: s("PROXY TCP4 0x7f.0.0.1 5.6.7.8 1 2\r\n"), err: pp.ErrV1Address},
		{name: "v1-tcp4-with-ipv6", rule: "§2.1 the advertised protocol family dictates what format to use",
			raw: s("PROXY TCP4 ::1 ::1 1 2\r\n"), err: pp.ErrV1Address},
		{name: "v1-tcp6-with-ipv4", rule: "§2.1 the advertised protocol family dictates what format to use",
			raw: s("PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n"), err: pp.ErrV1Address},
		{name: "v1-ipv6-two-ellipses", rule: "§2.1 one double colon sequence",
			raw: s("PROXY TCP6 1::2::3 ::1 1 2\r\n"), err: pp.ErrV1Address},
		{name: "v1-ipv6-nine-groups", rule: "§2.1 the total number of decoded bits must exactly be 128",
			raw: s("PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n"), err: pp.ErrV1Address},
		{name: "v1-ipv6-seven-groups", rule: "§2.1 the total number of decoded bits must exactly be 128",
			raw: s("PROXY TCP6 1:2:3:4:5:6:7 ::1 1 2\r\n"), err: pp.ErrV1Address},
		{name: "v1-ipv6-five-digits", rule: "§2.1 sets of 4 hexadecimal digits",
			raw: s("PROXY TCP6 12345::1 ::1 1 2\r\n"), err: pp.ErrV1Address},
		{name: "v1-ipv6-zone", rule: "§2.1 canonical format (no zone)",
			raw: s("PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n"), err: pp.ErrV1Address},
		{name: "v1-ipv6-ellipsis-for-nothing", rule: "§2.1 128 bits exactly; :: stands for zeroes",
			raw: s("PROXY TCP6 1:2:3:4::5:6:7:8 ::1 1 2\r\n"), err: pp.ErrV1Address},
		{name: "v1-port-leading-zero", rule: "§2.1 heading zeroes are not permitted in front of numbers",
			raw: s("PROXY TCP4 1.2.3.4 5.6.7.8 01883 2\r\n"), err: pp.ErrV1Port},
		{name: "v1-port-65536", rule: "§2.1 port in the range [0..65535]",
			raw: s("PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n"), err: pp.ErrV1Port},
		{name: "v1-port-six-digits", rule: "§2.1 port in the range [0..65535]",
			raw: s("PROXY TCP4 1.2.3.4 5.6.7.8 100000 1\r\n"), err: pp.ErrV1Port},
		{name: "v1-port-sign", rule: "§2.1 port as a decimal integer",
			raw: s("PROXY TCP4 1.2.3.4 5.6.7.8 +1 1\r\n"), err: pp.ErrV1Port},

		// Version 2, §2.2.
		{name: "v2-tcp4-mqtt", rule: "§2.2 \\x11 TCP over IPv4, address length 12",
			raw: cat(v2(0x21, 0x11, ip4("192.0.2.10", "198.51.100.1", 51234, 1883)), mqttConnect), n: 28, want: tcp4},
		{name: "v2-tcp6", rule: "§2.2 \\x21 TCP over IPv6, address length 36",
			raw: v2(0x21, 0x21, ip6("2001:db8::10", "2001:db8::1", 65535, 8883)), n: 52,
			want: pp.Header{Version: 2, Command: pp.Proxy, Family: pp.TCP6, Src: addrPort("[2001:db8::10]:65535"), Dst: addrPort("[2001:db8::1]:8883")}},
		{name: "v2-udp4", rule: "§2.2 \\x12 UDP over IPv4",
			raw: v2(0x21, 0x12, ip4("10.0.0.1", "10.0.0.2", 53, 5353)), n: 28,
			want: pp.Header{Version: 2, Command: pp.Proxy, Family: pp.UDP4, Src: addrPort("10.0.0.1:53"), Dst: addrPort("10.0.0.2:5353")}},
		{name: "v2-udp6", rule: "§2.2 \\x22 UDP over IPv6",
			raw: v2(0x21, 0x22, ip6("::1", "::2", 1, 2)), n: 52,
			want: pp.Header{Version: 2, Command: pp.Proxy, Family: pp.UDP6, Src: addrPort("[::1]:1"), Dst: addrPort("[::2]:2")}},
		{name: "v2-unix-stream", rule: "§2.2 \\x31 UNIX stream, address length 216",
			raw: v2(0x21, 0x31, unixAddrs("/run/client.sock", "/run/loopmq.sock")), n: 232,
			want: pp.Header{Version: 2, Command: pp.Proxy, Family: pp.UnixStream, SrcUnix: s("/run/client.sock"), DstUnix: s("/run/loopmq.sock")}},
		{name: "v2-unix-dgram-abstract", rule: "§2.2 \\x32 UNIX datagram; an abstract name starts with NUL",
			raw: v2(0x21, 0x32, unixAddrs("\x00abstract", "")), n: 232,
			want: pp.Header{Version: 2, Command: pp.Proxy, Family: pp.UnixDgram, SrcUnix: s("\x00abstract")}},
		{name: "v2-local", rule: "§2.2 LOCAL with AF_UNSPEC and no address (health check)",
			raw: cat(v2(0x20, 0x00), mqttConnect), n: 16, want: pp.Header{Version: 2, Command: pp.Local}},
		{name: "v2-local-with-addresses", rule: "§2.2 LOCAL: the receiver must use the real endpoints (addresses are informational)",
			raw: v2(0x20, 0x11, ip4("127.0.0.1", "127.0.0.1", 1, 2)), n: 28,
			want: pp.Header{Version: 2, Command: pp.Local, Family: pp.TCP4, Src: addrPort("127.0.0.1:1"), Dst: addrPort("127.0.0.1:2")}},
		{name: "v2-local-short-block", rule: "§2.2 LOCAL: must not assume zero is presented; the family is ignored",
			raw: v2(0x20, 0x21, []byte{1, 2, 3, 4, 5}), n: 21, want: pp.Header{Version: 2, Command: pp.Local}},
		{name: "v2-local-tlv", rule: "§2.2 TLVs after an empty address block",
			raw: v2(0x20, 0x00, tlv(0x04, s("pad"))), n: 22, want: pp.Header{Version: 2, Command: pp.Local}},
		{name: "v2-proxy-unspec", rule: "§2.2 \\x00 UNSPEC: the receiver is free to accept and use the real endpoints",
			raw: v2(0x21, 0x00, tlv(0x02, s("example.org"))), n: 30,
			want: pp.Header{Version: 2, Command: pp.Proxy, Family: pp.Unknown, Authority: s("example.org")}},
		{name: "v2-extra-address-bytes", rule: "§2.2 receivers must always consider the length field",
			raw: v2(0x21, 0x11, ip4("192.0.2.10", "198.51.100.1", 51234, 1883), tlv(0x04, make([]byte, 9))), n: 40, want: tcp4},
		{name: "v2-tlvs", rule: "§2.2.1-2.2.8 ALPN, AUTHORITY, NOOP, UNIQUE_ID, NETNS and a custom TLV",
			raw: v2(0x21, 0x11, ip4("192.0.2.10", "198.51.100.1", 51234, 1883), tlvs), n: 28 + len(tlvs),
			want: pp.Header{Version: 2, Command: pp.Proxy, Family: pp.TCP4, Src: tcp4.Src, Dst: tcp4.Dst, TLVs: tlvs,
				ALPN: s("mqtt"), Authority: s("broker.example.com"), UniqueID: s("conn-42"), NetNS: s("ns1")}},
		{name: "v2-ssl", rule: "§2.2.6 PP2_TYPE_SSL with every subtype",
			raw: v2(0x21, 0x11, ip4("192.0.2.10", "198.51.100.1", 51234, 1883), sslFull), n: 28 + len(sslFull),
			want: pp.Header{Version: 2, Command: pp.Proxy, Family: pp.TCP4, Src: tcp4.Src, Dst: tcp4.Dst, TLVs: sslFull,
				SSL: pp.SSL{Present: true, Client: 7, Verify: 0, Version: s("TLSv1.3"), CN: s("device-17"),
					Cipher: s("TLS_AES_128_GCM_SHA256"), SigAlg: s("ECDSA-SHA256"), KeyAlg: s("EC256"), Group: s("X25519"),
					SigScheme: s("ecdsa_secp256r1_sha256"), ClientCert: certDER}}},
		{name: "v2-ssl-unverified", rule: "§2.2.6 verify is non-zero when the certificate was not verified",
			raw: v2(0x21, 0x11, ip4("192.0.2.10", "198.51.100.1", 51234, 1883), ssl(0x03, 1, tlv(0x21, s("TLSv1.2")))), n: 28 + 3 + 5 + 10,
			want: pp.Header{Version: 2, Command: pp.Proxy, Family: pp.TCP4, Src: tcp4.Src, Dst: tcp4.Dst,
				SSL: pp.SSL{Present: true, Client: 3, Verify: 1, Version: s("TLSv1.2")}}},
		{name: "v2-ssl-bare", rule: "§2.2.6 client and verify without sub-TLVs",
			raw: v2(0x21, 0x11, ip4("192.0.2.10", "198.51.100.1", 51234, 1883), ssl(0, 0)), n: 28 + 8,
			want: pp.Header{Version: 2, Command: pp.Proxy, Family: pp.TCP4, Src: tcp4.Src, Dst: tcp4.Dst, SSL: pp.SSL{Present: true}}},
		{name: "v2-duplicate-tlvs", rule: "§2.2 TLVs of one type twice: the first is decoded, both are validated",
			raw: v2(0x21, 0x11, ip4("192.0.2.10", "198.51.100.1", 51234, 1883), tlv(0x01, s("mqtt")), tlv(0x01, s("h2")),
				ssl(0x01, 0, tlv(0x21, s("TLSv1.3")), tlv(0x21, s("TLSv1.2"))), ssl(0x03, 9)),
			n: 28 + 7 + 5 + 28 + 8, want: pp.Header{Version: 2, Command: pp.Proxy, Family: pp.TCP4, Src: tcp4.Src, Dst: tcp4.Dst, ALPN: s("mqtt"), SSL: pp.SSL{Present: true, Client: 1, Version: s("TLSv1.3")}}},
		{name: "v2-duplicate-tlv-bad-second", rule: "§2.2.5 every TLV is validated, not only the first of its type",
			raw: v2(0x21, 0x11, ip4("192.0.2.10", "198.51.100.1", 51234, 1883), tlv(0x05, s("id")), tlv(0x05, make([]byte, 129))), err: pp.ErrV2UniqueID},
		{name: "v2-unique-id-128", rule: "§2.2.5 up to 128 bytes",
			raw: v2(0x21, 0x11, ip4("192.0.2.10", "198.51.100.1", 51234, 1883), tlv(0x05, bytes.Repeat(s("u"), 128))), n: 28 + 131,
			want: pp.Header{Version: 2, Command: pp.Proxy, Family: pp.TCP4, Src: tcp4.Src, Dst: tcp4.Dst, UniqueID: bytes.Repeat(s("u"), 128)}},
		{name: "v2-crc32c", rule: "§2.2.3 the receiver MUST verify the checksum",
			raw: crcHdr, n: len(crcHdr), want: pp.Header{Version: 2, Command: pp.Proxy, Family: pp.TCP4, Src: tcp4.Src, Dst: tcp4.Dst, ALPN: s("mqtt"), CRC32C: true}},
		{name: "v2-crc32c-ignored", rule: "§2.2.3 (verification turned off by Config.IgnoreCRC32C)",
			raw: badCRC, cfg: pp.Config{IgnoreCRC32C: true}, n: len(badCRC),
			want: pp.Header{Version: 2, Command: pp.Proxy, Family: pp.TCP4, Src: tcp4.Src, Dst: tcp4.Dst, ALPN: s("mqtt")}},
		{name: "v2-at-default-bound", rule: "Config.MaxV2Len (DefaultMaxV2Len) includes the 16 fixed bytes",
			raw: long, n: 4096, want: tcp4},

		{name: "v2-bad-signature", rule: "§2.2 the 12-byte signature",
			raw: cat(s("\r\n\r\n\x00\r\nQUIX\n"), []byte{0x21, 0x11, 0, 12}, ip4("1.1.1.1", "2.2.2.2", 1, 2)), err: pp.ErrNotProxy},
		{name: "v2-signature-nul-only", rule: "§2.2 the signature contains a null byte at the 5th position",
			raw: s("\r\n\r\n\x01"), err: pp.ErrNotProxy},
		{name: "v2-version-1", rule: "§2.2 the version must always be \\x2",
			raw: v2(0x11, 0x11, ip4("1.1.1.1", "2.2.2.2", 1, 2)), err: pp.ErrV2Version},
		{name: "v2-version-3", rule: "§2.2 the receiver must only accept version 2",
			raw: v2(0x31, 0x11, ip4("1.1.1.1", "2.2.2.2", 1, 2)), err: pp.ErrV2Version},
		{name: "v2-command-2", rule: "§2.2 receivers must drop connections presenting unexpected command values",
			raw: v2(0x22, 0x11, ip4("1.1.1.1", "2.2.2.2", 1, 2)), err: pp.ErrV2Command},
		{name: "v2-command-f", rule: "§2.2 other command values are unassigned",
			raw: v2(0x2F, 0x00), err: pp.ErrV2Command},
		{name: "v2-family-4", rule: "§2.2 other address families must be rejected",
			raw: v2(0x21, 0x41, ip4("1.1.1.1", "2.2.2.2", 1, 2)), err: pp.ErrV2Family},
		{name: "v2-transport-3", rule: "§2.2 other transport protocols must be rejected",
			raw: v2(0x21, 0x13, ip4("1.1.1.1", "2.2.2.2", 1, 2)), err: pp.ErrV2Family},
		{name: "v2-unspec-stream", rule: "§2.2 only the listed protocol bytes are expected",
			raw: v2(0x21, 0x01), err: pp.ErrV2Family},
		{name: "v2-local-bad-family", rule: "§2.2 unassigned family values are invalid whatever the command",
			raw: v2(0x20, 0x50), err: pp.ErrV2Family},
		{name: "v2-tcp4-short", rule: "§2.2 address length is 2*4 + 2*2 = 12 bytes",
			raw: v2len(0x21, 0x11, 11, ip4("1.1.1.1", "2.2.2.2", 1, 2)), err: pp.ErrV2AddrLen},
		{name: "v2-tcp6-short", rule: "§2.2 address length is 2*16 + 2*2 = 36 bytes",
			raw: v2(0x21, 0x21, ip4("1.1.1.1", "2.2.2.2", 1, 2)), err: pp.ErrV2AddrLen},
		{name: "v2-unix-short", rule: "§2.2 address length is 2*108 = 216 bytes",
			raw: v2(0x21, 0x31, make([]byte, 215)), err: pp.ErrV2AddrLen},
		{name: "v2-over-default-bound", rule: "Config.MaxV2Len: refused on the length field",
			raw: v2(0x21, 0x11, ip4("192.0.2.10", "198.51.100.1", 51234, 1883), tlv(0x04, make([]byte, 4096-16-12-3+1))), err: pp.ErrV2TooLarge},
		{name: "v2-max-length-field", rule: "Config.MaxV2Len: 16 + 65535 bytes announced",
			raw: v2len(0x21, 0x00, 0xFFFF), err: pp.ErrV2TooLarge},
		{name: "v2-over-configured-bound", rule: "Config.MaxV2Len",
			raw: v2(0x21, 0x11, ip4("1.1.1.1", "2.2.2.2", 1, 2), tlv(0x04, make([]byte, 37))), cfg: pp.Config{MaxV2Len: 67}, err: pp.ErrV2TooLarge},
		{name: "v2-tlv-header-cut", rule: "§2.2 a TLV is at least 3 bytes",
			raw: v2(0x21, 0x11, ip4("1.1.1.1", "2.2.2.2", 1, 2), []byte{0x04, 0}), err: pp.ErrV2TLV},
		{name: "v2-tlv-value-cut", rule: "§2.2 the TLV length counts the value bytes that follow",
			raw: v2(0x21, 0x11, ip4("1.1.1.1", "2.2.2.2", 1, 2), []byte{0x01, 0, 5, 'm', 'q', 't', 't'}), err: pp.ErrV2TLV},
		{name: "v2-crc32c-mismatch", rule: "§2.2.3 the receiver MUST treat the connection as invalid",
			raw: badCRC, err: pp.ErrV2CRC32C},
		{name: "v2-crc32c-3-bytes", rule: "§2.2.3 a 32-bit number",
			raw: v2(0x21, 0x11, ip4("192.0.2.10", "198.51.100.1", 51234, 1883), tlv(0x03, []byte{1, 2, 3})), err: pp.ErrV2CRC32CLen},
		{name: "v2-crc32c-twice", rule: "§2.2.3 one checksum field",
			raw: withCRC(v2(0x21, 0x11, ip4("192.0.2.10", "198.51.100.1", 51234, 1883), tlv(0x03, []byte{0, 0, 0, 0}))), err: pp.ErrV2CRC32CTwice},
		{name: "v2-unique-id-129", rule: "§2.2.5 up to 128 bytes",
			raw: v2(0x21, 0x11, ip4("192.0.2.10", "198.51.100.1", 51234, 1883), tlv(0x05, bytes.Repeat(s("u"), 129))), err: pp.ErrV2UniqueID},
		{name: "v2-ssl-4-bytes", rule: "§2.2.6 client (1 byte) and verify (4 bytes) are always there",
			raw: v2(0x21, 0x11, ip4("192.0.2.10", "198.51.100.1", 51234, 1883), tlv(0x20, []byte{1, 0, 0, 0})), err: pp.ErrV2SSL},
		{name: "v2-ssl-sub-cut", rule: "§2.2.6 the length of the SSL TLV covers its sub-TLVs",
			raw: v2(0x21, 0x11, ip4("192.0.2.10", "198.51.100.1", 51234, 1883), tlv(0x20, []byte{1, 0, 0, 0, 0, 0x21, 0, 9, 'T', 'L', 'S'})), err: pp.ErrV2SSL},

		// Neither.
		{name: "mqtt-connect", rule: "§2.2 otherwise the protocol is not covered by this specification",
			raw: mqttConnect, err: pp.ErrNotProxy},
		{name: "tls-client-hello", rule: "§2.2 otherwise the connection must be dropped",
			raw: []byte{0x16, 0x03, 0x01, 0x02, 0x00}, err: pp.ErrNotProxy},
		{name: "http-get", rule: "§2.2 otherwise the connection must be dropped",
			raw: s(specGET), err: pp.ErrNotProxy},
		{name: "proxz", rule: "§2.1 \"PROXY\"",
			raw: s("PROXZ TCP4"), err: pp.ErrNotProxy},
		{name: "crlf-crlf", rule: "§2.2 the v2 signature is 12 bytes, not a blank line",
			raw: s("\r\n\r\nGET"), err: pp.ErrNotProxy},
	}
}

// checkHeader compares two headers field by field (byte slices by content).
func checkHeader(got, want pp.Header) error {
	type field struct {
		name      string
		got, want any
	}
	eq := func(a, b []byte) bool { return bytes.Equal(a, b) }
	scalars := []field{
		{"Version", got.Version, want.Version}, {"Command", got.Command, want.Command},
		{"Family", got.Family, want.Family}, {"Src", got.Src, want.Src}, {"Dst", got.Dst, want.Dst},
		{"CRC32C", got.CRC32C, want.CRC32C}, {"SSL.Present", got.SSL.Present, want.SSL.Present},
		{"SSL.Client", got.SSL.Client, want.SSL.Client}, {"SSL.Verify", got.SSL.Verify, want.SSL.Verify},
	}
	for _, f := range scalars {
		if f.got != f.want {
			return fmt.Errorf("%s = %v, want %v", f.name, f.got, f.want)
		}
	}
	slices := []struct {
		name      string
		got, want []byte
	}{
		{"SrcUnix", got.SrcUnix, want.SrcUnix}, {"DstUnix", got.DstUnix, want.DstUnix},
		{"ALPN", got.ALPN, want.ALPN}, {"Authority", got.Authority, want.Authority},
		{"UniqueID", got.UniqueID, want.UniqueID}, {"NetNS", got.NetNS, want.NetNS},
		{"SSL.Version", got.SSL.Version, want.SSL.Version}, {"SSL.CN", got.SSL.CN, want.SSL.CN},
		{"SSL.Cipher", got.SSL.Cipher, want.SSL.Cipher}, {"SSL.SigAlg", got.SSL.SigAlg, want.SSL.SigAlg},
		{"SSL.KeyAlg", got.SSL.KeyAlg, want.SSL.KeyAlg}, {"SSL.Group", got.SSL.Group, want.SSL.Group},
		{"SSL.SigScheme", got.SSL.SigScheme, want.SSL.SigScheme}, {"SSL.ClientCert", got.SSL.ClientCert, want.SSL.ClientCert},
	}
	for _, f := range slices {
		if !eq(f.got, f.want) {
			return fmt.Errorf("%s = %q, want %q", f.name, f.got, f.want)
		}
	}
	if want.TLVs != nil && !eq(got.TLVs, want.TLVs) {
		return fmt.Errorf("TLVs = %x, want %x", []byte(got.TLVs), []byte(want.TLVs))
	}
	return nil
}

func TestFixtures(t *testing.T) {
	for _, fx := range fixtures() {
		t.Run(fx.name, func(t *testing.T) {
			h, n, need, err := fx.cfg.Parse(fx.raw)
			if err != fx.err {
				t.Fatalf("%s: err = %v, want %v", fx.rule, err, fx.err)
			}
			if err != nil {
				if n != 0 || need != 0 {
					t.Fatalf("%s: error with n = %d, need = %d", fx.rule, n, need)
				}
				return
			}
			if need != 0 || n != fx.n {
				t.Fatalf("%s: n = %d, need = %d; want n = %d, need 0", fx.rule, n, need, fx.n)
			}
			if e := checkHeader(h, fx.want); e != nil {
				t.Fatalf("%s: %v", fx.rule, e)
			}
		})
	}
}
