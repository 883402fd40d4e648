package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cockroachdb/pebble"
)

// Visitor receives the store's contents during Load. Every argument, and every slice inside
// it, is valid only during the call: copy what you keep. A nil field skips that kind. An error
// returned by a visitor stops Load and is returned by it.
type Visitor struct {
	// Retained receives each live retained message.
	Retained func(m *Message) error
	// Message receives each live message body before any session; queue and inflight entries
	// refer to bodies by id.
	Message func(id uint64, m *Message) error
	// Session receives each live session with its subscriptions, then that session's inbound
	// QoS 2 packet ids, its inflight window in send order and its queue in order.
	Session  func(s *Session) error
	Inbound  func(clientID []byte, packetID uint16) error
	Inflight func(clientID []byte, f *Inflight) error
	Queued   func(clientID []byte, seq uint64, q *Queued) error
}

// LoadStats report what Load found and what it dropped.
type LoadStats struct {
	Retained, Messages, Sessions, Subscriptions, Inbound, Inflight, Queued int

	ExpiredRetained int // retained messages past their expiry, deleted
	ExpiredMessages int // bodies past their expiry and not in flight, deleted
	OrphanMessages  int // bodies no entry refers to, deleted
	ExpiredSessions int // sessions past their deadline, deleted with everything under them
	DroppedQueued   int // queue entries whose body expired or is missing, deleted
	OrphanEntries   int // client ids with entries but no session record, deleted
	MaxMessageID    uint64
	Duration        time.Duration
}

// body is what Load knows of a message id: who refers to it and whether it was emitted.
type body uint8

const (
	bodyQueued   body = 1 << iota // a queue entry of a live session refers to it
	bodyInflight                  // a Sent inflight entry refers to it: kept even when expired
	bodyLive                      // emitted through Visitor.Message
	bodyExpired                   // expired, emitted only for the inflight entries
)

