package conformance_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"loopmq/internal/testenv"
)

// mosquittoBin finds a mosquitto client binary (Debian's mosquitto-clients). A missing one fails the test with
// what to install: .ci/run installs it.
func mosquittoBin(t testing.TB, name string) string {
	t.Helper()
	return testenv.Command(t, name, "mosquitto-clients")
}

func hostPort(t testing.TB, addr string) (string, string) {
	t.Helper()
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return h, p
}

// mosqPub runs mosquitto_pub to completion with the arguments after the host and port.
func mosqPub(t testing.TB, addr string, args ...string) {
	t.Helper()
	h, p := hostPort(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, mosquittoBin(t, "mosquitto_pub"),
		append([]string{"-h", h, "-p", p}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("mosquitto_pub %v: %v\n%s", args, err, out)
	}
}

// mosqSub is a running mosquitto_sub whose output lines arrive on a channel.
type mosqSub struct {
	cmd   *exec.Cmd
	lines chan string
	done  chan struct{}
	mu    sync.Mutex
	err   error
}

// startMosqSub starts mosquitto_sub -v with the arguments after the host and port, also subscribed to a probe topic,
// and returns once the subscription is active (a probe published with paho has come through).
func startMosqSub(t testing.TB, addr string, args ...string) *mosqSub {
	t.Helper()
	h, p := hostPort(t, addr)
	probe := fmt.Sprintf("probe/%d", time.Now().UnixNano())
	full := append([]string{"-h", h, "-p", p, "-v", "-t", probe}, args...)
	cmd := exec.Command(mosquittoBin(t, "mosquitto_sub"), full...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &mosqSub{cmd: cmd, lines: make(chan string, 1000), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if !strings.HasPrefix(sc.Text(), probe) {
				s.lines <- sc.Text()
			} else {
				s.lines <- "\x00probe"
			}
		}
		err := cmd.Wait()
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
		close(s.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-s.done
	})
	prober := newPaho5(t, addr, "prober-"+probe[6:], paho5Opts{clean: true})
	deadline := time.Now().Add(5 * time.Second)
	for {
		prober.pub(t, &paho.Publish{Topic: probe, Payload: []byte("p")})
		select {
		case l := <-s.lines:
			if l == "\x00probe" {
				prober.Disconnect(&paho.Disconnect{})
				return s
			}
			s.lines <- l // a real message came first; keep it
		case <-s.done:
			t.Fatalf("mosquitto_sub %v exited: %v", args, s.err)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto_sub %v did not become ready", args)
		}
	}
}

// expect reads lines until want (ignoring probes) or fails after the deadline.
func (s *mosqSub) expect(t testing.TB, want string) {
	t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case l := <-s.lines:
			if l == "\x00probe" {
				continue
			}
			if l != want {
				t.Fatalf("mosquitto_sub printed %q, want %q", l, want)
			}
			return
		case <-deadline:
			t.Fatalf("mosquitto_sub did not print %q", want)
		}
	}
}

func TestInteropMosquitto_PubSubAllQoS(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	for _, v := range []string{"mqttv31", "mqttv311", "mqttv5"} {
		t.Run(v, func(t *testing.T) {
			topic := "mq/" + v
			sub := startMosqSub(t, b.addr, "-V", v, "-q", "2", "-t", topic)
			for qos := 0; qos <= 2; qos++ {
				msg := fmt.Sprintf("qos %d via %s", qos, v)
				mosqPub(t, b.addr, "-V", v, "-q", fmt.Sprint(qos), "-t", topic, "-m", msg)
				sub.expect(t, topic+" "+msg)
			}
		})
	}
}

