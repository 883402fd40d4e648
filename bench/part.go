package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"loopmq/codec"
)

// part runs the clients of one worker: all of a run in process, or one worker process's share. The
// coordinator drives it through its phases: prepare (connect, subscribe), publish, drain, result.
type part struct {
	spec  Spec
	index int // worker index
	roles []role
	src   net.IP // source address of this worker's connections; nil: the kernel's choice

	// clients and subs are in the order of roles; a client is nil where its connect failed. Atomic
	// because progress reads them while prepare fills them in.
	clients  []atomic.Pointer[client]
	subs     []atomic.Pointer[subscriber]
	trackers map[int]*tracker
	sentBy   []atomic.Int64 // per role, publishers only

	lat, connLat *Histogram
	connected    atomic.Int64
	connFailed   atomic.Int64
	connRefused  atomic.Int64 // of connFailed, answered with a CONNACK error code
	storm        *stormState  // set by runStorm when there is a second wave
	stuck        *stuckState  // set by prepare in the stuck scenario
	lastRecv     atomic.Int64
	tag          uint32

	times     phaseTimes
	retained  RetainedReport
	errMu     sync.Mutex
	errs      map[string]int
	stopPings chan struct{}
}

// phaseTimes are Unix nanoseconds of phase boundaries.
type phaseTimes struct {
	ConnectStart int64 `json:"connect_start"`
	ConnectEnd   int64 `json:"connect_end"`
	PublishStart int64 `json:"publish_start"`
	PublishEnd   int64 `json:"publish_end"`
}

// newPart prepares worker index of n for spec (already validated).
func newPart(spec Spec, index, n int) *part {
	p := &part{
		spec:      spec,
		index:     index,
		trackers:  make(map[int]*tracker),
		lat:       NewHistogram(),
		connLat:   NewHistogram(),
		tag:       runTag(spec.RunID),
		errs:      make(map[string]int),
		stopPings: make(chan struct{}),
	}
	for _, r := range topology(&spec, n) {
		if r.worker == index {
			p.roles = append(p.roles, r)
		}
	}
	p.clients = make([]atomic.Pointer[client], len(p.roles))
	p.subs = make([]atomic.Pointer[subscriber], len(p.roles))
	p.sentBy = make([]atomic.Int64, len(p.roles))
	if n > 1 && spec.SourceIP != "" {
		p.src = sourceFor(spec, index)
	}
	if spec.Scenario == ScenarioStuck {
		p.stuck = newStuckState()
		go p.stuck.watch()
	}
	return p
}

// sourceFor returns the source address of worker index: SourceIP plus index, when every target is on
// the loopback network (a remote broker could not answer a 127/8 source).
func sourceFor(spec Spec, index int) net.IP {
	base := net.ParseIP(spec.SourceIP).To4()
	if base == nil {
		return nil
	}
	for _, u := range spec.URLs {
		t, _ := ParseTarget(u)
		host, _, _ := net.SplitHostPort(t.Host)
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			if host != "localhost" {
				return nil
			}
		}
	}
	ip := make(net.IP, 4)
	copy(ip, base)
	ip[3] += byte(index)
	return ip
}

// addrPattern matches "tcp 127.0.0.2:40000->127.0.0.1:1883" style socket names in error messages, keeping the
// protocol word.
var addrPattern = regexp.MustCompile(`(tcp|udp) [0-9a-fA-F.:\[\]]+(->[0-9a-fA-F.:\[\]]+)?`)

// maxErrKinds bounds the distinct error messages kept: thousands of failing connections must not
// turn into thousands of lines (their messages differ in addresses).
const maxErrKinds = 20

func (p *part) noteErr(err error) {
	// Addresses (and so ports) differ per connection: without them, one kind of failure is one line.
	msg := addrPattern.ReplaceAllString(err.Error(), "$1")
	p.errMu.Lock()
	if _, ok := p.errs[msg]; !ok && len(p.errs) >= maxErrKinds {
		msg = "other errors"
	}
	p.errs[msg]++
	p.errMu.Unlock()
}

// config returns how to connect the client of role r.
func (p *part) config(r role) clientConfig {
	t, _ := ParseTarget(p.spec.URLs[r.index%len(p.spec.URLs)])
	cfg := clientConfig{
		target:    t,
		src:       p.src,
		version:   codec.Version(p.spec.Version),
		clientID:  p.spec.ClientID + p.spec.Instance + "-" + strconv.Itoa(r.index),
		keepAlive: p.spec.KeepAlive,
		readBuf:   512,
		writeBuf:  256,
		inflight:  1,
	}
	switch r.kind {
	case rolePub:
		cfg.readBuf, cfg.writeBuf, cfg.inflight = 4096, 16<<10, p.spec.Inflight
	case roleSub:
		cfg.readBuf, cfg.writeBuf = 32<<10, 4096
		if p.spec.Subscribers > 1000 {
			cfg.readBuf = 4096 // thousands of subscribers: keep the harness's own memory in check
		}
	}
	return cfg
}

