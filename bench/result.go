package bench

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Progress is a worker's running counters, reported while a run goes on.
type Progress struct {
	Connected int64 `json:"connected"`
	Failed    int64 `json:"failed"`
	Sent      int64 `json:"sent"`
	Acked     int64 `json:"acked"`
	Received  int64 `json:"received"`
}

func (p *Progress) add(o Progress) {
	p.Connected += o.Connected
	p.Failed += o.Failed
	p.Sent += o.Sent
	p.Acked += o.Acked
	p.Received += o.Received
}

// PartResult is what one worker reports at the end of a run.
type PartResult struct {
	Worker      int             `json:"worker"`
	Times       phaseTimes      `json:"times"`
	Connected   int64           `json:"connected"`
	ConnFailed  int64           `json:"conn_failed"`
	ConnRefused int64           `json:"conn_refused,omitempty"`
	Dropped     int64           `json:"dropped"`
	Sent        map[int]int64   `json:"sent"`
	Accepted    map[int]int64   `json:"accepted"` // sent minus refused, per publisher
	Acked       int64           `json:"acked"`
	Refused     int64           `json:"refused"`
	BadAcks     int64           `json:"bad_acks"`
	Received    int64           `json:"received"`
	Foreign     int64           `json:"foreign"`
	OutOfOrder  int64           `json:"out_of_order"`
	LastRecv    int64           `json:"last_recv"`
	Groups      []GroupStat     `json:"groups"`
	Latency     *Histogram      `json:"latency"`
	ConnLatency *Histogram      `json:"conn_latency"`
	Retained    *RetainedReport `json:"retained,omitempty"`
	Storm       *StormPart      `json:"storm,omitempty"`
	Stuck       *StuckPart      `json:"stuck,omitempty"`
	Errors      []string        `json:"errors,omitempty"`
}

// Result is the outcome of one run against one target: what the table, JSON and HTML reports show.
type Result struct {
	Name     string    `json:"name"`
	URLs     []string  `json:"urls"`
	Scenario Scenario  `json:"scenario"`
	Date     time.Time `json:"date"`
	Spec     Spec      `json:"spec"`
	Workers  int       `json:"workers"`

	Connections     int64       `json:"connections"`
	ConnectFailures int64       `json:"connect_failures"`
	ConnectRefused  int64       `json:"connect_refused,omitempty"` // of the failures, CONNACK error codes
	Dropped         int64       `json:"dropped"`                   // connections the broker ended during the run
	ConnectSeconds  float64     `json:"connect_seconds"`
	ConnectRate     float64     `json:"connect_rate"` // connections per second
	ConnectLatency  Percentiles `json:"connect_latency"`

	Sent       int64   `json:"sent"`
	Acked      int64   `json:"acked"`    // PUBACK (QoS 1) or PUBCOMP (QoS 2) received
	Refused    int64   `json:"refused"`  // MQTT 5 PUBACK/PUBREC with an error reason code
	Received   int64   `json:"received"` // deliveries, duplicates included
	Unique     int64   `json:"unique"`
	Lost       int64   `json:"lost"`
	Duplicated int64   `json:"duplicated"`
	OutOfOrder int64   `json:"out_of_order"`
	Foreign    int64   `json:"foreign,omitempty"`  // payloads not from this run
	BadAcks    int64   `json:"bad_acks,omitempty"` // acks for packet ids not in flight
	Seconds    float64 `json:"seconds"`            // publish phase
	SendRate   float64 `json:"send_rate"`          // messages per second
	RecvRate   float64 `json:"recv_rate"`          // deliveries per second, until the last one

	Latency  Percentiles     `json:"latency"`
	Curve    []CurvePoint    `json:"latency_curve,omitempty"`
	Series   []Sample        `json:"series,omitempty"`
	Memory   *MemoryReport   `json:"memory,omitempty"`
	Retained *RetainedReport `json:"retained,omitempty"`
	Storm    *StormReport    `json:"storm,omitempty"`
	Stuck    *StuckReport    `json:"stuck,omitempty"`
	Errors   []string        `json:"errors,omitempty"`
}

// Sample is one point of the per-second time series.
type Sample struct {
	T         float64 `json:"t"` // seconds since the run started
	Connected int64   `json:"connected"`
	SentPS    float64 `json:"sent_ps"`
	RecvPS    float64 `json:"recv_ps"`
	RSS       int64   `json:"rss,omitempty"`
}

// CurvePoint is one point of the latency percentile curve.
type CurvePoint struct {
	Percentile float64 `json:"p"`
	Micros     int64   `json:"us"`
}

// RetainedReport is what the retained scenario measures.
type RetainedReport struct {
	Messages int     `json:"messages"`
	Received int64   `json:"received"`
	Seconds  float64 `json:"seconds"` // from SUBSCRIBE to the last retained message
	Rate     float64 `json:"rate"`
}

