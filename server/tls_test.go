package server

import (
	"crypto/tls"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"loopmq/internal/testenv"
	"loopmq/server/tlslayer/tlstest"
)

// startTLSBroker starts a broker with its TLS and WSS listeners on free ports of their own addresses (port 0 on the
// TCP listener's address would name that listener), with pk's server pair.
func startTLSBroker(t *testing.T, pk *tlstest.PKI, mutate func(*Options)) *Server {
	t.Helper()
	return startBroker(t, func(o *Options) {
		o.TLSAddr, o.WSSAddr = "127.0.0.2:0", "127.0.0.3:0"
		o.TLSCertFile, o.TLSKeyFile = pk.CertFile, pk.KeyFile
		if mutate != nil {
			mutate(o)
		}
	})
}

// dialV3URL connects paho.mqtt.golang to broker (tls://, wss://, tcp://) with cc.
func dialV3URL(t *testing.T, broker, id string, cc *tls.Config) *v3client {
	t.Helper()
	vc := &v3client{}
	o := mqtt.NewClientOptions().AddBroker(broker).SetClientID(id).SetTLSConfig(cc).SetAutoReconnect(false).
		SetConnectTimeout(20 * time.Second).SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) {
		vc.mu.Lock()
		vc.got = append(vc.got, m)
		vc.mu.Unlock()
	})
	vc.Client = mqtt.NewClient(o)
	if tok := vc.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", broker, tok.Error())
	}
	t.Cleanup(func() { vc.Disconnect(0) })
	return vc
}

// TestTLSListeners: paho over TLS and over WSS exchange messages with a plain TCP client, QoS 0 and 1, through the
// broker; a message bigger than a TLS record crosses whole.
func TestTLSListeners(t *testing.T) {
	pk := tlstest.New(t)
	s := startTLSBroker(t, pk, nil)
	if s.TLSAddr() == "" || s.WSSAddr() == "" {
		t.Fatal("no TLS listeners")
	}
	overTLS := dialV3URL(t, "tls://"+s.TLSAddr(), "over-tls", pk.ClientConfig())
	overWSS := dialV3URL(t, "wss://"+s.WSSAddr()+"/mqtt", "over-wss", pk.ClientConfig())
	plain := dialV3(t, s, "plain", true, nil)
	wait(t, overTLS.Subscribe("to/tls", 1, nil))
	wait(t, overWSS.Subscribe("to/wss", 1, nil))
	wait(t, plain.Subscribe("to/plain", 1, nil))
	big := strings.Repeat("x", 40<<10)
	for q := byte(0); q < 2; q++ {
		wait(t, plain.Publish("to/tls", q, false, fmt.Sprint("tls", q)))
		wait(t, plain.Publish("to/wss", q, false, fmt.Sprint("wss", q)))
		wait(t, overTLS.Publish("to/plain", q, false, fmt.Sprint("from tls", q)))
		wait(t, overWSS.Publish("to/plain", q, false, big))
	}
	for _, c := range []struct {
		cl   *v3client
		want []string
	}{{overTLS, []string{"tls0", "tls1"}}, {overWSS, []string{"wss0", "wss1"}}, {plain, []string{"from tls0", big, "from tls1", big}}} {
		got := c.cl.waitN(t, len(c.want))
		var payloads []string
		for _, m := range got {
			payloads = append(payloads, string(m.Payload()))
		}
		if strings.Join(payloads, "|") != strings.Join(c.want, "|") {
			t.Fatalf("got %d messages %.40q, want %.40q", len(payloads), payloads, c.want)
		}
	}
}

