package codec_test

import (
	"testing"

	"loopmq/codec"
)

func BenchmarkScratchPeek(b *testing.B) {
	raw := (&codec.Publish{QoS: 1, Topic: topic, PacketID: 7, Payload: payload40}).Append(nil, codec.V311)
	for b.Loop() {
		codec.Peek(raw, 0)
	}
}

func BenchmarkScratchDecodeOnly(b *testing.B) {
	raw := (&codec.Publish{QoS: 1, Topic: topic, PacketID: 7, Payload: payload40}).Append(nil, codec.V311)
	h, _, _ := codec.Peek(raw, 0)
	var p codec.Publish
	body := raw[h.Size:]
	for b.Loop() {
		p.Decode(h, body, codec.V311)
	}
}

func BenchmarkScratchValid(b *testing.B) {
	for b.Loop() {
		codec.ValidUTF8String(topic)
	}
}

func BenchmarkScratchPeekDecode(b *testing.B) {
	raw := (&codec.Publish{QoS: 1, Topic: topic, PacketID: 7, Payload: payload40}).Append(nil, codec.V311)
	var p codec.Publish
	for b.Loop() {
		h, _, _ := codec.Peek(raw, 0)
		p.Decode(h, raw[h.Size:h.Len()], codec.V311)
	}
}

func BenchmarkScratchDecodeOnly2(b *testing.B) {
	raw := (&codec.Publish{QoS: 1, Topic: topic, PacketID: 7, Payload: payload40}).Append(nil, codec.V311)
	h, _, _ := codec.Peek(raw, 0)
	p := new(codec.Publish)
	for b.Loop() {
		p.Decode(h, raw[h.Size:h.Len()], codec.V311)
	}
}
