package server

import (
	"fmt"
	"testing"

	"github.com/eclipse/paho.golang/paho"
	"github.com/eclipse/paho.golang/paho/session/state"
	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// Real clients that hold back their acknowledgements and then lose the connection: on resume the broker must
// re-send every unacknowledged QoS 1/2 PUBLISH with DUP set, re-send PUBREL for a QoS 2 message whose PUBCOMP it
// never got [MQTT-4.4.0-1], and the application must get each QoS 2 message exactly once.

// TestPaho5ResumeRedeliversHeldAcks: paho.golang with manual acknowledgements and its session state carried over
// to the next connection, as an application resuming its session does.
func TestPaho5ResumeRedeliversHeldAcks(t *testing.T) {
	s := startBroker(t, nil)
	st := state.NewInMemory()
	t.Cleanup(func() { st.Close() })
	cp := &paho.Connect{ClientID: "held5", CleanStart: true, KeepAlive: 60,
		Properties: &paho.ConnectProperties{SessionExpiryInterval: u32(300)}}
	sub := dialV5Held(t, s, st, cp)
	if _, err := sub.Subscribe(ctxPatient(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "held/#", QoS: 2}}}); err != nil {
		t.Fatal(err)
	}
	pub := dialV5Patient(t, s, &paho.Connect{ClientID: "held5-pub", CleanStart: true})
	publish := func(payload string, qos byte) {
		t.Helper()
		if _, err := pub.Publish(ctxPatient(t), &paho.Publish{Topic: "held/x", QoS: qos, Payload: []byte(payload)}); err != nil {
			t.Fatalf("publish %q: %v", payload, err)
		}
	}

	// A QoS 2 message acknowledged with PUBREC, whose PUBCOMP (the answer to the broker's PUBREL) is lost.
	sub.fc.holdOut(true, pktPubcomp)
	publish("comp", 2)
	comp := sub.waitFor(t, "comp", 1)[0]
	sub.ack(t, comp)
	sub.fc.waitCount(t, "held PUBCOMP", 1, isPkt(false, pktPubcomp, comp.PacketID))
	// A QoS 1 and a QoS 2 message the application has not finished with: no PUBACK, no PUBREC.
	publish("one", 1)
	publish("two", 2)
	first := append(sub.waitFor(t, "one", 1), sub.waitFor(t, "two", 1)...)
	for _, p := range first {
		if p.Duplicate() {
			t.Fatalf("first delivery of %q has DUP set", p.Payload)
		}
	}

	sub.lose(t)
	cp.CleanStart = false
	sub2 := dialV5Held(t, s, st, cp)
	if !sub2.connack.SessionPresent {
		t.Fatal("session not present on resume")
	}
	// PUBREL again for the message whose PUBCOMP was lost, and the two unacknowledged messages again with DUP.
	sub2.fc.waitCount(t, "re-sent PUBREL", 1, isPkt(true, pktPubrel, comp.PacketID))
	again := map[string]*paho.Publish{}
	for _, want := range []struct {
		payload string
		qos     byte
	}{{"one", 1}, {"two", 2}} {
		p := sub2.waitFor(t, want.payload, 1)[0]
		if !p.Duplicate() || p.QoS != want.qos {
			t.Fatalf("re-sent %q: DUP %v QoS %d, want DUP and QoS %d", p.Payload, p.Duplicate(), p.QoS, want.qos)
		}
		again[want.payload] = p
	}
	sub2.ack(t, again["one"])
	sub2.ack(t, again["two"])
	sub2.fc.waitCount(t, "PUBCOMP for the re-sent QoS 2 message", 1, isPkt(false, pktPubcomp, again["two"].PacketID))

	// Everything the broker sends for the session before "end" is there when "end" arrives.
	publish("end", 1)
	sub2.ack(t, sub2.waitFor(t, "end", 1)[0])
	if n := sub2.received("comp"); n != 0 {
		t.Fatalf("QoS 2 message %q delivered again after its PUBREC (%d times)", "comp", n)
	}
	for _, p := range []string{"one", "two", "end"} {
		if n := sub2.received(p); n != 1 {
			t.Fatalf("%q received %d times on the resumed connection, want 1", p, n)
		}
	}
	if n := sub2.fc.count(isPkt(true, pktPublish, 0)); n != 3 {
		t.Fatalf("resumed connection got %d PUBLISH packets, want 3 (one, two, end)", n)
	}
}

