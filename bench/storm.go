package bench

// The storm scenario: every client connects as fast as the handshake limit allows (the first wave, measured by
// prepare like conn), the harness asks the broker to disconnect everyone (KickURL), and every client reconnects
// the moment it sees its connection end (the second wave). That is what a fleet of devices does after a broker
// restart or a load balancer failover, and it is where accept backlogs overflow and SYNs are retried.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// kickWait is how long after the hold the clients wait to be disconnected before they count as kept.
const kickWait = 15 * time.Second

// StormPart is one worker's figures of the second wave.
type StormPart struct {
	Disconnected int64            `json:"disconnected"`      // first-wave clients whose connection the broker ended
	Reasons      map[string]int64 `json:"reasons,omitempty"` // how: "DISCONNECT <reason>" (MQTT 5) or "closed"
	Kept         int64            `json:"kept"`              // never disconnected within the wait
	Reconnected  int64            `json:"reconnected"`
	Refused      int64            `json:"refused"` // reconnects answered with a CONNACK error code
	Failed       int64            `json:"failed"`  // reconnects that failed otherwise (dial, timeout)
	FirstDown    int64            `json:"first_down"`
	LastUp       int64            `json:"last_up"`
	Latency      *Histogram       `json:"latency"`  // dial to CONNACK of each reconnect
	Downtime     *Histogram       `json:"downtime"` // from noticing the disconnect to CONNACK again
}

// StormReport is the second wave of a storm run: what the kick did and how fast everyone came back.
type StormReport struct {
	KickURL      string           `json:"kick_url,omitempty"`
	KickStatus   string           `json:"kick_status,omitempty"` // the endpoint's answer, or why it failed
	KickAt       time.Time        `json:"kick_at"`
	KickSeconds  float64          `json:"kick_seconds"` // until the endpoint answered (loopmq: every loop did its share)
	Disconnected int64            `json:"disconnected"`
	Reasons      map[string]int64 `json:"reasons,omitempty"`
	Kept         int64            `json:"kept"`
	Reconnected  int64            `json:"reconnected"`
	Refused      int64            `json:"refused"`
	Failed       int64            `json:"failed"`
	// Seconds is from the kick request to the last CONNACK of the second wave; Rate is reconnects per second
	// over it.
	Seconds        float64     `json:"seconds"`
	Rate           float64     `json:"rate"`
	ConnectLatency Percentiles `json:"connect_latency"`
	Downtime       Percentiles `json:"downtime"`
}

// stormState is a part's running second wave.
type stormState struct {
	disconnected, kept, reconnected, refused, failed atomic.Int64
	firstDown, lastUp                                atomic.Int64
	mu                                               sync.Mutex
	reasons                                          map[string]int64
	lat, downtime                                    *Histogram
}

// errRefused marks a connect that the broker answered with a CONNACK error code.
var errRefused = errors.New("connection refused")

// runStorm is the storm's publish phase in a worker: without a kick URL it only holds the connections for
// Duration; with one, it waits for each client's connection to end and reconnects it at once.
func (p *part) runStorm(ctx context.Context) {
	if p.spec.KickURL == "" {
		select {
		case <-time.After(p.spec.Duration):
		case <-ctx.Done():
		}
		return
	}
	st := &stormState{reasons: map[string]int64{}, lat: NewHistogram(), downtime: NewHistogram()}
	p.storm = st
	expired := make(chan struct{})
	stop := time.AfterFunc(p.spec.Duration+kickWait, func() { close(expired) })
	defer stop.Stop()
	sem := make(chan struct{}, p.spec.Parallel)
	var wg sync.WaitGroup
	for i, r := range p.roles {
		c := p.clients[i].Load()
		if c == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-c.done:
			case <-expired:
				st.kept.Add(1)
				return
			case <-ctx.Done():
				return
			}
			down := time.Now()
			st.disconnected.Add(1)
			casMin(&st.firstDown, down.UnixNano())
			st.noteReason(c)
			c.tr.conn.Close()
			p.clients[i].Store(nil)
			sem <- struct{}{}
			t0 := time.Now()
			nc, err := connectClient(ctx, p.config(r), p.spec.ConnectTimeout)
			<-sem
			if err != nil {
				if errors.Is(err, errRefused) {
					st.refused.Add(1)
				} else {
					st.failed.Add(1)
				}
				p.noteErr(fmt.Errorf("reconnect: %w", err))
				return
			}
			now := time.Now()
			st.lat.Record(now.Sub(t0).Microseconds())
			st.downtime.Record(now.Sub(down).Microseconds())
			casMax(&st.lastUp, now.UnixNano())
			p.clients[i].Store(nc)
			st.reconnected.Add(1)
		}()
	}
	wg.Wait()
}

