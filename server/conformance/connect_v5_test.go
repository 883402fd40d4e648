package conformance_test

import (
	"fmt"
	"testing"
	"time"
)

// Tests for MQTT 5.0 CONNECT/CONNACK and session statements that the rest of the suite did not pin down; each names
// the statement it checks, and TRACEABILITY.md points back here.

func TestSpec5_RequestResponseInformation0_NoResponseInformation(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	for _, tc := range []struct {
		name string
		p    []byte
	}{
		{"absent (default 0)", nil},
		{"explicit 0", props(pByte(0x19, 0))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := connectWith(t, b.addr, v5, "rri", connectPkt(v5, flagClean, 60, tc.p, str("rri")))
			// [MQTT-3.1.2-28] Request Response Information 0: the Server MUST NOT return Response Information.
			if p, ok := find(c.expectConnack5(0, 0), 0x1A); ok {
				t.Fatalf("CONNACK carries Response Information %q although the client did not ask", p.text())
			}
		})
	}
}

func TestSpec5_MaximumQoSAdvertisedIsEnforced(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c := connectWith(t, b.addr, v5, "maxqos", connectClean(v5, "maxqos"))
	maxQoS := 2
	if p, ok := find(c.expectConnack5(0, 0), propMaximumQoS); ok {
		maxQoS = p.num()
		// §3.2.2.3.4: the property, when present, is 0 or 1 (absent means QoS 2 is supported).
		if maxQoS > 1 {
			t.Fatalf("CONNACK Maximum QoS %d: only 0 or 1 may be sent", maxQoS)
		}
	}
	if maxQoS == 2 {
		// QoS 2 is supported: a QoS 2 PUBLISH is accepted [MQTT-3.2.2-11 does not apply].
		c.send(publishPkt(v5, 2, false, false, "mq/t", 7, nil, "x"))
		c.expectAckOK(0x50, 7)
		c.send(ackRC(0x62, 7, 0))
		c.expectReply(0x70, 7, 0)
		return
	}
	// [MQTT-3.2.2-11] / §3.3.1.2: a PUBLISH above the advertised maximum → DISCONNECT 0x9B (QoS not supported).
	c.send(publishPkt(v5, byte(maxQoS+1), false, false, "mq/t", 7, nil, "x"))
	c.expectDisconnect(0x9B)
}

func TestSpec5_RetainAvailableAdvertisedIsHonoured(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c := connectWith(t, b.addr, v5, "retav", connectClean(v5, "retav"))
	if p, ok := find(c.expectConnack5(0, 0), propRetainAvailable); ok && p.num() == 0 {
		// [MQTT-3.2.2-14] retain not supported: a PUBLISH with RETAIN 1 → DISCONNECT 0x9A.
		c.send(publishPkt(v5, 0, true, false, "ra/t", 0, nil, "x"))
		c.expectDisconnect(0x9A)
		return
	}
	// Retain is available: the retained message is stored and sent to a later subscriber [MQTT-3.3.1-5].
	c.send(publishPkt(v5, 1, true, false, "ra/t", 1, nil, "kept"))
	c.expectPubackOK(1)
	s := connectOK(t, b.addr, v5, "retav-sub")
	s.subscribe(1, "ra/t", 0, 0)
	s.expect(publishPkt(v5, 0, true, false, "ra/t", 0, nil, "kept"))
}

func TestSpec5_DisconnectWithErrorReasonStillPublishesWill(t *testing.T) {
	t.Parallel()
	if reference {
		t.Skip("mosquitto 2.0.11 drops the will on a DISCONNECT with reason 0x80")
	}
	b := startBroker(t)
	watcher := connectOK(t, b.addr, v5, "dwill-watch")
	watcher.subscribe(1, "dwill/#", 0, 0)
	for _, rc := range []byte{0x80, 0x83, 0x93} {
		t.Run(fmt.Sprintf("0x%02x", rc), func(t *testing.T) {
			topic := fmt.Sprintf("dwill/%02x", rc)
			c := connectWith(t, b.addr, v5, "dwill", connectWill(v5, "dwill", 0, false, topic, "gone", nil, nil))
			c.expectConnack5(0, 0)
			c.send(disconnect5(rc))
			// The Server closes the connection; it sends nothing back to a client DISCONNECT.
			c.expectClosed()
			// [MQTT-3.1.2-8]/[MQTT-3.1.2-10]: only a DISCONNECT with Reason Code 0x00 deletes the will; any other
			// reason leaves it to be published (§3.14.4).
			watcher.expect(publishPkt(v5, 0, false, false, topic, 0, nil, "gone"))
		})
	}
}

