//go:build ignore

// Command capture records the PROXY protocol headers that HAProxy sends to a backend, for
// haproxy_test.go: v1 and v2, TCP over IPv4 and IPv6, a UNIX-socket client, TLS clients with and
// without a certificate (SSL, CN, cipher, authority, unique-id and CRC32c TLVs) and a health check.
// Each header is stored in <scenario>.bin followed by the bytes the client sent after it (marker),
// as the backend read them. Everything listens on 127.0.0.1 or a socket in a temporary directory.
//
// Run it from server/proxyproto with HAProxy installed (Debian: apt-get install haproxy):
//
//	go run ./testdata/haproxy/capture.go
package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

const marker = "\x10\x0cMQTT-MARKER"

type scenario struct {
	name     string
	frontend string // lines after "bind", %s is the bind address
	bind     string // "tcp" (127.0.0.1:port), "ssl" or "unix"
	server   string // options of the server line
	client   func(addr string) error
	check    bool // captured from a health check, no client
}

func main() {
	log.SetFlags(0)
	dir, err := os.MkdirTemp("", "ppcapture")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	clientCert, caPool := writeCerts(dir)

	fixedAddrs := func(v6 bool) string {
		src, dst := "ipv4(203.0.113.7)", "ipv4(198.51.100.1)"
		if v6 {
			src, dst = "ipv6(2001:db8::7)", "ipv6(2001:db8::1)"
		}
		return "  tcp-request connection set-src " + src + "\n" +
			"  tcp-request connection set-src-port int(51234)\n" +
			"  tcp-request connection set-dst " + dst + "\n" +
			"  tcp-request connection set-dst-port int(1883)\n"
	}
	plain := func(addr string) error { return send(addr, nil) }
	tlsClient := func(cert *tls.Certificate, maxVersion uint16) func(string) error {
		return func(addr string) error {
			cfg := &tls.Config{ServerName: "broker.example.com", RootCAs: caPool, NextProtos: []string{"mqtt"}, MaxVersion: maxVersion}
			if cert != nil {
				cfg.Certificates = []tls.Certificate{*cert}
			}
			return send(addr, cfg)
		}
	}
	sslOpts := "send-proxy-v2 proxy-v2-options ssl,cert-cn,ssl-cipher,cert-sig,cert-key,authority,crc32c,unique-id"
	scenarios := []scenario{
		{name: "v1-tcp4", bind: "tcp", frontend: fixedAddrs(false), server: "send-proxy", client: plain},
		{name: "v1-tcp6", bind: "tcp", frontend: fixedAddrs(true), server: "send-proxy", client: plain},
		{name: "v1-unix", bind: "unix", server: "send-proxy", client: plain},
		{name: "v2-tcp4", bind: "tcp", frontend: fixedAddrs(false), server: "send-proxy-v2", client: plain},
		{name: "v2-tcp6", bind: "tcp", frontend: fixedAddrs(true), server: "send-proxy-v2", client: plain},
		{name: "v2-unix", bind: "unix", server: "send-proxy-v2", client: plain},
		{name: "v2-ssl-client-cert", bind: "ssl", frontend: fixedAddrs(false) + "  unique-id-format conn-42\n",
			server: sslOpts, client: tlsClient(&clientCert, tls.VersionTLS13)},
		{name: "v2-ssl-no-cert-tls12", bind: "ssl", frontend: fixedAddrs(true) + "  unique-id-format conn-43\n",
			server: sslOpts, client: tlsClient(nil, tls.VersionTLS12)},
		{name: "v2-health-check", server: "send-proxy-v2 check inter 200ms", check: true},
	}

	type capture struct {
		name string
		b    []byte
	}
	got := make(chan capture, 16)
	var cfg strings.Builder
	cfg.WriteString("global\n  log stderr format raw local0 warning\ndefaults\n  mode tcp\n  log global\n" +
		"  timeout connect 2s\n  timeout client 5s\n  timeout server 5s\n")
	addrs := map[string]string{}
	for _, sc := range scenarios {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			log.Fatal(err)
		}
		defer ln.Close()
		go func(name string) {
			for first := true; ; first = false {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				b := readCapture(c)
				c.Close()
				if first {
					got <- capture{name, b}
				}
			}
		}(sc.name)
		if sc.check {
			fmt.Fprintf(&cfg, "backend be-%s\n  server s %s %s\n", sc.name, ln.Addr(), sc.server)
			continue
		}
		var bind string
		switch sc.bind {
		case "unix":
			addrs[sc.name] = filepath.Join(dir, sc.name+".sock")
			bind = "unix@" + addrs[sc.name]
		default:
			addrs[sc.name] = freePort()
			bind = addrs[sc.name]
			if sc.bind == "ssl" {
				bind += " ssl crt " + filepath.Join(dir, "server.pem") + " ca-file " + filepath.Join(dir, "ca.pem") + " verify optional alpn mqtt"
			}
		}
		fmt.Fprintf(&cfg, "frontend fe-%s\n  bind %s\n%s  default_backend be-%s\nbackend be-%s\n  server s %s %s\n",
			sc.name, bind, sc.frontend, sc.name, sc.name, ln.Addr(), sc.server)
	}
	cfgPath := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o600); err != nil {
		log.Fatal(err)
	}
	cmd := exec.Command("haproxy", "-db", "-f", cfgPath)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	time.Sleep(500 * time.Millisecond) // let HAProxy bind; the clients retry anyway

	for _, sc := range scenarios {
		if sc.check {
			continue
		}
		var err error
		for try := 0; try < 20; try++ {
			if err = sc.client(addrs[sc.name]); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			log.Fatalf("%s: %v", sc.name, err)
		}
	}
	for range scenarios {
		select {
		case c := <-got:
			if err := os.WriteFile(filepath.Join("testdata", "haproxy", c.name+".bin"), c.b, 0o644); err != nil {
				log.Fatal(err)
			}
			fmt.Printf("%-22s %3d bytes %q\n", c.name, len(c.b), c.b)
		case <-time.After(10 * time.Second):
			log.Fatal("timed out waiting for HAProxy")
		}
	}
	out, _ := exec.Command("haproxy", "-v").Output()
	fmt.Printf("captured from %s", bytes.SplitAfter(out, []byte("\n"))[0])
}