// noteReason records how the broker ended c's connection.
func (st *stormState) noteReason(c *client) {
	why := "closed"
	if c.gotDisconnect {
		why = "DISCONNECT " + c.disc.Reason.String() // the reader has stopped: its state is ours to read
	}
	st.mu.Lock()
	st.reasons[why]++
	st.mu.Unlock()
}

func (st *stormState) part() *StormPart {
	st.mu.Lock()
	reasons := make(map[string]int64, len(st.reasons))
	for k, v := range st.reasons {
		reasons[k] = v
	}
	st.mu.Unlock()
	return &StormPart{
		Disconnected: st.disconnected.Load(), Reasons: reasons, Kept: st.kept.Load(),
		Reconnected: st.reconnected.Load(), Refused: st.refused.Load(), Failed: st.failed.Load(),
		FirstDown: st.firstDown.Load(), LastUp: st.lastUp.Load(), Latency: st.lat, Downtime: st.downtime,
	}
}

func casMin(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if (old != 0 && old <= v) || a.CompareAndSwap(old, v) {
			return
		}
	}
}

func casMax(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if old >= v || a.CompareAndSwap(old, v) {
			return
		}
	}
}

// kicker calls the broker's kick endpoint once the first wave has been held for the hold time.
type kicker struct {
	url    string
	at     time.Time
	took   time.Duration
	status string
	done   chan struct{}
}

// startKick posts to url after hold, unless ctx ends first.
func startKick(ctx context.Context, url string, hold time.Duration) *kicker {
	k := &kicker{url: url, done: make(chan struct{})}
	go func() {
		defer close(k.done)
		select {
		case <-time.After(hold):
		case <-ctx.Done():
			k.status = "not sent: interrupted"
			return
		}
		k.at = time.Now()
		k.status = postKick(ctx, url)
		k.took = time.Since(k.at)
	}()
	return k
}

// postKick sends the kick and describes the answer.
func postKick(ctx context.Context, url string) string {
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, url, nil)
	if err != nil {
		return err.Error()
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	return fmt.Sprintf("%s %s", resp.Status, bytes.TrimSpace(body))
}

// report merges the workers' second waves into the result.
func (k *kicker) report(r *Result, parts []*PartResult) {
	<-k.done
	s := &StormReport{KickURL: k.url, KickStatus: k.status, KickAt: k.at.UTC(), KickSeconds: k.took.Seconds(),
		Reasons: map[string]int64{}}
	lat, down := NewHistogram(), NewHistogram()
	var lastUp int64
	for _, p := range parts {
		sp := p.Storm
		if sp == nil {
			continue
		}
		s.Disconnected += sp.Disconnected
		s.Kept += sp.Kept
		s.Reconnected += sp.Reconnected
		s.Refused += sp.Refused
		s.Failed += sp.Failed
		for k, v := range sp.Reasons {
			s.Reasons[k] += v
		}
		lat.Merge(sp.Latency)
		down.Merge(sp.Downtime)
		lastUp = max(lastUp, sp.LastUp)
	}
	if !k.at.IsZero() && lastUp > k.at.UnixNano() {
		s.Seconds = float64(lastUp-k.at.UnixNano()) / 1e9
		s.Rate = float64(s.Reconnected) / s.Seconds
	}
	s.ConnectLatency = lat.Summary()
	s.Downtime = down.Summary()
	r.Storm = s
}
