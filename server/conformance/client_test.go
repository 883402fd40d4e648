package conformance_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"
)

// wait bounds every expectation: a broker on loopback answers in microseconds, so two seconds only ever elapse when
// an answer is missing.
const wait = 2 * time.Second

// quiet is how long expectNothing listens for a packet that must not come.
const quiet = 300 * time.Millisecond

// client is a raw MQTT client over TCP in the style of Mosquitto's test/broker suite: send these bytes, expect
// exactly those bytes back.
type client struct {
	t     testing.TB
	name  string
	level byte
	conn  net.Conn
	r     *bufio.Reader
}

// dial opens a TCP connection to the broker; t.Cleanup closes it.
func dial(t testing.TB, addr string, level byte, name string) *client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		t.Fatalf("%s: dial %s: %v", name, addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &client{t: t, name: name, level: level, conn: conn, r: bufio.NewReader(conn)}
}

// send writes each packet (or arbitrary bytes) in one write.
func (c *client) send(bs ...[]byte) {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(wait))
	if _, err := c.conn.Write(cat(bs...)); err != nil {
		c.t.Fatalf("%s: send %s: %v", c.name, brief(cat(bs...)), err)
	}
}

// read returns the next whole control packet, reading at most until d from now.
func (c *client) read(d time.Duration) ([]byte, error) {
	c.conn.SetReadDeadline(time.Now().Add(d))
	first, err := c.r.ReadByte()
	if err != nil {
		return nil, err
	}
	pk := []byte{first}
	n, mul := 0, 1
	for i := 0; ; i++ {
		b, err := c.r.ReadByte()
		if err != nil {
			return pk, fmt.Errorf("inside fixed header after % x: %w", pk, err)
		}
		pk = append(pk, b)
		n += int(b&0x7F) * mul
		mul *= 128
		if b&0x80 == 0 {
			break
		}
		if i == 3 {
			return pk, fmt.Errorf("remaining length over 4 bytes: % x", pk)
		}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c.r, body); err != nil {
		return append(pk, body...), fmt.Errorf("inside packet body of %d bytes after % x: %w", n, pk, err)
	}
	return append(pk, body...), nil
}

// next returns the next packet or fails the test.
func (c *client) next() []byte {
	c.t.Helper()
	pk, err := c.read(wait)
	if err != nil {
		c.t.Fatalf("%s: expected a packet, got %v", c.name, describe(err))
	}
	return pk
}

// expect reads the next packet and requires it to equal want byte for byte.
func (c *client) expect(want []byte) {
	c.t.Helper()
	got := c.next()
	if !bytes.Equal(got, want) {
		c.t.Fatalf("%s: got packet\n  %s\nwant\n  %s", c.name, brief(got), brief(want))
	}
}

// expectReply reads the next packet and requires it to be a reply of type first with the packet id and reason codes.
// For v5 the equivalent encodings the standard allows (reason 0x00 and empty properties omitted) are accepted, and a
// Reason String or User Property is allowed, so the test asserts what a client must act on.
func (c *client) expectReply(first byte, pid uint16, reasons ...byte) reply {
	c.t.Helper()
	got := c.next()
	if got[0] != first {
		c.t.Fatalf("%s: got packet % x, want packet type/flags 0x%02x (pid %d, reasons % x)", c.name, got, first,
			pid, reasons)
	}
	r, err := parseReply(got, c.level)
	if err != nil {
		c.t.Fatalf("%s: %v", c.name, err)
	}
	if r.pid != pid || !bytes.Equal(r.reasons, reasons) {
		c.t.Fatalf("%s: got % x (pid %d, reasons % x), want pid %d, reasons % x", c.name, got, r.pid, r.reasons,
			pid, reasons)
	}
	for _, p := range r.props {
		if p.id != propReasonString && p.id != propUserProperty && first>>4 != 2 && p.id != 0x1C {
			c.t.Fatalf("%s: unexpected property 0x%02x in % x", c.name, p.id, got)
		}
	}
	return r
}

// expectPubackOK reads a PUBACK for pid with a success code: 0x00, or for v5 also 0x10 (No matching subscribers).
func (c *client) expectPubackOK(pid uint16) {
	c.t.Helper()
	got := c.next()
	r, err := parseReply(got, c.level)
	if err != nil || got[0] != 0x40 || r.pid != pid || (r.reasons[0] != 0x00 && !(c.level == v5 && r.reasons[0] == 0x10)) {
		c.t.Fatalf("%s: got % x (%v), want PUBACK %d with success", c.name, got, err, pid)
	}
}

