package server

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"

	gobwas "github.com/gobwas/ws"

	"loopmq/server/ws"
)

// WebSocket states of a connection: handshake, then frames, then closed once a close frame went out.
const (
	wsHandshake uint8 = iota
	wsOpen
	wsClosed
)

// wsLayer is the WebSocket transport of one connection (package ws does the work): it answers the opening
// handshake from the bytes already received, then strips client frames in place so the MQTT bytes they carry go
// to the same codec path as TCP. It is small on purpose: idle WebSocket connections must cost about what TCP ones
// do.
type wsLayer struct {
	cl    *client
	d     ws.Deframer
	addr  net.Addr // the client named by a trusted proxy's header; nil when the TCP peer is the client
	state uint8
}

var (
	errNotHTTP     = errors.New("websocket listener: the first bytes are not an HTTP request")
	errPongBacklog = errors.New("websocket: pings while the outbound buffer is over the hard limit (pongs not read)")
)

// newWSLayer creates the WebSocket layer of cl; it is Server.newWSLayer when WebSocket is enabled.
func newWSLayer(cl *client) transportLayer {
	return &wsLayer{cl: cl, d: ws.Deframer{MaxPayload: cl.l.s.wsMaxMessage}}
}

// wsMaxMessage is the Deframer bound (on single frames and on whole messages) for a broker whose packets may be up
// to maxPacket bytes. A message may carry many MQTT packets (MQTT.js and paho send one packet per message, but
// nothing requires it [MQTT-6.0]), so the bound is generous: 64 × maxPacket, at least 16 MiB. The codec still
// refuses each packet over MaxPacketSize from its fixed header, as over TCP.
func wsMaxMessage(maxPacket int) int {
	return max(64*maxPacket, 16<<20)
}

// Inbound answers the upgrade request, then deframes. Data frames are deframed in place: each Deframe call
// compacts its own part of raw, so after a control frame the data of the next call is slid down behind the data
// already gathered, keeping the MQTT bytes contiguous in raw[:n] (a copy only after a control frame, which is rare).
func (w *wsLayer) Inbound(raw []byte) (consumed int, mqtt []byte, closeConn bool, err error) {
	cl := w.cl
	if w.state == wsClosed {
		return len(raw), nil, true, nil
	}
	if w.state == wsHandshake {
		if c := raw[0]; c < 'A' || c > 'Z' {
			// Not an HTTP method (raw MQTT on a WebSocket-only listener, or noise): no HTTP answer would be read.
			w.state = wsClosed
			return len(raw), nil, true, errNotHTTP
		}
		peer := peerAddrPort(cl.c.RemoteAddr())
		res, need, uerr := ws.Upgrade(&cl.l.s.wsCfg, raw, peer, cl.l.wsBuf[:0])
		if need > 0 {
			return 0, nil, false, nil // wait for the rest of the headers; the connect timeout bounds the wait
		}
		cl.l.wsBuf = res.Response[:0]
		w.send(res.Response)
		if uerr != nil {
			w.state = wsClosed
			return len(raw), nil, true, uerr
		}
		w.state = wsOpen
		if res.Client != peer && res.Client.IsValid() {
			w.addr = net.TCPAddrFromAddrPort(res.Client)
		}
		consumed = res.Consumed
	}
	buf := raw[consumed:]
	n, p := 0, 0
	for p < len(buf) {
		k, c, ctl, derr := w.d.Deframe(buf[p:])
		if k > 0 && p != n {
			copy(buf[n:], buf[p:p+k])
		}
		n += k
		p += c
		if derr != nil {
			// The data frames before the violation were valid: handle them, then close with the rule's code.
			cl.feed(buf[:n])
			code := gobwas.StatusProtocolError
			var pe *ws.ProtocolError
			if errors.As(derr, &pe) {
				code = pe.Code
			}
			w.sendClose(code)
			return len(raw), nil, true, derr
		}
		switch ctl.Op {
		case gobwas.OpPing:
			if cl.c.OutboundBuffered() > hardLimitFactor*cl.l.s.opts.OutboundHighWater {
				// Pings from a client that does not read its pongs would grow the outbound buffer without bound.
				cl.feed(buf[:n])
				w.state = wsClosed
				return len(raw), nil, true, errPongBacklog
			}
			w.send(ctl.AppendReply(cl.l.wsBuf[:0]))
		case gobwas.OpClose:
			// MQTT bytes before the close frame (typically DISCONNECT, which decides whether the will is sent)
			// are handled first; the echo is the last frame we send [RFC 6455 §5.5.1].
			cl.feed(buf[:n])
			if w.state == wsOpen {
				w.send(ctl.AppendReply(cl.l.wsBuf[:0]))
				w.state = wsClosed
			}
			return len(raw), nil, true, nil
		}
		if c == 0 {
			break // an incomplete frame header: it stays in gnet's buffer for the next read
		}
	}
	return consumed + p, buf[:n], false, nil
}

