package server

import (
	"fmt"
	"testing"

	"github.com/eclipse/paho.golang/paho"
	"github.com/eclipse/paho.golang/paho/session/state"
)

// A second connection with the same client id takes the session over while messages are truly in flight: the
// first subscriber has received them and holds back its PUBACKs. The new connection must get each of them again,
// with DUP set [MQTT-3.1.4-3, MQTT-4.4.0-1], and nothing the first one did not acknowledge may be lost
// (conformance's NoQoS1MessageLostAcrossTakeover acknowledges at once, so nothing is in flight there).

const takeoverHeld = 5 // messages the first subscriber acknowledges; the next takeoverHeld stay in flight

func TestPaho5TakeoverWithMessagesInFlight(t *testing.T) {
	s := startBroker(t, nil)
	st := state.NewInMemory()
	t.Cleanup(func() { st.Close() })
	first := dialV5Held(t, s, st, &paho.Connect{ClientID: "tk5", CleanStart: true, KeepAlive: 60,
		Properties: &paho.ConnectProperties{SessionExpiryInterval: u32(300)}})
	if _, err := first.Subscribe(ctxPatient(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "tk/#", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	pub := dialV5Patient(t, s, &paho.Connect{ClientID: "tk5-pub", CleanStart: true})
	publish := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			if _, err := pub.Publish(ctxPatient(t), &paho.Publish{Topic: "tk/x", QoS: 1, Payload: fmt.Appendf(nil, "m%d", i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	publish(0, 2*takeoverHeld)
	for i := 0; i < 2*takeoverHeld; i++ {
		p := first.waitFor(t, fmt.Sprintf("m%d", i), 1)[0]
		if i < takeoverHeld {
			first.ack(t, p)
		}
	}
	first.fc.waitCount(t, "PUBACK", takeoverHeld, isPkt(false, pktPuback, 0))

	second := dialV5Patient(t, s, &paho.Connect{ClientID: "tk5", CleanStart: false, KeepAlive: 60,
		Properties: &paho.ConnectProperties{SessionExpiryInterval: u32(300)}})
	if !second.connack.SessionPresent {
		t.Fatal("session not present on takeover")
	}
	publish(2*takeoverHeld, 3*takeoverHeld)
	got := second.waitPatient(t, 2*takeoverHeld)
	for i, p := range got {
		want := fmt.Sprintf("m%d", takeoverHeld+i)
		if i >= 2*takeoverHeld || string(p.Payload) != want {
			t.Fatalf("new connection's message %d is %q, want %q (all: %v)", i, p.Payload, want, payloads5(got))
		}
		if inflight := i < takeoverHeld; p.Duplicate() != inflight {
			t.Fatalf("%q: DUP %v, want %v (in flight at takeover: %v)", p.Payload, p.Duplicate(), inflight, inflight)
		}
	}
}

func TestPaho3TakeoverWithMessagesInFlight(t *testing.T) {
	s := startBroker(t, nil)
	first := newV3Held(t, s, "tk3", false)
	first.connect(t)
	waitTok(t, first.Subscribe("tk/#", 1, nil))
	pub := dialV3Patient(t, s, "tk3-pub", true)
	publish := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			waitTok(t, pub.Publish("tk/x", 1, false, fmt.Sprintf("m%d", i)))
		}
	}
	publish(0, 2*takeoverHeld)
	for i := 0; i < 2*takeoverHeld; i++ {
		m := first.waitFor(t, fmt.Sprintf("m%d", i), 1)[0]
		if i < takeoverHeld {
			m.Ack()
		}
	}
	first.conn().waitCount(t, "PUBACK", takeoverHeld, isPkt(false, pktPuback, 0))

	second := dialV3Patient(t, s, "tk3", false)
	publish(2*takeoverHeld, 3*takeoverHeld)
	got := second.waitPatient(t, 2*takeoverHeld)
	for i, m := range got {
		want := fmt.Sprintf("m%d", takeoverHeld+i)
		if i >= 2*takeoverHeld || string(m.Payload()) != want {
			t.Fatalf("new connection's message %d is %q, want %q", i, m.Payload(), want)
		}
		if inflight := i < takeoverHeld; m.Duplicate() != inflight {
			t.Fatalf("%q: DUP %v, want %v", m.Payload(), m.Duplicate(), inflight)
		}
	}
}

func payloads5(ps []*paho.Publish) []string {
	var s []string
	for _, p := range ps {
		s = append(s, string(p.Payload))
	}
	return s
}
