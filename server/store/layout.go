package store

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// FormatVersion is the key layout this build writes and reads. It is stored under keyFormat
// when a store is created; Open refuses a store with any other version.
const FormatVersion uint32 = 1

// Key layout, format version 1. Every key starts with one prefix byte; a client id inside a
// key is length-prefixed (big-endian uint16) so that one session's keys form one contiguous
// range and no client id is a prefix of another's range. Integers inside keys are big-endian
// so that byte order is numeric order. Every value starts with a record version byte.
//
//	key                                  value                    meaning
//	0x00 "format"                        uint32 BE                layout version (FormatVersion)
//	'm' id:u64                           Message                  message body, shared by queues and inflight
//	'r' topic                            Message                  retained message of that topic
//	's' len:u16 cid 0x00                 Session                  persistent session (will, subscriptions, expiry)
//	's' len:u16 cid 'i' pid:u16          inbound record           QoS 2 packet id received, PUBREL awaited
//	's' len:u16 cid 'o' pid:u16          Inflight                 outbound inflight: sent / PUBREC received
//	's' len:u16 cid 'q' seq:u64          Queued                   message queued for the session, in seq order
//
// Within one session the record sorts first (0x00), then inbound, inflight and queue entries,
// so a single forward scan rebuilds a session in the order the broker needs.
const (
	prefixMeta     byte = 0x00
	prefixMessage  byte = 'm'
	prefixRetained byte = 'r'
	prefixSession  byte = 's'

	kindSession  byte = 0x00
	kindInbound  byte = 'i'
	kindInflight byte = 'o'
	kindQueued   byte = 'q'
)

var keyFormat = []byte("\x00format")

// MaxClientIDLen is the longest client id a key can hold (an MQTT string is at most 65,535 bytes).
const MaxClientIDLen = 0xFFFF

// ErrClientIDTooLong is returned for a client id that does not fit a key.
var ErrClientIDTooLong = errors.New("store: client id longer than 65535 bytes")

func appendSessionPrefix(dst, clientID []byte) []byte {
	dst = append(dst, prefixSession)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(clientID)))
	return append(dst, clientID...)
}

func appendSessionKey(dst, clientID []byte) []byte {
	return append(appendSessionPrefix(dst, clientID), kindSession)
}

func appendInboundKey(dst, clientID []byte, packetID uint16) []byte {
	dst = append(appendSessionPrefix(dst, clientID), kindInbound)
	return binary.BigEndian.AppendUint16(dst, packetID)
}

func appendInflightKey(dst, clientID []byte, packetID uint16) []byte {
	dst = append(appendSessionPrefix(dst, clientID), kindInflight)
	return binary.BigEndian.AppendUint16(dst, packetID)
}

func appendQueuedKey(dst, clientID []byte, seq uint64) []byte {
	dst = append(appendSessionPrefix(dst, clientID), kindQueued)
	return binary.BigEndian.AppendUint64(dst, seq)
}

func appendMessageKey(dst []byte, id uint64) []byte {
	return binary.BigEndian.AppendUint64(append(dst, prefixMessage), id)
}

func appendRetainedKey(dst, topic []byte) []byte {
	return append(append(dst, prefixRetained), topic...)
}

// sessionKey is a parsed key under prefixSession.
type sessionKey struct {
	clientID []byte
	kind     byte
	packetID uint16 // kindInbound, kindInflight
	seq      uint64 // kindQueued
}

// parseSessionKey splits a key under prefixSession; the client id aliases key.
func parseSessionKey(key []byte) (sessionKey, error) {
	var k sessionKey
	if len(key) < 4 || key[0] != prefixSession {
		return k, fmt.Errorf("%w: session key too short", ErrCorrupt)
	}
	n := int(binary.BigEndian.Uint16(key[1:3]))
	if len(key) < 3+n+1 {
		return k, fmt.Errorf("%w: session key shorter than its client id", ErrCorrupt)
	}
	k.clientID = key[3 : 3+n]
	k.kind = key[3+n]
	rest := key[3+n+1:]
	switch k.kind {
	case kindSession:
		if len(rest) != 0 {
			return k, fmt.Errorf("%w: session record key has a suffix", ErrCorrupt)
		}
	case kindInbound, kindInflight:
		if len(rest) != 2 {
			return k, fmt.Errorf("%w: packet id key of %d bytes", ErrCorrupt, len(rest))
		}
		k.packetID = binary.BigEndian.Uint16(rest)
	case kindQueued:
		if len(rest) != 8 {
			return k, fmt.Errorf("%w: queue key of %d bytes", ErrCorrupt, len(rest))
		}
		k.seq = binary.BigEndian.Uint64(rest)
	default:
		return k, fmt.Errorf("%w: unknown session key kind %#x", ErrCorrupt, k.kind)
	}
	return k, nil
}

// prefixEnd returns the smallest key greater than every key starting with prefix.
func prefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xFF {
			end[i]++
			return end[:i+1]
		}
	}
	return nil // every byte 0xFF: no upper bound
}
