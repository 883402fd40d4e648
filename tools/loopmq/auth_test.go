package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"loopmq/internal/testenv"
	"loopmq/server/auth"
)

// buildLoopmq builds bin/loopmq's main into a temporary directory.
func buildLoopmq(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "loopmq")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

var startedTCP = regexp.MustCompile(`msg="loopmq started" tcp=(127\.0\.0\.1:\d+)`)

// startLoopmq runs the binary with args on a free loopback port and returns the process, its log and its
// MQTT address.
func startLoopmq(t *testing.T, bin string, args ...string) (*exec.Cmd, *syncBuffer, string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-tcp", "127.0.0.1:0", "-ws", "", "-http", ""}, args...)...)
	out := &syncBuffer{}
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if m := startedTCP.FindStringSubmatch(out.String()); m != nil {
			return cmd, out, m[1]
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("loopmq did not start:\n%s", out.String())
	return nil, nil, ""
}

// v5 connects a paho.golang client; it returns the client (nil if refused) and the CONNACK reason.
func v5(t *testing.T, addr, id, user, pass string) (*paho.Client, byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := paho.NewClient(paho.ClientConfig{ClientID: id, Conn: conn, OnClientError: func(error) {}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ca, err := c.Connect(ctx, &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30,
		UsernameFlag: user != "", Username: user, PasswordFlag: user != "", Password: []byte(pass)})
	if ca == nil {
		t.Fatalf("connect %s: %v", id, err)
	}
	if ca.ReasonCode != 0 {
		conn.Close()
		return nil, ca.ReasonCode
	}
	t.Cleanup(func() { c.Disconnect(&paho.Disconnect{}) })
	return c, 0
}

func puback(t *testing.T, c *paho.Client, topic string) byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := c.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte("x")})
	if r == nil {
		t.Fatalf("publish %s: %v", topic, err)
	}
	return r.ReasonCode
}

// TestSIGHUPReloadsAuthFiles runs the real binary with a password file and an ACL file, changes both, sends
// SIGHUP and checks the new rules apply (to a client connected before the reload too), then that a broken file
// is logged and the previous rules kept.
func TestSIGHUPReloadsAuthFiles(t *testing.T) {
	bin := buildLoopmq(t)
	dir := t.TempDir()
	pwPath, aclPath := filepath.Join(dir, "passwd"), filepath.Join(dir, "acl")
	if err := runPasswd([]string{"-c", "-b", pwPath, "dev1", "old"}, nil, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(aclPath, []byte("pattern readwrite devices/%u/#\n"), 0o600)
	cmd, log, addr := startLoopmq(t, bin, "-password-file", pwPath, "-acl-file", aclPath)
	if !strings.Contains(log.String(), "password_file="+pwPath) {
		t.Fatalf("start log does not name the password file:\n%s", log.String())
	}
	c, rc := v5(t, addr, "dev1-a", "dev1", "old")
	if rc != 0 {
		t.Fatalf("connect: %#x", rc)
	}
	if rc := puback(t, c, "devices/dev1/t"); rc != 0 {
		t.Fatalf("permitted publish: %#x", rc)
	}
	if rc := puback(t, c, "shared/t"); rc != 0x87 {
		t.Fatalf("denied publish: %#x, want 0x87", rc)
	}

	// New password, and shared/# granted to dev1.
	if err := runPasswd([]string{"-b", pwPath, "dev1", "new"}, nil, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(aclPath, []byte("pattern readwrite devices/%u/#\nuser dev1\ntopic write shared/#\n"), 0o600)
	cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, log, "auth files reloaded")
	if rc := puback(t, c, "shared/t"); rc != 0 {
		t.Fatalf("after SIGHUP, the connected client's publish: %#x, want 0", rc)
	}
	if _, rc := v5(t, addr, "dev1-b", "dev1", "old"); rc != 0x87 {
		t.Fatalf("old password after SIGHUP: %#x, want 0x87", rc)
	}
	if _, rc := v5(t, addr, "dev1-c", "dev1", "new"); rc != 0 {
		t.Fatalf("new password after SIGHUP: %#x, want 0", rc)
	}

	// A broken ACL: logged with its line, old rules kept.
	os.WriteFile(aclPath, []byte("user dev1\nnonsense here\n"), 0o600)
	cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, log, aclPath+":2:")
	if !strings.Contains(log.String(), "keeping the previous rules") {
		t.Fatalf("broken reload not reported:\n%s", log.String())
	}
	if rc := puback(t, c, "shared/t"); rc != 0 {
		t.Fatalf("after a broken reload: %#x, want 0 (previous rules)", rc)
	}
	if _, rc := v5(t, addr, "dev1-d", "dev1", "new"); rc != 0 {
		t.Fatalf("after a broken reload, password: %#x, want 0", rc)
	}
}

