// Package tlslayer runs TLS as a layer.Layer on the connection's own event loop: records are decrypted and
// encrypted by the loop, with no goroutine per connection once the handshake is done.
//
// # Engine
//
// The engine is the standard library's crypto/tls, driven through an in-memory net.Conn (the adapter). Once the
// handshake is done, Inbound points the adapter at the whole records just received and calls tls.Conn.Read
// until the adapter has none left; the adapter then fails with a net.Error whose Temporary() is true, which
// crypto/tls does not record as the connection's error (conn.go, readRecordOrCCS), so the next Inbound reads on.
// TestTemporaryReadKeepsConnUsable guards that behaviour for each Go version. Writes append to the loop's Vec.
//
// The alternative, the non-blocking fork of crypto/tls that github.com/lesismal/nbio uses
// (github.com/lesismal/llib/std/crypto/tls v1.2.5), builds with Go 1.26 and can stop a handshake for lack of bytes
// and resume it, but it is a copy of an older crypto/tls (about Go 1.23's, on golang.org/x/crypto of 2021) that
// gets the standard library's security fixes only when someone ports them, and the numbers do not favour it.
// Measured on this machine (Go 1.26, TLS 1.3, ECDSA P-256, 1,000 server-side connections, Go heap after the
// handshake; throughput on one core, 1 KiB records):
//
//	                            crypto/tls + adapter    llib (ResetOrFreeBuffer called)
//	idle, after the handshake   6.8 KB                  8.7 KB
//	idle, after 100 B packets   6.8 KB                  8.8 KB
//	idle, after a 16 KiB record 14.2 KB                 13.6 KB
//	decrypt 1 KiB record        606 ns, 0 allocs        1,422 ns, 2 allocs
//	encrypt 1 KiB record        346 ns, 0 allocs        707 ns, 0 allocs
//
// (TestIdleMemory and BenchmarkInbound/BenchmarkOutbound here; the llib side with the same harness in
// testdata/llibcmp, a module of its own.) The price of crypto/tls is that a handshake cannot stop for lack of bytes
// and resume: it runs on its own goroutine (see below) until it is done, then the goroutine ends; and the read
// buffer it grew (3.5 KB after a ClientHello with an ML-KEM key share, 17 KB after a record of 16 KiB) stays with
// the connection, since crypto/tls never releases it.
//
// # Handshake
//
// The first whole record (the ClientHello) starts the handshake on a goroutine of its own that reads what Inbound
// hands it and blocks while it waits for the client; it ends with the handshake (or with Closing, or after
// Options.HandshakeTimeout), so there is one such goroutine per connection in its handshake and none after. Its
// computing parts (key exchange, signature, certificate verification) hold one of Options.Workers tokens, given
// back while it waits for the client, so a storm of reconnecting clients queues there instead of stalling the
// loops or the CPU.
//
// # Driving it
//
// The owner (the server's event loop) uses the Layer like any other (see layer.Layer), with one addition: while
// Handshaking, Inbound may make no progress although the handshake goroutine will soon have an answer. The wake
// function given to New is then called, from that goroutine, once per flight it writes and once when it ends (so
// possibly after the connection closed: it must be safe then, e.g. gnet's Conn.Wake); the owner answers by calling
// Inbound on the loop with the bytes it holds, possibly none, which returns the flight as replies and, at the end,
// the verdict (Err, with the alert in the replies) or the data that came behind the client's Finished. The
// verified client certificate (PeerCertificate) and the ALPN protocol are known from that call on.
//
// # Memory
//
// After the handshake a connection holds this Layer (170 B), the tls.Conn (890 B), its two AES-GCM states
// (1.75 KB), secrets (about 200 B) and crypto/tls's read buffer (3.5 KB, see above): 6.8 KB of Go heap; 4.6 KB
// when the client sent no ML-KEM key share (OpenSSL 3.0 clients, most devices: a ClientHello of a few hundred
// bytes sizes the read buffer). Partial records stay in the caller's buffer, plaintext is decrypted in place into
// raw, records are sealed into the loop's Vec (crypto/tls's record scratch is pooled) and the handshake's buffers
// go with it, so no other read or write buffer stays with an idle connection.
package tlslayer

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"loopmq/server/layer"
)

const (
	stateNew uint8 = iota // no byte yet
	stateHandshake
	stateOpen
	stateClosed
)

// Record sizes [RFC 8446 §5.1, RFC 5246 §6.2.3], and the type of a handshake record.
const (
	recordTypeHandshake = 0x16
	recordHeaderLen     = 5
	maxCiphertext       = 16384 + 2048
)

