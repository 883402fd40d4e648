package conformance_test

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestSys_BrokerTopicsPublishedAtInterval(t *testing.T) {
	t.Parallel()
	b := startBroker(t, func(c *brokerConfig) { c.sysInterval = time.Second })
	c := connectOK(t, b.addr, v311, "sys-reader")
	c.subscribe(1, "$SYS/broker/#", 0, 0)
	// The names Mosquitto uses, which dashboards and monitoring scripts expect.
	want := map[string]bool{
		"$SYS/broker/version":                 false,
		"$SYS/broker/uptime":                  false,
		"$SYS/broker/clients/connected":       false,
		"$SYS/broker/messages/received":       false,
		"$SYS/broker/messages/sent":           false,
		"$SYS/broker/bytes/received":          false,
		"$SYS/broker/bytes/sent":              false,
		"$SYS/broker/subscriptions/count":     false,
		"$SYS/broker/retained messages/count": false,
	}
	missing := len(want)
	// Retained $SYS values from before this client connected may be stale; wait for a current one.
	connectedOK, subsOK := false, false
	deadline := time.Now().Add(4 * time.Second)
	for (missing > 0 || !connectedOK || !subsOK) && time.Now().Before(deadline) {
		pk, err := c.read(time.Until(deadline))
		if err != nil {
			break
		}
		p, err := parsePublish(pk, v311)
		if err != nil {
			t.Fatal(err)
		}
		if seen, ok := want[p.topic]; ok && !seen {
			want[p.topic] = true
			missing--
		}
		n, err := strconv.Atoi(strings.TrimSpace(p.payload))
		switch p.topic {
		case "$SYS/broker/clients/connected":
			connectedOK = err == nil && n >= 1
		case "$SYS/broker/subscriptions/count":
			subsOK = err == nil && n >= 1
		}
	}
	if !connectedOK {
		t.Errorf("$SYS/broker/clients/connected never counted this client")
	}
	if !subsOK {
		t.Errorf("$SYS/broker/subscriptions/count never counted this client's subscription")
	}
	for topic, seen := range want {
		if !seen {
			t.Errorf("%s not published within 4 s at a 1 s interval", topic)
		}
	}
}

func TestSys_ClientsCannotPublishToSys(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	reader := connectOK(t, b.addr, v311, "sys-watch")
	reader.subscribe(1, "$SYS/fake/#", 0, 0)
	c := connectOK(t, b.addr, v311, "sys-writer")
	c.send(publishPkt(v311, 0, false, false, "$SYS/fake/x", 0, nil, "spoof"))
	// Not a MUST of the standard (§4.7.2 only says applications cannot use $ topics for their own purposes), but
	// Mosquitto and loopmq keep $SYS for the broker: a client's publication there is never delivered.
	reader.expectNothing()
}
