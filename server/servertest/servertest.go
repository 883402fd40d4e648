// Package servertest starts a loopmq broker for the tests of other packages (conformance, the benchmark harness),
// so they share one way to do it: loopback addresses on free ports, a quiet log, shutdown when the test ends.
//
// The tests inside package server keep their own startBroker: they cannot import this package (import cycle).
package servertest

import (
	"context"
	"net"
	"os"
	"testing"
	"time"

	"loopmq/server"
)

// Start starts a broker with a TCP listener on 127.0.0.1 on a free port and no WebSocket or HTTP listener, after
// applying mutate in order (to add listeners, use FreeAddr or "127.0.0.1:0"). It fails the test when the broker
// does not start, and shuts the broker down when the test ends; a failing Shutdown fails the test. The broker logs
// errors only, to stderr; LOOPMQ_TEST_LOG=debug (or info, warn) brings the rest back when a test fails.
func Start(t testing.TB, mutate ...func(*server.Options)) *server.Server {
	t.Helper()
	o := server.DefaultOptions()
	o.TCPAddr = "127.0.0.1:0"
	o.WSAddr = ""
	o.HTTPAddr = ""
	o.LogLevel = "error"
	if lvl := os.Getenv("LOOPMQ_TEST_LOG"); lvl != "" {
		o.LogLevel = lvl
	}
	for _, f := range mutate {
		f(&o)
	}
	s, err := server.New(o)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("server Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("server Shutdown: %v", err)
		}
	})
	return s
}

// FreeAddr returns a 127.0.0.1 address with a port that was free a moment ago, for a listener whose address must
// be known before the broker starts (equal TCP and WebSocket addresses would mean one shared listener).
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
