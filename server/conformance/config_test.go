package conformance_test

import "time"

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
