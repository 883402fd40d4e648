package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"loopmq/codec"
)

// clientConfig says how to connect one load client.
type clientConfig struct {
	target    Target
	src       net.IP // source address; nil: the kernel's choice
	version   codec.Version
	clientID  string
	keepAlive uint16
	readBuf   int // bufio sizes: small for idle clients, larger for publishers and subscribers
	writeBuf  int
	inflight  int // packet ids available for QoS 1/2 publishes and SUBSCRIBE
	// onMessage is called on the reader goroutine for every PUBLISH received; the Publish and its
	// slices are valid only during the call.
	onMessage func(p *codec.Publish)
}

// client is a lean MQTT client for load generation: one reader goroutine per connection, writes
// batched in a buffer and flushed when a batch ends, packets encoded and decoded by the project codec
// into reused structs.
type client struct {
	cfg        clientConfig
	tr         *transport
	br         *bufio.Reader
	big        []byte // packets larger than br's buffer
	bigPending bool   // the current packet is in big, already consumed from br

	wmu       sync.Mutex // guards w and writes on the socket
	w         wireWriter
	out       codec.Publish // publisher's encoding scratch, used under wmu
	lastWrite atomic.Int64  // Unix nanoseconds; the pinger writes PINGREQ when it grows old

	// QoS 1/2 flow control: a publisher takes a packet id from ids before sending and the reader returns
	// it on PUBACK/PUBCOMP. outstanding tells the reader which ids are really in flight.
	ids         chan uint16
	outstanding []atomic.Bool
	acked       atomic.Int64
	refused     atomic.Int64 // MQTT 5 PUBACK/PUBREC with a reason code >= 0x80
	badAcks     atomic.Int64 // acks for ids not in flight: a broker bug worth reporting

	suback chan []codec.ReasonCode

	// reader state, owned by the reader goroutine
	in   codec.Publish
	ack  codec.Ack
	sack codec.Suback
	disc codec.Disconnect
	// gotDisconnect says the connection ended with the broker's DISCONNECT (reason in disc); read it only
	// after done is closed.
	gotDisconnect bool

	done    chan struct{}
	errOnce sync.Once
	err     error // why the connection ended; set before done is closed
}

// errClosed ends a connection the harness closed itself.
var errClosed = errors.New("closed by the harness")

// connectClient dials, sends CONNECT and waits for CONNACK, then starts the reader.
func connectClient(ctx context.Context, cfg clientConfig, timeout time.Duration) (*client, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tr, err := dial(ctx, cfg.target, cfg.src, cfg.writeBuf)
	if err != nil {
		return nil, err
	}
	c := &client{
		cfg:    cfg,
		tr:     tr,
		br:     bufio.NewReaderSize(tr.r, cfg.readBuf),
		w:      tr.w,
		suback: make(chan []codec.ReasonCode, 1),
		done:   make(chan struct{}),
	}
	if dl, ok := ctx.Deadline(); ok {
		tr.conn.SetDeadline(dl)
	}
	conn := codec.Connect{
		Version:    cfg.version,
		CleanStart: true,
		KeepAlive:  cfg.keepAlive,
		ClientID:   []byte(cfg.clientID),
	}
	if err := c.write(conn.Append(c.w.AvailableBuffer(), cfg.version), true); err != nil {
		tr.conn.Close()
		return nil, err
	}
	h, body, err := c.next()
	if err != nil {
		tr.conn.Close()
		return nil, fmt.Errorf("waiting for CONNACK: %w", err)
	}
	var ack codec.Connack
	if h.Type != codec.TypeConnack {
		err = fmt.Errorf("expected CONNACK, got %v", h.Type)
	} else if err = ack.Decode(h, body, cfg.version); err == nil && ack.Reason != codec.Success {
		err = fmt.Errorf("%w: CONNACK %v", errRefused, ack.Reason)
	}
	if err != nil {
		tr.conn.Close()
		return nil, err
	}
	c.consume(h)
	tr.conn.SetDeadline(time.Time{})

	n := max(cfg.inflight, 1)
	if cfg.version == codec.V5 && ack.Props.Has(codec.PropReceiveMaximum) && int(ack.Props.ReceiveMaximum) < n {
		n = int(ack.Props.ReceiveMaximum) // the broker's receive window bounds ours [MQTT-3.3.4-7]
	}
	c.ids = make(chan uint16, n)
	c.outstanding = make([]atomic.Bool, n+1)
	for id := 1; id <= n; id++ {
		c.ids <- uint16(id)
	}
	go c.readLoop()
	return c, nil
}

// write appends an encoded packet to the write buffer (b may alias its free space) and flushes when
// asked. It takes the write lock itself.
func (c *client) write(b []byte, flush bool) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if _, err := c.w.Write(b); err != nil {
		return err
	}
	c.lastWrite.Store(time.Now().UnixNano())
	if flush {
		return c.w.Flush()
	}
	return nil
}

