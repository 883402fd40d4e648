package bench

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// publish runs the publish phase: publishers publish for Duration or Count messages each and wait for
// their acknowledgements (bounded by Drain); conn holds its connections for Duration; sub listens for
// Duration. It returns how many messages of each publisher number the broker accepted.
func (p *part) publish(ctx context.Context) (map[int]int64, error) {
	p.times.PublishStart = time.Now().UnixNano()
	defer func() { p.times.PublishEnd = time.Now().UnixNano() }()
	switch p.spec.Scenario {
	case ScenarioConn, ScenarioSub:
		select {
		case <-time.After(p.spec.Duration):
		case <-ctx.Done():
		}
		return map[int]int64{}, nil
	case ScenarioRetained:
		return p.publishRetained(ctx)
	case ScenarioStorm:
		p.runStorm(ctx)
		return map[int]int64{}, nil
	case ScenarioStuck:
		return p.runStuck(ctx), nil
	}
	var wg sync.WaitGroup
	for i, r := range p.roles {
		if r.kind != rolePub {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.runPublisher(ctx, i, r); err != nil {
				p.noteErr(err)
			}
		}()
	}
	wg.Wait()
	return p.sentMap(true), nil
}

// sentMap returns what each publisher number sent; with accepted, minus what the broker refused
// (MQTT 5 error reason codes), which is what subscribers can expect to receive.
func (p *part) sentMap(accepted bool) map[int]int64 {
	if p.stuck != nil {
		return p.stuck.sentMap() // per stream; MQTT 5 refusals are counted in the result, not per stream
	}
	sent := make(map[int]int64)
	for i, r := range p.roles {
		if r.kind == rolePub {
			n := p.sentBy[i].Load()
			if c := p.clients[i].Load(); accepted && c != nil {
				n -= c.refused.Load()
			}
			sent[r.pub+p.spec.PubOffset] = n
		}
	}
	return sent
}

// runPublisher publishes the messages of role i, paced by Rate when set.
func (p *part) runPublisher(ctx context.Context, i int, r role) error {
	c := p.clients[i].Load()
	payload := newPayload(p.spec.PayloadSize, p.tag, uint32(r.pub+p.spec.PubOffset))
	topic := []byte(r.topic)
	start := time.Now()
	var deadline time.Time
	if p.spec.Count == 0 {
		deadline = start.Add(p.spec.Duration)
	}
	var interval float64
	if p.spec.Rate > 0 {
		interval = float64(time.Second) / p.spec.Rate
	}
	var err error
	for seq := uint64(0); p.spec.Count == 0 || seq < uint64(p.spec.Count); seq++ {
		now := time.Now()
		if !deadline.IsZero() && now.After(deadline) {
			break
		}
		if seq&1023 == 0 && ctx.Err() != nil {
			break
		}
		setStamp(payload, seq, now.UnixNano())
		if err = c.publish(topic, p.spec.QoS, false, payload); err != nil {
			break
		}
		p.sentBy[i].Add(1)
		if interval > 0 {
			// Paced: flush before waiting for the next slot, so a message never waits in the buffer
			// and its latency is the broker's alone. Unpaced, the buffer flushes when full.
			next := start.Add(time.Duration(float64(seq+1) * interval))
			if wait := time.Until(next); wait > 0 {
				if err = c.flush(); err != nil {
					break
				}
				time.Sleep(wait)
			}
		}
	}
	return p.endPublishing(ctx, c, r.pub, err)
}

