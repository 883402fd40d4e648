package server

import (
	"bytes"
	"testing"
	"time"

	"loopmq/codec"
	"loopmq/codec/codectest"
)

// TestCodecFixturesOnTheWire sends every byte-exact packet of codec/codectest that a client may send (and the
// server-only ones, which a client must not) to a real broker, on a connection of the fixture's protocol version:
// a CONNECT as the first packet, anything else after a CONNECT. The broker's reaction must match what the codec
// says of the bytes: a malformed packet closes the connection (MQTT 5: at most a DISCONNECT or a refusing CONNACK
// first) [MQTT-4.13.1-1]; a well-formed one is served, which a PINGREQ sent behind it proves.
func TestCodecFixturesOnTheWire(t *testing.T) {
	s := startBroker(t, nil)
	for _, fx := range codectest.All() {
		t.Run(fx.Name, func(t *testing.T) {
			typ := codec.Type(fx.Raw[0] >> 4)
			c := dialRaw(t, s)
			if typ != codec.TypeConnect {
				c.send(fixtureConnect(fx.Version))
				if p, err := c.readPacket(5 * time.Second); err != nil || p[0] != 0x20 || len(p) < 4 || p[3] != 0 {
					t.Fatalf("CONNACK % x, %v", p, err)
				}
			}
			c.send(fx.Raw)
			c.send(pingreq)
			closes, why := fixtureCloses(fx)
			got := readUntilPingrespOrClose(t, c)
			last := got[len(got)-1]
			if closes {
				if bytes.Equal(last, pingres) {
					t.Fatalf("%s: the connection stays open (% x), want it closed; answers % x", why, fx.Raw, got)
				}
				for _, p := range got[:len(got)-1] {
					if !refusal(p, fx.Version) {
						t.Fatalf("%s: broker answered % x before closing, want at most a refusal", why, p)
					}
				}
				return
			}
			if !bytes.Equal(last, pingres) {
				t.Fatalf("valid packet % x: connection closed (answers % x), want it served", fx.Raw, got)
			}
			if typ == codec.TypeConnect {
				var ack codec.Connack
				h, _, _ := codec.Peek(got[0], 0)
				if err := ack.Decode(h, got[0][h.Size:], fx.Version); err != nil || got[0][0] != 0x20 || ack.Reason != 0 {
					t.Fatalf("valid CONNECT: first answer % x (%v), want an accepting CONNACK", got[0], err)
				}
			}
		})
	}
}

// fixtureCloses says whether the broker must close the connection after fx, and why.
func fixtureCloses(fx codectest.Fixture) (bool, string) {
	if fx.Err != nil {
		return true, "malformed packet (" + fx.Err.Error() + ")"
	}
	switch codec.Type(fx.Raw[0] >> 4) {
	case codec.TypeConnack, codec.TypeSuback, codec.TypeUnsuback, codec.TypePingresp:
		return true, "a packet only a server sends [MQTT-4.8.0-1 protocol error]"
	case codec.TypeDisconnect:
		return true, "DISCONNECT"
	case codec.TypeAuth:
		return true, "AUTH without an authentication method in CONNECT [MQTT-4.12.0-1]"
	case codec.TypeConnect:
		if c, ok := fx.Packet.(*codec.Connect); ok && c.Props.Has(codec.PropAuthMethod) {
			return true, "CONNECT with an authentication method the broker does not support"
		}
	case codec.TypePublish:
		p, _ := fx.Packet.(*codec.Publish)
		switch {
		case p != nil && len(p.Topic) == 0:
			return true, "PUBLISH with a topic alias never set on this connection [MQTT-3.3.4-7 protocol error]"
		case p != nil && p.Props.Has(codec.PropSubscriptionID):
			return true, "PUBLISH from a client with a Subscription Identifier [MQTT-3.3.4-6 protocol error]"
		}
	}
	return false, ""
}

// refusal reports whether p is what a broker may send before closing on a bad packet: an MQTT 5 DISCONNECT or a
// CONNACK with a reason code of 0x80 or more (3.x: a non-zero return code).
func refusal(p []byte, v codec.Version) bool {
	switch p[0] {
	case 0xe0:
		return v == codec.V5 && len(p) > 2 && p[2] >= 0x80
	case 0x20:
		return len(p) >= 4 && p[3] != 0
	}
	return false
}

// fixtureConnect is a clean CONNECT of version v.
func fixtureConnect(v codec.Version) []byte {
	name := "MQTT"
	if v == codec.V31 {
		name = "MQIsdp"
	}
	c := codec.Connect{ProtocolName: []byte(name), Version: v, CleanStart: true, KeepAlive: 60, ClientID: []byte("fixture")}
	return c.Append(nil, v)
}

// readUntilPingrespOrClose returns the packets the broker sends until a PINGRESP (the last one returned) or the
// close (then the last one returned is nil).
func readUntilPingrespOrClose(t *testing.T, c *rawConn) [][]byte {
	t.Helper()
	var got [][]byte
	for {
		p, err := c.readPacket(5 * time.Second)
		if err != nil {
			if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
				t.Fatalf("neither PINGRESP nor close within 5s; got % x", got)
			}
			return append(got, nil)
		}
		got = append(got, p)
		if bytes.Equal(p, pingres) {
			return got
		}
	}
}
