package codec_test

import (
	"testing"

	"loopmq/codec"
)

func TestPeek(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		max  int
		want codec.FixedHeader
		need int
		err  error
	}{
		{"empty", nil, 0, codec.FixedHeader{}, 2, nil},
		{"first byte only", []byte{0x30}, 0, codec.FixedHeader{}, 1, nil},
		{"first byte alone is wrong", []byte{0x00}, 0, codec.FixedHeader{}, 0, codec.ErrReservedType},
		{"first byte alone is QoS 3", []byte{0x36}, 0, codec.FixedHeader{}, 0, codec.ErrQoS3},
		{"remaining length continues", []byte{0x30, 0x80}, 0, codec.FixedHeader{}, 1, nil},
		{"header complete, body missing", []byte{0x30, 0x80, 0x01}, 0,
			codec.FixedHeader{Type: codec.TypePublish, Remaining: 128, Size: 3}, 128, nil},
		{"largest remaining length", []byte{0x30, 0xFF, 0xFF, 0xFF, 0x7F}, 0,
			codec.FixedHeader{Type: codec.TypePublish, Remaining: codec.MaxRemaining, Size: 5}, codec.MaxRemaining, nil},
		{"too large refused before the body arrives", []byte{0x30, 0x80, 0x01}, 100,
			codec.FixedHeader{Type: codec.TypePublish, Remaining: 128, Size: 3}, 0, codec.ErrPacketTooLarge},
		{"exactly the limit", []byte{0x30, 0x02, 0, 0}, 4,
			codec.FixedHeader{Type: codec.TypePublish, Remaining: 2, Size: 2}, 0, nil},
		{"fifth length byte", []byte{0x30, 0x80, 0x80, 0x80, 0x80}, 0, codec.FixedHeader{}, 0, codec.ErrMalformedRemainingLength},
		{"reserved type checked on the first byte", []byte{0x0F, 0x00}, 0, codec.FixedHeader{}, 0, codec.ErrReservedType},
		{"pubrel flags checked before the body", []byte{0x61, 0x02}, 0, codec.FixedHeader{}, 0, codec.ErrReservedFlags},
		{"subscribe flags 0", []byte{0x80, 0x02}, 0, codec.FixedHeader{}, 0, codec.ErrReservedFlags},
		{"connect flags", []byte{0x12, 0x00}, 0, codec.FixedHeader{}, 0, codec.ErrReservedFlags},
		{"publish QoS 3", []byte{0x37, 0x00}, 0, codec.FixedHeader{}, 0, codec.ErrQoS3},
		{"publish DUP with QoS 0", []byte{0x39, 0x00}, 0, codec.FixedHeader{}, 0, codec.ErrDupQoS0},
		{"publish flags kept", []byte{0x3B, 0x00}, 0,
			codec.FixedHeader{Type: codec.TypePublish, Flags: 0x0B, Size: 2}, 0, nil},
		{"pingreq with a body", []byte{0xC0, 0x01}, 0, codec.FixedHeader{}, 0, codec.ErrPacketLength},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, need, err := codec.Peek(tt.in, tt.max)
			if h != tt.want || need != tt.need || err != tt.err {
				t.Errorf("Peek(% x, %d) = %+v, %d, %v; want %+v, %d, %v", tt.in, tt.max, h, need, err, tt.want, tt.need, tt.err)
			}
		})
	}
}

