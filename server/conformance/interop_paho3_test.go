package conformance_test

import (
	"cmp"
	"fmt"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// paho3 is a paho.mqtt.golang (MQTT 3.1.1) client whose messages arrive on a channel and whose network
// connection the test can cut.
type paho3 struct {
	mqtt.Client
	msgs chan mqtt.Message
	lost chan error
	mu   sync.Mutex
	conn net.Conn
}

type paho3Opts struct {
	level byte // protocol level: 4 (default) or 3 for MQTT 3.1
	clean bool
	will  *[3]string // topic, payload, "retain" or ""
}

// newPaho3 connects a paho.mqtt.golang client with auto-reconnect off; t.Cleanup disconnects it.
func newPaho3(t testing.TB, addr, id string, o paho3Opts) *paho3 {
	t.Helper()
	c := &paho3{msgs: make(chan mqtt.Message, 1000), lost: make(chan error, 1)}
	opts := mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).SetCleanSession(o.clean).
		SetProtocolVersion(uint(cmp.Or(o.level, 4))).SetAutoReconnect(false).SetConnectRetry(false).SetKeepAlive(30 * time.Second).
		SetConnectTimeout(wait).SetOrderMatters(true).
		SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) { c.msgs <- m }).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			select {
			case c.lost <- err:
			default:
			}
		}).
		SetCustomOpenConnectionFn(func(u *url.URL, _ mqtt.ClientOptions) (net.Conn, error) {
			conn, err := net.DialTimeout("tcp", u.Host, wait)
			c.mu.Lock()
			c.conn = conn
			c.mu.Unlock()
			return conn, err
		})
	if o.will != nil {
		opts.SetWill(o.will[0], o.will[1], 1, o.will[2] == "retain")
	}
	c.Client = mqtt.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(wait) || tok.Error() != nil {
		t.Fatalf("paho3 %s: connect: %v", id, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(50) })
	return c
}

// cut closes the network connection without DISCONNECT.
func (c *paho3) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conn.Close()
}

func (c *paho3) sub(t testing.TB, filter string, qos byte) {
	t.Helper()
	tok := c.Subscribe(filter, qos, nil)
	if !tok.WaitTimeout(wait) || tok.Error() != nil {
		t.Fatalf("paho3: subscribe %s: %v", filter, tok.Error())
	}
	// paho keys the result by the filter without a $share/group/ prefix, so take the only entry.
	for _, got := range tok.(*mqtt.SubscribeToken).Result() {
		if got != qos {
			t.Fatalf("paho3: subscribe %s granted %d, want %d", filter, got, qos)
		}
	}
}

func (c *paho3) pub(t testing.TB, topic string, qos byte, retain bool, payload string) {
	t.Helper()
	tok := c.Publish(topic, qos, retain, payload)
	if !tok.WaitTimeout(wait) || tok.Error() != nil {
		t.Fatalf("paho3: publish %s: %v", topic, tok.Error())
	}
}

func (c *paho3) next(t testing.TB) mqtt.Message {
	t.Helper()
	select {
	case m := <-c.msgs:
		return m
	case <-time.After(wait):
		t.Fatal("paho3: no message within the deadline")
		return nil
	}
}

func TestInteropPaho3_AllQoSBothWays(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	sub := newPaho3(t, b.addr, "p3-sub", paho3Opts{clean: true})
	pub := newPaho3(t, b.addr, "p3-pub", paho3Opts{clean: true})
	for subQoS := byte(0); subQoS <= 2; subQoS++ {
		topic := fmt.Sprint("p3/q", subQoS)
		sub.sub(t, topic, subQoS)
		for pubQoS := byte(0); pubQoS <= 2; pubQoS++ {
			payload := fmt.Sprintf("sub %d pub %d", subQoS, pubQoS)
			pub.pub(t, topic, pubQoS, false, payload)
			m := sub.next(t)
			if string(m.Payload()) != payload || m.Qos() != min(subQoS, pubQoS) || m.Topic() != topic {
				t.Fatalf("got %s QoS %d %q, want QoS %d %q", m.Topic(), m.Qos(), m.Payload(), min(subQoS, pubQoS),
					payload)
			}
		}
	}
}

