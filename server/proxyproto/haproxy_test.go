package proxyproto_test

import (
	"os"
	"path/filepath"
	"testing"

	pp "loopmq/server/proxyproto"
)

// TestHAProxyHeaders parses headers that HAProxy 2.6 sent to a backend, recorded by
// testdata/haproxy/capture.go (each file is the header followed by the bytes the client sent
// after it): v1 and v2 for TCP over IPv4 and IPv6 (addresses set with tcp-request set-src/set-dst),
// a client on a UNIX socket, TLS clients with and without a certificate (proxy-v2-options ssl,
// cert-cn, ssl-cipher, cert-sig, cert-key, authority, crc32c, unique-id), and a health check.
func TestHAProxyHeaders(t *testing.T) {
	const marker = "\x10\x0cMQTT-MARKER"
	tcp4 := func(v uint8) pp.Header {
		return pp.Header{Version: v, Command: pp.Proxy, Family: pp.TCP4, Src: addrPort("203.0.113.7:51234"), Dst: addrPort("198.51.100.1:1883")}
	}
	tcp6 := func(v uint8) pp.Header {
		return pp.Header{Version: v, Command: pp.Proxy, Family: pp.TCP6, Src: addrPort("[2001:db8::7]:51234"), Dst: addrPort("[2001:db8::1]:1883")}
	}
	withSSL := func(h pp.Header, id string, ssl pp.SSL) pp.Header {
		h.ALPN, h.Authority, h.UniqueID, h.CRC32C, h.SSL = s("mqtt"), s("broker.example.com"), s(id), true, ssl
		return h
	}
	for _, c := range []struct {
		file   string
		want   pp.Header
		cipher bool // the cipher is whatever the two ends agreed on
		check  bool // a health check: HAProxy closes right after the header
	}{
		{file: "v1-tcp4", want: tcp4(1)},
		{file: "v1-tcp6", want: tcp6(1)},
		{file: "v1-unix", want: pp.Header{Version: 1, Command: pp.Proxy, Family: pp.Unknown}},
		{file: "v2-tcp4", want: tcp4(2)},
		{file: "v2-tcp6", want: tcp6(2)},
		{file: "v2-unix", want: pp.Header{Version: 2, Command: pp.Local, Family: pp.Unknown}},
		{file: "v2-health-check", check: true, want: pp.Header{Version: 2, Command: pp.Local, Family: pp.Unknown}},
		{file: "v2-ssl-client-cert", cipher: true, want: withSSL(tcp4(2), "conn-42", pp.SSL{Present: true,
			Client: pp.ClientSSL | pp.ClientCertConn | pp.ClientCertSess, Verify: 0, Version: s("TLSv1.3"),
			CN: s("device-17"), SigAlg: s("ecdsa-with-SHA256"), KeyAlg: s("EC256")})},
		{file: "v2-ssl-no-cert-tls12", cipher: true, want: withSSL(tcp6(2), "conn-43", pp.SSL{Present: true,
			Client: pp.ClientSSL, Verify: 0, Version: s("TLSv1.2"), SigAlg: s("ecdsa-with-SHA256"), KeyAlg: s("EC256")})},
	} {
		t.Run(c.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", "haproxy", c.file+".bin"))
			if err != nil {
				t.Fatal(err)
			}
			h, n, need, err := pp.Parse(raw)
			if err != nil || need != 0 {
				t.Fatalf("need = %d, err = %v", need, err)
			}
			if after := raw[n:]; (c.check && len(after) != 0) || (!c.check && string(after) != marker) {
				t.Fatalf("after the header: %q, want the client's %q", after, marker)
			}
			if c.cipher {
				if len(h.SSL.Cipher) == 0 {
					t.Fatal("no SSL cipher")
				}
				c.want.SSL.Cipher = h.SSL.Cipher
			}
			if e := checkHeader(h, c.want); e != nil {
				t.Fatal(e)
			}
			if c.want.SSL.Present && h.SSL.VerifiedClientCert() != (len(c.want.SSL.CN) > 0) {
				t.Fatalf("VerifiedClientCert() = %v", h.SSL.VerifiedClientCert())
			}
			// The split and early-failure properties hold for real headers too.
			for k := range n {
				if _, _, need, err := pp.Parse(raw[:k:k]); err != nil || need <= 0 || need > n-k {
					t.Fatalf("cut at %d of %d: need = %d, err = %v", k, n, need, err)
				}
			}
		})
	}
}
