package bench

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// monitor samples the workers' progress while a run goes on: a per-second time series for the
// reports, a status line for people, and the broker's memory against the connection count.
type monitor struct {
	spec    Spec
	workers []worker
	start   time.Time
	status  io.Writer
	tty     bool

	mu      sync.Mutex
	phase   string
	samples []Sample
	mem     []MemSample
	done    chan struct{}
	stopped chan struct{}
	once    sync.Once
}

const monitorTick = 250 * time.Millisecond

func startMonitor(spec Spec, ws []worker, start time.Time, status io.Writer) *monitor {
	m := &monitor{spec: spec, workers: ws, start: start, status: status, phase: "connect",
		done: make(chan struct{}), stopped: make(chan struct{})}
	if f, ok := status.(*os.File); ok {
		_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
		m.tty = err == nil
	}
	go m.loop()
	return m
}

func (m *monitor) setPhase(p string) {
	m.mu.Lock()
	m.phase = p
	m.mu.Unlock()
}

func (m *monitor) stop() {
	m.once.Do(func() { close(m.done) })
	<-m.stopped
}

func (m *monitor) loop() {
	defer close(m.stopped)
	t := time.NewTicker(monitorTick)
	defer t.Stop()
	var prev Progress
	prevT := m.start
	ticks := 0
	m.sampleMemory(Progress{})
	for {
		select {
		case <-m.done:
			if m.status != nil && m.tty {
				fmt.Fprintln(m.status)
			}
			return
		case now := <-t.C:
			var p Progress
			for _, w := range m.workers {
				p.add(w.progress())
			}
			m.sampleMemory(p)
			ticks++
			if ticks%4 != 0 {
				continue
			}
			dt := now.Sub(prevT).Seconds()
			s := Sample{
				T:         now.Sub(m.start).Seconds(),
				Connected: p.Connected,
				SentPS:    float64(p.Sent-prev.Sent) / dt,
				RecvPS:    float64(p.Received-prev.Received) / dt,
			}
			m.mu.Lock()
			if n := len(m.mem); n > 0 {
				s.RSS = m.mem[n-1].RSS
			}
			m.samples = append(m.samples, s)
			phase := m.phase
			m.mu.Unlock()
			prev, prevT = p, now
			m.print(phase, s, p)
		}
	}
}

// print writes the status line: overwritten in place on a terminal, one line per second otherwise.
func (m *monitor) print(phase string, s Sample, p Progress) {
	if m.status == nil {
		return
	}
	line := fmt.Sprintf("%5.0fs %-7s conn %d", s.T, phase, p.Connected)
	if p.Failed > 0 {
		line += fmt.Sprintf(" (failed %d)", p.Failed)
	}
	if p.Sent > 0 || p.Received > 0 {
		line += fmt.Sprintf("  sent %d (%s/s)  recv %d (%s/s)", p.Sent, si(s.SentPS), p.Received, si(s.RecvPS))
	}
	if p.Acked > 0 {
		line += fmt.Sprintf("  acked %d", p.Acked)
	}
	if s.RSS > 0 {
		line += fmt.Sprintf("  broker rss %s", bytesIEC(float64(s.RSS)))
	}
	if m.tty {
		fmt.Fprintf(m.status, "\r\033[K%s", line)
	} else {
		fmt.Fprintln(m.status, line)
	}
}

func (m *monitor) series() []Sample {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Sample(nil), m.samples...)
}

// sampleMemory records the broker's RSS (and Go heap when a metrics URL is given) against the
// connection count, while connections are opened and held.
func (m *monitor) sampleMemory(p Progress) {
	if m.spec.PID == 0 {
		return
	}
	m.mu.Lock()
	phase := m.phase
	m.mu.Unlock()
	if phase == "drain" {
		return
	}
	rss, err := readRSS(m.spec.PID)
	if err != nil {
		return
	}
	s := MemSample{Conns: p.Connected, RSS: rss}
	if m.spec.Metrics != "" {
		s.Heap, _ = scrapeHeap(m.spec.Metrics)
	}
	m.mu.Lock()
	m.mem = append(m.mem, s)
	m.mu.Unlock()
}

func (m *monitor) memory() *MemoryReport {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.mem) == 0 {
		return nil
	}
	return memoryReport(m.mem)
}

// si formats a rate with a k/M suffix.
func si(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

// bytesIEC formats a byte count with a KiB/MiB/GiB suffix.
func bytesIEC(v float64) string {
	switch {
	case v >= 1<<30:
		return fmt.Sprintf("%.2f GiB", v/(1<<30))
	case v >= 1<<20:
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	case v >= 1<<10:
		return fmt.Sprintf("%.2f KiB", v/(1<<10))
	}
	return fmt.Sprintf("%.0f B", v)
}
