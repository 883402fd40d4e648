package tlslayer

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"loopmq/codec"
	"loopmq/server/layer"
	"loopmq/server/ws"
)

// mqttEcho is a one-connection MQTT 3.1.1 peer above the layers, framed by the codec: it accepts the CONNECT,
// grants every subscription at QoS 0 and sends each PUBLISH back, so a client subscribed to what it publishes
// gets its messages again. Packets answered in one call go out in one Outbound.
func mqttEcho() upper { return mqttPeer(nil) }

// mqttPeer is mqttEcho that also reports each PUBLISH's topic and payload to seen (when not nil), and sends a
// PUBLISH "welcome" on each subscribed filter without wildcards, so a subscriber gets one message.
func mqttPeer(seen chan<- string) upper {
	return func(in []byte) (int, [][]byte, bool) {
		var out [][]byte
		off := 0
		for off < len(in) {
			h, need, err := codec.Peek(in[off:], 1<<20)
			if err != nil {
				return off, out, true
			}
			if need > 0 {
				break
			}
			pkt := in[off : off+h.Len()]
			body := pkt[h.Size:]
			off += h.Len()
			switch h.Type {
			case codec.TypeConnect:
				out = append(out, []byte{byte(codec.TypeConnack) << 4, 2, 0, 0})
			case codec.TypeSubscribe:
				ack := []byte{byte(codec.TypeSuback) << 4, 0, body[0], body[1]}
				var welcome []byte
				for r := body[2:]; len(r) >= 3; {
					n := int(r[0])<<8 | int(r[1])
					filter := r[2 : 2+n]
					r = r[2+n+1:]
					ack = append(ack, 0)
					if seen != nil && !bytes.ContainsAny(filter, "+#") {
						welcome = append(welcome, byte(codec.TypePublish)<<4, byte(2+n+7))
						welcome = append(welcome, byte(n>>8), byte(n))
						welcome = append(append(welcome, filter...), "welcome"...)
					}
				}
				ack[1] = byte(len(ack) - 2)
				out = append(out, ack, welcome)
			case codec.TypePublish:
				if seen != nil {
					n := int(body[0])<<8 | int(body[1])
					seen <- string(body[2:2+n]) + " " + string(body[2+n:])
				}
				out = append(out, bytes.Clone(pkt))
			case codec.TypePingreq:
				out = append(out, codec.AppendPingresp(nil))
			case codec.TypeDisconnect:
				return off, out, true
			}
		}
		return off, out, false
	}
}

func tlsOnly(cfg *Config) func(func()) (layer.Layer, *Layer) {
	return func(wake func()) (layer.Layer, *Layer) {
		l := New(cfg, wake)
		return l, l
	}
}

func tlsWS(cfg *Config) func(func()) (layer.Layer, *Layer) {
	wcfg := &ws.Config{AnyPath: true}
	return func(wake func()) (layer.Layer, *Layer) {
		l := New(cfg, wake)
		return layer.Stack(l, ws.NewLayer(wcfg, 1<<20)), l
	}
}

// pahoRoundTrip connects paho.mqtt.golang to broker, subscribes to t/#, publishes messages of growing sizes
// (past one record) and checks each comes back whole and in order.
func pahoRoundTrip(t *testing.T, broker string, cc *tls.Config) {
	t.Helper()
	got := make(chan []byte, 64)
	o := mqtt.NewClientOptions().AddBroker(broker).SetClientID("tls-test").SetTLSConfig(cc).
		SetAutoReconnect(false).SetConnectTimeout(20 * time.Second).SetWriteTimeout(20 * time.Second).
		SetOrderMatters(true)
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	if tok := c.Subscribe("t/#", 0, func(_ mqtt.Client, m mqtt.Message) { got <- m.Payload() }); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	var want [][]byte
	for i, size := range []int{1, 100, 1000, 16 << 10, 40 << 10, 3, 200 << 10, 7} {
		p := bytes.Repeat([]byte{byte('a' + i)}, size)
		want = append(want, p)
		if tok := c.Publish(fmt.Sprintf("t/%d", i), 0, false, p); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
	for i, w := range want {
		select {
		case p := <-got:
			if !bytes.Equal(p, w) {
				t.Fatalf("message %d: %d bytes, want %d", i, len(p), len(w))
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("message %d did not come back", i)
		}
	}
}

func TestPahoOverTLS(t *testing.T) {
	pk := newPKI(t)
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(v), func(t *testing.T) {
			cc := pk.ClientConfig()
			cc.MaxVersion = v
			s := serve(t, tlsOnly(pk.config(t, Options{ALPN: []string{"mqtt"}})), mqttEcho)
			pahoRoundTrip(t, "tls://"+s.addr(), cc)
			if errs := s.errors(); len(errs) > 0 {
				t.Fatal(errs)
			}
		})
	}
}

