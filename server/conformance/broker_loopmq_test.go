//go:build !mosquittoref

package conformance_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"loopmq/server"
)

// reference names the broker under test in messages.
const reference = false

// startBroker starts a loopmq broker on a free loopback port with the defaults changed by cfg; t.Cleanup shuts it
// down.
func startBroker(t testing.TB, cfg ...func(*brokerConfig)) *broker {
	t.Helper()
	var bc brokerConfig
	for _, f := range cfg {
		f(&bc)
	}
	opts := server.DefaultOptions()
	opts.TCPAddr = "127.0.0.1:0"
	opts.WSAddr = ""
	opts.HTTPAddr = ""
	opts.EventLoops = 2
	// The broker's log would drown the test output; LOOPMQ_TEST_LOG=debug brings it back when a test fails.
	opts.LogLevel = "error"
	if lvl := os.Getenv("LOOPMQ_TEST_LOG"); lvl != "" {
		opts.LogLevel = lvl
	}
	if bc.connectTimeout > 0 {
		opts.ConnectTimeout = bc.connectTimeout
	}
	if bc.maxPacketSize > 0 {
		opts.MaxPacketSize = bc.maxPacketSize
	}
	if bc.receiveMaximum > 0 {
		opts.ReceiveMaximum = bc.receiveMaximum
	}
	if bc.topicAliasMaximum > 0 {
		opts.TopicAliasMaximum = bc.topicAliasMaximum
	}
	if bc.maxKeepAlive > 0 {
		opts.MaxKeepAlive = time.Duration(bc.maxKeepAlive) * time.Second
	}
	if bc.maxQueued > 0 {
		opts.MaxQueuedMessages = bc.maxQueued
	}
	if bc.ws {
		// A second loopback address keeps the WebSocket listener distinct from the TCP one (both pick port 0).
		opts.WSAddr = "127.0.0.2:0"
		opts.WSPath = "/mqtt"
	}
	if bc.maxConnections > 0 {
		opts.MaxConnections = bc.maxConnections
	}
	if bc.maxSessionExpiry > 0 {
		opts.MaxSessionExpiry = bc.maxSessionExpiry
	}
	if bc.sysInterval > 0 {
		opts.SysInterval = bc.sysInterval
	}
	s, err := server.New(opts)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	var once sync.Once
	var shutdownErr error
	stop := func() error {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			shutdownErr = s.Shutdown(ctx)
		})
		return shutdownErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return &broker{addr: s.TCPAddr(), wsAddr: s.WSAddr(), stop: stop}
}

// startStoppableBroker starts a broker and returns a function that shuts it down (once; t.Cleanup calls it too).
func startStoppableBroker(t testing.TB) (*broker, func() error) {
	t.Helper()
	b := startBroker(t)
	return b, b.stop
}
