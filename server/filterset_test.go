package server

import (
	"fmt"
	"testing"
)

func TestFilterSet(t *testing.T) {
	var f filterSet
	steps := []struct {
		op     string
		filter string
		want   bool // has, or remove's result
		after  string
	}{
		{"add", "b/+", false, "[b/+]"},
		{"add", "a/#", false, "[a/# b/+]"},
		{"add", "b/+", false, "[a/# b/+]"},
		{"has", "a/#", true, "[a/# b/+]"},
		{"has", "a", false, "[a/# b/+]"},
		{"add", "c", false, "[a/# b/+ c]"},
		{"remove", "b/+", true, "[a/# c]"},
		{"remove", "b/+", false, "[a/# c]"},
		{"remove", "a/#", true, "[c]"},
		{"remove", "c", true, "[]"},
	}
	for i, st := range steps {
		var got bool
		switch st.op {
		case "add":
			f.add([]byte(st.filter))
		case "has":
			got = f.has([]byte(st.filter))
		case "remove":
			got = f.remove([]byte(st.filter))
		}
		if got != st.want || fmt.Sprint([]string(f)) != st.after {
			t.Fatalf("step %d %s %q: got %v %v, want %v %s", i, st.op, st.filter, got, []string(f), st.want, st.after)
		}
	}
	if f != nil {
		t.Fatal("an emptied set keeps its array")
	}
}

func BenchmarkFilterSetHas(b *testing.B) {
	for _, n := range []int{1, 16, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			var f filterSet
			for i := range n {
				f.add(fmt.Appendf(nil, "dev/%d/cmd", i))
			}
			q := fmt.Appendf(nil, "dev/%d/cmd", n/2)
			b.ReportAllocs()
			for b.Loop() {
				if !f.has(q) {
					b.Fatal("missing")
				}
			}
		})
	}
}
