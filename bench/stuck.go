package bench

// The stuck scenario: subscribers of which a fraction stop reading their socket once subscribed (a consumer
// whose application hangs while its network stack still answers), and publishers at full speed. It shows what a
// broker does about them: whether the healthy subscribers and the publishers keep their pace, whether memory
// stays bounded, and whether and when the stuck ones are disconnected.

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"loopmq/codec"
)

// stuckPing is how often a stuck subscriber sends PINGREQ: its writes keep working (only its reading stopped),
// and a write to a connection the broker has closed is answered with a reset, which is how the harness notices.
const stuckPing = time.Second

// stuckPoll is how often the stuck connections' TCP state is checked.
const stuckPoll = 100 * time.Millisecond

// isStuck says whether subscriber i is one of the fraction f that stop reading; they are spread evenly over
// the indexes (so over topics and workers).
func isStuck(i int, f float64) bool {
	return int(float64(i+1)*f) > int(float64(i)*f)
}

// stuckConn is one subscriber that stopped reading.
type stuckConn struct {
	conn     net.Conn
	fd       int
	lastPing time.Time    // watcher only
	down     atomic.Int64 // Unix nanoseconds when its end was noticed, 0 while it lasts
}

// stuckState is a part's stuck subscribers and its publishers' per-stream counts.
type stuckState struct {
	mu    sync.Mutex
	conns []*stuckConn
	sent  map[int]int64 // per stream number (PubOffset included), once the publishers are done
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
}

// StuckPart is one worker's stuck subscribers.
type StuckPart struct {
	Stuck int64   `json:"stuck"` // stuck subscribers connected
	Down  []int64 `json:"down"`  // Unix nanoseconds at which each disconnected one was noticed
}

// StuckReport says what the broker did about the stuck subscribers, and how the rest fared (the healthy
// subscribers' receive rate, loss and latency are the result's usual figures).
type StuckReport struct {
	Stuck        int64 `json:"stuck"`
	Disconnected int64 `json:"disconnected"`
	// Owed is how many messages were published, on average, to a stuck subscriber's topic while it was
	// subscribed: what the broker had to queue, drop or refuse for each.
	Owed float64 `json:"owed"`
	// Seconds after the publishers started at which the first, median and last stuck subscriber was seen
	// disconnected.
	FirstSeconds  float64 `json:"first_seconds"`
	MedianSeconds float64 `json:"median_seconds"`
	LastSeconds   float64 `json:"last_seconds"`
	// RSSStart, RSSPeak and RSSEnd are the broker's resident memory when publishing started, at its highest
	// and when the run ended (with -pid).
	RSSStart int64 `json:"rss_start,omitempty"`
	RSSPeak  int64 `json:"rss_peak,omitempty"`
	RSSEnd   int64 `json:"rss_end,omitempty"`
}

func newStuckState() *stuckState {
	return &stuckState{stop: make(chan struct{}), done: make(chan struct{}), sent: map[int]int64{}}
}

