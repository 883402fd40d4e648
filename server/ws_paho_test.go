package server

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// wsPayload is size deterministic bytes that differ per seed, so a mixed-up message is caught.
func wsPayload(seed, size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(seed*31 + i*7 + i>>8)
	}
	return b
}

// TestWSPaho5 exchanges QoS 0, 1 and 2 messages of several sizes between paho.golang (MQTT 5) over ws:// (its
// autopaho WebSocket dialer) and a paho.golang client on TCP, in both directions.
func TestWSPaho5(t *testing.T) {
	s := startWSBroker(t, func(o *Options) { o.MaxPacketSize = 1 << 20 })
	tcp := dialV5(t, s, &paho.Connect{ClientID: "tcp5", CleanStart: true, KeepAlive: 30})
	if _, err := tcp.Subscribe(ctx5s(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "ws5/#", QoS: 2}}}); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var got []*paho.Publish
	arrived := make(chan struct{}, 100)
	u, _ := url.Parse("ws://" + s.WSAddr() + "/mqtt")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cm, err := autopaho.NewConnection(ctx, autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{u},
		KeepAlive:                     30,
		CleanStartOnInitialConnection: true,
		ConnectTimeout:                5 * time.Second,
		ConnectRetryDelay:             time.Second,
		ClientConfig: paho.ClientConfig{
			ClientID: "ws5",
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
				mu.Lock()
				got = append(got, pr.Packet)
				mu.Unlock()
				arrived <- struct{}{}
				return true, nil
			}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer dcancel()
		cm.Disconnect(dctx)
	}()
	if err := cm.AwaitConnection(ctx); err != nil {
		t.Fatalf("ws connect: %v", err)
	}
	if _, err := cm.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "tcp5/#", QoS: 2}}}); err != nil {
		t.Fatal(err)
	}

	sizes := []int{0, 1, 125, 126, 65535, 65536, 300000}
	n := 0
	for qos := byte(0); qos <= 2; qos++ {
		for _, size := range sizes {
			p := wsPayload(n, size)
			topic := fmt.Sprintf("/q%d/%d", qos, size)
			if _, err := cm.Publish(ctx, &paho.Publish{Topic: "ws5" + topic, QoS: qos, Payload: p}); err != nil {
				t.Fatalf("ws publish: %v", err)
			}
			if _, err := tcp.Publish(ctx, &paho.Publish{Topic: "tcp5" + topic, QoS: qos, Payload: p}); err != nil {
				t.Fatalf("tcp publish: %v", err)
			}
			n++
			m := tcp.waitN(t, n)[n-1]
			if m.Topic != "ws5"+topic || m.QoS != qos || !bytes.Equal(m.Payload, p) {
				t.Fatalf("tcp got %s qos %d (%d bytes), want %s qos %d (%d bytes)", m.Topic, m.QoS, len(m.Payload),
					"ws5"+topic, qos, size)
			}
			select {
			case <-arrived:
			case <-time.After(5 * time.Second):
				t.Fatalf("ws client did not get %s", topic)
			}
			mu.Lock()
			w := got[len(got)-1]
			mu.Unlock()
			if w.Topic != "tcp5"+topic || w.QoS != qos || !bytes.Equal(w.Payload, p) {
				t.Fatalf("ws got %s qos %d (%d bytes), want %s", w.Topic, w.QoS, len(w.Payload), "tcp5"+topic)
			}
		}
	}
}

// TestWSPaho3 does the same with paho.mqtt.golang (MQTT 3.1.1) over ws:// and a 3.1.1 client on TCP.
func TestWSPaho3(t *testing.T) {
	s := startWSBroker(t, func(o *Options) { o.MaxPacketSize = 1 << 20 })
	tcp := dialV3(t, s, "tcp3", true, nil)
	wait(t, tcp.Subscribe("ws3/#", 2, nil))

	ws := &v3client{}
	o := mqtt.NewClientOptions().AddBroker("ws://" + s.WSAddr() + "/mqtt").SetClientID("ws3").SetCleanSession(true).
		SetAutoReconnect(false).SetProtocolVersion(4).SetKeepAlive(30 * time.Second).
		SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) {
			ws.mu.Lock()
			ws.got = append(ws.got, m)
			ws.mu.Unlock()
		})
	ws.Client = mqtt.NewClient(o)
	if tok := ws.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("ws connect: %v", tok.Error())
	}
	defer ws.Disconnect(100)
	wait(t, ws.Subscribe("tcp3/#", 2, nil))

	n := 0
	for qos := byte(0); qos <= 2; qos++ {
		for _, size := range []int{0, 1, 126, 70000, 500000} {
			p := wsPayload(n, size)
			topic := fmt.Sprintf("/q%d/%d", qos, size)
			wait(t, ws.Publish("ws3"+topic, qos, false, p))
			wait(t, tcp.Publish("tcp3"+topic, qos, false, p))
			n++
			m := tcp.waitN(t, n)[n-1]
			if m.Topic() != "ws3"+topic || m.Qos() != qos || !bytes.Equal(m.Payload(), p) {
				t.Fatalf("tcp got %s qos %d (%d bytes), want %s", m.Topic(), m.Qos(), len(m.Payload()), "ws3"+topic)
			}
			w := ws.waitN(t, n)[n-1]
			if w.Topic() != "tcp3"+topic || w.Qos() != qos || !bytes.Equal(w.Payload(), p) {
				t.Fatalf("ws got %s qos %d (%d bytes), want %s", w.Topic(), w.Qos(), len(w.Payload()), "tcp3"+topic)
			}
		}
	}
}
