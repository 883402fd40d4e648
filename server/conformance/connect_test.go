package conformance_test

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

func levelName(level byte) string {
	switch level {
	case v31:
		return "v3.1"
	case v311:
		return "v3.1.1"
	}
	return "v5"
}

func TestConnect_EachLevel_AcceptedWithConnackSuccess(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	for _, level := range []byte{v31, v311, v5} {
		t.Run(levelName(level), func(t *testing.T) {
			c := dial(t, b.addr, level, "accepted-"+levelName(level))
			c.send(connectClean(level, c.name))
			if level == v5 {
				ps := c.expectConnack5(0, 0)
				if _, ok := find(ps, propAssignedClientID); ok {
					t.Errorf("CONNACK assigns a client id although the client sent one: %v", ps)
				}
			} else {
				// [MQTT-3.2.2-1] clean session → session present 0; return code 0 accepted.
				c.expect(x("20 02 00 00"))
			}
			c.stillOpen()
			c.send(disconnect)
			c.expectClosed()
		})
	}
}

func TestConnect_v5_ConnackAdvertisesServerLimits(t *testing.T) {
	t.Parallel()
	b := startBroker(t, func(c *brokerConfig) {
		c.receiveMaximum = 33
		c.maxPacketSize = 65536
		c.topicAliasMaximum = 7
	})
	c := dial(t, b.addr, v5, "limits")
	c.send(connectClean(v5, "limits"))
	ps := c.expectConnack5(0, 0)
	want := map[byte]int{propReceiveMaximum: 33, propMaximumPacketSize: 65536, propTopicAliasMaximum: 7}
	for id, v := range want {
		p, ok := find(ps, id)
		if !ok {
			t.Errorf("CONNACK lacks property 0x%02x (want %d)", id, v)
			continue
		}
		if p.num() != v {
			t.Errorf("CONNACK property 0x%02x = %d, want %d", id, p.num(), v)
		}
	}
	// Properties that would forbid what the broker supports must be absent or say "available" (1); Maximum QoS,
	// when present, must be 0 or 1 [MQTT-3.2.2-9] (absent means 2).
	for _, id := range []byte{propRetainAvailable, propWildcardAvailable, propSubIDAvailable} {
		if p, ok := find(ps, id); ok && p.num() != 1 {
			t.Errorf("CONNACK property 0x%02x = %d: the broker should support it", id, p.num())
		}
	}
	if p, ok := find(ps, propMaximumQoS); ok {
		t.Errorf("CONNACK Maximum QoS = %d: the broker supports QoS 2, so the property must be absent", p.num())
	}
}

func TestConnect_v5_ServerKeepAliveWhenClientAsksMore(t *testing.T) {
	t.Parallel()
	b := startBroker(t, func(c *brokerConfig) { c.maxKeepAlive = 30 })
	c := dial(t, b.addr, v5, "ska")
	c.send(connectPkt(v5, flagClean, 600, nil, str("ska")))
	ps := c.expectConnack5(0, 0)
	p, ok := find(ps, propServerKeepAlive)
	if !ok || p.num() != 30 {
		t.Fatalf("CONNACK Server Keep Alive = %v (present %v), want 30 [MQTT-3.2.2-21]", p.num(), ok)
	}
}

