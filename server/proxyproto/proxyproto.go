// Package proxyproto parses PROXY protocol v1 and v2 headers (haproxy's doc/proxy-protocol.txt), the
// line or block a load balancer puts in front of a relayed connection to tell the server the
// client's real address, and decides which peers may send one.
//
// Parse is bounded (a v1 line is at most 107 bytes, a v2 header at most Config.MaxV2Len) and does not
// allocate: the header it returns holds views into the parsed bytes. Detect sniffs the first bytes of
// a connection for listeners where the header is optional. Trusted and ParseTrusted implement the
// list of proxies allowed to send a header; the spec (§5) is clear that accepting a header from
// anyone else lets any client spoof its address.
package proxyproto

import (
	"net/netip"
	"strconv"
)

// Command says whether a header relays a connection (Proxy) or describes one the proxy opened
// itself, such as a health check (Local). A v1 header is always Proxy; its UNKNOWN protocol plays
// the role of LOCAL.
type Command uint8

// The v2 commands (§2.2, low nibble of the 13th byte).
const (
	Local Command = 0x0
	Proxy Command = 0x1
)

// String returns "LOCAL" or "PROXY".
func (c Command) String() string {
	switch c {
	case Local:
		return "LOCAL"
	case Proxy:
		return "PROXY"
	}
	return "Command(" + strconv.Itoa(int(c)) + ")"
}

// Family is the address family and transport protocol of the relayed connection, with the values
// of the 14th byte of a v2 header (§2.2). A v1 header yields TCP4, TCP6 or Unknown.
type Family uint8

// The families of §2.2 ("In practice, the following protocol bytes are expected").
const (
	Unknown    Family = 0x00 // v1 UNKNOWN, v2 AF_UNSPEC: use the connection's own addresses
	TCP4       Family = 0x11
	UDP4       Family = 0x12
	TCP6       Family = 0x21
	UDP6       Family = 0x22
	UnixStream Family = 0x31
	UnixDgram  Family = 0x32
)

// String returns the family's name as in the spec: "TCP4", "UNIX-STREAM", "UNKNOWN", ...
func (f Family) String() string {
	switch f {
	case Unknown:
		return "UNKNOWN"
	case TCP4:
		return "TCP4"
	case UDP4:
		return "UDP4"
	case TCP6:
		return "TCP6"
	case UDP6:
		return "UDP6"
	case UnixStream:
		return "UNIX-STREAM"
	case UnixDgram:
		return "UNIX-DGRAM"
	}
	return "Family(" + strconv.Itoa(int(f)) + ")"
}

// addrLen is the size of the v2 address block of each family, -1 for unassigned values.
func (f Family) addrLen() int {
	switch f {
	case Unknown:
		return 0
	case TCP4, UDP4:
		return 2*4 + 2*2
	case TCP6, UDP6:
		return 2*16 + 2*2
	case UnixStream, UnixDgram:
		return 2 * 108
	}
	return -1
}

// Header is a parsed PROXY protocol header. Its byte slices (SrcUnix, DstUnix, TLVs, ALPN,
// Authority, UniqueID, NetNS and those of SSL) are views into the bytes given to Parse: they are
// valid until that buffer is reused, and a caller that keeps one longer must copy it.
type Header struct {
	Version uint8 // 1 or 2
	Command Command
	Family  Family

	// Src and Dst are the relayed connection's source (the client) and destination, set for the
	// TCP and UDP families. For Local they are what the proxy sent and are informational only.
	// TCP6 addresses are 16-byte addresses even when IPv4-mapped; Unmap them to compare with
	// IPv4 addresses.
	Src, Dst netip.AddrPort

	// SrcUnix and DstUnix are the AF_UNIX paths of the UNIX families, with trailing NUL bytes
	// removed (an abstract socket name keeps its leading NUL).
	SrcUnix, DstUnix []byte

	// TLVs is the v2 TLV block after the addresses, already validated; every TLV is there,
	// including those the fields below decode and those this package does not know. When a type
	// appears more than once, the fields below hold the first, as TLVs.Lookup does.
	TLVs TLVs

	ALPN      []byte // PP2_TYPE_ALPN (§2.2.1): the negotiated application protocol, e.g. "mqtt"
	Authority []byte // PP2_TYPE_AUTHORITY (§2.2.2): the host name the client asked for (TLS SNI)
	UniqueID  []byte // PP2_TYPE_UNIQUE_ID (§2.2.5): the proxy's opaque connection id, ≤ 128 bytes
	NetNS     []byte // PP2_TYPE_NETNS (§2.2.7): the proxy's network namespace name
	SSL       SSL    // PP2_TYPE_SSL (§2.2.6): the client's TLS connection to the proxy

	// CRC32C is true when the header carried a PP2_TYPE_CRC32C TLV and its checksum was verified
	// (it is false when Config.IgnoreCRC32C skipped the check).
	CRC32C bool
}

