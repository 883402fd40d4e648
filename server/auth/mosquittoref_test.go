//go:build mosquittoref

package auth

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The mosquittoref build (go test -tags mosquittoref ./server/auth/) asks mosquitto every question the
// tables of acl_test.go ask, and which ACL files it accepts at all.

// TestRefEveryKind compares every decision of the every-kind table that a client can ask mosquitto
// (a topic with a wildcard cannot be published; a client sending an empty user name is not in the
// password file).
func TestRefEveryKind(t *testing.T) {
	var cases []refCase
	for _, c := range everyKindCases {
		if strings.ContainsAny(c.topic, "+#") || (!c.who.anonymous && c.who.user == "") {
			continue
		}
		r, _ := ParseACL("x", []byte(everyKindRef(t)))
		sentinel := "clients/" + c.who.id + "/in"
		readable := r.For(c.who.user, c.who.anonymous, c.who.id).CanRead([]byte(sentinel))
		// A read is observable for a topic the writer can publish, or for $SYS/broker/version, which
		// mosquitto keeps retained; the sentinel itself is the end marker.
		observable := c.topic != sentinel && (!strings.HasPrefix(c.topic, "$") || c.topic == "$SYS/broker/version")
		cases = append(cases, refCase{c.who, c.topic, readable && observable})
	}
	compareWithMosquitto(t, everyKindRef(t), cases)
}

// TestRefRules runs the small ACL files of TestRightsRules in mosquitto: publish decisions on the file
// as it is, read decisions with a sentinel pattern added.
func TestRefRules(t *testing.T) {
	for _, c := range rulesCases {
		if strings.ContainsAny(c.topic, "+#") {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			who := c.who
			compareWithMosquitto(t, c.acl+"\nuser writer\ntopic write #\n", []refCase{{who, c.topic, false}})
			if !strings.HasPrefix(c.topic, "$") {
				compareWithMosquitto(t, c.acl+"\npattern read clients/%c/in\nuser writer\ntopic write #\n",
					[]refCase{{who, c.topic, true}})
			}
		})
	}
}

// TestRefFileAcceptance checks that ParseACL refuses exactly the files mosquitto refuses to start with.
func TestRefFileAcceptance(t *testing.T) {
	texts := []string{
		"topic read a\n",
		"  # indented comment\n",
		"\ttopic read a\n",
		"topic\tread a\n",
		"topic read\n",
		"topic reed a/b\n",
		"topic read a/#/b\n",
		"pattern read a/+x\n",
		"user\n",
		"user   \n",
		"frob\n",
		"topic\n",
		"   topic   write   a b  \n",
		"#comment\n\n\nuser x y\ntopic deny #\n",
		"topic read " + strings.Repeat("a/", 200) + "a\n",
		"topic read " + strings.Repeat("a/", 201) + "a\n",
		"TOPIC read a\n",
		"topic READ a\n",
	}
	for _, text := range texts {
		_, err := ParseACL("x", []byte(text))
		if ours, theirs := err == nil, mosquittoStarts(t, text); ours != theirs {
			t.Errorf("%q: ParseACL accepts %v (%v), mosquitto starts %v", text, ours, err, theirs)
		}
	}
}

// mosquittoStarts reports whether mosquitto starts with aclText as its acl_file.
func mosquittoStarts(t *testing.T, aclText string) bool {
	t.Helper()
	dir := t.TempDir()
	acl := filepath.Join(dir, "acl")
	os.WriteFile(acl, []byte(aclText), 0o600)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	conf := filepath.Join(dir, "conf")
	text := "listener " + port + " 127.0.0.1\nallow_anonymous true\nacl_file " + acl + "\n"
	if os.Geteuid() == 0 {
		text += "user root\n"
	}
	os.WriteFile(conf, []byte(text), 0o600)
	cmd := exec.Command(needTool(t, "mosquitto"), "-c", conf)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	defer func() { cmd.Process.Kill(); <-exited }()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case <-exited:
			return false
		default:
		}
		if c, err := net.Dial("tcp", "127.0.0.1:"+port); err == nil {
			c.Close()
			return true
		}
	}
	t.Fatalf("mosquitto neither started nor exited")
	return false
}