// ErrNotTLS is the error of a connection whose first byte is not that of a TLS handshake record (0x16).
var ErrNotTLS = errors.New("tls listener: the first byte is not a TLS handshake record")

// ErrHandshakeTimeout is the handshake's error when it took longer than Options.HandshakeTimeout.
var ErrHandshakeTimeout = errors.New("tls: handshake timed out")

// Layer is the TLS transport of one connection.
type Layer struct {
	cfg     *Config
	wake    func()
	tc      *tls.Conn
	a       adapter
	hs      *handshake // while the handshake runs
	state   uint8
	left    []byte // bytes that came behind the handshake, not yet consumed, from leftOff on
	leftOff int
	peer    *x509.Certificate // the client's verified certificate, if any
	proto   string            // the negotiated ALPN protocol
}

// New returns the layer of a new connection. wake is called from another goroutine when the handshake has bytes
// to send or has ended; the owner must then call Inbound on its loop.
func New(cfg *Config, wake func()) *Layer {
	return &Layer{cfg: cfg, wake: wake}
}

// PeerCertificate is the client's certificate once the handshake verified it (client auth request or require),
// else nil. Its Subject and SAN fields identify the client.
func (l *Layer) PeerCertificate() *x509.Certificate { return l.peer }

// NegotiatedProtocol is the ALPN protocol chosen, "" if none.
func (l *Layer) NegotiatedProtocol() string { return l.proto }

// Handshaking says the handshake has started and Inbound has not yet seen its end.
func (l *Layer) Handshaking() bool { return l.state == stateHandshake }

// ConnectionState is crypto/tls's description of the connection (it allocates: for logs and tests).
func (l *Layer) ConnectionState() tls.ConnectionState {
	if l.tc == nil || l.state != stateOpen {
		return tls.ConnectionState{}
	}
	return l.tc.ConnectionState()
}

// Inbound feeds the handshake, then decrypts the whole records in raw in place: Data is a view into raw.
func (l *Layer) Inbound(raw []byte, peer net.Addr, reply *layer.Vec) layer.Result {
	switch l.state {
	case stateNew:
		switch {
		case len(raw) == 0:
			return layer.Result{}
		case raw[0] != recordTypeHandshake:
			// Plain MQTT or noise: no TLS alert would be understood.
			l.state = stateClosed
			return layer.Result{Consumed: len(raw), Close: true, Err: ErrNotTLS}
		case wholeRecords(raw) == 0:
			// The goroutine starts with the whole first record, the ClientHello, so a scanner or a stalled
			// client costs none.
			return layer.Result{}
		}
		l.start(peer)
		fallthrough
	case stateHandshake:
		r, done := l.feed(raw, reply)
		if !done || l.state != stateOpen || len(l.a.left) == 0 {
			return r
		}
		// Records that came behind the client's Finished are in the handshake's buffer: read them there (raw's
		// own bytes are consumed), and keep what is left for the next call.
		l.left, l.leftOff, l.a.left = l.a.left, 0, nil
		d := l.readLeft(nil, reply)
		d.Consumed = r.Consumed
		return d
	case stateOpen:
		if l.left != nil {
			l.left = l.left[:copy(l.left, l.left[l.leftOff:])]
			l.leftOff = 0
			if len(l.left) > 0 {
				return l.readLeft(raw, reply)
			}
			l.left = nil
		}
		return l.read(raw, reply)
	}
	return layer.Result{Consumed: len(raw), Close: true}
}

// readLeft reads the bytes left by the handshake, then raw behind them (the previous call's Data, a view into
// left, has been used by now and left compacted). left is dropped once all read.
func (l *Layer) readLeft(raw []byte, reply *layer.Vec) layer.Result {
	l.left = append(l.left, raw...)
	r := l.read(l.left, reply)
	l.leftOff = r.Consumed
	if r.Close || l.leftOff == len(l.left) {
		// Nothing left to keep: Data stays valid in the dropped array, which the caller alone references now,
		// and an idle connection does not keep the handshake's buffer.
		l.left, l.leftOff = nil, 0
	}
	r.Consumed = len(raw)
	return r
}

