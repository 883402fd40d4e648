package codec_test

import (
	"bytes"
	"testing"

	"loopmq/codec"
)

// benchCase is one packet measured through loopmq's codec and, with the functions of
// peers_bench_test.go, through mochi-mqtt's and paho.golang's packets, as sub-benchmarks
// case/loopmq, case/mochi and case/paho.
type benchCase struct {
	name string
	v    codec.Version
	p    any // *codec.Connect, *codec.Publish, ...
	raw  []byte
}

var (
	payload16  = bytes.Repeat([]byte("p"), 16)
	payload1K  = bytes.Repeat([]byte("p"), 1024)
	payload64K = bytes.Repeat([]byte("p"), 64*1024)
	// payload64B makes the whole QoS 1 PUBLISH 64 bytes: 2 (fixed header) + 2+18 (topic) + 2 (id) + 40.
	payload40 = bytes.Repeat([]byte("p"), 40)
	topic     = []byte("sensors/room1/temp")
)

func benchCases() []benchCase {
	cs := []benchCase{
		{name: "connect-v311", v: codec.V311, p: &codec.Connect{Version: codec.V311, CleanStart: true, KeepAlive: 60,
			ClientID: []byte("device-000123"), UsernameFlag: true, Username: []byte("user"), PasswordFlag: true, Password: []byte("secret")}},
		{name: "connect-v5", v: codec.V5, p: &codec.Connect{Version: codec.V5, CleanStart: true, KeepAlive: 60,
			Props:    codec.Properties{Present: 1<<codec.PropSessionExpiry | 1<<codec.PropReceiveMaximum, SessionExpiry: 300, ReceiveMaximum: 32},
			ClientID: []byte("device-000123"), UsernameFlag: true, Username: []byte("user"), PasswordFlag: true, Password: []byte("secret")}},
		{name: "publish-qos1-64B-packet", v: codec.V311, p: &codec.Publish{QoS: 1, Topic: topic, PacketID: 7, Payload: payload40}},
	}
	for _, qos := range []byte{0, 1, 2} {
		for _, pl := range []struct {
			name string
			b    []byte
		}{{"16B", payload16}, {"1KiB", payload1K}, {"64KiB", payload64K}} {
			cs = append(cs, benchCase{name: "publish-qos" + string('0'+qos) + "-" + pl.name, v: codec.V311,
				p: &codec.Publish{QoS: qos, Topic: topic, PacketID: 7, Payload: pl.b}})
		}
	}
	cs = append(cs,
		benchCase{name: "publish-v5-props-qos1-16B", v: codec.V5, p: &codec.Publish{QoS: 1, Topic: topic, PacketID: 7, Payload: payload16,
			Props: codec.Properties{Present: 1<<codec.PropPayloadFormat | 1<<codec.PropMessageExpiry | 1<<codec.PropContentType,
				PayloadFormat: 1, MessageExpiry: 3600, ContentType: []byte("application/json"),
				User: []codec.UserProperty{{Key: []byte("trace"), Value: []byte("abc123")}}}}},
		benchCase{name: "puback-v311", v: codec.V311, p: &codec.Ack{Type: codec.TypePuback, PacketID: 7}},
		benchCase{name: "puback-v5-reason", v: codec.V5, p: &codec.Ack{Type: codec.TypePuback, PacketID: 7, Reason: codec.QuotaExceeded}},
		benchCase{name: "subscribe-v311-5filters", v: codec.V311, p: subscribe5()},
		benchCase{name: "subscribe-v5-5filters", v: codec.V5, p: subscribe5()},
		benchCase{name: "pingreq", v: codec.V311, p: nil},
	)
	for i := range cs {
		if cs[i].p == nil {
			cs[i].raw = codec.AppendPingreq(nil)
			continue
		}
		cs[i].raw = cs[i].p.(interface {
			Append([]byte, codec.Version) []byte
		}).Append(nil, cs[i].v)
	}
	return cs
}

func subscribe5() *codec.Subscribe {
	return &codec.Subscribe{PacketID: 9, Subs: []codec.Subscription{
		{Filter: []byte("home/+/temperature"), QoS: 1}, {Filter: []byte("home/+/humidity"), QoS: 1},
		{Filter: []byte("alerts/#"), QoS: 2}, {Filter: []byte("devices/abc/cmd"), QoS: 1}, {Filter: []byte("$SYS/#")}}}
}

// BenchmarkDecode measures Peek plus Decode into a struct reused across iterations, as a server
// reuses one per event loop.
func BenchmarkDecode(b *testing.B) {
	for _, c := range benchCases() {
		b.Run(c.name+"/loopmq", func(b *testing.B) {
			var d codec.Decoder
			raw := c.raw
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				h, _, err := codec.Peek(raw, 0)
				if err != nil {
					b.Fatal(err)
				}
				if h.Type == codec.TypePingreq {
					continue
				}
				if err := d.Decode(h, raw[h.Size:h.Len()], c.v); err != nil {
					b.Fatal(err)
				}
			}
		})
		// The peers right after, so that all three see the same load on a shared machine.
		b.Run(c.name+"/mochi", func(b *testing.B) { decodeMochi(b, c) })
		b.Run(c.name+"/paho", func(b *testing.B) { decodePaho(b, c) })
	}
}

