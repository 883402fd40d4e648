package ws

import (
	"bytes"
	"net/netip"
)

// trustedPeer reports whether the TCP peer is one of the trusted proxies, whose forwarding headers are believed.
func trustedPeer(proxies []netip.Prefix, peer netip.AddrPort) bool {
	return len(proxies) > 0 && inPrefixes(proxies, peer.Addr())
}

func inPrefixes(prefixes []netip.Prefix, a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// forwarded finds the client in X-Forwarded-For lists sent by a trusted proxy. Each proxy appends the address it
// received the request from, so the client is the rightmost address that is not itself a trusted proxy: addresses
// left of it were written by parties nobody vouches for. The lists of repeated headers are read in order as one list.
type forwarded struct {
	last      netip.AddrPort // the rightmost address that is not a trusted proxy so far
	first     netip.AddrPort // the leftmost address, the client when every hop is trusted
	lastState uint8          // fwdNone, fwdValid, or fwdInvalid when the last untrusted entry was not an address
	realIP    []byte         // the X-Real-IP value, used when there is no X-Forwarded-For
}

const (
	fwdNone = iota
	fwdValid
	fwdInvalid
)

// addList reads one X-Forwarded-For value.
func (f *forwarded) addList(value []byte, proxies []netip.Prefix) {
	for len(value) > 0 {
		var entry []byte
		if i := bytes.IndexByte(value, ','); i >= 0 {
			entry, value = value[:i], value[i+1:]
		} else {
			entry, value = value, nil
		}
		entry = bytes.Trim(entry, " \t")
		if len(entry) == 0 {
			continue
		}
		ap, ok := parseHostAddr(entry)
		switch {
		case !ok:
			f.lastState = fwdInvalid
		case inPrefixes(proxies, ap.Addr()):
			if !f.first.IsValid() {
				f.first = ap
			}
		default:
			f.last, f.lastState = ap, fwdValid
			if !f.first.IsValid() {
				f.first = ap
			}
		}
	}
}

// client returns the client's address from the headers, or peer when they do not name one that can be trusted.
func (f *forwarded) client(peer netip.AddrPort) netip.AddrPort {
	switch f.lastState {
	case fwdValid:
		return f.last
	case fwdInvalid:
		return peer
	}
	if f.first.IsValid() {
		return f.first
	}
	if ap, ok := parseHostAddr(bytes.Trim(f.realIP, " \t")); ok {
		return ap
	}
	return peer
}

// parseHostAddr parses "1.2.3.4", "1.2.3.4:80", "2001:db8::1", "[2001:db8::1]" or "[2001:db8::1]:80".
func parseHostAddr(b []byte) (netip.AddrPort, bool) {
	if len(b) == 0 {
		return netip.AddrPort{}, false
	}
	if b[0] == '[' {
		if b[len(b)-1] == ']' {
			b = b[1 : len(b)-1]
		} else {
			ap, err := netip.ParseAddrPort(string(b))
			return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), err == nil
		}
	}
	if a, err := netip.ParseAddr(string(b)); err == nil {
		return netip.AddrPortFrom(a.Unmap(), 0), true
	}
	ap, err := netip.ParseAddrPort(string(b))
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), err == nil
}
