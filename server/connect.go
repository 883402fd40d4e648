package server

import (
	"errors"
	"strconv"
	"sync/atomic"
	"time"

	"loopmq/codec"
	"loopmq/topic"
)

// maxOutboundAliases caps the Topic Aliases the broker assigns towards one client.
const maxOutboundAliases = 64

// assignedIDs numbers the client ids the broker assigns to clients that connect with an empty one.
var assignedIDs atomic.Uint64

// handleConnect validates a CONNECT, authenticates it and attaches the connection to its session, possibly
// after taking the session over from another connection. err is the decoding error, if any: how a bad CONNECT is
// refused depends on what was wrong with it.
func (cl *client) handleConnect(p *codec.Connect, err error) {
	l := cl.l
	cl.version = p.Version
	if err != nil {
		switch {
		case errors.Is(err, codec.ErrProtocolVersion) || errors.Is(err, codec.ErrProtocolName):
			// [MQTT-3.1.2-2]: answer an unsupported level with CONNACK 0x01 (v3) / 0x84 (v5), then close.
			if p.Version == codec.V5 {
				cl.refuse(codec.UnsupportedProtocolVersion, err.Error())
			} else if errors.Is(err, codec.ErrProtocolVersion) {
				cl.version = codec.V311
				cl.refuse(codec.UnsupportedProtocolVersion, err.Error())
			} else {
				// Not MQTT at all [MQTT-3.1.2-1]: close without answering.
				cl.violation(err)
				cl.closeNow("bad protocol name")
			}
		default:
			cl.violation(err)
			if p.Version == codec.V5 {
				var ce *codec.Error
				code := codec.MalformedPacket
				if errors.As(err, &ce) {
					code = ce.Code
				}
				cl.refuse(code, err.Error())
			} else {
				cl.closeNow(err.Error())
			}
		}
		return
	}
	s := l.s
	if cl.refused {
		cl.refuse(codec.QuotaExceeded, "too many connections")
		return
	}
	if s.stopping.Load() {
		cl.refuse(codec.ServerUnavailable, "server shutting down")
		return
	}
	if p.Version == codec.V5 && p.Props.Has(codec.PropAuthMethod) {
		// No enhanced authentication method is supported [MQTT-4.12.0-1].
		cl.refuse(codec.BadAuthenticationMethod, "authentication method not supported")
		return
	}

	// Will: validate its topic and copy it now, it may outlive this packet by a long time.
	if p.WillFlag {
		if err := topic.ValidateName(p.WillTopic); err != nil {
			cl.violation(err)
			if p.Version == codec.V5 {
				cl.refuse(codec.TopicNameInvalid, err.Error())
			} else {
				cl.closeNow(err.Error())
			}
			return
		}
		var props []byte
		var ttl uint32
		if p.Version == codec.V5 {
			props = codec.FilterWillProps(l.encBuf[:0], p.WillProps.Raw)
			l.encBuf = props[:0]
			cl.willDelay = p.WillProps.WillDelay
			if p.WillProps.Has(codec.PropMessageExpiry) && p.WillProps.MessageExpiry > 0 {
				ttl = min(p.WillProps.MessageExpiry, 0xFFFFFFFE) + 1
			}
		}
		cl.will = newMessage(p.WillTopic, p.WillPayload, props, p.WillQoS, p.WillRetain, 0, 0)
		cl.will.willTTL = ttl
	}

	// Client identifier [MQTT-3.1.3-6, -7, -8].
	id := string(p.ClientID)
	assigned := false
	if id == "" {
		if p.Version != codec.V5 && !p.CleanStart {
			// 3.1.1: a zero-length id needs clean session 1 [MQTT-3.1.3-8]; 3.1 requires an id.
			cl.refuse(codec.ClientIdentifierNotValid, "empty client id without clean session")
			return
		}
		if p.Version == codec.V31 {
			cl.refuse(codec.ClientIdentifierNotValid, "empty client id in MQTT 3.1")
			return
		}
		id = "loopmq-" + strconv.FormatUint(uint64(time.Now().UnixNano()), 36) + "-" +
			strconv.FormatUint(assignedIDs.Add(1), 36)
		assigned = true
	}

	// Keep alive, limits and session expiry.
	cl.keepAlive = p.KeepAlive
	serverKeepAlive := false
	// Only MQTT 5 can tell a client to use another keep alive (Server Keep Alive); a 3.x client held to a shorter
	// one than it asked for would be disconnected while behaving correctly, so it keeps its own.
	if max := uint16(s.opts.MaxKeepAlive / time.Second); p.Version == codec.V5 && max > 0 && (cl.keepAlive == 0 || cl.keepAlive > max) {
		cl.keepAlive = max
		serverKeepAlive = true
	}
	cl.sendQuota = uint16(s.opts.MaxInflight)
	if p.Version == codec.V5 {
		if p.Props.Has(codec.PropReceiveMaximum) && p.Props.ReceiveMaximum < cl.sendQuota {
			cl.sendQuota = p.Props.ReceiveMaximum
		}
		if p.Props.Has(codec.PropMaximumPacketSize) {
			cl.maxOut = p.Props.MaximumPacketSize
		}
		// Outbound aliases are capped so a client cannot make the broker keep 65535 topic names for it.
		cl.aliasMaxOut = min(p.Props.TopicAliasMaximum, maxOutboundAliases)
		// Reason strings only for clients that ask for them explicitly, so the default answer is the
		// shortest one [MQTT-3.1.2-29 allows them by default; sending none is always allowed].
		cl.problemInfo = p.Props.Has(codec.PropRequestProblemInfo) && p.Props.RequestProblemInfo == 1
		cl.expiry = p.Props.SessionExpiry
	} else if !p.CleanStart {
		cl.expiry = neverExpire
	}
	if max := uint32(s.opts.MaxSessionExpiry / time.Second); max > 0 && cl.expiry > max {
		cl.expiry = max
	}
	cl.pending = &connackInfo{assigned: assigned, serverKeepAlive: serverKeepAlive, assignedID: id,
		expiryChanged: p.Version == codec.V5 && cl.expiry != p.Props.SessionExpiry, cleanStart: p.CleanStart}

	info := ConnectInfo{
		ClientID: p.ClientID, Username: p.Username, Password: p.Password,
		UsernameFlag: p.UsernameFlag, PasswordFlag: p.PasswordFlag,
		ProtocolLevel: byte(p.Version), RemoteAddr: cl.remoteAddr(),
	}
	if r := s.rules.Load(); r != nil && r.acl != nil {
		cl.authz = &clientAuthz{user: string(p.Username), anonymous: !p.UsernameFlag}
	}
	if s.authPool != nil {
		cl.authenticateAsync(&info)
		return
	}
	cl.afterAuth(s.auth.Authenticate(&info))
}

