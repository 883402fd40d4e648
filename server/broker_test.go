package server

import (
	"testing"
	"time"
)

// connect311 is CONNECT, MQTT 3.1.1, clean session, keep alive 60, client id id.
func connect311(id string, clean bool) []byte {
	flags := byte(0)
	if clean {
		flags = 0x02
	}
	b := []byte{0x10, byte(12 + len(id)), 0, 4, 'M', 'Q', 'T', 'T', 4, flags, 0, 60, 0, byte(len(id))}
	return append(b, id...)
}

func TestBytesConnectSubscribePublish311(t *testing.T) {
	s := startBroker(t, nil)
	c := dialRaw(t, s)
	c.send(connect311("a", true))
	c.expect([]byte{0x20, 0x02, 0x00, 0x00})
	c.send([]byte{0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 't', 0x00})
	c.expect([]byte{0x90, 0x03, 0x00, 0x01, 0x00})
	c.send([]byte{0x30, 0x05, 0x00, 0x01, 't', 'h', 'i'})
	c.expect([]byte{0x30, 0x05, 0x00, 0x01, 't', 'h', 'i'})
	c.send([]byte{0xc0, 0x00})
	c.expect([]byte{0xd0, 0x00})
	c.send([]byte{0xe0, 0x00})
	c.expectClosed()
}

func TestBytesFirstPacketMustBeConnect(t *testing.T) {
	s := startBroker(t, nil)
	c := dialRaw(t, s)
	c.send([]byte{0xc0, 0x00})
	c.expectClosed()
}

func TestBytesConnectTimeout(t *testing.T) {
	s := startBroker(t, func(o *Options) { o.ConnectTimeout = 300 * time.Millisecond })
	c := dialRaw(t, s)
	start := time.Now()
	c.expectClosed()
	if d := time.Since(start); d < 250*time.Millisecond || d > 8*time.Second {
		t.Fatalf("closed after %v, want about 300ms", d)
	}
}