// TestTLSMosquitto: mosquitto_sub and mosquitto_pub (OpenSSL) with --cafile over mqtts; with client certificates
// required, a client without one is refused and one with one is served.
func TestTLSMosquitto(t *testing.T) {
	subBin, pubBin := testenv.MosquittoClients(t)
	pk := tlstest.New(t)
	for _, require := range []bool{false, true} {
		t.Run(fmt.Sprint("require=", require), func(t *testing.T) {
			s := startTLSBroker(t, pk, func(o *Options) {
				if require {
					o.TLSClientAuth, o.TLSClientCAFile = "require", pk.CAFile
				}
			})
			host, port, _ := strings.Cut(s.TLSAddr(), ":")
			args := []string{"-h", host, "-p", port, "--cafile", pk.CAFile, "-V", "mqttv311"}
			if require {
				out, err := exec.Command(pubBin, append(args, "-t", "m/x", "-m", "refused")...).CombinedOutput()
				if err == nil {
					t.Fatalf("mosquitto_pub without a certificate was served: %s", out)
				}
				args = append(args, "--cert", pk.ClientCert, "--key", pk.ClientKey)
			}
			subs := s.subscriptions.Load()
			sub := exec.Command(subBin, append(args, "-t", "m/#", "-q", "1", "-C", "2", "-W", "20", "-v")...)
			var out strings.Builder
			sub.Stdout, sub.Stderr = &out, &out
			if err := sub.Start(); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "mosquitto_sub's subscription", func() bool { return s.subscriptions.Load() > subs })
			for i, q := range []string{"0", "1"} {
				if b, err := exec.Command(pubBin, append(args, "-t", "m/x", "-q", q, "-m", fmt.Sprint("hello", i))...).CombinedOutput(); err != nil {
					t.Fatalf("mosquitto_pub: %v %s", err, b)
				}
			}
			if err := sub.Wait(); err != nil {
				t.Fatalf("mosquitto_sub: %v: %s", err, out.String())
			}
			if want := "m/x hello0\nm/x hello1\n"; out.String() != want {
				t.Fatalf("mosquitto_sub printed %q, want %q", out.String(), want)
			}
		})
	}
}

// TestTLSSamePort: with tls_addr equal to tcp_addr, one listener serves TLS and plain MQTT, told apart by the
// first byte; a TLS ClientHello on a plain-only listener is refused.
func TestTLSSamePort(t *testing.T) {
	pk := tlstest.New(t)
	s := startBroker(t, func(o *Options) {
		o.TLSAddr, o.WSSAddr = o.TCPAddr, ""
		o.TLSCertFile, o.TLSKeyFile = pk.CertFile, pk.KeyFile
	})
	if s.TLSAddr() != s.TCPAddr() {
		t.Fatalf("tls %s, tcp %s", s.TLSAddr(), s.TCPAddr())
	}
	overTLS := dialV3URL(t, "tls://"+s.TCPAddr(), "tls", pk.ClientConfig())
	plain := dialV3(t, s, "plain", true, nil)
	wait(t, overTLS.Subscribe("a", 0, nil))
	wait(t, plain.Publish("a", 0, false, "same port"))
	if got := overTLS.waitN(t, 1); string(got[0].Payload()) != "same port" {
		t.Fatalf("got %q", got[0].Payload())
	}

	other := startBroker(t, func(o *Options) { o.TCPSniffWS = true })
	c, err := tls.Dial("tcp", other.TCPAddr(), pk.ClientConfig())
	if err == nil {
		c.Close()
		t.Fatal("TLS served on a listener without tls_addr")
	}
}

