package conformance_test

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRobustness_ConnectionChurnLeavesNoGhosts opens many connections at once that end every way a connection can
// end — DISCONNECT, close after CONNACK, close in the middle of a packet, reset before CONNECT — and then checks
// that the broker counts exactly the one client left and still serves it.
func TestRobustness_ConnectionChurnLeavesNoGhosts(t *testing.T) {
	t.Parallel()
	b := startBroker(t, func(c *brokerConfig) { c.sysInterval = time.Second })
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.DialTimeout("tcp", b.addr, wait)
			if err != nil {
				errs <- err
				return
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			id := fmt.Sprint("churn-", i)
			switch i % 4 {
			case 0: // reset before CONNECT
				conn.(*net.TCPConn).SetLinger(0)
				return
			case 1: // half a CONNECT
				conn.Write(connectClean(v311, id)[:6])
				return
			}
			conn.Write(cat(connectClean(v311, id), subscribePkt(v311, 1, nil, "churn/"+id, byte(1))))
			buf := make([]byte, 4+5)
			if _, err := readFull(conn, buf); err != nil {
				errs <- fmt.Errorf("%s: %v", id, err)
				return
			}
			if string(buf[:4]) != string(connackOK311) {
				errs <- fmt.Errorf("%s: got % x", id, buf)
				return
			}
			if i%4 == 2 {
				conn.Write(disconnect)
			} else {
				conn.Write(publishPkt(v311, 1, false, false, "churn/x", 1, nil, "half")[:5]) // cut mid-packet
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	c := connectOK(t, b.addr, v311, "survivor")
	c.subscribe(1, "$SYS/broker/clients/connected", 0, 0)
	deadline := time.Now().Add(5 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		pk, err := c.read(time.Until(deadline))
		if err != nil {
			break
		}
		p, err := parsePublish(pk, v311)
		if err != nil {
			t.Fatal(err)
		}
		last = strings.TrimSpace(p.payload)
		if n, err := strconv.Atoi(last); err == nil && n == 1 {
			c.roundTrip("churn/after")
			return
		}
	}
	t.Fatalf("$SYS/broker/clients/connected last said %q, want 1 once the churn is over", last)
}

func readFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := c.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
