package codec

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// suspectRef is the byte-by-byte meaning of suspectBytes.
func suspectRef(w [8]byte) bool {
	for _, c := range w {
		if c == 0 || c == '+' || c == '#' || c >= 0x80 {
			return true
		}
	}
	return false
}

// TestSuspectBytes checks the word-at-a-time test against the byte-by-byte one: every value of
// every byte position over an ASCII background, every pair of values in two neighbouring positions
// (where a borrow could leak from one byte into the next), and random words.
func TestSuspectBytes(t *testing.T) {
	check := func(w [8]byte) {
		t.Helper()
		if got, want := suspectBytes(binary.LittleEndian.Uint64(w[:])) != 0, suspectRef(w); got != want {
			t.Fatalf("suspectBytes(% x) = %v, want %v", w, got, want)
		}
	}
	base := [8]byte{'s', 'e', 'n', 's', 'o', 'r', '/', '1'}
	for pos := range 8 {
		for c := range 256 {
			w := base
			w[pos] = byte(c)
			check(w)
		}
	}
	for pos := range 7 {
		for c := range 256 {
			for d := range 256 {
				w := base
				w[pos], w[pos+1] = byte(c), byte(d)
				check(w)
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], r.Uint64()&0x7f7f7f7f7f7f7f7f|r.Uint64()&r.Uint64()&r.Uint64()&highBits)
		check(w)
	}
}

// TestValidTopicNameLengths puts one bad byte at every position of topic names of every length
// from 0 to 40, so that the word loop, the overlapping last word and the short byte loop all see it.
func TestValidTopicNameLengths(t *testing.T) {
	for n := range 41 {
		name := make([]byte, n)
		for i := range name {
			name[i] = 'a' + byte(i%26)
		}
		if err := validTopicName(name); err != nil {
			t.Fatalf("len %d: %v for a valid name", n, err)
		}
		for i := range n {
			for _, c := range []struct {
				b    byte
				want error
			}{{'+', ErrTopicWildcard}, {'#', ErrTopicWildcard}, {0, ErrNullInString}, {0xff, ErrBadUTF8}} {
				bad := append([]byte(nil), name...)
				bad[i] = c.b
				if err := validTopicName(bad); err != c.want {
					t.Fatalf("len %d, %#x at %d: got %v, want %v", n, c.b, i, err, c.want)
				}
				pkt := (&Publish{Topic: bad, Payload: []byte("x")}).Append(nil, V311)
				h, _, _ := Peek(pkt, 0)
				var p Publish
				if err := p.Decode(h, pkt[h.Size:], V311); err != c.want {
					t.Fatalf("Decode, len %d, %#x at %d: got %v, want %v", n, c.b, i, err, c.want)
				}
			}
		}
	}
}

// TestPeekFastPath checks that Peek's fast path answers exactly as the general peek does, for
// every first byte, remaining lengths around the one- and two-byte boundaries (minimal or not),
// every truncation of the header and a few packet size limits.
func TestPeekFastPath(t *testing.T) {
	var lengths [][]byte
	for _, n := range []int{0, 1, 2, 5, 126, 127, 128, 129, 300, 16382, 16383, 16384, 2097151, 2097152} {
		lengths = append(lengths, appendVarint(nil, n))
	}
	lengths = append(lengths, []byte{0x80, 0x00}, []byte{0xff, 0x00}, []byte{0x81, 0x80, 0x00}, []byte{0xff, 0xff, 0xff, 0xff, 0x01})
	for first := range 256 {
		for _, l := range lengths {
			full := append([]byte{byte(first)}, l...)
			full = append(full, make([]byte, 4)...)
			for cut := 0; cut <= len(full); cut++ {
				for _, limit := range []int{0, -1, 1, 2, 3, 4, 130, 131, 132, 16386, 16387, 1 << 30} {
					b := full[:cut]
					h1, n1, e1 := Peek(b, limit)
					h2, n2, e2 := peek(b, limit)
					if h1 != h2 || n1 != n2 || e1 != e2 {
						t.Fatalf("% x limit %d: Peek = %+v %d %v, peek = %+v %d %v", b, limit, h1, n1, e1, h2, n2, e2)
					}
				}
			}
		}
	}
}
