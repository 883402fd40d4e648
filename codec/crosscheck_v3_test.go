package codec_test

import (
	"bytes"
	"testing"

	paho3 "github.com/eclipse/paho.mqtt.golang/packets"

	"loopmq/codec"
	"loopmq/codec/codectest"
)

// The cross-checks against github.com/eclipse/paho.mqtt.golang/packets (MQTT 3.1 and 3.1.1), the
// same two directions as for MQTT 5.

func TestCrossCheckPahoV3(t *testing.T) {
	for _, f := range codectest.All() {
		if f.Err != nil || f.Version == codec.V5 {
			continue
		}
		t.Run(f.Name, func(t *testing.T) {
			ours := codectest.Append(nil, f.Packet, f.Version)
			cp, err := paho3.ReadPacket(bytes.NewReader(ours))
			if err != nil {
				t.Fatalf("paho cannot read our % x: %v", ours, err)
			}
			if got := fromPahoV3(cp); !codectest.Equal(got, f.Packet) {
				t.Errorf("paho read our % x as\n%+v\nwant\n%+v", ours, got, f.Packet)
			}

			var buf bytes.Buffer
			if err := toPahoV3(f.Packet).Write(&buf); err != nil {
				t.Fatal(err)
			}
			got, err := codectest.Parse(buf.Bytes(), f.Version)
			if err != nil {
				t.Fatalf("we cannot read paho's % x: %v", buf.Bytes(), err)
			}
			if !codectest.Equal(got, f.Packet) {
				t.Errorf("we read paho's % x as\n%+v\nwant\n%+v", buf.Bytes(), got, f.Packet)
			}
		})
	}
}

func fromPahoV3(cp paho3.ControlPacket) any {
	switch c := cp.(type) {
	case *paho3.ConnectPacket:
		p := &codec.Connect{ProtocolName: []byte(c.ProtocolName), Version: codec.Version(c.ProtocolVersion),
			CleanStart: c.CleanSession, KeepAlive: c.Keepalive, ClientID: []byte(c.ClientIdentifier),
			WillFlag: c.WillFlag, WillQoS: c.WillQos, WillRetain: c.WillRetain,
			UsernameFlag: c.UsernameFlag, PasswordFlag: c.PasswordFlag, Password: c.Password}
		if c.WillFlag {
			p.WillTopic, p.WillPayload = []byte(c.WillTopic), c.WillMessage
		}
		if c.UsernameFlag {
			p.Username = []byte(c.Username)
		}
		return p
	case *paho3.ConnackPacket:
		return &codec.Connack{SessionPresent: c.SessionPresent, Reason: codec.ReasonCode(c.ReturnCode)}
	case *paho3.PublishPacket:
		return &codec.Publish{Dup: c.Dup, QoS: c.Qos, Retain: c.Retain, Topic: []byte(c.TopicName), PacketID: c.MessageID, Payload: c.Payload}
	case *paho3.PubackPacket:
		return &codec.Ack{Type: codec.TypePuback, PacketID: c.MessageID}
	case *paho3.PubrecPacket:
		return &codec.Ack{Type: codec.TypePubrec, PacketID: c.MessageID}
	case *paho3.PubrelPacket:
		return &codec.Ack{Type: codec.TypePubrel, PacketID: c.MessageID}
	case *paho3.PubcompPacket:
		return &codec.Ack{Type: codec.TypePubcomp, PacketID: c.MessageID}
	case *paho3.SubscribePacket:
		p := &codec.Subscribe{PacketID: c.MessageID}
		for i, f := range c.Topics {
			p.Subs = append(p.Subs, codec.Subscription{Filter: []byte(f), QoS: c.Qoss[i]})
		}
		return p
	case *paho3.SubackPacket:
		p := &codec.Suback{PacketID: c.MessageID}
		for _, r := range c.ReturnCodes {
			p.Reasons = append(p.Reasons, codec.ReasonCode(r))
		}
		return p
	case *paho3.UnsubscribePacket:
		p := &codec.Unsubscribe{PacketID: c.MessageID}
		for _, f := range c.Topics {
			p.Filters = append(p.Filters, []byte(f))
		}
		return p
	case *paho3.UnsubackPacket:
		return &codec.Unsuback{PacketID: c.MessageID}
	case *paho3.PingreqPacket:
		return &codectest.Ping{Type: codec.TypePingreq}
	case *paho3.PingrespPacket:
		return &codectest.Ping{Type: codec.TypePingresp}
	case *paho3.DisconnectPacket:
		return &codec.Disconnect{}
	}
	return nil
}

func toPahoV3(p any) paho3.ControlPacket {
	switch p := p.(type) {
	case *codec.Connect:
		c := paho3.NewControlPacket(paho3.Connect).(*paho3.ConnectPacket)
		c.ProtocolName, c.ProtocolVersion, c.CleanSession, c.Keepalive = string(p.ProtocolName), byte(p.Version), p.CleanStart, p.KeepAlive
		c.ClientIdentifier, c.WillFlag, c.WillQos, c.WillRetain = string(p.ClientID), p.WillFlag, p.WillQoS, p.WillRetain
		c.WillTopic, c.WillMessage = string(p.WillTopic), p.WillPayload
		c.UsernameFlag, c.Username, c.PasswordFlag, c.Password = p.UsernameFlag, string(p.Username), p.PasswordFlag, p.Password
		return c
	case *codec.Connack:
		c := paho3.NewControlPacket(paho3.Connack).(*paho3.ConnackPacket)
		c.SessionPresent, c.ReturnCode = p.SessionPresent, byte(p.Reason)
		return c
	case *codec.Publish:
		c := paho3.NewControlPacket(paho3.Publish).(*paho3.PublishPacket)
		c.Dup, c.Qos, c.Retain, c.TopicName, c.MessageID, c.Payload = p.Dup, p.QoS, p.Retain, string(p.Topic), p.PacketID, p.Payload
		return c
	case *codec.Ack:
		switch c := paho3.NewControlPacket(byte(p.Type)).(type) {
		case *paho3.PubackPacket:
			c.MessageID = p.PacketID
			return c
		case *paho3.PubrecPacket:
			c.MessageID = p.PacketID
			return c
		case *paho3.PubrelPacket:
			c.MessageID = p.PacketID
			return c
		case *paho3.PubcompPacket:
			c.MessageID = p.PacketID
			return c
		}
	case *codec.Subscribe:
		c := paho3.NewControlPacket(paho3.Subscribe).(*paho3.SubscribePacket)
		c.MessageID = p.PacketID
		for _, s := range p.Subs {
			c.Topics = append(c.Topics, string(s.Filter))
			c.Qoss = append(c.Qoss, s.QoS)
		}
		return c
	case *codec.Suback:
		c := paho3.NewControlPacket(paho3.Suback).(*paho3.SubackPacket)
		c.MessageID = p.PacketID
		for _, r := range p.Reasons {
			c.ReturnCodes = append(c.ReturnCodes, byte(r))
		}
		return c
	case *codec.Unsubscribe:
		c := paho3.NewControlPacket(paho3.Unsubscribe).(*paho3.UnsubscribePacket)
		c.MessageID = p.PacketID
		for _, f := range p.Filters {
			c.Topics = append(c.Topics, string(f))
		}
		return c
	case *codec.Unsuback:
		c := paho3.NewControlPacket(paho3.Unsuback).(*paho3.UnsubackPacket)
		c.MessageID = p.PacketID
		return c
	case *codectest.Ping:
		return paho3.NewControlPacket(byte(p.Type))
	case *codec.Disconnect:
		return paho3.NewControlPacket(paho3.Disconnect)
	}
	return nil
}
