package auth

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestPasswordFixtures(t *testing.T) {
	for _, c := range []struct {
		file, user, password string
		want                 bool
	}{
		{"mosquitto_passwd.pwfile", "alice", "alice-secret", true},
		{"mosquitto_passwd.pwfile", "alice", "alice-secreT", false},
		{"mosquitto_passwd.pwfile", "alice", "", false},
		{"mosquitto_passwd.pwfile", "bob", "b0b:with colon", true},
		{"mosquitto_passwd.pwfile", "bob", "b0b", false},
		{"mosquitto_passwd.pwfile", "carol smith", "ünïcødé pass", true},
		{"mosquitto_passwd.pwfile", "carol", "ünïcødé pass", false},
		{"mosquitto_passwd.pwfile", "mallory", "alice-secret", false},
		{"mosquitto_passwd_sha512.pwfile", "dave", "dave-pw", true},
		{"mosquitto_passwd_sha512.pwfile", "dave", "dave-pW", false},
		{"mosquitto_passwd_sha512.pwfile", "erin", "", true},
		{"mosquitto_passwd_sha512.pwfile", "erin", "x", false},
		{"argon2id.pwfile", "small", "password", true},
		{"argon2id.pwfile", "small", "passwore", false},
		{"argon2id.pwfile", "reference", "password", true},
		{"argon2id.pwfile", "reference", "Password", false},
	} {
		p, err := LoadPasswordFile(filepath.Join("testdata", c.file))
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Check(c.user, []byte(c.password)); got != c.want {
			t.Errorf("%s: Check(%q, %q) = %v, want %v", c.file, c.user, c.password, got, c.want)
		}
	}
}

const alicePBKDF2 = "$7$101$uyPwFZXkN57sPI5A$jDRfUtSG/DV82/00+FzsVKW+p1BX3Lx720JtApqGSgitlFFCjIeh04Ot3Hwq1eHvB+YJ4rviKPnkF5nEdg7Y5w=="

func TestParsePasswordsErrors(t *testing.T) {
	for _, c := range []struct {
		name, text string
		line       int
		msg        string
	}{
		{"no colon", "# ok\nalice\n", 2, "no ':'"},
		{"empty user", ":" + alicePBKDF2 + "\n", 1, "empty user name"},
		{"plain text password", "alice:secret\n", 1, "not hashed"},
		{"empty hash", "alice:\n", 1, "not hashed"},
		{"unknown type", "alice:$5$abc$def\n", 1, "unknown hash type"},
		{"$7$ missing field", "alice:$7$101$uyPwFZXkN57sPI5A\n", 1, "$7$iterations$salt$hash"},
		{"$7$ extra field", "alice:" + alicePBKDF2 + "$x\n", 1, "$7$iterations$salt$hash"},
		{"zero iterations", "alice:" + strings.Replace(alicePBKDF2, "$101$", "$0$", 1) + "\n", 1, "iterations"},
		{"iterations not a number", "alice:" + strings.Replace(alicePBKDF2, "$101$", "$1O1$", 1) + "\n", 1, "iterations"},
		{"short salt", "alice:" + strings.Replace(alicePBKDF2, "uyPwFZXkN57sPI5A", "uyPwFZXk", 1) + "\n", 1, "salt"},
		{"bad base64 hash", "alice:" + alicePBKDF2[:len(alicePBKDF2)-4] + "!!==\n", 1, "hash is not base64"},
		{"short hash", "alice:$6$uyPwFZXkN57sPI5A$AAAA\n", 1, "hash is not base64 of 64 bytes"},
		{"duplicate user", "alice:" + alicePBKDF2 + "\n\nalice:" + alicePBKDF2 + "\n", 3, "already has an entry on line 1"},
		{"argon2 version", "a:$argon2id$v=16$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4\n", 1, "v=19"},
		{"argon2 params", "a:$argon2id$v=19$m=4,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4\n", 1, "out of range"},
		{"argon2i", "a:$argon2i$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4\n", 1, "unknown hash type"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParsePasswords("pw", []byte(c.text))
			var fe *FileError
			if !errors.As(err, &fe) || fe.File != "pw" || fe.Line != c.line || !strings.Contains(fe.Msg, c.msg) {
				t.Fatalf("err = %v, want pw:%d: ...%s...", err, c.line, c.msg)
			}
		})
	}
}

