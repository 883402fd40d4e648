package conformance_test

import (
	"flag"
	"os"
	"testing"
	"time"
)

// brokerConfig is the part of the broker's configuration the tests change. It maps onto server.Options (and, in
// the mosquittoref build, onto a mosquitto.conf, so the suite itself can be checked against a reference broker).
// Zero values keep the broker's defaults.
type brokerConfig struct {
	connectTimeout    time.Duration
	maxPacketSize     int
	receiveMaximum    int
	topicAliasMaximum int
	maxKeepAlive      int // seconds
	maxQueued         int
	sysInterval       time.Duration
	maxConnections    int
	maxSessionExpiry  time.Duration
	// ws adds a MQTT-over-WebSocket listener (broker.wsAddr), path /mqtt.
	ws bool
}

// broker is a running broker under test.
type broker struct {
	addr   string
	wsAddr string
	stop   func() error
}

// TestMain raises the default parallelism: these tests mostly wait on sockets and timers (keep alive, expiry,
// will delay), so running only GOMAXPROCS of them at a time would make the package take minutes on a small machine.
// An explicit -parallel on the command line wins.
func TestMain(m *testing.M) {
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		flag.Set("test.parallel", "8")
	}
	os.Exit(m.Run())
}
