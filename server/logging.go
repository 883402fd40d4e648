package server

import (
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"
)

// newLogger builds the broker's logger from LogLevel and LogFormat, writing to w.
func newLogger(w io.Writer, level, format string) *slog.Logger {
	lv, _ := parseLevel(level)
	ho := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, ho))
	}
	return slog.New(slog.NewTextHandler(w, ho))
}

// sampler lets through at most limit events per second and counts the rest, so a flood of connects or protocol
// violations cannot turn logging into the bottleneck. It is shared by all loops and lock-free.
type sampler struct {
	limit      int64
	window     atomic.Int64 // current second (unix)
	count      atomic.Int64 // events in the current second
	suppressed atomic.Int64 // events dropped since the last report
}

// allow reports whether this event may be logged, and how many were suppressed before it (to report once).
func (s *sampler) allow(now time.Time) (ok bool, suppressed int64) {
	sec := now.Unix()
	if w := s.window.Load(); w != sec && s.window.CompareAndSwap(w, sec) {
		s.count.Store(0)
	}
	if s.count.Add(1) > s.limit {
		s.suppressed.Add(1)
		return false, 0
	}
	return true, s.suppressed.Swap(0)
}

// gnetLogger routes gnet's own messages into slog at debug level (errors at error).
type gnetLogger struct{ l *slog.Logger }

// The methods below implement gnet's logging.Logger.

func (g gnetLogger) Debugf(f string, a ...any) { g.l.Debug("gnet: " + fmt.Sprintf(f, a...)) }
func (g gnetLogger) Infof(f string, a ...any)  { g.l.Debug("gnet: " + fmt.Sprintf(f, a...)) }
func (g gnetLogger) Warnf(f string, a ...any)  { g.l.Warn("gnet: " + fmt.Sprintf(f, a...)) }
func (g gnetLogger) Errorf(f string, a ...any) { g.l.Error("gnet: " + fmt.Sprintf(f, a...)) }
func (g gnetLogger) Fatalf(f string, a ...any) { g.l.Error("gnet: " + fmt.Sprintf(f, a...)) }