// expectPublish reads the next packet and requires a PUBLISH.
func (c *client) expectPublish() publish {
	c.t.Helper()
	got := c.next()
	p, err := parsePublish(got, c.level)
	if err != nil {
		c.t.Fatalf("%s: %v", c.name, err)
	}
	return p
}

// expectPublishBytes reads a PUBLISH and compares it byte for byte with build(pid), where pid is the packet id the
// broker chose (the standard lets it choose any free id).
func (c *client) expectPublishBytes(build func(pid uint16) []byte) publish {
	c.t.Helper()
	got := c.next()
	p, err := parsePublish(got, c.level)
	if err != nil {
		c.t.Fatalf("%s: %v", c.name, err)
	}
	if want := build(p.pid); !bytes.Equal(got, want) {
		c.t.Fatalf("%s: got PUBLISH\n  %s\nwant\n  %s", c.name, brief(got), brief(want))
	}
	return p
}

// expectNothing requires that no packet arrives within quiet and that the connection stays open.
func (c *client) expectNothing() {
	c.t.Helper()
	pk, err := c.read(quiet)
	if err == nil {
		c.t.Fatalf("%s: expected nothing, got packet % x", c.name, pk)
	}
	if !isTimeout(err) {
		c.t.Fatalf("%s: expected nothing, got %v", c.name, describe(err))
	}
	c.r.Reset(c.conn) // a timeout inside a packet would have lost bytes; the test ends at the next expect anyway
}

// expectClosed requires that the broker closes the connection without sending anything more.
func (c *client) expectClosed() {
	c.t.Helper()
	c.expectClosedWithin(wait)
}

func (c *client) expectClosedWithin(d time.Duration) {
	c.t.Helper()
	pk, err := c.read(d)
	switch {
	case err == nil:
		c.t.Fatalf("%s: expected the broker to close the connection, got packet % x", c.name, pk)
	case isClosed(err) && len(pk) == 0:
	default:
		c.t.Fatalf("%s: expected the broker to close the connection, got %v", c.name, describe(err))
	}
}

// expectDisconnect requires a v5 DISCONNECT with the reason code, then the close.
func (c *client) expectDisconnect(rc byte) {
	c.t.Helper()
	if reference {
		// Mosquitto often just closes where the standard allows (MAY) a DISCONNECT first.
		pk, err := c.read(wait)
		if isClosed(err) && len(pk) == 0 {
			return
		}
		if err != nil || len(pk) == 0 {
			c.t.Fatalf("%s: got %s, want DISCONNECT 0x%02x or the close", c.name, describe(err), rc)
		}
		if r, perr := parseReply(pk, v5); perr != nil || pk[0] != 0xE0 || r.reasons[0] != rc {
			c.t.Fatalf("%s: got % x (%v), want DISCONNECT 0x%02x or the close", c.name, pk, err, rc)
		}
		c.expectClosed()
		return
	}
	c.expectReply(0xE0, 0, rc)
	c.expectClosed()
}

// expectRefused requires a CONNACK with the code (v3 return code or v5 reason code), then the close
// [MQTT-3.2.2-5].
func (c *client) expectRefused(rc byte) {
	c.t.Helper()
	got := c.next()
	r, err := parseReply(got, c.level)
	if err != nil || got[0] != 0x20 || r.reasons[1] != rc || r.reasons[0] != 0 {
		c.t.Fatalf("%s: got % x, want CONNACK with session present 0 and code 0x%02x (%v)", c.name, got, rc, err)
	}
	c.expectClosed()
}

// stillOpen checks that the connection answers a PINGREQ.
func (c *client) stillOpen() {
	c.t.Helper()
	c.send(pingreq)
	c.expect(pingresp)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.EPIPE)
}

func describe(err error) string {
	switch {
	case isTimeout(err):
		return fmt.Sprintf("nothing within the deadline (%v)", err)
	case isClosed(err):
		return fmt.Sprintf("the connection closed (%v)", err)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "deadline exceeded"
	}
	return err.Error()
}

