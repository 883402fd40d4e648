package store

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// recorder turns a Load into a list of events, copying what the visitor is given.
func recorder(events *[]string) Visitor {
	add := func(format string, args ...any) error {
		*events = append(*events, fmt.Sprintf(format, args...))
		return nil
	}
	return Visitor{
		Retained: func(m *Message) error { return add("retained %s=%s", m.Topic, m.Payload) },
		Message:  func(id uint64, m *Message) error { return add("message %d %s", id, m.Payload) },
		Session: func(s *Session) error {
			var subs []string
			for _, sub := range s.Subs {
				subs = append(subs, fmt.Sprintf("%s/%d/%d", sub.Filter, sub.Options, sub.ID))
			}
			return add("session %s v%d will=%t:%s subs=%s", s.ClientID, s.Protocol, s.HasWill, s.Will.Topic, strings.Join(subs, ","))
		},
		Inbound: func(cid []byte, pid uint16) error { return add("inbound %s %d", cid, pid) },
		Inflight: func(cid []byte, f *Inflight) error {
			return add("inflight %s pid=%d seq=%d state=%d msg=%d", cid, f.PacketID, f.Seq, f.State, f.MessageID)
		},
		Queued: func(cid []byte, seq uint64, q *Queued) error {
			return add("queued %s seq=%d msg=%d qos=%d subids=%v", cid, seq, q.MessageID, q.QoS, q.SubIDs)
		},
	}
}

func TestLoadRebuildOrderAndExpiry(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, Options{Dir: dir})
	c := s.NewCommitter(CommitterOptions{})
	now := time.Unix(1_900_000_000, 0)
	past, future := now.Add(-time.Second).UnixNano(), now.Add(time.Hour).UnixNano()

	b := s.NewBatch()
	b.PutRetained(&Message{Topic: []byte("r/live"), Payload: []byte("1"), Retain: true, Expiry: future})
	b.PutRetained(&Message{Topic: []byte("r/old"), Payload: []byte("2"), Retain: true, Expiry: past})
	b.PutMessage(1, &Message{Topic: []byte("t"), Payload: []byte("m1"), QoS: 1})
	b.PutMessage(2, &Message{Topic: []byte("t"), Payload: []byte("m2"), QoS: 2, Expiry: past}) // expired, in flight for bob
	b.PutMessage(3, &Message{Topic: []byte("t"), Payload: []byte("m3"), QoS: 1, Expiry: past}) // expired, queued only
	b.PutMessage(4, &Message{Topic: []byte("t"), Payload: []byte("m4"), QoS: 1})               // orphan
	b.PutMessage(5, &Message{Topic: []byte("t"), Payload: []byte("m5"), QoS: 1})               // only for the expired session

	bob := []byte("bob")
	b.PutSession(&Session{ClientID: bob, Protocol: 5, Interval: 60, HasWill: true,
		Will: Will{Topic: []byte("w/bob"), Delay: 5},
		Subs: []Subscription{{Filter: []byte("t"), Options: 2, ID: 7}}})
	b.PutInbound(bob, 300)
	// Packet ids wrapped: send order is 65535, 1, 2.
	b.PutInflight(bob, &Inflight{PacketID: 2, Seq: 12, State: PubrecReceived})
	b.PutInflight(bob, &Inflight{PacketID: 65535, Seq: 10, State: Sent, Queued: Queued{MessageID: 2, QoS: 2}})
	b.PutInflight(bob, &Inflight{PacketID: 1, Seq: 11, State: Sent, Queued: Queued{MessageID: 1, QoS: 1}})
	b.Enqueue(bob, 13, &Queued{MessageID: 1, QoS: 1, SubIDs: []uint32{7}})
	b.Enqueue(bob, 14, &Queued{MessageID: 3, QoS: 1})
	b.Enqueue(bob, 15, &Queued{MessageID: 2, QoS: 1}) // body kept for the inflight entry, but expired
	b.Enqueue(bob, 16, &Queued{MessageID: 1, QoS: 0})

	gone := []byte("gone")
	b.PutSession(&Session{ClientID: gone, Protocol: 4, Interval: 10, Deadline: past})
	b.Enqueue(gone, 1, &Queued{MessageID: 5, QoS: 1})
	b.PutInbound(gone, 1)

	b.PutSession(&Session{ClientID: []byte("v3"), Protocol: 4, Interval: 0xFFFFFFFF, Deadline: future})
	b.Enqueue([]byte("nosession"), 1, &Queued{MessageID: 1, QoS: 1})
	commitT(t, c, b)
	c.Close()

	var events []string
	st, err := s.Load(now, recorder(&events))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"retained r/live=1",
		"message 1 m1",
		"message 2 m2",
		"session v3 v4 will=false: subs=", // sessions sort by client id length, then bytes
		"session bob v5 will=true:w/bob subs=t/2/7",
		"inbound bob 300",
		"inflight bob pid=65535 seq=10 state=1 msg=2",
		"inflight bob pid=1 seq=11 state=1 msg=1",
		"inflight bob pid=2 seq=12 state=2 msg=0",
		"queued bob seq=13 msg=1 qos=1 subids=[7]",
		"queued bob seq=16 msg=1 qos=0 subids=[]",
	}
	if !reflect.DeepEqual(events, want) {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(events, "\n"), strings.Join(want, "\n"))
	}
	wantStats := LoadStats{Retained: 1, Messages: 2, Sessions: 2, Subscriptions: 1, Inbound: 1, Inflight: 3, Queued: 2,
		ExpiredRetained: 1, ExpiredMessages: 1, OrphanMessages: 2, ExpiredSessions: 1, DroppedQueued: 2, OrphanEntries: 1, MaxMessageID: 5}
	st.Duration = 0
	if st != wantStats {
		t.Errorf("stats %+v\nwant  %+v", st, wantStats)
	}
	s.Close()

	// What Load dropped is gone from disk: a second Load finds the same live data and nothing to drop.
	s = openT(t, Options{Dir: dir})
	defer s.Close()
	var again []string
	st, err = s.Load(now, recorder(&again))
	if err != nil {
		t.Fatal(err)
	}
	st.Duration = 0
	if !reflect.DeepEqual(again, want) || st != (LoadStats{Retained: 1, Messages: 2, Sessions: 2, Subscriptions: 1, Inbound: 1, Inflight: 3, Queued: 2, MaxMessageID: 2}) {
		t.Errorf("second load: %+v\n%s", st, strings.Join(again, "\n"))
	}
}

