package codec_test

import (
	"bytes"
	"errors"
	"testing"

	"loopmq/codec"
	"loopmq/codec/codectest"
)

func TestFixtures(t *testing.T) {
	all := codectest.All()
	if len(all) < 100 {
		t.Errorf("only %d fixtures, want 100 or more", len(all))
	}
	names := map[string]bool{}
	for _, f := range all {
		t.Run(f.Name, func(t *testing.T) {
			if names[f.Name] {
				t.Fatalf("duplicate fixture name")
			}
			names[f.Name] = true
			if f.Rule == "" {
				t.Fatalf("fixture names no rule")
			}
			got, err := codectest.Parse(f.Raw, f.Version)
			if f.Err != nil {
				if err != f.Err {
					t.Fatalf("Parse(% x) error = %v, want %v", f.Raw, err, f.Err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(% x) error = %v", f.Raw, err)
			}
			if !codectest.Equal(got, f.Packet) {
				t.Fatalf("Parse(% x)\n got %+v\nwant %+v", f.Raw, got, f.Packet)
			}
			enc := codectest.Append(nil, got, f.Version)
			if f.NonCanonical {
				again, err := codectest.Parse(enc, f.Version)
				if err != nil || !codectest.Equal(again, f.Packet) {
					t.Fatalf("re-encoded % x parses to %+v, %v", enc, again, err)
				}
				return
			}
			if !bytes.Equal(enc, f.Raw) {
				t.Errorf("Append(decoded) =\n% x\nwant\n% x", enc, f.Raw)
			}
			if enc := codectest.Append(nil, f.Packet, f.Version); !bytes.Equal(enc, f.Raw) {
				t.Errorf("Append(fixture packet) =\n% x\nwant\n% x", enc, f.Raw)
			}
		})
	}
}

// TestErrorsCarryCode checks that errors.As finds the reason code, as the broker will use it.
func TestErrorsCarryCode(t *testing.T) {
	_, err := codectest.Parse([]byte{0x30, 0x05, 0x00, 0x01, '#', 'x', 'y'}, codec.V5)
	var e *codec.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is not a *codec.Error", err)
	}
	if e.Code != codec.TopicNameInvalid || e.Rule != "MQTT-3.3.2-2" {
		t.Errorf("got code %v rule %s", e.Code, e.Rule)
	}
	if got, want := codec.ErrNullInString.Error(), "malformed packet: U+0000 in UTF-8 string [MQTT-1.5.4-2]"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// TestPeekPrefixes feeds every valid fixture to Peek one byte at a time, as a socket might.
func TestPeekPrefixes(t *testing.T) {
	for _, f := range codectest.All() {
		if f.Err != nil {
			continue
		}
		for n := 0; n < len(f.Raw); n++ {
			h, need, err := codec.Peek(f.Raw[:n], 0)
			if err != nil || need <= 0 {
				t.Fatalf("%s: Peek(%d of %d bytes) = need %d, err %v", f.Name, n, len(f.Raw), need, err)
			}
			if h.Size > 0 && n+need != len(f.Raw) {
				t.Fatalf("%s: Peek(%d bytes) with complete header needs %d, want %d", f.Name, n, need, len(f.Raw)-n)
			}
		}
		h, need, err := codec.Peek(append(f.Raw, 0xC0, 0x00), 0)
		if err != nil || need != 0 || h.Len() != len(f.Raw) {
			t.Fatalf("%s: Peek(whole + more) = %+v need %d err %v", f.Name, h, need, err)
		}
		if _, _, err := codec.Peek(f.Raw, len(f.Raw)-1); err != codec.ErrPacketTooLarge {
			t.Fatalf("%s: Peek with limit %d: err %v, want ErrPacketTooLarge", f.Name, len(f.Raw)-1, err)
		}
	}
}

// TestDecoderNext reads a stream of every valid fixture of one version, as a server reads its
// socket buffer, with one Decoder reused throughout.
func TestDecoderNext(t *testing.T) {
	for _, v := range []codec.Version{codec.V31, codec.V311, codec.V5} {
		var stream []byte
		var want []codectest.Fixture
		for _, f := range codectest.All() {
			if f.Err == nil && f.Version == v {
				stream = append(stream, f.Raw...)
				want = append(want, f)
			}
		}
		var d codec.Decoder
		b := stream
		for i, f := range want {
			h, need, err := d.Next(b, v, 0)
			if err != nil || need != 0 || h.Len() != len(f.Raw) {
				t.Fatalf("v%v packet %d (%s): h %+v need %d err %v", v, i, f.Name, h, need, err)
			}
			if got := decoded(&d, h.Type); got != nil && !codectest.Equal(got, f.Packet) {
				t.Fatalf("v%v %s: decoded %+v, want %+v", v, f.Name, got, f.Packet)
			}
			b = b[h.Len():]
		}
		if len(b) != 0 {
			t.Fatalf("v%v: %d bytes left", v, len(b))
		}
		if _, need, err := d.Next(stream[:1], v, 0); need != 1 || err != nil {
			t.Errorf("Next on one byte: need %d err %v", need, err)
		}
	}
}

// decoded returns the Decoder field that holds a packet of type t (nil for PINGREQ/PINGRESP).
func decoded(d *codec.Decoder, t codec.Type) any {
	switch t {
	case codec.TypeConnect:
		return &d.Connect
	case codec.TypeConnack:
		return &d.Connack
	case codec.TypePublish:
		return &d.Publish
	case codec.TypePuback, codec.TypePubrec, codec.TypePubrel, codec.TypePubcomp:
		return &d.Ack
	case codec.TypeSubscribe:
		return &d.Subscribe
	case codec.TypeSuback:
		return &d.Suback
	case codec.TypeUnsubscribe:
		return &d.Unsubscribe
	case codec.TypeUnsuback:
		return &d.Unsuback
	case codec.TypeDisconnect:
		return &d.Disconnect
	case codec.TypeAuth:
		return &d.Auth
	}
	return nil
}