func TestPahoOverWSS(t *testing.T) {
	pk := newPKI(t)
	s := serve(t, tlsWS(pk.config(t, Options{ALPN: []string{"http/1.1"}})), mqttEcho)
	cc := pk.ClientConfig()
	cc.NextProtos = []string{"h2", "http/1.1"} // as browsers offer
	pahoRoundTrip(t, "wss://"+s.addr()+"/mqtt", cc)
	if errs := s.errors(); len(errs) > 0 {
		t.Fatal(errs)
	}
	if e := s.ended(t, 1); e[0].proto != "http/1.1" {
		t.Fatalf("ALPN %q, want http/1.1", e[0].proto)
	}
}

// echo sends back what it gets, cut into slices so Outbound gathers them.
func echo() upper {
	return func(in []byte) (int, [][]byte, bool) {
		c := bytes.Clone(in)
		var out [][]byte
		for len(c) > 0 {
			n := min(len(c), 700)
			out = append(out, c[:n])
			c = c[n:]
		}
		return len(in), out, false
	}
}

// dialEcho connects with cc, checks an echo, and returns the connection state.
func dialEcho(t *testing.T, addr string, cc *tls.Config) (tls.ConnectionState, error) {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 20 * time.Second}, "tcp", addr, cc)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	msg := bytes.Repeat([]byte("ping "), 1000)
	if _, err := c.Write(msg); err != nil {
		return c.ConnectionState(), err
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return c.ConnectionState(), err
	}
	if !bytes.Equal(got, msg) {
		t.Fatal("echo differs")
	}
	return c.ConnectionState(), nil
}

func TestClientCertificates(t *testing.T) {
	pk := newPKI(t)
	withCert := pk.ClientConfig()
	withCert.Certificates = []tls.Certificate{pk.Client}
	other := newPKI(t) // a CA the server does not trust
	foreign := pk.ClientConfig()
	foreign.Certificates = []tls.Certificate{other.Client}
	for _, tc := range []struct {
		auth     ClientAuth
		cc       *tls.Config
		ok       bool
		identity string
	}{
		{ClientAuthNone, withCert, true, ""},
		{ClientAuthRequest, pk.ClientConfig(), true, ""},
		{ClientAuthRequest, withCert, true, "device-7"},
		{ClientAuthRequest, foreign, false, ""},
		{ClientAuthRequire, pk.ClientConfig(), false, ""},
		{ClientAuthRequire, foreign, false, ""},
		{ClientAuthRequire, withCert, true, "device-7"},
	} {
		name := fmt.Sprintf("auth%d/cert%v", tc.auth, len(tc.cc.Certificates) > 0)
		t.Run(name, func(t *testing.T) {
			s := serve(t, tlsOnly(pk.config(t, Options{ClientAuth: tc.auth, ClientCAs: pk.Pool})), echo)
			_, err := dialEcho(t, s.addr(), tc.cc)
			if (err == nil) != tc.ok {
				t.Fatalf("dial: %v, want ok=%v", err, tc.ok)
			}
			e := s.ended(t, 1)
			if !tc.ok {
				if len(s.errors()) == 0 {
					t.Fatal("the layer reported no handshake error")
				}
				return
			}
			if id := e[0].peer; id != tc.identity {
				t.Fatalf("peer %q, want %q", id, tc.identity)
			}
		})
	}
	if _, err := NewConfig(Options{Certs: mustCerts(t, pk), ClientAuth: ClientAuthRequire}); err == nil {
		t.Fatal("require without a CA pool accepted")
	}
}