// afterAuth continues a CONNECT once the Authenticator has answered.
func (cl *client) afterAuth(r AuthResult) {
	if r != AuthAccepted {
		cl.refuse(codec.ReasonCode(r), "not authorized")
		return
	}
	if cl.authz != nil {
		cl.compileRights(cl.l.s.rules.Load())
		if w := cl.will; w != nil && !cl.rights.CanPublish(w.topic) {
			// Mosquitto 2.0 accepts the CONNECT and never publishes the will; so do we (docs/security.md).
			cl.logConn("will dropped: topic not permitted by acl_file", "will_topic", string(w.topic))
			w.release()
			cl.will = nil
		}
	}
	cl.claimSession(cl.pending.assignedID, cl.pending.cleanStart)
}

// connackInfo carries what the CONNACK must say from CONNECT to the moment the session is attached.
type connackInfo struct {
	assignedID      string
	assigned        bool
	serverKeepAlive bool
	expiryChanged   bool
	cleanStart      bool
}

// attach binds a client to its session, sends CONNACK and resumes the session's message flow.
func (cl *client) attach(s *session, present bool) {
	l := cl.l
	cl.s = s
	cl.state = stConnected
	s.cl = cl
	s.rights.Store(cl.rights)
	s.online.Store(true)
	if s.flow != nil {
		s.progressAt = l.wheel.now
	}
	s.version = cl.version
	s.expiry = cl.expiry
	s.expireAt = 0
	s.takenOver = false
	if s.will != nil {
		// A new connection before the will delay ended: the will is not sent [MQTT-3.1.3-9].
		s.will.release()
		s.will = nil
	}
	s.t.stop()
	l.s.connected.Add(1)
	l.s.totalConnects.Add(1)

	cl.sendConnack(present)
	cl.armKeepAlive()
	cl.logConn("client connected", "clean_start", !present, "keep_alive", cl.keepAlive)
	if present {
		s.resume(l)
	}
}

