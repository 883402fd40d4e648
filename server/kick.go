package server

// The operator's kick (POST /admin/disconnect, served by server/admin) ends one client's connection or every
// client's, the way a server-initiated disconnect does ([MQTT-3.14.0-1]: an MQTT 5 client gets DISCONNECT with reason 0x98
// Administrative action first; MQTT 3.1.1 has no server DISCONNECT, so its connection is just closed). The
// connections are closed by the loops that own them: the request only reads the session table and posts tasks.

import (
	"context"
	"sync"
	"sync/atomic"

	"loopmq/codec"
	"loopmq/server/admin"
)

// kickBatch is the work posted to one loop: the sessions whose connections it should end, and where to report.
type kickBatch struct {
	sessions []*session
	n        *atomic.Int64
	wg       *sync.WaitGroup
}

// disconnectAll ends the connection of every connected client. The session table is read one shard at a time
// (each lock held only to copy pointers), and each owning loop gets its sessions in one task that goes on in
// chunks (kickSessions).
func (s *Server) disconnectAll(ctx context.Context) admin.Result {
	byLoop := make(map[*loop][]*session)
	t := &s.sessions
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		for _, se := range sh.m {
			if o := se.owner.Load(); o != nil {
				byLoop[o] = append(byLoop[o], se)
			}
		}
		sh.mu.Unlock()
	}
	var n atomic.Int64
	var wg sync.WaitGroup
	for l, ss := range byLoop {
		b := &kickBatch{sessions: ss, n: &n, wg: &wg}
		wg.Add(len(ss))
		l.postTask(func() { l.kickSessions(b) })
	}
	complete := waitGroup(ctx, &wg)
	return admin.Result{Disconnected: n.Load(), Complete: complete}
}

// disconnectClient ends the connection of the client with this id, if it is connected.
func (s *Server) disconnectClient(ctx context.Context, id string) admin.Result {
	sh := s.sessions.shard([]byte(id))
	sh.mu.Lock()
	se := sh.m[id]
	var o *loop
	if se != nil {
		o = se.owner.Load()
	}
	sh.mu.Unlock()
	if o == nil {
		return admin.Result{Complete: true}
	}
	var n atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	b := &kickBatch{sessions: []*session{se}, n: &n, wg: &wg}
	o.postTask(func() { o.kickSessions(b) })
	complete := waitGroup(ctx, &wg)
	return admin.Result{Disconnected: n.Load(), Complete: complete}
}

// waitGroup waits for wg or ctx and says whether wg finished.
func waitGroup(ctx context.Context, wg *sync.WaitGroup) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

// kickChunk is how many connections one loop task closes. Closing all of a loop's connections in one task would
// hold the loop for the whole kick (hundreds of milliseconds for tens of thousands), while the kicked clients are
// already reconnecting and their new connections wait to be registered on this very loop; in chunks, the loop
// serves them in between.
const kickChunk = 512

// kickSessions runs on l: it disconnects the clients of the batch's sessions that l still owns and forwards the
// others to the loop a takeover moved them to meanwhile, kickChunk at a time.
func (l *loop) kickSessions(b *kickBatch) {
	if len(b.sessions) > kickChunk {
		rest := &kickBatch{sessions: b.sessions[kickChunk:], n: b.n, wg: b.wg}
		b.sessions = b.sessions[:kickChunk]
		defer l.execute(func(context.Context) error { l.kickSessions(rest); return nil })
	}
	for _, se := range b.sessions {
		if o := se.owner.Load(); o != l && o != nil {
			fwd := &kickBatch{sessions: []*session{se}, n: b.n, wg: b.wg}
			o.postTask(func() { o.kickSessions(fwd) })
			continue
		}
		if cl := se.cl; cl != nil && cl.state == stConnected {
			cl.adminKick()
			b.n.Add(1)
		}
		b.wg.Done()
	}
}

// adminKick ends a connection on the operator's request: MQTT 5 clients are told why with DISCONNECT 0x98
// [MQTT-3.14.2-1]. It is not a DISCONNECT from the client, so the will is published [MQTT-3.1.2-8].
func (cl *client) adminKick() {
	if cl.version == codec.V5 {
		cl.sendDisconnect(codec.AdministrativeAction, "disconnected by the operator")
	}
	cl.closeNow("disconnected by the operator")
}
