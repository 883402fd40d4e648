package server

import (
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// Will Delay Interval and Session Expiry Interval with paho.golang (MQTT 5), the connection lost abruptly.

// waitTopic waits until c has received a message on topic and returns when it arrived.
func (c *v5client) waitTopic(t testing.TB, topic string) time.Time {
	t.Helper()
	deadline := time.After(patience)
	for {
		if c.countTopic(topic) > 0 {
			return time.Now()
		}
		select {
		case <-c.arrived:
		case <-deadline:
			t.Fatalf("no message on %q", topic)
		}
	}
}

func (c *v5client) countTopic(topic string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, p := range c.got {
		if p.Topic == topic {
			n++
		}
	}
	return n
}

// willConnect is a CONNECT with a QoS 1 will on topic, delayed by delay seconds, and a session that outlives it.
func willConnect(id, topic string, delay uint32) *paho.Connect {
	return &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 60,
		Properties:     &paho.ConnectProperties{SessionExpiryInterval: u32(300)},
		WillMessage:    &paho.WillMessage{Topic: topic, QoS: 1, Payload: []byte("gone")},
		WillProperties: &paho.WillProperties{WillDelayInterval: u32(delay)}}
}

// TestPaho5WillDelayHonoured: the will of a lost connection is published after its delay, not before
// [MQTT-3.1.3-9].
func TestPaho5WillDelayHonoured(t *testing.T) {
	s := startBroker(t, nil)
	watcher := dialV5Patient(t, s, &paho.Connect{ClientID: "wd-watch", CleanStart: true})
	if _, err := watcher.Subscribe(ctxPatient(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "wd/#", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	const delay = 2
	dying := dialV5Held(t, s, nil, willConnect("wd-dying", "wd/dying", delay))
	lost := time.Now()
	dying.lose(t)
	at := watcher.waitTopic(t, "wd/dying")
	// A lower bound only: a slow machine makes the will later, never earlier. The broker's timer wheel rounds to
	// its 100 ms tick, hence the margin.
	if early := at.Sub(lost); early < delay*time.Second-500*time.Millisecond {
		t.Fatalf("will published %v after the connection was lost, before its %ds delay", early, delay)
	}
	watcher.mu.Lock()
	p := watcher.got[0]
	watcher.mu.Unlock()
	if p.QoS != 1 || string(p.Payload) != "gone" {
		t.Fatalf("will %+v", p)
	}
}

// TestPaho5WillDelayCancelledByReconnect: a client that comes back within the will delay has no will published
// [MQTT-3.1.3-9]. A second client, lost after it with the same delay and not coming back, marks the moment the
// first will would have been due.
func TestPaho5WillDelayCancelledByReconnect(t *testing.T) {
	s := startBroker(t, nil)
	watcher := dialV5Patient(t, s, &paho.Connect{ClientID: "wdc-watch", CleanStart: true})
	if _, err := watcher.Subscribe(ctxPatient(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "wdc/#", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	const delay = 4
	back := dialV5Held(t, s, nil, willConnect("wdc-back", "wdc/back", delay))
	control := dialV5Held(t, s, nil, willConnect("wdc-control", "wdc/control", delay))
	back.lose(t)
	again := dialV5Patient(t, s, &paho.Connect{ClientID: "wdc-back", CleanStart: false, KeepAlive: 60,
		Properties: &paho.ConnectProperties{SessionExpiryInterval: u32(300)}})
	if !again.connack.SessionPresent {
		t.Fatal("session not present on reconnect")
	}
	control.lose(t)
	watcher.waitTopic(t, "wdc/control")
	// The two wills' timers may sit on different event loops: allow one of them a moment past the other.
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		if n := watcher.countTopic("wdc/back"); n != 0 {
			t.Fatal("will published although its client reconnected within the will delay")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPaho5SessionExpiry: a lost client's session, its subscription and queued messages, is kept within the
// Session Expiry Interval and gone after it [MQTT-3.1.2-23].
func TestPaho5SessionExpiry(t *testing.T) {
	s := startBroker(t, nil)
	pub := dialV5Patient(t, s, &paho.Connect{ClientID: "se-pub", CleanStart: true})
	publish := func(payload string) {
		t.Helper()
		if _, err := pub.Publish(ctxPatient(t), &paho.Publish{Topic: "se/x", QoS: 1, Payload: []byte(payload)}); err != nil {
			t.Fatal(err)
		}
	}
	const expiry = 2
	cp := &paho.Connect{ClientID: "se", CleanStart: true, KeepAlive: 60,
		Properties: &paho.ConnectProperties{SessionExpiryInterval: u32(expiry)}}
	c := dialV5Held(t, s, nil, cp)
	if _, err := c.Subscribe(ctxPatient(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "se/#", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	c.lose(t)
	publish("kept")

	// Within the interval: the session is there, with the message queued while the client was away.
	cp.CleanStart = false
	c2 := dialV5Held(t, s, nil, cp)
	if !c2.connack.SessionPresent {
		t.Fatal("session not present within its expiry interval")
	}
	c2.ack(t, c2.waitFor(t, "kept", 1)[0])

	// After it: gone, subscription and all.
	sessions := s.sessions.count()
	lost := time.Now()
	c2.lose(t)
	deadline := time.Now().Add(20 * time.Second)
	for s.sessions.count() >= sessions {
		if time.Now().After(deadline) {
			t.Fatalf("session still there %v after a lost connection with a %ds expiry", time.Since(lost), expiry)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if gone := time.Since(lost); gone < expiry*time.Second-500*time.Millisecond {
		t.Fatalf("session ended %v after the connection was lost, before its %ds expiry", gone, expiry)
	}
	publish("lost")
	c3 := dialV5Held(t, s, nil, cp)
	if c3.connack.SessionPresent {
		t.Fatal("session present after its expiry interval")
	}
	if _, err := c3.Subscribe(ctxPatient(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "se/#", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	publish("after")
	c3.ack(t, c3.waitFor(t, "after", 1)[0])
	if n := c3.received("lost"); n != 0 {
		t.Fatal("a message published after the session expired was delivered to the new session")
	}
}
