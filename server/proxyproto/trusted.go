package proxyproto

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
)

// Trusted reports whether addr, the address of the peer that sent a header, is in one of
// prefixes. An IPv4-mapped IPv6 address (what a dual-stack listener reports for an IPv4 peer) is
// compared as the IPv4 address it maps, and a zone is ignored. An empty list trusts no one.
func Trusted(addr netip.Addr, prefixes []netip.Prefix) bool {
	addr = addr.Unmap().WithZone("")
	for _, p := range prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// TrustedError is a bad entry in a list given to ParseTrusted.
type TrustedError struct {
	Entry string // the entry as written, spaces trimmed
	Index int    // its position in the list, from 0
	Err   error  // what net/netip said about it
}

// Error names the entry and says what is wrong with it.
func (e *TrustedError) Error() string {
	return "proxy_trusted_cidrs: entry " + strconv.Quote(e.Entry) + ": " + e.Err.Error()
}

// Unwrap returns the underlying netip error.
func (e *TrustedError) Unwrap() error { return e.Err }

// ParseTrusted parses a comma-separated list of trusted proxies (the proxy_trusted_cidrs option):
// CIDR prefixes ("10.0.0.0/8", "2001:db8::/32") and bare addresses, which stand for themselves (/32
// or /128). Spaces around entries are ignored; an empty or blank list yields no prefixes. A prefix
// with host bits set ("10.1.2.3/8") is taken as the network it names (10.0.0.0/8). An IPv4-mapped
// IPv6 entry is stored as the IPv4 address or prefix it maps, to match what Trusted compares. An
// empty entry, a zone or anything netip cannot parse is an error naming the first bad entry.
func ParseTrusted(list string) ([]netip.Prefix, error) {
	if strings.TrimSpace(list) == "" {
		return nil, nil
	}
	var out []netip.Prefix
	for i, entry := range strings.Split(list, ",") {
		entry = strings.TrimSpace(entry)
		p, err := parseTrustedEntry(entry)
		if err != nil {
			return nil, &TrustedError{Entry: entry, Index: i, Err: err}
		}
		out = append(out, p)
	}
	return out, nil
}

func parseTrustedEntry(s string) (netip.Prefix, error) {
	if s == "" {
		return netip.Prefix{}, errors.New("empty entry")
	}
	if strings.Contains(s, "%") {
		return netip.Prefix{}, errors.New("zones are not allowed")
	}
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a := p.Addr(); a.Is4In6() {
		if p.Bits() < 96 {
			return netip.Prefix{}, errors.New("IPv4-mapped prefix shorter than /96")
		}
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}