func TestConnect_BadProtocolName_Closed(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	for _, tc := range []struct {
		name    string
		connect []byte
	}{
		{"MQTX level 4", pkt(0x10, str("MQTX"), x("04 02 00 3c"), str("bad-name"))},
		{"mqtt lowercase level 4", pkt(0x10, str("mqtt"), x("04 02 00 3c"), str("bad-name"))},
		{"MQIsdp level 4", pkt(0x10, str("MQIsdp"), x("04 02 00 3c"), str("bad-name"))},
		{"MQTT level 3", pkt(0x10, str("MQTT"), x("03 02 00 3c"), str("bad-name"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := connectWith(t, b.addr, v311, "bad-name", tc.connect)
			// [MQTT-3.1.2-1] the Server MAY disconnect or answer CONNACK 0x01; it MUST NOT accept.
			expectRefusedOrClosed(c, 0x01)
		})
	}
}

// readRefusal reads what the broker answers to a CONNECT it must refuse: a CONNACK (v3 form "20 02 00 rc" or v5
// form with properties) or the close. It fails the test on anything else.
func readRefusal(c *client) (code byte, closed bool) {
	c.t.Helper()
	pk, err := c.read(wait)
	if err != nil {
		if isClosed(err) && len(pk) == 0 {
			return 0, true
		}
		c.t.Fatalf("%s: expected a refusal CONNACK or the close, got %s", c.name, describe(err))
	}
	if len(pk) == 4 && pk[0] == 0x20 && pk[1] == 2 && pk[2] == 0 {
		return pk[3], false
	}
	r, perr := parseReply(pk, v5)
	if perr != nil || pk[0] != 0x20 || r.reasons[0] != 0 {
		c.t.Fatalf("%s: got % x, want a refusal CONNACK (session present 0) or the close", c.name, pk)
	}
	return r.reasons[1], false
}

// expectRefusedOrClosed requires either a CONNACK with one of the codes followed by the close, or the close alone.
func expectRefusedOrClosed(c *client, codes ...byte) {
	c.t.Helper()
	code, closed := readRefusal(c)
	if closed {
		return
	}
	if !slices.Contains(codes, code) {
		c.t.Fatalf("%s: CONNACK code 0x%02x, want the close or one of % x", c.name, code, codes)
	}
	c.expectClosed()
}

func TestConnect_UnsupportedLevel_Connack0x01Or0x84ThenClose(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	for _, level := range []byte{0, 1, 2, 6, 0x83, 0xff} {
		t.Run(string(rune('0'+level%10)), func(t *testing.T) {
			c := connectWith(t, b.addr, v311, "level", pkt(0x10, str("MQTT"), []byte{level, 0x02, 0, 60},
				str("level")))
			// [MQTT-3.1.2-2] v3.1.1: CONNACK 0x01 then close; v5 §3.1.2.2: CONNACK 0x84 then close.
			c.expectRefusedAny(0x01, 0x84)
		})
	}
}

// expectRefusedAny requires a CONNACK with one of the codes, then the close.
func (c *client) expectRefusedAny(codes ...byte) {
	c.t.Helper()
	code, closed := readRefusal(c)
	if closed || !slices.Contains(codes, code) {
		c.t.Fatalf("%s: got code 0x%02x (closed %v), want a CONNACK with one of % x then the close", c.name, code,
			closed, codes)
	}
	c.expectClosed()
}

func TestConnect_ReservedFlagSet_Closed(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	// MQTT 3.1 has no such rule; 3.1.1 and 5.0 do.
	for _, level := range []byte{v311, v5} {
		t.Run(levelName(level), func(t *testing.T) {
			c := connectWith(t, b.addr, level, "reserved", connectPkt(level, flagClean|0x01, 60, nil, str("reserved")))
			// [MQTT-3.1.2-3] malformed: close (v5 may first send CONNACK 0x81).
			expectRefusedOrClosed(c, 0x81)
		})
	}
}

func TestConnect_InconsistentWillFlags_Closed(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	for _, tc := range []struct {
		name  string
		flags byte
		will  bool
	}{
		{"will QoS 1 without will flag [MQTT-3.1.2-13]", flagClean | 1<<3, false},
		{"will retain without will flag [MQTT-3.1.2-15]", flagClean | flagWillRetain, false},
		{"will QoS 3 [MQTT-3.1.2-14]", flagClean | flagWill | 3<<3, true},
	} {
		for _, level := range []byte{v311, v5} {
			t.Run(tc.name+" "+levelName(level), func(t *testing.T) {
				var payload [][]byte
				payload = append(payload, str("willflags"))
				if tc.will {
					if level == v5 {
						payload = append(payload, []byte{0})
					}
					payload = append(payload, str("will/topic"), str("bye"))
				}
				c := connectWith(t, b.addr, level, "willflags", connectPkt(level, tc.flags, 60, nil, payload...))
				expectRefusedOrClosed(c, 0x81, 0x82, 0x9b)
			})
		}
	}
}

func TestConnect_v311_PasswordWithoutUsername_Closed(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c := connectWith(t, b.addr, v311, "pw", connectPkt(v311, flagClean|flagPassword, 60, nil, str("pw"), str("secret")))
	// [MQTT-3.1.2-22] If the User Name Flag is 0, the Password Flag MUST be 0: a protocol violation, so close.
	expectRefusedOrClosed(c)
}

func TestConnect_v5_PasswordWithoutUsername_Accepted(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c := connectWith(t, b.addr, v5, "pw5", connectPkt(v5, flagClean|flagPassword, 60, nil, str("pw5"), str("secret")))
	// MQTT 5.0 §3.1.2.9 allows a password without a user name.
	c.expectConnack5(0, 0)
	c.stillOpen()
}

func TestConnect_UsernameAndPassword_Accepted(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c := connectWith(t, b.addr, v311, "up", connectPkt(v311, flagClean|flagUsername|flagPassword, 60, nil,
		str("up"), str("user"), str("secret")))
	c.expect(connackOK311)
	c.stillOpen()
}

func TestConnect_FirstPacketNotConnect_Closed(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	for _, tc := range []struct {
		name  string
		first []byte
	}{
		{"PINGREQ", pingreq},
		{"PUBLISH", publishPkt(v311, 0, false, false, "a/b", 0, nil, "x")},
		{"SUBSCRIBE", subscribePkt(v311, 1, nil, "a/b", byte(0))},
		{"DISCONNECT", disconnect},
		{"CONNACK", x("20 02 00 00")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, b.addr, v311, "first-"+tc.name)
			c.send(tc.first)
			// [MQTT-3.1.0-1] the first packet from the client MUST be CONNECT.
			c.expectClosed()
		})
	}
}