func waitLog(t *testing.T, log *syncBuffer, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(log.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("log never said %q:\n%s", s, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestNoAuthLogsOnce: with nothing configured the broker says, once, that anyone may connect.
func TestNoAuthLogsOnce(t *testing.T) {
	bin := buildLoopmq(t)
	_, log, addr := startLoopmq(t, bin)
	if _, rc := v5(t, addr, "anyone", "", ""); rc != 0 {
		t.Fatalf("anonymous without auth: %#x", rc)
	}
	if n := strings.Count(log.String(), "anyone may connect"); n != 1 {
		t.Fatalf("%d 'anyone may connect' lines, want 1:\n%s", n, log.String())
	}
}

// TestStartRefusesBrokenPasswordFile: the daemon stops at start naming file:line.
func TestStartRefusesBrokenPasswordFile(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "passwd")
	os.WriteFile(pw, []byte("# ok\nalice:$7$101$bad\n"), 0o600)
	_, _, err := parseOptions([]string{"-password-file", pw})
	if err != nil {
		t.Fatal(err)
	}
	err = run([]string{"-tcp", "127.0.0.1:0", "-ws", "", "-http", "", "-password-file", pw})
	if err == nil || !strings.Contains(err.Error(), pw+":2:") {
		t.Fatalf("run: %v, want an error naming %s:2", err, pw)
	}
}

// TestPasswdReadByMosquitto: a file written by `loopmq passwd` (batch and prompt forms) is read by Debian's
// mosquitto: right passwords connect, a wrong one is refused.
func TestPasswdReadByMosquitto(t *testing.T) {
	mosq := testenv.Mosquitto(t)
	_, pub := testenv.MosquittoClients(t)
	dir := t.TempDir()
	pw := filepath.Join(dir, "passwd")
	if err := runPasswd([]string{"-c", "-b", pw, "alice", "a-secret"}, nil, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if err := runPasswd([]string{pw, "bob"}, strings.NewReader("b secret\nb secret\n"), &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if err := runPasswd([]string{"-b", pw, "carol", "c"}, nil, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if err := runPasswd([]string{"-D", pw, "carol"}, nil, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	conf := filepath.Join(dir, "mosquitto.conf")
	text := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous false\npassword_file %s\n", port, pw)
	if os.Geteuid() == 0 {
		text += "user root\n" // as root, mosquitto would drop to "mosquitto", who cannot read the 0600 file
	}
	os.WriteFile(conf, []byte(text), 0o600)
	m := exec.Command(mosq, "-c", conf)
	var mlog syncBuffer
	m.Stderr, m.Stdout = &mlog, &mlog
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { m.Process.Kill(); m.Wait() }()
	mpub := func(user, pass string) error {
		var err error
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			out, e := exec.Command(pub, "-h", "127.0.0.1", "-p", fmt.Sprint(port), "-u", user, "-P", pass,
				"-t", "t", "-m", "m").CombinedOutput()
			if e == nil {
				return nil
			}
			if strings.Contains(string(out), "not authori") {
				return fmt.Errorf("%v: %s", e, out)
			}
			err = fmt.Errorf("%v: %s", e, out) // not listening yet: retry
		}
		return err
	}
	for _, c := range []struct {
		user, pass string
		ok         bool
	}{{"alice", "a-secret", true}, {"bob", "b secret", true}, {"alice", "b secret", false}, {"carol", "c", false}} {
		err := mpub(c.user, c.pass)
		if (err == nil) != c.ok {
			t.Errorf("mosquitto, %s/%s: %v (want ok=%v)\n%s", c.user, c.pass, err, c.ok, mlog.String())
		}
	}
}

// TestMosquittoPasswdReadByLoopmq: mosquitto_passwd's file, read by the loopmq binary; and `loopmq passwd`
// changes it in a form mosquitto_passwd's own broker-side reader (auth.LoadPasswordFile here) keeps reading.
func TestMosquittoPasswdReadByLoopmq(t *testing.T) {
	mp := testenv.Command(t, "mosquitto_passwd", "mosquitto", "/usr/bin/mosquitto_passwd")
	bin := buildLoopmq(t)
	pw := filepath.Join(t.TempDir(), "passwd")
	if out, err := exec.Command(mp, "-c", "-b", pw, "dev", "d3v").CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd: %v %s", err, out)
	}
	if out, err := exec.Command(mp, "-b", pw, "ops", "0ps").CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd: %v %s", err, out)
	}
	if out, err := exec.Command(bin, "passwd", "-b", pw, "dev", "changed").CombinedOutput(); err != nil {
		t.Fatalf("loopmq passwd: %v %s", err, out)
	}
	_, _, addr := startLoopmq(t, bin, "-password-file", pw)
	for _, c := range []struct {
		user, pass string
		want       byte
	}{{"ops", "0ps", 0}, {"dev", "changed", 0}, {"dev", "d3v", 0x87}, {"ops", "wrong", 0x87}, {"", "", 0x87}} {
		if _, rc := v5(t, addr, "c-"+c.user+c.pass, c.user, c.pass); rc != c.want {
			t.Errorf("%s/%s: CONNACK %#x, want %#x", c.user, c.pass, rc, c.want)
		}
	}
	// mosquitto_passwd accepts the file loopmq rewrote: it deletes an entry from it.
	if out, err := exec.Command(mp, "-D", pw, "ops").CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd -D on loopmq's file: %v %s", err, out)
	}
	p, err := auth.LoadPasswordFile(pw)
	if err != nil || p.Has("ops") || !p.Check("dev", []byte("changed")) {
		t.Fatalf("after mosquitto_passwd -D: %v has ops=%v", err, p != nil && p.Has("ops"))
	}
}

// TestPasswdCommand covers the argument forms and the refusals of `loopmq passwd`.
func TestPasswdCommand(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "passwd")
	var out bytes.Buffer
	if err := runPasswd([]string{pw, "u"}, strings.NewReader("x\nx\n"), &out); err == nil {
		t.Fatal("a missing file without -c was accepted")
	}
	os.WriteFile(pw, []byte("# keep me\n"), 0o600)
	if err := runPasswd([]string{pw, "u"}, strings.NewReader("one\ntwo\n"), &out); err == nil ||
		!strings.Contains(err.Error(), "do not match") {
		t.Fatalf("different passwords: %v", err)
	}
	if err := runPasswd([]string{pw, "u"}, strings.NewReader("\n\n"), &out); err == nil {
		t.Fatal("empty password accepted")
	}
	if !strings.Contains(out.String(), "Password: ") || !strings.Contains(out.String(), "Reenter password: ") {
		t.Fatalf("prompts: %q", out.String())
	}
	if err := runPasswd([]string{pw, "u"}, strings.NewReader("pw\r\npw\r\n"), &out); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(pw)
	if !strings.HasPrefix(string(b), "# keep me\nu:$7$101$") {
		t.Fatalf("file: %q", b)
	}
	p, _ := auth.LoadPasswordFile(pw)
	if !p.Check("u", []byte("pw")) {
		t.Fatal("prompted password does not check")
	}
	for _, args := range [][]string{{"-c", "-D", pw, "u"}, {"-b", "-D", pw, "u", "x"}, {"-b", pw, "u"}, {pw}, {"-D", pw, "nobody"}} {
		if err := runPasswd(args, strings.NewReader(""), &out); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
	if err := runPasswd([]string{"-c", "-b", pw, "v", "w"}, nil, &out); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(pw); strings.Contains(string(b), "u:") || !strings.HasPrefix(string(b), "v:$7$") {
		t.Fatalf("-c did not replace the file: %q", b)
	}
	if fi, _ := os.Stat(pw); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestAuthOptions: the YAML keys and the flags, a flag winning over the file.
func TestAuthOptions(t *testing.T) {
	dir := t.TempDir()
	pw, acl := filepath.Join(dir, "pw"), filepath.Join(dir, "acl")
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte("password_file: "+pw+"\nallow_anonymous: true\nacl_file: "+acl+"\n"), 0o600)
	o, _, err := parseOptions([]string{"-config", cfg})
	if err != nil || o.PasswordFile != pw || !o.AllowAnonymous || o.ACLFile != acl {
		t.Fatalf("from YAML: %v %q %v %q", err, o.PasswordFile, o.AllowAnonymous, o.ACLFile)
	}
	o, _, err = parseOptions([]string{"-config", cfg, "-allow-anonymous=false", "-password-file", "x", "-acl-file", "y"})
	if err != nil || o.PasswordFile != "x" || o.AllowAnonymous || o.ACLFile != "y" {
		t.Fatalf("flags over YAML: %v %q %v %q", err, o.PasswordFile, o.AllowAnonymous, o.ACLFile)
	}
}
