package server

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/valyala/bytebufferpool"

	"loopmq/codec"
	"loopmq/server/auth"
)

// Connection states, in order: a client only moves forward.
const (
	stAwaitConnect   uint8 = iota // accepted; the first packet must be CONNECT [MQTT-3.1.0-1]
	stAuthenticating              // CONNECT read, a blocking Authenticator is deciding on the worker pool
	stConnecting                  // CONNECT accepted, waiting for its session to arrive from another loop
	stConnected                   // CONNACK sent
	stClosing                     // closing: further input is ignored
	stClosed                      // OnClose ran
)

// aliasState holds a v5 connection's topic aliases.
type aliasState struct {
	in  map[uint16][]byte // inbound: alias → topic name
	out map[string]uint16 // outbound: topic name → alias
}

// client is one network connection, owned by its event loop. It is kept small: an idle connected client holds
// no buffers (the outbox is pooled and returned after each flush).
type client struct {
	// Pointers and words first, then the small fields packed together: the struct is allocated per connection,
	// so padding between fields is paid a million times.
	l   *loop
	c   gnet.Conn
	s   *session
	tr  *transportState            // nil for plain TCP
	out *bytebufferpool.ByteBuffer // bytes to write at the end of this loop pass

	t        timer // connect timeout, then keep alive
	lastSeen int64

	aliases *aliasState // topic aliases in both directions, allocated on first use
	acks    *ackQueue   // acknowledgements held back for flow control, allocated on first use
	will    *message

	// ACL (authfile.go): rights is nil without acl_file, which permits everything; authz holds what recompiling
	// them after a reload needs.
	rights  *auth.Rights
	authz   *clientAuthz
	pending *connackInfo // from CONNECT until CONNACK
	reason  string

	want      uint32 // inbound bytes needed to complete the packet being received (TCP), 0 = unknown
	expiry    uint32 // Session Expiry Interval asked at CONNECT (possibly changed at DISCONNECT)
	willDelay uint32

	// MQTT 5 limits the client asked for.
	maxOut      uint32 // client's Maximum Packet Size, 0 = no limit
	sendQuota   uint16 // outbound inflight window: min(client Receive Maximum, MaxInflight)
	aliasMaxOut uint16 // client's Topic Alias Maximum: how many aliases we may use towards it
	problemInfo bool   // Request Problem Information sent as 1: reason strings wanted

	keepAlive uint16
	state     uint8
	version   codec.Version
	transport uint8
	dirty     bool

	normalDisconnect bool // DISCONNECT with reason 0x00 (or v3 DISCONNECT): no will
	takenOver        bool
	violationLogged  bool
	denyLogged       bool // a publish denied by acl_file was logged
	closeAfterRead   bool // set inside OnTraffic: return gnet.Close
	inTraffic        bool
	refused          bool // over max_connections: answer CONNECT with "server unavailable"
	inputPaused      bool // too many held acknowledgements: input is left unread until they go out
	outWatched       bool // on the loop's outbound watch list (flow.go)
}

var errNotConnect = errors.New("first packet is not CONNECT [MQTT-3.1.0-1]")

// onTraffic is the read path: the connection's transport layers if it has any (transport.go), then whole MQTT
// packets through the codec, leaving a partial packet in gnet's inbound buffer (plain TCP: Peek, then Discard only
// what was parsed) or in the carry buffer (after a layer transformed the bytes).
func (cl *client) onTraffic() gnet.Action {
	if cl.state >= stClosing {
		cl.c.Discard(-1)
		return cl.trafficAction()
	}
	if cl.want > 0 && cl.tr == nil && cl.c.InboundBuffered() < int(cl.want) {
		// A large packet is still arriving: leave it in gnet's buffer rather than re-peeking it per read.
		cl.lastSeen = cl.l.s.tickNow()
		return gnet.None
	}
	raw, _ := cl.c.Peek(-1)
	if len(raw) == 0 && cl.tr == nil {
		return gnet.None // a layer may have work without new bytes: a TLS handshake's worker woke the loop
	}
	cl.inTraffic = true
	defer func() { cl.inTraffic = false }()
	if cl.inputPaused {
		// Flow control holds this publisher (flow.go): its input waits, up to a bound.
		cl.lastSeen = cl.l.s.tickNow()
		if cl.pausedInput() > cl.l.s.pausedInputLimit() {
			cl.fail(codec.QuotaExceeded, "publisher keeps sending while its acknowledgements are held back")
			cl.c.Discard(-1)
			return cl.trafficAction()
		}
		if cl.tr == nil {
			return gnet.None
		}
	}
	if cl.transport == transportSniff && !cl.sniff(raw) {
		return cl.trafficAction()
	}
	cl.lastSeen = cl.l.s.tickNow()
	if cl.tr == nil {
		n := cl.process(raw)
		cl.discard(n)
		cl.l.stats.BytesIn.Add(uint64(n))
		return cl.trafficAction()
	}
	off := cl.inbound(raw)
	cl.l.stats.BytesIn.Add(uint64(off))
	if overWS(cl.transport) { // series are by transport name, whatever layers the connection has
		cl.l.stats.WSBytesIn.Add(uint64(off))
	}
	cl.discard(off)
	return cl.trafficAction()
}

