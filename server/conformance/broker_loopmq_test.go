//go:build !mosquittoref

package conformance_test

import (
	"context"
	"testing"
	"time"

	"loopmq/server"
	"loopmq/server/servertest"
)

// reference names the broker under test in messages.
const reference = false

// startBroker starts a loopmq broker (servertest.Start: free loopback port, errors-only log, LOOPMQ_TEST_LOG=debug
// for more) with the defaults changed by cfg; t.Cleanup shuts it down.
func startBroker(t testing.TB, cfg ...func(*brokerConfig)) *broker {
	t.Helper()
	var bc brokerConfig
	for _, f := range cfg {
		f(&bc)
	}
	s := servertest.Start(t, func(opts *server.Options) {
		opts.EventLoops = 2
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
	})
	// Shutdown runs once; servertest's cleanup calling it again returns nil.
	stop := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return s.Shutdown(ctx)
	}
	return &broker{addr: s.TCPAddr(), wsAddr: s.WSAddr(), stop: stop}
}

// startStoppableBroker starts a broker and returns a function that shuts it down (once; t.Cleanup calls it too).
func startStoppableBroker(t testing.TB) (*broker, func() error) {
	t.Helper()
	b := startBroker(t)
	return b, b.stop
}
