package conformance_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
	mqtt "github.com/eclipse/paho.mqtt.golang"
)

func wsBroker(t *testing.T) *broker {
	t.Helper()
	b := startBroker(t, func(c *brokerConfig) { c.ws = true })
	if b.wsAddr == "" {
		t.Fatal("the broker reports no WebSocket address although one was configured")
	}
	return b
}

func TestWS_ConnectPublishSubscribe_CrossTransport(t *testing.T) {
	t.Parallel()
	b := wsBroker(t)
	for _, level := range []byte{v311, v5} {
		t.Run(levelName(level), func(t *testing.T) {
			topic := "ws/" + levelName(level)
			ws, _ := wsClient(t, b.wsAddr, level, "ws-"+levelName(level))
			ws.send(connectClean(level, ws.name))
			if level == v5 {
				ws.expectConnack5(0, 0)
			} else {
				ws.expect(connackOK311)
			}
			ws.subscribe(1, topic+"/in", 1, 1)
			tcp := connectOK(t, b.addr, level, "tcp-"+levelName(level))
			tcp.subscribe(1, topic+"/out", 1, 1)
			// TCP → WebSocket.
			tcp.send(publishPkt(level, 1, false, false, topic+"/in", 1, nil, "to browser"))
			tcp.expectReply(0x40, 1, 0)
			p := ws.expectPublishBytes(func(pid uint16) []byte {
				return publishPkt(level, 1, false, false, topic+"/in", pid, nil, "to browser")
			})
			ws.send(ack(0x40, p.pid))
			// WebSocket → TCP.
			ws.send(publishPkt(level, 1, false, false, topic+"/out", 2, nil, "from browser"))
			ws.expectReply(0x40, 2, 0)
			q := tcp.expectPublishBytes(func(pid uint16) []byte {
				return publishPkt(level, 1, false, false, topic+"/out", pid, nil, "from browser")
			})
			tcp.send(ack(0x40, q.pid))
			ws.stillOpen()
		})
	}
}

func TestWS_PacketsSplitAcrossFramesAndCoalesced(t *testing.T) {
	t.Parallel()
	b := wsBroker(t)
	c, w := wsClient(t, b.wsAddr, v311, "ws-split")
	// [MQTT-6.0.0-2] packets are not aligned on frame boundaries: a CONNECT over three frames...
	connect := connectClean(v311, "ws-split")
	for _, part := range [][]byte{connect[:1], connect[1:5], connect[5:]} {
		if err := w.frame(true, 2, part); err != nil {
			t.Fatal(err)
		}
	}
	c.expect(connackOK311)
	// ...three packets in one frame...
	c.send(cat(pingreq, subscribePkt(v311, 1, nil, "ws/split", byte(0)), pingreq))
	c.expect(pingresp)
	c.expectSuback(1, 0)
	c.expect(pingresp)
	// ...and one packet over a fragmented message (continuation frames) with a ping in between (RFC 6455 §5.4).
	pub := publishPkt(v311, 0, false, false, "ws/split", 0, nil, strings.Repeat("f", 300))
	if err := w.frame(false, 2, pub[:100]); err != nil {
		t.Fatal(err)
	}
	w.frame(true, 9, []byte("ping"))
	w.frame(false, 0, pub[100:200])
	w.frame(true, 0, pub[200:])
	c.expect(pub)
}

func TestWS_TextFrameClosesConnection(t *testing.T) {
	t.Parallel()
	b := wsBroker(t)
	c, w := wsClient(t, b.wsAddr, v311, "ws-text")
	c.send(connectClean(v311, "ws-text"))
	c.expect(connackOK311)
	w.frame(true, 1, pingreq)
	// [MQTT-6.0.0-1] any other data frame than binary closes the connection (close code 1003 expected).
	pk, err := c.read(wait)
	if err == nil {
		t.Fatalf("got % x after a text frame, want the close", pk)
	}
	if !isClosed(err) {
		t.Fatalf("after a text frame: %s", describe(err))
	}
	if w.closeCode != 0 && w.closeCode != 1003 && w.closeCode != 1002 {
		t.Fatalf("close code %d, want 1003 (unsupported data) or 1002", w.closeCode)
	}
}