// discard consumes n bytes of gnet's inbound buffer. gnet treats Discard(0) as "everything", so n == 0 must not
// reach it: a partial packet would be lost.
func (cl *client) discard(n int) {
	if n > 0 {
		cl.c.Discard(n)
	}
}

// resumeInput handles input that arrived while the client waited for its session (on the loop, outside
// OnTraffic).
func (cl *client) resumeInput() {
	if cl.state != stConnected {
		return
	}
	if cl.tr != nil {
		if cl.tr.carry != nil {
			cl.feed(nil)
		}
		return
	}
	raw, _ := cl.c.Peek(-1)
	if len(raw) > 0 {
		n := cl.process(raw)
		cl.discard(n)
		cl.l.stats.BytesIn.Add(uint64(n))
	}
}

func (cl *client) trafficAction() gnet.Action {
	if cl.closeAfterRead {
		return gnet.Close
	}
	return gnet.None
}

// process handles every whole packet at the start of buf and returns how many bytes it consumed. It stops early
// while the connection waits for its session (stConnecting) or is closing.
func (cl *client) process(buf []byte) int {
	off := 0
	for off < len(buf) && cl.state != stConnecting && cl.state != stAuthenticating && cl.state < stClosing &&
		!cl.inputPaused {
		h, need, err := codec.Peek(buf[off:], cl.l.s.opts.MaxPacketSize)
		if err != nil {
			cl.failErr(err)
			break
		}
		if need > 0 {
			if h.Size > 0 {
				cl.want = uint32(len(buf) - off + need)
			}
			break
		}
		cl.want = 0
		body := buf[off+h.Size : off+h.Len()]
		off += h.Len()
		cl.l.stats.PacketIn(overWS(cl.transport), h)
		cl.handle(h, body)
	}
	return off
}

// handle dispatches one packet. Each handler decodes its packet into its field of the loop's codec.Decoder (the
// one Decoder.Decode would pick), so a packet is switched on once; CONNECT goes through Decoder.Decode. Packets a
// client may not send here are refused before decoding.
func (cl *client) handle(h codec.FixedHeader, body []byte) {
	if cl.state == stAwaitConnect {
		if h.Type != codec.TypeConnect {
			cl.violation(errNotConnect)
			cl.closeNow("first packet not CONNECT")
			return
		}
		d := &cl.l.dec
		cl.handleConnect(&d.Connect, d.Decode(h, body, 0))
		return
	}
	if cl.authz != nil {
		cl.refreshRights() // rights follow a reload from the next packet on
	}
	switch h.Type {
	case codec.TypePublish:
		cl.handlePublish(h, body)
	case codec.TypePuback, codec.TypePubrec, codec.TypePubrel, codec.TypePubcomp:
		cl.handleAck(h, body)
	case codec.TypeSubscribe:
		cl.handleSubscribe(h, body)
	case codec.TypeUnsubscribe:
		cl.handleUnsubscribe(h, body)
	case codec.TypePingreq:
		cl.write(codec.AppendPingresp(cl.buf()))
	case codec.TypeDisconnect:
		cl.handleDisconnect(h, body)
	case codec.TypeConnect:
		cl.fail(codec.ProtocolError, "second CONNECT [MQTT-3.1.0-2]")
	case codec.TypeAuth:
		if cl.version != codec.V5 {
			cl.fail(codec.MalformedPacket, "AUTH before MQTT 5")
			return
		}
		// Enhanced authentication is not offered (CONNACK never names a method), so AUTH is unexpected.
		cl.fail(codec.ProtocolError, "AUTH without enhanced authentication [MQTT-4.12.0-1]")
	default:
		cl.fail(codec.ProtocolError, "packet type "+h.Type.String()+" not sent by clients")
	}
}

// buf returns the outbox to append one packet to; pair it with write.
func (cl *client) buf() []byte {
	if cl.out == nil {
		cl.out = bytebufferpool.Get()
	}
	return cl.out.B
}

// write stores the outbox after appending to buf() and schedules the flush.
func (cl *client) write(b []byte) {
	cl.l.stats.PacketOut(overWS(cl.transport), b, len(cl.out.B))
	cl.out.B = b
	if cl.state < stClosed {
		cl.l.markDirty(cl)
	}
}

// outbound is how many bytes wait to be written to this client.
func (cl *client) outbound() int {
	n := cl.c.OutboundBuffered()
	if cl.out != nil {
		n += cl.out.Len()
	}
	return n
}