// prepare connects every client of the part, paced by ConnectRate, and subscribes the subscribers.
// Connect failures are counted; for scenarios that move messages any failure fails the run.
func (p *part) prepare(ctx context.Context, workers int) error {
	p.times.ConnectStart = time.Now().UnixNano()
	var interval time.Duration
	if p.spec.ConnectRate > 0 {
		interval = time.Duration(float64(time.Second) * float64(workers) / p.spec.ConnectRate)
	}
	sem := make(chan struct{}, p.spec.Parallel) // handshakes in flight
	var wg sync.WaitGroup
	start := time.Now()
	for i, r := range p.roles {
		if interval > 0 {
			if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
				}
			}
		}
		if ctx.Err() != nil {
			break
		}
		cfg := p.config(r)
		if r.kind == roleStuck {
			sem <- struct{}{}
			wg.Add(1)
			go func(cfg clientConfig, filter string) {
				defer func() { <-sem; wg.Done() }()
				t0 := time.Now()
				if err := p.connectStuck(ctx, cfg, filter); err != nil {
					if errors.Is(err, errRefused) {
						p.connRefused.Add(1)
					}
					p.connFailed.Add(1)
					p.noteErr(fmt.Errorf("connect stuck subscriber: %w", err))
					return
				}
				p.connLat.Record(time.Since(t0).Microseconds())
				p.connected.Add(1)
			}(cfg, r.topic)
			continue
		}
		if r.kind == roleSub {
			s := p.newSubscriber(r)
			p.subs[i].Store(s)
			cfg.onMessage = s.onMessage
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(i int, cfg clientConfig) {
			defer func() { <-sem; wg.Done() }()
			t0 := time.Now()
			c, err := connectClient(ctx, cfg, p.spec.ConnectTimeout)
			if err != nil {
				if errors.Is(err, errRefused) {
					p.connRefused.Add(1)
				}
				p.connFailed.Add(1)
				p.noteErr(fmt.Errorf("connect: %w", err))
				return
			}
			p.connLat.Record(time.Since(t0).Microseconds())
			p.clients[i].Store(c)
			p.connected.Add(1)
		}(i, cfg)
	}
	wg.Wait()
	p.times.ConnectEnd = time.Now().UnixNano()
	go p.pinger()
	if err := ctx.Err(); err != nil {
		return err
	}
	if p.spec.Scenario == ScenarioConn || p.spec.Scenario == ScenarioStorm {
		return nil
	}
	if n := p.connFailed.Load(); n > 0 {
		return fmt.Errorf("%d of %d clients failed to connect: %s", n, len(p.roles), p.firstErr())
	}
	if p.spec.Scenario == ScenarioRetained {
		return nil // the subscriber subscribes once the retained messages are stored
	}
	return p.subscribeAll(ctx)
}

func (p *part) subscribeAll(ctx context.Context) error {
	errc := make(chan error, len(p.roles))
	sem := make(chan struct{}, 128)
	var wg sync.WaitGroup
	for i, r := range p.roles {
		if r.kind != roleSub {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(c *client, filter string) {
			defer func() { <-sem; wg.Done() }()
			if err := c.subscribe(ctx, filter, p.spec.QoS); err != nil {
				errc <- err
			}
		}(p.clients[i].Load(), r.topic)
	}
	wg.Wait()
	close(errc)
	return <-errc // nil when every subscription was granted
}

func (p *part) newSubscriber(r role) *subscriber {
	tr := p.trackers[r.group]
	if tr == nil {
		tr = newTracker()
		p.trackers[r.group] = tr
	}
	return &subscriber{tag: p.tag, tr: tr, last: &p.lastRecv, rec: newRecorder(p.lat)}
}

// pinger keeps clients that only receive alive under the broker's keep alive enforcement.
func (p *part) pinger() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case now := <-t.C:
			for i := range p.clients {
				if c := p.clients[i].Load(); c != nil {
					c.ping(now)
				}
			}
		case <-p.stopPings:
			return
		}
	}
}

// firstErr returns the most frequent error so far, for messages.
func (p *part) firstErr() string {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	best, n := "", 0
	for e, c := range p.errs {
		if c > n || (c == n && e < best) {
			best, n = e, c
		}
	}
	return best
}

// errorList returns the errors with their counts, most frequent first.
func (p *part) errorList() []string {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	out := make([]string, 0, len(p.errs))
	for e, c := range p.errs {
		out = append(out, fmt.Sprintf("%d× %s", c, e))
	}
	sort.Strings(out)
	return out
}

// close disconnects every client.
func (p *part) close() {
	select {
	case <-p.stopPings:
	default:
		close(p.stopPings)
	}
	if p.stuck != nil {
		p.stuck.close()
	}
	var wg sync.WaitGroup
	for i := range p.clients {
		if c := p.clients[i].Load(); c != nil {
			wg.Add(1)
			go func() { defer wg.Done(); c.close() }()
		}
	}
	wg.Wait()
}
