package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Worker processes are copies of the running executable started with the hidden argument "worker"
// and WorkerEnv=1 in their environment. They speak JSON lines: the coordinator writes a workerInit and
// then one workerCmd per phase to the worker's stdin; the worker answers each command with one
// workerMsg carrying Reply, and writes progress messages in between.

// WorkerEnv is the environment variable that marks a worker process; a program embedding the harness
// (mqbench, or a test binary in TestMain) calls WorkerMain when it is "1".
const WorkerEnv = "MQBENCH_WORKER"

type workerInit struct {
	Spec  Spec `json:"spec"`
	Index int  `json:"index"`
	Of    int  `json:"of"`
}

type workerCmd struct {
	Cmd  string        `json:"cmd"` // prepare, publish, drain, result, close
	Sent map[int]int64 `json:"sent,omitempty"`
}

type workerMsg struct {
	Progress *Progress     `json:"progress,omitempty"`
	Reply    string        `json:"reply,omitempty"`
	Err      string        `json:"err,omitempty"`
	Sent     map[int]int64 `json:"sent,omitempty"`
	Result   *PartResult   `json:"result,omitempty"`
}

// WorkerMain runs a worker process: it reads its share of a run and the phase commands from in and
// writes progress and answers to out. It returns when told to close or when in ends.
func WorkerMain(in io.Reader, out io.Writer) error {
	dec := json.NewDecoder(bufio.NewReader(in))
	var init workerInit
	if err := dec.Decode(&init); err != nil {
		return fmt.Errorf("worker: reading spec: %w", err)
	}
	p := newPart(init.Spec, init.Index, init.Of)
	defer p.close()
	var mu sync.Mutex
	enc := json.NewEncoder(out)
	send := func(m workerMsg) {
		mu.Lock()
		enc.Encode(m)
		mu.Unlock()
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		t := time.NewTicker(monitorTick)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				pr := p.progress()
				send(workerMsg{Progress: &pr})
			case <-stop:
				return
			}
		}
	}()
	// The coordinator's Ctrl-C reaches the whole process group, and the coordinator forwards
	// SIGTERM as SIGINT: either ends the current phase early, and the run still reports.
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	for {
		var c workerCmd
		if err := dec.Decode(&c); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("worker: reading command: %w", err)
		}
		m := workerMsg{Reply: c.Cmd}
		var err error
		switch c.Cmd {
		case "prepare":
			err = p.prepare(ctx, init.Of)
		case "publish":
			m.Sent, err = p.publish(ctx)
		case "drain":
			p.drain(context.WithoutCancel(ctx), c.Sent) // bounded by Drain; runs after an interrupt too
		case "result":
			m.Result = p.result()
		case "close":
			p.close()
			send(m)
			return nil
		default:
			err = fmt.Errorf("unknown command %q", c.Cmd)
		}
		if err != nil {
			m.Err = err.Error()
		}
		send(m)
	}
}

// procWorker drives one worker process.
type procWorker struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	enc     *json.Encoder
	replies chan workerMsg
	prog    atomic.Pointer[Progress]
	exited  chan struct{}
	once    sync.Once
}

func startProcWorker(ctx context.Context, spec Spec, index, n int) (*procWorker, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "worker")
	cmd.Env = append(os.Environ(), WorkerEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting worker %d: %w", index, err)
	}
	w := &procWorker{cmd: cmd, stdin: stdin, enc: json.NewEncoder(stdin),
		replies: make(chan workerMsg, 1), exited: make(chan struct{})}
	w.prog.Store(&Progress{})
	go w.read(stdout)
	if err := w.enc.Encode(workerInit{Spec: spec, Index: index, Of: n}); err != nil {
		w.close()
		return nil, fmt.Errorf("worker %d: %w", index, err)
	}
	return w, nil
}

func (w *procWorker) read(stdout io.Reader) {
	defer close(w.exited)
	dec := json.NewDecoder(stdout)
	for {
		var m workerMsg
		if err := dec.Decode(&m); err != nil {
			return
		}
		if m.Progress != nil {
			w.prog.Store(m.Progress)
			continue
		}
		w.replies <- m
	}
}

// call sends one command and waits for its answer.
func (w *procWorker) call(ctx context.Context, c workerCmd) (workerMsg, error) {
	if err := w.enc.Encode(c); err != nil {
		return workerMsg{}, fmt.Errorf("worker: %w", err)
	}
	done := ctx.Done()
	var giveUp <-chan time.Time
	for {
		select {
		case m := <-w.replies:
			if m.Err != "" {
				return m, errors.New(m.Err)
			}
			return m, nil
		case <-w.exited:
			return workerMsg{}, errors.New("worker process exited")
		case <-done:
			// Interrupted: tell the worker to cut the phase short, and still take its answer.
			w.cmd.Process.Signal(os.Interrupt)
			done, giveUp = nil, time.After(30*time.Second)
		case <-giveUp:
			return workerMsg{}, ctx.Err()
		}
	}
}

func (w *procWorker) prepare(ctx context.Context) error {
	_, err := w.call(ctx, workerCmd{Cmd: "prepare"})
	return err
}

func (w *procWorker) publish(ctx context.Context) (map[int]int64, error) {
	m, err := w.call(ctx, workerCmd{Cmd: "publish"})
	return m.Sent, err
}

func (w *procWorker) drain(ctx context.Context, sent map[int]int64) error {
	_, err := w.call(ctx, workerCmd{Cmd: "drain", Sent: sent})
	return err
}

func (w *procWorker) result(ctx context.Context) (*PartResult, error) {
	m, err := w.call(ctx, workerCmd{Cmd: "result"})
	if err == nil && m.Result == nil {
		err = errors.New("worker sent no result")
	}
	return m.Result, err
}

func (w *procWorker) progress() Progress { return *w.prog.Load() }

// close asks the worker to disconnect its clients and exit, and kills it if it does not within a
// few seconds.
func (w *procWorker) close() {
	w.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		w.call(ctx, workerCmd{Cmd: "close"})
		w.stdin.Close()
		select {
		case <-w.exited:
		case <-ctx.Done():
			w.cmd.Process.Kill()
		}
		w.cmd.Wait()
	})
}