// TestPaho3ResumeRedeliversHeldAcks: the same with paho.mqtt.golang (3.1.1), automatic acks off, reconnecting
// the same client with a persistent session.
func TestPaho3ResumeRedeliversHeldAcks(t *testing.T) {
	s := startBroker(t, nil)
	sub := newV3Held(t, s, "held3", false)
	sub.connect(t)
	waitTok(t, sub.Subscribe("held/#", 2, nil))
	pub := dialV3Patient(t, s, "held3-pub", true)

	fc := sub.conn()
	fc.holdOut(true, pktPubcomp)
	waitTok(t, pub.Publish("held/x", 2, false, "comp"))
	comp := sub.waitFor(t, "comp", 1)[0]
	comp.Ack()
	fc.waitCount(t, "held PUBCOMP", 1, isPkt(false, pktPubcomp, comp.MessageID()))
	waitTok(t, pub.Publish("held/x", 1, false, "one"))
	waitTok(t, pub.Publish("held/x", 2, false, "two"))
	for _, m := range append(sub.waitFor(t, "one", 1), sub.waitFor(t, "two", 1)...) {
		if m.Duplicate() {
			t.Fatalf("first delivery of %q has DUP set", m.Payload())
		}
	}

	sub.lose(t)
	if !sub.connect(t) {
		t.Fatal("session not present on resume")
	}
	fc2 := sub.conn()
	fc2.waitCount(t, "re-sent PUBREL", 1, isPkt(true, pktPubrel, comp.MessageID()))
	again := map[string]mqtt.Message{}
	for _, want := range []struct {
		payload string
		qos     byte
	}{{"one", 1}, {"two", 2}} {
		got := sub.waitFor(t, want.payload, 2)
		m := got[1]
		if !m.Duplicate() || m.Qos() != want.qos {
			t.Fatalf("re-sent %q: DUP %v QoS %d, want DUP and QoS %d", m.Payload(), m.Duplicate(), m.Qos(), want.qos)
		}
		again[want.payload] = m
	}
	again["one"].Ack()
	again["two"].Ack()
	fc2.waitCount(t, "PUBCOMP for the re-sent QoS 2 message", 1, isPkt(false, pktPubcomp, again["two"].MessageID()))

	waitTok(t, pub.Publish("held/x", 1, false, "end"))
	sub.waitFor(t, "end", 1)[0].Ack()
	if n := sub.received("comp"); n != 1 {
		t.Fatalf("QoS 2 message %q received %d times, want exactly once", "comp", n)
	}
	for _, p := range []string{"one", "two"} {
		if n := sub.received(p); n != 2 {
			t.Fatalf("%q received %d times, want 2 (first delivery unacknowledged, then the DUP re-send)", p, n)
		}
	}
	if n := fc2.count(isPkt(true, pktPublish, 0)); n != 3 {
		t.Fatalf("resumed connection got %d PUBLISH packets, want 3 (one, two, end)", n)
	}
}

// A publisher whose connection is lost before it sees PUBREC re-sends its QoS 2 PUBLISH with DUP on resume; the
// broker must answer PUBREC again without routing the message a second time [MQTT-4.3.3-?, 4.3.3 method B].

func TestPaho5QoS2ResentPublishDeliveredOnce(t *testing.T) {
	s := startBroker(t, nil)
	sub := dialV5Patient(t, s, &paho.Connect{ClientID: "once5-sub", CleanStart: true})
	if _, err := sub.Subscribe(ctxPatient(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "once/#", QoS: 2}}}); err != nil {
		t.Fatal(err)
	}
	st := state.NewInMemory()
	t.Cleanup(func() { st.Close() })
	cp := &paho.Connect{ClientID: "once5-pub", CleanStart: true, KeepAlive: 60,
		Properties: &paho.ConnectProperties{SessionExpiryInterval: u32(300)}}
	pub := dialV5Held(t, s, st, cp)
	pub.fc.holdIn(true, pktPubrec)
	go pub.Publish(ctxPatient(t), &paho.Publish{Topic: "once/x", QoS: 2, Payload: []byte("once")}) // never completes on this connection
	pub.fc.waitCount(t, "held PUBREC", 1, isPkt(true, pktPubrec, 0))
	sub.waitPatient(t, 1)

	pub.lose(t)
	cp.CleanStart = false
	pub2 := dialV5Held(t, s, st, cp) // paho re-sends the unacknowledged PUBLISH, DUP set
	pub2.fc.waitCount(t, "re-sent PUBLISH with DUP", 1, func(e pktEvent) bool { return !e.in && e.typ == pktPublish && e.dup })
	pub2.fc.waitCount(t, "PUBCOMP", 1, isPkt(true, pktPubcomp, 0))

	if _, err := pub2.Publish(ctxPatient(t), &paho.Publish{Topic: "once/x", QoS: 1, Payload: []byte("end")}); err != nil {
		t.Fatal(err)
	}
	got := sub.waitPatient(t, 2)
	if string(got[0].Payload) != "once" || string(got[len(got)-1].Payload) != "end" || len(got) != 2 {
		var ps []string
		for _, p := range got {
			ps = append(ps, string(p.Payload))
		}
		t.Fatalf("subscriber got %q, want the QoS 2 message exactly once, then end", ps)
	}
}

func TestPaho3QoS2ResentPublishDeliveredOnce(t *testing.T) {
	s := startBroker(t, nil)
	sub := dialV3Patient(t, s, "once3-sub", true)
	waitTok(t, sub.Subscribe("once/#", 2, nil))
	pub := newV3Held(t, s, "once3-pub", false)
	pub.connect(t)
	fc := pub.conn()
	fc.holdIn(true, pktPubrec)
	pub.Publish("once/x", 2, false, "once") // completes only on the next connection
	fc.waitCount(t, "held PUBREC", 1, isPkt(true, pktPubrec, 0))
	sub.waitPatient(t, 1)

	pub.lose(t)
	if !pub.connect(t) { // paho.mqtt.golang re-sends the PUBLISH from its store, DUP set
		t.Fatal("session not present on resume")
	}
	fc2 := pub.conn()
	fc2.waitCount(t, "re-sent PUBLISH with DUP", 1, func(e pktEvent) bool { return !e.in && e.typ == pktPublish && e.dup })
	fc2.waitCount(t, "PUBCOMP", 1, isPkt(true, pktPubcomp, 0))

	waitTok(t, pub.Publish("once/x", 1, false, "end"))
	got := sub.waitPatient(t, 2)
	var ps []string
	for _, m := range got {
		ps = append(ps, string(m.Payload()))
	}
	if fmt.Sprint(ps) != "[once end]" {
		t.Fatalf("subscriber got %q, want the QoS 2 message exactly once, then end", ps)
	}
}