// send connects to addr (a path for a UNIX socket), over TLS when cfg is set, sends the marker and
// waits for HAProxy to close or for a short while, so that the backend receives it.
func send(addr string, cfg *tls.Config) error {
	network := "tcp"
	if strings.HasPrefix(addr, "/") {
		network = "unix"
	}
	c, err := net.DialTimeout(network, addr, 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	if cfg != nil {
		tc := tls.Client(c, cfg)
		if err := tc.Handshake(); err != nil {
			return err
		}
		c = tc
	}
	if _, err := c.Write([]byte(marker)); err != nil {
		return err
	}
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	c.Read(make([]byte, 1))
	return nil
}

// readCapture reads what the backend receives until the marker, EOF or two seconds.
func readCapture(c net.Conn) []byte {
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	var b []byte
	buf := make([]byte, 4096)
	for !bytes.Contains(b, []byte(marker)) {
		n, err := c.Read(buf)
		b = append(b, buf[:n]...)
		if err != nil {
			break
		}
	}
	return b
}

func freePort() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// writeCerts writes a CA (ca.pem) and a server certificate for broker.example.com with its key
// (server.pem, the form HAProxy's "crt" wants), and returns a client certificate for CN device-17.
func writeCerts(dir string) (tls.Certificate, *x509.CertPool) {
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			log.Fatal(err)
		}
		return k
	}
	caKey := newKey()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "loopmq test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		log.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(cn string, usage x509.ExtKeyUsage, dns []string) ([]byte, *ecdsa.PrivateKey) {
		k := newKey()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
			DNSNames: dns, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			log.Fatal(err)
		}
		return der, k
	}
	pemOf := func(typ string, b []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}) }
	keyPEM := func(k *ecdsa.PrivateKey) []byte {
		b, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			log.Fatal(err)
		}
		return pemOf("EC PRIVATE KEY", b)
	}
	srvDER, srvKey := issue("broker.example.com", x509.ExtKeyUsageServerAuth, []string{"broker.example.com"})
	if err := os.WriteFile(filepath.Join(dir, "server.pem"), append(pemOf("CERTIFICATE", srvDER), keyPEM(srvKey)...), 0o600); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), pemOf("CERTIFICATE", caDER), 0o600); err != nil {
		log.Fatal(err)
	}
	cliDER, cliKey := issue("device-17", x509.ExtKeyUsageClientAuth, nil)
	cert, err := tls.X509KeyPair(pemOf("CERTIFICATE", cliDER), keyPEM(cliKey))
	if err != nil {
		log.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return cert, pool
}
