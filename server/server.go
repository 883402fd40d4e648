// Package server is the loopmq broker core: gnet event loops, MQTT sessions, routing and delivery, limits and
// options. Its figures are shown by server/stats (metrics, $SYS) and its operator endpoints served by server/admin.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"loopmq/server/layer"
	"loopmq/server/tlslayer"
	"loopmq/server/ws"
	"loopmq/topic"
)

// Version is reported in $SYS/broker/version.
const Version = "loopmq 0.1.0"

// Server is one broker: listeners, event loops, sessions, the topic index and the retained store.
type Server struct {
	opts Options
	log  *slog.Logger
	auth Authenticator

	index    *topic.Index
	retained *topic.Retained[*message]
	sessions sessionTable
	subs     subscriberTable
	waits    waitTable

	loopsMu sync.Mutex
	loops   atomic.Pointer[[]*loop]

	eng      gnet.Engine
	engErr   chan error
	tcpAddr  string // bound addresses, set once listening
	wsAddr   string
	tcpPort  int
	wsPort   int
	tlsAddr  string
	wssAddr  string
	tlsPort  int
	wssPort  int
	httpSrv  *http.Server
	httpLn   net.Listener
	started  time.Time
	ready    atomic.Bool
	stopping atomic.Bool
	stopOnce sync.Once

	openConns     atomic.Int64
	connected     atomic.Int64
	totalConnects atomic.Uint64
	subscriptions atomic.Int64
	retainedBytes atomic.Int64

	connLog, violationLog sampler

	// layers build the transport layers of a new connection, by transport; nil for plain MQTT (TCP) and for a
	// transport this server does not serve (such connections are closed). It is the seam where server/ws plugs in.
	layers       [transportCount]func(*client) layer.Layer
	wsCfg        ws.Config        // upgrade policy, read by every loop
	tlsCfg       *tlslayer.Config // the MQTT-over-TLS listener's, when TLS is on
	wssCfg       *tlslayer.Config // the WebSocket-over-TLS listener's
	wsMaxMessage int              // Deframer.MaxPayload
	openTCP      atomic.Int64
	openWS       atomic.Int64
	proxy        proxyState // PROXY protocol layers (proxy.go)

	authPool chan authJob // set when the Authenticator may block
	// rules are the password and ACL files in force; nil when neither is configured.
	rules   atomic.Pointer[authRules]
	lastSys atomic.Int64 // unix nano of the last $SYS publication
}

// New validates opts and builds a Server; call Start to listen.
func New(opts Options) (*Server, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	s := &Server{
		opts:     opts,
		log:      opts.Logger,
		auth:     opts.Authenticator,
		index:    topic.New(),
		retained: topic.NewRetained[*message](),
		engErr:   make(chan error, 1),
	}
	if s.log == nil {
		s.log = newLogger(os.Stderr, opts.LogLevel, opts.LogFormat)
	}
	if opts.PasswordFile != "" || opts.ACLFile != "" {
		r, err := loadAuthRules(&opts, 1)
		if err != nil {
			return nil, err
		}
		s.rules.Store(r)
		if opts.PasswordFile != "" {
			s.auth = fileAuth{rules: &s.rules, allowAnonymous: opts.AllowAnonymous}
		}
	}
	if s.auth == nil {
		s.auth = AllowAll{}
	}
	if ba, ok := s.auth.(BlockingAuthenticator); ok {
		s.startAuthPool(ba)
	}
	if opts.WSAddr != "" || opts.TCPSniffWS || opts.tlsOn() && opts.WSSAddr != "" {
		s.wsCfg, _ = opts.wsConfig() // checked by Validate
		s.wsMaxMessage = wsMaxMessage(opts.MaxPacketSize)
	}
	if opts.WSAddr != "" || opts.TCPSniffWS {
		s.layers[transportWS] = s.newWSLayer
	}
	if opts.tlsOn() {
		var err error
		if s.tlsCfg, s.wssCfg, err = opts.tlsConfigs(); err != nil {
			return nil, err // the files changed since Validate
		}
		if opts.TLSAddr != "" {
			s.layers[transportTLS] = s.newTLSLayer
		}
		if opts.WSSAddr != "" {
			s.layers[transportWSS] = s.newWSSLayer
		}
	}
	s.setupProxy()
	s.sessions.init()
	s.subs.init()
	s.waits.init(s.opts.MaxQueuedMessages)
	s.connLog.limit = 100
	s.violationLog.limit = 20
	s.loops.Store(&[]*loop{})
	if opts.testHook != nil {
		opts.testHook(s)
	}
	return s, nil
}

// Options returns the options the server runs with.
func (s *Server) Options() Options { return s.opts }

