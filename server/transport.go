package server

import (
	"net"
	"strconv"

	"github.com/valyala/bytebufferpool"

	"loopmq/server/layer"
	"loopmq/server/stats"
	"loopmq/server/tlslayer"
	"loopmq/server/ws"
)

// Transports of a connection. A listener that serves several sniffs the first bytes (sniffTransport).
const (
	transportSniff uint8 = iota
	transportTCP
	transportTLS // MQTT over TLS
	transportWS  // the WebSocket transports last, so that overWS is one comparison
	transportWSS // MQTT over WebSocket over TLS
	transportCount
)

// overWS says the transport is WebSocket, with or without TLS: its packets and bytes go in the ws series. It runs
// for every packet in and out.
func overWS(t uint8) bool { return t >= transportWS }

// sniffers map the first bytes of a connection on a listener that serves several transports to its transport.
// Plain MQTT matches no row (its first byte is CONNECT's 0x10). The PROXY protocol has no row: it runs under every
// transport when enabled, and a sniffing layer above it (proxy.go) reads this table after the header.
var sniffers = [...]struct {
	prefix    string
	transport uint8
}{
	{"GET ", transportWS},
	{"\x16", transportTLS}, // a TLS handshake record: served only where tls_addr shares the listener
}

// sniffTransport decides the transport of a connection from its first bytes; decided is false while they are a
// proper prefix of a row's prefix (wait for more).
func sniffTransport(first []byte) (t uint8, decided bool) {
	for _, r := range sniffers {
		n := min(len(first), len(r.prefix))
		if string(first[:n]) != r.prefix[:n] {
			continue
		}
		if n < len(r.prefix) {
			return transportSniff, false
		}
		return r.transport, true
	}
	return transportTCP, true
}

