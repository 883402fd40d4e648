package server

import (
	"errors"
	"net"
	"strings"

	"loopmq/server/layer"
	"loopmq/server/proxyproto"
)

// proxyState is the PROXY protocol policy of a server (the proxy_protocol and proxy_trusted_cidrs options) and
// the transport layers a PROXY layer runs under.
type proxyState struct {
	cfg proxyproto.LayerConfig // Mode Off when the option is off
	// upper are the layers of each transport above the PROXY layer (server.layers before setupProxy wrapped them):
	// what a sniffing layer picks from once the header is read.
	upper [transportCount]func(*client) layer.Layer
}

// proxyConfig builds the PROXY layer policy from the options, checking the mode and the trusted networks.
func (o *Options) proxyConfig() (proxyproto.LayerConfig, error) {
	var cfg proxyproto.LayerConfig
	mode, err := proxyproto.ParseMode(strings.ToLower(strings.TrimSpace(o.ProxyProtocol)))
	if err != nil {
		return cfg, err
	}
	trusted, err := proxyproto.ParseTrusted(strings.Join(o.ProxyTrustedCIDRs, ","))
	if err != nil {
		return cfg, err
	}
	if mode != proxyproto.Off && len(trusted) == 0 {
		return cfg, errors.New("proxy_trusted_cidrs is empty: proxy_protocol " + mode.String() +
			" needs the networks of the proxies allowed to send a PROXY header")
	}
	cfg.Mode, cfg.Trusted = mode, trusted
	return cfg, nil
}

// setupProxy puts a PROXY layer under every transport the server serves when the proxy_protocol option is on:
// plain MQTT gets the PROXY layer alone, every other transport (WebSocket) the PROXY layer under its own. A
// sniffing listener gets it through sniffBehindProxy.
func (s *Server) setupProxy() {
	s.proxy.cfg, _ = s.opts.proxyConfig() // checked by Validate
	if s.proxy.cfg.Mode == proxyproto.Off {
		return
	}
	s.proxy.upper = s.layers
	cfg := &s.proxy.cfg
	for t := transportTCP; t < transportCount; t++ {
		switch upper := s.proxy.upper[t]; {
		case t == transportTCP && upper == nil:
			s.layers[t] = func(*client) layer.Layer { return proxyproto.NewLayer(cfg) }
		case upper != nil:
			s.layers[t] = func(cl *client) layer.Layer { return layer.Stack(proxyproto.NewLayer(cfg), upper(cl)) }
		}
	}
}

// sniffBehindProxy gives cl, accepted on a listener that sniffs its transport, the PROXY layer with a sniffing
// layer above it, when the proxy_protocol option is on: the transport is decided from the first bytes after the
// header. Otherwise cl is sniffed from its first bytes (client.sniff).
func (cl *client) sniffBehindProxy() {
	s := cl.l.s
	if s.proxy.cfg.Mode == proxyproto.Off {
		return
	}
	sn := &sniffLayer{table: &s.proxy.upper, cl: cl}
	cl.tr = cl.newTransportState(layer.Stack(proxyproto.NewLayer(&s.proxy.cfg), sn))
	cl.tr.sniff = sn
}

// countProxyRefusal counts a connection a PROXY layer refused, by reason, and logs it as a protocol violation
// (rate-limited like the others) with the TCP peer's address.
func (cl *client) countProxyRefusal(err error) {
	if r, ok := proxyproto.RefusalReason(err); ok {
		cl.l.stats.ProxyRefused[r].Add(1)
		cl.violation(err)
	}
}

// errNotServed is the error of a connection whose first bytes (after a PROXY header) name a transport the
// listener does not serve.
var errNotServed = errors.New("transport not served on this listener")

// sniffLayer is a layer above a lower one (the PROXY protocol) on a listener that serves several transports: it
// decides the transport from the first bytes the lower layer hands up, with the sniffers table, then runs that
// transport's layer from table (none for plain MQTT, whose bytes it hands up as they are). The client reads the
// decision from t to count the connection under its transport.
type sniffLayer struct {
	table *[transportCount]func(*client) layer.Layer
	cl    *client     // the connection, for the layers that wake it (TLS)
	up    layer.Layer // the transport's layer; nil for plain MQTT
	t     uint8       // transportSniff until decided
}

// Inbound decides the transport (consuming nothing while the bytes are a prefix of a sniffers row), then runs it.
func (l *sniffLayer) Inbound(raw []byte, peer net.Addr, reply *layer.Vec) layer.Result {
	if l.t == transportSniff {
		if len(raw) == 0 {
			return layer.Result{}
		}
		t, decided := sniffTransport(raw)
		if !decided {
			return layer.Result{}
		}
		newLayer := l.table[t]
		if t != transportTCP && newLayer == nil || t == transportTLS && !l.cl.onTLSListener() {
			return layer.Result{Consumed: len(raw), Close: true, Err: errNotServed}
		}
		l.t = t
		if newLayer != nil {
			l.up = newLayer(l.cl)
		}
	}
	if l.up == nil {
		return layer.Result{Consumed: len(raw), Data: raw}
	}
	return l.up.Inbound(raw, peer, reply)
}

// Outbound runs the transport's layer, or passes data down as it is for plain MQTT.
func (l *sniffLayer) Outbound(out *layer.Vec, data [][]byte) bool {
	if l.up == nil {
		out.Bufs = append(out.Bufs, data...)
		return true
	}
	return l.up.Outbound(out, data)
}

// Closing says the transport's goodbye.
func (l *sniffLayer) Closing(shutdown bool, reply *layer.Vec) {
	if l.up != nil {
		l.up.Closing(shutdown, reply)
	}
}

// ClientAddr is the address the transport's layer learned.
func (l *sniffLayer) ClientAddr() net.Addr {
	if l.up != nil {
		return l.up.ClientAddr()
	}
	return nil
}
