package proxyproto_test

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	pp "loopmq/server/proxyproto"
)

func TestParseTrusted(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"  ", nil},
		{"10.0.0.0/8,127.0.0.1", []string{"10.0.0.0/8", "127.0.0.1/32"}},
		{" 10.0.0.0/8 , 127.0.0.1 ", []string{"10.0.0.0/8", "127.0.0.1/32"}},
		{"::1,2001:db8::/32", []string{"::1/128", "2001:db8::/32"}},
		{"10.1.2.3/8", []string{"10.0.0.0/8"}},
		{"0.0.0.0/0,::/0", []string{"0.0.0.0/0", "::/0"}},
		{"::ffff:192.0.2.7", []string{"192.0.2.7/32"}},
		{"::ffff:192.0.2.0/120", []string{"192.0.2.0/24"}},
	} {
		got, err := pp.ParseTrusted(c.in)
		if err != nil {
			t.Errorf("ParseTrusted(%q): %v", c.in, err)
			continue
		}
		var gs []string
		for _, p := range got {
			gs = append(gs, p.String())
		}
		if !slices.Equal(gs, c.want) {
			t.Errorf("ParseTrusted(%q) = %v, want %v", c.in, gs, c.want)
		}
	}
}

func TestParseTrustedErrors(t *testing.T) {
	for _, c := range []struct {
		in, entry string
		index     int
	}{
		{"10.0.0.0/8,", "", 1},
		{",10.0.0.0/8", "", 0},
		{"10.0.0.0/8,,::1", "", 1},
		{"10.0.0.0/33", "10.0.0.0/33", 0},
		{"::1/129", "::1/129", 0},
		{"127.0.0.1,localhost", "localhost", 1},
		{"010.0.0.1", "010.0.0.1", 0},
		{"fe80::1%eth0", "fe80::1%eth0", 0},
		{"10.0.0.0/8/8", "10.0.0.0/8/8", 0},
		{"10.0.0.0/", "10.0.0.0/", 0},
		{"::ffff:1.2.3.4/64", "::ffff:1.2.3.4/64", 0},
		{"10.0.0.0 /8", "10.0.0.0 /8", 0},
	} {
		got, err := pp.ParseTrusted(c.in)
		var te *pp.TrustedError
		if !errors.As(err, &te) {
			t.Errorf("ParseTrusted(%q) = %v, %v; want a *TrustedError", c.in, got, err)
			continue
		}
		if te.Entry != c.entry || te.Index != c.index || got != nil {
			t.Errorf("ParseTrusted(%q): entry %q index %d, want %q %d", c.in, te.Entry, te.Index, c.entry, c.index)
		}
		if !strings.Contains(err.Error(), "proxy_trusted_cidrs") || te.Unwrap() == nil {
			t.Errorf("ParseTrusted(%q): error %q does not name the option or its cause", c.in, err)
		}
	}
}

func TestTrusted(t *testing.T) {
	list, err := pp.ParseTrusted("10.0.0.0/8,192.0.2.7,2001:db8::/32")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		addr string
		want bool
	}{
		{"10.0.0.1", true},
		{"10.255.255.255", true},
		{"11.0.0.1", false},
		{"192.0.2.7", true},
		{"192.0.2.8", false},
		{"::ffff:10.1.1.1", true}, // an IPv4 peer on a dual-stack listener
		{"::ffff:11.1.1.1", false},
		{"2001:db8::1", true},
		{"2001:db8::1%eth0", true},
		{"2001:db9::1", false},
		{"::1", false},
	} {
		if got := pp.Trusted(netip.MustParseAddr(c.addr), list); got != c.want {
			t.Errorf("Trusted(%s) = %v, want %v", c.addr, got, c.want)
		}
	}
	if pp.Trusted(netip.MustParseAddr("127.0.0.1"), nil) {
		t.Error("an empty list trusts 127.0.0.1")
	}
	if pp.Trusted(netip.Addr{}, list) {
		t.Error("the zero Addr is trusted")
	}
}