func mustCerts(t *testing.T, pk *pki) *Certs {
	c, err := LoadCerts(pk.CertFile, pk.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestALPNAndVersions(t *testing.T) {
	pk := newPKI(t)
	s := serve(t, tlsOnly(pk.config(t, Options{ALPN: []string{"mqtt"}})), echo)
	for _, tc := range []struct {
		offer []string
		want  string
	}{{[]string{"mqtt"}, "mqtt"}, {[]string{"x-amzn-mqtt-ca", "mqtt"}, "mqtt"}, {[]string{"x-amzn-mqtt-ca"}, ""}, {nil, ""}} {
		cc := pk.ClientConfig()
		cc.NextProtos = tc.offer
		st, err := dialEcho(t, s.addr(), cc)
		if err != nil || st.NegotiatedProtocol != tc.want {
			t.Fatalf("offer %v: %q, %v; want %q", tc.offer, st.NegotiatedProtocol, err, tc.want)
		}
	}
	old := pk.ClientConfig()
	old.MinVersion, old.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	if _, err := dialEcho(t, s.addr(), old); err == nil {
		t.Fatal("TLS 1.1 accepted by default")
	}
	v13 := serve(t, tlsOnly(pk.config(t, Options{MinVersion: tls.VersionTLS13})), echo)
	v12 := pk.ClientConfig()
	v12.MaxVersion = tls.VersionTLS12
	if _, err := dialEcho(t, v13.addr(), v12); err == nil {
		t.Fatal("TLS 1.2 accepted with min 1.3")
	}
	if st, err := dialEcho(t, v13.addr(), pk.ClientConfig()); err != nil || st.Version != tls.VersionTLS13 {
		t.Fatalf("TLS 1.3: %v", err)
	}
	for s, want := range map[string]uint16{"": tls.VersionTLS12, "1.2": tls.VersionTLS12, "1.3": tls.VersionTLS13} {
		if v, err := ParseMinVersion(s); err != nil || v != want {
			t.Fatalf("ParseMinVersion(%q) = %x, %v", s, v, err)
		}
	}
	if _, err := ParseMinVersion("1.4"); err == nil {
		t.Fatal("1.4 accepted")
	}
	for s, want := range map[string]ClientAuth{"": ClientAuthNone, "none": ClientAuthNone, "request": ClientAuthRequest, "require": ClientAuthRequire} {
		if a, err := ParseClientAuth(s); err != nil || a != want {
			t.Fatalf("ParseClientAuth(%q) = %d, %v", s, a, err)
		}
	}
	if _, err := ParseClientAuth("always"); err == nil {
		t.Fatal("always accepted")
	}
}

// TestReload swaps the pair under an open connection: new handshakes get the new one, the open connection goes on,
// and a bad new pair keeps the old one.
func TestReload(t *testing.T) {
	pk := newPKI(t)
	certs := mustCerts(t, pk)
	s := serve(t, tlsOnly(pk.config(t, Options{Certs: certs})), echo)
	open, err := tls.Dial("tcp", s.addr(), pk.ClientConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	open.SetDeadline(time.Now().Add(30 * time.Second))
	roundTrip := func() {
		t.Helper()
		if _, err := open.Write([]byte("still here")); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 10)
		if _, err := io.ReadFull(open, b); err != nil || string(b) != "still here" {
			t.Fatalf("open connection: %q, %v", b, err)
		}
	}
	roundTrip()
	if cn := open.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != "server one" {
		t.Fatalf("first pair %q", cn)
	}
	pk.WriteServer(t, "server two")
	if err := certs.Reload(); err != nil {
		t.Fatal(err)
	}
	subject := func() string {
		st, err := dialEcho(t, s.addr(), pk.ClientConfig())
		if err != nil {
			t.Fatal(err)
		}
		return st.PeerCertificates[0].Subject.CommonName
	}
	if cn := subject(); cn != "server two" {
		t.Fatalf("after reload %q", cn)
	}
	roundTrip()
	if err := os.WriteFile(pk.KeyFile, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := certs.Reload(); err == nil {
		t.Fatal("a bad pair reloaded")
	}
	if cn := subject(); cn != "server two" {
		t.Fatalf("after a bad reload %q", cn)
	}
	roundTrip()
}

// TestHandshakeTimeout: a client that stops mid-handshake is refused after HandshakeTimeout, and its goroutine ends.
func TestHandshakeTimeout(t *testing.T) {
	pk := newPKI(t)
	s := serve(t, tlsOnly(pk.config(t, Options{HandshakeTimeout: 200 * time.Millisecond})), echo)
	c, err := net.Dial("tcp", s.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A ClientHello record with a truncated message: the handshake waits for the rest.
	c.Write([]byte{0x16, 3, 1, 0, 4, 1, 0, 1, 0})
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err = io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the server did not close a stalled handshake")
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(s.errors()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if errs := s.errors(); len(errs) != 1 || !errors.Is(errs[0], ErrHandshakeTimeout) {
		t.Fatalf("errors %v", errs)
	}
}

// TestNotTLS: plain MQTT on a TLS port is refused.
func TestNotTLS(t *testing.T) {
	pk := newPKI(t)
	s := serve(t, tlsOnly(pk.config(t, Options{})), echo)
	c, err := net.Dial("tcp", s.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00"))
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "MQTT") {
		t.Fatal("echoed")
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(s.errors()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if errs := s.errors(); len(errs) != 1 || !errors.Is(errs[0], ErrNotTLS) {
		t.Fatalf("errors %v", errs)
	}
}

// TestMosquittoClients runs mosquitto_pub and mosquitto_sub (Debian's mosquitto-clients, OpenSSL) over mqtts
// with --cafile, and with a client certificate where one is required.
func TestMosquittoClients(t *testing.T) {
	if testing.Short() {
		t.Skip("runs mosquitto clients")
	}
	pk := newPKI(t)
	seen := make(chan string, 16)
	run := func(s *server, args ...string) (string, error) {
		t.Helper()
		host, port, _ := net.SplitHostPort(s.addr())
		_ = host
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		args = append([]string{"-h", "localhost", "-p", port, "--cafile", pk.CAFile, "-V", "mqttv311"}, args...)
		out, err := exec.CommandContext(ctx, args[len(args)-1], args[:len(args)-1]...).CombinedOutput()
		return string(out), err
	}
	s := serve(t, tlsOnly(pk.config(t, Options{ALPN: []string{"mqtt"}})), func() upper { return mqttPeer(seen) })
	if out, err := run(s, "-t", "t/pub", "-m", "over mqtts", "mosquitto_pub"); err != nil {
		t.Fatalf("mosquitto_pub: %v %s", err, out)
	}
	select {
	case m := <-seen:
		if m != "t/pub over mqtts" {
			t.Fatalf("got %q", m)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the publish did not arrive")
	}
	if out, err := run(s, "-t", "t/sub", "-C", "1", "-v", "mosquitto_sub"); err != nil || strings.TrimSpace(out) != "t/sub welcome" {
		t.Fatalf("mosquitto_sub: %v %q", err, out)
	}
	req := serve(t, tlsOnly(pk.config(t, Options{ClientAuth: ClientAuthRequire, ClientCAs: pk.Pool})), func() upper { return mqttPeer(seen) })
	if out, err := run(req, "-t", "t/sub", "-C", "1", "-W", "10", "mosquitto_sub"); err == nil {
		t.Fatalf("mosquitto_sub without a certificate was served: %q", out)
	}
	if out, err := run(req, "--cert", pk.ClientCert, "--key", pk.ClientKey, "-t", "t/sub", "-C", "1", "-v", "mosquitto_sub"); err != nil || strings.TrimSpace(out) != "t/sub welcome" {
		t.Fatalf("mosquitto_sub with a certificate: %v %q", err, out)
	}
	var peers []string
	for _, e := range req.ended(t, 2) {
		peers = append(peers, e.peer)
	}
	if !slices.Contains(peers, "device-7") {
		t.Fatalf("peers %q", peers)
	}
}
