package codec_test

import (
	"errors"
	"fmt"

	"loopmq/codec"
)

// A server loop: decode what is in the buffer, answer, and keep the partial packet at the end.
func ExampleDecoder_Next() {
	in := []byte{
		0x32, 0x0A, 0x00, 0x03, 'a', '/', 'b', 0x00, 0x07, 'h', 'i', '!', // PUBLISH QoS 1, id 7
		0xC0, 0x00, // PINGREQ
		0x30, 0x05, 0x00, 0x03, // the first 4 bytes of a QoS 0 PUBLISH
	}
	var d codec.Decoder
	var out []byte
	for {
		h, need, err := d.Next(in, codec.V311, 1<<20)
		if err != nil {
			var e *codec.Error
			errors.As(err, &e)
			fmt.Println("close:", e.Code)
			return
		}
		if need > 0 {
			fmt.Printf("%d bytes kept, %d more needed\n", len(in), need)
			break
		}
		switch h.Type {
		case codec.TypePublish:
			fmt.Printf("PUBLISH %s %q\n", d.Publish.Topic, d.Publish.Payload)
			out = codec.AppendAck(out, codec.TypePuback, d.Publish.PacketID, codec.Success, codec.V311)
		case codec.TypePingreq:
			out = codec.AppendPingresp(out)
		}
		in = in[h.Len():]
	}
	fmt.Printf("answer % x\n", out)
	// Output:
	// PUBLISH a/b "hi!"
	// 4 bytes kept, 3 more needed
	// answer 40 02 00 07 d0 00
}

// Encoding a PUBLISH once and patching the packet identifier for each subscriber.
func ExampleSetPublishPacketID() {
	p := codec.Publish{QoS: 1, Topic: []byte("t"), PacketID: 1, Payload: []byte("x")}
	pkt := p.Append(nil, codec.V311)
	for _, id := range []uint16{10, 11} {
		codec.SetPublishPacketID(pkt, id)
		fmt.Printf("% x\n", pkt)
	}
	// Output:
	// 32 06 00 01 74 00 0a 78
	// 32 06 00 01 74 00 0b 78
}