func TestSpec5_SessionExpiryAbsent_SessionEndsWithTheConnection(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	// Clean Start 0 without a Session Expiry Interval: the interval is 0, so the session ends when the network
	// connection closes (§3.1.2.11.2); [MQTT-3.1.2-23] requires storing it only when the interval is above 0.
	c := connectWith(t, b.addr, v5, "noexp", connectPkt(v5, 0, 60, nil, str("noexp")))
	c.expectConnack5(0, 0)
	c.subscribe(1, "noexp/t", 1, 1)
	c.send(disconnect)
	c.expectClosed()
	pub := connectOK(t, b.addr, v5, "noexp-pub")
	pub.send(publishPkt(v5, 1, false, false, "noexp/t", 1, nil, "lost"))
	pub.expectPubackOK(1)
	c2 := connectWith(t, b.addr, v5, "noexp", connectPkt(v5, 0, 60, nil, str("noexp")))
	c2.expectConnack5(0, 0) // [MQTT-3.2.2-3]: no stored session → Session Present 0
	c2.expectNothing()
}

func TestSpec5_CleanStartDiscardsStoredSession(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	s := connectPersistent(t, b.addr, v5, "cs5", 0)
	s.subscribe(1, "cs5/t", 1, 1)
	s.send(disconnect)
	s.expectClosed()
	pub := connectOK(t, b.addr, v5, "cs5-pub")
	pub.send(publishPkt(v5, 1, false, false, "cs5/t", 1, nil, "queued"))
	pub.expectPubackOK(1)

	// [MQTT-3.1.2-4] Clean Start 1: the existing session (subscription and queued message) is discarded, and
	// [MQTT-3.2.2-2] Session Present is 0.
	c := connectWith(t, b.addr, v5, "cs5", connectPkt(v5, flagClean, 60, props(pU32(propSessionExpiry, 60)),
		str("cs5")))
	c.expectConnack5(0, 0)
	c.expectNothing()
	pub.send(publishPkt(v5, 1, false, false, "cs5/t", 2, nil, "after"))
	pub.expectPubackOK(2)
	c.expectNothing() // the subscription went with the old session
}

func TestSpec5_ReconnectWithinWillDelay_WillNotSent(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	watcher := connectOK(t, b.addr, v5, "wdr-watch")
	watcher.subscribe(1, "wdr/t", 0, 0)
	// Clean Start 0 with a will due 2 s after the connection is lost; the session outlives the delay.
	c := connectWith(t, b.addr, v5, "wdr", connectPkt(v5, flagWill, 60, props(pU32(propSessionExpiry, 30)),
		str("wdr"), props(pU32(propWillDelay, 2)), str("wdr/t"), str("late")))
	c.expectConnack5(0, 0)
	c.conn.Close() // abrupt: the will is due in 2 s
	time.Sleep(300 * time.Millisecond)
	c2 := connectWith(t, b.addr, v5, "wdr", connectPkt(v5, 0, 60, props(pU32(propSessionExpiry, 30)), str("wdr")))
	c2.expectConnack5(1, 0)
	// [MQTT-3.1.3-9] a new connection for the session before the Will Delay Interval passed: no will message.
	deadline := time.Now().Add(2500 * time.Millisecond)
	for time.Now().Before(deadline) {
		watcher.expectNothing()
	}
	c2.stillOpen()
}

