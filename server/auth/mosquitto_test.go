package auth

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// This file runs Debian's mosquitto beside the package: a password file written by Set must let the
// right password in and keep a wrong one out, and an ACL file must give the same publish and read
// decisions in mosquitto as in Rights.

// refBroker is a mosquitto started on a free loopback port with a password file and an ACL file.
type refBroker struct {
	port string
	log  *bytes.Buffer
}

// passwords of the identities the reference tests connect as; "writer" may publish anywhere.
var refPasswords = map[string]string{
	"alice": "alice pw", "bob": "bob pw", "dashboard": "dash pw", "eve+": "eve pw", "frank": "frank pw",
	"writer": "writer pw",
}

// startMosquitto writes the password file with this package's Set and WriteFile (so mosquitto reading
// it is part of the test) and starts mosquitto with it and aclText.
func startMosquitto(t *testing.T, aclText string) *refBroker {
	t.Helper()
	bin := needTool(t, "mosquitto")
	dir := t.TempDir()
	var pw Passwords
	for u, p := range refPasswords {
		if err := pw.Set(u, []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	pwPath, aclPath := filepath.Join(dir, "passwords"), filepath.Join(dir, "acl")
	if err := pw.WriteFile(pwPath); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(aclPath, []byte(aclText), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	conf := filepath.Join(dir, "mosquitto.conf")
	text := "listener " + port + " 127.0.0.1\nallow_anonymous true\npersistence false\n" +
		"password_file " + pwPath + "\nacl_file " + aclPath + "\nlog_type all\n"
	if os.Geteuid() == 0 {
		text += "user root\n" // as root, mosquitto would drop to "mosquitto", who cannot read the 0600 files
	}
	os.WriteFile(conf, []byte(text), 0o600)
	b := &refBroker{port: port, log: &bytes.Buffer{}}
	cmd := exec.Command(bin, "-c", conf)
	cmd.Stdout, cmd.Stderr = &lockedWriter{w: b.log}, &lockedWriter{w: b.log}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("mosquitto exited: %v\n%s", err, b.log)
		default:
		}
		if c, err := net.Dial("tcp", "127.0.0.1:"+port); err == nil {
			c.Close()
			return b
		}
	}
	t.Fatalf("mosquitto did not listen on %s\n%s", port, b.log)
	return nil
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// clientArgs are the mosquitto_pub/mosquitto_sub options that connect as who.
func (b *refBroker) clientArgs(who client) []string {
	args := []string{"-h", "127.0.0.1", "-p", b.port, "-V", "5", "-q", "1", "-d", "-i", who.id}
	if !who.anonymous {
		args = append(args, "-u", who.user, "-P", refPasswords[who.user])
	}
	return args
}

var pubackRC = regexp.MustCompile(`received PUBACK \(Mid: \d+, RC:(\d+)\)`)

// canPublish asks mosquitto whether who may publish to topic: PUBACK 0x87 (135) means no.
func (b *refBroker) canPublish(t *testing.T, who client, topic string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	args := append(b.clientArgs(who), "-t", topic, "-m", "probe")
	out, _ := exec.CommandContext(ctx, needTool(t, "mosquitto_pub"), args...).CombinedOutput()
	m := pubackRC.FindSubmatch(out)
	if m == nil {
		t.Fatalf("mosquitto_pub %v: no PUBACK\n%s", args, out)
	}
	rc, _ := strconv.Atoi(string(m[1]))
	return rc < 0x80
}

// connects reports whether mosquitto lets user in with password.
func (b *refBroker) connects(t *testing.T, user, password string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	args := []string{"-h", "127.0.0.1", "-p", b.port, "-V", "311", "-d", "-i", "login", "-u", user, "-P", password,
		"-t", "x", "-m", "x"}
	out, _ := exec.CommandContext(ctx, needTool(t, "mosquitto_pub"), args...).CombinedOutput()
	switch {
	case bytes.Contains(out, []byte("received CONNACK (0)")):
		return true
	case bytes.Contains(out, []byte("received CONNACK (5)")), bytes.Contains(out, []byte("not authorised")):
		return false
	}
	t.Fatalf("mosquitto_pub %v: neither accepted nor refused\n%s", args, out)
	return false
}

// canRead asks mosquitto which of topics who receives: a mosquitto_sub subscribed to each topic
// and to the sentinel (a topic who may read), then "writer" publishes each topic and the sentinel;
// everything before the sentinel has arrived by then (one publisher, one subscriber, QoS 1, in order).
// Topics starting with '$' are not published; a retained one (as mosquitto's $SYS/broker/version)
// arrives on subscription.
func (b *refBroker) canRead(t *testing.T, who client, sentinel string, topics []string) map[string]bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	args := append(b.clientArgs(who), "-F", "MSG %t", "-t", sentinel)
	for _, tp := range topics {
		args = append(args, "-t", tp)
	}
	// stdbuf: mosquitto_sub's stdio buffers a pipe in blocks, which would hold back the SUBACK line.
	cmd := exec.CommandContext(ctx, needTool(t, "stdbuf"), append([]string{"-oL", needTool(t, "mosquitto_sub")}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	lines := bufio.NewScanner(stdout)
	got := map[string]bool{}
	waitFor := func(what string) {
		for lines.Scan() {
			l := lines.Text()
			if tp, ok := strings.CutPrefix(l, "MSG "); ok {
				got[tp] = true
			}
			if strings.Contains(l, what) {
				return
			}
		}
		t.Fatalf("mosquitto_sub %v: ended before %q", args, what)
	}
	waitFor("received SUBACK")
	writer := client{user: "writer", id: "writer-" + who.id}
	for _, tp := range append(append([]string(nil), topics...), sentinel) {
		if strings.HasPrefix(tp, "$") {
			continue
		}
		if !b.canPublish(t, writer, tp) {
			t.Fatalf("writer may not publish %q", tp)
		}
	}
	waitFor("MSG " + sentinel)
	delete(got, sentinel)
	return got
}

// everyKindRef is every-kind.acl with the writer the read checks publish with.
func everyKindRef(t *testing.T) string {
	data, err := os.ReadFile("testdata/every-kind.acl")
	if err != nil {
		t.Fatal(err)
	}
	return string(data) + "\nuser writer\ntopic write #\n"
}

// compareWithMosquitto asks mosquitto and Rights the same questions about aclText. Reads are asked only
// of clients that can read clients/<id>/in (the sentinel): the ACL must grant it.
func compareWithMosquitto(t *testing.T, aclText string, cases []refCase) {
	acl, err := ParseACL("ref.acl", []byte(aclText))
	if err != nil {
		t.Fatal(err)
	}
	b := startMosquitto(t, aclText)
	reads := map[client][]string{}
	for _, c := range cases {
		r := acl.For(c.who.user, c.who.anonymous, c.who.id)
		if ours, theirs := r.CanPublish([]byte(c.topic)), b.canPublish(t, c.who, c.topic); ours != theirs {
			t.Errorf("%+v publish %q: ours %v, mosquitto %v", c.who, c.topic, ours, theirs)
		}
		if c.checkRead {
			reads[c.who] = append(reads[c.who], c.topic)
		}
	}
	for who, topics := range reads {
		r := acl.For(who.user, who.anonymous, who.id)
		sentinel := "clients/" + who.id + "/in"
		if !r.CanRead([]byte(sentinel)) {
			t.Fatalf("%+v cannot read the sentinel %q", who, sentinel)
		}
		theirs := b.canRead(t, who, sentinel, topics)
		for _, tp := range topics {
			if ours := r.CanRead([]byte(tp)); ours != theirs[tp] {
				t.Errorf("%+v read %q: ours %v, mosquitto %v", who, tp, ours, theirs[tp])
			}
		}
	}
}

type refCase struct {
	who       client
	topic     string
	checkRead bool
}

func (c refCase) String() string { return fmt.Sprintf("%s/%s %q", c.who.user, c.who.id, c.topic) }

// TestMosquittoAcceptsOurPasswordFile: mosquitto reads a file Set and WriteFile made.
func TestMosquittoAcceptsOurPasswordFile(t *testing.T) {
	b := startMosquitto(t, everyKindRef(t))
	for _, c := range []struct {
		user, pw string
		want     bool
	}{
		{"alice", "alice pw", true},
		{"alice", "alice pW", false},
		{"bob", "bob pw", true},
		{"bob", "", false},
		{"nobody", "bob pw", false},
	} {
		if got := b.connects(t, c.user, c.pw); got != c.want {
			t.Errorf("mosquitto login %s/%q: %v, want %v\n%s", c.user, c.pw, got, c.want, b.log)
		}
	}
}

// TestMosquittoAgreesOnACL compares a handful of decisions on every-kind.acl with mosquitto's; the
// mosquittoref build compares all of them.
func TestMosquittoAgreesOnACL(t *testing.T) {
	compareWithMosquitto(t, everyKindRef(t), []refCase{
		{anon, "public/news", true},
		{anon, "public/secret", true},
		{anon, "anon/in", true},
		{anon, "devices/anon1/x", true},
		{alice, "alice/private/x", true},
		{alice, "devices/alice/locked", true},
		{alice, "$SYS/broker/version", true},
		{bob, "devices/bob/locked", true},
		{bob, "devices/bob/x", true},
		{bob, "$SYS/broker/version", true},
		{plusUser, "clients/e1/out", false},
		{hashID, "devices/frank/x", false},
	})
}
