package codec_test

import (
	"bytes"
	"testing"

	paho "github.com/eclipse/paho.golang/packets"
	mochi "github.com/mochi-mqtt/server/v2/packets"

	"loopmq/codec"
)

// The same packets as bench_test.go through the peers; BenchmarkDecode and BenchmarkEncode run
// these right after loopmq's own sub-benchmark for each case.
// paho.golang speaks only MQTT 5, so it is measured on the MQTT 5 encoding of each packet (one
// byte longer: an empty property length).

func decodeMochi(b *testing.B, c benchCase) {
	raw := c.raw
	var r bytes.Reader
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		pk := mochi.Packet{ProtocolVersion: byte(c.v)}
		if err := pk.FixedHeader.Decode(raw[0]); err != nil {
			b.Fatal(err)
		}
		r.Reset(raw[1:])
		n, bu, err := mochi.DecodeLength(&r)
		if err != nil {
			b.Fatal(err)
		}
		pk.FixedHeader.Remaining = n
		if err := mochiDecode(&pk, raw[1+bu:]); err != nil {
			b.Fatal(err)
		}
	}
}

func decodePaho(b *testing.B, c benchCase) {
	raw := pahoRaw(c)
	var r bytes.Reader
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(raw)
		if _, err := paho.ReadPacket(&r); err != nil {
			b.Fatal(err)
		}
	}
}

func encodeMochi(b *testing.B, c benchCase) {
	pk := toMochi(c)
	var buf bytes.Buffer
	b.SetBytes(int64(len(c.raw)))
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := mochiEncode(&pk, &buf); err != nil {
			b.Fatal(err)
		}
	}
	if c.p != nil && !bytes.Equal(buf.Bytes(), c.raw) {
		b.Fatalf("mochi wrote % x, want % x", buf.Bytes(), c.raw)
	}
}

func encodePaho(b *testing.B, c benchCase) {
	var cp *paho.ControlPacket
	if c.p == nil {
		cp = paho.NewControlPacket(paho.PINGREQ)
	} else {
		cp = toPahoV5(c.p)
	}
	var buf bytes.Buffer
	b.SetBytes(int64(len(pahoRaw(c))))
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if _, err := cp.WriteTo(&buf); err != nil {
			b.Fatal(err)
		}
	}
}

// pahoRaw is the MQTT 5 encoding of the case's packet.
func pahoRaw(c benchCase) []byte {
	switch p := c.p.(type) {
	case nil:
		return c.raw
	case *codec.Connect:
		q := *p
		q.Version = codec.V5
		return q.Append(nil, codec.V5)
	case interface {
		Append([]byte, codec.Version) []byte
	}:
		return p.Append(nil, codec.V5)
	}
	return nil
}

func mochiDecode(pk *mochi.Packet, body []byte) error {
	switch pk.FixedHeader.Type {
	case mochi.Connect:
		return pk.ConnectDecode(body)
	case mochi.Publish:
		return pk.PublishDecode(body)
	case mochi.Puback:
		return pk.PubackDecode(body)
	case mochi.Subscribe:
		return pk.SubscribeDecode(body)
	case mochi.Pingreq:
		return pk.PingreqDecode(body)
	}
	panic("mochiDecode: packet type not in the benchmark")
}

func mochiEncode(pk *mochi.Packet, buf *bytes.Buffer) error {
	switch pk.FixedHeader.Type {
	case mochi.Connect:
		return pk.ConnectEncode(buf)
	case mochi.Publish:
		return pk.PublishEncode(buf)
	case mochi.Puback:
		return pk.PubackEncode(buf)
	case mochi.Subscribe:
		return pk.SubscribeEncode(buf)
	case mochi.Pingreq:
		return pk.PingreqEncode(buf)
	}
	panic("mochiEncode: packet type not in the benchmark")
}

func toMochiProps(p *codec.Properties) mochi.Properties {
	mp := mochi.Properties{
		PayloadFormat: p.PayloadFormat, PayloadFormatFlag: p.Has(codec.PropPayloadFormat),
		MessageExpiryInterval: p.MessageExpiry, ContentType: string(p.ContentType),
		SessionExpiryInterval: p.SessionExpiry, SessionExpiryIntervalFlag: p.Has(codec.PropSessionExpiry),
		ReceiveMaximum: p.ReceiveMaximum,
	}
	for _, u := range p.User {
		mp.User = append(mp.User, mochi.UserProperty{Key: string(u.Key), Val: string(u.Value)})
	}
	return mp
}

func toMochi(c benchCase) mochi.Packet {
	pk := mochi.Packet{ProtocolVersion: byte(c.v)}
	switch p := c.p.(type) {
	case nil:
		pk.FixedHeader.Type = mochi.Pingreq
	case *codec.Connect:
		pk.FixedHeader.Type = mochi.Connect
		pk.Properties = toMochiProps(&p.Props)
		pk.Connect = mochi.ConnectParams{ProtocolName: []byte("MQTT"), Clean: p.CleanStart, Keepalive: p.KeepAlive,
			ClientIdentifier: string(p.ClientID), UsernameFlag: p.UsernameFlag, Username: p.Username,
			PasswordFlag: p.PasswordFlag, Password: p.Password}
	case *codec.Publish:
		pk.FixedHeader = mochi.FixedHeader{Type: mochi.Publish, Qos: p.QoS, Retain: p.Retain, Dup: p.Dup}
		pk.TopicName, pk.PacketID, pk.Payload = string(p.Topic), p.PacketID, p.Payload
		pk.Properties = toMochiProps(&p.Props)
	case *codec.Ack:
		pk.FixedHeader.Type = mochi.Puback
		pk.PacketID, pk.ReasonCode = p.PacketID, byte(p.Reason)
	case *codec.Subscribe:
		pk.FixedHeader = mochi.FixedHeader{Type: mochi.Subscribe, Qos: 1}
		pk.PacketID = p.PacketID
		for _, s := range p.Subs {
			pk.Filters = append(pk.Filters, mochi.Subscription{Filter: string(s.Filter), Qos: s.QoS})
		}
	}
	return pk
}
