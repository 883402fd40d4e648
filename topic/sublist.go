package topic

import "sync/atomic"

// indexAbove is the list length from which a subList keeps a map from subscriber to position, so that
// subscribing the 100,000th client to "alerts/#" does not scan the 99,999 before it.
const indexAbove = 16

// subList is the set of subscriptions to one filter, one entry per subscriber. It is guarded by the lock of the
// shard or stripe that holds it: writers change it in place under the write lock, Match copies entries out under
// the read lock.
type subList struct {
	subs []Subscription
	pos  map[SubscriberID]int
}

// find returns the position of id's entry, or -1.
func (l *subList) find(id SubscriberID) int {
	if l.pos != nil {
		if i, ok := l.pos[id]; ok {
			return i
		}
		return -1
	}
	for i := range l.subs {
		if l.subs[i].Subscriber == id {
			return i
		}
	}
	return -1
}

// set adds s or replaces the options of the subscriber's existing entry [MQTT-3.8.4-3], and reports whether an
// entry existed.
func (l *subList) set(s Subscription) (existed bool) {
	s.Shared = false
	if i := l.find(s.Subscriber); i >= 0 {
		l.subs[i] = s
		return true
	}
	if len(l.subs) == 0 {
		l.subs = make([]Subscription, 1) // most filters have one subscriber: no spare capacity
		l.subs[0] = s
		return false
	}
	l.subs = append(l.subs, s)
	switch {
	case l.pos != nil:
		l.pos[s.Subscriber] = len(l.subs) - 1
	case len(l.subs) > indexAbove:
		l.pos = make(map[SubscriberID]int, len(l.subs))
		for i := range l.subs {
			l.pos[l.subs[i].Subscriber] = i
		}
	}
	return false
}

// remove deletes id's entry and reports whether there was one. Order is not kept: the last entry fills the gap.
func (l *subList) remove(id SubscriberID) bool {
	i := l.find(id)
	if i < 0 {
		return false
	}
	last := len(l.subs) - 1
	l.subs[i] = l.subs[last]
	l.subs[last] = Subscription{}
	l.subs = l.subs[:last]
	if l.pos != nil {
		delete(l.pos, id)
		if i != last {
			l.pos[l.subs[i].Subscriber] = i
		}
		if len(l.subs) <= indexAbove/2 {
			l.pos = nil
		}
	}
	switch {
	case last == 0:
		l.subs = nil
	case cap(l.subs) > 32 && last < cap(l.subs)/4:
		l.subs = append([]Subscription(nil), l.subs...) // give memory back after a mass unsubscribe
	}
	return true
}

// appendTo appends every entry to dst.
func (l *subList) appendTo(dst []Subscription) []Subscription {
	return append(dst, l.subs...)
}

// exactSubs is the value of the exact-filter map. Nearly every exact filter (a device's own command topic) has
// one subscriber: it is kept inline, which saves an allocation and a cache miss per Match and keeps an exact
// subscription well under 150 bytes. A map entry always holds at least one subscriber.
type exactSubs struct {
	one  Subscription // the only subscriber, while list is nil
	list *subList     // every subscriber, once there are two or more
}

// set adds s or replaces the options of its subscriber's entry, and reports whether one existed.
func (e *exactSubs) set(s Subscription) (existed bool) {
	s.Shared = false
	if e.list != nil {
		return e.list.set(s)
	}
	if e.one.Subscriber == s.Subscriber {
		e.one = s
		return true
	}
	e.list = &subList{subs: []Subscription{e.one, s}}
	e.one = Subscription{}
	return false
}

// remove deletes id's entry; empty reports that no subscriber is left and the map entry must go.
func (e *exactSubs) remove(id SubscriberID) (removed, empty bool) {
	if e.list == nil {
		if e.one.Subscriber != id {
			return false, false
		}
		return true, true
	}
	if !e.list.remove(id) {
		return false, false
	}
	if len(e.list.subs) == 1 {
		e.one, e.list = e.list.subs[0], nil
	}
	return true, false
}

// appendTo appends every subscription to dst.
func (e *exactSubs) appendTo(dst []Subscription) []Subscription {
	if e.list != nil {
		return e.list.appendTo(dst)
	}
	return append(dst, e.one)
}

// group is one shared subscription group: the members of "$share/{name}/{filter}" for one filter. Groups with the
// same filter and different names are independent.
type group struct {
	name    string
	members subList
	next    atomic.Uint32 // round-robin position, advanced by every Match
}

// pick appends the next member in round-robin order that skip does not reject. When every member is rejected it
// appends the member whose turn it was, so that a message for a group of offline persistent sessions is queued
// in one of them rather than lost; the broker's queue limits still apply.
func (g *group) pick(dst []Subscription, skip func(SubscriberID) bool) []Subscription {
	n := uint32(len(g.members.subs))
	if n == 0 {
		return dst
	}
	start := g.next.Add(1) - 1
	chosen := start % n
	if skip != nil {
		for i := uint32(0); i < n; i++ {
			j := (start + i) % n
			if !skip(g.members.subs[j].Subscriber) {
				chosen = j
				if i > 0 {
					g.next.Add(i) // the skipped members do not get the next turns either
				}
				break
			}
		}
	}
	s := g.members.subs[chosen]
	s.Shared = true
	return append(dst, s)
}

// groupSet is the shared groups of one filter.
type groupSet []*group

// get returns the group called name, or nil.
func (gs groupSet) get(name []byte) *group {
	for _, g := range gs {
		if g.name == string(name) {
			return g
		}
	}
	return nil
}

// add subscribes s to the group called name, creating it, and reports whether s's subscriber was a member.
func (gs *groupSet) add(name []byte, s Subscription) (existed bool) {
	g := gs.get(name)
	if g == nil {
		g = &group{name: string(name)}
		*gs = append(*gs, g)
	}
	return g.members.set(s)
}

// remove unsubscribes id from the group called name, dropping the group when it empties.
func (gs *groupSet) remove(name []byte, id SubscriberID) bool {
	for i, g := range *gs {
		if g.name != string(name) {
			continue
		}
		if !g.members.remove(id) {
			return false
		}
		if len(g.members.subs) == 0 {
			s := *gs
			s[i] = s[len(s)-1]
			s[len(s)-1] = nil
			*gs = s[:len(s)-1]
			if len(*gs) == 0 {
				*gs = nil
			}
		}
		return true
	}
	return false
}

// pickAll appends one member of every group.
func (gs groupSet) pickAll(dst []Subscription, skip func(SubscriberID) bool) []Subscription {
	for _, g := range gs {
		dst = g.pick(dst, skip)
	}
	return dst
}