// connectStuck connects a subscriber that will stop reading: a small receive buffer set before the handshake
// (the window is fixed then), CONNECT, SUBSCRIBE, and after the SUBACK nothing is read again.
func (p *part) connectStuck(ctx context.Context, cfg clientConfig, filter string) error {
	if cfg.target.Scheme != "tcp" {
		return fmt.Errorf("stuck subscribers need a tcp:// target, not %s", cfg.target.Raw)
	}
	ctx, cancel := context.WithTimeout(ctx, p.spec.ConnectTimeout)
	defer cancel()
	rcv := p.spec.StuckRcvBuf
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		if rcv == 0 {
			return nil
		}
		var serr error
		err := rc.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, rcv) })
		if err != nil {
			return err
		}
		return serr
	}}
	if cfg.src != nil {
		d.LocalAddr = &net.TCPAddr{IP: cfg.src}
	}
	conn, err := d.DialContext(ctx, "tcp", cfg.target.Host)
	if err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	fail := func(err error) error { conn.Close(); return err }
	c := codec.Connect{Version: cfg.version, CleanStart: true, KeepAlive: cfg.keepAlive, ClientID: []byte(cfg.clientID)}
	sub := codec.Subscribe{PacketID: 1, Subs: []codec.Subscription{{Filter: []byte(filter), QoS: p.spec.QoS}}}
	if _, err := conn.Write(c.Append(nil, cfg.version)); err != nil {
		return fail(err)
	}
	// A 64-byte reader: whatever it reads ahead past the SUBACK stays unread, like the rest.
	br := bufio.NewReaderSize(conn, 64)
	h, body, err := readOne(br)
	if err != nil {
		return fail(fmt.Errorf("waiting for CONNACK: %w", err))
	}
	var ack codec.Connack
	if h.Type != codec.TypeConnack {
		return fail(fmt.Errorf("expected CONNACK, got %v", h.Type))
	}
	if err := ack.Decode(h, body, cfg.version); err != nil {
		return fail(err)
	}
	if ack.Reason != codec.Success {
		return fail(fmt.Errorf("%w: CONNACK %v", errRefused, ack.Reason))
	}
	if _, err := conn.Write(sub.Append(nil, cfg.version)); err != nil {
		return fail(err)
	}
	for {
		h, _, err = readOne(br)
		if err != nil {
			return fail(fmt.Errorf("waiting for SUBACK: %w", err))
		}
		if h.Type == codec.TypeSuback {
			break // PUBLISH of retained messages may come first; they are dropped
		}
	}
	conn.SetDeadline(time.Time{})
	sc := &stuckConn{conn: conn, fd: -1, lastPing: time.Now()}
	if raw, err := conn.(*net.TCPConn).SyscallConn(); err == nil {
		raw.Control(func(fd uintptr) { sc.fd = int(fd) })
	}
	st := p.stuck
	st.mu.Lock()
	st.conns = append(st.conns, sc)
	st.mu.Unlock()
	return nil
}

// readOne reads one whole packet through br.
func readOne(br *bufio.Reader) (codec.FixedHeader, []byte, error) {
	n := 2
	for {
		b, err := br.Peek(n)
		if len(b) < n {
			return codec.FixedHeader{}, nil, err
		}
		h, need, err := codec.Peek(b, 0)
		if err != nil {
			return h, nil, err
		}
		if need == 0 {
			body := append([]byte(nil), b[h.Size:h.Len()]...)
			br.Discard(h.Len())
			return h, body, nil
		}
		if n+need > br.Size() {
			// Larger than the little buffer (a retained message before the SUBACK): skip it.
			if _, err := br.Discard(h.Len()); err != nil {
				return h, nil, err
			}
			return h, nil, nil
		}
		n += need
	}
}

// watch pings the stuck connections and notices when the broker ends them, until stop.
func (st *stuckState) watch() {
	defer close(st.done)
	t := time.NewTicker(stuckPoll)
	defer t.Stop()
	ping := codec.AppendPingreq(nil)
	for {
		select {
		case <-st.stop:
			return
		case now := <-t.C:
			st.mu.Lock()
			conns := st.conns
			st.mu.Unlock()
			for _, c := range conns {
				if c.down.Load() != 0 {
					continue
				}
				if !established(c.fd) {
					c.down.Store(now.UnixNano())
					continue
				}
				if now.Sub(c.lastPing) >= stuckPing {
					c.lastPing = now
					c.conn.SetWriteDeadline(now.Add(stuckPoll))
					if _, err := c.conn.Write(ping); err != nil && !isTimeout(err) {
						c.down.Store(now.UnixNano())
					}
				}
			}
		}
	}
}

