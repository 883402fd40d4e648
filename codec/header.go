package codec

// FixedHeader is the first 2 to 5 bytes of every control packet.
type FixedHeader struct {
	Type      Type
	Flags     byte // low nibble of the first byte
	Remaining int  // remaining length: the bytes after the fixed header
	Size      int  // bytes of the fixed header itself (2..5)
}

// Len returns the length of the whole packet, fixed header included.
func (h FixedHeader) Len() int { return h.Size + h.Remaining }

// minimal reports whether the remaining length was encoded in the fewest bytes possible,
// which MQTT 5 requires [MQTT-1.5.5-1]; MQTT 3 decoders accept longer encodings.
func (h FixedHeader) minimal() bool { return h.Size == 1+varintLen(h.Remaining) }

// MaxRemaining is the largest remaining length a fixed header can express (268,435,455).
const MaxRemaining = 1<<28 - 1

// requiredFlags holds, per packet type, the fixed header flags the specification prescribes
// (§2.2.2); PUBLISH is checked separately because its flags carry DUP, QoS and RETAIN.
var requiredFlags = [16]byte{TypePubrel: 2, TypeSubscribe: 2, TypeUnsubscribe: 2}

// Peek examines the start of b without consuming it.
//
// need == 0 and err == nil: a whole packet is in b[:h.Len()].
// need > 0: at least that many more bytes are needed. Once the fixed header is complete (h.Size > 0)
// need is exactly h.Len()-len(b), so the caller knows the packet's size before buffering it; with
// maxPacketSize > 0 Peek returns ErrPacketTooLarge as soon as the header announces a bigger packet.
//
// Errors here are framing errors (reserved type 0, wrong reserved flags, QoS 3 or DUP with QoS 0 on
// PUBLISH, a remaining length longer than 4 bytes, PINGREQ/PINGRESP with a body): the connection
// cannot continue, since the packet boundary is unknown or the packet is malformed.
func Peek(b []byte, maxPacketSize int) (h FixedHeader, need int, err error) {
	// Fast path: a packet under 16 KiB (remaining length in one or two bytes) whose first byte is
	// common and valid. uint(maxPacketSize-1) is huge when maxPacketSize <= 0 (no limit), so one
	// compare checks the limit in both cases.
	if len(b) >= 2 && validFirst[b[0]] {
		n, size := int(b[1]), 2
		if n >= 0x80 {
			if len(b) < 3 || b[2] >= 0x80 {
				return peek(b, maxPacketSize)
			}
			n, size = n&0x7f|int(b[2])<<7, 3
		}
		if uint(n+size-1) <= uint(maxPacketSize-1) {
			return FixedHeader{Type: Type(b[0] >> 4), Flags: b[0] & 0x0f, Remaining: n, Size: size}, max(n+size-len(b), 0), nil
		}
	}
	return peek(b, maxPacketSize)
}

// validFirst marks the first bytes Peek accepts on its fast path: correct reserved flags, and not
// PINGREQ/PINGRESP (whose remaining length must also be checked).
var validFirst = func() (t [256]bool) {
	for i := range t {
		typ, f := Type(i>>4), byte(i&0x0f)
		t[i] = checkFlags(typ, f) == nil && typ != TypePingreq && typ != TypePingresp
	}
	return t
}()

func peek(b []byte, maxPacketSize int) (h FixedHeader, need int, err error) {
	if len(b) == 0 {
		return h, 2, nil
	}
	// The first byte alone can be wrong: say so before waiting for more.
	if err := checkFlags(Type(b[0]>>4), b[0]&0x0f); err != nil {
		return FixedHeader{}, 0, err
	}
	if len(b) < 2 {
		return h, 1, nil
	}
	h.Type, h.Flags = Type(b[0]>>4), b[0]&0x0f
	// The remaining length: up to 4 bytes, 7 bits each, least significant group first.
	var n int
	if c := b[1]; c < 0x80 { // the common case: packets under 128 bytes
		n, h.Size = int(c), 2
	} else {
		n = int(c & 0x7f)
		for i := 2; ; i++ {
			if i > 4 {
				return FixedHeader{}, 0, ErrMalformedRemainingLength
			}
			if i >= len(b) {
				return FixedHeader{}, 1, nil
			}
			c := b[i]
			n |= int(c&0x7f) << (7 * (i - 1))
			if c < 0x80 {
				h.Size = i + 1
				break
			}
		}
	}
	h.Remaining = n
	if (h.Type == TypePingreq || h.Type == TypePingresp) && n != 0 {
		return FixedHeader{}, 0, ErrPacketLength
	}
	total := h.Size + n
	if maxPacketSize > 0 && total > maxPacketSize {
		return h, 0, ErrPacketTooLarge
	}
	if len(b) < total {
		return h, total - len(b), nil
	}
	return h, 0, nil
}

func checkFlags(t Type, f byte) error {
	switch {
	case t == TypeReserved:
		return ErrReservedType
	case t == TypePublish:
		qos := f >> 1 & 3
		if qos == 3 {
			return ErrQoS3
		}
		if qos == 0 && f&8 != 0 {
			return ErrDupQoS0
		}
	case f != requiredFlags[t]:
		// MQTT 3.1 let a retransmitted PUBREL, SUBSCRIBE or UNSUBSCRIBE carry DUP; Peek does not
		// know the version, so Decode refuses it for the later versions.
		if f == requiredFlags[t]|pubDup && requiredFlags[t] != 0 {
			return nil
		}
		return ErrReservedFlags
	}
	return nil
}

// varintLen returns the number of bytes n takes as a variable byte integer.
func varintLen(n int) int {
	switch {
	case n < 128:
		return 1
	case n < 16384:
		return 2
	case n < 2097152:
		return 3
	}
	return 4
}

// appendVarint appends n (0..MaxRemaining) as a variable byte integer.
func appendVarint(dst []byte, n int) []byte {
	for n >= 128 {
		dst = append(dst, byte(n)|0x80)
		n >>= 7
	}
	return append(dst, byte(n))
}

// appendFixedHeader appends the first byte and the minimal encoding of the remaining length.
func appendFixedHeader(dst []byte, t Type, flags byte, remaining int) []byte {
	dst = append(dst, byte(t)<<4|flags)
	return appendVarint(dst, remaining)
}

// checkHeader is the common prologue of every Decode but CONNECT's and PUBLISH's: right type,
// reserved flags as the version wants them, and for MQTT 5 a minimal remaining length.
func checkHeader(h FixedHeader, t Type, v Version) error {
	if h.Type != t {
		return ErrWrongType
	}
	if h.Flags != requiredFlags[t] && (v != V31 || h.Flags != requiredFlags[t]|pubDup || requiredFlags[t] == 0) {
		return ErrReservedFlags
	}
	if v == V5 && !h.minimal() {
		return ErrRemainingLengthNotMinimal
	}
	return nil
}