// Load streams the store's contents through v in an order the broker rebuilds from: retained
// messages, message bodies, then session by session its record, inbound ids, inflight window
// and queue. It drops, and deletes from the store, what is dead at now: expired sessions with
// everything under them, expired retained messages, expired bodies (except those already in
// flight: their delivery has started and completes) with the queue entries that refer to them, and
// bodies no one refers to. Run Load once at start, before NewCommitter. It reads every live
// key, so a corrupt table surfaces here as an error wrapping ErrCorrupt or pebble's
// corruption error.
func (s *Store) Load(now time.Time, v Visitor) (LoadStats, error) {
	start := time.Now()
	var st LoadStats
	nowNs := now.UnixNano()
	dead := s.db.NewBatch()
	defer dead.Close()

	// Pass 1: which bodies do live sessions refer to, and how.
	refs := make(map[uint64]body)
	err := s.scanSessions(func(it *pebble.Iterator, k sessionKey) (skip bool, err error) {
		switch k.kind {
		case kindSession:
			var sess Session
			if err := sess.Decode(it.Value()); err != nil {
				return false, keyError(it.Key(), err)
			}
			return sess.Expired(nowNs), nil
		case kindQueued:
			var q Queued
			if err := q.Decode(it.Value()); err != nil {
				return false, keyError(it.Key(), err)
			}
			refs[q.MessageID] |= bodyQueued
		case kindInflight:
			var f Inflight
			if err := f.Decode(it.Value()); err != nil {
				return false, keyError(it.Key(), err)
			}
			if f.State == Sent {
				refs[f.MessageID] |= bodyInflight
			}
		}
		return false, nil
	}, func([]byte) error { return nil })
	if err != nil {
		return st, err
	}

	// Retained messages.
	var m Message
	err = s.scan([]byte{prefixRetained}, func(it *pebble.Iterator) error {
		if err := m.Decode(it.Value()); err != nil {
			return keyError(it.Key(), err)
		}
		if m.Expired(nowNs) {
			st.ExpiredRetained++
			return dead.Delete(it.Key(), nil)
		}
		st.Retained++
		if v.Retained != nil {
			return v.Retained(&m)
		}
		return nil
	})
	if err != nil {
		return st, err
	}

	// Pass 2: bodies.
	err = s.scan([]byte{prefixMessage}, func(it *pebble.Iterator) error {
		key := it.Key()
		if len(key) != 9 {
			return keyError(key, fmt.Errorf("%w: message key of %d bytes", ErrCorrupt, len(key)))
		}
		id := binary.BigEndian.Uint64(key[1:])
		st.MaxMessageID = max(st.MaxMessageID, id)
		r := refs[id]
		if r == 0 {
			st.OrphanMessages++
			return dead.Delete(key, nil)
		}
		if err := m.Decode(it.Value()); err != nil {
			return keyError(key, err)
		}
		if m.Expired(nowNs) {
			if r&bodyInflight == 0 {
				st.ExpiredMessages++
				return dead.Delete(key, nil)
			}
			r |= bodyExpired
		}
		refs[id] = r | bodyLive
		st.Messages++
		if v.Message != nil {
			return v.Message(id, &m)
		}
		return nil
	})
	if err != nil {
		return st, err
	}

	// Pass 3: sessions, in key order; each session's inflight window is sorted by Seq.
	var (
		sess      Session
		live      bool
		window    []Inflight
		windowCID []byte
	)
	flush := func() error {
		if len(window) == 0 {
			return nil
		}
		slices.SortFunc(window, func(a, b Inflight) int { return cmpUint64(a.Seq, b.Seq) })
		for i := range window {
			if v.Inflight != nil {
				if err := v.Inflight(windowCID, &window[i]); err != nil {
					return err
				}
			}
		}
		window = window[:0]
		return nil
	}
	var q Queued
	err = s.scanSessions(func(it *pebble.Iterator, k sessionKey) (bool, error) {
		if k.kind != kindInflight {
			if err := flush(); err != nil {
				return false, err
			}
		}
		switch k.kind {
		case kindSession:
			if err := sess.Decode(it.Value()); err != nil {
				return false, keyError(it.Key(), err)
			}
			sess.ClientID = k.clientID
			live = !sess.Expired(nowNs)
			if !live {
				st.ExpiredSessions++
				prefix := it.Key()[:len(it.Key())-1]
				return true, dead.DeleteRange(prefix, prefixEnd(prefix), nil)
			}
			st.Sessions++
			st.Subscriptions += len(sess.Subs)
			if v.Session != nil {
				return false, v.Session(&sess)
			}
		case kindInbound:
			if err := decodeInbound(it.Value()); err != nil {
				return false, keyError(it.Key(), err)
			}
			st.Inbound++
			if v.Inbound != nil {
				return false, v.Inbound(k.clientID, k.packetID)
			}
		case kindInflight:
			var f Inflight
			if err := f.Decode(it.Value()); err != nil {
				return false, keyError(it.Key(), err)
			}
			if f.State == Sent && refs[f.MessageID]&bodyLive == 0 {
				return false, keyError(it.Key(), fmt.Errorf("%w: inflight message %d has no body", ErrCorrupt, f.MessageID))
			}
			f.PacketID = k.packetID
			f.SubIDs = slices.Clone(f.SubIDs)
			windowCID = k.clientID
			window = append(window, f)
			st.Inflight++
		case kindQueued:
			if err := q.Decode(it.Value()); err != nil {
				return false, keyError(it.Key(), err)
			}
			if refs[q.MessageID]&(bodyLive|bodyExpired) != bodyLive {
				st.DroppedQueued++
				return false, dead.Delete(it.Key(), nil)
			}
			st.Queued++
			if v.Queued != nil {
				return false, v.Queued(k.clientID, k.seq, &q)
			}
		}
		return false, nil
	}, func(prefix []byte) error {
		if err := flush(); err != nil {
			return err
		}
		st.OrphanEntries++
		return dead.DeleteRange(prefix, prefixEnd(prefix), nil)
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return st, err
	}
	if !dead.Empty() {
		if err := s.commitBatch(dead, pebble.Sync); err != nil {
			return st, fmt.Errorf("store %s: delete expired entries: %w", s.dir, err)
		}
	}
	st.Duration = time.Since(start)
	return st, nil
}

func cmpUint64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// scan calls fn for every key starting with prefix, in order.
func (s *Store) scan(prefix []byte, fn func(*pebble.Iterator) error) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return fmt.Errorf("store %s: %w", s.dir, err)
	}
	for it.First(); it.Valid(); it.Next() {
		if err := fn(it); err != nil {
			it.Close()
			return err
		}
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return openError(s.dir, fmt.Errorf("read: %w", err))
	}
	return nil
}

// scanSessions calls fn for every key under prefixSession; when fn returns skip, the rest of
// that session's keys are skipped. Keys of a client id without a session record (which a
// broker that deletes sessions with DeleteSession never leaves) are passed to orphan instead,
// once per client id, and skipped.
func (s *Store) scanSessions(fn func(*pebble.Iterator, sessionKey) (skip bool, err error), orphan func(prefix []byte) error) error {
	prefix := []byte{prefixSession}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return fmt.Errorf("store %s: %w", s.dir, err)
	}
	var cur []byte // client id of the last session record
	for valid := it.First(); valid; {
		k, err := parseSessionKey(it.Key())
		if err == nil && k.kind != kindSession && !bytes.Equal(k.clientID, cur) {
			prefix := it.Key()[:3+len(k.clientID)]
			if err = orphan(prefix); err == nil {
				valid = it.SeekGE(prefixEnd(prefix))
				continue
			}
		} else if err == nil {
			if k.kind == kindSession {
				cur = append(cur[:0], k.clientID...)
			}
			var skip bool
			skip, err = fn(it, k)
			if err == nil && skip {
				valid = it.SeekGE(prefixEnd(it.Key()[:3+len(k.clientID)]))
				continue
			}
		} else {
			err = keyError(it.Key(), err)
		}
		if err != nil {
			it.Close()
			return err
		}
		valid = it.Next()
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return openError(s.dir, fmt.Errorf("read: %w", err))
	}
	return nil
}

// keyError names the key a decoding error was found under.
func keyError(key []byte, err error) error {
	if !errors.Is(err, ErrCorrupt) {
		return err
	}
	return fmt.Errorf("key %q: %w", bytes.Clone(key), err)
}
