package server

import (
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"loopmq/internal/testenv"
)

// v3client is a connected paho.mqtt.golang (MQTT 3.1.1) client.
type v3client struct {
	mqtt.Client
	mu  sync.Mutex
	got []mqtt.Message
}

func dialV3(t testing.TB, s *Server, id string, clean bool, will func(*mqtt.ClientOptions)) *v3client {
	t.Helper()
	vc := &v3client{}
	o := mqtt.NewClientOptions().AddBroker("tcp://" + s.TCPAddr()).SetClientID(id).SetCleanSession(clean).
		SetAutoReconnect(false).SetProtocolVersion(4).SetKeepAlive(30 * time.Second).
		SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) {
			vc.mu.Lock()
			vc.got = append(vc.got, m)
			vc.mu.Unlock()
		})
	if will != nil {
		will(o)
	}
	vc.Client = mqtt.NewClient(o)
	if tok := vc.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %q: %v", id, tok.Error())
	}
	t.Cleanup(func() { vc.Disconnect(0) })
	return vc
}

func (c *v3client) waitN(t testing.TB, n int) []mqtt.Message {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		if len(c.got) >= n {
			got := append([]mqtt.Message(nil), c.got...)
			c.mu.Unlock()
			return got
		}
		c.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t.Fatalf("got %d messages, want %d", len(c.got), n)
	return nil
}

func wait(t testing.TB, tok mqtt.Token) {
	t.Helper()
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("token: %v", tok.Error())
	}
}

func TestPaho3QoSBothWays(t *testing.T) {
	s := startBroker(t, nil)
	sub := dialV3(t, s, "sub3", true, nil)
	pub := dialV3(t, s, "pub3", true, nil)
	wait(t, sub.Subscribe("a/#", 2, nil))
	for q := byte(0); q <= 2; q++ {
		wait(t, pub.Publish("a/b", q, false, fmt.Sprintf("qos%d", q)))
	}
	got := sub.waitN(t, 3)
	for i, m := range got {
		if string(m.Payload()) != fmt.Sprintf("qos%d", i) || m.Qos() != byte(i) {
			t.Fatalf("message %d: %q qos %d", i, m.Payload(), m.Qos())
		}
	}
}

func TestPaho3PersistentSessionAndRetained(t *testing.T) {
	s := startBroker(t, nil)
	c := dialV3(t, s, "keep", false, nil)
	wait(t, c.Subscribe("k/+", 1, nil))
	c.Disconnect(0)
	pub := dialV3(t, s, "pub", true, nil)
	wait(t, pub.Publish("k/1", 1, false, "queued"))
	wait(t, pub.Publish("k/2", 1, true, "retained"))
	c2 := dialV3(t, s, "keep", false, nil)
	got := c2.waitN(t, 2)
	if string(got[0].Payload()) != "queued" || string(got[1].Payload()) != "retained" {
		t.Fatalf("resumed session got %q, %q", got[0].Payload(), got[1].Payload())
	}
	fresh := dialV3(t, s, "fresh", true, nil)
	wait(t, fresh.Subscribe("k/#", 0, nil))
	got = fresh.waitN(t, 1)
	if !got[0].Retained() || string(got[0].Payload()) != "retained" {
		t.Fatalf("retained message %q retained=%v", got[0].Payload(), got[0].Retained())
	}
}

func TestPaho3WillAndTakeover(t *testing.T) {
	s := startBroker(t, nil)
	watcher := dialV3(t, s, "watch", true, nil)
	wait(t, watcher.Subscribe("status/#", 1, nil))
	dialV3(t, s, "dev", true, func(o *mqtt.ClientOptions) { o.SetWill("status/dev", "offline", 1, false) })
	// A second connection with the same client id takes over: the first is disconnected, its will published once.
	dialV3(t, s, "dev", true, nil)
	got := watcher.waitN(t, 1)
	if got[0].Topic() != "status/dev" || string(got[0].Payload()) != "offline" {
		t.Fatalf("will %q on %q", got[0].Payload(), got[0].Topic())
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(watcher.waitN(t, 1)); n != 1 {
		t.Fatalf("will published %d times", n)
	}
}

func TestMosquittoClients(t *testing.T) {
	subBin, pubBin := testenv.MosquittoClients(t)
	s := startBroker(t, nil)
	host, port, _ := strings.Cut(s.TCPAddr(), ":")
	for _, v := range []string{"mqttv311", "mqttv5", "mqttv31"} {
		t.Run(v, func(t *testing.T) {
			subs := s.subscriptions.Load()
			sub := exec.Command(subBin, "-h", host, "-p", port, "-V", v, "-t", "m/"+v, "-q", "1", "-C", "2", "-W", "10", "-v")
			var out strings.Builder
			sub.Stdout = &out
			sub.Stderr = &out
			if err := sub.Start(); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "mosquitto_sub's subscription", func() bool { return s.subscriptions.Load() > subs })
			for i, q := range []string{"0", "2"} {
				pub := exec.Command(pubBin, "-h", host, "-p", port, "-V", v, "-t", "m/"+v, "-q", q, "-m", fmt.Sprintf("hello%d", i))
				if b, err := pub.CombinedOutput(); err != nil {
					t.Fatalf("mosquitto_pub: %v %s", err, b)
				}
			}
			if err := sub.Wait(); err != nil {
				t.Fatalf("mosquitto_sub: %v: %s", err, out.String())
			}
			want := fmt.Sprintf("m/%s hello0\nm/%s hello1\n", v, v)
			if out.String() != want {
				t.Fatalf("mosquitto_sub printed %q, want %q", out.String(), want)
			}
		})
	}
}

// TestMosquittoRetainedAndWill: a retained message set by mosquitto_pub reaches a later mosquitto_sub, and the
// will of a killed mosquitto_sub is published.
func TestMosquittoRetainedAndWill(t *testing.T) {
	subBin, pubBin := testenv.MosquittoClients(t)
	s := startBroker(t, nil)
	host, port, _ := strings.Cut(s.TCPAddr(), ":")
	if b, err := exec.Command(pubBin, "-h", host, "-p", port, "-t", "keep/me", "-r", "-q", "1", "-m", "stored").CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub: %v %s", err, b)
	}
	out, err := exec.Command(subBin, "-h", host, "-p", port, "-t", "keep/#", "-C", "1", "-W", "10", "-v").CombinedOutput()
	if err != nil || string(out) != "keep/me stored\n" {
		t.Fatalf("retained via mosquitto_sub: %q %v", out, err)
	}

	watcher := dialV3(t, s, "watcher", true, nil)
	wait(t, watcher.Subscribe("wills/#", 1, nil))
	subs := s.subscriptions.Load()
	dying := exec.Command(subBin, "-h", host, "-p", port, "-V", "mqttv311", "-t", "x", "-i", "dying",
		"--will-topic", "wills/dying", "--will-payload", "gone", "--will-qos", "1")
	if err := dying.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the dying mosquitto_sub's subscription", func() bool { return s.subscriptions.Load() > subs })
	dying.Process.Kill() // no DISCONNECT: the broker publishes the will
	dying.Wait()
	got := watcher.waitN(t, 1)
	if got[0].Topic() != "wills/dying" || string(got[0].Payload()) != "gone" {
		t.Fatalf("will %q on %q", got[0].Payload(), got[0].Topic())
	}
}