func TestInteropMosquitto_RetainedSetAndClear(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	h, p := hostPort(t, b.addr)
	mosqPub(t, b.addr, "-q", "1", "-r", "-t", "mq/retained", "-m", "kept")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, mosquittoBin(t, "mosquitto_sub"), "-h", h, "-p", p, "-t", "mq/retained",
		"-C", "1", "-W", "3", "-v", "-F", "%t %p %r").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "mq/retained kept 1" {
		t.Fatalf("retained: mosquitto_sub printed %q (%v), want \"mq/retained kept 1\"", out, err)
	}
	mosqPub(t, b.addr, "-q", "1", "-r", "-n", "-t", "mq/retained")
	out, err = exec.CommandContext(ctx, mosquittoBin(t, "mosquitto_sub"), "-h", h, "-p", p, "-t", "mq/retained",
		"-C", "1", "-W", "1", "-v").CombinedOutput()
	if err == nil || strings.Contains(string(out), "kept") {
		t.Fatalf("cleared retained message still delivered: %q", out)
	}
}

func TestInteropMosquitto_WillOnKill(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	watcher := startMosqSub(t, b.addr, "-t", "mq/will")
	dying := startMosqSub(t, b.addr, "-t", "mq/whatever", "--will-topic", "mq/will", "--will-payload", "gone",
		"--will-qos", "1")
	dying.cmd.Process.Signal(syscall.SIGKILL)
	watcher.expect(t, "mq/will gone")
}

func TestInteropMosquitto_PersistentSessionResume(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	for _, v := range []string{"mqttv311", "mqttv5"} {
		t.Run(v, func(t *testing.T) {
			id := "mq-persist-" + v
			topic := "mq/persist/" + v
			args := []string{"-V", v, "-i", id, "-c", "-q", "1", "-t", topic}
			if v == "mqttv5" {
				args = append(args, "-x", "60")
			}
			first := startMosqSub(t, b.addr, args...)
			first.cmd.Process.Signal(syscall.SIGKILL)
			<-first.done
			for i := 0; i < 3; i++ {
				mosqPub(t, b.addr, "-V", v, "-q", "1", "-t", topic, "-m", fmt.Sprint("queued ", i))
			}
			h, p := hostPort(t, b.addr)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, mosquittoBin(t, "mosquitto_sub"),
				append([]string{"-h", h, "-p", p, "-C", "3", "-W", "3"}, args...)...).CombinedOutput()
			if want := "queued 0\nqueued 1\nqueued 2\n"; err != nil || string(out) != want {
				t.Fatalf("resumed mosquitto_sub printed %q (%v), want %q", out, err, want)
			}
		})
	}
}

func TestInteropMosquitto_TakeoverEndsFirstClient(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	// MQTT 5.0: the first mosquitto_sub gets DISCONNECT 0x8E (Session taken over) and exits instead of reconnecting.
	// (A v3.1.1 mosquitto_sub would reconnect and take the session back, so v3.1.1 takeover is tested with paho.)
	first := startMosqSub(t, b.addr, "-V", "mqttv5", "-i", "mq-take", "-t", "mq/take")
	second := startMosqSub(t, b.addr, "-V", "mqttv5", "-i", "mq-take", "-t", "mq/take")
	select {
	case <-first.done:
	case <-time.After(wait):
		if reference {
			t.Skip("mosquitto 2.0.11 closes without DISCONNECT 0x8E, so mosquitto_sub reconnects")
		}
		t.Fatal("the first mosquitto_sub is still running after a second client took its session over")
	}
	mosqPub(t, b.addr, "-t", "mq/take", "-m", "to second")
	second.expect(t, "mq/take to second")
}

