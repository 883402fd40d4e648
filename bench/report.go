package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes each result as one JSON object per line.
func WriteJSON(w io.Writer, rs []*Result) error {
	enc := json.NewEncoder(w)
	for _, r := range rs {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}

// column is one column of the human table.
type column struct {
	head string
	val  func(r *Result) string
	// num gives the figure compared across targets; higher says whether more is better.
	num    func(r *Result) float64
	higher bool
}

func ms(us int64) string { return fmt.Sprintf("%.3f", float64(us)/1000) }

func columnsFor(s Scenario) []column {
	count := func(f func(r *Result) int64) func(r *Result) string {
		return func(r *Result) string { return fmt.Sprint(f(r)) }
	}
	switch s {
	case ScenarioConn:
		return []column{
			{head: "conns", val: count(func(r *Result) int64 { return r.Connections })},
			{head: "failed", val: count(func(r *Result) int64 { return r.ConnectFailures })},
			{head: "dropped", val: count(func(r *Result) int64 { return r.Dropped })},
			{head: "conn/s", val: func(r *Result) string { return si(r.ConnectRate) },
				num: func(r *Result) float64 { return r.ConnectRate }, higher: true},
			{head: "p50 ms", val: func(r *Result) string { return ms(r.ConnectLatency.P50) },
				num: func(r *Result) float64 { return float64(r.ConnectLatency.P50) }},
			{head: "p99 ms", val: func(r *Result) string { return ms(r.ConnectLatency.P99) },
				num: func(r *Result) float64 { return float64(r.ConnectLatency.P99) }},
			{head: "rss/conn", val: func(r *Result) string { return memField(r, func(m *MemoryReport) float64 { return m.RSSPerConn }) },
				num: func(r *Result) float64 { return memNum(r, func(m *MemoryReport) float64 { return m.RSSPerConn }) }},
			{head: "heap/conn", val: func(r *Result) string { return memField(r, func(m *MemoryReport) float64 { return m.HeapPerConn }) }},
			{head: "rss@1M", val: func(r *Result) string { return memField(r, func(m *MemoryReport) float64 { return m.Projected1M }) }},
		}
	case ScenarioStorm:
		return stormColumns()
	case ScenarioStuck:
		return stuckColumns()
	case ScenarioRetained:
		return []column{
			{head: "retained", val: func(r *Result) string { return fmt.Sprint(r.Spec.Retained) }},
			{head: "received", val: func(r *Result) string {
				if r.Retained == nil {
					return "-"
				}
				return fmt.Sprint(r.Retained.Received)
			}},
			{head: "seconds", val: func(r *Result) string {
				if r.Retained == nil {
					return "-"
				}
				return fmt.Sprintf("%.3f", r.Retained.Seconds)
			}},
			{head: "msg/s", val: func(r *Result) string {
				if r.Retained == nil {
					return "-"
				}
				return si(r.Retained.Rate)
			}, num: func(r *Result) float64 {
				if r.Retained == nil {
					return 0
				}
				return r.Retained.Rate
			}, higher: true},
			{head: "p99 ms", val: func(r *Result) string { return ms(r.Latency.P99) }},
		}
	}
	return []column{
		{head: "sent", val: count(func(r *Result) int64 { return r.Sent })},
		{head: "acked", val: count(func(r *Result) int64 { return r.Acked })},
		{head: "recv", val: count(func(r *Result) int64 { return r.Received })},
		{head: "lost", val: count(func(r *Result) int64 { return r.Lost })},
		{head: "dup", val: count(func(r *Result) int64 { return r.Duplicated })},
		{head: "ooo", val: count(func(r *Result) int64 { return r.OutOfOrder })},
		{head: "sent/s", val: func(r *Result) string { return si(r.SendRate) },
			num: func(r *Result) float64 { return r.SendRate }, higher: true},
		{head: "recv/s", val: func(r *Result) string { return si(r.RecvRate) },
			num: func(r *Result) float64 { return r.RecvRate }, higher: true},
		{head: "p50 ms", val: func(r *Result) string { return ms(r.Latency.P50) },
			num: func(r *Result) float64 { return float64(r.Latency.P50) }},
		{head: "p99 ms", val: func(r *Result) string { return ms(r.Latency.P99) },
			num: func(r *Result) float64 { return float64(r.Latency.P99) }},
		{head: "max ms", val: func(r *Result) string { return ms(r.Latency.Max) }},
	}
}

func memField(r *Result, f func(*MemoryReport) float64) string {
	if r.Memory == nil {
		return "-"
	}
	v := f(r.Memory)
	if v == 0 {
		return "-"
	}
	return bytesIEC(v)
}

func memNum(r *Result, f func(*MemoryReport) float64) float64 {
	if r.Memory == nil {
		return 0
	}
	return f(r.Memory)
}

// WriteTable writes the results as an aligned table, one row per result. With more than one result
// it adds a row of ratios against the first for every comparable column ("1.25x" means 25% better
// for rates, and 25% higher for latencies and memory, where lower is better).
func WriteTable(w io.Writer, rs []*Result) error {
	if len(rs) == 0 {
		return nil
	}
	cols := columnsFor(rs[0].Scenario)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	heads := []string{"target"}
	for _, c := range cols {
		heads = append(heads, c.head)
	}
	fmt.Fprintln(tw, strings.Join(heads, "\t")+"\t")
	for _, r := range rs {
		row := []string{r.Name}
		for _, c := range cols {
			row = append(row, c.val(r))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	for _, r := range rs[1:] {
		row := []string{r.Name + " ÷ " + rs[0].Name}
		for _, c := range cols {
			row = append(row, ratio(c, r, rs[0]))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rs {
		if r.Refused > 0 {
			fmt.Fprintf(w, "%s: %d publishes refused by the broker (MQTT 5 reason code >= 0x80)\n", r.Name, r.Refused)
		}
		if r.BadAcks > 0 {
			fmt.Fprintf(w, "%s: %d acknowledgements for packet ids not in flight\n", r.Name, r.BadAcks)
		}
		if s := r.Storm; s != nil {
			fmt.Fprintf(w, "%s: kick answered %q after %.3f s; connections ended by %s; %d never disconnected; downtime min %s p50 %s p99 %s ms\n",
				r.Name, s.KickStatus, s.KickSeconds, reasonList(s.Reasons), s.Kept, ms(s.Downtime.Min), ms(s.Downtime.P50), ms(s.Downtime.P99))
		}
		for _, e := range r.Errors {
			fmt.Fprintf(w, "%s: %s\n", r.Name, e)
		}
	}
	return nil
}

func ratio(c column, r, base *Result) string {
	if c.num == nil {
		return ""
	}
	a, b := c.num(r), c.num(base)
	if a == 0 || b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", a/b)
}

// Ratios returns, for each result after the first, its comparable figures divided by the first's,
// keyed by column heading.
func Ratios(rs []*Result) []map[string]float64 {
	if len(rs) == 0 {
		return nil
	}
	cols := columnsFor(rs[0].Scenario)
	out := make([]map[string]float64, 0, len(rs)-1)
	for _, r := range rs[1:] {
		m := map[string]float64{}
		for _, c := range cols {
			if c.num != nil && c.num(rs[0]) != 0 {
				m[c.head] = c.num(r) / c.num(rs[0])
			}
		}
		out = append(out, m)
	}
	return out
}

// WriteMarkdown writes the results as a Markdown table with ratio rows, as BENCHMARKS.md quotes them.
func WriteMarkdown(w io.Writer, rs []*Result) error {
	if len(rs) == 0 {
		return nil
	}
	cols := columnsFor(rs[0].Scenario)
	row := func(cells []string) {
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}
	heads := []string{"target"}
	for _, c := range cols {
		heads = append(heads, c.head)
	}
	row(heads)
	seps := make([]string, len(heads))
	for i := range seps {
		seps[i] = "---:"
	}
	seps[0] = "---"
	row(seps)
	for _, r := range rs {
		cells := []string{r.Name}
		for _, c := range cols {
			cells = append(cells, c.val(r))
		}
		row(cells)
	}
	for _, r := range rs[1:] {
		cells := []string{r.Name + " ÷ " + rs[0].Name}
		for _, c := range cols {
			cells = append(cells, ratio(c, r, rs[0]))
		}
		row(cells)
	}
	return nil
}

// Groups splits results, as read back from JSON lines, into runs of one scenario and shape: a new
// group starts where the scenario or its description changes, or a target name repeats.
func Groups(rs []*Result) []RunGroup {
	var out []RunGroup
	for _, r := range rs {
		title := fmt.Sprintf("%s: %s", r.Scenario, describe(&r.Spec))
		n := len(out)
		if n == 0 || out[n-1].Title != title || hasName(out[n-1].Results, r.Name) {
			out = append(out, RunGroup{Title: title})
			n++
		}
		out[n-1].Results = append(out[n-1].Results, r)
	}
	return out
}

func hasName(rs []*Result, name string) bool {
	for _, r := range rs {
		if r.Name == name {
			return true
		}
	}
	return false
}