func TestWS_SubprotocolNegotiation(t *testing.T) {
	t.Parallel()
	b := wsBroker(t)
	for _, tc := range []struct{ offer, want string }{
		{"mqtt", "mqtt"},
		{"mqttv3.1, mqtt", "mqtt"},
		{"foo, mqtt", "mqtt"},
	} {
		t.Run(tc.offer, func(t *testing.T) {
			_, resp, err := dialWS(t, b.wsAddr, "/mqtt", tc.offer)
			if err != nil {
				t.Fatalf("offer %q: WebSocket handshake: %v", tc.offer, err)
			}
			if resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("offer %q: %s", tc.offer, resp.Status)
			}
			// [MQTT-6.0.0-4] the selected subprotocol is "mqtt".
			if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != tc.want {
				t.Fatalf("offer %q: selected %q, want %q", tc.offer, got, tc.want)
			}
		})
	}
	// A subprotocol the server cannot speak must never be selected (RFC 6455 §4.2.2).
	_, resp, err := dialWS(t, b.wsAddr, "/mqtt", "chat")
	if err == nil && resp.StatusCode == http.StatusSwitchingProtocols && resp.Header.Get("Sec-WebSocket-Protocol") == "chat" {
		t.Fatal("the server selected a subprotocol it does not speak")
	}
}

func TestWS_InteropPaho3OverWebSocket(t *testing.T) {
	t.Parallel()
	b := wsBroker(t)
	probeWS(t, b.wsAddr)
	msgs := make(chan mqtt.Message, 10)
	opts := mqtt.NewClientOptions().AddBroker("ws://" + b.wsAddr + "/mqtt").SetClientID("ws-paho3").
		SetAutoReconnect(false).SetConnectTimeout(wait).
		SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) { msgs <- m })
	c := mqtt.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(wait) || tok.Error() != nil {
		t.Fatalf("paho over ws://: %v", tok.Error())
	}
	defer c.Disconnect(50)
	if tok := c.Subscribe("ws/paho3", 2, nil); !tok.WaitTimeout(wait) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	tcp := newPaho5(t, b.addr, "ws-paho3-tcp", paho5Opts{clean: true})
	for qos := byte(0); qos <= 2; qos++ {
		tcp.pub(t, &paho.Publish{Topic: "ws/paho3", QoS: qos, Payload: []byte(fmt.Sprint("q", qos))})
		select {
		case m := <-msgs:
			if string(m.Payload()) != fmt.Sprint("q", qos) || m.Qos() != qos {
				t.Fatalf("got %q QoS %d", m.Payload(), m.Qos())
			}
		case <-time.After(wait):
			t.Fatalf("paho over ws:// got no QoS %d message", qos)
		}
	}
}

func TestWS_InteropAutopahoOverWebSocket(t *testing.T) {
	t.Parallel()
	b := wsBroker(t)
	probeWS(t, b.wsAddr)
	u, _ := url.Parse("ws://" + b.wsAddr + "/mqtt")
	msgs := make(chan *paho.Publish, 10)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cm, err := autopaho.NewConnection(ctx, autopaho.ClientConfig{
		ServerUrls: []*url.URL{u}, KeepAlive: 30, CleanStartOnInitialConnection: true, ConnectTimeout: wait,
		OnConnectError: func(error) {},
		ClientConfig: paho.ClientConfig{ClientID: "ws-autopaho",
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
				msgs <- pr.Packet
				return true, nil
			}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		dctx, dcancel := context.WithTimeout(context.Background(), time.Second)
		defer dcancel()
		cm.Disconnect(dctx)
	}()
	if err := cm.AwaitConnection(ctxT(t)); err != nil {
		t.Fatalf("autopaho over ws://: %v", err)
	}
	if _, err := cm.Subscribe(ctxT(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "ws/ap", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("b", 200_000) // several WebSocket frames' worth, byte-exact
	if _, err := cm.Publish(ctxT(t), &paho.Publish{Topic: "ws/ap", QoS: 1, Payload: []byte(big)}); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-msgs:
		if string(m.Payload) != big {
			t.Fatalf("got %d bytes back, want the 200 000 sent", len(m.Payload))
		}
	case <-time.After(wait):
		t.Fatal("autopaho over ws:// got nothing back")
	}
}

// probeWS fails a real-client test at once, with the handshake's own error, when the broker's WebSocket listener
// does not answer an upgrade: clearer than the client library's connect error.
func probeWS(t *testing.T, addr string) {
	t.Helper()
	w, resp, err := dialWS(t, addr, "/mqtt", "mqtt")
	if err != nil {
		t.Fatalf("WebSocket handshake at %s: %v", addr, err)
	}
	w.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("WebSocket handshake at %s answered %s", addr, resp.Status)
	}
}
