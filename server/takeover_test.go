package server

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"loopmq/codec"
)

// connect311Will is CONNECT 3.1.1 with a QoS 0 will on topic "w" carrying the client's index.
func connect311Will(id string, clean bool, idx byte) []byte {
	flags := byte(0x04) // will flag, will QoS 0
	if clean {
		flags |= 0x02
	}
	var v []byte
	v = append(v, 0, 4, 'M', 'Q', 'T', 'T', 4, flags, 0, 60)
	v = append(v, 0, byte(len(id)))
	v = append(v, id...)
	v = append(v, 0, 1, 'w', 0, 1, idx)
	return append([]byte{0x10, byte(len(v))}, v...)
}

// TestConcurrentTakeover connects many clients with one client id at the same time, over and over: exactly one
// stays connected, and each displaced client that had been connected publishes its will exactly once.
func TestConcurrentTakeover(t *testing.T) {
	for _, clean := range []bool{false, true} {
		t.Run(map[bool]string{false: "resume", true: "clean"}[clean], func(t *testing.T) {
			s := startBroker(t, func(o *Options) { o.EventLoops = 4 })
			watcher := dialRaw(t, s)
			watcher.send(connect311("watcher", true))
			watcher.expect([]byte{0x20, 2, 0, 0})
			watcher.send([]byte{0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 'w', 0x00})
			watcher.expect([]byte{0x90, 0x03, 0x00, 0x01, 0x00})

			const rounds, n = 5, 12
			acked := 0
			var conns []*rawConn
			for r := 0; r < rounds; r++ {
				var wg sync.WaitGroup
				var mu sync.Mutex
				for i := 0; i < n; i++ {
					wg.Add(1)
					go func(i int) {
						defer wg.Done()
						c := dialRaw(t, s)
						c.send(connect311Will("dup", clean, byte(r*n+i)))
						p, err := c.readPacket(5 * time.Second)
						mu.Lock()
						defer mu.Unlock()
						conns = append(conns, c)
						if err == nil && bytes.Equal(p[:2], []byte{0x20, 2}) && p[3] == 0 {
							acked++
						}
					}(i)
				}
				wg.Wait()
			}
			// Every connection but one gets closed.
			deadline := time.Now().Add(5 * time.Second)
			for s.connected.Load() != 2 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if got := s.connected.Load(); got != 2 {
				t.Fatalf("connected clients %d, want 2 (watcher and the last dup)", got)
			}
			open := 0
			for _, c := range conns {
				c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
				var b [16]byte
				if _, err := c.Read(b[:]); err != nil && isTimeout(err) {
					open++
				}
			}
			if open != 1 {
				t.Fatalf("%d connections with the id still open, want 1", open)
			}
			wills := 0
			for {
				p, err := watcher.readPacket(500 * time.Millisecond)
				if err != nil {
					break
				}
				if p[0]&0xf0 == 0x30 {
					wills++
				}
			}
			t.Logf("%d connections, %d got CONNACK, %d wills", rounds*n, acked, wills)
			if wills != acked-1 {
				t.Fatalf("%d wills published for %d displaced connected clients", wills, acked-1)
			}
			if got := s.sessions.count(); got != 2 {
				t.Fatalf("%d sessions, want 2", got)
			}
		})
	}
}

func isTimeout(err error) bool {
	type timeout interface{ Timeout() bool }
	te, ok := err.(timeout)
	return ok && te.Timeout()
}

func TestKeepAliveTimeout(t *testing.T) {
	s := startBroker(t, nil)
	c := dialRaw(t, s)
	// Keep alive 1 s: the broker closes after 1.5 s of silence [MQTT-3.1.2-24].
	c.send([]byte{0x10, 0x0d, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 1, 0, 1, 'k'})
	c.expect([]byte{0x20, 2, 0, 0})
	start := time.Now()
	c.expectClosed()
	if d := time.Since(start); d < 1400*time.Millisecond || d > 8*time.Second {
		t.Fatalf("closed after %v, want about 1.5s", d)
	}
}

