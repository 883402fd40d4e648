package topic

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// refValidName is the reference for ValidateName, written from the spec's words rather than for speed.
func refValidName(s string) bool {
	return s != "" && len(s) <= MaxLength && utf8.ValidString(s) && !strings.ContainsAny(s, "\x00+#")
}

// refValidFilter is the reference for ValidateFilter on non-shared filters.
func refValidFilter(s string) bool {
	if s == "" || len(s) > MaxLength || !utf8.ValidString(s) || strings.Contains(s, "\x00") {
		return false
	}
	levels := strings.Split(s, "/")
	for i, lv := range levels {
		if strings.Contains(lv, "#") && (lv != "#" || i != len(levels)-1) {
			return false
		}
		if strings.Contains(lv, "+") && lv != "+" {
			return false
		}
	}
	return true
}

// FuzzMatch checks validation against the references and, for every valid (filter, topic) pair, that Matches,
// the Index and the Retained store all agree with the naive reference matcher.
func FuzzMatch(f *testing.F) {
	for _, c := range matchCases {
		f.Add(c.filter, c.topic)
	}
	f.Add("$share/g/a/+", "a/b")
	f.Add("$share//a", "a")
	f.Add("a/\xed\xa0\x80", "a/\x00")
	f.Fuzz(func(t *testing.T, filter, topic string) {
		nameErr := ValidateName([]byte(topic))
		if (nameErr == nil) != refValidName(topic) {
			t.Fatalf("ValidateName(%q) = %v, reference says valid=%v", topic, nameErr, refValidName(topic))
		}
		group, inner, shared, filterErr := ParseShared([]byte(filter))
		if !shared && (filterErr == nil) != refValidFilter(filter) {
			t.Fatalf("ValidateFilter(%q) = %v, reference says valid=%v", filter, filterErr, refValidFilter(filter))
		}
		if shared && filterErr == nil {
			g, rest, ok := strings.Cut(strings.TrimPrefix(filter, "$share/"), "/")
			if !ok || g == "" || strings.ContainsAny(g, "+#") || !refValidFilter(rest) || string(group) != g || string(inner) != rest {
				t.Fatalf("ParseShared(%q) accepted group %q inner %q", filter, group, inner)
			}
		}
		if nameErr != nil || filterErr != nil {
			return
		}
		want := refMatch(string(inner), topic)
		if got := Matches(inner, []byte(topic)); got != want {
			t.Fatalf("Matches(%q, %q) = %v, want %v", inner, topic, got, want)
		}
		x := New()
		if _, err := x.Subscribe([]byte(filter), sub(1, 1)); err != nil {
			t.Fatalf("Subscribe(%q): %v", filter, err)
		}
		x.Subscribe([]byte(topic), sub(2, 0)) // a valid name is a valid filter: exact match always
		got := x.Match([]byte(topic), nil, nil)
		n1 := 0
		for _, s := range got {
			if s.Subscriber == 1 {
				n1++
				if s.Shared != shared {
					t.Fatalf("Shared = %v for filter %q", s.Shared, filter)
				}
			}
		}
		if (n1 == 1) != want || n1 > 1 || len(got) != n1+1 {
			t.Fatalf("Index: filter %q topic %q matched %v, want subscriber 1 %v and subscriber 2", filter, topic, got, want)
		}
		if !x.Unsubscribe([]byte(filter), 1) || !x.Unsubscribe([]byte(topic), 2) || x.Len() != 0 {
			t.Fatalf("Unsubscribe(%q) did not empty the index", filter)
		}
		r := NewRetained[int]()
		r.Set([]byte(topic), 7)
		visits := 0
		r.Walk(inner, Cursor[int]{}, 0, func(tp []byte, m int) bool {
			visits++
			if string(tp) != topic || m != 7 {
				t.Fatalf("Walk(%q) visited %q=%d", inner, tp, m)
			}
			return true
		})
		if (visits == 1) != want {
			t.Fatalf("Retained: filter %q topic %q visited %d, want match %v", inner, topic, visits, want)
		}
	})
}