// established says whether the socket is still an established TCP connection; a FIN or a reset from the
// broker moves it on.
func established(fd int) bool {
	if fd < 0 {
		return true
	}
	info, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
	if err != nil {
		return false
	}
	return info.State == unix.BPF_TCP_ESTABLISHED
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// close stops the watcher and closes the stuck connections.
func (st *stuckState) close() {
	st.once.Do(func() {
		close(st.stop)
		<-st.done
		st.mu.Lock()
		defer st.mu.Unlock()
		for _, c := range st.conns {
			c.conn.Close()
		}
	})
}

func (st *stuckState) part() *StuckPart {
	st.mu.Lock()
	defer st.mu.Unlock()
	sp := &StuckPart{Stuck: int64(len(st.conns))}
	for _, c := range st.conns {
		if d := c.down.Load(); d != 0 {
			sp.Down = append(sp.Down, d)
		}
	}
	return sp
}

// runStuck is the stuck scenario's publish phase: every publisher cycles over its topics for Duration (or
// Count messages per topic), each (publisher, topic) pair numbering its own messages. It returns the messages
// sent per stream.
func (p *part) runStuck(ctx context.Context) map[int]int64 {
	var wg sync.WaitGroup
	for i, r := range p.roles {
		if r.kind != rolePub {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.runStuckPublisher(ctx, i, r); err != nil {
				p.noteErr(err)
			}
		}()
	}
	wg.Wait()
	return p.sentMap(true)
}

// runStuckPublisher publishes role i's messages round robin over its topics.
func (p *part) runStuckPublisher(ctx context.Context, i int, r role) error {
	c := p.clients[i].Load()
	type out struct {
		topic   []byte
		payload []byte
		stream  int
		seq     uint64
	}
	var outs []*out
	for t := 0; t < p.spec.topicCount(); t++ {
		if s, ok := p.spec.streamFor(r.pub, t); ok {
			s += p.spec.PubOffset
			outs = append(outs, &out{topic: []byte(p.spec.TopicFor(t)), stream: s,
				payload: newPayload(p.spec.PayloadSize, p.tag, uint32(s))})
		}
	}
	defer func() {
		p.stuck.mu.Lock()
		for _, o := range outs {
			p.stuck.sent[o.stream] += int64(o.seq)
		}
		p.stuck.mu.Unlock()
	}()
	start := time.Now()
	deadline := start.Add(p.spec.Duration)
	var interval float64
	if p.spec.Rate > 0 {
		interval = float64(time.Second) / p.spec.Rate
	}
	var err error
	for n := uint64(0); ; n++ {
		o := outs[n%uint64(len(outs))]
		if p.spec.Count > 0 && o.seq >= uint64(p.spec.Count) {
			break
		}
		now := time.Now()
		if p.spec.Count == 0 && now.After(deadline) || n&1023 == 0 && ctx.Err() != nil {
			break
		}
		setStamp(o.payload, o.seq, now.UnixNano())
		if err = c.publish(o.topic, p.spec.QoS, false, o.payload); err != nil {
			break
		}
		o.seq++
		p.sentBy[i].Add(1)
		if interval > 0 {
			if wait := time.Until(start.Add(time.Duration(float64(n+1) * interval))); wait > 0 {
				if err = c.flush(); err != nil {
					break
				}
				time.Sleep(wait)
			}
		}
	}
	return p.endPublishing(ctx, c, r.pub, err)
}

// sentMap returns the part's messages per stream.
func (st *stuckState) sentMap() map[int]int64 {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make(map[int]int64, len(st.sent))
	for k, v := range st.sent {
		out[k] = v
	}
	return out
}

// mergeStuck folds the workers' stuck subscribers into one report, timed from the start of publishing.
func mergeStuck(parts []*PartResult, r *Result) *StuckReport {
	s := &StuckReport{}
	var start int64
	var down []int64
	for _, p := range parts {
		if start == 0 || (p.Times.PublishStart != 0 && p.Times.PublishStart < start) {
			start = p.Times.PublishStart
		}
		if p.Stuck == nil {
			continue
		}
		s.Stuck += p.Stuck.Stuck
		down = append(down, p.Stuck.Down...)
	}
	sent := map[int]int64{}
	for _, p := range parts {
		for k, v := range p.Accepted {
			sent[k] += v
		}
	}
	T := r.Spec.topicCount()
	var owed, stuck int64
	for i := 0; i < r.Spec.Subscribers; i++ {
		if !isStuck(i, r.Spec.Stuck) {
			continue
		}
		stuck++
		for p := 0; p < r.Spec.Publishers; p++ {
			if st, ok := r.Spec.streamFor(p, i%T); ok {
				owed += sent[st+r.Spec.PubOffset]
			}
		}
	}
	if stuck > 0 {
		s.Owed = float64(owed) / float64(stuck)
	}
	sort.Slice(down, func(i, j int) bool { return down[i] < down[j] })
	s.Disconnected = int64(len(down))
	if n := len(down); n > 0 {
		at := func(t int64) float64 { return float64(t-start) / 1e9 }
		s.FirstSeconds, s.MedianSeconds, s.LastSeconds = at(down[0]), at(down[n/2]), at(down[n-1])
	}
	startT := float64(start-r.Date.UnixNano()) / 1e9
	for _, x := range r.Series {
		if x.RSS == 0 {
			continue
		}
		if s.RSSStart == 0 && x.T >= startT {
			s.RSSStart = x.RSS
		}
		s.RSSPeak = max(s.RSSPeak, x.RSS)
		s.RSSEnd = x.RSS
	}
	return s
}
