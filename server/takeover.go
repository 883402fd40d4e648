package server

// Session takeover: a CONNECT for a client id whose session lives on another connection or another loop. The
// session moves between loops by message passing (handoff → adopt); the table shard lock guards only the claim
// fields, so no per-message path ever takes it.

import "loopmq/codec"

// claimSession finds or creates the session for id. A session owned by another live connection or another loop
// is handed over asynchronously: the client waits in stConnecting, reading nothing more, until adopt.
func (cl *client) claimSession(id string, cleanStart bool) {
	l := cl.l
	t := &l.s.sessions
	sh := t.shard([]byte(id))
	sh.mu.Lock()
	old := sh.m[id]
	// A session whose connection asked for expiry 0 ends when that connection closes, which a takeover does: it is
	// never resumed [MQTT-3.1.2-6], whether or not the broker has seen its connection go yet.
	if old == nil || cleanStart || old.transient {
		s := l.newSession(id)
		s.transient = cl.expiry == 0
		sh.m[id] = s
		var displaced *client
		if old != nil {
			old.discarded = true
			displaced, old.claim = old.claim, nil
		} else {
			t.n.Add(1)
		}
		sh.mu.Unlock()
		if old != nil {
			// The old session ends: its connection is taken over and its will published once.
			if o := old.owner.Load(); o != nil {
				o.postTask(func() { o.takeOverAndEnd(old) })
			}
		}
		if displaced != nil {
			displaced.l.postTask(func() { displaced.supersede() })
		}
		cl.attach(s, false)
		return
	}
	displaced := old.claim
	old.claim = cl
	post := !old.handoff
	old.handoff = true
	cl.state = stConnecting
	owner := old.owner.Load()
	sh.mu.Unlock()
	if displaced != nil {
		displaced.l.postTask(func() { displaced.supersede() })
	}
	if post {
		if owner == l {
			l.handoff(old)
		} else {
			owner.postTask(func() { owner.handoff(old) })
		}
	}
}

// supersede closes a connection that was waiting for a session another connection claimed after it.
func (cl *client) supersede() {
	if cl.state == stConnecting {
		cl.takenOver = true
		cl.closeNow("session claimed by a newer connection")
	}
}

// takeOverAndEnd closes a session's connection because a clean-start connection took its client id, then ends
// the session (publishing the will).
func (l *loop) takeOverAndEnd(s *session) {
	if o := s.owner.Load(); o != l {
		if o != nil {
			o.postTask(func() { o.takeOverAndEnd(s) })
		}
		return
	}
	if cl := s.cl; cl != nil {
		cl.kick()
	}
	l.endSession(s)
}

// kick disconnects a client whose session was taken over [MQTT-3.1.4-3] (v5: DISCONNECT 0x8E).
func (cl *client) kick() {
	cl.takenOver = true
	if cl.state == stConnected && cl.version == codec.V5 {
		cl.sendDisconnect(codec.SessionTakenOver, "")
	}
	cl.closeNow("session taken over")
}

// handoff runs on the session's owner: it disconnects the current connection, then moves the session to the loop
// of the connection that claimed it.
func (l *loop) handoff(s *session) {
	if o := s.owner.Load(); o != l {
		o.postTask(func() { o.handoff(s) })
		return
	}
	if cl := s.cl; cl != nil {
		cl.kick() // OnClose runs now and detaches it
	}
	s.t.stop() // its timers live on this loop's wheel
	sh := l.s.sessions.shard([]byte(s.id))
	sh.mu.Lock()
	claim := s.claim
	s.claim = nil
	s.handoff = false
	if claim == nil || s.dead || s.discarded {
		sh.mu.Unlock()
		if claim != nil {
			claim.l.postTask(func() { claim.retryClaim(s.id) })
		}
		switch {
		case s.dead:
		case s.cl == nil && !s.discarded:
			s.goOffline(l) // the claimant left before it got the session: it stays here, offline
		default:
			s.armTimer(l)
		}
		return
	}
	target := claim.l
	s.owner.Store(target)
	s.adopting = claim
	// Posted under the lock so a later claimant's handoff reaches the target after this adopt.
	if target == l {
		sh.mu.Unlock()
		claim.adopt(s)
		return
	}
	target.postTask(func() { claim.adopt(s) })
	sh.mu.Unlock()
}

// retryClaim starts the session lookup again for a client whose claimed session ended before it arrived.
func (cl *client) retryClaim(id string) {
	if cl.state != stConnecting {
		return
	}
	cl.state = stAwaitConnect
	cl.claimSession(id, false)
	cl.resumeInput()
}

// adopt attaches a session handed over from another connection, on the claimant's loop.
func (cl *client) adopt(s *session) {
	l := cl.l
	sh := l.s.sessions.shard([]byte(s.id))
	sh.mu.Lock()
	mine := s.adopting == cl && s.owner.Load() == l
	if mine {
		s.adopting = nil
		s.transient = cl.expiry == 0
	}
	sh.mu.Unlock()
	if !mine {
		// A newer claimant was handed the session in between and has it now.
		cl.supersede()
		return
	}
	if cl.state != stConnecting {
		// The claimant went away meanwhile: the session stays here, offline.
		s.goOffline(l)
		return
	}
	cl.attach(s, true)
	if !cl.inTraffic {
		// Inside OnTraffic (a same-loop handoff) the read loop that handled CONNECT simply continues.
		cl.resumeInput()
	}
}
