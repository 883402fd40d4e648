package server

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt "github.com/eclipse/paho.mqtt.golang"

	"loopmq/internal/testenv"
)

// mosquittoPasswdFile writes a password file with Debian's mosquitto_passwd: user:password pairs.
func mosquittoPasswdFile(t testing.TB, pairs ...string) string {
	t.Helper()
	bin := testenv.Command(t, "mosquitto_passwd", "mosquitto", "/usr/bin/mosquitto_passwd")
	path := filepath.Join(t.TempDir(), "passwd")
	for i := 0; i < len(pairs); i += 2 {
		args := []string{"-b", path, pairs[i], pairs[i+1]}
		if i == 0 {
			args = append([]string{"-c"}, args...)
		}
		if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd %v: %v\n%s", args, err, out)
		}
	}
	return path
}

func writeFile(t testing.TB, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// connack5 connects with paho.golang over conn and returns the CONNACK reason code.
func connack5(t testing.TB, conn net.Conn, id, user, pass string, anonymous bool) byte {
	t.Helper()
	c := paho.NewClient(paho.ClientConfig{ClientID: id, Conn: conn, OnClientError: func(error) {}})
	cp := &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30}
	if !anonymous {
		cp.UsernameFlag, cp.Username = true, user
		cp.PasswordFlag, cp.Password = true, []byte(pass)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ca, err := c.Connect(ctx, cp)
	if ca == nil {
		t.Fatalf("connect %s: no CONNACK: %v", id, err)
	}
	if ca.ReasonCode == 0 {
		c.Disconnect(&paho.Disconnect{})
	}
	return ca.ReasonCode
}

// connack3 connects with paho.mqtt.golang (3.1.1) to broker and returns the CONNACK return code.
func connack3(t testing.TB, broker, id, user, pass string, anonymous bool) byte {
	t.Helper()
	o := mqtt.NewClientOptions().AddBroker(broker).SetClientID(id).SetAutoReconnect(false).
		SetConnectRetry(false).SetProtocolVersion(4).SetConnectTimeout(10 * time.Second)
	if !anonymous {
		o.SetUsername(user).SetPassword(pass)
	}
	c := mqtt.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(15 * time.Second) {
		t.Fatalf("connect %s: timed out", id)
	}
	rc := tok.(*mqtt.ConnectToken).ReturnCode()
	if rc == 0 {
		if tok.Error() != nil {
			t.Fatalf("connect %s: %v", id, tok.Error())
		}
		c.Disconnect(0)
	}
	return rc
}

// TestPasswordFileReasonCodes checks right, wrong and missing credentials against a file made by Debian's
// mosquitto_passwd, over TCP and WebSocket, with MQTT 5 (paho.golang) and 3.1.1 (paho.mqtt.golang) clients: the
// codes are Mosquitto 2.0's (it answers "not authorized" to all three refusals).
func TestPasswordFileReasonCodes(t *testing.T) {
	pw := mosquittoPasswdFile(t, "alice", "s3cret", "bob", "hunter2")
	for _, anon := range []bool{false, true} {
		t.Run(fmt.Sprintf("allow_anonymous=%v", anon), func(t *testing.T) {
			s := startWSBroker(t, func(o *Options) { o.PasswordFile = pw; o.AllowAnonymous = anon })
			anonV5, anonV3 := byte(0x87), byte(0x05)
			if anon {
				anonV5, anonV3 = 0, 0
			}
			cases := []struct {
				name, user, pass string
				anonymous        bool
				v5, v3           byte
			}{
				{"right", "alice", "s3cret", false, 0, 0},
				{"right2", "bob", "hunter2", false, 0, 0},
				{"wrong", "alice", "hunter2", false, 0x87, 0x05},
				{"unknown", "carol", "s3cret", false, 0x87, 0x05},
				{"empty", "alice", "", false, 0x87, 0x05},
				{"anonymous", "", "", true, anonV5, anonV3},
			}
			wsURL := &url.URL{Scheme: "ws", Host: s.WSAddr(), Path: "/mqtt"}
			for _, c := range cases {
				conn, err := net.Dial("tcp", s.TCPAddr())
				if err != nil {
					t.Fatal(err)
				}
				if got := connack5(t, conn, "tcp5-"+c.name, c.user, c.pass, c.anonymous); got != c.v5 {
					t.Errorf("%s v5 over TCP: CONNACK %#x, want %#x", c.name, got, c.v5)
				}
				wsConn := upgradeWS(t, s.WSAddr()).Conn
				if got := connack5(t, wsConn, "ws5-"+c.name, c.user, c.pass, c.anonymous); got != c.v5 {
					t.Errorf("%s v5 over WebSocket: CONNACK %#x, want %#x", c.name, got, c.v5)
				}
				if got := connack3(t, "tcp://"+s.TCPAddr(), "tcp3-"+c.name, c.user, c.pass, c.anonymous); got != c.v3 {
					t.Errorf("%s 3.1.1 over TCP: CONNACK %#x, want %#x", c.name, got, c.v3)
				}
				if got := connack3(t, wsURL.String(), "ws3-"+c.name, c.user, c.pass, c.anonymous); got != c.v3 {
					t.Errorf("%s 3.1.1 over WebSocket: CONNACK %#x, want %#x", c.name, got, c.v3)
				}
			}
		})
	}
}

// TestAuthFilesRefusedAtStart: a broken file stops New with the file and line named.
func TestAuthFilesRefusedAtStart(t *testing.T) {
	badPW := writeFile(t, "pw", "alice:$7$101$notbase64!$xx\n")
	badACL := writeFile(t, "acl", "user alice\ntopic read a/#\nbogus line\n")
	for _, c := range []struct {
		mutate func(*Options)
		want   string
	}{
		{func(o *Options) { o.PasswordFile = badPW }, badPW + ":1:"},
		{func(o *Options) { o.ACLFile = badACL }, badACL + ":3:"},
		{func(o *Options) { o.ACLFile = filepath.Join(t.TempDir(), "missing") }, "acl_file: "},
	} {
		o := DefaultOptions()
		c.mutate(&o)
		_, err := New(o)
		if err == nil || !contains(err.Error(), c.want) {
			t.Errorf("New: %v, want an error containing %q", err, c.want)
		}
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || len(s) >= len(sub) && (s[:len(sub)] == sub || contains(s[1:], sub))
}

// aclTestFile: devices may touch only devices/<user>/#, a dashboard user may read everything under devices/,
// %c gives every client a private inbox, anonymous clients may read public/#.
const aclTestFile = `# test ACL
topic read public/#

user dashboard
topic read devices/#
topic read public/#

user admin
topic readwrite #

pattern readwrite devices/%u/#
pattern read inbox/%c
`

func startACLBroker(t *testing.T) (*Server, string) {
	pw := mosquittoPasswdFile(t, "dev1", "p1", "dev2", "p2", "dashboard", "pd", "admin", "pa")
	acl := writeFile(t, "acl", aclTestFile)
	s := startWSBroker(t, func(o *Options) { o.PasswordFile = pw; o.ACLFile = acl; o.AllowAnonymous = true })
	return s, acl
}

func dialUserV5(t *testing.T, s *Server, id, user, pass string) *v5client {
	t.Helper()
	cp := &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30}
	if user != "" {
		cp.UsernameFlag, cp.Username, cp.PasswordFlag, cp.Password = true, user, true, []byte(pass)
	}
	return dialV5(t, s, cp)
}

func sub5(t *testing.T, c *v5client, filter string, qos byte) byte {
	t.Helper()
	sa, err := c.Subscribe(ctx5s(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: qos}}})
	if err != nil {
		t.Fatalf("subscribe %s: %v", filter, err)
	}
	return sa.Reasons[0]
}

