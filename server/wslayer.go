package server

import (
	"errors"
	"net"
	"net/netip"

	gobwas "github.com/gobwas/ws"

	"loopmq/server/ws"
)

// wsLayer plugs server/ws into a connection's transport seam: the opening handshake, then in-place deframing of
// client frames inbound and one binary frame per flush outbound.
type wsLayer struct {
	cfg      *ws.Config
	writeRaw func([]byte)
	peer     netip.AddrPort
	upgraded bool
	closed   bool // a close frame was sent (echo or our own)
	d        ws.Deframer
}

// newWSLayer is the Server's WebSocket layer factory, installed when a WebSocket listener is configured.
func (s *Server) wsLayerFactory() func(cl *client, writeRaw func([]byte)) transportLayer {
	cfg := &ws.Config{Path: s.opts.WSPath}
	return func(cl *client, writeRaw func([]byte)) transportLayer {
		w := &wsLayer{cfg: cfg, writeRaw: writeRaw}
		if a, ok := cl.c.RemoteAddr().(*net.TCPAddr); ok {
			w.peer = a.AddrPort()
		}
		return w
	}
}

// Inbound answers the upgrade request, then strips frames: each call returns the MQTT bytes of the data frames up
// to the next control frame, which it answers itself (pong, close echo).
func (w *wsLayer) Inbound(raw []byte) (int, []byte, bool, error) {
	if !w.upgraded {
		res, need, err := ws.Upgrade(w.cfg, raw, w.peer, nil)
		if need > 0 {
			return 0, nil, false, nil
		}
		w.writeRaw(res.Response)
		if err != nil {
			w.closed = true                 // refused over HTTP: no WebSocket to close
			return len(raw), nil, true, nil // refused with an HTTP error: close after the response
		}
		w.upgraded = true
		return res.Consumed, nil, false, nil
	}
	n, consumed, ctl, err := w.d.Deframe(raw)
	data := raw[:n]
	if err != nil {
		var pe *ws.ProtocolError
		code := gobwas.StatusProtocolError
		if errors.As(err, &pe) {
			code = pe.Code
		}
		w.closed = true
		w.writeRaw(ws.AppendClose(nil, code, ""))
		return consumed, data, false, err
	}
	if ctl.Op != 0 {
		if ctl.Op == gobwas.OpClose {
			w.closed = true
			w.writeRaw(ctl.AppendReply(nil))
			return consumed, data, true, nil
		}
		w.writeRaw(ctl.AppendReply(nil))
	}
	return consumed, data, false, nil
}

// AppendOutbound sends one flush worth of MQTT packets as a single binary frame.
func (w *wsLayer) AppendOutbound(dst, p []byte) []byte {
	dst = ws.AppendFrameHeader(dst, gobwas.OpBinary, len(p))
	return append(dst, p...)
}

// AppendClose says goodbye with a normal-closure frame when the broker ends the connection first.
func (w *wsLayer) AppendClose(dst []byte) []byte {
	if !w.upgraded || w.closed {
		return dst
	}
	w.closed = true
	return ws.AppendClose(dst, gobwas.StatusNormalClosure, "")
}
