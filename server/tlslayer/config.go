package tlslayer

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync/atomic"
	"time"
)

// Certs is a listener's certificate and key, read from PEM files and swapped atomically by Reload: handshakes
// read the current pair through GetCertificate, so a reload never touches open connections.
type Certs struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
}

// LoadCerts reads the pair from certFile (the chain in it is sent whole) and keyFile.
func LoadCerts(certFile, keyFile string) (*Certs, error) {
	c := &Certs{certFile: certFile, keyFile: keyFile}
	if err := c.Reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// Reload reads the files again. On an error (a missing file, a key that does not match) the pair in use stays.
func (c *Certs) Reload() error {
	pair, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("tls: loading %s and %s: %w", c.certFile, c.keyFile, err)
	}
	c.cur.Store(&pair)
	return nil
}

// Current is the pair new handshakes use.
func (c *Certs) Current() *tls.Certificate { return c.cur.Load() }

// GetCertificate is tls.Config.GetCertificate: the current pair, whatever the client asked for.
func (c *Certs) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.cur.Load(), nil
}

// ClientAuth is how a listener treats client certificates.
type ClientAuth uint8

const (
	// ClientAuthNone asks for no certificate.
	ClientAuthNone ClientAuth = iota
	// ClientAuthRequest asks for one and verifies it against the CA pool when the client sends one.
	ClientAuthRequest
	// ClientAuthRequire refuses a client without a certificate that verifies against the CA pool.
	ClientAuthRequire
)

// ParseClientAuth reads the option's value: none (or empty), request, require.
func ParseClientAuth(s string) (ClientAuth, error) {
	switch s {
	case "", "none":
		return ClientAuthNone, nil
	case "request":
		return ClientAuthRequest, nil
	case "require":
		return ClientAuthRequire, nil
	}
	return 0, fmt.Errorf("tls client auth %q: want none, request or require", s)
}

// ParseMinVersion reads "1.0", "1.1", "1.2" or "1.3"; empty is 1.2.
func ParseMinVersion(s string) (uint16, error) {
	switch s {
	case "", "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	case "1.1":
		return tls.VersionTLS11, nil
	case "1.0":
		return tls.VersionTLS10, nil
	}
	return 0, fmt.Errorf("tls min version %q: want 1.0, 1.1, 1.2 or 1.3", s)
}

// LoadCAPool reads the PEM certificates in file into a pool.
func LoadCAPool(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("tls: %s holds no PEM certificate", file)
	}
	return p, nil
}

// Options configure a TLS listener.
type Options struct {
	// Certs is the server's pair (required).
	Certs *Certs
	// ClientAuth and ClientCAs: client certificates. Request and require need ClientCAs.
	ClientAuth ClientAuth
	ClientCAs  *x509.CertPool
	// MinVersion is the oldest TLS version accepted; 0 is TLS 1.2.
	MinVersion uint16
	// ALPN lists the application protocols the server selects, in its order of preference, when the client
	// offers them: "mqtt" on an MQTT listener, "http/1.1" on a WebSocket one. A client that offers none of them
	// is served without ALPN rather than refused (clients send vendor names such as AWS's "x-amzn-mqtt-ca").
	ALPN []string
	// HandshakeTimeout bounds a handshake from its first byte; 0 is 10 s.
	HandshakeTimeout time.Duration
	// Workers bounds how many handshakes compute at once (their public-key work); 0 is GOMAXPROCS.
	Workers int
}

// Config is a listener's TLS configuration, shared by its connections and only read.
type Config struct {
	certs   *Certs
	tls     *tls.Config
	timeout time.Duration
	workers chan struct{} // a token per handshake computing
}

// NewConfig checks o and builds the listener's configuration.
func NewConfig(o Options) (*Config, error) {
	if o.Certs == nil || o.Certs.Current() == nil {
		return nil, errors.New("tls: no certificate")
	}
	base := &tls.Config{
		GetCertificate: o.Certs.GetCertificate,
		MinVersion:     o.MinVersion,
		ClientCAs:      o.ClientCAs,
		// Outbound coalesces a flush into one Write: records as big as allowed, from the first one.
		DynamicRecordSizingDisabled: true,
	}
	if base.MinVersion == 0 {
		base.MinVersion = tls.VersionTLS12
	}
	switch o.ClientAuth {
	case ClientAuthNone:
		base.ClientAuth = tls.NoClientCert
	case ClientAuthRequest:
		base.ClientAuth = tls.VerifyClientCertIfGiven
	case ClientAuthRequire:
		base.ClientAuth = tls.RequireAndVerifyClientCert
	default:
		return nil, fmt.Errorf("tls: client auth %d", o.ClientAuth)
	}
	if o.ClientAuth != ClientAuthNone && o.ClientCAs == nil {
		return nil, errors.New("tls: client certificates need a CA pool")
	}
	if len(o.ALPN) > 0 {
		// One configuration per protocol, chosen from the ClientHello: crypto/tls would refuse a client whose
		// offer does not overlap the server's list.
		byProto := make(map[string]*tls.Config, len(o.ALPN))
		for _, p := range o.ALPN {
			c := base.Clone()
			c.NextProtos = []string{p}
			byProto[p] = c
		}
		plain := base.Clone()
		protos := slices.Clone(o.ALPN)
		base.GetConfigForClient = func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			for _, p := range protos {
				if slices.Contains(h.SupportedProtos, p) {
					return byProto[p], nil
				}
			}
			return plain, nil
		}
	}
	c := &Config{certs: o.Certs, tls: base, timeout: o.HandshakeTimeout}
	if c.timeout <= 0 {
		c.timeout = 10 * time.Second
	}
	w := o.Workers
	if w <= 0 {
		w = runtime.GOMAXPROCS(0)
	}
	c.workers = make(chan struct{}, w)
	return c, nil
}

// Certs is the pair the configuration serves (Reload it to change the pair).
func (c *Config) Certs() *Certs { return c.certs }

// TLS is the crypto/tls configuration (read only).
func (c *Config) TLS() *tls.Config { return c.tls }