func TestInteropPaho3_MQTT31(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	sub := newPaho3(t, b.addr, "p31-sub", paho3Opts{level: 3, clean: true})
	sub.sub(t, "p31/t", 2)
	pub := newPaho3(t, b.addr, "p31-pub", paho3Opts{level: 3, clean: true})
	for qos := byte(0); qos <= 2; qos++ {
		pub.pub(t, "p31/t", qos, false, fmt.Sprint("3.1 qos ", qos))
		if m := sub.next(t); string(m.Payload()) != fmt.Sprint("3.1 qos ", qos) || m.Qos() != qos {
			t.Fatalf("got %q QoS %d", m.Payload(), m.Qos())
		}
	}
}

func TestInteropPaho3_RetainedAndWill(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	pub := newPaho3(t, b.addr, "p3-ret", paho3Opts{clean: true})
	pub.pub(t, "p3/retained", 1, true, "kept")
	late := newPaho3(t, b.addr, "p3-late", paho3Opts{clean: true})
	late.sub(t, "p3/retained", 1)
	if m := late.next(t); !m.Retained() || string(m.Payload()) != "kept" {
		t.Fatalf("retained: got retained=%v %q", m.Retained(), m.Payload())
	}

	watcher := newPaho3(t, b.addr, "p3-watch", paho3Opts{clean: true})
	watcher.sub(t, "p3/will", 1)
	dying := newPaho3(t, b.addr, "p3-dying", paho3Opts{clean: true, will: &[3]string{"p3/will", "gone", ""}})
	dying.cut()
	if m := watcher.next(t); string(m.Payload()) != "gone" {
		t.Fatalf("will: got %q", m.Payload())
	}
	polite := newPaho3(t, b.addr, "p3-polite", paho3Opts{clean: true, will: &[3]string{"p3/will", "never", ""}})
	polite.Disconnect(100)
	select {
	case m := <-watcher.msgs:
		t.Fatalf("will published after DISCONNECT: %q", m.Payload())
	case <-time.After(quiet):
	}
}

func TestInteropPaho3_PersistentSessionResumeWithQueuedMessages(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	s := newPaho3(t, b.addr, "p3-persist", paho3Opts{clean: false})
	s.sub(t, "p3/persist", 1)
	s.Disconnect(100)
	pub := newPaho3(t, b.addr, "p3-persist-pub", paho3Opts{clean: true})
	for i := 0; i < 5; i++ {
		pub.pub(t, "p3/persist", byte(1+i%2), false, fmt.Sprint(i))
	}
	s2 := newPaho3(t, b.addr, "p3-persist", paho3Opts{clean: false})
	for i := 0; i < 5; i++ {
		if m := s2.next(t); string(m.Payload()) != fmt.Sprint(i) || m.Qos() != 1 {
			t.Fatalf("queued message %d: got %q QoS %d", i, m.Payload(), m.Qos())
		}
	}
}

func TestInteropPaho3_Takeover(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	first := newPaho3(t, b.addr, "p3-take", paho3Opts{clean: true})
	second := newPaho3(t, b.addr, "p3-take", paho3Opts{clean: true})
	select {
	case <-first.lost:
	case <-time.After(wait):
		t.Fatal("first client still connected after a second CONNECT with its client id")
	}
	second.sub(t, "p3/take", 0)
	second.pub(t, "p3/take", 0, false, "alive")
	second.next(t)
}

func TestInteropPaho3_SharedSubscription(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	m1 := newPaho3(t, b.addr, "p3-sh1", paho3Opts{clean: true})
	m2 := newPaho3(t, b.addr, "p3-sh2", paho3Opts{clean: true})
	m1.sub(t, "$share/grp/p3/shared", 1)
	m2.sub(t, "$share/grp/p3/shared", 1)
	pub := newPaho3(t, b.addr, "p3-sh-pub", paho3Opts{clean: true})
	const n = 20
	for i := 0; i < n; i++ {
		pub.pub(t, "p3/shared", 1, false, fmt.Sprint(i))
	}
	seen := map[string]int{}
	deadline := time.After(wait)
	for len(seen) < n {
		select {
		case m := <-m1.msgs:
			seen[string(m.Payload())]++
		case m := <-m2.msgs:
			seen[string(m.Payload())]++
		case <-deadline:
			t.Fatalf("group received %d of %d messages", len(seen), n)
		}
	}
	time.Sleep(quiet)
	if extra := len(m1.msgs) + len(m2.msgs); extra > 0 {
		t.Fatalf("%d duplicate deliveries to the group", extra)
	}
	for k, v := range seen {
		if v != 1 {
			t.Fatalf("message %s delivered %d times to the group", k, v)
		}
	}
}
