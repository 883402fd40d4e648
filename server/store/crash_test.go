package store

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const (
	crashDirEnv   = "LOOPMQ_STORE_CRASH_DIR"
	crashStartEnv = "LOOPMQ_STORE_CRASH_START"
)

var crashClient = []byte("crash-client")

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashDirEnv); dir != "" {
		start, _ := strconv.ParseUint(os.Getenv(crashStartEnv), 10, 64)
		if err := crashWriter(dir, start); err != nil {
			fmt.Fprintln(os.Stderr, "crash writer:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// crashWriter is the child of TestKill9: producers submit batches (a body, a queue entry and,
// every tenth, a retained message) until the parent kills the process; each acknowledged id is
// written to stdout only after its done(nil).
func crashWriter(dir string, start uint64) error {
	s, err := Open(Options{Dir: dir, Fsync: FsyncAlways})
	if err != nil {
		return err
	}
	c := s.NewCommitter(CommitterOptions{MaxPending: 1 << 20})
	b := s.NewBatch()
	b.PutSession(&Session{ClientID: crashClient, Protocol: 5, Interval: 0xFFFFFFFF})
	ready := make(chan error, 1)
	if err := c.Submit(b, func(err error) { ready <- err }); err != nil {
		return err
	}
	if err := <-ready; err != nil {
		return err
	}
	fmt.Println("ready")
	var next atomic.Uint64
	next.Store(start)
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			payload := make([]byte, 64)
			for failed.Load() == nil {
				id := next.Add(1)
				b := s.NewBatch()
				b.PutMessage(id, &Message{Topic: []byte("crash/t"), Payload: payload, QoS: 1})
				b.Enqueue(crashClient, id, &Queued{MessageID: id, QoS: 1})
				if id%10 == 0 {
					b.PutRetained(&Message{Topic: []byte("crash/r/" + strconv.FormatUint(id, 10)), Payload: payload, Retain: true})
				}
				line := []byte(strconv.FormatUint(id, 10) + "\n")
				for {
					err := c.Submit(b, func(err error) {
						if err != nil {
							failed.Store(&err)
							return
						}
						os.Stdout.Write(line)
					})
					if !errors.Is(err, ErrFull) {
						if err != nil {
							failed.Store(&err)
						}
						break
					}
					time.Sleep(time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	return *failed.Load()
}

// TestKill9: a writer process is SIGKILLed at random moments, several times over the same
// store; after each kill the store opens and holds every id the writer reported acknowledged.
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a child process several times")
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))
	acked := map[uint64]bool{}
	const rounds = 5
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashStartEnv+"="+strconv.Itoa((round+1)*1_000_000_000))
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan uint64, 1024)
		readerDone := make(chan error, 1)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if sc.Text() == "ready" {
					lines <- 0
					continue
				}
				id, err := strconv.ParseUint(sc.Text(), 10, 64)
				if err != nil {
					readerDone <- fmt.Errorf("bad line %q", sc.Text())
					return
				}
				lines <- id
			}
			readerDone <- sc.Err()
		}()
		// Kill after a random number of acknowledgements, so that the kill lands in the middle
		// of commits at different points of the log.
		want := 50 + rng.IntN(2000)
		got := 0
		deadline := time.After(60 * time.Second)
	wait:
		for got < want {
			select {
			case id := <-lines:
				if id != 0 {
					acked[id] = true
					got++
				}
			case err := <-readerDone:
				t.Fatalf("round %d: writer stopped after %d acks: %v", round, got, err)
			case <-deadline:
				break wait
			}
		}
		if got == 0 {
			t.Fatalf("round %d: no acknowledgement in 60s", round)
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		// Acknowledgements written before the kill are still in the pipe.
		for {
			select {
			case id := <-lines:
				if id != 0 {
					acked[id] = true
					got++
				}
				continue
			case <-readerDone:
			}
			break
		}
		cmd.Wait()
		for len(lines) > 0 {
			if id := <-lines; id != 0 {
				acked[id] = true
				got++
			}
		}

		s, err := Open(Options{Dir: dir})
		if err != nil {
			t.Fatalf("round %d: open after kill -9: %v", round, err)
		}
		queued := map[uint64]bool{}
		retained := map[string]bool{}
		st, err := s.Load(time.Now(), Visitor{
			Queued: func(cid []byte, seq uint64, q *Queued) error {
				if seq != q.MessageID {
					return fmt.Errorf("queue entry %d refers to message %d", seq, q.MessageID)
				}
				queued[seq] = true
				return nil
			},
			Retained: func(m *Message) error { retained[string(m.Topic)] = true; return nil },
		})
		s.Close()
		if err != nil {
			t.Fatalf("round %d: load after kill -9: %v", round, err)
		}
		for id := range acked {
			if !queued[id] {
				t.Fatalf("round %d: acknowledged id %d lost (%d acknowledged so far, %d in the store)", round, id, len(acked), len(queued))
			}
			if id%10 == 0 && !retained["crash/r/"+strconv.FormatUint(id, 10)] {
				t.Fatalf("round %d: retained message of acknowledged id %d lost", round, id)
			}
		}
		if st.Queued != st.Messages {
			t.Fatalf("round %d: %d queue entries but %d bodies: a batch was torn", round, st.Queued, st.Messages)
		}
		t.Logf("round %d: killed after %d acks; store holds %d (acknowledged %d in all)", round, got, len(queued), len(acked))
	}
}
