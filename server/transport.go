package server

import (
	"net"

	"loopmq/server/stats"
)

// listenerTransport is the transport of a connection accepted on the listener at port, or transportSniff when
// that listener serves both raw MQTT and WebSocket and the first bytes decide. Listeners are told apart by port;
// when TCPAddr and WSAddr name the same port, that one listener sniffs.
func (s *Server) listenerTransport(port int) uint8 {
	isWS := s.opts.WSAddr != "" && port == s.wsPort
	isTCP := s.opts.TCPAddr != "" && port == s.tcpPort
	switch {
	case isWS && isTCP:
		return transportSniff
	case isWS && s.opts.WSAcceptMQTT:
		return transportSniff
	case isWS:
		return transportWS
	case s.opts.TCPSniffWS:
		return transportSniff
	}
	return transportTCP
}

// setTransport records the transport of cl once it is known, creating the WebSocket layer, and counts the
// connection under its transport.
func (cl *client) setTransport(t uint8) {
	cl.transport = t
	s := cl.l.s
	if t == transportWS {
		cl.tr = &transportState{layer: s.newWSLayer(cl)}
		cl.l.stats.Connects[stats.WS].Add(1)
		s.openWS.Add(1)
		return
	}
	cl.l.stats.Connects[stats.TCP].Add(1)
	s.openTCP.Add(1)
}

// transportClosing runs once when the connection closes: the transport says goodbye (a WebSocket close frame
// unless one was exchanged already) and the per-transport gauge drops.
func (cl *client) transportClosing(shutdown bool) {
	switch cl.transport {
	case transportWS:
		if cl.state < stClosed {
			cl.tr.layer.Closing(shutdown)
		}
		cl.l.s.openWS.Add(-1)
	case transportTCP:
		cl.l.s.openTCP.Add(-1)
	}
	cl.transport = transportSniff // counted once even if OnClose ran twice
}

// remoteAddr is the client's address as logs, metrics and the Authenticator see it: the one a trusted proxy
// named for a WebSocket connection, else the TCP peer.
func (cl *client) remoteAddr() net.Addr {
	if cl.tr != nil {
		if a := cl.tr.layer.ClientAddr(); a != nil {
			return a
		}
	}
	return cl.c.RemoteAddr()
}
