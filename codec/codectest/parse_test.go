package codectest

import (
	"testing"

	"loopmq/codec"
)

func TestParseWholePacketsOnly(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"one whole packet", []byte{0xC0, 0x00}, nil},
		{"two packets", []byte{0xC0, 0x00, 0xC0, 0x00}, codec.ErrTrailingBytes},
		{"half a packet", []byte{0x40, 0x02, 0x00}, codec.ErrTruncated},
		{"bad first byte", []byte{0x00, 0x00}, codec.ErrReservedType},
	}
	for _, tt := range tests {
		if _, err := Parse(tt.in, codec.V311); err != tt.want {
			t.Errorf("%s: Parse(% x) error %v, want %v", tt.name, tt.in, err, tt.want)
		}
	}
}

func TestEqual(t *testing.T) {
	a := &codec.Publish{Topic: []byte("t"), Props: codec.Properties{Raw: []byte{1}}}
	tests := []struct {
		name string
		b    any
		want bool
	}{
		{"nil and empty slices alike, Raw ignored", &codec.Publish{Topic: []byte("t"), Payload: []byte{}}, true},
		{"different topic", &codec.Publish{Topic: []byte("u")}, false},
		{"different type", &codec.Ack{}, false},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		if got := Equal(a, tt.b); got != tt.want {
			t.Errorf("%s: Equal = %v", tt.name, got)
		}
	}
}