func TestInteropMosquitto_SharedSubscription(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	a := startMosqSub(t, b.addr, "-V", "mqttv5", "-t", "$share/g/mq/shared")
	c := startMosqSub(t, b.addr, "-V", "mqttv311", "-t", "$share/g/mq/shared")
	pub := newPaho5(t, b.addr, "mq-shared-pub", paho5Opts{clean: true})
	const n = 10
	for i := 0; i < n; i++ {
		pub.pub(t, &paho.Publish{Topic: "mq/shared", QoS: 1, Payload: []byte(fmt.Sprint(i))})
	}
	seen := map[string]int{}
	deadline := time.After(wait)
	for len(seen) < n {
		select {
		case l := <-a.lines:
			if l != "\x00probe" {
				seen[l]++
			}
		case l := <-c.lines:
			if l != "\x00probe" {
				seen[l]++
			}
		case <-deadline:
			t.Fatalf("group received %d of %d messages: %v", len(seen), n, seen)
		}
	}
	time.Sleep(quiet)
	for k, v := range seen {
		if v != 1 {
			t.Fatalf("%q delivered %d times to the group", k, v)
		}
	}
}

func TestInteropMosquitto_MessageExpiryAndUserProperties(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	watcher := newPaho5(t, b.addr, "mq-props-watch", paho5Opts{clean: true})
	watcher.sub(t, "mq/props", 1)
	mosqPub(t, b.addr, "-V", "mqttv5", "-q", "1", "-t", "mq/props", "-m", "p",
		"-D", "publish", "message-expiry-interval", "30",
		"-D", "publish", "user-property", "k", "v",
		"-D", "publish", "content-type", "text/plain")
	m := watcher.next(t)
	pp := m.Properties
	if pp == nil || pp.MessageExpiry == nil || *pp.MessageExpiry > 30 || pp.ContentType != "text/plain" ||
		len(pp.User) != 1 || pp.User[0].Key != "k" || pp.User[0].Value != "v" {
		t.Fatalf("properties from mosquitto_pub not forwarded: %+v", pp)
	}
}

func TestInteropMosquitto_CrossClientExchange(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	// paho (3.1.1) → mosquitto_sub (5.0).
	sub := startMosqSub(t, b.addr, "-V", "mqttv5", "-q", "1", "-t", "x/paho-to-mosq")
	p3 := newPaho3(t, b.addr, "x-paho3", paho3Opts{clean: true})
	p3.pub(t, "x/paho-to-mosq", 1, false, "from paho")
	sub.expect(t, "x/paho-to-mosq from paho")
	// mosquitto_pub (3.1.1) → paho.golang (5.0) and paho (3.1.1).
	p5 := newPaho5(t, b.addr, "x-paho5", paho5Opts{clean: true})
	p5.sub(t, "x/mosq-to-paho", 2)
	p3.sub(t, "x/mosq-to-paho", 2)
	mosqPub(t, b.addr, "-V", "mqttv311", "-q", "2", "-t", "x/mosq-to-paho", "-m", "from mosquitto_pub")
	if m := p5.next(t); string(m.Payload) != "from mosquitto_pub" || m.QoS != 2 {
		t.Fatalf("paho.golang got %q QoS %d", m.Payload, m.QoS)
	}
	if m := p3.next(t); string(m.Payload()) != "from mosquitto_pub" || m.Qos() != 2 {
		t.Fatalf("paho got %q QoS %d", m.Payload(), m.Qos())
	}
}

func TestInteropMosquitto_TopicAlias(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	watcher := newPaho5(t, b.addr, "mq-alias-watch", paho5Opts{clean: true})
	watcher.sub(t, "mq/alias", 0)
	h, p := hostPort(t, b.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Line mode publishes each stdin line on one connection; with a topic alias mosquitto_pub may send the
	// later ones with an empty topic name and the alias alone.
	cmd := exec.CommandContext(ctx, mosquittoBin(t, "mosquitto_pub"), "-h", h, "-p", p, "-V", "mqttv5",
		"-t", "mq/alias", "-D", "publish", "topic-alias", "1", "-l")
	cmd.Stdin = strings.NewReader("one\ntwo\nthree\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub: %v\n%s", err, out)
	}
	for _, want := range []string{"one", "two", "three"} {
		if m := watcher.next(t); m.Topic != "mq/alias" || string(m.Payload) != want {
			t.Fatalf("got %q %q, want mq/alias %q", m.Topic, m.Payload, want)
		}
	}
}