// connectOK dials, sends a clean-session CONNECT with client id id and requires a successful CONNACK with session
// present 0.
func connectOK(t testing.TB, addr string, level byte, id string) *client {
	t.Helper()
	c := dial(t, addr, level, id)
	c.send(connectClean(level, id))
	if level == v5 {
		c.expectConnack5(0, 0)
	} else {
		c.expect(connackOK311)
	}
	return c
}

// connectWith dials, sends the CONNECT packet and returns the client; the caller reads the CONNACK.
func connectWith(t testing.TB, addr string, level byte, name string, connect []byte) *client {
	t.Helper()
	c := dial(t, addr, level, name)
	c.send(connect)
	return c
}

// expectConnack reads a v3 CONNACK with the session present flag and the return code.
func (c *client) expectConnack(sp, rc byte) {
	c.t.Helper()
	c.expect([]byte{0x20, 0x02, sp, rc})
}

// expectConnack5 reads a v5 CONNACK with the session present flag and reason code and returns its properties.
func (c *client) expectConnack5(sp, rc byte) []prop {
	c.t.Helper()
	got := c.next()
	if got[0] != 0x20 {
		c.t.Fatalf("%s: got % x, want CONNACK", c.name, got)
	}
	r, err := parseReply(got, v5)
	if err != nil {
		c.t.Fatalf("%s: %v", c.name, err)
	}
	if r.reasons[0] != sp || r.reasons[1] != rc {
		c.t.Fatalf("%s: got CONNACK % x, want session present %d, reason 0x%02x", c.name, got, sp, rc)
	}
	for _, p := range r.props {
		if p.id != propUserProperty && count(r.props, p.id) > 1 {
			c.t.Fatalf("%s: CONNACK % x repeats property 0x%02x", c.name, got, p.id)
		}
	}
	return r.props
}

// subscribe sends a SUBSCRIBE for one filter with the options byte and requires a SUBACK granting want.
func (c *client) subscribe(pid uint16, filter string, opts byte, want byte) {
	c.t.Helper()
	c.send(subscribePkt(c.level, pid, nil, filter, opts))
	c.expectSuback(pid, want)
}

// expectSuback reads a SUBACK with the return codes (exact bytes for v3; v5 allowing a reason string).
func (c *client) expectSuback(pid uint16, codes ...byte) {
	c.t.Helper()
	if c.level != v5 {
		c.expect(pkt(0x90, u16(pid), codes))
		return
	}
	c.expectReply(0x90, pid, codes...)
}

// roundTrip proves the connection (and so the broker) still works: publish on a fresh topic at QoS 1 to itself.
func (c *client) roundTrip(topic string) {
	c.t.Helper()
	c.subscribe(9001, topic, 1, 1)
	c.send(publishPkt(c.level, 1, false, false, topic, 9002, nil, "ping"))
	var gotAck, gotPub bool
	for !(gotAck && gotPub) {
		pk := c.next()
		switch pk[0] >> 4 {
		case 4:
			gotAck = true
		case 3:
			p, err := parsePublish(pk, c.level)
			if err != nil || p.topic != topic || p.payload != "ping" {
				c.t.Fatalf("%s: round trip got % x", c.name, pk)
			}
			c.send(ack(0x40, p.pid))
			gotPub = true
		default:
			c.t.Fatalf("%s: round trip got unexpected % x", c.name, pk)
		}
	}
	c.send(unsubscribePkt(c.level, 9003, topic))
	if c.level == v5 {
		c.expectReply(0xB0, 9003, 0)
	} else {
		c.expect(x("b0 02 23 2b"))
	}
}

// undisturbed is deferred by malformed-input tests: another client on the same broker still works.
func undisturbed(t testing.TB, addr string, peer *client) {
	t.Helper()
	peer.roundTrip("undisturbed/" + peer.name)
	fresh := connectOK(t, addr, v311, "fresh-"+peer.name)
	fresh.roundTrip("undisturbed/fresh")
}

// brief shows at most the first 48 bytes of b, for failure messages about big packets.
func brief(b []byte) string {
	if len(b) <= 48 {
		return fmt.Sprintf("% x", b)
	}
	return fmt.Sprintf("% x … (%d bytes)", b[:48], len(b))
}

// sortedCopy returns a sorted copy, for comparing sets of subscription identifiers.
func sortedCopy(v []int) []int {
	s := slices.Clone(v)
	slices.Sort(s)
	return s
}
