package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestProxyProtocolFlags checks -proxy-protocol and -proxy-trusted-cidrs, their YAML keys, that a flag wins over
// the file, and that a mode other than off needs trusted networks.
func TestProxyProtocolFlags(t *testing.T) {
	d, _, err := parseOptions(nil)
	if err != nil || d.ProxyProtocol != "off" || d.ProxyTrustedCIDRs != nil {
		t.Fatalf("defaults %q %v: %v", d.ProxyProtocol, d.ProxyTrustedCIDRs, err)
	}
	o, _, err := parseOptions([]string{"-proxy-protocol", "required", "-proxy-trusted-cidrs", "10.0.0.0/8, 127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if o.ProxyProtocol != "required" || !reflect.DeepEqual(o.ProxyTrustedCIDRs, []string{"10.0.0.0/8", "127.0.0.1"}) {
		t.Fatalf("options %q %v", o.ProxyProtocol, o.ProxyTrustedCIDRs)
	}
	cfg := filepath.Join(t.TempDir(), "proxy.yaml")
	if err := os.WriteFile(cfg, []byte("proxy_protocol: optional\nproxy_trusted_cidrs: [192.168.0.0/16]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o, _, err = parseOptions([]string{"-config", cfg})
	if err != nil || o.ProxyProtocol != "optional" || !reflect.DeepEqual(o.ProxyTrustedCIDRs, []string{"192.168.0.0/16"}) {
		t.Fatalf("file: %q %v: %v", o.ProxyProtocol, o.ProxyTrustedCIDRs, err)
	}
	o, _, err = parseOptions([]string{"-config", cfg, "-proxy-protocol", "required"})
	if err != nil || o.ProxyProtocol != "required" || !reflect.DeepEqual(o.ProxyTrustedCIDRs, []string{"192.168.0.0/16"}) {
		t.Fatalf("file then flag: %q %v: %v", o.ProxyProtocol, o.ProxyTrustedCIDRs, err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-proxy-protocol", "optional"}, "proxy_trusted_cidrs is empty"},
		{[]string{"-proxy-protocol", "required", "-proxy-trusted-cidrs", " , "}, "proxy_trusted_cidrs is empty"},
		{[]string{"-proxy-protocol", "sometimes", "-proxy-trusted-cidrs", "10.0.0.0/8"}, "must be off, optional or required"},
		{[]string{"-proxy-protocol", "required", "-proxy-trusted-cidrs", "10.0.0.0/33"}, "10.0.0.0/33"},
	} {
		if _, _, err := parseOptions(c.args); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want one containing %q", c.args, err, c.want)
		}
	}
	// A list without a mode is allowed (it takes effect once the mode is set).
	if _, _, err := parseOptions([]string{"-proxy-trusted-cidrs", "10.0.0.0/8"}); err != nil {
		t.Errorf("trusted networks without a mode: %v", err)
	}
}