func TestConnect_SecondConnect_v311Closed_v5Disconnect0x82(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c := connectOK(t, b.addr, v311, "second311")
	c.send(connectClean(v311, "second311"))
	// [MQTT-3.1.0-2] a second CONNECT is a protocol violation: disconnect.
	c.expectClosed()

	c5 := connectOK(t, b.addr, v5, "second5")
	c5.send(connectClean(v5, "second5"))
	c5.expectDisconnect(0x82)
}

func TestConnect_v311_ZeroLengthClientIDWithCleanSession_Accepted(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c := connectWith(t, b.addr, v311, "zero-clean", connectPkt(v311, flagClean, 60, nil, str("")))
	// [MQTT-3.1.3-6] the Server MUST assign a unique id and process the CONNECT.
	c.expect(connackOK311)
	c.roundTrip("zero/clean")
}

func TestConnect_v311_ZeroLengthClientIDWithoutCleanSession_Refused0x02(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c := connectWith(t, b.addr, v311, "zero-persistent", connectPkt(v311, 0, 60, nil, str("")))
	// [MQTT-3.1.3-8] CONNACK 0x02 (identifier rejected), then close.
	c.expectRefused(0x02)
}

func TestConnect_v5_ZeroLengthClientID_AssignedClientIdentifier(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	ids := map[string]bool{}
	for i := 0; i < 2; i++ {
		c := connectWith(t, b.addr, v5, "zero5", connectPkt(v5, flagClean, 60, nil, str("")))
		ps := c.expectConnack5(0, 0)
		p, ok := find(ps, propAssignedClientID)
		if !ok || p.text() == "" {
			t.Fatalf("CONNACK has no Assigned Client Identifier [MQTT-3.2.2-16]: %v", ps)
		}
		ids[p.text()] = true
		c.roundTrip("zero5/" + p.text())
	}
	if len(ids) != 2 {
		t.Fatalf("two connections got the same assigned client id %v [MQTT-3.1.3-6]", ids)
	}
}