// Start binds the listeners and starts the event loops; it returns once clients can connect.
func (s *Server) Start() error {
	s.started = time.Now()
	var addrs []string
	if s.opts.TCPAddr != "" {
		addrs = append(addrs, "tcp://"+s.opts.TCPAddr)
	}
	if s.opts.WSAddr != "" && s.opts.WSAddr != s.opts.TCPAddr {
		addrs = append(addrs, "tcp://"+s.opts.WSAddr)
	}
	if s.opts.tlsOn() {
		if a := s.opts.TLSAddr; a != "" && a != s.opts.TCPAddr && a != s.opts.WSAddr {
			addrs = append(addrs, "tcp://"+a)
		}
		if a := s.opts.WSSAddr; a != "" {
			addrs = append(addrs, "tcp://"+a)
		}
	}
	booted := make(chan struct{})
	h := &engine{s: s, booted: booted}
	loops := s.opts.EventLoops
	if loops == 0 {
		loops = runtime.GOMAXPROCS(0)
	}
	opts := []gnet.Option{
		gnet.WithMulticore(true),
		gnet.WithNumEventLoop(loops),
		gnet.WithTicker(true),
		gnet.WithReusePort(false),
		gnet.WithReuseAddr(true),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithLogger(gnetLogger{s.log}),
		gnet.WithLockOSThread(false),
	}
	go func() { s.engErr <- gnet.Rotate(h, addrs, opts...) }()
	select {
	case <-booted:
	case err := <-s.engErr:
		if err == nil {
			err = errors.New("gnet engine stopped before boot")
		}
		return err
	}
	if s.opts.HTTPAddr != "" {
		if err := s.startHTTP(); err != nil {
			s.eng.Stop(context.Background())
			return fmt.Errorf("http listener: %w", err)
		}
	}
	s.ready.Store(true)
	s.log.Info("loopmq started", "tcp", s.tcpAddr, "ws", s.wsAddr, "tls", s.tlsAddr, "wss", s.wssAddr, "http", s.HTTPAddr(), "version", Version)
	s.logAuthMode()
	return nil
}

// recordAddrs learns the bound listener addresses; it runs in OnBoot, before any event loop starts, so the loops
// read them without synchronisation.
func (s *Server) recordAddrs() {
	if s.opts.TCPAddr != "" {
		s.tcpAddr, s.tcpPort = s.boundAddr(s.opts.TCPAddr)
	}
	if s.opts.WSAddr != "" {
		s.wsAddr, s.wsPort = s.boundAddr(s.opts.WSAddr)
	}
	if s.opts.tlsOn() && s.opts.TLSAddr != "" {
		s.tlsAddr, s.tlsPort = s.boundAddr(s.opts.TLSAddr)
	}
	if s.opts.tlsOn() && s.opts.WSSAddr != "" {
		s.wssAddr, s.wssPort = s.boundAddr(s.opts.WSSAddr)
	}
}

// boundAddr asks the kernel which address a listener got (port 0 picks a free port).
func (s *Server) boundAddr(addr string) (string, int) {
	fd, err := s.eng.DupListener("tcp", addr)
	if err != nil {
		return addr, 0
	}
	defer unix.Close(fd)
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return addr, 0
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port)), a.Port
	case *unix.SockaddrInet6:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port)), a.Port
	}
	return addr, 0
}

// TCPAddr returns the bound MQTT/TCP address, e.g. "127.0.0.1:40213", or "" when disabled.
func (s *Server) TCPAddr() string { return s.tcpAddr }

// TLSAddr returns the bound MQTT-over-TLS address, or "" when TLS is off.
func (s *Server) TLSAddr() string { return s.tlsAddr }

// WSSAddr returns the bound MQTT-over-WebSocket-over-TLS address, or "" when TLS is off.
func (s *Server) WSSAddr() string { return s.wssAddr }

// ReloadCertificates reads the TLS certificate and key files again: new handshakes use the new pair, open
// connections keep theirs, and a bad new pair leaves the old one in use (the error says why).
func (s *Server) ReloadCertificates() error {
	if s.tlsCfg == nil {
		return errors.New("tls is off")
	}
	if err := s.tlsCfg.Certs().Reload(); err != nil {
		s.log.Error("tls certificate reload failed; the old pair stays", "err", err)
		return err
	}
	s.log.Info("tls certificate reloaded", "cert", s.opts.TLSCertFile)
	return nil
}

// WSAddr returns the bound MQTT/WebSocket address, or "" when disabled.
func (s *Server) WSAddr() string { return s.wsAddr }

// HTTPAddr returns the bound HTTP address (metrics, pprof, health), or "" when disabled.
func (s *Server) HTTPAddr() string {
	if s.httpLn == nil {
		return ""
	}
	return s.httpLn.Addr().String()
}

// Shutdown stops accepting, sends MQTT 5 clients DISCONNECT 0x8B (server shutting down), closes every
// connection and frees the event loops. It returns when done or when ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	s.stopOnce.Do(func() {
		s.ready.Store(false)
		s.stopping.Store(true)
		if s.httpSrv != nil {
			s.httpSrv.Shutdown(ctx)
		}
		if s.eng.Validate() != nil {
			return // never started
		}
		if e := s.eng.Stop(ctx); e != nil {
			err = e
			return
		}
		select {
		case e := <-s.engErr:
			if e != nil {
				err = e
			}
		case <-ctx.Done():
			err = ctx.Err()
		}
		if s.authPool != nil {
			close(s.authPool)
		}
		s.log.Info("loopmq stopped")
	})
	return err
}

// loopList returns the event loops that have served at least one connection.
func (s *Server) loopList() []*loop { return *s.loops.Load() }

// loopFor returns the broker state of gnet loop el, creating it on first use (called on that loop).
func (s *Server) loopFor(el gnet.EventLoop) *loop {
	for _, l := range *s.loops.Load() {
		if l.el == el {
			return l
		}
	}
	s.loopsMu.Lock()
	defer s.loopsMu.Unlock()
	old := *s.loops.Load()
	for _, l := range old {
		if l.el == el {
			return l
		}
	}
	l := newLoop(s, el, len(old))
	next := append(append(make([]*loop, 0, len(old)+1), old...), l)
	s.loops.Store(&next)
	return l
}

// now is the broker clock in wheel ticks since start.
func (s *Server) tickNow() int64 { return int64(time.Since(s.started) / tickDuration) }