func TestDeleteSession(t *testing.T) {
	s := openT(t, Options{})
	defer s.Close()
	c := s.NewCommitter(CommitterOptions{})
	defer c.Close()
	b := s.NewBatch()
	for _, cid := range []string{"a", "ab", "b"} {
		b.PutSession(&Session{ClientID: []byte(cid), Protocol: 5, Interval: 1})
		b.Enqueue([]byte(cid), 1, &Queued{MessageID: 1})
		b.PutInflight([]byte(cid), &Inflight{PacketID: 1, State: PubrecReceived})
		b.PutInbound([]byte(cid), 1)
	}
	b.PutMessage(1, &Message{Topic: []byte("t")})
	commitT(t, c, b)
	b = s.NewBatch()
	b.DeleteSession([]byte("a"))
	commitT(t, c, b)
	var events []string
	st, err := s.Load(time.Now(), recorder(&events))
	if err != nil {
		t.Fatal(err)
	}
	if st.Sessions != 2 || st.Queued != 2 || st.Inflight != 2 || st.Inbound != 2 || st.OrphanEntries != 0 {
		t.Fatalf("after deleting a: %+v\n%s", st, strings.Join(events, "\n"))
	}
	for _, e := range events {
		if strings.Contains(e, " a ") || strings.HasSuffix(e, " a") {
			t.Errorf("session a survived: %s", e)
		}
	}
}

func TestLoadVisitorErrorStops(t *testing.T) {
	s := openT(t, Options{})
	defer s.Close()
	c := s.NewCommitter(CommitterOptions{})
	b := s.NewBatch()
	b.PutRetained(&Message{Topic: []byte("a")})
	b.PutRetained(&Message{Topic: []byte("b")})
	commitT(t, c, b)
	c.Close()
	stop := fmt.Errorf("enough")
	n := 0
	_, err := s.Load(time.Now(), Visitor{Retained: func(*Message) error { n++; return stop }})
	if err != stop || n != 1 {
		t.Fatalf("err %v after %d calls", err, n)
	}
}