// pub5 publishes and returns the PUBACK/PUBREC reason (0 for QoS 0).
func pub5(t *testing.T, c *v5client, topic string, qos byte, retain bool, payload string) byte {
	t.Helper()
	r, err := c.Publish(ctx5s(t), &paho.Publish{Topic: topic, QoS: qos, Retain: retain, Payload: []byte(payload)})
	if r == nil {
		t.Fatalf("publish %s: %v", topic, err)
	}
	return r.ReasonCode
}

// TestACLPublishSubscribeRetained runs the ACL over real MQTT 5 clients: denied publishes get 0x87 and reach no
// one, subscriptions are granted as Mosquitto grants them and deliveries (retained ones included) are filtered by
// the subscriber's read rights, with %u and %c patterns.
func TestACLPublishSubscribeRetained(t *testing.T) {
	s, _ := startACLBroker(t)
	admin := dialUserV5(t, s, "admin-c", "admin", "pa")
	// Retained messages set by admin, before anyone subscribes.
	for _, tp := range []string{"devices/dev1/state", "devices/dev2/state", "secret/x", "public/news", "inbox/dev1-c"} {
		if rc := pub5(t, admin, tp, 1, true, "r:"+tp); rc != 0 {
			t.Fatalf("admin publish %s: %#x", tp, rc)
		}
	}
	dev1 := dialUserV5(t, s, "dev1-c", "dev1", "p1")
	dash := dialUserV5(t, s, "dash-c", "dashboard", "pd")
	anon := dialUserV5(t, s, "anon-c", "", "")
	// Mosquitto 2.0 grants every SUBSCRIBE and filters deliveries.
	for _, c := range []*v5client{dev1, dash, anon, admin} {
		if rc := sub5(t, c, "#", 1); rc != 1 {
			t.Fatalf("subscribe #: reason %#x, want granted QoS 1", rc)
		}
	}
	retained := map[*v5client][]string{
		dev1:  {"devices/dev1/state", "inbox/dev1-c"},
		dash:  {"devices/dev1/state", "devices/dev2/state", "public/news"},
		anon:  {"public/news"},
		admin: {"devices/dev1/state", "devices/dev2/state", "secret/x", "public/news", "inbox/dev1-c"},
	}
	for c, want := range retained {
		got := topics(c.waitN(t, len(want)))
		if !sameSet(got, want) {
			t.Errorf("%s retained replay: got %v, want %v", c.ClientID(), got, want)
		}
	}

	// Publishes: dev1 may write devices/dev1/# only; dashboard and anonymous may write nothing.
	type pub struct {
		c     *v5client
		topic string
		qos   byte
		want  byte
	}
	for _, p := range []pub{
		{dev1, "devices/dev1/temp", 1, 0},
		{dev1, "devices/dev2/temp", 1, 0x87},
		{dev1, "devices/dev2/temp", 2, 0x87},
		{dev1, "public/news", 1, 0x87},
		{dev1, "inbox/dev1-c", 1, 0x87}, // %c pattern grants read only
		{dash, "devices/dev1/temp", 1, 0x87},
		{anon, "public/x", 1, 0x87},
		{dev1, "devices/dev1/temp", 2, 0},
		{dev1, "devices/dev2/temp", 0, 0},
	} {
		if rc := pub5(t, p.c, p.topic, p.qos, false, "live"); rc != p.want {
			t.Errorf("%s publish %s qos %d: reason %#x, want %#x", p.c.ClientID(), p.topic, p.qos, rc, p.want)
		}
	}
	// A denied retained publish does not replace the retained message.
	if rc := pub5(t, dev1, "devices/dev2/state", 1, true, "forged"); rc != 0x87 {
		t.Errorf("dev1 retained publish to dev2: %#x, want 0x87", rc)
	}
	// A marker from admin: once everybody has it, everything before it has been delivered.
	pub5(t, admin, "devices/dev1/zz-marker", 1, false, "marker")
	want := map[*v5client][]string{
		dev1:  {"devices/dev1/temp", "devices/dev1/temp", "devices/dev1/zz-marker"},
		dash:  {"devices/dev1/temp", "devices/dev1/temp", "devices/dev1/zz-marker"},
		anon:  {},
		admin: {"devices/dev1/temp", "devices/dev1/temp", "devices/dev1/zz-marker"},
	}
	for c, w := range want {
		n := len(retained[c]) + len(w)
		if len(w) == 0 {
			continue
		}
		got := topics(c.waitN(t, n)[len(retained[c]):])
		if !sameSet(got, w) {
			t.Errorf("%s live: got %v, want %v", c.ClientID(), got, w)
		}
	}
	// anon may read nothing of the above; its count must not have grown past the replay.
	if n := anon.count(); n != len(retained[anon]) {
		t.Errorf("anonymous received %d messages, want %d", n, len(retained[anon]))
	}
	// The forged retained message was not stored.
	late := dialUserV5(t, s, "late", "admin", "pa")
	sub5(t, late, "devices/dev2/state", 1)
	if m := late.waitN(t, 1)[0]; string(m.Payload) != "r:devices/dev2/state" {
		t.Errorf("retained devices/dev2/state = %q after a denied publish", m.Payload)
	}
}