func TestConnect_SessionPresent_OnResumeOnly(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	// v3.1.1: [MQTT-3.2.2-1] clean → 0; [MQTT-3.2.2-2] resume → 1; [MQTT-3.2.2-3] no stored session → 0.
	steps := []struct {
		flags byte
		want  []byte
	}{
		{0, x("20 02 00 00")},
		{0, x("20 02 01 00")},
		{flagClean, x("20 02 00 00")},
		{0, x("20 02 00 00")},
	}
	for i, s := range steps {
		c := connectWith(t, b.addr, v311, "sp311", connectPkt(v311, s.flags, 60, nil, str("sp311")))
		c.expect(s.want)
		c.send(disconnect)
		c.expectClosed()
		_ = i
	}

	// v5: the session outlives the connection only with a Session Expiry Interval > 0.
	expiry := props(pU32(propSessionExpiry, 60))
	steps5 := []struct {
		flags byte
		p     []byte
		sp    byte
	}{
		{flagClean, expiry, 0},
		{0, expiry, 1},
		{0, nil, 1},         // resumed; this connection's expiry 0 ends the session at disconnect
		{0, expiry, 0},      // so nothing to resume
		{flagClean, nil, 0}, // clean start discards it
	}
	for _, s := range steps5 {
		c := connectWith(t, b.addr, v5, "sp5", connectPkt(v5, s.flags, 60, s.p, str("sp5")))
		c.expectConnack5(s.sp, 0)
		c.send(disconnect)
		c.expectClosed()
	}
}

func TestConnect_NoConnectWithinConnectTimeout_Closed(t *testing.T) {
	t.Parallel()
	if reference {
		t.Skip("mosquitto has no configurable connect timeout")
	}
	b := startBroker(t, func(c *brokerConfig) { c.connectTimeout = time.Second })
	idle := dial(t, b.addr, v311, "idle")
	partial := dial(t, b.addr, v311, "partial")
	partial.send(connectClean(v311, "partial")[:7])
	start := time.Now()
	idle.expectClosedWithin(3 * time.Second)
	partial.expectClosedWithin(3 * time.Second)
	if d := time.Since(start); d < 800*time.Millisecond {
		t.Fatalf("closed after %v, before the 1 s connect timeout", d)
	}
}

func TestConnect_KeepAlive_ClosedAfterOneAndAHalfTimesWithoutTraffic(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	for _, level := range []byte{v311, v5} {
		t.Run(levelName(level), func(t *testing.T) {
			t.Parallel()
			silent := connectWith(t, b.addr, level, "ka-silent-"+levelName(level),
				connectPkt(level, flagClean, 1, nil, str("ka-silent-"+levelName(level))))
			pinging := connectWith(t, b.addr, level, "ka-ping-"+levelName(level),
				connectPkt(level, flagClean, 1, nil, str("ka-ping-"+levelName(level))))
			if level == v5 {
				silent.expectConnack5(0, 0)
				pinging.expectConnack5(0, 0)
			} else {
				silent.expect(connackOK311)
				pinging.expect(connackOK311)
			}
			start := time.Now()
			closed := make(chan error, 1)
			go func() {
				limit := 4 * time.Second
				if reference {
					limit = 10 * time.Second // mosquitto checks keep alive only every few seconds
				}
				pk, err := silent.read(limit)
				if err == nil && level == v5 && string(pk) == string(disconnect5(0x8D)) {
					pk, err = silent.read(wait) // v5 may name the reason: 0x8D Keep Alive timeout
				}
				if err == nil || len(pk) > 0 {
					err = fmt.Errorf("got % x (%v) instead of the close", pk, err)
				} else if !isClosed(err) {
					err = fmt.Errorf("not closed: %s", describe(err))
				} else {
					err = nil
				}
				if d := time.Since(start); err == nil && d < time.Second {
					err = fmt.Errorf("closed after %v, before one keep-alive period", d)
				}
				closed <- err
			}()
			// The pinging client keeps its connection open across the same span [MQTT-3.1.2-23].
			for time.Since(start) < 2500*time.Millisecond {
				time.Sleep(600 * time.Millisecond)
				pinging.stillOpen()
			}
			// [MQTT-3.1.2-24] no packet within 1.5 × keep alive → the Server MUST close.
			if err := <-closed; err != nil {
				t.Fatalf("silent client with keep alive 1 s: %v", err)
			}
		})
	}
}