// read decrypts the whole records at the start of raw into raw itself.
func (l *Layer) read(raw []byte, reply *layer.Vec) layer.Result {
	end := wholeRecords(raw)
	if end == 0 {
		return layer.Result{}
	}
	l.a.src, l.a.dst = raw[:end], reply
	from := len(reply.Scratch)
	w := 0
	var err error
	for w < end {
		// Plaintext never outgrows the ciphertext read before it, so writing it at raw[w:] overwrites only
		// bytes the adapter has already handed to crypto/tls. The loop ends when the adapter has no whole
		// record left (errWouldBlock) or on the connection's end.
		var n int
		n, err = l.tc.Read(raw[w:end])
		w += n
		if err != nil {
			break
		}
	}
	reply.Add(from)
	consumed := end - len(l.a.src)
	l.a.src, l.a.dst = nil, nil
	r := layer.Result{Consumed: consumed, Data: raw[:w:w]}
	switch {
	case err == nil || errors.Is(err, errWouldBlock):
	case errors.Is(err, io.EOF):
		r.Consumed, r.Close = len(raw), true
	default:
		l.state = stateClosed
		r.Consumed, r.Close, r.Err = len(raw), true, err
	}
	return r
}

// wholeRecords is the length of the whole records at the start of b; an announced length no record may have
// counts as whole, so crypto/tls reads and refuses it.
func wholeRecords(b []byte) int {
	n := 0
	for len(b)-n >= recordHeaderLen {
		size := recordHeaderLen + (int(b[n+3])<<8 | int(b[n+4]))
		if size > recordHeaderLen+maxCiphertext {
			return len(b)
		}
		if len(b)-n < size {
			break
		}
		n += size
	}
	return n
}

// Outbound encrypts data as few records as fit (records of 16 KiB): slices are gathered into one plaintext
// first, in out.Scratch, then sealed into out.Scratch.
func (l *Layer) Outbound(out *layer.Vec, data [][]byte) bool {
	if l.state != stateOpen {
		return false
	}
	var p []byte
	switch len(data) {
	case 0:
		return true
	case 1:
		p = data[0]
	default:
		start := len(out.Scratch)
		for _, d := range data {
			out.Scratch = append(out.Scratch, d...)
		}
		p = out.Scratch[start:len(out.Scratch):len(out.Scratch)]
	}
	if len(p) == 0 {
		return true
	}
	from := len(out.Scratch)
	l.a.dst = out
	_, err := l.tc.Write(p)
	l.a.dst = nil
	if err != nil {
		out.Scratch = out.Scratch[:from]
		return false
	}
	out.Add(from)
	return true
}

// Closing sends close_notify once the handshake is done, and stops a handshake still running.
func (l *Layer) Closing(shutdown bool, reply *layer.Vec) {
	switch l.state {
	case stateHandshake:
		l.hs.stop()
		l.hs = nil
	case stateOpen:
		from := len(reply.Scratch)
		l.a.dst = reply
		_ = l.tc.CloseWrite()
		l.a.dst = nil
		reply.Add(from)
	}
	l.state = stateClosed
	l.tc = nil
}

// ClientAddr is nil: TLS names no client.
func (l *Layer) ClientAddr() net.Addr { return nil }

// errWouldBlock is the adapter's error when crypto/tls wants bytes the loop has not received: Temporary, so
// crypto/tls keeps the connection usable.
var errWouldBlock error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "tlslayer: no whole record buffered" }
func (wouldBlock) Timeout() bool   { return true }
func (wouldBlock) Temporary() bool { return true }

// adapter is the net.Conn under the tls.Conn. During the handshake it is the handshake's pipe; after it, Read
// hands over src (whole records of the caller's raw) and Write appends to dst, the loop's Vec.
type adapter struct {
	hs   *handshake
	src  []byte
	dst  *layer.Vec
	left []byte // bytes the handshake's pipe held when it ended
	addr net.Addr
}

func (a *adapter) Read(p []byte) (int, error) {
	if a.hs != nil {
		return a.hs.read(p)
	}
	if len(a.src) == 0 {
		return 0, errWouldBlock
	}
	n := copy(p, a.src)
	a.src = a.src[n:]
	return n, nil
}

func (a *adapter) Write(p []byte) (int, error) {
	if a.hs != nil {
		return a.hs.write(p)
	}
	if a.dst == nil {
		// crypto/tls writes on its own only in answer to a read (a KeyUpdate, an alert), when dst is set.
		return 0, net.ErrClosed
	}
	a.dst.Scratch = append(a.dst.Scratch, p...)
	return len(p), nil
}

func (a *adapter) Close() error                     { return nil }
func (a *adapter) LocalAddr() net.Addr              { return a.addr }
func (a *adapter) RemoteAddr() net.Addr             { return a.addr }
func (a *adapter) SetDeadline(time.Time) error      { return nil }
func (a *adapter) SetReadDeadline(time.Time) error  { return nil }
func (a *adapter) SetWriteDeadline(time.Time) error { return nil }

