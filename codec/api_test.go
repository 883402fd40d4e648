package codec_test

import (
	"bytes"
	"testing"

	"loopmq/codec"
	"loopmq/codec/codectest"
)

func TestCheckFromClient(t *testing.T) {
	f := fixture(t, "publish v5 QoS 1 with every publish property") // carries subscription ids
	p, err := codectest.Parse(f.Raw, codec.V5)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.(*codec.Publish).CheckFromClient(); err != codec.ErrSubIDFromClient {
		t.Errorf("CheckFromClient = %v, want ErrSubIDFromClient", err)
	}
	q, _ := codectest.Parse(fixture(t, "publish v5 QoS 2 retain").Raw, codec.V5)
	if err := q.(*codec.Publish).CheckFromClient(); err != nil {
		t.Errorf("CheckFromClient on a plain PUBLISH = %v", err)
	}
}

func TestCheckPayloadFormat(t *testing.T) {
	utf8Flag := codec.Properties{Present: 1 << codec.PropPayloadFormat, PayloadFormat: 1}
	tests := []struct {
		name    string
		props   codec.Properties
		payload string
		want    error
	}{
		{"UTF-8 payload, flag 1", utf8Flag, "héllo", nil},
		{"binary payload, flag 1", utf8Flag, "\xff\xfe", codec.ErrPayloadFormat},
		{"binary payload, no flag", codec.Properties{}, "\xff\xfe", nil},
		{"binary payload, flag 0", codec.Properties{Present: 1 << codec.PropPayloadFormat}, "\xff", nil},
	}
	for _, tt := range tests {
		p := codec.Publish{Props: tt.props, Payload: []byte(tt.payload)}
		if err := p.CheckPayloadFormat(); err != tt.want {
			t.Errorf("%s: CheckPayloadFormat = %v, want %v", tt.name, err, tt.want)
		}
		c := codec.Connect{WillFlag: true, WillProps: tt.props, WillPayload: []byte(tt.payload)}
		if err := c.CheckWillPayloadFormat(); err != tt.want {
			t.Errorf("%s: CheckWillPayloadFormat = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestPropertyAllowed(t *testing.T) {
	tests := []struct {
		id   codec.PropID
		t    codec.Type
		want bool
	}{
		{codec.PropTopicAlias, codec.TypePublish, true},
		{codec.PropTopicAlias, codec.TypeConnect, false},
		{codec.PropWillDelay, codec.TypeReserved, true}, // will properties
		{codec.PropWillDelay, codec.TypeConnect, false},
		{codec.PropUser, codec.TypeAuth, true},
		{codec.PropUser, codec.TypePingreq, false},
		{codec.PropReasonString, codec.TypePublish, false},
		{codec.PropSubscriptionID, codec.TypeSubscribe, true},
		{codec.PropID(0x7F), codec.TypePublish, false},
	}
	for _, tt := range tests {
		if got := codec.PropertyAllowed(tt.id, tt.t); got != tt.want {
			t.Errorf("PropertyAllowed(%#x, %v) = %v", tt.id, tt.t, got)
		}
	}
}

func TestConnackV3(t *testing.T) {
	tests := []struct {
		in   codec.ReasonCode
		want codec.ReasonCode
		ok   bool
	}{
		{codec.Success, codec.ConnAccepted, true},
		{codec.UnsupportedProtocolVersion, codec.ConnRefusedProtocolVersion, true},
		{codec.ClientIdentifierNotValid, codec.ConnRefusedIdentifierRejected, true},
		{codec.ServerBusy, codec.ConnRefusedServerUnavailable, true},
		{codec.BadUserNameOrPassword, codec.ConnRefusedBadUserOrPassword, true},
		{codec.Banned, codec.ConnRefusedNotAuthorized, true},
		{codec.ProtocolError, 0, false},
	}
	for _, tt := range tests {
		got, ok := codec.ConnackV3(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ConnackV3(%v) = %v, %v", tt.in, got, ok)
		}
	}
	if codec.Success.IsError() || !codec.UnspecifiedError.IsError() {
		t.Errorf("IsError wrong")
	}
}

func TestAppendAck(t *testing.T) {
	tests := []struct {
		name   string
		t      codec.Type
		reason codec.ReasonCode
		v      codec.Version
		want   []byte
	}{
		{"puback v3.1.1", codec.TypePuback, codec.Success, codec.V311, []byte{0x40, 2, 0x12, 0x34}},
		{"pubrel v3.1.1 carries its flag", codec.TypePubrel, codec.Success, codec.V311, []byte{0x62, 2, 0x12, 0x34}},
		{"puback v3.1.1 drops the reason", codec.TypePuback, codec.QuotaExceeded, codec.V311, []byte{0x40, 2, 0x12, 0x34}},
		{"pubrec v5 success short", codec.TypePubrec, codec.Success, codec.V5, []byte{0x50, 2, 0x12, 0x34}},
		{"pubcomp v5 with reason", codec.TypePubcomp, codec.PacketIdentifierNotFound, codec.V5, []byte{0x70, 3, 0x12, 0x34, 0x92}},
	}
	for _, tt := range tests {
		if got := codec.AppendAck(nil, tt.t, 0x1234, tt.reason, tt.v); !bytes.Equal(got, tt.want) {
			t.Errorf("%s: got % x, want % x", tt.name, got, tt.want)
		}
	}
}

// TestDecodeWrongType checks that a Decode method refuses a header of another packet type
// instead of misreading the body.
func TestDecodeWrongType(t *testing.T) {
	h := codec.FixedHeader{Type: codec.TypeSubscribe, Flags: 2, Remaining: 2, Size: 2}
	body := []byte{0, 1}
	decoders := []interface {
		Decode(codec.FixedHeader, []byte, codec.Version) error
	}{&codec.Connect{}, &codec.Connack{}, &codec.Publish{}, &codec.Ack{}, &codec.Suback{}, &codec.Unsubscribe{},
		&codec.Unsuback{}, &codec.Disconnect{}, &codec.Auth{}}
	for _, d := range decoders {
		if err := d.Decode(h, body, codec.V5); err != codec.ErrWrongType {
			t.Errorf("%T.Decode(SUBSCRIBE header) = %v", d, err)
		}
	}
}

// TestEveryErrorHasAFixture keeps the fixture table honest: each error a peer could provoke on the
// wire is shown by at least one fixture.
func TestEveryErrorHasAFixture(t *testing.T) {
	seen := map[*codec.Error]bool{}
	for _, f := range codectest.All() {
		if f.Err != nil {
			seen[f.Err] = true
		}
	}
	all := []*codec.Error{
		codec.ErrPacketTooLarge, codec.ErrMalformedRemainingLength, codec.ErrRemainingLengthNotMinimal,
		codec.ErrReservedType, codec.ErrReservedFlags, codec.ErrQoS3, codec.ErrDupQoS0, codec.ErrPacketLength,
		codec.ErrTruncated, codec.ErrTrailingBytes, codec.ErrAuthV3, codec.ErrMalformedVarint, codec.ErrBadUTF8,
		codec.ErrNullInString, codec.ErrPacketIDZero, codec.ErrProtocolName, codec.ErrProtocolVersion,
		codec.ErrConnectReservedFlag, codec.ErrWillFlags, codec.ErrWillQoS3, codec.ErrPasswordWithoutUsername,
		codec.ErrAuthDataWithoutMethod, codec.ErrConnackReservedFlags, codec.ErrSessionPresentOnError,
		codec.ErrTopicWildcard, codec.ErrTopicEmpty, codec.ErrNoSubscriptions, codec.ErrNoUnsubscriptions,
		codec.ErrFilterEmpty, codec.ErrSubOptions, codec.ErrSubQoS3, codec.ErrRetainHandling, codec.ErrNoLocalShared,
		codec.ErrReasonCode, codec.ErrNoReasons, codec.ErrPropertyNotAllowed, codec.ErrUnknownProperty,
		codec.ErrDuplicateProperty, codec.ErrPropertyLength, codec.ErrPropertyBoolean, codec.ErrReceiveMaximumZero,
		codec.ErrMaximumPacketSizeZero, codec.ErrSubscriptionIDZero, codec.ErrTopicAliasZero, codec.ErrResponseTopic,
	}
	// Not on the wire: ErrPacketTooLarge depends on the server's limit (TestPeek), ErrWrongType on
	// API misuse (TestDecodeWrongType), ErrSubIDFromClient on the sender (TestCheckFromClient),
	// ErrPayloadFormat on the receiver's choice (TestCheckPayloadFormat).
	for _, e := range all {
		if e.Code == 0 || e.Rule == "" || e.Msg == "" {
			t.Errorf("%v: incomplete error value", e)
		}
		if !seen[e] && e != codec.ErrPacketTooLarge {
			t.Errorf("no fixture shows %q", e.Error())
		}
	}
}