// flush writes the outbox with one write and returns its buffer to the pool.
func (cl *client) flush() {
	if cl.out == nil {
		return
	}
	b := cl.out
	cl.out = nil
	if cl.state < stClosed && b.Len() > 0 {
		if cl.outWatched {
			cl.l.outbound[cl].added += b.Len()
		}
		if cl.tr != nil {
			cl.l.stats.BytesOut.Add(uint64(cl.writeThrough(b.B)))
		} else {
			cl.l.stats.BytesOut.Add(uint64(b.Len()))
			cl.c.Write(b.B)
		}
		if cl.state < stClosing && cl.c.OutboundBuffered() > hardLimitFactor*cl.l.s.opts.OutboundHighWater {
			// The client reads far slower than we produce even the messages we must not drop: give up on it
			// so memory stays bounded.
			bytebufferpool.Put(b)
			cl.closeNow("slow consumer: outbound buffer over the hard limit")
			return
		}
	}
	bytebufferpool.Put(b)
}

// hardLimitFactor × OutboundHighWater is the outbound backlog at which a connection is closed.
const hardLimitFactor = 4

// closeNow writes what is in the outbox and closes the connection (at the end of OnTraffic when inside it).
func (cl *client) closeNow(reason string) {
	if cl.state >= stClosing {
		return
	}
	if cl.reason == "" {
		cl.reason = reason
	}
	cl.state = stClosing
	cl.flush()
	if cl.inTraffic {
		cl.closeAfterRead = true
		return
	}
	cl.c.EventLoop().Close(cl.c)
}

// failErr answers a codec or topic error with its reason code.
func (cl *client) failErr(err error) {
	var ce *codec.Error
	if errors.As(err, &ce) {
		cl.fail(ce.Code, err.Error())
		return
	}
	cl.fail(codec.UnspecifiedError, err.Error())
}

// fail ends the connection for a protocol violation: MQTT 5 clients that have a CONNACK get a DISCONNECT with the
// reason code first [MQTT-4.13.1-1]; others are just closed.
func (cl *client) fail(code codec.ReasonCode, why string) {
	if cl.state >= stClosing {
		return
	}
	cl.violation(errors.New(why))
	cl.l.stats.ProtocolErrors.Add(1)
	if cl.version == codec.V5 && cl.state == stConnected {
		cl.sendDisconnect(code, why)
	}
	cl.closeNow(why)
}

// sendDisconnect queues a server DISCONNECT (MQTT 5 only). The reason string is included only when it fits in
// the client's Maximum Packet Size [MQTT-3.14.2-3].
func (cl *client) sendDisconnect(code codec.ReasonCode, why string) {
	d := codec.Disconnect{Reason: code}
	if cl.problemInfo && why != "" && (cl.maxOut == 0 || uint32(len(why)+16) <= cl.maxOut) {
		d.Props.ReasonString = []byte(why)
		d.Props.Set(codec.PropReasonString)
	}
	cl.write(d.Append(cl.buf(), codec.V5))
}

// violation logs a protocol violation once per connection, sampled across the server.
func (cl *client) violation(err error) {
	if cl.violationLogged {
		return
	}
	cl.violationLogged = true
	if ok, sup := cl.l.s.violationLog.allow(time.Now()); ok {
		attrs := []any{"remote", cl.remoteAddr().String(), "err", err.Error()}
		if cl.s != nil {
			attrs = append(attrs, "client_id", cl.s.id)
		}
		if sup > 0 {
			attrs = append(attrs, "suppressed", sup)
		}
		cl.l.s.log.Warn("protocol violation", attrs...)
	}
}

// onTimer is the connect timeout before CONNECT and the keep alive check after it.
func (cl *client) onTimer(t *timer, now int64) {
	switch cl.state {
	case stAwaitConnect, stAuthenticating, stConnecting:
		cl.closeNow("connect timeout")
	case stConnected:
		// 1.5 × keep alive, in 100 ms ticks [MQTT-3.1.2-24], plus one tick so rounding never closes early.
		limit := int64(cl.keepAlive)*15 + 1
		if now-cl.lastSeen >= limit {
			if cl.version == codec.V5 {
				cl.sendDisconnect(codec.KeepAliveTimeout, "")
			}
			cl.closeNow("keep alive timeout")
			return
		}
		cl.l.wheel.schedule(&cl.t, cl.lastSeen+limit)
	}
}

// logConn writes the one line per connect or disconnect, sampled under floods.
func (cl *client) logConn(msg string, attrs ...any) {
	ok, sup := cl.l.s.connLog.allow(time.Now())
	if !ok || !cl.l.s.log.Enabled(context.Background(), slog.LevelInfo) {
		return
	}
	base := []any{"remote", cl.remoteAddr().String(), "protocol", cl.version.String()}
	if cl.s != nil {
		base = append(base, "client_id", cl.s.id)
	}
	if sup > 0 {
		base = append(base, "suppressed", sup)
	}
	cl.l.s.log.Info(msg, append(base, attrs...)...)
}