// merge folds the workers' results into one Result.
func merge(spec Spec, parts []*PartResult) *Result {
	r := &Result{Name: spec.Name, URLs: spec.URLs, Scenario: spec.Scenario, Spec: spec, Workers: len(parts)}
	lat, connLat := NewHistogram(), NewHistogram()
	sent := make(map[int]int64)
	var groups []GroupStat
	var t phaseTimes
	var lastRecv int64
	errs := map[string]int{} // workers' errors, counts added up
	var order []string
	for _, p := range parts {
		r.Connections += p.Connected
		r.ConnectFailures += p.ConnFailed
		r.ConnectRefused += p.ConnRefused
		r.Dropped += p.Dropped
		r.Acked += p.Acked
		r.Refused += p.Refused
		r.BadAcks += p.BadAcks
		r.Received += p.Received
		r.Foreign += p.Foreign
		r.OutOfOrder += p.OutOfOrder
		for _, v := range p.Sent {
			r.Sent += v
		}
		for k, v := range p.Accepted {
			sent[k] += v
		}
		groups = append(groups, p.Groups...)
		lat.Merge(p.Latency)
		connLat.Merge(p.ConnLatency)
		t = widen(t, p.Times)
		lastRecv = max(lastRecv, p.LastRecv)
		if p.Retained != nil {
			rr := *p.Retained
			if rr.Seconds > 0 {
				rr.Rate = float64(rr.Received) / rr.Seconds
			}
			r.Retained = &rr
		}
		for _, e := range p.Errors {
			n, msg := splitCount(e)
			if _, ok := errs[msg]; !ok {
				order = append(order, msg)
			}
			errs[msg] += n
		}
	}
	for _, msg := range order {
		if n := errs[msg]; n > 0 {
			r.Errors = append(r.Errors, fmt.Sprintf("%d× %s", n, msg))
		} else {
			r.Errors = append(r.Errors, msg)
		}
	}
	expect := map[int][]int{}
	if spec.Scenario != ScenarioSub {
		for _, ro := range topology(&spec, 1) {
			if ro.kind == roleSub && ro.expect != nil {
				pubs := make([]int, len(ro.expect))
				for i, p := range ro.expect {
					pubs[i] = p + spec.PubOffset
				}
				expect[ro.group] = pubs
			}
		}
	}
	var sentArg map[int]int64
	if spec.Scenario != ScenarioSub {
		sentArg = sent
	}
	if spec.Scenario != ScenarioRetained {
		a := account(groups, sentArg, expect)
		r.Unique, r.Duplicated, r.Lost = a.unique, a.dups, a.lost
	} else if r.Retained != nil {
		r.Unique = r.Retained.Received
		r.Lost = int64(r.Retained.Messages) - r.Retained.Received
	}

	r.ConnectSeconds = float64(t.ConnectEnd-t.ConnectStart) / 1e9
	if r.ConnectSeconds > 0 {
		r.ConnectRate = float64(r.Connections) / r.ConnectSeconds
	}
	r.Seconds = float64(t.PublishEnd-t.PublishStart) / 1e9
	if r.Seconds > 0 {
		r.SendRate = float64(r.Sent) / r.Seconds
	}
	if lastRecv > t.PublishStart && t.PublishStart > 0 {
		r.RecvRate = float64(r.Received) / (float64(lastRecv-t.PublishStart) / 1e9)
	}
	r.Latency = lat.Summary()
	r.ConnectLatency = connLat.Summary()
	r.Curve = curve(lat)
	return r
}

// widen returns the phase times spanning both a and b.
func widen(a, b phaseTimes) phaseTimes {
	lo := func(x, y int64) int64 {
		if x == 0 || (y != 0 && y < x) {
			return y
		}
		return x
	}
	return phaseTimes{
		ConnectStart: lo(a.ConnectStart, b.ConnectStart),
		ConnectEnd:   max(a.ConnectEnd, b.ConnectEnd),
		PublishStart: lo(a.PublishStart, b.PublishStart),
		PublishEnd:   max(a.PublishEnd, b.PublishEnd),
	}
}

// curve samples the latency distribution at percentiles spaced evenly on the "nines" scale.
func curve(h *Histogram) []CurvePoint {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.h.TotalCount() == 0 {
		return nil
	}
	ps := []float64{0, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 100}
	out := make([]CurvePoint, len(ps))
	for i, p := range ps {
		out[i] = CurvePoint{Percentile: p, Micros: h.h.ValueAtQuantile(p)}
	}
	return out
}

// splitCount splits a worker's "N× message" error line; a line without a count gives 0.
func splitCount(e string) (int, string) {
	num, msg, ok := strings.Cut(e, "× ")
	n, err := strconv.Atoi(num)
	if !ok || err != nil {
		return 0, e
	}
	return n, msg
}
