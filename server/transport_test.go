package server

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"loopmq/server/ws"
)

// toyLayer is a transport layer for testing the seam WebSocket plugs into: a "GET \n" handshake answered with
// "OK\n", then frames of a 1-byte length and that many bytes inbound, and a 2-byte length header outbound. It
// hands over one frame per call, so MQTT packets split across frames exercise the carry buffer.
type toyLayer struct {
	writeRaw  func([]byte)
	handshook bool
}

func (t *toyLayer) Inbound(raw []byte) (int, []byte, bool, error) {
	if !t.handshook {
		if len(raw) < 5 {
			return 0, nil, false, nil
		}
		if string(raw[:5]) != "GET \n" {
			return 0, nil, false, errors.New("bad handshake")
		}
		t.handshook = true
		t.writeRaw([]byte("OK\n"))
		return 5, nil, false, nil
	}
	if len(raw) == 0 || len(raw) < 1+int(raw[0]) {
		return 0, nil, false, nil
	}
	if raw[0] == 0 {
		return 1, nil, true, nil // a zero-length frame closes
	}
	n := int(raw[0])
	return 1 + n, raw[1 : 1+n], false, nil
}

func (t *toyLayer) OutboundHeader(h *[ws.MaxFrameHeaderLen]byte, n int) (int, bool) {
	binary.BigEndian.PutUint16(h[:], uint16(n))
	return 2, true
}

func (t *toyLayer) ClientAddr() net.Addr { return nil }
func (t *toyLayer) Closing(bool)         {}

func TestTransportLayerSeam(t *testing.T) {
	s := startBroker(t, func(o *Options) {
		o.TCPSniffWS = true // the TCP listener hands "GET " connections to the layer
		o.testHook = func(s *Server) {
			s.newWSLayer = func(cl *client) transportLayer { return &toyLayer{writeRaw: cl.writeRaw} }
		}
	})
	c := dialRaw(t, s)
	// Handshake, then CONNECT split over three frames, SUBSCRIBE and PUBLISH to itself in one frame.
	conn := connect311("toy", true)
	sub := []byte{0x82, 6, 0, 1, 0, 1, 't', 0}
	pub := []byte{0x30, 5, 0, 1, 't', 'h', 'i'}
	var in []byte
	in = append(in, "GET \n"...)
	for _, part := range [][]byte{conn[:3], conn[3:9], conn[9:], append(sub, pub...)} {
		in = append(in, byte(len(part)))
		in = append(in, part...)
	}
	for _, b := range in { // one byte per write: every boundary is split
		c.send([]byte{b})
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	hs := make([]byte, 3)
	if _, err := io.ReadFull(c, hs); err != nil || string(hs) != "OK\n" {
		t.Fatalf("handshake reply %q, %v", hs, err)
	}
	want := [][]byte{{0x20, 2, 0, 0}, {0x90, 3, 0, 1, 0}, pub}
	var got []byte
	for len(got) < 4+5+7 {
		var hdr [2]byte
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			t.Fatalf("frame header: %v (have % x)", err, got)
		}
		body := make([]byte, binary.BigEndian.Uint16(hdr[:]))
		if _, err := io.ReadFull(c, body); err != nil {
			t.Fatal(err)
		}
		got = append(got, body...)
	}
	if !bytes.Equal(got, bytes.Join(want, nil)) {
		t.Fatalf("MQTT bytes through the layer: % x", got)
	}
	c.send([]byte{0})
	c.expectClosed()
}
