package server

import (
	"bytes"
	"testing"
	"time"
)

// connect5 is CONNECT, MQTT 5, clean start, keep alive 60, no properties, client id id.
func connect5(id string) []byte {
	b := []byte{0x10, byte(13 + len(id)), 0, 4, 'M', 'Q', 'T', 'T', 5, 0x02, 0, 60, 0, 0, byte(len(id))}
	return append(b, id...)
}

// connected5 opens a v5 connection and reads its CONNACK (whose properties vary with the options).
func connected5(t *testing.T, s *Server, id string) *rawConn {
	t.Helper()
	c := dialRaw(t, s)
	c.send(connect5(id))
	p, err := c.readPacket(5 * time.Second)
	if err != nil || p[0] != 0x20 || p[3] != 0 {
		t.Fatalf("CONNACK % x, %v", p, err)
	}
	return c
}

func connected311(t *testing.T, s *Server, id string) *rawConn {
	t.Helper()
	c := dialRaw(t, s)
	c.send(connect311(id, true))
	c.expect([]byte{0x20, 2, 0, 0})
	return c
}

func TestRulesBytes(t *testing.T) {
	s := startBroker(t, func(o *Options) { o.MaxPacketSize = 256 })
	tests := []struct {
		name string
		v5   bool
		send [][]byte
		want [][]byte
		shut bool // the broker closes after want
		raw  bool // send on a fresh connection, without CONNECT first
	}{
		{name: "unsupported level gets CONNACK 0x01", send: [][]byte{{0x10, 0x0d, 0, 4, 'M', 'Q', 'T', 'T', 6, 2, 0, 60, 0, 1, 'x'}},
			want: [][]byte{{0x20, 2, 0, 1}}, shut: true, raw: true},
		{name: "v3 second CONNECT closes", send: [][]byte{connect311("again", true)}, shut: true},
		{name: "v5 second CONNECT is a protocol error", v5: true, send: [][]byte{connect5("again")},
			want: [][]byte{{0xe0, 1, 0x82}}, shut: true},
		{name: "v3 invalid filter gets SUBACK 0x80", send: [][]byte{{0x82, 0x0a, 0, 7, 0, 5, 'a', '/', '#', '/', 'b', 1}},
			want: [][]byte{{0x90, 3, 0, 7, 0x80}}},
		{name: "v5 invalid filter gets SUBACK 0x8F", v5: true, send: [][]byte{{0x82, 0x0b, 0, 7, 0, 0, 5, 'a', '/', '#', '/', 'b', 1}},
			want: [][]byte{{0x90, 4, 0, 7, 0, 0x8f}}},
		{name: "v5 UNSUBACK 0x11 without subscription", v5: true, send: [][]byte{{0xa2, 6, 0, 9, 0, 0, 1, 'z'}},
			want: [][]byte{{0xb0, 4, 0, 9, 0, 0x11}}},
		{name: "v5 PUBREL for unknown id gets PUBCOMP 0x92", v5: true, send: [][]byte{{0x62, 2, 0, 5}},
			want: [][]byte{{0x70, 3, 0, 5, 0x92}}},
		{name: "v3 PUBREL for unknown id gets PUBCOMP", send: [][]byte{{0x62, 2, 0, 5}}, want: [][]byte{{0x70, 2, 0, 5}}},
		{name: "v5 packet over maximum size", v5: true, send: [][]byte{{0x30, 0xff, 0x03}},
			want: [][]byte{{0xe0, 1, 0x95}}, shut: true},
		{name: "v3 packet over maximum size closes", send: [][]byte{{0x30, 0xff, 0x03}}, shut: true},
		{name: "v5 topic alias over maximum", v5: true, send: [][]byte{{0x30, 0x08, 0, 1, 't', 3, 0x23, 0x01, 0x00, 'x'}},
			want: [][]byte{{0xe0, 1, 0x94}}, shut: true},
		{name: "v5 unknown topic alias", v5: true, send: [][]byte{{0x30, 0x07, 0, 0, 3, 0x23, 0x00, 0x05, 'x'}},
			want: [][]byte{{0xe0, 1, 0x82}}, shut: true},
		{name: "v3 QoS 2 flow, duplicate not redelivered", send: [][]byte{
			{0x82, 6, 0, 1, 0, 1, 'q', 2},
			{0x34, 6, 0, 1, 'q', 0, 9, 'x'},
			{0x3c, 6, 0, 1, 'q', 0, 9, 'x'},
			{0x62, 2, 0, 9},
		}, want: [][]byte{
			{0x90, 3, 0, 1, 2},
			{0x50, 2, 0, 9},
			{0x34, 6, 0, 1, 'q', 0, 1, 'x'},
			{0x50, 2, 0, 9},
			{0x70, 2, 0, 9},
		}},
		{name: "reserved packet type 0 closes", send: [][]byte{{0x00, 0}}, shut: true},
		{name: "v5 malformed remaining length", v5: true, send: [][]byte{{0x30, 0xff, 0xff, 0xff, 0xff, 0x01}},
			want: [][]byte{{0xe0, 1, 0x81}}, shut: true},
		{name: "v5 DISCONNECT changing expiry from 0", v5: true, send: [][]byte{{0xe0, 7, 0, 5, 0x11, 0, 0, 0, 10}},
			want: [][]byte{{0xe0, 1, 0x82}}, shut: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c *rawConn
			switch {
			case tt.v5:
				c = connected5(t, s, "r5")
			case tt.raw:
				c = dialRaw(t, s)
			default:
				c = connected311(t, s, "r3")
			}
			for _, p := range tt.send {
				c.send(p)
			}
			if tt.shut {
				c.expectClosed(tt.want...)
				return
			}
			for _, w := range tt.want {
				c.expect(w)
			}
		})
	}
}

// TestLargePacketInPieces sends a packet near the maximum size in small writes: it is delivered whole.
func TestLargePacketInPieces(t *testing.T) {
	s := startBroker(t, nil)
	sub := connected311(t, s, "sub")
	sub.send([]byte{0x82, 6, 0, 1, 0, 1, 'L', 0})
	sub.expect([]byte{0x90, 3, 0, 1, 0})
	pub := connected311(t, s, "pub")
	payload := make([]byte, 300_000)
	for i := range payload {
		payload[i] = byte(i)
	}
	rem := 3 + len(payload)
	pkt := []byte{0x30, byte(rem) | 0x80, byte(rem>>7) | 0x80, byte(rem >> 14), 0, 1, 'L'}
	pkt = append(pkt, payload...)
	for i := 0; i < len(pkt); i += 7000 {
		pub.send(pkt[i:min(i+7000, len(pkt))])
		if i%70000 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	got, err := sub.readPacket(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, pkt) {
		t.Fatalf("large packet differs (got %d bytes, want %d)", len(got), len(pkt))
	}
}