func topics(ms []*paho.Publish) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, m.Topic)
	}
	return out
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	n := map[string]int{}
	for _, x := range a {
		n[x]++
	}
	for _, x := range b {
		n[x]--
	}
	for _, v := range n {
		if v != 0 {
			return false
		}
	}
	return true
}

// TestACLv3PublishDeniedIsAcknowledged: a 3.1.1 client's denied QoS 1 and 2 publishes are acknowledged (as
// Mosquitto does), not routed, and the connection stays usable.
func TestACLv3PublishDeniedIsAcknowledged(t *testing.T) {
	s, _ := startACLBroker(t)
	admin := dialUserV5(t, s, "admin-c", "admin", "pa")
	sub5(t, admin, "#", 1)
	o := mqtt.NewClientOptions().AddBroker("tcp://" + s.TCPAddr()).SetClientID("dev1-v3").SetAutoReconnect(false).
		SetProtocolVersion(4).SetUsername("dev1").SetPassword("p1")
	c := mqtt.NewClient(o)
	wait(t, c.Connect())
	defer c.Disconnect(0)
	for qos := byte(0); qos <= 2; qos++ {
		wait(t, c.Publish("devices/dev2/x", qos, false, "denied"))
	}
	wait(t, c.Publish("devices/dev1/ok", 1, false, "allowed"))
	got := admin.waitN(t, 1)
	if got[0].Topic != "devices/dev1/ok" {
		t.Fatalf("admin got %s first, want devices/dev1/ok (denied publishes were routed)", got[0].Topic)
	}
	if !c.IsConnectionOpen() {
		t.Fatal("connection closed after denied publishes")
	}
}

