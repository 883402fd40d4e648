package auth

import (
	"strings"
	"testing"
)

func TestMatchTopic(t *testing.T) {
	for _, c := range []struct {
		filter, topic string
		want          bool
	}{
		{"a/b", "a/b", true},
		{"a/b", "a/c", false},
		{"a/b", "a/b/c", false},
		{"a/b/c", "a/b", false},
		{"a/+", "a/b", true},
		{"a/+", "a/", true},
		{"a/+", "a", false},
		{"a/+", "a/b/c", false},
		{"+/+", "/", true},
		{"+", "a", true},
		{"+", "/a", false},
		{"a/#", "a", true}, // '#' matches the parent level too
		{"a/#", "a/b/c", true},
		{"a/#", "ab", false},
		{"#", "a/b", true},
		{"#", "/", true},
		{"a/+/#", "a", false},
		{"a/+/#", "a/b", true},
		{"a/+/c", "a/b/c", true},
		{"#", "$SYS/x", false}, // '$' topics are matched only by '$' filters
		{"+/x", "$SYS/x", false},
		{"$SYS/#", "$SYS/broker/uptime", true},
		{"$SYS/#", "SYS/x", false},
		{"a/+", "a/+", false}, // a topic with a wildcard matches nothing (MOSQ_ERR_INVAL)
		{"a/#", "a/#", false},
		{"a/b", "", false},
		{"a b/c", "a b/c", true},
	} {
		if got := matchTopic(c.filter, []byte(c.topic)); got != c.want {
			t.Errorf("matchTopic(%q, %q) = %v, want %v", c.filter, c.topic, got, c.want)
		}
	}
}

func TestValidFilter(t *testing.T) {
	for _, c := range []struct {
		filter string
		want   bool
	}{
		{"a/b", true}, {"#", true}, {"+", true}, {"a/+/b", true}, {"/", true}, {"%c/%u", true},
		{"", false}, {"a/#/b", false}, {"a#", false}, {"a+", false}, {"+a", false}, {"a/b#", false},
		{strings.Repeat("a/", 200) + "a", true}, {strings.Repeat("a/", 201) + "a", false},
	} {
		if got := validFilter(c.filter); got != c.want {
			t.Errorf("validFilter(%q) = %v, want %v", c.filter, got, c.want)
		}
	}
}

// TestIntersectsCoversExhaustive checks intersects, covers and meet against their definitions over every
// filter of up to three levels from a small alphabet, with witness topics from a universe large
// enough to hold one whenever one exists (the filters' literals plus a fresh one, one level deeper).
func TestIntersectsCoversExhaustive(t *testing.T) {
	levels := []string{"a", "$x", "", "+"}
	var filters []string
	var gen func(prefix []string)
	gen = func(prefix []string) {
		if len(prefix) > 0 && strings.Join(prefix, "/") != "" {
			filters = append(filters, strings.Join(prefix, "/"))
			filters = append(filters, strings.Join(append(prefix[:len(prefix):len(prefix)], "#"), "/"))
		}
		if len(prefix) == 3 {
			return
		}
		for _, l := range levels {
			gen(append(prefix[:len(prefix):len(prefix)], l))
		}
	}
	gen(nil)
	filters = append(filters, "#")
	var topics [][]byte
	var genT func(prefix []string)
	genT = func(prefix []string) {
		if len(prefix) > 0 {
			topics = append(topics, []byte(strings.Join(prefix, "/")))
		}
		if len(prefix) == 4 {
			return
		}
		for _, l := range []string{"a", "$x", "", "z"} {
			genT(append(prefix[:len(prefix):len(prefix)], l))
		}
	}
	genT(nil)
	for _, a := range filters {
		for _, b := range filters {
			inter, cov := false, true
			for _, tp := range topics {
				ma, mb := matchTopic(a, tp), matchTopic(b, tp)
				if ma && mb {
					inter = true
				}
				if mb && !ma {
					cov = false
				}
			}
			if m, ok := meet(a, b); ok != inter {
				t.Fatalf("meet(%q, %q) ok = %v, want %v", a, b, ok, inter)
			} else if ok {
				for _, tp := range topics {
					if matchTopic(m, tp) != (matchTopic(a, tp) && matchTopic(b, tp)) {
						t.Fatalf("meet(%q, %q) = %q disagrees on %q", a, b, m, tp)
					}
				}
			}
			if got := intersects(a, b); got != inter {
				t.Fatalf("intersects(%q, %q) = %v, want %v", a, b, got, inter)
			}
			if got := covers(a, b); got != cov {
				t.Fatalf("covers(%q, %q) = %v, want %v", a, b, got, cov)
			}
		}
	}
	t.Logf("%d filters x %d filters over %d topics", len(filters), len(filters), len(topics))
}