func TestSpec5_InvalidUTF8InConnectFields_Refused(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	bad := string([]byte{0xc3, 0x28})
	surrogate := string([]byte{0xed, 0xa0, 0x80})
	for _, tc := range []struct {
		name    string
		level   byte
		connect []byte
	}{
		{"v311 client id ill-formed [MQTT-1.5.3-1][MQTT-3.1.3-4]", v311, connectClean(v311, "id"+bad)},
		{"v311 client id with U+0000 [MQTT-1.5.3-2]", v311, connectClean(v311, "id\x00x")},
		{"v311 user name ill-formed [MQTT-3.1.3-11]", v311,
			connectPkt(v311, flagClean|flagUsername, 60, nil, str("uid"), str("user"+surrogate))},
		{"v311 will topic ill-formed [MQTT-3.1.3-10]", v311, connectWill(v311, "wid", 0, false, "w"+bad, "p", nil, nil)},
		{"v5 client id ill-formed [MQTT-1.5.4-1][MQTT-3.1.3-4]", v5, connectClean(v5, "id"+bad)},
		{"v5 client id with U+0000 [MQTT-1.5.4-2]", v5, connectClean(v5, "id\x00x")},
		{"v5 user name ill-formed [MQTT-3.1.3-12]", v5,
			connectPkt(v5, flagClean|flagUsername, 60, nil, str("uid"), str("user"+surrogate))},
		{"v5 will topic ill-formed [MQTT-3.1.3-11]", v5, connectWill(v5, "wid", 0, false, "w"+bad, "p", nil, nil)},
		{"v5 user property key ill-formed [MQTT-1.5.7-1]", v5,
			connectPkt(v5, flagClean, 60, props(pUser("k"+bad, "v")), str("upid"))},
		{"v5 will content type ill-formed", v5,
			connectWill(v5, "wct", 0, false, "w", "p", nil, props(pStr(propContentType, "t"+bad)))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := connectWith(t, b.addr, tc.level, "utf8", tc.connect)
			// A malformed CONNECT: the close, optionally after a refusing CONNACK [MQTT-3.1.4-1]; never a CONNACK
			// 0x00.
			expectRefusedOrClosed(c, 0x02, 0x80, 0x81, 0x85)
		})
	}
}

func TestSpec5_ClientIDOf23Alphanumerics_Accepted(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	id := "0123456789abcdefghijKLM"
	for _, level := range []byte{v311, v5} {
		t.Run(levelName(level), func(t *testing.T) {
			// [MQTT-3.1.3-5] 1 to 23 bytes of [0-9a-zA-Z] MUST be allowed; a one-byte id too.
			c := connectOK(t, b.addr, level, id)
			c.stillOpen()
			c1 := connectOK(t, b.addr, level, "Z")
			c1.stillOpen()
		})
	}
}

// expectAckOK reads a PUBACK (0x40) or PUBREC (0x50) for pid with a success code: 0x00, or for v5 also 0x10 (No
// matching subscribers), and returns it.
func (c *client) expectAckOK(first byte, pid uint16) reply {
	c.t.Helper()
	got := c.next()
	r, err := parseReply(got, c.level)
	if err != nil || got[0] != first || r.pid != pid || (r.reasons[0] != 0x00 && !(c.level == v5 && r.reasons[0] == 0x10)) {
		c.t.Fatalf("%s: got % x (%v), want 0x%02x for %d with a success code", c.name, got, err, first, pid)
	}
	return r
}

