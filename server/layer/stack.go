package layer

import (
	"net"

	"github.com/valyala/bytebufferpool"
)

// Stack returns the Layer made of upper running on top of lower: inbound bytes go through lower, then the bytes it
// hands up through upper; outbound bytes (and upper's replies) go through upper, then lower. Stacks nest, so
// Stack(proxy, Stack(tls, ws)) is PROXY → TLS → WebSocket.
//
// The bytes lower hands up are often a view into the connection's buffer, which the caller discards; those upper
// does not consume at once (a partial frame, the rest after a control message) are copied into a pooled buffer,
// released as soon as upper has taken them all.
func Stack(lower, upper Layer) Layer {
	return &stack{lower: lower, upper: upper}
}

type stack struct {
	lower, upper Layer
	pending      *bytebufferpool.ByteBuffer // bytes from lower not yet consumed by upper, from start on
	start        int
}

// Inbound runs lower on raw, then upper on what lower handed up (after the bytes still pending from earlier calls),
// until upper hands up data, replies or stops.
func (s *stack) Inbound(raw []byte, peer net.Addr, reply *Vec) Result {
	s.compact() // the previous call's Data, perhaps a view into pending, has been used by now
	lr := s.lower.Inbound(raw, peer, reply)
	in := lr.Data
	if s.pending != nil {
		s.pending.B = append(s.pending.B, in...)
		in = s.pending.B
	}
	upPeer := peer
	if a := s.lower.ClientAddr(); a != nil {
		upPeer = a
	}
	var ur Result
	off := 0
	for {
		k := len(reply.Bufs)
		ur = s.upper.Inbound(in[off:], upPeer, reply)
		off += ur.Consumed
		replied := len(reply.Bufs) > k
		if replied {
			s.wrap(reply, k)
		}
		if ur.Consumed == 0 || len(ur.Data) > 0 || replied || ur.Close || ur.Err != nil {
			break
		}
	}
	s.keep(in, off)
	r := Result{Consumed: lr.Consumed, Data: ur.Data, Close: lr.Close || ur.Close, Err: lr.Err}
	// upper stopped with output (not for want of bytes): it may take more of what is pending without new input.
	r.More = ur.Consumed > 0 && s.pending != nil && s.start < len(s.pending.B)
	if r.Err == nil {
		r.Err = ur.Err
	}
	return r
}

// keep records what upper left of in, from off on. in is pending's bytes or lower's Data; nothing is moved yet,
// since upper's Data may be a view into the consumed part.
func (s *stack) keep(in []byte, off int) {
	if s.pending != nil {
		s.start = off
		return
	}
	if off < len(in) {
		s.pending = bytebufferpool.Get()
		s.pending.B = append(s.pending.B[:0], in[off:]...)
		s.start = 0
	}
}

// compact moves the bytes still pending to the front of their buffer, or releases it when none are left.
func (s *stack) compact() {
	if s.pending == nil {
		return
	}
	rest := s.pending.B[s.start:]
	if len(rest) == 0 {
		s.release()
		return
	}
	s.pending.B = s.pending.B[:copy(s.pending.B, rest)]
	s.start = 0
}

func (s *stack) release() {
	if s.pending != nil {
		bytebufferpool.Put(s.pending)
		s.pending, s.start = nil, 0
	}
}

// wrap passes the slices upper added to v from k on through lower's Outbound, in place of themselves; when lower
// cannot carry them they are dropped.
func (s *stack) wrap(v *Vec, k int) {
	mid := len(v.Bufs)
	if !s.lower.Outbound(v, v.Bufs[k:mid]) {
		clear(v.Bufs[k:])
		v.Bufs = v.Bufs[:k]
		return
	}
	n := copy(v.Bufs[k:], v.Bufs[mid:])
	clear(v.Bufs[k+n:])
	v.Bufs = v.Bufs[:k+n]
}

// Outbound wraps data in upper, then the result in lower.
func (s *stack) Outbound(out *Vec, data [][]byte) bool {
	k := len(out.Bufs)
	if !s.upper.Outbound(out, data) {
		return false
	}
	mid := len(out.Bufs)
	if !s.lower.Outbound(out, out.Bufs[k:mid]) {
		clear(out.Bufs[k:])
		out.Bufs = out.Bufs[:k]
		return false
	}
	n := copy(out.Bufs[k:], out.Bufs[mid:])
	clear(out.Bufs[k+n:])
	out.Bufs = out.Bufs[:k+n]
	return true
}

// Closing says upper's goodbye through lower, then lower's own, and releases the pending bytes.
func (s *stack) Closing(shutdown bool, reply *Vec) {
	k := len(reply.Bufs)
	s.upper.Closing(shutdown, reply)
	if len(reply.Bufs) > k {
		s.wrap(reply, k)
	}
	s.lower.Closing(shutdown, reply)
	s.release()
}

// ClientAddr is the address the upper layer learned, else the lower one's.
func (s *stack) ClientAddr() net.Addr {
	if a := s.upper.ClientAddr(); a != nil {
		return a
	}
	return s.lower.ClientAddr()
}
