package bench

import (
	"fmt"
	"sort"
	"strings"
)

// stormColumns are the storm table: the first wave like conn, then the second wave after the kick.
func stormColumns() []column {
	st := func(f func(s *StormReport) string) func(r *Result) string {
		return func(r *Result) string {
			if r.Storm == nil {
				return "-"
			}
			return f(r.Storm)
		}
	}
	stNum := func(f func(s *StormReport) float64) func(r *Result) float64 {
		return func(r *Result) float64 {
			if r.Storm == nil {
				return 0
			}
			return f(r.Storm)
		}
	}
	return []column{
		{head: "conns", val: func(r *Result) string { return fmt.Sprint(r.Connections) }},
		{head: "failed", val: func(r *Result) string { return fmt.Sprint(r.ConnectFailures) }},
		{head: "refused", val: func(r *Result) string { return fmt.Sprint(r.ConnectRefused) }},
		{head: "conn/s", val: func(r *Result) string { return si(r.ConnectRate) },
			num: func(r *Result) float64 { return r.ConnectRate }, higher: true},
		{head: "p50 ms", val: func(r *Result) string { return ms(r.ConnectLatency.P50) }},
		{head: "p99 ms", val: func(r *Result) string { return ms(r.ConnectLatency.P99) },
			num: func(r *Result) float64 { return float64(r.ConnectLatency.P99) }},
		{head: "kicked", val: st(func(s *StormReport) string { return fmt.Sprint(s.Disconnected) })},
		{head: "reconn", val: st(func(s *StormReport) string { return fmt.Sprint(s.Reconnected) })},
		{head: "failed2", val: st(func(s *StormReport) string { return fmt.Sprint(s.Failed) })},
		{head: "refused2", val: st(func(s *StormReport) string { return fmt.Sprint(s.Refused) })},
		{head: "reconn/s", val: st(func(s *StormReport) string { return si(s.Rate) }),
			num: stNum(func(s *StormReport) float64 { return s.Rate }), higher: true},
		{head: "p50 ms", val: st(func(s *StormReport) string { return ms(s.ConnectLatency.P50) })},
		{head: "p99 ms", val: st(func(s *StormReport) string { return ms(s.ConnectLatency.P99) }),
			num: stNum(func(s *StormReport) float64 { return float64(s.ConnectLatency.P99) })},
		{head: "all back s", val: st(func(s *StormReport) string { return fmt.Sprintf("%.2f", s.Seconds) }),
			num: stNum(func(s *StormReport) float64 { return s.Seconds })},
	}
}

// stuckColumns are the stuck table: the publishers' and healthy subscribers' pace, then what happened to the
// stuck subscribers and to the broker's memory.
func stuckColumns() []column {
	sk := func(f func(s *StuckReport) string) func(r *Result) string {
		return func(r *Result) string {
			if r.Stuck == nil {
				return "-"
			}
			return f(r.Stuck)
		}
	}
	// When none was cut there is no time to show.
	when := func(f func(s *StuckReport) float64) func(r *Result) string {
		return sk(func(s *StuckReport) string {
			if s.Disconnected == 0 {
				return "-"
			}
			return fmt.Sprintf("%.1f", f(s))
		})
	}
	rss := func(v int64) string {
		if v == 0 {
			return "-"
		}
		return bytesIEC(float64(v))
	}
	return []column{
		{head: "sent", val: func(r *Result) string { return fmt.Sprint(r.Sent) }},
		{head: "sent/s", val: func(r *Result) string { return si(r.SendRate) },
			num: func(r *Result) float64 { return r.SendRate }, higher: true},
		{head: "recv", val: func(r *Result) string { return fmt.Sprint(r.Unique) }},
		{head: "lost", val: func(r *Result) string { return fmt.Sprint(r.Lost) }},
		{head: "recv/s", val: func(r *Result) string { return si(r.RecvRate) },
			num: func(r *Result) float64 { return r.RecvRate }, higher: true},
		{head: "p99 ms", val: func(r *Result) string { return ms(r.Latency.P99) },
			num: func(r *Result) float64 { return float64(r.Latency.P99) }},
		{head: "dropped", val: func(r *Result) string { return fmt.Sprint(r.Dropped) }},
		{head: "stuck", val: sk(func(s *StuckReport) string { return fmt.Sprint(s.Stuck) })},
		{head: "owed each", val: sk(func(s *StuckReport) string { return si(s.Owed) })},
		{head: "cut", val: sk(func(s *StuckReport) string { return fmt.Sprint(s.Disconnected) })},
		{head: "first s", val: when(func(s *StuckReport) float64 { return s.FirstSeconds })},
		{head: "median s", val: when(func(s *StuckReport) float64 { return s.MedianSeconds })},
		{head: "last s", val: when(func(s *StuckReport) float64 { return s.LastSeconds })},
		{head: "rss start", val: sk(func(s *StuckReport) string { return rss(s.RSSStart) })},
		{head: "rss peak", val: sk(func(s *StuckReport) string { return rss(s.RSSPeak) })},
		{head: "rss end", val: sk(func(s *StuckReport) string { return rss(s.RSSEnd) })},
	}
}

// reasonList prints how connections ended, most frequent first.
func reasonList(m map[string]int64) string {
	type kv struct {
		k string
		v int64
	}
	var l []kv
	for k, v := range m {
		l = append(l, kv{k, v})
	}
	sort.Slice(l, func(i, j int) bool { return l[i].v > l[j].v || l[i].v == l[j].v && l[i].k < l[j].k })
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%d× %s", e.v, e.k)
	}
	if b.Len() == 0 {
		return "nothing"
	}
	return b.String()
}
