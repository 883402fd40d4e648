package conformance_test

import (
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"
)

// TestRobustness_RandomPacketsNeverBreakTheBroker throws seeded random packets — valid fixed headers with random
// bodies, mutated valid packets and plain noise — at the broker, before and after CONNECT, over many
// connections at once. Whatever each connection gets back, the broker must keep serving others.
func TestRobustness_RandomPacketsNeverBreakTheBroker(t *testing.T) {
	t.Parallel()
	b := startBroker(t, func(c *brokerConfig) { c.maxPacketSize = 4096 })
	peer := connectOK(t, b.addr, v5, "random-peer")
	rng := rand.New(rand.NewPCG(5, 6))
	seeds := [][]byte{
		publishPkt(v5, 1, true, false, "a/b", 7, props(pUser("k", "v"), pU16(propTopicAlias, 1)), "payload"),
		subscribePkt(v5, 3, props(pVBI(propSubscriptionID, 9)), "a/+", byte(0x2e)),
		unsubscribePkt(v5, 4, "a/#"),
		disconnect5(0x04, pU32(propSessionExpiry, 5)),
		x("f0 00"), ack(0x62, 1), ack(0x50, 2),
	}
	const conns = 120
	var cases [][]byte
	for i := 0; i < conns; i++ {
		var p []byte
		switch i % 3 {
		case 0: // a fixed header with a random type and flags and a random body of the announced length
			body := make([]byte, rng.IntN(64))
			for j := range body {
				body[j] = byte(rng.UintN(256))
			}
			p = pkt(byte(rng.UintN(256)), body)
		case 1: // a valid packet with a few bytes flipped
			p = append([]byte(nil), seeds[rng.IntN(len(seeds))]...)
			for k := 0; k < 1+rng.IntN(3); k++ {
				p[rng.IntN(len(p))] ^= byte(1 + rng.UintN(255))
			}
		default: // noise
			p = make([]byte, 1+rng.IntN(32))
			for j := range p {
				p[j] = byte(rng.UintN(256))
			}
		}
		cases = append(cases, p)
	}
	var wg sync.WaitGroup
	for i, p := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.DialTimeout("tcp", b.addr, wait)
			if err != nil {
				return
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(3 * time.Second))
			if i%2 == 0 {
				conn.Write(connectClean(v5, "")) // half the cases after a v5 CONNECT
			}
			conn.Write(p)
			buf := make([]byte, 512)
			for {
				if _, err := conn.Read(buf); err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	undisturbed(t, b.addr, peer)
}