// OutboundHeader writes the header of the binary frame carrying the next n bytes of MQTT data. Nothing may
// follow a close frame, and nothing but the handshake response may precede the upgrade.
func (w *wsLayer) OutboundHeader(h *[ws.MaxFrameHeaderLen]byte, n int) (int, bool) {
	if w.state != wsOpen {
		return 0, false
	}
	return ws.PutFrameHeader(h, gobwas.OpBinary, n), true
}

// ClientAddr is the address a trusted proxy named, or nil.
func (w *wsLayer) ClientAddr() net.Addr { return w.addr }

// Closing sends a close frame when the server ends an open WebSocket connection (keep alive, takeover, protocol
// error, shutdown): 1001 when the server is going away, else 1000.
func (w *wsLayer) Closing(shutdown bool) {
	if w.state != wsOpen {
		return
	}
	code := gobwas.StatusNormalClosure
	if shutdown {
		code = gobwas.StatusGoingAway
	}
	w.sendClose(code)
}

// sendClose writes a close frame with code and marks the connection closed for output.
func (w *wsLayer) sendClose(code gobwas.StatusCode) {
	if w.state != wsOpen {
		return
	}
	w.send(ws.AppendClose(w.cl.l.wsBuf[:0], code, ""))
	w.state = wsClosed
}

// send writes transport bytes (handshake response, pong, close) after whatever MQTT bytes are queued.
func (w *wsLayer) send(p []byte) {
	w.cl.l.stats.WSBytesOut.Add(uint64(len(p)))
	w.cl.writeRaw(p)
}

// writeFramed writes p as one binary WebSocket frame with one writev: the header from the loop's fixed array,
// then p itself, so the outbox is never copied. It returns the bytes written, 0 when the frame was dropped.
func (cl *client) writeFramed(p []byte) int {
	l := cl.l
	k, ok := cl.tr.layer.OutboundHeader(&l.wsHdr, len(p))
	if !ok {
		return 0
	}
	l.wsIov[0], l.wsIov[1] = l.wsHdr[:k], p
	cl.c.Writev(l.wsIov[:])
	l.wsIov[0], l.wsIov[1] = nil, nil // do not keep the outbox alive
	l.stats.WSBytesOut.Add(uint64(k + len(p)))
	return k + len(p)
}

// peerAddrPort converts gnet's remote address without allocating.
func peerAddrPort(a net.Addr) netip.AddrPort {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.AddrPort()
	}
	return netip.AddrPort{}
}

// wsConfig builds the WebSocket policy from the options, checking origins and proxy networks.
func (o *Options) wsConfig() (ws.Config, error) {
	cfg := ws.Config{
		Path:               o.WSPath,
		AnyPath:            o.WSAnyPath,
		AllowNoSubprotocol: o.WSAllowNoSubprotocol,
	}
	for _, origin := range o.WSOrigins {
		origin = strings.TrimSpace(origin)
		u, err := url.Parse(origin)
		if err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" ||
			u.User != nil || u.Fragment != "" {
			return cfg, fmt.Errorf("ws_origins: %q is not an origin (scheme://host[:port])", origin)
		}
		cfg.AllowedOrigins = append(cfg.AllowedOrigins, strings.TrimSuffix(origin, "/"))
	}
	for _, s := range o.WSTrustedProxies {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			cfg.TrustedProxies = append(cfg.TrustedProxies, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return cfg, fmt.Errorf("ws_trusted_proxies: %q is neither a CIDR nor an address", s)
		}
		cfg.TrustedProxies = append(cfg.TrustedProxies, netip.PrefixFrom(a, a.BitLen()))
	}
	return cfg, nil
}
