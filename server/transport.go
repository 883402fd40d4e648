package server

import (
	"net"
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
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
		cl.l.stats.connectsWS.Add(1)
		s.openWS.Add(1)
		return
	}
	cl.l.stats.connectsTCP.Add(1)
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

// transportSeries are the per-transport series: loopmq_transport_*{transport="tcp"|"ws"}.
func (s *Server) transportSeries() []series {
	type pair struct {
		name, help string
		tcp, ws    func(sn *snapshot) uint64
	}
	pairs := []pair{
		{"transport_bytes_received_total", "Bytes read from clients, by transport (WebSocket framing included).",
			func(sn *snapshot) uint64 { return subFloor(sn.bytesIn, sn.wsBytesIn) }, func(sn *snapshot) uint64 { return sn.wsBytesIn }},
		{"transport_bytes_sent_total", "Bytes written to clients, by transport (WebSocket framing included).",
			func(sn *snapshot) uint64 { return subFloor(sn.bytesOut, sn.wsBytesOut) }, func(sn *snapshot) uint64 { return sn.wsBytesOut }},
		{"transport_packets_received_total", "MQTT packets received, by transport.",
			func(sn *snapshot) uint64 { return sn.packetsIn - sn.wsPacketsIn }, func(sn *snapshot) uint64 { return sn.wsPacketsIn }},
		{"transport_packets_sent_total", "MQTT packets sent, by transport.",
			func(sn *snapshot) uint64 { return sn.packetsOut - sn.wsPacketsOut }, func(sn *snapshot) uint64 { return sn.wsPacketsOut }},
		{"transport_connections_total", "Connections accepted, by transport.",
			func(sn *snapshot) uint64 { return sn.connectsTCP }, func(sn *snapshot) uint64 { return sn.connectsWS }},
	}
	var out []series
	for _, p := range pairs {
		for i, f := range [trCount]func(sn *snapshot) uint64{p.tcp, p.ws} {
			out = append(out, series{
				desc:  prometheus.NewDesc("loopmq_"+p.name, p.help, nil, prometheus.Labels{"transport": trLabels[i]}),
				kind:  prometheus.CounterValue,
				value: func(sn *snapshot) float64 { return float64(f(sn)) },
			})
		}
	}
	for i, g := range [trCount]*atomic.Int64{&s.openTCP, &s.openWS} {
		out = append(out, series{
			desc: prometheus.NewDesc("loopmq_transport_connections", "Open connections, by transport.", nil,
				prometheus.Labels{"transport": trLabels[i]}),
			kind:  prometheus.GaugeValue,
			value: func(*snapshot) float64 { return float64(g.Load()) },
		})
	}
	return out
}

// transportSys is the per-transport part of the $SYS tree: $SYS/broker/transport/{tcp,ws}/....
func (s *Server) transportSys(sn *snapshot) [][2]string {
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	return [][2]string{
		{"$SYS/broker/transport/tcp/connections/current", i(s.openTCP.Load())},
		{"$SYS/broker/transport/tcp/connections/total", u(sn.connectsTCP)},
		{"$SYS/broker/transport/tcp/bytes/received", u(subFloor(sn.bytesIn, sn.wsBytesIn))},
		{"$SYS/broker/transport/tcp/bytes/sent", u(subFloor(sn.bytesOut, sn.wsBytesOut))},
		{"$SYS/broker/transport/tcp/packets/received", u(sn.packetsIn - sn.wsPacketsIn)},
		{"$SYS/broker/transport/tcp/packets/sent", u(sn.packetsOut - sn.wsPacketsOut)},
		{"$SYS/broker/transport/ws/connections/current", i(s.openWS.Load())},
		{"$SYS/broker/transport/ws/connections/total", u(sn.connectsWS)},
		{"$SYS/broker/transport/ws/bytes/received", u(sn.wsBytesIn)},
		{"$SYS/broker/transport/ws/bytes/sent", u(sn.wsBytesOut)},
		{"$SYS/broker/transport/ws/packets/received", u(sn.wsPacketsIn)},
		{"$SYS/broker/transport/ws/packets/sent", u(sn.wsPacketsOut)},
	}
}

// subFloor is a - b, or 0 when b > a: the counters of a snapshot are read one by one while loops keep counting, so
// the WebSocket share may briefly exceed the total it belongs to.
func subFloor(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}