// handshake is the state the loop and the handshake goroutine share.
type handshake struct {
	cfg    *Config
	wake   func()
	signal chan struct{} // bytes came, or stop
	timer  *time.Timer

	mu      sync.Mutex
	in      []byte // bytes for the goroutine
	hdr     [recordHeaderLen]byte
	hdrN    int    // bytes of the current record's header handed over
	body    int    // bytes of the current record's body not yet handed over
	out     []byte // bytes for the client
	done    bool
	err     error
	stopped bool
	working bool // the goroutine holds a worker token
}

func (l *Layer) start(peer net.Addr) {
	h := &handshake{cfg: l.cfg, wake: l.wake, signal: make(chan struct{}, 1)}
	l.hs, l.a.hs, l.a.addr = h, h, peer
	l.tc = tls.Server(&l.a, l.cfg.tls)
	l.state = stateHandshake
	h.timer = time.NewTimer(l.cfg.timeout)
	tc := l.tc
	go func() {
		h.acquire()
		err := tc.Handshake()
		h.release()
		h.timer.Stop()
		h.mu.Lock()
		h.done, h.err = true, err
		h.mu.Unlock()
		h.wake()
	}()
}

// feed hands raw to the handshake goroutine and collects what it has to send. done says the handshake ended and
// the layer is open, closed or failed.
func (l *Layer) feed(raw []byte, reply *layer.Vec) (layer.Result, bool) {
	h := l.hs
	r := layer.Result{Consumed: len(raw)}
	h.mu.Lock()
	if len(raw) > 0 {
		h.in = append(h.in, raw...)
	}
	if len(h.out) > 0 {
		from := len(reply.Scratch)
		reply.Scratch = append(reply.Scratch, h.out...)
		reply.Add(from)
		h.out = h.out[:0]
	}
	done, err, left := h.done, h.err, h.in
	h.mu.Unlock()
	if !done {
		if len(raw) > 0 {
			h.notify()
		}
		return r, false
	}
	l.hs, l.a.hs = nil, nil
	if err != nil {
		l.state, l.tc, l.wake = stateClosed, nil, nil
		r.Close, r.Err = true, err
		return r, true
	}
	l.state, l.wake = stateOpen, nil
	if len(left) > 0 {
		l.a.left = left
	}
	cs := l.tc.ConnectionState()
	l.proto = cs.NegotiatedProtocol
	if len(cs.VerifiedChains) > 0 {
		l.peer = cs.PeerCertificates[0]
	}
	return r, true
}

func (h *handshake) notify() {
	select {
	case h.signal <- struct{}{}:
	default:
	}
}

func (h *handshake) stop() {
	h.mu.Lock()
	h.stopped = true
	h.mu.Unlock()
	h.notify()
}

// acquire takes a worker token; release gives it back.
func (h *handshake) acquire() {
	h.cfg.workers <- struct{}{}
	h.working = true
}

func (h *handshake) release() {
	if h.working {
		h.working = false
		<-h.cfg.workers
	}
}

// read is the goroutine's Read: it gives back its worker token while it waits for the client.
func (h *handshake) read(p []byte) (int, error) {
	for {
		h.mu.Lock()
		if h.stopped {
			h.mu.Unlock()
			return 0, net.ErrClosed
		}
		if len(h.in) > 0 {
			n := h.take(p)
			h.mu.Unlock()
			return n, nil
		}
		h.mu.Unlock()
		h.release()
		select {
		case <-h.signal:
		case <-h.timer.C:
			return 0, ErrHandshakeTimeout
		}
		h.acquire()
	}
}

// take hands p bytes of in up to the end of the current record, never beyond it: crypto/tls keeps what it read
// and did not use, and the records behind the client's Finished must stay here, for the loop to read in place.
func (h *handshake) take(p []byte) int {
	var n int
	if h.hdrN < recordHeaderLen {
		n = copy(p[:min(len(p), recordHeaderLen-h.hdrN)], h.in)
		copy(h.hdr[h.hdrN:], h.in[:n])
		h.hdrN += n
		if h.hdrN == recordHeaderLen {
			h.body = int(h.hdr[3])<<8 | int(h.hdr[4])
		}
	} else {
		n = copy(p[:min(len(p), h.body)], h.in)
		h.body -= n
	}
	if h.hdrN == recordHeaderLen && h.body == 0 {
		h.hdrN = 0
	}
	h.in = h.in[:copy(h.in, h.in[n:])]
	return n
}

// write queues the goroutine's bytes for the loop and wakes it.
func (h *handshake) write(p []byte) (int, error) {
	h.mu.Lock()
	if h.stopped {
		h.mu.Unlock()
		return 0, net.ErrClosed
	}
	h.out = append(h.out, p...)
	h.mu.Unlock()
	h.wake()
	return len(p), nil
}
