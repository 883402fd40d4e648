package bench

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"hash/fnv"
)

// A payload starts with a fixed header the receiver accounts by:
//
//	0..4   run tag (FNV-1a of the run id), so leftovers of other runs are recognised and skipped
//	4..8   publisher number
//	8..16  sequence number, from 0 and dense per publisher
//	16..24 send time, Unix nanoseconds (workers share the machine's clock)
//
// The rest is filler up to the requested size.

// stamp is the decoded accounting header of a payload.
type stamp struct {
	pub  uint32
	seq  uint64
	sent int64
}

// runTag derives the tag payloads of a run carry.
func runTag(runID string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(runID))
	return h.Sum32()
}

// newPayload returns a payload buffer of size n for a publisher, with the tag and publisher in place.
func newPayload(n int, tag, pub uint32) []byte {
	b := make([]byte, n)
	binary.BigEndian.PutUint32(b[0:], tag)
	binary.BigEndian.PutUint32(b[4:], pub)
	for i := PayloadHeader; i < n; i++ {
		b[i] = byte('a' + i%26)
	}
	return b
}

// setStamp writes the sequence number and send time into a payload made by newPayload.
func setStamp(b []byte, seq uint64, now int64) {
	binary.BigEndian.PutUint64(b[8:], seq)
	binary.BigEndian.PutUint64(b[16:], uint64(now))
}

// readStamp decodes the header of a received payload; ok is false when the payload is not one of this
// run's.
func readStamp(b []byte, tag uint32) (s stamp, ok bool) {
	if len(b) < PayloadHeader || binary.BigEndian.Uint32(b) != tag {
		return stamp{}, false
	}
	return stamp{
		pub:  binary.BigEndian.Uint32(b[4:]),
		seq:  binary.BigEndian.Uint64(b[8:]),
		sent: int64(binary.BigEndian.Uint64(b[16:])),
	}, true
}

// newRunID returns a short random id that keeps the topics of concurrent or earlier runs apart.
func newRunID() string {
	var b [4]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
