package proxyproto

import (
	"bytes"
	"net/netip"
)

// v1Starts are the beginnings a v1 line may have; a line that agrees with none of them is refused
// before its CRLF arrives (§2.1 recommends aborting "as soon as possible").
var v1Starts = [...]string{"PROXY TCP4 ", "PROXY TCP6 ", "PROXY UNKNOWN"}

// parseV1 parses a v1 line (§2.1). b is not empty and starts with 'P'. Before the line is whole it
// reports the error of the first byte that breaks a rule, so a prefix of b that is refused is
// refused with the same error as b.
func parseV1(h *Header, b []byte) (n int, need int, err error) {
	bad, badErr := v1StartError(b)
	lim := min(len(b), MaxV1Len)
	cr := bytes.IndexByte(b[:lim], '\r')
	lf := bytes.IndexByte(b[:lim], '\n')
	switch {
	case bad >= 0 && (cr < 0 || bad <= cr) && (lf < 0 || bad <= lf):
		return 0, 0, badErr
	case lf >= 0 && (cr < 0 || lf < cr):
		return 0, 0, ErrV1LineEnd
	case cr+2 > MaxV1Len:
		// A CR in the 107th byte: its LF, if any, would be the 108th.
		return 0, 0, ErrV1TooLong
	case cr >= 0 && cr+1 < len(b):
		if b[cr+1] != '\n' {
			return 0, 0, ErrV1LineEnd
		}
		if err := parseV1Line(h, b[:cr]); err != nil {
			return 0, 0, err
		}
		return cr + 2, 0, nil
	case len(b) >= MaxV1Len:
		return 0, 0, ErrV1TooLong
	}
	// No CRLF yet, or a CR whose LF may be in the next read.
	return 0, max(1, MinV1Len-len(b)), nil
}

// v1StartError returns the index of the first byte of b that no valid beginning of a v1 line
// allows, with its error, or -1 when the start of b is fine so far.
func v1StartError(b []byte) (int, error) {
	bad := 0
	for _, s := range v1Starts {
		i := 0
		for i < len(b) && i < len(s) && b[i] == s[i] {
			i++
		}
		if i == len(b) || i == len(s) {
			return -1, nil // b agrees with s
		}
		bad = max(bad, i)
	}
	if bad < len(v1Prefix) {
		return bad, ErrNotProxy
	}
	return bad, ErrV1Protocol
}

// parseV1Line parses the line without its CRLF.
func parseV1Line(h *Header, line []byte) error {
	h.Version = 1
	h.Command = Proxy
	if !hasPrefix(line, v1Prefix) {
		return ErrNotProxy
	}
	rest := line[len(v1Prefix):]
	var v6 bool
	switch {
	case hasPrefix(rest, "UNKNOWN"):
		// "the receiver must ignore anything presented before the CRLF is found"
		if len(rest) > 7 && rest[7] != ' ' {
			return ErrV1Protocol
		}
		h.Family = Unknown
		return nil
	case hasPrefix(rest, "TCP4 "):
		h.Family = TCP4
	case hasPrefix(rest, "TCP6 "):
		h.Family, v6 = TCP6, true
	default:
		return ErrV1Protocol
	}
	rest = rest[5:]

	var f [4][]byte
	for i := range f {
		sp := indexSpace(rest)
		if sp == 0 || (sp < 0) != (i == len(f)-1) {
			return ErrV1Fields
		}
		if sp < 0 {
			f[i] = rest
			break
		}
		f[i], rest = rest[:sp], rest[sp+1:]
	}
	if len(f[3]) == 0 {
		return ErrV1Fields
	}

	var src, dst netip.Addr
	var ok1, ok2 bool
	if v6 {
		src, ok1 = parseIPv6(f[0])
		dst, ok2 = parseIPv6(f[1])
	} else {
		src, ok1 = parseIPv4(f[0])
		dst, ok2 = parseIPv4(f[1])
	}
	if !ok1 || !ok2 {
		return ErrV1Address
	}
	sport, ok1 := parsePort(f[2])
	dport, ok2 := parsePort(f[3])
	if !ok1 || !ok2 {
		return ErrV1Port
	}
	h.Src = netip.AddrPortFrom(src, sport)
	h.Dst = netip.AddrPortFrom(dst, dport)
	return nil
}

