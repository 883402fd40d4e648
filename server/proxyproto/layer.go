package proxyproto

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"loopmq/server/layer"
)

// Mode says whether a listener expects a PROXY header (the proxy_protocol option).
type Mode uint8

// The modes of the proxy_protocol option.
const (
	// Off: no header is read; a connection starting with one is handed up as is (and refused by MQTT).
	Off Mode = iota
	// Optional: a header is read when the connection starts with one, and accepted only from a trusted peer; a
	// connection without a header is served as is, from any peer.
	Optional
	// Required: every connection must start with a header from a trusted peer.
	Required
)

// ParseMode parses the proxy_protocol option: "off" (or ""), "optional" or "required".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "", "off":
		return Off, nil
	case "optional":
		return Optional, nil
	case "required":
		return Required, nil
	}
	return Off, fmt.Errorf("proxy_protocol %q must be off, optional or required", s)
}

// String returns the option value of m.
func (m Mode) String() string {
	switch m {
	case Off:
		return "off"
	case Optional:
		return "optional"
	case Required:
		return "required"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// Refusals of a connection by the Layer that are not violations of the header format.
var (
	// ErrUntrusted: the connection starts with a header and its peer is not in the trusted prefixes (§5: a header
	// from anyone else would let any client choose its address).
	ErrUntrusted = errors.New("proxyproto: PROXY header from a peer that is not a trusted proxy")
	// ErrMissing: the mode is Required and the connection does not start with a header.
	ErrMissing = errors.New("proxyproto: no PROXY header where one is required")
)

// Reason classifies why a Layer refused a connection, for metrics.
type Reason uint8

// The reasons of RefusalReason.
const (
	ReasonUntrusted Reason = iota // a header from a peer outside the trusted prefixes
	ReasonMalformed               // a header that breaks the specification
	ReasonMissing                 // no header where one is required
	ReasonTooLarge                // a v1 line over 107 bytes or a v2 header over Config.MaxV2Len
	NumReasons
)

var reasonNames = [NumReasons]string{"untrusted", "malformed", "missing", "too_large"}

// String returns the reason's metric label: untrusted, malformed, missing or too_large.
func (r Reason) String() string {
	if r < NumReasons {
		return reasonNames[r]
	}
	return fmt.Sprintf("Reason(%d)", uint8(r))
}

// RefusalReason reports whether err is the Err of a Layer that refused its connection, and why.
func RefusalReason(err error) (Reason, bool) {
	switch err {
	case nil:
		return 0, false
	case ErrUntrusted:
		return ReasonUntrusted, true
	case ErrMissing:
		return ReasonMissing, true
	case ErrV1TooLong, ErrV2TooLarge:
		return ReasonTooLarge, true
	}
	if _, ok := err.(*Error); ok {
		return ReasonMalformed, true
	}
	return 0, false
}

// LayerConfig is the policy of every Layer of a server; Layers only read it.
type LayerConfig struct {
	Mode    Mode           // Optional or Required (a Layer in mode Off hands every byte up)
	Trusted []netip.Prefix // the peers allowed to send a header (see Trusted)
	Parse   Config         // header bounds
}

// States of a Layer.
const (
	stateHeader uint8 = iota // reading the header, or deciding there is none
	statePass                // handing every byte up
	stateClosed              // refused
)

// Layer is the PROXY protocol transport of one connection, a layer.Layer, at the bottom of its stack. It reads the
// header from the first bytes (leaving them unconsumed while the header is incomplete, so a header split across
// reads costs no copy), refuses the connection when the header is malformed, too large, sent by a peer outside the
// trusted prefixes, or missing in Required mode, and then hands every byte up as a view into the bytes it is given.
// The source address of a header that relays a connection (Header.Proxied) is the connection's ClientAddr; a LOCAL
// or UNKNOWN header keeps the peer's own address, as the specification asks.
type Layer struct {
	cfg   *LayerConfig
	addr  net.Addr // the header's source, nil when the peer is the client
	state uint8
}

// NewLayer returns the layer of a new connection; cfg is shared by every connection and only read.
func NewLayer(cfg *LayerConfig) *Layer {
	l := &Layer{cfg: cfg}
	if cfg.Mode == Off {
		l.state = statePass
	}
	return l
}

// Inbound reads the header, then hands raw up unchanged. A call on an incomplete header (or on fewer bytes than
// tell whether one starts) consumes nothing: the caller keeps the bytes and calls again with more.
func (l *Layer) Inbound(raw []byte, peer net.Addr, _ *layer.Vec) layer.Result {
	switch {
	case l.state == statePass:
		return layer.Result{Consumed: len(raw), Data: raw}
	case l.state == stateClosed:
		return layer.Result{Consumed: len(raw), Close: true}
	case len(raw) == 0:
		return layer.Result{}
	}
	isProxy, decided := Detect(raw)
	switch {
	case !decided:
		return layer.Result{}
	case !isProxy && l.cfg.Mode == Required:
		return l.refuse(raw, ErrMissing)
	case !isProxy:
		l.state = statePass
		return layer.Result{Consumed: len(raw), Data: raw}
	case !Trusted(layer.AddrPort(peer).Addr(), l.cfg.Trusted):
		return l.refuse(raw, ErrUntrusted)
	}
	h, n, need, err := l.cfg.Parse.Parse(raw)
	if err != nil {
		return l.refuse(raw, err)
	}
	if need > 0 {
		return layer.Result{}
	}
	if h.Proxied() {
		l.addr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(h.Src.Addr().Unmap(), h.Src.Port()))
	}
	l.state = statePass
	return layer.Result{Consumed: len(raw), Data: raw[n:]}
}

func (l *Layer) refuse(raw []byte, err error) layer.Result {
	l.state = stateClosed
	return layer.Result{Consumed: len(raw), Close: true, Err: err}
}

// Outbound passes data down unchanged, without copying it; a refused connection carries nothing.
func (l *Layer) Outbound(out *layer.Vec, data [][]byte) bool {
	if l.state == stateClosed {
		return false
	}
	out.Bufs = append(out.Bufs, data...)
	return true
}

// Closing has no goodbye to say.
func (l *Layer) Closing(bool, *layer.Vec) {}

// ClientAddr is the source address of the header, when it relayed a connection.
func (l *Layer) ClientAddr() net.Addr { return l.addr }

// Done reports whether the header phase is over (a header was read, or the connection has none).
func (l *Layer) Done() bool { return l.state == statePass }