// flush sends whatever is buffered.
func (c *client) flush() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.w.Flush()
}

// publish encodes one PUBLISH into the write buffer. For QoS 1/2 it first takes a packet id, flushing
// and then waiting when the inflight window is full. It does not flush otherwise: the caller flushes
// when its batch ends (the buffer also flushes itself when full).
func (c *client) publish(topic []byte, qos byte, retain bool, payload []byte) error {
	var id uint16
	if qos > 0 {
		select {
		case id = <-c.ids:
		default:
			if err := c.flush(); err != nil {
				return err
			}
			select {
			case id = <-c.ids:
			case <-c.done:
				return c.err
			}
		}
		c.outstanding[id].Store(true)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.out.QoS, c.out.Retain, c.out.Topic, c.out.PacketID, c.out.Payload = qos, retain, topic, id, payload
	if _, err := c.w.Write(c.out.Append(c.w.AvailableBuffer(), c.cfg.version)); err != nil {
		return err
	}
	c.lastWrite.Store(time.Now().UnixNano())
	return nil
}

// waitAcks waits until every QoS 1/2 message sent has been acknowledged, the connection ends, or ctx
// is done.
func (c *client) waitAcks(ctx context.Context) error {
	if err := c.flush(); err != nil {
		return err
	}
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for len(c.ids) < cap(c.ids) {
		select {
		case <-t.C:
		case <-c.done:
			return c.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// subscribe sends SUBSCRIBE for one filter and waits for its SUBACK.
func (c *client) subscribe(ctx context.Context, filter string, qos byte) error {
	var id uint16
	select {
	case id = <-c.ids:
	case <-ctx.Done():
		return ctx.Err()
	}
	sub := codec.Subscribe{PacketID: id, Subs: []codec.Subscription{{Filter: []byte(filter), QoS: qos}}}
	c.wmu.Lock()
	_, err := c.w.Write(sub.Append(c.w.AvailableBuffer(), c.cfg.version))
	if err == nil {
		err = c.w.Flush()
	}
	c.wmu.Unlock()
	if err != nil {
		return err
	}
	select {
	case reasons := <-c.suback:
		c.ids <- id
		if len(reasons) != 1 || reasons[0] >= 0x80 {
			return fmt.Errorf("subscription to %q refused: SUBACK %v", filter, reasons)
		}
		return nil
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ping sends PINGREQ when nothing was written for half the keep alive, so a broker enforcing keep
// alive (1.5 × the interval) never drops a client that only receives.
func (c *client) ping(now time.Time) {
	ka := time.Duration(c.cfg.keepAlive) * time.Second
	if ka == 0 || now.UnixNano()-c.lastWrite.Load() < int64(ka/2) {
		return
	}
	c.write(codec.AppendPingreq(nil), true)
}

// close sends DISCONNECT and closes the connection; it returns once the reader has stopped.
func (c *client) close() {
	c.fail(errClosed)
	d := codec.Disconnect{Reason: codec.NormalDisconnection}
	c.wmu.Lock()
	c.tr.conn.SetWriteDeadline(time.Now().Add(time.Second))
	c.w.Write(d.Append(c.w.AvailableBuffer(), c.cfg.version))
	c.w.Flush()
	c.wmu.Unlock()
	c.tr.conn.Close()
	<-c.done
}

// fail records why the connection ends; the first reason wins.
func (c *client) fail(err error) {
	c.errOnce.Do(func() { c.err = err })
}

// next returns the next whole packet: its header and body. The body is valid until the caller
// discards h.Len() bytes from br.
func (c *client) next() (codec.FixedHeader, []byte, error) {
	n := 2 // the smallest packet
	for {
		b, err := c.br.Peek(n)
		if len(b) < n {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return codec.FixedHeader{}, nil, err
		}
		h, need, err := codec.Peek(b, 0)
		if err != nil {
			return h, nil, err
		}
		if need == 0 {
			return h, b[h.Size:h.Len()], nil
		}
		n = len(b) + need
		if h.Size > 0 && n > c.br.Size() { // header complete (n == h.Len()), body beyond the buffer
			return c.nextBig(h)
		}
	}
}

// nextBig reads a packet larger than the read buffer into c.big, consuming it from br; consume then
// knows not to discard it again.
func (c *client) nextBig(h codec.FixedHeader) (codec.FixedHeader, []byte, error) {
	if cap(c.big) < h.Len() {
		c.big = make([]byte, h.Len())
	}
	c.big = c.big[:h.Len()]
	if _, err := io.ReadFull(c.br, c.big); err != nil {
		return h, nil, err
	}
	c.bigPending = true
	return h, c.big[h.Size:], nil
}

// consume drops the packet next returned from the read buffer.
func (c *client) consume(h codec.FixedHeader) {
	if c.bigPending {
		c.bigPending = false
		return
	}
	c.br.Discard(h.Len())
}