// listenerTransport is the transport of a connection accepted on the listener at port, or transportSniff when
// that listener serves both raw MQTT and WebSocket and the first bytes decide. Listeners are told apart by port;
// when TCPAddr and WSAddr name the same port, that one listener sniffs.
func (s *Server) listenerTransport(port int) uint8 {
	isWS := s.opts.WSAddr != "" && port == s.wsPort
	isTCP := s.opts.TCPAddr != "" && port == s.tcpPort
	isTLS := s.tlsPort != 0 && port == s.tlsPort
	switch {
	case s.wssPort != 0 && port == s.wssPort:
		return transportWSS
	case isTLS && (isTCP || isWS):
		return transportSniff
	case isTLS:
		return transportTLS
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

// newWSLayer is the layer stack of a WebSocket connection.
func (s *Server) newWSLayer(*client) layer.Layer {
	return ws.NewLayer(&s.wsCfg, s.wsMaxMessage)
}

// newTLSLayer is the layer of an MQTT-over-TLS connection. Its handshake runs on a worker and wakes the
// connection's loop (gnet's Wake runs OnTraffic there, and ignores a connection closed meanwhile).
func (s *Server) newTLSLayer(cl *client) layer.Layer {
	return tlslayer.New(s.tlsCfg, cl.wake)
}

// newWSSLayer is the layer stack of a WebSocket-over-TLS connection.
func (s *Server) newWSSLayer(cl *client) layer.Layer {
	return layer.Stack(tlslayer.New(s.wssCfg, cl.wake), ws.NewLayer(&s.wsCfg, s.wsMaxMessage))
}

// onTLSListener says cl was accepted on the tls_addr listener: a sniffed TLS handshake is served there only.
func (cl *client) onTLSListener() bool { return localPort(cl.c) == cl.l.s.tlsPort }

// wake asks the connection's loop to run its read path, from another goroutine (a TLS handshake's worker).
func (cl *client) wake() { _ = cl.c.Wake(nil) }

// wsMaxMessage is the Deframer bound (on single frames and on whole messages) for a broker whose packets may be up
// to maxPacket bytes. A message may carry many MQTT packets (MQTT.js and paho send one packet per message, but
// nothing requires it [MQTT-6.0]), so the bound is generous: 64 × maxPacket, at least 16 MiB. The codec still
// refuses each packet over MaxPacketSize from its fixed header, as over TCP.
func wsMaxMessage(maxPacket int) int {
	return max(64*maxPacket, 16<<20)
}

// transportState is the per-connection state of a connection with transport layers; plain TCP connections have
// none, and keep their partial packets in gnet's inbound buffer.
type transportState struct {
	layer layer.Layer                // the connection's layers, bottom to top, as one
	carry *bytebufferpool.ByteBuffer // partial MQTT packet left after the layers
	sniff *sniffLayer                // on a sniffing listener behind a PROXY layer: decides the transport
	peer  net.Addr                   // the TCP peer, for Inbound (read once: it is an interface call)
}

// sniff decides the transport from the first bytes. It returns false while it cannot decide yet or when the
// connection is being closed.
func (cl *client) sniff(raw []byte) bool {
	if cl.tr != nil {
		return true // a PROXY layer reads first; the sniffing layer above it decides (proxy.go)
	}
	t, decided := sniffTransport(raw)
	if !decided {
		return false
	}
	if t != transportTCP && cl.l.s.layers[t] == nil || t == transportTLS && !cl.onTLSListener() {
		cl.closeNow("transport not served on this listener (first bytes " + strconv.Quote(string(raw[:min(len(raw), 4)])) + ")")
		return false
	}
	cl.setTransport(t)
	return true
}

// newTransportState gives cl's connection the layers l.
func (cl *client) newTransportState(l layer.Layer) *transportState {
	return &transportState{layer: l, peer: cl.c.RemoteAddr()}
}

// setTransport records the transport of cl once it is known, creating its layers, and counts the connection under
// its transport.
func (cl *client) setTransport(t uint8) {
	s := cl.l.s
	if newLayer := s.layers[t]; newLayer != nil {
		cl.tr = cl.newTransportState(newLayer(cl))
	}
	cl.countTransport(t)
}

// countTransport records the transport of cl once it is known and counts the connection under it: WebSocket over
// TLS under ws, MQTT over TLS under tcp.
func (cl *client) countTransport(t uint8) {
	cl.transport = t
	s := cl.l.s
	if overWS(t) {
		cl.l.stats.Connects[stats.WS].Add(1)
		s.openWS.Add(1)
		return
	}
	cl.l.stats.Connects[stats.TCP].Add(1)
	s.openTCP.Add(1)
}

// inbound runs raw through the connection's layers and the MQTT bytes they hand up through the codec, and returns
// how many bytes of raw were consumed. Each layer call's data may be a view into raw, so it goes through the codec
// before the next call (and before raw is discarded); the layers' replies go out after it.
func (cl *client) inbound(raw []byte) int {
	l := cl.l
	peer := cl.tr.peer
	off := 0
	for cl.state < stClosing {
		k := len(l.reply.Bufs)
		r := cl.tr.layer.Inbound(raw[off:], peer, &l.reply)
		off += r.Consumed
		if cl.transport == transportSniff && cl.tr.sniff != nil && cl.tr.sniff.t != transportSniff {
			cl.countTransport(cl.tr.sniff.t) // decided behind a PROXY header, before its first packet is counted
		}
		if len(r.Data) > 0 {
			cl.feed(r.Data)
		}
		replied := len(l.reply.Bufs) > k
		if replied {
			cl.sendReplies()
		}
		if r.Err != nil {
			cl.countProxyRefusal(r.Err)
			cl.closeNow("transport: " + r.Err.Error())
			break
		}
		if r.Close {
			cl.closeNow("transport closed")
			break
		}
		if !r.More && (off == len(raw) || r.Consumed == 0 && len(r.Data) == 0 && !replied) {
			break // waiting for more bytes
		}
	}
	return off
}

// feed runs the MQTT bytes a layer handed up through the codec, copying only a packet split across reads into
// carry.
func (cl *client) feed(data []byte) {
	if cl.tr.carry != nil {
		cl.tr.carry.B = append(cl.tr.carry.B, data...)
		data = cl.tr.carry.B
	}
	n := cl.process(data)
	rest := data[n:]
	switch {
	case len(rest) == 0:
		if cl.tr.carry != nil {
			bytebufferpool.Put(cl.tr.carry)
			cl.tr.carry = nil
		}
	case cl.tr.carry == nil:
		cl.tr.carry = bytebufferpool.Get()
		cl.tr.carry.B = append(cl.tr.carry.B[:0], rest...)
	default: // rest is the tail of carry: move it to the front
		cl.tr.carry.B = cl.tr.carry.B[:copy(cl.tr.carry.B, rest)]
	}
}

// sendReplies writes the layers' answers waiting in the loop's reply vector (a handshake response, a pong, a close
// frame) after whatever MQTT bytes are already queued. A client whose outbound backlog is over the hard limit is
// closed instead: it does not read, and answers (pongs to a ping flood) would grow the backlog without bound.
func (cl *client) sendReplies() {
	v := &cl.l.reply
	defer v.Reset()
	if cl.state < stClosing && cl.c.OutboundBuffered() > hardLimitFactor*cl.l.s.opts.OutboundHighWater {
		cl.closeNow("transport: replies while the outbound buffer is over the hard limit (the client does not read)")
		return
	}
	cl.flush()
	if cl.state < stClosed {
		n := uint64(v.Len())
		cl.l.stats.BytesOut.Add(n)
		if overWS(cl.transport) {
			cl.l.stats.WSBytesOut.Add(n)
		}
		cl.c.Writev(v.Bufs)
	}
}

// writeThrough writes p, the outbox, through the connection's layers with one writev, without copying it. It
// returns the bytes written, 0 when the layers could not carry it (a handshake not done, a close frame sent).
func (cl *client) writeThrough(p []byte) int {
	l := cl.l
	v := &l.out
	l.outData[0] = p
	ok := cl.tr.layer.Outbound(v, l.outData[:])
	l.outData[0] = nil // do not keep the outbox alive
	n := 0
	if ok {
		n, _ = cl.c.Writev(v.Bufs) // every byte of v (gnet buffers what the socket does not take), 0 on error
		if overWS(cl.transport) {
			l.stats.WSBytesOut.Add(uint64(n))
		}
	}
	v.Reset()
	return n
}

// transportClosing runs once when the connection closes: the layers say goodbye (a WebSocket close frame unless
// one was exchanged already; not into a backlog over the hard limit, which the client does not read) and the
// per-transport gauge drops.
func (cl *client) transportClosing(shutdown bool) {
	if cl.tr != nil && cl.state < stClosed {
		cl.tr.layer.Closing(shutdown, &cl.l.reply)
		if len(cl.l.reply.Bufs) > 0 {
			if cl.c.OutboundBuffered() > hardLimitFactor*cl.l.s.opts.OutboundHighWater {
				cl.l.reply.Reset()
			} else {
				cl.sendReplies()
			}
		}
	}
	switch cl.transport {
	case transportWS, transportWSS:
		cl.l.s.openWS.Add(-1)
	case transportTCP, transportTLS:
		cl.l.s.openTCP.Add(-1)
	}
	cl.transport = transportSniff // counted once even if OnClose ran twice
}

// remoteAddr is the client's address as logs, metrics and the Authenticator see it: the one a layer learned (a
// trusted proxy's header), else the TCP peer.
func (cl *client) remoteAddr() net.Addr {
	if cl.tr != nil {
		if a := cl.tr.layer.ClientAddr(); a != nil {
			return a
		}
	}
	return cl.c.RemoteAddr()
}
