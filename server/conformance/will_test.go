package conformance_test

import (
	"testing"
	"time"
)

// connectWill builds a clean CONNECT with a will on topic with payload; willProps is the v5 will property block.
func connectWill(level byte, id string, qos byte, retain bool, topic, payload string, connProps, willProps []byte) []byte {
	flags := flagClean | flagWill | qos<<3
	if retain {
		flags |= flagWillRetain
	}
	parts := [][]byte{str(id)}
	if level == v5 {
		if willProps == nil {
			willProps = []byte{0}
		}
		parts = append(parts, willProps)
	}
	parts = append(parts, str(topic), str(payload))
	return connectPkt(level, flags, 60, connProps, parts...)
}

func TestWill_PublishedOnAbruptClose(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	for _, level := range []byte{v31, v311, v5} {
		t.Run(levelName(level), func(t *testing.T) {
			topic := "will/abrupt/" + levelName(level)
			watcher := connectOK(t, b.addr, v311, "watch-"+levelName(level))
			watcher.subscribe(1, topic, 1, 1)
			w := connectWith(t, b.addr, level, "dying", connectWill(level, "dying-"+levelName(level), 1, false,
				topic, "gone", nil, nil))
			if level == v5 {
				w.expectConnack5(0, 0)
			} else {
				w.expect(connackOK311)
			}
			w.conn.Close()
			// [MQTT-3.1.2-8] published when the network connection closes without DISCONNECT.
			watcher.expectPublishBytes(func(pid uint16) []byte {
				return publishPkt(v311, 1, false, false, topic, pid, nil, "gone")
			})
		})
	}
}

func TestWill_NotPublishedOnDisconnect(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	for _, level := range []byte{v311, v5} {
		t.Run(levelName(level), func(t *testing.T) {
			topic := "will/clean/" + levelName(level)
			watcher := connectOK(t, b.addr, v311, "watch-clean-"+levelName(level))
			watcher.subscribe(1, topic, 0, 0)
			w := connectWith(t, b.addr, level, "polite", connectWill(level, "polite-"+levelName(level), 0, false,
				topic, "gone", nil, nil))
			if level == v5 {
				w.expectConnack5(0, 0)
			} else {
				w.expect(connackOK311)
			}
			w.send(disconnect)
			w.expectClosed()
			// [MQTT-3.1.2-10] / [MQTT-3.14.4-3] the will is discarded on DISCONNECT (v5 reason 0x00).
			watcher.expectNothing()
		})
	}
}

func TestWill_v5_DisconnectWithWillMessage0x04Publishes(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	watcher := connectOK(t, b.addr, v5, "watch-04")
	watcher.subscribe(1, "will/04", 0, 0)
	w := connectWith(t, b.addr, v5, "w04", connectWill(v5, "w04", 0, false, "will/04", "bye", nil, nil))
	w.expectConnack5(0, 0)
	w.send(disconnect5(0x04))
	w.expectClosed()
	watcher.expect(publishPkt(v5, 0, false, false, "will/04", 0, nil, "bye"))
}

func TestWill_PublishedOnProtocolViolation(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	watcher := connectOK(t, b.addr, v311, "watch-violation")
	watcher.subscribe(1, "will/violation", 0, 0)
	w := connectWith(t, b.addr, v311, "violator", connectWill(v311, "violator", 0, false, "will/violation",
		"broke", nil, nil))
	w.expect(connackOK311)
	w.send(x("36 05 00 01 61 00 01")) // QoS 3: malformed [MQTT-3.3.1-4]
	w.expectClosed()
	// [MQTT-3.1.2-8] the server closes the connection because of a protocol error: the will is published.
	watcher.expect(publishPkt(v311, 0, false, false, "will/violation", 0, nil, "broke"))
}

func TestWill_RetainedWillIsStored(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	watcher := connectOK(t, b.addr, v311, "rw-watch")
	watcher.subscribe(1, "will/retained", 0, 0)
	w := connectWith(t, b.addr, v311, "rw", connectWill(v311, "rw", 1, true, "will/retained", "last", nil, nil))
	w.expect(connackOK311)
	w.conn.Close()
	// The will reached a live subscriber (RETAIN 0 on a live delivery [MQTT-3.3.1-9]): it is stored by now.
	watcher.expect(publishPkt(v311, 0, false, false, "will/retained", 0, nil, "last"))
	s := connectOK(t, b.addr, v311, "rw-late")
	s.subscribe(1, "will/retained", 1, 1)
	// [MQTT-3.1.2-17] will retain 1: published as a retained message.
	s.expectPublishBytes(func(pid uint16) []byte {
		return publishPkt(v311, 1, true, false, "will/retained", pid, nil, "last")
	})
}

func TestWill_PublishedOnKeepAliveTimeout(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	watcher := connectOK(t, b.addr, v311, "watch-ka")
	watcher.subscribe(1, "will/ka", 0, 0)
	w := dial(t, b.addr, v311, "ka-will")
	w.send(connectPkt(v311, flagClean|flagWill, 1, nil, str("ka-will"), str("will/ka"), str("timeout")))
	w.expect(connackOK311)
	limit := 6 * time.Second
	if reference {
		limit = 12 * time.Second // mosquitto checks keep alive only every few seconds
	}
	pk, err := watcher.read(limit)
	if err != nil {
		t.Fatalf("no will after the keep-alive timeout: %s", describe(err))
	}
	if want := publishPkt(v311, 0, false, false, "will/ka", 0, nil, "timeout"); string(pk) != string(want) {
		t.Fatalf("got % x, want % x", pk, want)
	}
}