// TestParsePasswordsLayout reads the layouts Mosquitto's broker accepts: comments, blank lines, CR LF,
// white space around the fields, and anything after a second ':' ignored.
func TestParsePasswordsLayout(t *testing.T) {
	text := "# users\n\n  \t\n   # indented comment\r\n  alice  :  " + alicePBKDF2 + " \r\n" +
		"bob:" + alicePBKDF2 + ":trailing field\n" + "carol:" + alicePBKDF2
	p, err := ParsePasswords("pw", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if p.Len() != 3 {
		t.Fatalf("Len = %d, want 3", p.Len())
	}
	for _, u := range []string{"alice", "bob", "carol"} {
		if !p.Check(u, []byte("alice-secret")) {
			t.Errorf("Check(%q) failed", u)
		}
	}
	var out bytes.Buffer
	p.WriteTo(&out)
	if want := strings.ReplaceAll(text, "\r\n", "\n") + "\n"; out.String() != want {
		t.Fatalf("WriteTo changed the file:\n%q\nwant\n%q", out.String(), want)
	}
}

func TestCheckPasswordEdges(t *testing.T) {
	p, err := LoadPasswordFile("testdata/mosquitto_passwd_sha512.pwfile")
	if err != nil {
		t.Fatal(err)
	}
	if p.Check("erin", nil) {
		t.Error("a nil password (none sent) matched the empty password")
	}
	if !p.Check("erin", []byte{}) {
		t.Error("the empty password did not match")
	}
	if !p.Check("dave", []byte("dave-pw\x00ignored")) {
		t.Error("bytes after a NUL must be ignored, as Mosquitto does")
	}
}

func TestSetWriteFileKeepsOtherLines(t *testing.T) {
	orig, err := os.ReadFile("testdata/mosquitto_passwd.pwfile")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "pw")
	text := "# managed by hand\n" + string(orig)
	if err := os.WriteFile(path, []byte(text), 0o640); err != nil {
		t.Fatal(err)
	}
	p, err := LoadPasswordFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Set("bob", []byte("new bob")); err != nil {
		t.Fatal(err)
	}
	if err := p.Set("zoe", []byte("zoe-pw")); err != nil {
		t.Fatal(err)
	}
	if err := p.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	want := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) != len(want)+1 {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want)+1, data)
	}
	for i, l := range want {
		if strings.HasPrefix(l, "bob:") {
			if l == lines[i] || !strings.HasPrefix(lines[i], "bob:$7$101$") {
				t.Errorf("line %d: bob's entry not replaced in place: %q", i+1, lines[i])
			}
			continue
		}
		if lines[i] != l {
			t.Errorf("line %d changed: %q, want %q", i+1, lines[i], l)
		}
	}
	if !strings.HasPrefix(lines[len(lines)-1], "zoe:$7$101$") {
		t.Errorf("new entry not appended as $7$101: %q", lines[len(lines)-1])
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want the file's own 0640", fi.Mode().Perm())
	}
	again, err := LoadPasswordFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ user, pw string }{{"alice", "alice-secret"}, {"bob", "new bob"}, {"zoe", "zoe-pw"},
		{"carol smith", "ünïcødé pass"}} {
		if !again.Check(c.user, []byte(c.pw)) {
			t.Errorf("after WriteFile: %s does not log in", c.user)
		}
	}
	if again.Check("bob", []byte("b0b:with colon")) {
		t.Error("bob's old password still works")
	}
	if err := again.Delete("alice"); err != nil || again.Has("alice") || !again.Check("zoe", []byte("zoe-pw")) {
		t.Fatalf("Delete: err %v", err)
	}
	if err := again.Delete("alice"); !errors.Is(err, ErrUnknownUser) {
		t.Fatalf("second Delete: %v", err)
	}
}

