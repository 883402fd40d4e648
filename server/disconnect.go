package server

import (
	"time"

	"github.com/valyala/bytebufferpool"

	"loopmq/codec"
)

// handleDisconnect: a normal DISCONNECT discards the will [MQTT-3.14.4-3]; v5 0x04 keeps it, and a v5 DISCONNECT
// may change the Session Expiry Interval, but not from 0 [MQTT-3.14.2-2].
func (cl *client) handleDisconnect(d *codec.Disconnect) {
	if cl.version == codec.V5 && d.Props.Has(codec.PropSessionExpiry) {
		if cl.expiry == 0 && d.Props.SessionExpiry != 0 {
			cl.fail(codec.ProtocolError, "session expiry changed from 0 at DISCONNECT [MQTT-3.14.2-2]")
			return
		}
		cl.expiry = d.Props.SessionExpiry
		if max := uint32(cl.l.s.opts.MaxSessionExpiry / time.Second); max > 0 && cl.expiry > max {
			cl.expiry = max
		}
	}
	// Only reason 0x00 discards the will; 0x04 and any error reason keep it [MQTT-3.1.2-10].
	cl.normalDisconnect = cl.version != codec.V5 || d.Reason == codec.NormalDisconnection
	cl.reason = "client disconnected"
	if cl.version == codec.V5 && d.Reason != 0 {
		cl.reason = "client disconnected: " + d.Reason.String()
	}
	cl.closeNow(cl.reason)
}

// onClose detaches a closed connection from its session: the will is published or scheduled, and the session
// ends now or starts its expiry countdown.
func (cl *client) onClose(err error) {
	if cl.state == stClosed {
		return
	}
	prev := cl.state
	cl.state = stClosed
	cl.t.stop()
	if cl.out != nil {
		cl.flushDiscard()
	}
	if cl.tr != nil && cl.tr.carry != nil {
		bytebufferpool.Put(cl.tr.carry)
		cl.tr.carry = nil
	}
	cl.dropAcks()
	l := cl.l
	l.s.openConns.Add(-1)
	if cl.reason == "" {
		cl.reason = "connection lost"
		if err != nil {
			cl.reason = "connection lost: " + err.Error()
		}
	}
	s := cl.s
	if s == nil || s.cl != cl {
		if prev == stConnecting {
			cl.dropClaim()
		}
		cl.releaseWill()
		return
	}
	l.s.connected.Add(-1)
	cl.logConn("client disconnected", "reason", cl.reason)
	s.cl = nil
	l.s.waits.setOffline(s)
	cl.aliases = nil
	will := cl.will
	cl.will = nil
	if cl.normalDisconnect && will != nil {
		will.release()
		will = nil
	}
	if l.s.stopping.Load() {
		will.release()
		return
	}
	s.expiry = cl.expiry
	if will != nil {
		if cl.willDelay == 0 || s.expiry == 0 && !cl.takenOver {
			l.publishWill(will)
		} else {
			s.will = will
			s.willAt = l.wheel.now + int64(cl.willDelay)*10
		}
	}
	if cl.takenOver {
		// The new connection takes the session (resume) or ends it (clean start).
		s.armTimer(l)
		return
	}
	s.goOffline(l)
}

// goOffline starts the expiry countdown of a session without a connection, or ends it now.
func (s *session) goOffline(l *loop) {
	switch s.expiry {
	case 0:
		l.endSession(s)
		return
	case neverExpire:
		s.expireAt = 0
	default:
		s.expireAt = l.wheel.now + int64(s.expiry)*10
	}
	s.armTimer(l)
}

// dropClaim withdraws a waiting connection's claim on a session.
func (cl *client) dropClaim() {
	if cl.pending == nil {
		return
	}
	sh := cl.l.s.sessions.shard([]byte(cl.pending.assignedID))
	sh.mu.Lock()
	if s := sh.m[cl.pending.assignedID]; s != nil && s.claim == cl {
		s.claim = nil
	}
	sh.mu.Unlock()
}

func (cl *client) releaseWill() {
	if cl.will != nil {
		cl.will.release()
		cl.will = nil
	}
}

// flushDiscard drops the outbox of a connection that is already closed.
func (cl *client) flushDiscard() {
	bytebufferpool.Put(cl.out)
	cl.out = nil
}