// Proxied reports whether Src and Dst are the relayed connection's endpoints, to be used instead of
// the socket's own addresses: a PROXY command with a TCP or UDP family. For LOCAL and UNKNOWN the
// spec says to keep the connection's real endpoints; a UNIX header has no IP address to give.
func (h *Header) Proxied() bool {
	if h.Command != Proxy {
		return false
	}
	switch h.Family {
	case TCP4, UDP4, TCP6, UDP6:
		return true
	}
	return false
}

// Limits of the protocol.
const (
	// MaxV1Len is the longest v1 line, CRLF included (§2.1, "worst case").
	MaxV1Len = 107
	// MinV1Len is the shortest v1 line, "PROXY UNKNOWN\r\n".
	MinV1Len = 15
	// V2HeaderLen is the fixed part of a v2 header: signature, version and command, family, length.
	V2HeaderLen = 16
	// MaxV2Len is the longest v2 header the length field can describe.
	MaxV2Len = V2HeaderLen + 0xFFFF
	// DefaultMaxV2Len is the bound used when Config.MaxV2Len is 0: room for the addresses and a
	// few hundred bytes of TLVs from HAProxy, AWS, GCP or Azure load balancers, but not for a
	// client certificate (PP2_SUBTYPE_SSL_CLIENT_CERT), which needs a larger bound.
	DefaultMaxV2Len = 4096
)

// v2Signature starts every v2 header (§2.2).
const v2Signature = "\r\n\r\n\x00\r\nQUIT\n"

// v1Prefix starts every v1 header.
const v1Prefix = "PROXY "

// Config holds the receiver's choices. The zero Config is ready to use.
type Config struct {
	// MaxV2Len bounds the length of a v2 header, the 16 fixed bytes included; a longer one is
	// refused with ErrV2TooLarge as soon as its length field is read. 0 means DefaultMaxV2Len;
	// values above MaxV2Len mean MaxV2Len.
	MaxV2Len int

	// IgnoreCRC32C skips the verification of a PP2_TYPE_CRC32C TLV. By default a header whose
	// checksum does not match is refused, as §2.2.3 requires of a receiver that supports it.
	IgnoreCRC32C bool
}

// Parse parses the PROXY header at the start of b with the zero Config; see Config.Parse.
func Parse(b []byte) (h Header, n int, need int, err error) {
	var c Config
	return c.Parse(b)
}

// Parse parses the PROXY header (v1 or v2) at the start of b.
//
// When b holds a whole header, Parse returns it with n, the number of bytes it takes (the bytes
// after it belong to the relayed protocol), need 0 and err nil. When b is a valid beginning of a
// header, Parse returns need > 0: at least that many more bytes are needed (exactly that many once a
// v2 header's 16 fixed bytes are in). When b cannot begin a header, err is one of this package's
// *Error values; Parse reports it as early as the bytes allow, so a header split at any point
// gives the same complete result and fails no later than when whole.
//
// The returned Header's slices are views into b (see Header). Parse does not allocate.
func (c *Config) Parse(b []byte) (h Header, n int, need int, err error) {
	if len(b) == 0 {
		return h, 0, MinV1Len, nil
	}
	// The helpers fill h in place: Header is a few hundred bytes, and copying it through
	// every return costs more than parsing a v2 header.
	switch b[0] {
	case v1Prefix[0]:
		n, need, err = parseV1(&h, b)
	case v2Signature[0]:
		n, need, err = c.parseV2(&h, b)
	default:
		err = ErrNotProxy
	}
	if err != nil || need > 0 {
		return Header{}, 0, need, err
	}
	return h, n, 0, nil
}

// Detect reports whether b, the first bytes read from a connection, start a PROXY header (v1
// "PROXY " or the 12-byte v2 signature). decided is false while b is too short to tell: b is then a
// proper prefix of one of the two; read more and call again. Real traffic is decided on its first
// byte (MQTT starts with 0x10, TLS with 0x16, HTTP with a method name), a header after at most 12.
//
// Detect is for listeners where the header is optional. The spec (§5) warns that guessing lets any
// client that can reach the port spoof its address: accept a detected header only from a peer
// that Trusted approves.
func Detect(b []byte) (isProxy bool, decided bool) {
	v1 := hasPrefixOf(b, v1Prefix)
	v2 := hasPrefixOf(b, v2Signature)
	switch {
	case v1 && len(b) >= len(v1Prefix), v2 && len(b) >= len(v2Signature):
		return true, true
	case v1, v2:
		return false, false
	}
	return false, true
}

// hasPrefixOf reports whether b and s agree on their common length: b starts with s, or b is a
// prefix of s.
func hasPrefixOf(b []byte, s string) bool {
	k := min(len(b), len(s))
	return string(b[:k]) == s[:k]
}
