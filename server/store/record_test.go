package store

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

var messages = []Message{
	{Topic: []byte("a/b"), Payload: []byte("hello"), QoS: 1},
	{Topic: []byte("sensors/1/temp"), Props: []byte{0x03, 0x00, 0x04, 't', 'e', 'x', 't'}, Payload: []byte{}, QoS: 2, Retain: true, Expiry: 1_700_000_000_123_456_789},
	{Topic: []byte("x"), QoS: 0, Expiry: -1},
	{Topic: []byte{}, Payload: bytes.Repeat([]byte{0xAB}, 70000)},
}

var sessions = []Session{
	{Protocol: 4, Interval: 0xFFFFFFFF},
	{Protocol: 5, Interval: 3600, Deadline: 1_800_000_000_000_000_000,
		HasWill: true, Will: Will{Topic: []byte("dead/1"), Props: []byte{0x01, 0x01}, Payload: []byte("bye"), QoS: 1, Retain: true, Delay: 30},
		Subs: []Subscription{{Filter: []byte("a/+"), Options: 0x01}, {Filter: []byte("$share/g/#"), Options: 0x2E, ID: 268435455}}},
	{Protocol: 3, Subs: []Subscription{{Filter: []byte("#"), Options: 2}}},
}

func TestMessageRoundTrip(t *testing.T) {
	for i, m := range messages {
		enc := m.AppendTo([]byte("prefix"))
		var got Message
		if err := got.Decode(enc[len("prefix"):]); err != nil {
			t.Fatalf("%d: decode: %v", i, err)
		}
		if !bytes.Equal(got.Topic, m.Topic) || !bytes.Equal(got.Props, m.Props) || !bytes.Equal(got.Payload, m.Payload) ||
			got.QoS != m.QoS || got.Retain != m.Retain || got.Expiry != m.Expiry {
			t.Errorf("%d: got %+v, want %+v", i, got, m)
		}
	}
}

func TestSessionRoundTrip(t *testing.T) {
	for i, s := range sessions {
		enc := s.AppendTo(nil)
		got := Session{Subs: make([]Subscription, 5)} // reused, must be truncated
		if err := got.Decode(enc); err != nil {
			t.Fatalf("%d: decode: %v", i, err)
		}
		if s.Subs == nil {
			s.Subs = []Subscription{}
		}
		norm := func(x *Session) {
			for j := range x.Subs {
				if x.Subs[j].Filter == nil {
					x.Subs[j].Filter = []byte{}
				}
			}
		}
		norm(&s)
		norm(&got)
		if !s.HasWill {
			s.Will = Will{}
		}
		if !reflect.DeepEqual(fillNil(got), fillNil(s)) {
			t.Errorf("%d: got %+v, want %+v", i, got, s)
		}
	}
}

// fillNil turns nil byte slices of a will into empty ones so DeepEqual compares content.
func fillNil(s Session) Session {
	for _, p := range []*[]byte{&s.Will.Topic, &s.Will.Props, &s.Will.Payload} {
		if *p == nil && s.HasWill {
			*p = []byte{}
		}
	}
	return s
}