func TestConnect_PingreqGetsPingresp(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	for _, level := range []byte{v31, v311, v5} {
		c := connectOK(t, b.addr, level, "ping-"+levelName(level))
		for i := 0; i < 3; i++ {
			c.send(pingreq)
			c.expect(pingresp) // [MQTT-3.12.4-1]
		}
		c.send(pingreq, pingreq)
		c.expect(pingresp)
		c.expect(pingresp)
	}
}

func TestConnect_v5_PropertyErrors_Refused(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	for _, tc := range []struct {
		name  string
		props []byte
		will  []byte
	}{
		{"Receive Maximum 0 (§3.1.2.11.3)", props(pU16(propReceiveMaximum, 0)), nil},
		{"Maximum Packet Size 0 (§3.1.2.11.4)", props(pU32(propMaximumPacketSize, 0)), nil},
		{"Session Expiry Interval twice (§3.1.2.11.2)", props(pU32(propSessionExpiry, 1), pU32(propSessionExpiry, 2)), nil},
		{"Request Problem Information 2 (§3.1.2.11.7)", props(pByte(propRequestProblemInfo, 2)), nil},
		{"Topic Alias Maximum twice", props(pU16(propTopicAliasMaximum, 1), pU16(propTopicAliasMaximum, 1)), nil},
		{"PUBLISH-only property in CONNECT", props(pU16(propTopicAlias, 1)), nil},
		{"Topic Alias in will properties", nil, props(pU16(propTopicAlias, 1))},
		{"property length beyond the packet", x("20 11"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c *client
			if tc.will != nil {
				c = connectWith(t, b.addr, v5, "propserr", connectWill(v5, "propserr", 0, false, "w", "p", tc.props,
					tc.will))
			} else {
				c = connectWith(t, b.addr, v5, "propserr", connectPkt(v5, flagClean, 60, tc.props, str("propserr")))
			}
			// A malformed CONNECT or protocol error: CONNACK 0x81/0x82 then close, or close [MQTT-3.1.4-1].
			expectRefusedOrClosed(c, 0x81, 0x82)
		})
	}
}

func TestConnect_v5_UnsupportedAuthenticationMethod_Refused(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c := connectWith(t, b.addr, v5, "authm", connectPkt(v5, flagClean, 60, props(pStr(0x15, "SCRAM-SHA-1")),
		str("authm")))
	// [MQTT-4.12.0-1] CONNACK 0x8C (Bad authentication method) or 0x87 (Not authorized), then close.
	expectRefusedOrClosed(c, 0x8C, 0x87)
}

func TestConnect_InvalidWillTopic_Refused(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	for _, level := range []byte{v311, v5} {
		for _, topic := range []string{"will/#", "will/+", ""} {
			t.Run(levelName(level)+" "+topic, func(t *testing.T) {
				c := connectWith(t, b.addr, level, "badwill", connectWill(level, "badwill", 0, false, topic, "p", nil,
					nil))
				// The will topic must be a valid topic name [MQTT-3.1.3-9 (v5)] / [MQTT-3.1.3-10 (3.1.1)].
				expectRefusedOrClosed(c, 0x80, 0x81, 0x82, 0x90)
			})
		}
	}
}

func TestConnect_v31_ClientIDOver23Characters(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	id := "abcdefghijklmnopqrstuvwxyz0123"
	c := connectWith(t, b.addr, v31, "v31long", connectPkt(v31, flagClean, 60, nil, str(id)))
	// MQTT 3.1 servers may refuse ids over 23 characters with 0x02; accepting them is the common extension.
	pk := c.next()
	switch string(pk) {
	case string(x("20 02 00 00")):
		c.stillOpen()
	case string(x("20 02 00 02")):
		c.expectClosed()
	default:
		t.Fatalf("got % x, want CONNACK 0x00 or 0x02", pk)
	}
}
