package codec_test

import (
	"bytes"
	"testing"

	"loopmq/codec"
	"loopmq/codec/codectest"
)

func fixture(t testing.TB, name string) codectest.Fixture {
	t.Helper()
	for _, f := range codectest.All() {
		if f.Name == name {
			return f
		}
	}
	t.Fatalf("no fixture %q", name)
	return codectest.Fixture{}
}

func TestForwardV5(t *testing.T) {
	f := fixture(t, "publish v5 QoS 1 with every publish property")
	in, err := codectest.Parse(f.Raw, codec.V5)
	if err != nil {
		t.Fatal(err)
	}
	pub := in.(*codec.Publish)
	fwd := codec.FilterForwardProps(nil, pub.Props.Raw)

	tests := []struct {
		name string
		x    *codec.ForwardProps
		qos  byte
		want codec.Properties
	}{
		{"no per-subscriber properties", nil, 0, codec.Properties{}},
		{"expiry, alias and two subscription ids", &codec.ForwardProps{MessageExpiry: 12, HasMessageExpiry: true,
			TopicAlias: 7, SubscriptionIDs: []uint32{0, 3, 300}}, 1,
			codec.Properties{MessageExpiry: 12, TopicAlias: 7, SubscriptionIDs: []uint32{3, 300}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := codec.AppendPublishForward([]byte("prefix"), codec.V5, codec.PublishFlags(false, tt.qos, true),
				pub.Topic, 99, fwd, tt.x, pub.Payload)
			got, err := codectest.Parse(b[len("prefix"):], codec.V5)
			if err != nil {
				t.Fatalf("forwarded packet % x: %v", b, err)
			}
			out := got.(*codec.Publish)
			want := tt.want
			// What FilterForwardProps keeps: everything but alias, subscription ids and expiry.
			want.PayloadFormat, want.ContentType, want.ResponseTopic = 1, pub.Props.ContentType, pub.Props.ResponseTopic
			want.CorrelationData, want.User = pub.Props.CorrelationData, pub.Props.User
			want.Present = out.Props.Present // compared through the fields
			for _, id := range []codec.PropID{codec.PropPayloadFormat, codec.PropContentType, codec.PropResponseTopic,
				codec.PropCorrelationData, codec.PropUser} {
				if !out.Props.Has(id) {
					t.Errorf("property %#x lost", id)
				}
			}
			if out.Props.Has(codec.PropMessageExpiry) != (tt.x != nil) || out.Props.Has(codec.PropTopicAlias) != (tt.x != nil) {
				t.Errorf("present bits %b", out.Props.Present)
			}
			if !codectest.Equal(out.Props, want) {
				t.Errorf("properties\n got %+v\nwant %+v", out.Props, want)
			}
			if !bytes.Equal(out.Topic, pub.Topic) || !bytes.Equal(out.Payload, pub.Payload) || !out.Retain || out.QoS != tt.qos {
				t.Errorf("got %+v", out)
			}
			if tt.qos > 0 && out.PacketID != 99 {
				t.Errorf("packet id %d", out.PacketID)
			}
		})
	}
}

func TestFilterForwardPropsKeepsOthersUnchanged(t *testing.T) {
	raw := []byte{0x23, 0, 5, 0x26, 0, 1, 'k', 0, 1, 'v', 0x0B, 0x80, 0x01, 0x01, 1, 0x02, 0, 0, 0, 9}
	got := codec.FilterForwardProps([]byte{0xAA}, raw)
	want := []byte{0xAA, 0x26, 0, 1, 'k', 0, 1, 'v', 0x01, 1}
	if !bytes.Equal(got, want) {
		t.Errorf("got % x, want % x", got, want)
	}
	if got := codec.FilterForwardProps(nil, []byte{0x01, 1, 0x03, 0, 9}); !bytes.Equal(got, []byte{0x01, 1}) {
		t.Errorf("truncated block: got % x", got)
	}
}