func TestQueuedInflightRoundTrip(t *testing.T) {
	qs := []Queued{
		{MessageID: 1, QoS: 1},
		{MessageID: 1 << 60, QoS: 2, Retain: true, SubIDs: []uint32{1, 268435455}},
	}
	for i, q := range qs {
		var got Queued
		if err := got.Decode(q.AppendTo(nil)); err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		if got.MessageID != q.MessageID || got.QoS != q.QoS || got.Retain != q.Retain || !reflect.DeepEqual(append([]uint32{}, got.SubIDs...), append([]uint32{}, q.SubIDs...)) {
			t.Errorf("queued %d: got %+v, want %+v", i, got, q)
		}
		f := Inflight{PacketID: 9, Seq: uint64(i) * 1000, State: InflightState(1 + i), Queued: q}
		var gf Inflight
		if err := gf.Decode(f.AppendTo(nil)); err != nil {
			t.Fatalf("inflight %d: %v", i, err)
		}
		gf.PacketID = 9
		if gf.Seq != f.Seq || gf.State != f.State || gf.MessageID != f.MessageID || gf.QoS != f.QoS || len(gf.SubIDs) != len(f.SubIDs) {
			t.Errorf("inflight %d: got %+v, want %+v", i, gf, f)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	good := messages[1].AppendTo(nil)
	cases := map[string][]byte{
		"empty":            {},
		"version 2":        append([]byte{2}, good[1:]...),
		"qos 3":            {1, 3, 0, 0},
		"unknown flag":     {1, 0x40, 0, 0},
		"topic too long":   {1, 0, 5, 'a'},
		"truncated expiry": {1, flagHasExpiry, 0x80},
	}
	for name, b := range cases {
		var m Message
		if err := m.Decode(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("message %s: err %v, want ErrCorrupt", name, err)
		}
	}
	sess := sessions[1].AppendTo(nil)
	for n := range len(sess) {
		var s Session
		if err := s.Decode(sess[:n]); !errors.Is(err, ErrCorrupt) {
			t.Errorf("session truncated to %d bytes: err %v, want ErrCorrupt", n, err)
		}
	}
	if err := new(Session).Decode(append(sess, 0)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("session with a trailing byte: err %v", err)
	}
	if err := new(Inflight).Decode([]byte{1, 3, 0, 1, 1, 0}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("inflight state 3: err %v", err)
	}
	if err := decodeInbound([]byte{1, 0}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("inbound with a trailing byte: err %v", err)
	}
}

func TestKeyLayout(t *testing.T) {
	cid := []byte("dev-1")
	for _, c := range []struct {
		key  []byte
		want sessionKey
	}{
		{appendSessionKey(nil, cid), sessionKey{clientID: cid, kind: kindSession}},
		{appendInboundKey(nil, cid, 7), sessionKey{clientID: cid, kind: kindInbound, packetID: 7}},
		{appendInflightKey(nil, cid, 0xFFFF), sessionKey{clientID: cid, kind: kindInflight, packetID: 0xFFFF}},
		{appendQueuedKey(nil, cid, 1<<40), sessionKey{clientID: cid, kind: kindQueued, seq: 1 << 40}},
	} {
		got, err := parseSessionKey(c.key)
		if err != nil || !bytes.Equal(got.clientID, c.want.clientID) || got.kind != c.want.kind || got.packetID != c.want.packetID || got.seq != c.want.seq {
			t.Errorf("parse %q = %+v, %v; want %+v", c.key, got, err, c.want)
		}
	}
	// Queue keys sort by seq, and one client's keys never interleave with another's.
	if bytes.Compare(appendQueuedKey(nil, cid, 255), appendQueuedKey(nil, cid, 256)) >= 0 {
		t.Error("queue keys do not sort by seq")
	}
	a, b := []byte("a"), []byte("a\x00")
	if bytes.Compare(appendQueuedKey(nil, a, 1<<63), appendSessionKey(nil, b)) >= 0 {
		t.Error("client a's keys run into client a\\x00's")
	}
	if bytes.Compare(appendSessionKey(nil, cid), appendInboundKey(nil, cid, 0)) >= 0 {
		t.Error("session record does not sort first")
	}
	for _, bad := range [][]byte{{'s'}, {'s', 0, 5, 'a'}, append(appendSessionKey(nil, cid), 1), append(appendSessionPrefix(nil, cid), 'z')} {
		if _, err := parseSessionKey(bad); !errors.Is(err, ErrCorrupt) {
			t.Errorf("parse %q: err %v", bad, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, m := range messages[:3] {
		f.Add(m.AppendTo(nil))
	}
	for _, s := range sessions {
		f.Add(s.AppendTo(nil))
	}
	f.Add((&Queued{MessageID: 5, SubIDs: []uint32{3}}).AppendTo(nil))
	f.Add((&Inflight{Seq: 4, State: Sent, Queued: Queued{MessageID: 5, QoS: 2}}).AppendTo(nil))
	f.Add(appendQueuedKey(nil, []byte("c"), 3))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Message
		if m.Decode(b) == nil {
			var again Message
			if err := again.Decode(m.AppendTo(nil)); err != nil || !bytes.Equal(again.Payload, m.Payload) || again.Expiry != m.Expiry {
				t.Fatalf("message re-encoding does not round-trip: %v", err)
			}
		}
		var s Session
		if s.Decode(b) == nil {
			if enc := s.AppendTo(nil); !bytes.Equal(enc, b) {
				var again Session
				if err := again.Decode(enc); err != nil || len(again.Subs) != len(s.Subs) {
					t.Fatalf("session re-encoding does not round-trip: %v", err)
				}
			}
		}
		var q Queued
		_ = q.Decode(b)
		var fl Inflight
		_ = fl.Decode(b)
		_ = decodeInbound(b)
		_, _ = parseSessionKey(b)
	})
}
