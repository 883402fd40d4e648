package tlslayer

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"loopmq/server/layer"
	"loopmq/server/tlslayer/tlstest"
)

// pki is tlstest's PKI with the layer's configuration.
type pki struct{ *tlstest.PKI }

func newPKI(t testing.TB) *pki { return &pki{tlstest.New(t)} }

func (p *pki) config(t testing.TB, o Options) *Config {
	t.Helper()
	if o.Certs == nil {
		c, err := LoadCerts(p.CertFile, p.KeyFile)
		if err != nil {
			t.Fatal(err)
		}
		o.Certs = c
	}
	cfg, err := NewConfig(o)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// upper is the application above the layer in a test: it takes the bytes handed up (all not yet consumed) and
// returns how many it consumed, the slices to send, and whether to close.
type upper func(in []byte) (consumed int, out [][]byte, closeConn bool)

// server accepts connections on 127.0.0.1 and drives each through a layer made by mk, as an event loop would: one
// goroutine per connection that alone calls the layer, on bytes read and on wake.
type server struct {
	ln   net.Listener
	wg   sync.WaitGroup
	mu   sync.Mutex
	errs []error
	ends []connEnd // what the layers knew when their connections ended
}

// connEnd is what a TLS layer knew when its connection ended, read on the connection's goroutine.
type connEnd struct {
	peer, proto string
}

func serve(t testing.TB, mk func(wake func()) (layer.Layer, *Layer), up func() upper) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wake := make(chan struct{}, 1)
			l, tl := mk(func() {
				select {
				case wake <- struct{}{}:
				default:
				}
			})
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				err := drive(c, l, tl, wake, up())
				e := connEnd{proto: tl.NegotiatedProtocol()}
				if pc := tl.PeerCertificate(); pc != nil {
					e.peer = pc.Subject.CommonName
				}
				s.mu.Lock()
				defer s.mu.Unlock()
				if err != nil {
					s.errs = append(s.errs, err)
				}
				s.ends = append(s.ends, e)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return s
}

func (s *server) addr() string { return s.ln.Addr().String() }

// ended waits for n connections to end and returns what their layers knew.
func (s *server) ended(t testing.TB, n int) []connEnd {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s.mu.Lock()
		e := append([]connEnd(nil), s.ends...)
		s.mu.Unlock()
		if len(e) >= n {
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d connections ended", len(e), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (s *server) errors() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.errs...)
}

// drive is one connection's loop. It returns the layer's error, if any.
func drive(c net.Conn, l layer.Layer, tl *Layer, wake chan struct{}, up upper) error {
	defer c.Close()
	reads := make(chan []byte)
	go func() {
		defer close(reads)
		for {
			b := make([]byte, 4096)
			n, err := c.Read(b)
			if n > 0 {
				reads <- b[:n]
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() {
		c.Close()
		for range reads {
		}
	}()
	var buf, pending []byte
	var reply, out layer.Vec
	send := func(v *layer.Vec) error {
		if len(v.Bufs) == 0 {
			return nil
		}
		bufs := net.Buffers(append([][]byte(nil), v.Bufs...))
		_, err := bufs.WriteTo(c)
		return err
	}
	closing := func() {
		reply.Reset()
		l.Closing(false, &reply)
		send(&reply)
	}
	for {
		select {
		case b, ok := <-reads:
			if !ok {
				// The client is gone. A handshake still running ends with a verdict that is worth reporting
				// (the client may leave as soon as it saw the alert): wait for it.
				for deadline := time.After(20 * time.Second); tl.Handshaking(); {
					select {
					case <-wake:
					case <-deadline:
						return errors.New("the handshake did not end")
					}
					reply.Reset()
					if r := l.Inbound(nil, c.RemoteAddr(), &reply); r.Err != nil {
						closing()
						return r.Err
					}
				}
				closing()
				return nil
			}
			buf = append(buf, b...)
		case <-wake:
		}
		for {
			reply.Reset()
			r := l.Inbound(buf, c.RemoteAddr(), &reply)
			progress := r.Consumed > 0 || len(r.Data) > 0 || len(reply.Bufs) > 0 || r.More
			closeConn := r.Close || r.Err != nil
			if len(r.Data) > 0 {
				pending = append(pending, r.Data...)
				n, o, cl := up(pending)
				pending = pending[:copy(pending, pending[n:])]
				closeConn = closeConn || cl
				if len(o) > 0 {
					out.Reset()
					if l.Outbound(&out, o) {
						if err := send(&out); err != nil {
							return nil
						}
					}
				}
			}
			if err := send(&reply); err != nil {
				return nil
			}
			buf = buf[:copy(buf, buf[r.Consumed:])]
			if closeConn {
				closing()
				if r.Err != nil && !errors.Is(r.Err, io.EOF) {
					return r.Err
				}
				return nil
			}
			if !progress || len(buf) == 0 && !r.More {
				break
			}
		}
	}
}
