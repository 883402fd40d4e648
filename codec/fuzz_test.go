package codec_test

import (
	"bytes"
	"testing"
	"unicode/utf8"

	"loopmq/codec"
	"loopmq/codec/codectest"
)

var fuzzVersions = [3]codec.Version{codec.V31, codec.V311, codec.V5}

func addFixtureSeeds(f *testing.F) {
	for _, fx := range codectest.All() {
		f.Add(fx.Raw, byte(fx.Version-codec.V31))
	}
}

// FuzzPeekDecode checks that Peek and Decode never panic, that Peek's answers are consistent, and
// that every error is one of the package's *codec.Error values. The input is a stream of packets,
// read the way a server reads a socket buffer.
func FuzzPeekDecode(f *testing.F) {
	addFixtureSeeds(f)
	f.Add([]byte{0x30, 0xFF, 0xFF, 0xFF, 0x7F}, byte(1))
	var d codec.Decoder
	f.Fuzz(func(t *testing.T, data []byte, vi byte) {
		v := fuzzVersions[int(vi)%3]
		b := data[:len(data):len(data)] // no spare capacity to read into
		for len(b) > 0 {
			h, need, err := codec.Peek(b, 1<<20)
			if err != nil {
				if _, ok := err.(*codec.Error); !ok {
					t.Fatalf("Peek error %T %v", err, err)
				}
				return
			}
			if need > 0 {
				if h.Size > 0 && h.Len() != len(b)+need {
					t.Fatalf("Peek: header %+v with %d bytes needs %d", h, len(b), need)
				}
				return
			}
			if h.Size < 2 || h.Size > 5 || h.Len() > len(b) {
				t.Fatalf("Peek: bad header %+v for %d bytes", h, len(b))
			}
			body := b[h.Size:h.Len():h.Len()]
			if err := d.Decode(h, body, v); err != nil {
				if _, ok := err.(*codec.Error); !ok {
					t.Fatalf("Decode error %T %v", err, err)
				}
			}
			b = b[h.Len():]
		}
	})
}

// FuzzRoundTrip checks that every packet that parses encodes to a packet that parses to the same
// values, and that encoding is stable.
func FuzzRoundTrip(f *testing.F) {
	addFixtureSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, vi byte) {
		v := fuzzVersions[int(vi)%3]
		p, err := codectest.Parse(data, v)
		if err != nil {
			return
		}
		if c, ok := p.(*codec.Connect); ok {
			v = c.Version
		}
		enc := codectest.Append(nil, p, v)
		p2, err := codectest.Parse(enc, v)
		if err != nil {
			t.Fatalf("% x parsed, its encoding % x does not: %v", data, enc, err)
		}
		if !codectest.Equal(p, p2) {
			t.Fatalf("% x: decoded\n%+v\nre-decoded\n%+v", data, p, p2)
		}
		if enc2 := codectest.Append(nil, p2, v); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not stable: % x then % x", enc, enc2)
		}
		if pub, ok := p.(*codec.Publish); ok && v == codec.V5 {
			checkForward(t, pub)
		}
	})
}

// checkForward re-encodes a decoded MQTT 5 PUBLISH the way the broker forwards it and checks that
// the result parses, keeps every forwarded property and carries the per-subscriber ones.
func checkForward(t *testing.T, in *codec.Publish) {
	fwd := codec.FilterForwardProps(nil, in.Props.Raw)
	x := &codec.ForwardProps{MessageExpiry: 9, HasMessageExpiry: true, TopicAlias: 3, SubscriptionIDs: []uint32{7}}
	b := codec.AppendPublishForward(nil, codec.V5, in.Flags(), in.Topic, 1, fwd, x, in.Payload)
	got, err := codectest.Parse(b, codec.V5)
	if err != nil {
		t.Fatalf("forwarded % x does not parse: %v", b, err)
	}
	out := got.(*codec.Publish)
	want := in.Props
	want.Present = in.Props.Present | 1<<codec.PropMessageExpiry | 1<<codec.PropTopicAlias | 1<<codec.PropSubscriptionID
	want.MessageExpiry, want.TopicAlias, want.SubscriptionIDs = 9, 3, []uint32{7}
	if !codectest.Equal(out.Props, want) || !bytes.Equal(out.Payload, in.Payload) || !bytes.Equal(out.Topic, in.Topic) {
		t.Fatalf("forwarded\n%+v\nwant properties\n%+v", out, want)
	}
}

// FuzzValidUTF8String compares the word-at-a-time validator with the obvious definition: valid
// UTF-8 (which excludes surrogates) and no U+0000; and the topic name check of Publish.Decode with
// that plus "no wildcard".
func FuzzValidUTF8String(f *testing.F) {
	for _, s := range []string{"", "a/b", "abcdefgh/ijklmnop", "\x00", "ü/€", "\xed\xa0\x80", "12345678+", "a#", "\xc0\x80"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want := utf8.Valid(b) && bytes.IndexByte(b, 0) < 0
		err := codec.ValidUTF8String(b)
		if (err == nil) != want {
			t.Fatalf("ValidUTF8String(%q) = %v, want valid=%v", b, err, want)
		}
		if len(b) > 0xffff {
			return
		}
		pkt := append([]byte{0x30}, byte(2+len(b)))
		if len(b)+2 >= 128 {
			return // keep the packet's remaining length in one byte
		}
		pkt = append(pkt, 0, byte(len(b)))
		pkt = append(pkt, b...)
		var p codec.Publish
		h, _, _ := codec.Peek(pkt, 0)
		err = p.Decode(h, pkt[h.Size:], codec.V311)
		wantTopic := want && len(b) > 0 && !bytes.ContainsAny(b, "+#")
		if (err == nil) != wantTopic {
			t.Fatalf("PUBLISH topic %q: %v, want valid=%v", b, err, wantTopic)
		}
	})
}