func TestSpec5_ConnectPropertyRules_Refused(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	for _, tc := range []struct {
		name    string
		props   []byte
		will    []byte
		lenient bool // mosquitto 2.0.11 accepts it
	}{
		// §3.1.2.11.10: Authentication Data without an Authentication Method is a Protocol Error.
		{"Authentication Data without a method", props(pStr(0x16, "data")), nil, true},
		// §3.1.2.11.6: Request Response Information other than 0 or 1 is a Protocol Error.
		{"Request Response Information 2", props(pByte(0x19, 2)), nil, false},
		// §3.1.2.11.3: Receive Maximum twice is a Protocol Error.
		{"Receive Maximum twice", props(pU16(propReceiveMaximum, 5), pU16(propReceiveMaximum, 5)), nil, false},
		// §2.2.2.2: a property not valid for CONNECT makes it malformed.
		{"Subscription Identifier in CONNECT", props(pVBI(propSubscriptionID, 1)), nil, false},
		{"Server Keep Alive in CONNECT", props(pU16(propServerKeepAlive, 5)), nil, false},
		{"Will Delay Interval in CONNECT", props(pU32(propWillDelay, 5)), nil, false},
		// §3.1.3.2: the same in the will properties.
		{"Will Delay Interval twice", nil, props(pU32(propWillDelay, 1), pU32(propWillDelay, 2)), false},
		{"Session Expiry Interval in will properties", nil, props(pU32(propSessionExpiry, 1)), false},
		{"Subscription Identifier in will properties", nil, props(pVBI(propSubscriptionID, 1)), false},
		{"will Response Topic with a wildcard [MQTT-3.3.2-14]", nil, props(pStr(propResponseTopic, "r/+")), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if reference && tc.lenient {
				t.Skip("mosquitto 2.0.11 accepts it")
			}
			var c *client
			if tc.will != nil {
				c = connectWith(t, b.addr, v5, "cprop", connectWill(v5, "cprop", 0, false, "w", "p", nil, tc.will))
			} else {
				c = connectWith(t, b.addr, v5, "cprop", connectPkt(v5, flagClean, 60, tc.props, str("cprop")))
			}
			// [MQTT-3.1.4-1] / [MQTT-4.13.1-1]: CONNACK 0x81/0x82 then close, or the close.
			expectRefusedOrClosed(c, 0x81, 0x82)
		})
	}
}

func TestSpec5_AssignedClientIdentifierNamesAResumableSession(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c := connectWith(t, b.addr, v5, "assigned", connectPkt(v5, 0, 60, props(pU32(propSessionExpiry, 30)), str("")))
	ps := c.expectConnack5(0, 0)
	a, ok := find(ps, propAssignedClientID)
	if !ok || a.text() == "" {
		t.Fatalf("CONNACK without an Assigned Client Identifier: %v", ps)
	}
	id := a.text()
	c.subscribe(1, "assigned/t", 1, 1)
	c.send(disconnect)
	c.expectClosed()
	pub := connectOK(t, b.addr, v5, "assigned-pub")
	pub.send(publishPkt(v5, 1, false, false, "assigned/t", 1, nil, "kept for you"))
	pub.expectPubackOK(1)
	// [MQTT-3.1.3-7] the CONNECT was processed as if the client had sent that id: a session with Session Expiry
	// 30 s was stored under it and resumes [MQTT-3.1.2-5], with the message queued meanwhile.
	c2 := connectWith(t, b.addr, v5, id, connectPkt(v5, 0, 60, props(pU32(propSessionExpiry, 30)), str(id)))
	c2.expectConnack5(1, 0)
	if p := c2.expectPublish(); p.payload != "kept for you" {
		t.Fatalf("got %+v, want the queued message", p)
	}
}

func TestSpec5_SessionResumedUnderAnotherProtocolVersion(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	s := connectPersistent(t, b.addr, v5, "xver", 0)
	s.subscribe(1, "xver/t", 1, 1)
	s.send(disconnect)
	s.expectClosed()
	pub := connectOK(t, b.addr, v5, "xver-pub")
	pub.send(publishPkt(v5, 1, false, false, "xver/t", 1, props(pUser("k", "v"), pStr(propContentType, "c")), "queued"))
	pub.expectPubackOK(1)
	// The session is the client id's [MQTT-3.1.3-2]; resumed by a 3.1.1 CONNECT it keeps its subscription and queued
	// message, which now travels in 3.1.1 form (no properties).
	c := connectPersistent(t, b.addr, v311, "xver", 1)
	c.expectPublishBytes(func(pid uint16) []byte { return publishPkt(v311, 1, false, false, "xver/t", pid, nil, "queued") })
}
