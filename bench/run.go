package bench

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"
)

// worker is one share of a run: a part in this process, or a worker process driving its own part.
// The coordinator calls the phases in order, on all workers at once, and waits for all between phases,
// so every subscription exists before any publisher starts.
type worker interface {
	prepare(ctx context.Context) error
	publish(ctx context.Context) (map[int]int64, error)
	drain(ctx context.Context, sent map[int]int64) error
	result(ctx context.Context) (*PartResult, error)
	progress() Progress
	close()
}

// localWorker runs a part in this process.
type localWorker struct {
	p *part
	n int
}

func (w *localWorker) prepare(ctx context.Context) error                  { return w.p.prepare(ctx, w.n) }
func (w *localWorker) publish(ctx context.Context) (map[int]int64, error) { return w.p.publish(ctx) }
func (w *localWorker) drain(ctx context.Context, sent map[int]int64) error {
	w.p.drain(ctx, sent)
	return nil
}
func (w *localWorker) result(context.Context) (*PartResult, error) { return w.p.result(), nil }
func (w *localWorker) progress() Progress                          { return w.p.progress() }
func (w *localWorker) close()                                      { w.p.close() }

// Run executes one run of spec and returns its merged result. Progress goes to status (nil: none)
// once a second unless spec.Quiet. Runs whose connections exceed FDLimit are split over worker
// processes automatically when spec.Workers is 0.
func Run(ctx context.Context, spec Spec, status io.Writer) (*Result, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	n := spec.Workers
	if total := clientCount(&spec); n == 0 && total > FDLimit {
		n = (total + FDLimit - 1) / FDLimit
	}
	var workers []worker
	if n == 0 {
		workers = []worker{&localWorker{p: newPart(spec, 0, 1), n: 1}}
	} else {
		for i := 0; i < n; i++ {
			w, err := startProcWorker(ctx, spec, i, n)
			if err != nil {
				for _, w := range workers {
					w.close()
				}
				return nil, err
			}
			workers = append(workers, w)
		}
	}
	closeAll := func() { each(workers, func(w worker) error { w.close(); return nil }) }
	defer closeAll()

	start := time.Now()
	if spec.Quiet {
		status = nil
	}
	mon := startMonitor(spec, workers, start, status)
	defer mon.stop()

	if err := each(workers, func(w worker) error { return w.prepare(ctx) }); err != nil {
		return nil, fmt.Errorf("connecting: %w", err)
	}
	mon.setPhase("publish")
	var kick *kicker
	if spec.Scenario == ScenarioStorm && spec.KickURL != "" {
		mon.setPhase("storm")
		kick = startKick(ctx, spec.KickURL, spec.Duration)
	}
	sent := make(map[int]int64)
	var mu sync.Mutex
	if err := each(workers, func(w worker) error {
		s, err := w.publish(ctx)
		mu.Lock()
		for k, v := range s {
			sent[k] += v
		}
		mu.Unlock()
		return err
	}); err != nil {
		return nil, fmt.Errorf("publishing: %w", err)
	}
	interrupted := ctx.Err() != nil // publishing was cut short; what happened so far still reports
	mon.setPhase("drain")
	// Drain even after an interrupt (it is bounded by Drain), so messages in flight are not lost.
	dctx := context.WithoutCancel(ctx)
	if err := each(workers, func(w worker) error { return w.drain(dctx, sent) }); err != nil {
		return nil, fmt.Errorf("draining: %w", err)
	}
	parts := make([]*PartResult, len(workers))
	if err := eachIndex(workers, func(i int, w worker) (err error) {
		parts[i], err = w.result(ctx)
		return err
	}); err != nil {
		return nil, fmt.Errorf("collecting results: %w", err)
	}
	mon.stop()
	r := merge(spec, parts)
	r.Date = start.UTC()
	r.Workers = n
	r.Series = mon.series()
	r.Memory = mon.memory()
	if kick != nil {
		kick.report(r, parts)
	}
	if spec.Scenario == ScenarioStuck {
		r.Stuck = mergeStuck(parts, r)
	}
	if interrupted {
		r.Errors = append(r.Errors, "interrupted while publishing: figures cover the part that ran")
	}
	return r, nil
}

// each calls f on every worker concurrently and returns the first error.
func each(ws []worker, f func(worker) error) error {
	return eachIndex(ws, func(_ int, w worker) error { return f(w) })
}

func eachIndex(ws []worker, f func(int, worker) error) error {
	errs := make([]error, len(ws))
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = f(i, w) }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
