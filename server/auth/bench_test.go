package auth

import (
	"strconv"
	"strings"
	"testing"
)

// acl1000 is a 1,000-line ACL of the shape a device fleet has: a few anonymous lines, patterns, and
// 330 user sections of three lines.
func acl1000() []byte {
	var b strings.Builder
	b.WriteString("topic read public/#\ntopic deny public/secret\n")
	b.WriteString("pattern readwrite devices/%u/#\npattern deny devices/%u/locked\npattern read clients/%c/in\n")
	b.WriteString("pattern write clients/%c/out\npattern read broadcast/+/%u\n")
	for i := 0; i < 331; i++ {
		u := "u" + strconv.Itoa(i)
		b.WriteString("user " + u + "\ntopic readwrite fleet/" + u + "/#\ntopic read fleet/shared/#\n")
	}
	return []byte(b.String())
}

// acl1000OneSection is the worst case: one user with 1,000 lines, the granting one last.
func acl1000OneSection() []byte {
	var b strings.Builder
	b.WriteString("user big\n")
	for i := 0; i < 998; i++ {
		b.WriteString("topic readwrite site/" + strconv.Itoa(i) + "/+/temperature\n")
	}
	b.WriteString("topic deny site/999/x/#\ntopic readwrite site/999/+/temperature\n")
	return []byte(b.String())
}

// acl1000Patterns: 1,000 patterns, which apply to every client.
func acl1000Patterns() []byte {
	var b strings.Builder
	for i := 0; i < 1000; i++ {
		b.WriteString("pattern readwrite p" + strconv.Itoa(i) + "/%u/%c/#\n")
	}
	return []byte(b.String())
}

func lineCount(b []byte) int { return strings.Count(string(b), "\n") }

func BenchmarkCanPublish(b *testing.B) {
	for _, c := range []struct {
		name, user, id string
		acl            []byte
		topics         []string
	}{
		{"1000lines/users/own-section", "u200", "c200", acl1000(), []string{"fleet/u200/telemetry"}},
		{"1000lines/users/pattern", "u200", "c200", acl1000(), []string{"devices/u200/telemetry"}},
		{"1000lines/one-section/cached", "big", "c", acl1000OneSection(), []string{"site/999/a/temperature"}},
		{"1000lines/one-section/uncached", "big", "c", acl1000OneSection(), []string{"site/999/a/temperature",
			"site/999/b/temperature", "site/999/c/temperature", "site/999/d/temperature", "site/999/e/temperature"}},
		{"1000lines/patterns/cached", "u", "c", acl1000Patterns(), []string{"p999/u/c/x"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			if n := lineCount(c.acl); n < 1000 {
				b.Fatalf("%d lines", n)
			}
			acl, err := ParseACL("bench", c.acl)
			if err != nil {
				b.Fatal(err)
			}
			r := acl.For(c.user, false, c.id)
			topics := make([][]byte, len(c.topics))
			for i, tp := range c.topics {
				topics[i] = []byte(tp)
				if !r.CanPublish(topics[i]) {
					b.Fatalf("%q not permitted", tp)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if !r.CanPublish(topics[i%len(topics)]) {
					b.Fatal("denied")
				}
			}
		})
	}
}

func BenchmarkCanRead(b *testing.B) {
	acl, _ := ParseACL("bench", acl1000())
	r := acl.For("u200", false, "c200")
	topic := []byte("fleet/shared/news")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if !r.CanRead(topic) {
			b.Fatal("denied")
		}
	}
}

func BenchmarkCanSubscribe(b *testing.B) {
	acl, _ := ParseACL("bench", acl1000())
	r := acl.For("u200", false, "c200")
	filter := []byte("devices/u200/+/status")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if !r.CanSubscribe(filter) {
			b.Fatal("denied")
		}
	}
}

// BenchmarkFor is the per-connection cost of compiling a client's rights.
func BenchmarkFor(b *testing.B) {
	acl, _ := ParseACL("bench", acl1000())
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		acl.For("u200", false, "c200")
	}
}

func BenchmarkParseACL1000(b *testing.B) {
	data := acl1000()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := ParseACL("bench", data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheck is one password check per hash kind, at the parameters each Mosquitto version writes.
func BenchmarkCheck(b *testing.B) {
	var p Passwords
	p.Set("pbkdf2-101", []byte("pw"))
	text := "sha512:$6$Rk5zm4JriXBiYMUX$3TWzdqIQlD/xd2IsdRvX32uf4sEXvtD/VVxQb9XQpFwWanBG1zPdcR8BqfOgWfSIDu+ksyIzEOfZGTfNt9IjFw==\n"
	q, err := ParsePasswords("bench", []byte(text))
	if err != nil {
		b.Fatal(err)
	}
	p.lines = append(p.lines, q.lines...)
	p.users["sha512"] = len(p.lines) - 1
	if err := p.SetIterations("pbkdf2-210000", []byte("pw"), 210000); err != nil { // mosquitto 2.1's default
		b.Fatal(err)
	}
	// Mosquitto 2.1's argon2id parameters: t=1, m=47104 KiB, p=1, 64-byte salt and hash.
	salt := strings.Repeat("c29tZXNhbHQ", 8)[:86]
	a, err := ParsePasswords("bench", []byte("argon2id:$argon2id$v=19$m=47104,t=1,p=1$"+salt+"$"+salt+"\n"))
	if err != nil {
		b.Fatal(err)
	}
	p.lines = append(p.lines, a.lines...)
	p.users["argon2id"] = len(p.lines) - 1
	for _, u := range []string{"sha512", "pbkdf2-101", "pbkdf2-210000", "argon2id"} {
		b.Run(u, func(b *testing.B) {
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				p.Check(u, []byte("pw"))
			}
		})
	}
}

// TestCanPublishDoesNotAllocate holds the requirement: a permitted publish costs no allocation,
// with or without the decision cache, under a 1,000-line ACL.
func TestCanPublishDoesNotAllocate(t *testing.T) {
	for _, c := range []struct {
		name, user string
		acl        []byte
		topic      string
	}{
		{"users", "u200", acl1000(), "devices/u200/telemetry"},
		{"one-section", "big", acl1000OneSection(), "site/999/a/temperature"},
		{"patterns", "u", acl1000Patterns(), "p999/u/c/x"},
	} {
		acl, err := ParseACL("t", c.acl)
		if err != nil {
			t.Fatal(err)
		}
		r := acl.For(c.user, false, "c")
		topic := []byte(c.topic)
		if !r.CanPublish(topic) {
			t.Fatalf("%s: %q not permitted", c.name, c.topic)
		}
		if n := testing.AllocsPerRun(100, func() { r.CanPublish(topic); r.CanRead(topic) }); n != 0 {
			t.Errorf("%s: %v allocations per check, want 0", c.name, n)
		}
	}
}
