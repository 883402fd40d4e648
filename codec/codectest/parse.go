// Package codectest holds the byte-exact MQTT packet fixtures shared by the codec's tests, fuzz
// seeds and the server's tests, and small helpers to parse and compare packets in tests.
package codectest

import (
	"reflect"

	"loopmq/codec"
)

// Ping stands for a decoded PINGREQ or PINGRESP, which have no fields.
type Ping struct{ Type codec.Type }

// Parse decodes the one whole packet in b for version v into a new struct of its type (*codec.Connect,
// *codec.Publish, *codec.Ack, ..., or *Ping). It returns codec.ErrTrailingBytes if b holds more than
// one packet and codec.ErrTruncated if it holds less. Tests use it; the server decodes into reused
// structs instead.
func Parse(b []byte, v codec.Version) (any, error) {
	h, need, err := codec.Peek(b, 0)
	if err != nil {
		return nil, err
	}
	if need > 0 {
		return nil, codec.ErrTruncated
	}
	if h.Len() != len(b) {
		return nil, codec.ErrTrailingBytes
	}
	body := b[h.Size:h.Len()]
	var p interface {
		Decode(codec.FixedHeader, []byte, codec.Version) error
	}
	switch h.Type {
	case codec.TypeConnect:
		p = new(codec.Connect)
	case codec.TypeConnack:
		p = new(codec.Connack)
	case codec.TypePublish:
		p = new(codec.Publish)
	case codec.TypePuback, codec.TypePubrec, codec.TypePubrel, codec.TypePubcomp:
		p = new(codec.Ack)
	case codec.TypeSubscribe:
		p = new(codec.Subscribe)
	case codec.TypeSuback:
		p = new(codec.Suback)
	case codec.TypeUnsubscribe:
		p = new(codec.Unsubscribe)
	case codec.TypeUnsuback:
		p = new(codec.Unsuback)
	case codec.TypeDisconnect:
		p = new(codec.Disconnect)
	case codec.TypeAuth:
		p = new(codec.Auth)
	case codec.TypePingreq, codec.TypePingresp:
		return &Ping{h.Type}, nil
	}
	return p, p.Decode(h, body, v)
}

// Append encodes a packet returned by Parse (or built by hand) for version v.
func Append(dst []byte, p any, v codec.Version) []byte {
	switch p := p.(type) {
	case *Ping:
		if p.Type == codec.TypePingresp {
			return codec.AppendPingresp(dst)
		}
		return codec.AppendPingreq(dst)
	case interface {
		Append([]byte, codec.Version) []byte
	}:
		return p.Append(dst, v)
	}
	panic("codectest.Append: not a packet")
}

// Equal reports whether two packets have the same meaning: it compares field by field, treats nil
// and empty slices alike, and ignores Properties.Raw (a view of the received bytes).
func Equal(a, b any) bool {
	return equal(reflect.ValueOf(a), reflect.ValueOf(b))
}

func equal(a, b reflect.Value) bool {
	if a.IsValid() != b.IsValid() {
		return false
	}
	if !a.IsValid() {
		return true
	}
	if a.Type() != b.Type() {
		return false
	}
	switch a.Kind() {
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return equal(a.Elem(), b.Elem())
	case reflect.Struct:
		for i := 0; i < a.NumField(); i++ {
			if a.Type().Field(i).Name == "Raw" {
				continue
			}
			if !equal(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Slice:
		if a.Len() != b.Len() {
			return false
		}
		for i := 0; i < a.Len(); i++ {
			if !equal(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	}
	return a.Interface() == b.Interface()
}
