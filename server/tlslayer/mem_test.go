package tlslayer

import (
	"crypto/tls"
	"net"
	"sync"
	"testing"
	"time"

	"loopmq/server/layer"
)

// memConn is the client's end of an in-memory connection: Read blocks until the test feeds bytes, Write
// collects what the client sends.
type memConn struct {
	mu     sync.Mutex
	cond   *sync.Cond
	in     []byte
	out    []byte
	closed bool
	wrote  chan struct{}
}

func newMemConn() *memConn {
	m := &memConn{wrote: make(chan struct{}, 1)}
	m.cond = sync.NewCond(&m.mu)
	return m
}

func (m *memConn) Read(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for len(m.in) == 0 && !m.closed {
		m.cond.Wait()
	}
	if len(m.in) == 0 {
		return 0, net.ErrClosed
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

// feed hands the client the bytes of v.
func (m *memConn) feed(bufs [][]byte) {
	m.mu.Lock()
	for _, b := range bufs {
		m.in = append(m.in, b...)
	}
	m.mu.Unlock()
	m.cond.Broadcast()
}

// take returns what the client has sent since the last call.
func (m *memConn) take() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.out
	m.out = nil
	return b
}

func (m *memConn) Close() error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.cond.Broadcast()
	return nil
}

func (m *memConn) LocalAddr() net.Addr              { return testAddr }
func (m *memConn) RemoteAddr() net.Addr             { return testAddr }
func (m *memConn) SetDeadline(time.Time) error      { return nil }
func (m *memConn) SetReadDeadline(time.Time) error  { return nil }
func (m *memConn) SetWriteDeadline(time.Time) error { return nil }

var testAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1883}

// pair is a Layer and a crypto/tls client talking through memory; the test is the server's loop.
type pair struct {
	l    *Layer
	wake chan struct{}
	m    *memConn
	cli  *tls.Conn
}

func newPair(cfg *Config, cc *tls.Config) *pair {
	wake := make(chan struct{}, 1)
	p := &pair{wake: wake, m: newMemConn()}
	p.l = New(cfg, func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	})
	p.cli = tls.Client(p.m, cc)
	return p
}

// handshake runs both sides until the layer is open; it returns the client's handshake error, or the layer's.
func (p *pair) handshake(t testing.TB) error {
	t.Helper()
	_, err := p.handshakeThen(t, nil)
	return err
}

// handshakeThen is handshake where the client writes each of then right after its side of the handshake, so the
// records reach the layer with the client's Finished. It returns the data the layer handed up meanwhile.
func (p *pair) handshakeThen(t testing.TB, then [][]byte) ([]byte, error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		err := p.cli.Handshake()
		for _, b := range then {
			if err == nil {
				_, err = p.cli.Write(b)
			}
		}
		errc <- err
	}()
	var data []byte
	var cliErr error
	cliDone := false
	deadline := time.After(20 * time.Second)
	var reply layer.Vec
	for {
		select {
		case <-p.m.wrote:
		case <-p.wake:
		case cliErr = <-errc:
			cliDone = true
			if cliErr != nil {
				p.m.Close()
				return data, cliErr
			}
		case <-deadline:
			t.Fatal("handshake did not end")
		}
		reply.Reset()
		r := p.l.Inbound(p.m.take(), testAddr, &reply)
		data = append(data, r.Data...)
		p.m.feed(reply.Bufs)
		if r.Err != nil {
			p.m.Close()
			<-errc
			return data, r.Err
		}
		if cliDone && p.l.state == stateOpen {
			return data, nil
		}
	}
}

// open makes a pair and runs its handshake.
func open(t testing.TB, cfg *Config, cc *tls.Config) *pair {
	t.Helper()
	p := newPair(cfg, cc)
	if err := p.handshake(t); err != nil {
		t.Fatal(err)
	}
	return p
}

// records returns the records the client sends for each message in msgs, one Write each.
func (p *pair) records(t testing.TB, msgs ...[]byte) []byte {
	t.Helper()
	for _, m := range msgs {
		if _, err := p.cli.Write(m); err != nil {
			t.Fatal(err)
		}
	}
	return p.m.take()
}
