package server

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"loopmq/internal/testenv"
)

// startHAProxy runs Debian's haproxy in the foreground with cfg (a config text in which the listen addresses are
// already free loopback ports), waits until every address in listen accepts, and kills it when the test ends.
func startHAProxy(t *testing.T, cfg string, listen ...string) {
	t.Helper()
	bin := testenv.HAProxy(t)
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-c", "-q", "-f", path).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s\n%s", err, out, cfg)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "-db", "-f", path)
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("haproxy: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("haproxy output:\n%s", stderr.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for _, addr := range listen {
		for {
			// A bare connect and close: HAProxy opens no server connection before the client sends (it waits for
			// data or its timeout), and a broker connection without bytes is not a refusal anyway.
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case err := <-exited:
				t.Fatalf("haproxy exited: %v\n%s", err, stderr.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("haproxy does not listen on %s: %v\n%s", addr, err, stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// TestProxyBehindHAProxy puts Debian's HAProxy in front of the broker, as in production: a frontend relaying with
// send-proxy-v2 (a paho.mqtt.golang client bound to 127.0.0.3) and one with send-proxy, v1 (mosquitto_sub bound to
// 127.0.0.4). The broker trusts only 127.0.0.1, HAProxy's address towards it, and sees each client's own address;
// a message published through one reaches the other.
func TestProxyBehindHAProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("runs haproxy")
	}
	subBin, _ := testenv.MosquittoClients(t)
	auth := newPeerAuth()
	s := startProxyBroker(t, "required", auth, nil)
	v2Addr, v1Addr := freeAddr(t), freeAddr(t)
	startHAProxy(t, fmt.Sprintf(`global
    maxconn 64
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend mqtt_v2
    bind %s
    default_backend loopmq_v2
backend loopmq_v2
    server loopmq %s send-proxy-v2
frontend mqtt_v1
    bind %s
    default_backend loopmq_v1
backend loopmq_v1
    server loopmq %s send-proxy
`, v2Addr, s.TCPAddr(), v1Addr, s.TCPAddr()), v2Addr, v1Addr)

	// paho through send-proxy-v2, from 127.0.0.3; the dial records the client's own address.
	local := make(chan string, 1)
	o := mqtt.NewClientOptions().AddBroker("tcp://" + v2Addr).SetClientID("behind-v2").SetCleanSession(true).
		SetAutoReconnect(false).SetProtocolVersion(4).SetKeepAlive(30 * time.Second).
		SetCustomOpenConnectionFn(func(uri *url.URL, _ mqtt.ClientOptions) (net.Conn, error) {
			d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 3)}}
			c, err := d.Dial("tcp", uri.Host)
			if err == nil {
				local <- c.LocalAddr().String()
			}
			return c, err
		})
	pub := mqtt.NewClient(o)
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect through haproxy: %v", tok.Error())
	}
	defer pub.Disconnect(100)
	auth.expect(t, "behind-v2", <-local)
	wait(t, pub.Publish("haproxy/retained", 1, true, "through send-proxy-v2"))

	// mosquitto_sub through send-proxy (v1), from 127.0.0.4: it gets the retained message.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	host, port, _ := net.SplitHostPort(v1Addr)
	sub := exec.CommandContext(ctx, subBin, "-h", host, "-p", port, "-A", "127.0.0.4", "-i", "behind-v1",
		"-t", "haproxy/retained", "-C", "1", "-W", "15")
	out, err := sub.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "through send-proxy-v2" {
		t.Fatalf("mosquitto_sub through haproxy: %v: %q", err, out)
	}
	got := auth.waitID(t, "behind-v1")
	if h, _, err := net.SplitHostPort(got); err != nil || h != "127.0.0.4" {
		t.Fatalf("mosquitto_sub seen from %s, want 127.0.0.4:port", got)
	}
	if r := s.stats().ProxyRefused; r != [len(r)]uint64{} {
		t.Fatalf("refusals %v", r)
	}
}