func TestAppendPublishHeadV3(t *testing.T) {
	payload := []byte("payload")
	head := codec.AppendPublishHead(nil, codec.V311, codec.PublishFlags(true, 2, false), []byte("a/b"), 5,
		[]byte{1, 1}, &codec.ForwardProps{TopicAlias: 3}, len(payload))
	want := codectest.Append(nil, &codec.Publish{Dup: true, QoS: 2, Topic: []byte("a/b"), PacketID: 5, Payload: payload}, codec.V311)
	if got := append(head, payload...); !bytes.Equal(got, want) {
		t.Errorf("got % x, want % x", got, want)
	}
}

func TestPatchPublish(t *testing.T) {
	for _, v := range []codec.Version{codec.V311, codec.V5} {
		big := bytes.Repeat([]byte("x"), 300) // a two-byte remaining length
		p := &codec.Publish{QoS: 1, Topic: []byte("t/long/topic"), PacketID: 1, Payload: big}
		b := p.Append(nil, v)
		if !codec.SetPublishPacketID(b, 0xBEEF) || !codec.SetPublishDup(b, true) {
			t.Fatalf("v%v: patch refused", v)
		}
		got, err := codectest.Parse(b, v)
		if err != nil {
			t.Fatal(err)
		}
		if q := got.(*codec.Publish); q.PacketID != 0xBEEF || !q.Dup || !bytes.Equal(q.Payload, big) {
			t.Errorf("v%v: got id %x dup %v", v, q.PacketID, q.Dup)
		}
		codec.SetPublishDup(b, false)
		if b[0]&0x08 != 0 {
			t.Errorf("DUP not cleared")
		}
	}
	qos0 := (&codec.Publish{Topic: []byte("t")}).Append(nil, codec.V311)
	before := bytes.Clone(qos0)
	if codec.SetPublishPacketID(qos0, 1) || codec.SetPublishDup(qos0, true) || !bytes.Equal(qos0, before) {
		t.Errorf("QoS 0 packet was patched: % x", qos0)
	}
	if codec.PublishPacketIDOffset([]byte{0x40, 2, 0, 1}) != -1 || codec.PublishPacketIDOffset([]byte{0x32, 5, 0, 9}) != -1 {
		t.Errorf("offset found in a non-PUBLISH or truncated packet")
	}
}

func TestFilterWillPropsDropsDelayAndExpiry(t *testing.T) {
	var c codec.Connect
	c.Version, c.ProtocolName, c.CleanStart, c.ClientID = codec.V5, []byte("MQTT"), true, []byte("w")
	c.WillFlag, c.WillTopic, c.WillPayload = true, []byte("w/t"), []byte("bye")
	p := &c.WillProps
	p.WillDelay, p.MessageExpiry, p.PayloadFormat, p.ContentType = 30, 60, 1, []byte("text/plain")
	p.User = []codec.UserProperty{{Key: []byte("k"), Value: []byte("v")}}
	for _, id := range []codec.PropID{codec.PropWillDelay, codec.PropMessageExpiry, codec.PropPayloadFormat,
		codec.PropContentType, codec.PropUser} {
		p.Set(id)
	}
	b := c.Append(nil, codec.V5)
	in, err := codectest.Parse(b, codec.V5)
	if err != nil {
		t.Fatalf("% x: %v", b, err)
	}
	raw := in.(*codec.Connect).WillProps.Raw
	got := codec.FilterWillProps([]byte{0xAA}, raw)
	if got[0] != 0xAA {
		t.Fatalf("dst prefix lost: % x", got)
	}
	// What stays must be a valid PUBLISH property block with exactly the kept properties.
	pub := codec.AppendPublishForward(nil, codec.V5, codec.PublishFlags(false, 0, false), []byte("w/t"), 0, got[1:], nil, []byte("bye"))
	out, err := codectest.Parse(pub, codec.V5)
	if err != nil {
		t.Fatalf("will PUBLISH % x: %v", pub, err)
	}
	op := out.(*codec.Publish).Props
	if op.Has(codec.PropWillDelay) || op.Has(codec.PropMessageExpiry) {
		t.Errorf("kept will delay or expiry: present %b", op.Present)
	}
	if !op.Has(codec.PropPayloadFormat) || string(op.ContentType) != "text/plain" || len(op.User) != 1 ||
		string(op.User[0].Key) != "k" || string(op.User[0].Value) != "v" {
		t.Errorf("lost a property: %+v", op)
	}
}