func TestKeepAliveKeptByPings(t *testing.T) {
	s := startBroker(t, nil)
	c := dialRaw(t, s)
	c.send([]byte{0x10, 0x0d, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 1, 0, 1, 'k'})
	c.expect([]byte{0x20, 2, 0, 0})
	for i := 0; i < 4; i++ {
		time.Sleep(700 * time.Millisecond)
		c.send([]byte{0xc0, 0})
		c.expect([]byte{0xd0, 0})
	}
}

// TestTakeoverDoesNotResumeCleanSession: a persistent CONNECT that takes over a live connection whose session ends
// with it (3.1.1 clean session; MQTT 5 Session Expiry 0) starts a new session: CONNACK says no session present
// and the old subscription is gone [MQTT-3.1.2-6: the state of a clean session MUST NOT be reused; MQTT 5
// §3.1.2.11.2: with expiry 0 the session ends when the network connection closes]. Found by FuzzSessions: the
// same client sequence (clean connect, drop, persistent connect) resumed the clean session or not, depending on
// whether the broker had seen the drop yet.
func TestTakeoverDoesNotResumeCleanSession(t *testing.T) {
	s := startBroker(t, nil)
	var exp codec.Properties
	exp.Set(codec.PropSessionExpiry)
	exp.SessionExpiry = 3600
	for _, tc := range []struct {
		name              string
		v                 codec.Version
		clean, persistent []byte
	}{
		{"3.1.1", codec.V311, connect311("tc3", true), connect311("tc3", false)},
		{"5", codec.V5, connect5("tc5"), connect5With("tc5", exp, func(c *codec.Connect) { c.CleanStart = false })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic, marker := "tc/"+tc.name, "tc/marker/"+tc.name
			old := dialRaw(t, s)
			old.send(tc.clean)
			if p, err := old.readPacket(5 * time.Second); err != nil || p[0] != 0x20 || p[2] != 0 || p[3] != 0 {
				t.Fatalf("clean CONNACK % x, %v", p, err)
			}
			sub := codec.Subscribe{PacketID: 1, Subs: []codec.Subscription{{Filter: []byte(topic)}}}
			old.send(sub.Append(nil, tc.v))
			if p, err := old.readPacket(5 * time.Second); err != nil || p[0] != 0x90 {
				t.Fatalf("SUBACK % x, %v", p, err)
			}

			nc := dialRaw(t, s)
			nc.send(tc.persistent)
			p, err := nc.readPacket(5 * time.Second)
			if err != nil || p[0] != 0x20 || p[3] != 0 {
				t.Fatalf("persistent CONNACK % x, %v", p, err)
			}
			if p[2] != 0 {
				t.Fatalf("persistent CONNACK % x says session present: the clean session was resumed", p)
			}
			if tc.v == codec.V5 {
				old.expectClosed([]byte{0xe0, 1, 0x8e}) // Session taken over
			} else {
				old.expectClosed()
			}
			sub = codec.Subscribe{PacketID: 2, Subs: []codec.Subscription{{Filter: []byte(marker)}}}
			nc.send(sub.Append(nil, tc.v))
			if p, err := nc.readPacket(5 * time.Second); err != nil || p[0] != 0x90 {
				t.Fatalf("SUBACK % x, %v", p, err)
			}
			// One publisher, two topics: had the old subscription survived, its message would come first.
			pub := dialRaw(t, s)
			pub.send(connect311("tc-pub-"+tc.name, true))
			pub.expect([]byte{0x20, 2, 0, 0})
			pub.send((&codec.Publish{Topic: []byte(topic), Payload: []byte("old")}).Append(nil, codec.V311))
			pub.send((&codec.Publish{Topic: []byte(marker), Payload: []byte("marker")}).Append(nil, codec.V311))
			p, err = nc.readPacket(5 * time.Second)
			if err != nil || !bytes.HasSuffix(p, []byte("marker")) {
				t.Fatalf("new session got % x (%v), want only the marker: the clean session's subscription survived", p, err)
			}
		})
	}
}
