// Package tlstest makes the certificates of TLS tests: a CA, a server pair for 127.0.0.1-3 and localhost, and a
// client pair, ECDSA P-256, in PEM files of a temporary directory.
package tlstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// PKI is a test CA and the pairs it issued.
type PKI struct {
	Dir                   string
	CAFile                string // the CA certificate, PEM
	CertFile, KeyFile     string // the server pair, PEM
	ClientCert, ClientKey string // the client pair ("device-7"), PEM
	Pool                  *x509.CertPool
	Client                tls.Certificate
	ca                    *x509.Certificate
	caKey                 *ecdsa.PrivateKey
}

var serial atomic.Int64

// New makes a CA, a server pair named "server one" and a client pair named "device-7".
func New(t testing.TB) *PKI {
	t.Helper()
	p := &PKI{Dir: t.TempDir()}
	var err error
	p.caKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial.Add(1)), Subject: pkix.Name{CommonName: "loopmq test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &p.caKey.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	p.ca, _ = x509.ParseCertificate(der)
	p.Pool = x509.NewCertPool()
	p.Pool.AddCert(p.ca)
	p.CAFile = filepath.Join(p.Dir, "ca.pem")
	writePEM(t, p.CAFile, "CERTIFICATE", der)
	p.CertFile, p.KeyFile = filepath.Join(p.Dir, "server.pem"), filepath.Join(p.Dir, "server.key")
	p.WriteServer(t, "server one")
	p.ClientCert, p.ClientKey = filepath.Join(p.Dir, "client.pem"), filepath.Join(p.Dir, "client.key")
	p.Client = p.Issue(t, "device-7", x509.ExtKeyUsageClientAuth, p.ClientCert, p.ClientKey)
	return p
}

func writePEM(t testing.TB, file, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Issue makes a leaf named cn for usage, signed by the CA, valid for localhost and 127.0.0.1 to 127.0.0.3 (tests
// give each listener its own address, as port 0 twice on one address names one listener), and writes it to
// certFile and keyFile unless they are empty.
func (p *PKI) Issue(t testing.TB, cn string, usage x509.ExtKeyUsage, certFile, keyFile string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial.Add(1)), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv4(127, 0, 0, 2), net.IPv4(127, 0, 0, 3)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if certFile != "" {
		writePEM(t, certFile, "CERTIFICATE", der)
		writePEM(t, keyFile, "EC PRIVATE KEY", kder)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// WriteServer issues a new server pair named cn into CertFile and KeyFile.
func (p *PKI) WriteServer(t testing.TB, cn string) {
	t.Helper()
	p.Issue(t, cn, x509.ExtKeyUsageServerAuth, p.CertFile, p.KeyFile)
}

// ClientConfig trusts the CA and expects the server named localhost.
func (p *PKI) ClientConfig() *tls.Config {
	return &tls.Config{RootCAs: p.Pool, ServerName: "localhost"}
}