// TestTLSReload: a reloaded pair serves new handshakes while an open TLS connection goes on; a bad pair keeps the
// old one.
func TestTLSReload(t *testing.T) {
	pk := tlstest.New(t)
	s := startTLSBroker(t, pk, func(o *Options) { o.WSSAddr = "" })
	subject := func() string {
		c, err := tls.Dial("tcp", s.TLSAddr(), pk.ClientConfig())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	open := dialV3URL(t, "tls://"+s.TLSAddr(), "open", pk.ClientConfig())
	wait(t, open.Subscribe("r", 0, nil))
	pk.WriteServer(t, "server two")
	if err := s.ReloadCertificates(); err != nil {
		t.Fatal(err)
	}
	if cn := subject(); cn != "server two" {
		t.Fatalf("after reload: %q", cn)
	}
	if err := os.WriteFile(pk.KeyFile, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.ReloadCertificates(); err == nil {
		t.Fatal("a bad pair reloaded")
	}
	if cn := subject(); cn != "server two" {
		t.Fatalf("after a bad reload: %q", cn)
	}
	wait(t, open.Publish("r", 0, false, "still open"))
	if got := open.waitN(t, 1); string(got[0].Payload()) != "still open" {
		t.Fatalf("got %q", got[0].Payload())
	}
}

func TestTLSOptions(t *testing.T) {
	pk := tlstest.New(t)
	for _, tc := range []struct {
		name string
		set  func(*Options)
	}{
		{"key missing", func(o *Options) { o.TLSCertFile = pk.CertFile }},
		{"cert file missing", func(o *Options) { o.TLSCertFile, o.TLSKeyFile = pk.Dir+"/none.pem", pk.KeyFile }},
		{"client auth", func(o *Options) { o.TLSCertFile, o.TLSKeyFile, o.TLSClientAuth = pk.CertFile, pk.KeyFile, "always" }},
		{"require without CA", func(o *Options) { o.TLSCertFile, o.TLSKeyFile, o.TLSClientAuth = pk.CertFile, pk.KeyFile, "require" }},
		{"min version", func(o *Options) { o.TLSCertFile, o.TLSKeyFile, o.TLSMinVersion = pk.CertFile, pk.KeyFile, "1.4" }},
		{"key without cert", func(o *Options) { o.TLSKeyFile = pk.KeyFile }},
		{"wss on tcp port", func(o *Options) { o.TLSCertFile, o.TLSKeyFile, o.WSSAddr = pk.CertFile, pk.KeyFile, o.TCPAddr }},
	} {
		o := DefaultOptions()
		tc.set(&o)
		if err := o.Validate(); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	o := DefaultOptions()
	o.TLSCertFile, o.TLSKeyFile, o.TLSClientAuth, o.TLSClientCAFile, o.TLSMinVersion = pk.CertFile, pk.KeyFile, "request", pk.CAFile, "1.3"
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestTLSBehindProxy: a PROXY header before the TLS handshake, on the TLS listener and on a listener that sniffs
// TLS and plain MQTT: the session works and the broker sees the header's source address.
func TestTLSBehindProxy(t *testing.T) {
	pk := tlstest.New(t)
	auth := newPeerAuth()
	s := startProxyBroker(t, "required", auth, func(o *Options) {
		o.TLSAddr, o.WSSAddr = "127.0.0.2:0", ""
		o.TLSCertFile, o.TLSKeyFile = pk.CertFile, pk.KeyFile
	})
	sniffing := startProxyBroker(t, "required", auth, func(o *Options) {
		o.TLSAddr, o.WSSAddr = o.TCPAddr, ""
		o.TLSCertFile, o.TLSKeyFile = pk.CertFile, pk.KeyFile
	})
	for i, addr := range []string{s.TLSAddr(), sniffing.TCPAddr()} {
		raw := dialFrom(t, "127.0.0.1", addr)
		raw.Write([]byte(fmt.Sprintf("PROXY TCP4 192.0.2.9 127.0.0.1 %d 8883\r\n", 4000+i)))
		c := tls.Client(raw.Conn, pk.ClientConfig())
		c.SetDeadline(time.Now().Add(20 * time.Second))
		if err := c.Handshake(); err != nil {
			t.Fatalf("%s: handshake behind a PROXY header: %v", addr, err)
		}
		id := fmt.Sprint("behind-proxy-", i)
		c.Write(connect311(id, true))
		got := make([]byte, 4)
		if _, err := io.ReadFull(c, got); err != nil || string(got) != "\x20\x02\x00\x00" {
			t.Fatalf("%s: CONNACK % x, %v", addr, got, err)
		}
		auth.expect(t, id, fmt.Sprint("192.0.2.9:", 4000+i))
	}
}