func TestWill_v5_WillDelayInterval(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	watcher := connectOK(t, b.addr, v5, "watch-delay")
	watcher.subscribe(1, "will/delay", 0, 0)
	expiry := props(pU32(propSessionExpiry, 30))
	delay := props(pU32(propWillDelay, 1))

	// The will is published only after the Will Delay Interval [MQTT-3.1.3-9].
	w := connectWith(t, b.addr, v5, "delayed", connectWill(v5, "delayed", 0, false, "will/delay", "late", expiry,
		delay))
	w.expectConnack5(0, 0)
	w.conn.Close()
	start := time.Now()
	watcher.expectNothing()
	pk, err := watcher.read(4 * time.Second)
	if err != nil {
		t.Fatalf("no will within 4 s of a 1 s Will Delay Interval: %s", describe(err))
	}
	if d := time.Since(start); d < 800*time.Millisecond {
		t.Fatalf("will published after %v, before the 1 s Will Delay Interval", d)
	}
	if want := publishPkt(v5, 0, false, false, "will/delay", 0, nil, "late"); string(pk) != string(want) {
		t.Fatalf("got % x, want % x", pk, want)
	}

	// Reconnecting to the session within the delay cancels the will (§3.1.3.2.2).
	w2 := connectWith(t, b.addr, v5, "delayed2", connectWill(v5, "delayed2", 0, false, "will/delay", "never",
		expiry, delay))
	w2.expectConnack5(0, 0)
	w2.conn.Close()
	time.Sleep(200 * time.Millisecond)
	w3 := connectWith(t, b.addr, v5, "delayed2", connectPkt(v5, 0, 60, expiry, str("delayed2")))
	w3.expectConnack5(1, 0)
	if pk, err := watcher.read(1800 * time.Millisecond); err == nil {
		t.Fatalf("will published although the session resumed within the delay: % x", pk)
	}
}

func TestWill_v5_WillPropertiesForwarded(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	watcher := connectOK(t, b.addr, v5, "watch-props")
	watcher.subscribe(1, "will/props", 0, 0)
	wp := props(pByte(propPayloadFormat, 1), pStr(propContentType, "text/plain"), pStr(propResponseTopic, "r/t"),
		pUser("k", "v"))
	w := connectWith(t, b.addr, v5, "wprops", connectWill(v5, "wprops", 0, false, "will/props", "p", nil, wp))
	w.expectConnack5(0, 0)
	w.conn.Close()
	p := watcher.expectPublish()
	want := []prop{
		{propPayloadFormat, []byte{1}}, {propContentType, str("text/plain")}, {propResponseTopic, str("r/t")},
		{propUserProperty, cat(str("k"), str("v"))},
	}
	assertPropsContain(t, p.props, want)
}

// assertPropsContain requires every wanted property with its value, in the wanted relative order per id.
func assertPropsContain(t *testing.T, got, want []prop) {
	t.Helper()
	for _, id := range []byte{propPayloadFormat, propMessageExpiry, propContentType, propResponseTopic,
		propCorrelationData, propUserProperty} {
		var g, w [][]byte
		for _, p := range got {
			if p.id == id {
				g = append(g, p.val)
			}
		}
		for _, p := range want {
			if p.id == id {
				w = append(w, p.val)
			}
		}
		if id == propMessageExpiry {
			if len(g) != len(w) {
				t.Errorf("property 0x%02x: got %d, want %d", id, len(g), len(w))
			}
			continue
		}
		if len(g) != len(w) {
			t.Errorf("property 0x%02x: got % x, want % x", id, g, w)
			continue
		}
		for i := range g {
			if string(g[i]) != string(w[i]) {
				t.Errorf("property 0x%02x #%d: got % x, want % x", id, i, g[i], w[i])
			}
		}
	}
}

func TestWill_Takeover_PublishedOnce(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	watcher := connectOK(t, b.addr, v311, "watch-takeover")
	watcher.subscribe(1, "will/takeover", 0, 0)
	first := connectWith(t, b.addr, v311, "twill", connectWill(v311, "twill", 0, false, "will/takeover", "displaced",
		nil, nil))
	first.expect(connackOK311)
	second := connectOK(t, b.addr, v311, "twill")
	first.expectClosed()
	// The first connection closed without DISCONNECT: its will is published, exactly once.
	watcher.expect(publishPkt(v311, 0, false, false, "will/takeover", 0, nil, "displaced"))
	watcher.expectNothing()
	second.send(disconnect)
	second.expectClosed()
	watcher.expectNothing()
}

func TestWill_v5_PublishedWhenSessionEndsBeforeWillDelay(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	watcher := connectOK(t, b.addr, v5, "watch-end")
	watcher.subscribe(1, "will/end", 0, 0)
	w := connectWith(t, b.addr, v5, "ends", connectWill(v5, "ends", 0, false, "will/end", "session over",
		props(pU32(propSessionExpiry, 1)), props(pU32(propWillDelay, 60))))
	w.expectConnack5(0, 0)
	w.conn.Close()
	// [MQTT-3.1.2-8 (v5)] published when the Will Delay Interval elapses or the session ends, whichever is first.
	pk, err := watcher.read(4 * time.Second)
	if err != nil {
		t.Fatalf("no will within 4 s of a 1 s session expiry (will delay 60 s): %s", describe(err))
	}
	if want := publishPkt(v5, 0, false, false, "will/end", 0, nil, "session over"); string(pk) != string(want) {
		t.Fatalf("got % x, want % x", pk, want)
	}
}