// drain waits until every group has received what its publishers sent, nothing arrived for a quiet
// spell, or Drain has passed.
func (p *part) drain(ctx context.Context, sent map[int]int64) {
	switch p.spec.Scenario {
	case ScenarioSub, ScenarioConn, ScenarioRetained, ScenarioStorm:
		return
	}
	want := make(map[int]int64)
	for _, r := range p.roles {
		if r.kind == roleSub {
			if _, ok := want[r.group]; !ok {
				for _, pub := range r.expect {
					want[r.group] += sent[pub+p.spec.PubOffset]
				}
			}
		}
	}
	quiet := min(p.spec.Drain, 2*time.Second) // a broker's pause (GC, a busy core) is not the end
	deadline := time.Now().Add(p.spec.Drain)
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		complete := true
		for g, n := range want {
			if p.trackers[g].uniqueTotal() < n {
				complete = false
				break
			}
		}
		now := time.Now()
		last := time.Unix(0, max(p.lastRecv.Load(), p.times.PublishEnd))
		if complete || now.After(deadline) || now.Sub(last) > quiet {
			return
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

// publishRetained stores Retained messages, one per topic, then times a subscription that receives
// them all, then clears them again so later runs start from an empty store.
func (p *part) publishRetained(ctx context.Context) (map[int]int64, error) {
	pub, sub := p.clients[0].Load(), p.clients[1].Load()
	n := p.spec.Retained
	payload := newPayload(p.spec.PayloadSize, p.tag, uint32(p.spec.PubOffset))
	qos := max(p.spec.QoS, 1) // acknowledged, so every message is stored before the subscribe
	for i := 0; i < n; i++ {
		setStamp(payload, uint64(i), time.Now().UnixNano())
		if err := pub.publish([]byte(p.spec.TopicFor(i)), qos, true, payload); err != nil {
			return nil, err
		}
		p.sentBy[0].Add(1)
	}
	wctx, cancel := context.WithTimeout(ctx, p.spec.ConnectTimeout+p.spec.Drain)
	defer cancel()
	if err := pub.waitAcks(wctx); err != nil {
		return nil, fmt.Errorf("storing retained messages: %w", err)
	}
	s := p.subs[1].Load()
	t0 := time.Now()
	s.since.Store(t0.UnixNano())
	err := sub.subscribe(ctx, retainedFilter(&p.spec), p.spec.QoS)
	for err == nil && s.tr.uniqueTotal() < int64(n) {
		select {
		case <-time.After(time.Millisecond):
		case <-sub.done:
			err = sub.err
		case <-wctx.Done():
			err = fmt.Errorf("received %d of %d retained messages", s.tr.uniqueTotal(), n)
		}
	}
	p.retained = RetainedReport{Messages: n, Received: s.tr.uniqueTotal(), Seconds: time.Since(t0).Seconds()}
	// Clear: an empty retained payload deletes the topic's retained message [MQTT-3.3.1-10].
	for i := 0; i < n; i++ {
		if perr := pub.publish([]byte(p.spec.TopicFor(i)), 1, true, nil); perr != nil {
			break
		}
	}
	pub.waitAcks(wctx)
	return map[int]int64{p.spec.PubOffset: int64(n)}, err
}

// retainedFilter is the topic template with its index level and everything after replaced by "#".
func retainedFilter(s *Spec) string {
	t := s.TopicFor(-1)
	if i := strings.Index(t, "/+"); i >= 0 && !strings.Contains(t[i+2:], "/") {
		return t[:i] + "/#"
	}
	return t
}

// result collects the part's figures.
func (p *part) result() *PartResult {
	r := &PartResult{
		Worker:      p.index,
		Times:       p.times,
		Connected:   p.connected.Load(),
		ConnFailed:  p.connFailed.Load(),
		ConnRefused: p.connRefused.Load(),
		Sent:        p.sentMap(false),
		Accepted:    p.sentMap(true),
		Latency:     p.lat,
		ConnLatency: p.connLat,
		LastRecv:    p.lastRecv.Load(),
	}
	if p.spec.Scenario == ScenarioRetained {
		rr := p.retained
		r.Retained = &rr
	}
	if p.storm != nil {
		r.Storm = p.storm.part()
	}
	if p.stuck != nil {
		r.Stuck = p.stuck.part()
	}
	for i := range p.subs {
		if s := p.subs[i].Load(); s != nil {
			r.OutOfOrder += s.finish()
			r.Received += s.received.Load()
			r.Foreign += s.foreign.Load()
		}
	}
	for g, tr := range p.trackers {
		r.Groups = append(r.Groups, tr.stats(g)...)
	}
	for i := range p.clients {
		c := p.clients[i].Load()
		if c == nil {
			continue
		}
		r.Acked += c.acked.Load()
		r.Refused += c.refused.Load()
		r.BadAcks += c.badAcks.Load()
		select {
		case <-c.done:
			if c.err != errClosed {
				r.Dropped++
				p.noteErr(fmt.Errorf("connection lost: %w", c.err))
			}
		default:
		}
	}
	r.Errors = p.errorList()
	return r
}

// progress returns the part's running counters.
func (p *part) progress() Progress {
	var pr Progress
	pr.Connected = p.connected.Load()
	pr.Failed = p.connFailed.Load()
	for i := range p.sentBy {
		pr.Sent += p.sentBy[i].Load()
	}
	for i := range p.subs {
		if s := p.subs[i].Load(); s != nil {
			pr.Received += s.received.Load()
		}
	}
	for i := range p.clients {
		if c := p.clients[i].Load(); c != nil {
			pr.Acked += c.acked.Load()
		}
	}
	return pr
}

// endPublishing finishes a publisher's run: unless publishing already failed (err), it flushes what is buffered
// and, at QoS 1/2, waits up to the drain time for the outstanding acknowledgements.
func (p *part) endPublishing(ctx context.Context, c *client, pub int, err error) error {
	if err == nil {
		err = c.flush()
	}
	if err == nil && p.spec.QoS > 0 {
		wctx, cancel := context.WithTimeout(ctx, p.spec.Drain)
		err = c.waitAcks(wctx)
		cancel()
		if err == context.DeadlineExceeded {
			err = fmt.Errorf("%d messages not acknowledged %v after publishing ended", cap(c.ids)-len(c.ids), p.spec.Drain)
		}
	}
	if err != nil {
		return fmt.Errorf("publisher %d: %w", pub, err)
	}
	return nil
}
