// Comparison of the non-blocking TLS engine of github.com/lesismal/nbio
// (github.com/lesismal/llib/std/crypto/tls) with the same harness as server/tlslayer's TestIdleMemory and
// BenchmarkInbound/BenchmarkOutbound. A module of its own under testdata, so loopmq does not depend on llib:
//
//	cd server/tlslayer/testdata/llibcmp && go test -run LlibIdle -v . && go test -run XXX -bench Llib -benchtime 20000x .

package llibcmp

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	stdtls "crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	ltls "github.com/lesismal/llib/std/crypto/tls"
)

type memConn struct {
	mu    sync.Mutex
	cond  *sync.Cond
	in    []byte
	out   []byte
	wrote chan struct{}
}

func newMemConn() *memConn {
	m := &memConn{wrote: make(chan struct{}, 1)}
	m.cond = sync.NewCond(&m.mu)
	return m
}
func (m *memConn) Read(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for len(m.in) == 0 {
		m.cond.Wait()
	}
	n := copy(p, m.in)
	m.in = m.in[:copy(m.in, m.in[n:])]
	return n, nil
}
func (m *memConn) Write(p []byte) (int, error) {
	m.mu.Lock()
	m.out = append(m.out, p...)
	m.mu.Unlock()
	select {
	case m.wrote <- struct{}{}:
	default:
	}
	return len(p), nil
}
func (m *memConn) feed(b []byte) {
	m.mu.Lock()
	m.in = append(m.in, b...)
	m.mu.Unlock()
	m.cond.Broadcast()
}
func (m *memConn) take() []byte                     { m.mu.Lock(); defer m.mu.Unlock(); b := m.out; m.out = nil; return b }
func (m *memConn) Close() error                     { return nil }
func (m *memConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (m *memConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (m *memConn) SetDeadline(time.Time) error      { return nil }
func (m *memConn) SetReadDeadline(time.Time) error  { return nil }
func (m *memConn) SetWriteDeadline(time.Time) error { return nil }

// sink is the server side adapter of llib: writes collected.
type sink struct{ memConn }

func cert(t testing.TB) (stdtls.Certificate, *x509.CertPool) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"},
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	leaf, _ := x509.ParseCertificate(der)
	p := x509.NewCertPool()
	p.AddCert(leaf)
	return stdtls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, p
}

type lpair struct {
	srv *ltls.Conn
	sa  *memConn
	m   *memConn
	cli *stdtls.Conn
}

func openL(t testing.TB, scfg *ltls.Config, pool *x509.CertPool) *lpair {
	p := &lpair{sa: newMemConn(), m: newMemConn()}
	p.srv = ltls.NewConn(p.sa, scfg, false, true)
	p.cli = stdtls.Client(p.m, &stdtls.Config{RootCAs: pool, ServerName: "localhost"})
	errc := make(chan error, 1)
	go func() { errc <- p.cli.Handshake() }()
	buf := make([]byte, 1024)
	done := false
	for !done {
		select {
		case <-p.m.wrote:
		case err := <-errc:
			if err != nil {
				t.Fatal(err)
			}
			done = true
		}
		p.srv.Append(p.m.take())
		if _, err := p.srv.Read(buf); err != nil {
			t.Fatal(err)
		}
		p.m.feed(p.sa.take())
	}
	// the client's Finished
	p.srv.Append(p.m.take())
	if _, err := p.srv.Read(buf); err != nil {
		t.Fatal(err)
	}
	p.m.feed(p.sa.take())
	return p
}

func heap() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func TestLlibIdle(t *testing.T) {
	c, pool := cert(t)
	scfg := &ltls.Config{Certificates: []ltls.Certificate{{Certificate: c.Certificate, PrivateKey: c.PrivateKey}}}
	for _, traffic := range []int{0, 100, 16 << 10} {
		base := heap()
		srvs := make([]*ltls.Conn, 1000)
		for i := range srvs {
			p := openL(t, scfg, pool)
			if traffic > 0 {
				msg := bytes.Repeat([]byte{'x'}, traffic)
				p.cli.Write(msg)
				p.srv.Append(p.m.take())
				buf := make([]byte, traffic+100)
				got := 0
				for got < traffic {
					n, err := p.srv.Read(buf)
					if err != nil || n == 0 {
						t.Fatal(n, err)
					}
					got += n
				}
				p.srv.Write(msg)
				p.sa.take()
			}
			p.srv.ResetOrFreeBuffer()
			srvs[i] = p.srv
		}
		t.Logf("llib idle after %d B: %.0f B/conn (state %x)", traffic, float64(heap()-base)/1000, srvs[0].ConnectionState().Version)
		runtime.KeepAlive(srvs)
	}
}

func BenchmarkLlibDecrypt1K(b *testing.B) {
	c, pool := cert(b)
	scfg := &ltls.Config{Certificates: []ltls.Certificate{{Certificate: c.Certificate, PrivateKey: c.PrivateKey}}}
	p := openL(b, scfg, pool)
	msg := bytes.Repeat([]byte{'x'}, 1024)
	buf := make([]byte, 4096)
	b.SetBytes(1024)
	b.ReportAllocs()
	b.StopTimer()
	for i := 0; i < b.N; {
		k := min(256, b.N-i)
		for j := 0; j < k; j++ {
			p.cli.Write(msg)
		}
		recs := p.m.take()
		b.StartTimer()
		p.srv.Append(recs)
		for j := 0; j < k; j++ {
			if n, err := p.srv.Read(buf); n != 1024 || err != nil {
				b.Fatal(n, err)
			}
		}
		b.StopTimer()
		i += k
	}
}

func BenchmarkLlibEncrypt1K(b *testing.B) {
	c, pool := cert(b)
	scfg := &ltls.Config{Certificates: []ltls.Certificate{{Certificate: c.Certificate, PrivateKey: c.PrivateKey}}}
	p := openL(b, scfg, pool)
	msg := bytes.Repeat([]byte{'x'}, 1024)
	b.SetBytes(1024)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p.srv.Write(msg)
		p.sa.mu.Lock()
		p.sa.out = p.sa.out[:0]
		p.sa.mu.Unlock()
	}
}