func (cl *client) armKeepAlive() {
	cl.lastSeen = cl.l.s.tickNow()
	if cl.keepAlive == 0 {
		cl.t.stop()
		return
	}
	cl.l.wheel.schedule(&cl.t, cl.lastSeen+int64(cl.keepAlive)*15+1)
}

// sendConnack writes CONNACK with session present and, for MQTT 5, the broker's limits [MQTT-3.2.2].
func (cl *client) sendConnack(present bool) {
	ack := &cl.l.connack
	*ack = codec.Connack{SessionPresent: present, Props: codec.Properties{User: ack.Props.User[:0]}}
	if cl.version == codec.V5 {
		o := &cl.l.s.opts
		p := &ack.Props
		p.ReceiveMaximum = uint16(o.ReceiveMaximum)
		p.Set(codec.PropReceiveMaximum)
		p.MaximumPacketSize = uint32(o.MaxPacketSize)
		p.Set(codec.PropMaximumPacketSize)
		p.TopicAliasMaximum = uint16(o.TopicAliasMaximum)
		if p.TopicAliasMaximum > 0 {
			p.Set(codec.PropTopicAliasMaximum)
		}
		p.RetainAvailable = 1
		p.Set(codec.PropRetainAvailable)
		p.WildcardSubAvailable, p.SubIDAvailable, p.SharedSubAvailable = 1, 1, 1
		p.Set(codec.PropWildcardSubAvailable)
		p.Set(codec.PropSubIDAvailable)
		p.Set(codec.PropSharedSubAvailable)
		if pc := cl.pending; pc != nil {
			if pc.assigned {
				p.AssignedClientID = []byte(pc.assignedID)
				p.Set(codec.PropAssignedClientID)
			}
			if pc.serverKeepAlive {
				p.ServerKeepAlive = cl.keepAlive
				p.Set(codec.PropServerKeepAlive)
			}
			if pc.expiryChanged {
				p.SessionExpiry = cl.expiry
				p.Set(codec.PropSessionExpiry)
			}
		}
	}
	cl.write(ack.Append(cl.buf(), cl.version))
	cl.pending = nil
}

// refuse answers CONNECT with an error CONNACK (v3 return code or v5 reason) and closes [MQTT-3.2.2-7].
func (cl *client) refuse(code codec.ReasonCode, why string) {
	cl.violation(errors.New(why))
	ack := codec.Connack{Reason: code}
	v := cl.version
	if v != codec.V5 {
		c3, ok := codec.ConnackV3(code)
		if !ok {
			cl.closeNow(why)
			return
		}
		ack.Reason = c3
		if v != codec.V31 {
			v = codec.V311
		}
	} else if cl.problemInfo && why != "" {
		ack.Props.ReasonString = []byte(why)
		ack.Props.Set(codec.PropReasonString)
	}
	cl.write(ack.Append(cl.buf(), v))
	cl.closeNow(why)
}
