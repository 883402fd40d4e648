package bench

import (
	"errors"
	"fmt"

	"loopmq/codec"
)

// readLoop handles everything the broker sends until the connection ends. Acknowledgements it owes
// are written into the shared buffer and flushed once the read buffer runs dry, so a burst of
// incoming QoS 1 messages is answered with one write.
func (c *client) readLoop() {
	defer close(c.done)
	dirty := false
	for {
		if dirty && c.br.Buffered() == 0 {
			if err := c.flush(); err != nil {
				c.fail(err)
				return
			}
			dirty = false
		}
		h, body, err := c.next()
		if err != nil {
			c.fail(err)
			c.tr.conn.Close()
			return
		}
		wrote, err := c.handle(h, body)
		c.consume(h)
		if err != nil {
			c.fail(err)
			c.tr.conn.Close()
			return
		}
		dirty = dirty || wrote
		if c.tr.ws != nil && c.tr.ws.pending {
			c.pong()
		}
	}
}

// handle processes one packet and reports whether it buffered an answer.
func (c *client) handle(h codec.FixedHeader, body []byte) (wrote bool, err error) {
	v := c.cfg.version
	switch h.Type {
	case codec.TypePublish:
		if err := c.in.Decode(h, body, v); err != nil {
			return false, fmt.Errorf("PUBLISH from broker: %w", err)
		}
		if c.cfg.onMessage != nil {
			c.cfg.onMessage(&c.in)
		}
		switch c.in.QoS {
		case 1:
			return true, c.answer(codec.TypePuback, c.in.PacketID)
		case 2:
			return true, c.answer(codec.TypePubrec, c.in.PacketID)
		}
	case codec.TypePuback, codec.TypePubcomp, codec.TypePubrec, codec.TypePubrel:
		if err := c.ack.Decode(h, body, v); err != nil {
			return false, fmt.Errorf("%v from broker: %w", h.Type, err)
		}
		switch h.Type {
		case codec.TypePubrel:
			return true, c.answer(codec.TypePubcomp, c.ack.PacketID)
		case codec.TypePubrec:
			if c.ack.Reason >= 0x80 { // v5: the broker refused the message; the exchange ends here
				c.release(c.ack.PacketID, true)
				return false, nil
			}
			return true, c.answer(codec.TypePubrel, c.ack.PacketID)
		}
		c.release(c.ack.PacketID, c.ack.Reason >= 0x80)
	case codec.TypeSuback:
		if err := c.sack.Decode(h, body, v); err != nil {
			return false, fmt.Errorf("SUBACK from broker: %w", err)
		}
		select {
		case c.suback <- append([]codec.ReasonCode(nil), c.sack.Reasons...):
		default:
			return false, errors.New("SUBACK nobody waited for")
		}
	case codec.TypeUnsuback, codec.TypePingresp:
	case codec.TypeDisconnect:
		if err := c.disc.Decode(h, body, v); err != nil {
			return false, fmt.Errorf("DISCONNECT from broker: %w", err)
		}
		c.gotDisconnect = true
		return false, fmt.Errorf("broker sent DISCONNECT %v", c.disc.Reason)
	default:
		return false, fmt.Errorf("unexpected %v from broker", h.Type)
	}
	return false, nil
}

// answer buffers an acknowledgement without flushing (readLoop flushes when the batch ends).
func (c *client) answer(t codec.Type, id uint16) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.w.Write(codec.AppendAck(c.w.AvailableBuffer(), t, id, codec.Success, c.cfg.version))
	return err
}

// release returns a packet id to the publisher once its exchange is complete; refused says the
// broker answered with an error reason code (MQTT 5), so the message was not accepted.
func (c *client) release(id uint16, refused bool) {
	if int(id) >= len(c.outstanding) || !c.outstanding[id].CompareAndSwap(true, false) {
		c.badAcks.Add(1)
		return
	}
	if refused {
		c.refused.Add(1)
	} else {
		c.acked.Add(1)
	}
	c.ids <- id
}

// pong answers a WebSocket Ping [RFC 6455 §5.5.3], after the data already buffered.
func (c *client) pong() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	ws := c.tr.ws
	ws.pending = false
	if err := c.w.Flush(); err == nil {
		ws.w.writeControl(wsOpPong, ws.ping)
	}
}