func TestSetRejects(t *testing.T) {
	var p Passwords
	for _, u := range []string{"", "a:b", " a", "a ", "a\nb", "#a", "a\x00"} {
		if err := p.Set(u, []byte("x")); !errors.Is(err, ErrBadUsername) {
			t.Errorf("Set(%q): %v, want ErrBadUsername", u, err)
		}
	}
	if err := p.Set("u", []byte("a\x00b")); !errors.Is(err, ErrBadPassword) {
		t.Errorf("NUL in password: %v", err)
	}
	if err := p.Set("user name", []byte("x")); err != nil || !p.Check("user name", []byte("x")) {
		t.Errorf("zero Passwords: Set/Check failed: %v", err)
	}
}

// needTool finds a Debian mosquitto tool: a missing tool fails the test, except under -short.
func needTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		path = "/usr/sbin/" + name
		if _, err := os.Stat(path); err != nil {
			if testing.Short() {
				t.Skipf("%s not installed (-short)", name)
			}
			t.Fatalf("%s is required (Debian package mosquitto / mosquitto-clients)", name)
		}
	}
	return path
}

// TestMosquittoPasswdInterop makes files with Debian's mosquitto_passwd and reads them, then lets
// mosquitto_passwd update a file this package wrote and reads the result again.
func TestMosquittoPasswdInterop(t *testing.T) {
	tool := needTool(t, "mosquitto_passwd")
	dir := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(tool, args...).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd %v: %v\n%s", args, err, out)
		}
	}
	theirs := filepath.Join(dir, "theirs")
	run("-c", "-b", theirs, "u1", "pw one")
	run("-b", theirs, "u2", "pw:two")
	run("-H", "sha512", "-b", theirs, "u3", "pw three")
	p, err := LoadPasswordFile(theirs)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ user, pw string }{{"u1", "pw one"}, {"u2", "pw:two"}, {"u3", "pw three"}} {
		if !p.Check(c.user, []byte(c.pw)) || p.Check(c.user, []byte(c.pw+"x")) {
			t.Errorf("%s: mosquitto_passwd's entry does not check", c.user)
		}
	}

	// Ours, then theirs on top: mosquitto_passwd must read our file to update it.
	ours := filepath.Join(dir, "ours")
	var q Passwords
	q.Set("mine", []byte("my pw"))
	q.Set("also", []byte("other"))
	if err := q.WriteFile(ours); err != nil {
		t.Fatal(err)
	}
	run("-b", ours, "added", "by them")
	run("-b", ours, "also", "changed by them")
	run("-D", ours, "mine")
	back, err := LoadPasswordFile(ours)
	if err != nil {
		t.Fatal(err)
	}
	if back.Has("mine") || !back.Check("added", []byte("by them")) || !back.Check("also", []byte("changed by them")) {
		t.Fatalf("after mosquitto_passwd edited our file: %v", back.users)
	}
}

func TestFileErrorAndMissingFiles(t *testing.T) {
	_, err := ParsePasswords("users.pw", []byte("\nalice\n"))
	if err == nil || err.Error() != "users.pw:2: no ':' between user name and password hash" {
		t.Fatalf("err = %v", err)
	}
	if got := (&FileError{Line: 3, Msg: "m"}).Error(); got != "<input>:3: m" {
		t.Fatalf("unnamed: %q", got)
	}
	if _, err := LoadPasswordFile("testdata/missing"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("LoadPasswordFile(missing) = %v", err)
	}
	if _, err := LoadACLFile("testdata/missing"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("LoadACLFile(missing) = %v", err)
	}
}

func TestWriteFileNewIsPrivate(t *testing.T) {
	var p Passwords
	p.Set("u", []byte("pw"))
	path := filepath.Join(t.TempDir(), "new")
	if err := p.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("new file: %v, %v; want mode 0600", fi.Mode(), err)
	}
	if err := p.WriteFile(filepath.Join(t.TempDir(), "no", "such", "dir")); err == nil {
		t.Fatal("WriteFile into a missing directory succeeded")
	}
}