// TestACLWill follows Mosquitto 2.0: a will on a topic the client may not publish to does not refuse the
// CONNECT, and is never published; a permitted will is.
func TestACLWill(t *testing.T) {
	s, _ := startACLBroker(t)
	admin := dialUserV5(t, s, "admin-c", "admin", "pa")
	sub5(t, admin, "#", 0)
	for _, w := range []struct{ topic, id string }{{"devices/dev2/will", "w-denied"}, {"devices/dev1/will", "w-ok"}} {
		conn, err := net.Dial("tcp", s.TCPAddr())
		if err != nil {
			t.Fatal(err)
		}
		c := paho.NewClient(paho.ClientConfig{ClientID: w.id, Conn: conn, OnClientError: func(error) {}})
		ca, err := c.Connect(ctx5s(t), &paho.Connect{ClientID: w.id, CleanStart: true, KeepAlive: 30,
			UsernameFlag: true, Username: "dev1", PasswordFlag: true, Password: []byte("p1"),
			WillMessage: &paho.WillMessage{Topic: w.topic, Payload: []byte("gone")}})
		if err != nil || ca.ReasonCode != 0 {
			t.Fatalf("connect with will %s: %v %+v", w.topic, err, ca)
		}
		conn.Close() // abnormal end: the will is due
	}
	got := admin.waitN(t, 1)
	// Let a wrongly published will of the first client show up too: a marker published after both closed.
	pub5(t, admin, "zz/marker", 0, false, "m")
	got = admin.waitN(t, 2)
	if got[0].Topic != "devices/dev1/will" || got[1].Topic != "zz/marker" {
		t.Fatalf("admin got %v, want [devices/dev1/will zz/marker]", topics(got))
	}
}

