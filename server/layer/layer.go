// Package layer is the seam between a connection's bytes and the MQTT session: a transport (WebSocket, TLS, the
// PROXY protocol) is a Layer that turns inbound bytes into the bytes of the layer above and wraps outbound bytes on
// their way down. Layers stack per connection (PROXY → TLS → WebSocket → MQTT) with Stack; the session drives one
// Layer and never learns which transports it is made of.
//
// Results are values: Inbound returns what it decided (bytes consumed, bytes for the layer above, close, error) and
// appends its own answers (handshake responses, pongs, close frames) to a Vec the caller sends. No layer holds a
// pointer to the connection or to the session, and none parses MQTT.
package layer

import (
	"net"
	"net/netip"
)

// Layer is one transport of a connection. A Layer belongs to one connection and is used from one goroutine (its
// event loop).
type Layer interface {
	// Inbound processes raw, every byte received and not yet consumed (it may rewrite raw in place, e.g. to strip
	// frames). It returns how many bytes it consumed, the bytes they carried for the layer above (a view into raw
	// or into the layer's own buffer, valid until the next call), and whether the connection must close. Answers
	// of the layer itself go to reply, in this layer's own form (the layers below wrap them): the caller hands
	// Data up first, then sends reply, then closes if asked. Reply bytes never point into raw. A goodbye that a
	// Close or Err verdict calls for (a close frame with the violated rule's code, the echo of the peer's close)
	// is not a reply: the layer says it in Closing, after the answers to Data have gone out through Outbound.
	//
	// The caller calls Inbound whenever bytes arrive, and again, on the rest, as long as bytes remain and a call
	// made progress (consumed bytes, returned data, or replied), or the call set More; so a layer may stop early,
	// after a handshake whose answer must go out before the answers to the data behind it, or at a control
	// message. A call that makes no progress waits for more bytes. peer is the address of the party below: the
	// TCP peer, or the client a lower layer named (see ClientAddr).
	Inbound(raw []byte, peer net.Addr, reply *Vec) Result
	// Outbound appends to out the slices that carry data (the bytes of the layer above, in order) in this layer's
	// form: bytes it makes (a frame header, an encrypted record) go in out.Scratch; data itself is referenced, not
	// copied, unless the layer must transform it. It returns false when the layer can carry nothing (its
	// handshake is not done, or it has closed): data is dropped and out is unchanged.
	Outbound(out *Vec, data [][]byte) bool
	// Closing appends to reply the layer's goodbye (e.g. a close frame), once, when the connection closes: the one
	// an Inbound verdict decided on, else the server's own; shutdown says the whole server is going away. Outbound
	// carries nothing after it.
	Closing(shutdown bool, reply *Vec)
	// ClientAddr is the client's address when this layer learned it (a trusted proxy's header, a PROXY protocol
	// header), else nil: then the peer below is the client.
	ClientAddr() net.Addr
}

// Result is what one Inbound call decided.
type Result struct {
	// Consumed is how many bytes of raw were processed; the caller discards them once it has used Data.
	Consumed int
	// Data holds the bytes for the layer above, valid until the next call.
	Data []byte
	// More says the layer made progress and still holds bytes it has not handed up (a stack's upper layer stopped
	// early on bytes the lower one decoded): call again, even with no new raw bytes.
	More bool
	// Close asks for the connection to be closed once Data is handled and the replies are sent.
	Close bool
	// Err is a violation of this layer's protocol; the connection closes. An answer that is not a goodbye (an HTTP
	// error status to a refused handshake) is already in reply; a goodbye (a close frame with the rule's code)
	// comes from Closing.
	Err error
}

// Vec is a vectored write being built: the slices to write in order, and room for the bytes layers add. The event
// loop owns its Vecs and reuses them for every connection, so wrapping allocates nothing once they have grown.
type Vec struct {
	// Bufs are the slices to write, in order.
	Bufs [][]byte
	// Scratch holds the bytes layers made. A layer appends to it and adds the new bytes to Bufs with Add; slices
	// already in Bufs stay valid when Scratch grows, since they keep its old array.
	Scratch []byte
}

// Add appends Scratch[from:], the bytes a layer has just appended to Scratch, to Bufs.
func (v *Vec) Add(from int) {
	if from < len(v.Scratch) {
		v.Bufs = append(v.Bufs, v.Scratch[from:len(v.Scratch):len(v.Scratch)])
	}
}

// Len is the number of bytes in Bufs.
func (v *Vec) Len() int {
	n := 0
	for _, b := range v.Bufs {
		n += len(b)
	}
	return n
}

// Reset empties v for the next write, keeping its arrays but not the slices it referenced.
func (v *Vec) Reset() {
	// A WebSocket flush leaves two slices: clear them without a loop (the compiler turns a clearing loop into a
	// bulk memclr whose write barrier setup costs more than the rest of the flush).
	switch b := v.Bufs; len(b) {
	case 2:
		b[0], b[1] = nil, nil
	case 1:
		b[0] = nil
	default:
		for i := len(b) - 1; i >= 0; i-- {
			b[i] = nil
		}
	}
	v.Bufs = v.Bufs[:0]
	v.Scratch = v.Scratch[:0]
}

// AddrPort converts a TCP address to a netip.AddrPort without allocating; other addresses give the zero value.
func AddrPort(a net.Addr) netip.AddrPort {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.AddrPort()
	}
	return netip.AddrPort{}
}