// BenchmarkEncode measures appending the whole packet to a reused buffer.
func BenchmarkEncode(b *testing.B) {
	for _, c := range benchCases() {
		b.Run(c.name+"/loopmq", func(b *testing.B) {
			buf := make([]byte, 0, len(c.raw))
			b.SetBytes(int64(len(c.raw)))
			b.ReportAllocs()
			if c.p == nil {
				for b.Loop() {
					buf = codec.AppendPingreq(buf[:0])
				}
				return
			}
			p := c.p.(interface {
				Append([]byte, codec.Version) []byte
			})
			for b.Loop() {
				buf = p.Append(buf[:0], c.v)
			}
		})
		b.Run(c.name+"/mochi", func(b *testing.B) { encodeMochi(b, c) })
		b.Run(c.name+"/paho", func(b *testing.B) { encodePaho(b, c) })
	}
}

// BenchmarkForward measures the fan-out path: the head of a v5 PUBLISH with forwarded properties
// and per-subscriber ones, and patching a packet id in an encoded packet.
func BenchmarkForward(b *testing.B) {
	pub := benchCases()
	var raw []byte
	for _, c := range pub {
		if c.name == "publish-v5-props-qos1-16B" {
			raw = c.raw
		}
	}
	h, _, _ := codec.Peek(raw, 0)
	var p codec.Publish
	if err := p.Decode(h, raw[h.Size:], codec.V5); err != nil {
		b.Fatal(err)
	}
	b.Run("FilterForwardProps", func(b *testing.B) {
		buf := make([]byte, 0, 256)
		b.ReportAllocs()
		for b.Loop() {
			buf = codec.FilterForwardProps(buf[:0], p.Props.Raw)
		}
	})
	fwd := codec.FilterForwardProps(nil, p.Props.Raw)
	x := &codec.ForwardProps{MessageExpiry: 3000, HasMessageExpiry: true, TopicAlias: 4, SubscriptionIDs: []uint32{12}}
	b.Run("AppendPublishHead-v5", func(b *testing.B) {
		buf := make([]byte, 0, 256)
		b.ReportAllocs()
		for b.Loop() {
			buf = codec.AppendPublishHead(buf[:0], codec.V5, codec.PublishFlags(false, 1, false), p.Topic, 99, fwd, x, len(p.Payload))
		}
	})
	b.Run("SetPublishPacketID", func(b *testing.B) {
		pkt := bytes.Clone(raw)
		b.ReportAllocs()
		id := uint16(0)
		for b.Loop() {
			id++
			codec.SetPublishPacketID(pkt, id|1)
		}
	})
	b.Run("ValidUTF8String-64B", func(b *testing.B) {
		s := []byte("sensors/building-7/floor-3/room-12/temperature/celsius/current1")
		b.SetBytes(int64(len(s)))
		b.ReportAllocs()
		for b.Loop() {
			if codec.ValidUTF8String(s) != nil {
				b.Fatal("invalid")
			}
		}
	})
}

// BenchmarkPeek measures Peek alone on a 64-byte QoS 1 PUBLISH.
func BenchmarkPeek(b *testing.B) {
	raw := (&codec.Publish{QoS: 1, Topic: topic, PacketID: 7, Payload: payload40}).Append(nil, codec.V311)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := codec.Peek(raw, 1<<20); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPublishDecode measures Publish.Decode alone on the body of a 64-byte QoS 1 PUBLISH.
func BenchmarkPublishDecode(b *testing.B) {
	for _, v := range []codec.Version{codec.V311, codec.V5} {
		b.Run(v.String(), func(b *testing.B) {
			raw := (&codec.Publish{QoS: 1, Topic: topic, PacketID: 7, Payload: payload40}).Append(nil, v)
			h, _, _ := codec.Peek(raw, 0)
			body := raw[h.Size:h.Len()]
			var p codec.Publish
			b.ReportAllocs()
			for b.Loop() {
				if err := p.Decode(h, body, v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEncodeHead measures what a server does per subscriber when it fans a PUBLISH out: the
// head (fixed header, topic, packet id, properties) is appended and the payload, shared by every
// subscriber, is sent after it without being copied (writev). Its cost does not grow with the payload.
func BenchmarkEncodeHead(b *testing.B) {
	for _, c := range benchCases() {
		p, ok := c.p.(*codec.Publish)
		if !ok {
			continue
		}
		b.Run(c.name+"/loopmq", func(b *testing.B) {
			buf := make([]byte, 0, 256)
			fwd := codec.FilterForwardProps(nil, p.Props.Raw)
			flags := p.Flags()
			b.ReportAllocs()
			for b.Loop() {
				buf = codec.AppendPublishHead(buf[:0], c.v, flags, p.Topic, p.PacketID, fwd, nil, len(p.Payload))
			}
		})
	}
}
