package server

import (
	"net"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"loopmq/codec"
)

// engine is the gnet event handler: it turns gnet's callbacks into client and loop calls.
type engine struct {
	gnet.BuiltinEventEngine
	s      *Server
	booted chan struct{}
}

// OnBoot records the engine so the server can stop it and look up its listeners.
func (e *engine) OnBoot(eng gnet.Engine) gnet.Action {
	e.s.eng = eng
	e.s.recordAddrs()
	close(e.booted)
	return gnet.None
}

// OnOpen creates the client of a new connection on its loop and arms the connect timeout.
func (e *engine) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	s := e.s
	if s.stopping.Load() {
		return nil, gnet.Close
	}
	l := s.loopFor(c.EventLoop())
	l.enter()
	defer l.leave()
	cl := &client{l: l, c: c}
	cl.t.owner = cl
	l.stats.Conns.Add(1)
	if t := s.listenerTransport(localPort(c)); t != transportSniff {
		cl.setTransport(t)
	} else {
		cl.sniffBehindProxy()
	}
	if n := s.openConns.Add(1); s.opts.MaxConnections > 0 && n > int64(s.opts.MaxConnections) {
		cl.refused = true
	}
	c.SetContext(cl)
	l.wheel.schedule(&cl.t, s.tickNow()+int64(s.opts.ConnectTimeout/tickDuration))
	return nil, gnet.None
}

// localPort is the port the connection was accepted on. gnet reports the listener's configured address, whose
// port is 0 when the kernel picked it, so then the socket itself is asked.
func localPort(c gnet.Conn) int {
	if a, ok := c.LocalAddr().(*net.TCPAddr); ok && a.Port != 0 {
		return a.Port
	}
	sa, err := unix.Getsockname(c.Fd())
	if err != nil {
		return 0
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return a.Port
	case *unix.SockaddrInet6:
		return a.Port
	}
	return 0
}

// OnTraffic runs the read path of the connection.
func (e *engine) OnTraffic(c gnet.Conn) gnet.Action {
	cl, _ := c.Context().(*client)
	if cl == nil {
		return gnet.Close
	}
	l := cl.l
	l.enter()
	defer l.leave()
	return cl.onTraffic()
}

// OnClose detaches the client from its session and decides what happens to the session and the will.
func (e *engine) OnClose(c gnet.Conn, err error) gnet.Action {
	cl, _ := c.Context().(*client)
	if cl == nil {
		return gnet.None
	}
	cl.l.enter()
	defer cl.l.leave()
	if e.s.stopping.Load() && cl.state == stConnected && cl.version == codec.V5 {
		// Shutdown: gnet flushes this after OnClose returns.
		cl.sendDisconnect(codec.ServerShuttingDown, "")
		cl.flush()
	}
	cl.transportClosing(e.s.stopping.Load())
	if cl.state != stClosed {
		cl.l.stats.Conns.Add(-1)
	}
	cl.onClose(err)
	return gnet.None
}

// OnTick posts a tick to every loop's timing wheel and runs the $SYS publisher; it runs on gnet's ticker
// goroutine, not on a loop.
func (e *engine) OnTick() (time.Duration, gnet.Action) {
	s := e.s
	if s.stopping.Load() {
		return time.Second, gnet.None
	}
	for _, l := range s.loopList() {
		l.execute(l.tickTask)
	}
	// $SYS is published from the first loop that exists (none before the first connection).
	if ls := s.loopList(); s.opts.SysInterval > 0 && len(ls) > 0 {
		now := time.Now().UnixNano()
		if last := s.lastSys.Load(); now-last >= int64(s.opts.SysInterval) && s.lastSys.CompareAndSwap(last, now) {
			ls[0].postTask(ls[0].publishSys)
		}
	}
	return tickDuration * time.Nanosecond, gnet.None
}
