package ws

import (
	"errors"
	"net"
	"slices"

	"github.com/gobwas/ws"

	"loopmq/server/layer"
)

// States of a Layer: handshake, then frames; closing once the client's close frame or a violation ended the input
// (the close frame to send waits for Closing, so the answers to the data before it still go out); closed once a
// close frame went out or the upgrade failed.
const (
	stateHandshake uint8 = iota
	stateOpen
	stateClosing
	stateClosed
)

// ErrNotHTTP is the error of a connection whose first bytes are not an HTTP method: raw MQTT on a WebSocket-only
// listener, or noise. No HTTP answer would be read, so none is sent.
var ErrNotHTTP = errors.New("websocket listener: the first bytes are not an HTTP request")

// Layer is the WebSocket transport of one connection, a layer.Layer: it answers the opening handshake from the
// bytes already received, then strips the client's frames in place (see Deframer) so the MQTT bytes they carry
// reach the codec as over TCP, and frames outbound data as one binary frame per flush, header and data in one
// vectored write. It is small on purpose: an idle WebSocket connection should cost about what a TCP one does.
type Layer struct {
	cfg   *Config
	d     Deframer
	addr  net.Addr // the client named by a trusted proxy's header; nil when the peer is the client
	state uint8
	code  ws.StatusCode // in stateClosing: the code of the close frame to send, 0 for one without a body
}

// NewLayer returns the layer of a new connection that will send an upgrade request. cfg is shared by every
// connection and only read; maxPayload bounds each frame and each message (Deframer.MaxPayload).
func NewLayer(cfg *Config, maxPayload int) *Layer {
	return &Layer{cfg: cfg, d: Deframer{MaxPayload: maxPayload}}
}

// Inbound answers the upgrade request, then deframes. The call that answers the request stops after it, so the
// 101 response goes out before any answer to the frames behind it; a deframing call stops after a control frame. A
// ping's pong goes to reply; after the client's close frame or a violation the input is over, and the close frame
// to send (the echo, or the violated rule's code) waits for Closing. Data frames are deframed in place into raw.
func (l *Layer) Inbound(raw []byte, peer net.Addr, reply *layer.Vec) layer.Result {
	switch {
	case l.state >= stateClosing:
		return layer.Result{Consumed: len(raw), Close: true}
	case len(raw) == 0:
		return layer.Result{}
	case l.state == stateHandshake:
		return l.upgrade(raw, peer, reply)
	}
	n, consumed, ctl, err := l.d.Deframe(raw)
	r := layer.Result{Consumed: consumed, Data: raw[:n]}
	if err != nil {
		// The data frames before the violation were valid: they are handed up, then the close carries the rule's
		// code.
		l.state, l.code = stateClosing, ws.StatusProtocolError
		var pe *ProtocolError
		if errors.As(err, &pe) {
			l.code = pe.Code
		}
		r.Consumed, r.Close, r.Err = len(raw), true, err
		return r
	}
	switch ctl.Op {
	case ws.OpPing:
		from := len(reply.Scratch)
		reply.Scratch = ctl.AppendReply(reply.Scratch)
		reply.Add(from)
	case ws.OpClose:
		// The MQTT bytes before the close frame (typically DISCONNECT, which decides whether the will is sent) are
		// handed up first; the echo is the last frame we send [RFC 6455 §5.5.1].
		l.state, l.code = stateClosing, ctl.CloseCode()
		r.Consumed, r.Close = len(raw), true
	}
	return r
}

// upgrade answers the opening handshake once its headers are complete.
func (l *Layer) upgrade(raw []byte, peer net.Addr, reply *layer.Vec) layer.Result {
	if c := raw[0]; c < 'A' || c > 'Z' {
		l.state = stateClosed
		return layer.Result{Consumed: len(raw), Close: true, Err: ErrNotHTTP}
	}
	from := len(reply.Scratch)
	p := layer.AddrPort(peer)
	res, need, err := Upgrade(l.cfg, raw, p, reply.Scratch)
	if need > 0 {
		return layer.Result{} // wait for the rest of the headers; the connect timeout bounds the wait
	}
	reply.Scratch = res.Response
	reply.Add(from)
	if err != nil {
		l.state = stateClosed
		return layer.Result{Consumed: len(raw), Close: true, Err: err}
	}
	l.state = stateOpen
	if res.Client != p && res.Client.IsValid() {
		l.addr = net.TCPAddrFromAddrPort(res.Client)
	}
	return layer.Result{Consumed: res.Consumed}
}

// Outbound frames data as one binary frame: its header in out.Scratch, then data itself. Nothing may follow a
// close frame, and nothing but the handshake response may precede the upgrade.
func (l *Layer) Outbound(out *layer.Vec, data [][]byte) bool {
	if l.state-stateOpen > stateClosing-stateOpen { // neither open nor closing
		return false
	}
	// This runs once per flush of every WebSocket connection, so it is written for the machine: the header goes
	// straight into the scratch array (which the event loop keeps large enough), the usual single data slice (the
	// outbox) is appended together with it.
	n := 0
	if len(data) == 1 {
		n = len(data[0])
	} else {
		for i := range data {
			n += len(data[i])
		}
	}
	k := len(out.Scratch)
	if cap(out.Scratch)-k < MaxFrameHeaderLen {
		out.Scratch = slices.Grow(out.Scratch, MaxFrameHeaderLen)
	}
	h := out.Scratch[k : k+MaxFrameHeaderLen : k+MaxFrameHeaderLen]
	hl := PutFrameHeader((*[MaxFrameHeaderLen]byte)(h), ws.OpBinary, n)
	out.Scratch = out.Scratch[:k+hl]
	if len(data) == 1 {
		out.Bufs = append(out.Bufs, h[:hl], data[0])
		return true
	}
	out.Bufs = append(out.Bufs, h[:hl])
	out.Bufs = append(out.Bufs, data...)
	return true
}

// Closing sends the last frame: the close frame Inbound decided on (an echo, a violated rule's code), or, when the
// server ends an open connection (keep alive, takeover, protocol error, shutdown), 1001 when the server is going
// away, else 1000.
func (l *Layer) Closing(shutdown bool, reply *layer.Vec) {
	switch l.state {
	case stateOpen:
		l.code = ws.StatusNormalClosure
		if shutdown {
			l.code = ws.StatusGoingAway
		}
	case stateClosing:
	default:
		return
	}
	from := len(reply.Scratch)
	reply.Scratch = AppendClose(reply.Scratch, l.code, "")
	reply.Add(from)
	l.state = stateClosed
}

// ClientAddr is the address a trusted proxy named, or nil.
func (l *Layer) ClientAddr() net.Addr { return l.addr }