// TestACLReload: ReloadAuth swaps the rules; connected clients follow them from their next packet; a broken file
// keeps the old rules.
func TestACLReload(t *testing.T) {
	s, acl := startACLBroker(t)
	dev1 := dialUserV5(t, s, "dev1-c", "dev1", "p1")
	if rc := pub5(t, dev1, "shared/x", 1, false, "a"); rc != 0x87 {
		t.Fatalf("before reload: %#x, want 0x87", rc)
	}
	if err := os.WriteFile(acl, []byte(aclTestFile+"user dev1\ntopic write shared/#\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.ReloadAuth(); err != nil {
		t.Fatal(err)
	}
	if rc := pub5(t, dev1, "shared/x", 1, false, "a"); rc != 0 {
		t.Fatalf("after reload: %#x, want 0 (the connected client follows the new rules)", rc)
	}
	if err := os.WriteFile(acl, []byte("this is not an acl line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.ReloadAuth(); err == nil || !contains(err.Error(), acl+":1:") {
		t.Fatalf("reload of a broken file: %v, want an error naming %s:1", err, acl)
	}
	if rc := pub5(t, dev1, "shared/x", 1, false, "a"); rc != 0 {
		t.Fatalf("after a broken reload: %#x, want 0 (old rules kept)", rc)
	}
	if rc := pub5(t, dev1, "devices/dev2/x", 1, false, "a"); rc != 0x87 {
		t.Fatalf("after a broken reload: %#x, want 0x87 (old rules kept)", rc)
	}
}

// securityDocACL is the worked example of docs/security.md, verbatim.
const securityDocACL = `# Clients without a user name (only with allow_anonymous: true).
topic read public/#

user dashboard
topic read devices/#
topic read public/#
# the pattern below would give the dashboard devices/dashboard/#: a deny in its own section wins
topic deny devices/dashboard/#

# Every client with a user name: its own subtree. %u is the user name, %c the client id.
pattern readwrite devices/%u/#
`

// TestSecurityDocExample checks what docs/security.md promises of its worked example, with real clients: devices
// write only their own subtree, the dashboard reads every device and writes nothing, anonymous reads public/#.
func TestSecurityDocExample(t *testing.T) {
	pw := mosquittoPasswdFile(t, "dashboard", "dash", "dev-0001", "p4ss-0001", "dev-0002", "p4ss-0002")
	acl := writeFile(t, "acl", securityDocACL)
	s := startBroker(t, func(o *Options) { o.PasswordFile = pw; o.ACLFile = acl; o.AllowAnonymous = true })
	dash := dialUserV5(t, s, "dash", "dashboard", "dash")
	dev1 := dialUserV5(t, s, "d1", "dev-0001", "p4ss-0001")
	dev2 := dialUserV5(t, s, "d2", "dev-0002", "p4ss-0002")
	anon := dialUserV5(t, s, "anon", "", "")
	sub5(t, dash, "#", 1)
	sub5(t, anon, "#", 1)
	sub5(t, dev2, "#", 1)
	for _, p := range []struct {
		c     *v5client
		topic string
		want  byte
	}{
		{dev1, "devices/dev-0001/temp", 0},
		{dev1, "devices/dev-0002/temp", 0x87},
		{dev1, "public/x", 0x87},
		{dash, "devices/dev-0001/cmd", 0x87},
		{dash, "devices/dashboard/x", 0x87},
		{dash, "public/x", 0x87},
		{anon, "public/x", 0x87},
		{dev2, "devices/dev-0002/zz", 0},
	} {
		if rc := pub5(t, p.c, p.topic, 1, false, "v"); rc != p.want {
			t.Errorf("%s publish %s: %#x, want %#x", p.c.ClientID(), p.topic, rc, p.want)
		}
	}
	if got := topics(dash.waitN(t, 2)); !sameSet(got, []string{"devices/dev-0001/temp", "devices/dev-0002/zz"}) {
		t.Errorf("dashboard got %v", got)
	}
	if got := topics(dev2.waitN(t, 1)); len(got) != 1 || got[0] != "devices/dev-0002/zz" {
		t.Errorf("dev-0002 got %v, want only its own topic", got)
	}
	if n := anon.count(); n != 0 {
		t.Errorf("anonymous got %d messages, want 0", n)
	}
}
