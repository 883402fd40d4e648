package auth

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func addFiles(f *testing.F, pattern string) {
	names, _ := filepath.Glob(filepath.Join("testdata", pattern))
	for _, n := range names {
		data, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

// FuzzPasswordFile: ParsePasswords never panics, and a file it accepts comes back unchanged from
// WriteTo and parses again to the same entries.
func FuzzPasswordFile(f *testing.F) {
	addFiles(f, "*.pwfile")
	f.Add([]byte("# c\n\nalice:" + alicePBKDF2 + ":x\r\n"))
	f.Add([]byte("a:$6$uyPwFZXkN57sPI5A$AAAA\n"))
	f.Add([]byte("a:$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQ$AAAAAA\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePasswords("fuzz", data)
		if err != nil {
			if _, ok := err.(*FileError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		var out bytes.Buffer
		p.WriteTo(&out)
		q, err := ParsePasswords("again", out.Bytes())
		if err != nil {
			t.Fatalf("WriteTo output does not parse: %v\n%q", err, out.Bytes())
		}
		if q.Len() != p.Len() || len(q.lines) != len(p.lines) {
			t.Fatalf("round trip changed the file: %d/%d users, %d/%d lines", q.Len(), p.Len(), len(q.lines), len(p.lines))
		}
		for u, i := range p.users {
			a, b := p.lines[i].h, q.lines[q.users[u]].h
			if a.kind != b.kind || a.iterations != b.iterations || !bytes.Equal(a.salt, b.salt) || !bytes.Equal(a.sum, b.sum) {
				t.Fatalf("user %q: entry changed in the round trip", u)
			}
			if cheap(a) {
				p.Check(u, []byte("probe"))
			}
		}
	})
}

// cheap reports whether checking h is quick enough for a fuzz iteration.
func cheap(h *hash) bool {
	switch h.kind {
	case kindArgon2id:
		return h.memory <= 1024 && h.iterations <= 4
	case kindPBKDF2:
		return h.iterations <= 1000
	}
	return true
}

// FuzzACLFile: ParseACL never panics, and the canonical form WriteTo gives parses again to the same
// decisions for an anonymous client and a user, on the fuzzed topic and a few fixed ones.
func FuzzACLFile(f *testing.F) {
	names, _ := filepath.Glob("testdata/*.acl")
	for _, n := range names {
		data, _ := os.ReadFile(n)
		f.Add(data, "alice", "a1", "alice/x")
	}
	f.Add([]byte("topic read\npattern deny %u/%c\nuser  a b \ntopic a/#\n"), "a b", "c1", "a/x")
	f.Fuzz(func(t *testing.T, data []byte, user, clientID, topic string) {
		acl, err := ParseACL("fuzz", data)
		if err != nil {
			if _, ok := err.(*FileError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		var out bytes.Buffer
		acl.WriteTo(&out)
		again, err := ParseACL("again", out.Bytes())
		if err != nil {
			t.Fatalf("WriteTo output does not parse: %v\n%s", err, out.Bytes())
		}
		probes := [][]byte{[]byte(topic), []byte("a"), []byte("a/b"), []byte(user + "/" + clientID), []byte("$SYS/x")}
		for _, anonymous := range []bool{true, false} {
			r1, r2 := acl.For(user, anonymous, clientID), again.For(user, anonymous, clientID)
			for _, p := range probes {
				if r1.CanRead(p) != r2.CanRead(p) || r1.CanPublish(p) != r2.CanPublish(p) || r1.CanSubscribe(p) != r2.CanSubscribe(p) {
					t.Fatalf("anonymous=%v %q: decisions differ after WriteTo\n%s", anonymous, p, out.Bytes())
				}
			}
		}
	})
}

// FuzzACLCheck: matchTopic agrees with the transcription of Mosquitto's matcher, and intersects,
// covers and meet agree with matchTopic on the fuzzed topic.
func FuzzACLCheck(f *testing.F) {
	f.Add("a/+/#", "a/b/c", "+/b/#")
	f.Add("$SYS/#", "$SYS/x", "#")
	f.Add("a/#", "a", "a/+")
	f.Fuzz(func(t *testing.T, a, topic, b string) {
		if !validFilter(a) {
			return
		}
		ma := matchTopic(a, []byte(topic))
		if want := mosquittoMatches(a, topic); ma != want {
			t.Fatalf("matchTopic(%q, %q) = %v, Mosquitto says %v", a, topic, ma, want)
		}
		if !validFilter(b) {
			return
		}
		mb := matchTopic(b, []byte(topic))
		if ma && mb && !intersects(a, b) {
			t.Fatalf("%q and %q both match %q but intersects says no", a, b, topic)
		}
		if m, ok := meet(a, b); ok && matchTopic(m, []byte(topic)) != (ma && mb) {
			t.Fatalf("meet(%q, %q) = %q disagrees on %q", a, b, m, topic)
		}
		if covers(a, b) && mb && !ma {
			t.Fatalf("covers(%q, %q) but %q matches only the second", a, b, topic)
		}
	})
}