func hasPrefix(b []byte, s string) bool {
	return len(b) >= len(s) && string(b[:len(s)]) == s
}

func indexSpace(b []byte) int {
	for i, c := range b {
		if c == ' ' {
			return i
		}
	}
	return -1
}

// decimal parses a decimal number of at most 5 digits without a leading zero ("0" itself is fine)
// at the start of b, returning its value and length; n is 0 when there is none.
func decimal(b []byte) (v, n int) {
	for n < len(b) && n < 5 && '0' <= b[n] && b[n] <= '9' {
		if n == 1 && b[0] == '0' {
			return 0, 0
		}
		v = v*10 + int(b[n]-'0')
		n++
	}
	return v, n
}

func parsePort(b []byte) (uint16, bool) {
	v, n := decimal(b)
	if n == 0 || n != len(b) || v > 0xFFFF {
		return 0, false
	}
	return uint16(v), true
}

// parseIPv4 parses exactly four decimals in [0..255] without leading zeros, separated by dots.
func parseIPv4(b []byte) (netip.Addr, bool) {
	ip, ok := parseIPv4Bytes(b)
	return netip.AddrFrom4(ip), ok
}

func parseIPv4Bytes(b []byte) (ip [4]byte, ok bool) {
	for k := range ip {
		if k > 0 {
			if len(b) == 0 || b[0] != '.' {
				return ip, false
			}
			b = b[1:]
		}
		v, n := decimal(b)
		if n == 0 || v > 255 {
			return ip, false
		}
		ip[k] = byte(v)
		b = b[n:]
	}
	return ip, len(b) == 0
}

// parseIPv6 parses groups of one to four hex digits separated by colons, with at most one "::"
// standing for one or more zero groups, and optionally a dotted IPv4 tail in the last 32 bits (what
// inet_ntop writes for IPv4-mapped addresses, so what HAProxy sends for them). Zones are refused.
func parseIPv6(b []byte) (netip.Addr, bool) {
	var ip [16]byte
	ellipsis := -1 // position of "::" in ip
	i := 0
	if len(b) >= 2 && b[0] == ':' && b[1] == ':' {
		ellipsis = 0
		b = b[2:]
	}
	for len(b) > 0 && i < 16 {
		acc, n := 0, 0
		for n < len(b) && n < 4 {
			d := unhex(b[n])
			if d < 0 {
				break
			}
			acc = acc<<4 | d
			n++
		}
		if n == 0 {
			return netip.Addr{}, false
		}
		if n < len(b) && b[n] == '.' {
			if i > 12 {
				return netip.Addr{}, false
			}
			v4, ok := parseIPv4Bytes(b)
			if !ok {
				return netip.Addr{}, false
			}
			copy(ip[i:], v4[:])
			i += 4
			b = nil
			break
		}
		ip[i], ip[i+1] = byte(acc>>8), byte(acc)
		i += 2
		b = b[n:]
		if len(b) == 0 {
			break
		}
		if b[0] != ':' || len(b) == 1 {
			return netip.Addr{}, false
		}
		b = b[1:]
		if b[0] == ':' {
			if ellipsis >= 0 {
				return netip.Addr{}, false
			}
			ellipsis = i
			b = b[1:]
		}
	}
	if len(b) != 0 {
		return netip.Addr{}, false
	}
	if i < 16 {
		if ellipsis < 0 {
			return netip.Addr{}, false
		}
		k := 16 - i
		copy(ip[ellipsis+k:], ip[ellipsis:i])
		clear(ip[ellipsis : ellipsis+k])
	} else if ellipsis >= 0 {
		return netip.Addr{}, false // "::" must stand for at least one group
	}
	return netip.AddrFrom16(ip), true
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