func TestValidUTF8String(t *testing.T) {
	tests := []struct {
		in   string
		want error
	}{
		{"", nil},
		{"plain/ascii/longer/than/eight", nil},
		{"\uFEFFbom", nil},
		{"ctrl\x01\x7f\u0085", nil},
		{"nonchar\uFFFF", nil},
		{"max\U0010FFFF", nil},
		{"emoji 😀 and ü", nil},
		{"12345678\x00", codec.ErrNullInString},
		{"\x00", codec.ErrNullInString},
		{"abcdefgh\xff", codec.ErrBadUTF8},
		{"\xed\xa0\x80", codec.ErrBadUTF8},     // U+D800, a surrogate
		{"\xed\xbf\xbf", codec.ErrBadUTF8},     // U+DFFF
		{"\xc0\x80", codec.ErrBadUTF8},         // overlong U+0000
		{"\xe0\x80\xaf", codec.ErrBadUTF8},     // overlong '/'
		{"\xf4\x90\x80\x80", codec.ErrBadUTF8}, // above U+10FFFF
		{"cut \xe2\x82", codec.ErrBadUTF8},     // truncated sequence
		{"lone continuation \x80", codec.ErrBadUTF8},
	}
	for _, tt := range tests {
		if got := codec.ValidUTF8String([]byte(tt.in)); got != tt.want {
			t.Errorf("ValidUTF8String(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestNames(t *testing.T) {
	tests := []struct{ got, want string }{
		{codec.TypePublish.String(), "PUBLISH"},
		{codec.TypeAuth.String(), "AUTH"},
		{codec.Type(16).String(), "invalid(16)"},
		{codec.V311.String(), "3.1.1"},
		{codec.V5.String(), "5.0"},
		{codec.Version(9).String(), "unknown(9)"},
		{codec.MalformedPacket.String(), "malformed packet"},
		{codec.WildcardSubscriptionsNotSupported.String(), "wildcard subscriptions not supported"},
		{codec.ReasonCode(0x7F).String(), "reason code 0x7F"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	if c, ok := codec.ConnackV3(codec.UnsupportedProtocolVersion); !ok || c != codec.ConnRefusedProtocolVersion {
		t.Errorf("ConnackV3(0x84) = %v, %v", c, ok)
	}
	if _, ok := codec.ConnackV3(codec.MalformedPacket); ok {
		t.Errorf("ConnackV3(0x81) has a v3 code")
	}
}

// TestProtocolVersionReported checks that a CONNECT with an unknown level still tells the broker
// which level it asked for, so the broker can answer CONNACK 0x01 (v3) or 0x84 (v5).
func TestProtocolVersionReported(t *testing.T) {
	b := []byte{0x10, 0x0D, 0, 4, 'M', 'Q', 'T', 'T', 6, 0x02, 0, 60, 0, 1, 'c'}
	h, _, _ := codec.Peek(b, 0)
	var c codec.Connect
	if err := c.Decode(h, b[h.Size:], 0); err != codec.ErrProtocolVersion {
		t.Fatalf("err = %v", err)
	}
	if c.Version != 6 || string(c.ProtocolName) != "MQTT" {
		t.Errorf("got level %d name %q", c.Version, c.ProtocolName)
	}
}

func TestEncoderWritesOnlyValidPackets(t *testing.T) {
	tests := []struct {
		name string
		p    interface {
			Append([]byte, codec.Version) []byte
		}
		v codec.Version
	}{
		{"publish QoS 3 and DUP", &codec.Publish{QoS: 3, Dup: true, Topic: []byte("t"), PacketID: 1}, codec.V5},
		{"publish DUP with QoS 0", &codec.Publish{Dup: true, Topic: []byte("t")}, codec.V311},
		{"connect will QoS without will", &codec.Connect{Version: codec.V311, WillQoS: 2, WillRetain: true}, codec.V311},
		{"connect v3 password without user name", &codec.Connect{Version: codec.V311, PasswordFlag: true, Password: []byte("x")}, codec.V311},
		{"connect v5 properties not allowed in CONNECT", &codec.Connect{Version: codec.V5, Props: codec.Properties{
			Present:    1<<codec.PropTopicAlias | 1<<codec.PropReceiveMaximum | 1<<codec.PropRequestProblemInfo,
			TopicAlias: 3, RequestProblemInfo: 7}}, codec.V5},
		{"subscribe QoS 3, retain handling 3", &codec.Subscribe{PacketID: 1, Subs: []codec.Subscription{{Filter: []byte("a"), QoS: 3, RetainHandling: 3}}}, codec.V5},
		{"connack session present with refusal", &codec.Connack{SessionPresent: true, Reason: codec.NotAuthorized}, codec.V5},
		{"subscribe with two subscription ids", &codec.Subscribe{PacketID: 1, Props: codec.Properties{SubscriptionIDs: []uint32{0, 4, 5}},
			Subs: []codec.Subscription{{Filter: []byte("a")}}}, codec.V5},
		{"connect v5 authentication data without method", &codec.Connect{Version: codec.V5, Props: codec.Properties{
			Present: 1 << codec.PropAuthData, AuthData: []byte{1}}}, codec.V5},
		{"subscribe no local on a shared subscription", &codec.Subscribe{PacketID: 1,
			Subs: []codec.Subscription{{Filter: []byte("$share/g/a"), NoLocal: true}}}, codec.V5},
		{"publish subscription id 0", &codec.Publish{Topic: []byte("t"), Props: codec.Properties{SubscriptionIDs: []uint32{0, 4}}}, codec.V5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.p.Append(nil, tt.v)
			if _, err := parse(b, tt.v); err != nil {
				t.Errorf("encoded % x does not parse: %v", b, err)
			}
		})
	}
}
