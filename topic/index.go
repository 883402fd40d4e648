package topic

import (
	"bytes"
	"hash/maphash"
	"sync"
	"sync/atomic"
)

const (
	exactShards = 256 // power of two: filters without wildcards, by hash of the whole filter
	wildStripes = 64  // power of two: wildcard filters, by hash of their first level
)

// Index holds every subscription of the broker and answers, for a topic name, who is subscribed. It is safe for
// concurrent use: Subscribe, Unsubscribe and Match may be called from any number of goroutines.
//
// Filters without wildcards live in a hash map split into shards with a lock each; filters with wildcards live in
// tries split into stripes by their first level, plus one stripe for filters that begin with '+' or '#'. A Match
// takes the read lock of one exact shard, one stripe and the wildcard-first stripe, each only while it copies
// entries out of that part, and skips parts that hold no subscription without touching their lock.
type Index struct {
	seed  maphash.Seed
	count atomic.Int64
	exact [exactShards]exactShard
	wild  [wildStripes]stripe
	top   stripe // filters whose first level is '+' or '#'
}

// exactShard is one part of the map of filters without wildcards. Short filters (most device topics) are keyed
// by value: the key sits in the map slot, so a lookup compares it without a cache miss on a separate string, and
// no string is allocated per filter.
type exactShard struct {
	mu     sync.RWMutex
	short  map[shortKey]exactSubs // filters of up to shortKeyLen bytes → ordinary subscriptions
	long   map[string]exactSubs   // longer filters → ordinary subscriptions
	groups map[string]groupSet    // filter → shared groups; nil until the first shared subscription
	_      [64 - 24 - 24]byte     // keep shards on separate cache lines
}

// shortKeyLen is the longest filter kept in a shortKey.
const shortKeyLen = 31

// shortKey holds a filter of up to shortKeyLen bytes, zero padded, with its length in the last byte.
type shortKey [shortKeyLen + 1]byte

func makeShortKey(f []byte) (k shortKey) {
	copy(k[:shortKeyLen], f)
	k[shortKeyLen] = byte(len(f))
	return k
}

// lookup returns the ordinary subscriptions of the exact filter f.
func (sh *exactShard) lookup(f []byte) (exactSubs, bool) {
	if len(f) <= shortKeyLen {
		e, ok := sh.short[makeShortKey(f)]
		return e, ok
	}
	e, ok := sh.long[string(f)]
	return e, ok
}

// store sets the ordinary subscriptions of f.
func (sh *exactShard) store(f []byte, e exactSubs) {
	if len(f) <= shortKeyLen {
		if sh.short == nil {
			sh.short = make(map[shortKey]exactSubs)
		}
		sh.short[makeShortKey(f)] = e
		return
	}
	if sh.long == nil {
		sh.long = make(map[string]exactSubs)
	}
	sh.long[string(f)] = e
}

// drop deletes the ordinary subscriptions of f.
func (sh *exactShard) drop(f []byte) {
	if len(f) <= shortKeyLen {
		delete(sh.short, makeShortKey(f))
	} else {
		delete(sh.long, string(f))
	}
}

// stripe is one part of the wildcard trie.
type stripe struct {
	mu   sync.RWMutex
	n    atomic.Int64 // subscriptions held; Match skips empty stripes without locking
	root node
}

// node is a level of the wildcard trie. The filter that ends at a node owns its subs and groups; '#' is a node of
// its own (hash) because "a/#" also matches "a" and must be found at a.
type node struct {
	children map[string]*node
	plus     *node
	hash     *node
	subs     subList
	groups   groupSet
}

// New returns an empty Index.
func New() *Index {
	return &Index{seed: maphash.MakeSeed()}
}

// Len returns the number of subscriptions in the index, shared group members included.
func (x *Index) Len() int { return int(x.count.Load()) }

// Subscribe adds the subscription s to filter, or replaces the options of s.Subscriber's existing subscription to
// the same filter [MQTT-3.8.4-3]; existed reports which (it drives v5 Retain Handling 1). A filter of the form
// "$share/{group}/{filter}" joins s.Subscriber to that group. An invalid filter is rejected with one of the
// package's *Error values and changes nothing.
func (x *Index) Subscribe(filter []byte, s Subscription) (existed bool, err error) {
	group, inner, shared, err := ParseShared(filter)
	if err != nil {
		return false, err
	}
	s.Opts &= optValid
	if !hasWildcard(inner) {
		existed = x.exactShard(inner).set(inner, group, shared, s)
	} else {
		st, levels := x.stripeFor(inner)
		st.mu.Lock()
		n := st.root.insert(levels)
		if shared {
			existed = n.groups.add(group, s)
		} else {
			existed = n.subs.set(s)
		}
		if !existed {
			st.n.Add(1)
		}
		st.mu.Unlock()
	}
	if !existed {
		x.count.Add(1)
	}
	return existed, nil
}

// Unsubscribe removes id's subscription to filter (which may be a "$share/{group}/{filter}") and reports whether
// there was one. An invalid filter matches no subscription.
func (x *Index) Unsubscribe(filter []byte, id SubscriberID) (existed bool) {
	group, inner, shared, err := ParseShared(filter)
	if err != nil {
		return false
	}
	if !hasWildcard(inner) {
		existed = x.exactShard(inner).remove(inner, group, shared, id)
	} else {
		st, levels := x.stripeFor(inner)
		st.mu.Lock()
		existed, _ = st.root.remove(levels, group, shared, id)
		if existed {
			st.n.Add(-1)
		}
		st.mu.Unlock()
	}
	if existed {
		x.count.Add(-1)
	}
	return existed
}

// Match appends to dst every subscription whose filter matches the topic name and returns the extended slice.
// Each shared group whose filter matches contributes one member, chosen round-robin among those for which skip
// returns false (skip may be nil); such entries have Shared set. A subscriber with several matching filters gets
// several entries: use SortBySubscriber and NextDelivery to turn them into one delivery each [MQTT-3.3.4-2, -3].
// Filters that begin with a wildcard do not match names that begin with '$' [MQTT-4.7.2-1]. skip only steers the
// choice within shared groups: ordinary subscriptions are always returned, since an offline persistent session
// must still queue what it subscribed to. Entries are not filtered by No Local: the broker drops those of the
// publishing session whose Opts.NoLocal() is set [MQTT-3.8.3-3] before grouping them with NextDelivery.
//
// topic must be a valid topic name (see ValidateName). Match does not allocate when dst has room for the result.
func (x *Index) Match(topic []byte, dst []Subscription, skip func(SubscriberID) bool) []Subscription {
	sh := &x.exact[maphash.Bytes(x.seed, topic)&(exactShards-1)]
	sh.mu.RLock()
	if e, ok := sh.lookup(topic); ok {
		dst = e.appendTo(dst)
	}
	if len(sh.groups) > 0 {
		dst = sh.groups[string(topic)].pickAll(dst, skip)
	}
	sh.mu.RUnlock()

	first, rest, more := cutLevel(topic)
	if st := &x.wild[maphash.Bytes(x.seed, first)&(wildStripes-1)]; st.n.Load() > 0 {
		st.mu.RLock()
		if n := st.root.children[string(first)]; n != nil {
			dst = n.match(rest, more, dst, skip)
		}
		st.mu.RUnlock()
	}
	if len(topic) > 0 && topic[0] == '$' {
		return dst // [MQTT-4.7.2-1]
	}
	if st := &x.top; st.n.Load() > 0 {
		st.mu.RLock()
		if n := st.root.hash; n != nil {
			dst = n.appendAll(dst, skip)
		}
		if n := st.root.plus; n != nil {
			dst = n.match(rest, more, dst, skip)
		}
		st.mu.RUnlock()
	}
	return dst
}

// match appends the subscriptions of the filters at or below n that match the rest of a topic name. more reports
// whether rest holds another level (it may be empty: "a/" has an empty last level).
func (n *node) match(rest []byte, more bool, dst []Subscription, skip func(SubscriberID) bool) []Subscription {
	if n.hash != nil {
		dst = n.hash.appendAll(dst, skip) // "a/#" matches "a" and everything below it
	}
	if !more {
		return n.appendAll(dst, skip)
	}
	level, rest, more := cutLevel(rest)
	if c := n.children[string(level)]; c != nil {
		dst = c.match(rest, more, dst, skip)
	}
	if n.plus != nil {
		dst = n.plus.match(rest, more, dst, skip)
	}
	return dst
}

// appendAll appends the node's own subscriptions and one member of each of its groups.
func (n *node) appendAll(dst []Subscription, skip func(SubscriberID) bool) []Subscription {
	dst = n.subs.appendTo(dst)
	return n.groups.pickAll(dst, skip)
}

// exactShard returns the shard holding the wildcard-free filter f.
func (x *Index) exactShard(f []byte) *exactShard {
	return &x.exact[maphash.Bytes(x.seed, f)&(exactShards-1)]
}

// set adds s to filter f (to its shared group when shared) and reports whether it existed.
func (sh *exactShard) set(f, group []byte, shared bool, s Subscription) (existed bool) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if shared {
		if sh.groups == nil {
			sh.groups = make(map[string]groupSet)
		}
		gs := sh.groups[string(f)]
		existed = gs.add(group, s)
		sh.groups[string(f)] = gs
		return existed
	}
	e, ok := sh.lookup(f)
	if !ok {
		s.Shared = false
		sh.store(f, exactSubs{one: s})
		return false
	}
	existed = e.set(s)
	sh.store(f, e)
	return existed
}

// remove deletes id's subscription to f (in group when shared) and reports whether it existed.
func (sh *exactShard) remove(f, group []byte, shared bool, id SubscriberID) bool {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if shared {
		gs, ok := sh.groups[string(f)]
		if !ok || !gs.remove(group, id) {
			return false
		}
		if len(gs) == 0 {
			delete(sh.groups, string(f))
		} else {
			sh.groups[string(f)] = gs
		}
		return true
	}
	e, ok := sh.lookup(f)
	if !ok {
		return false
	}
	removed, empty := e.remove(id)
	switch {
	case empty:
		sh.drop(f)
	case removed:
		sh.store(f, e)
	}
	return removed
}

// stripeFor returns the stripe of the wildcard filter f and the levels to insert below its root: the whole
// filter for the wildcard-first stripe, whose root holds '+' and '#' as its own wildcard children, and also the
// whole filter for the others, whose roots are keyed by first level.
func (x *Index) stripeFor(f []byte) (*stripe, []byte) {
	first, _, _ := cutLevel(f)
	if isWildcardLevel(first) {
		return &x.top, f
	}
	return &x.wild[maphash.Bytes(x.seed, first)&(wildStripes-1)], f
}

// insert returns the node for the filter levels below n, creating the path.
func (n *node) insert(levels []byte) *node {
	for {
		level, rest, more := cutLevel(levels)
		var next **node
		switch {
		case len(level) == 1 && level[0] == '+':
			next = &n.plus
		case len(level) == 1 && level[0] == '#':
			next = &n.hash
		default:
			c := n.children[string(level)]
			if c == nil {
				c = &node{}
				if n.children == nil {
					n.children = make(map[string]*node, 1)
				}
				n.children[string(level)] = c
			}
			next = &c
		}
		if *next == nil {
			*next = &node{}
		}
		n = *next
		if !more {
			return n
		}
		levels = rest
	}
}

// remove deletes id's subscription at the filter levels below n, pruning nodes left empty. It reports whether
// a subscription was removed and whether n itself is now empty.
func (n *node) remove(levels, group []byte, shared bool, id SubscriberID) (removed, empty bool) {
	level, rest, more := cutLevel(levels)
	var child *node
	switch {
	case len(level) == 1 && level[0] == '+':
		child = n.plus
	case len(level) == 1 && level[0] == '#':
		child = n.hash
	default:
		child = n.children[string(level)]
	}
	if child == nil {
		return false, false
	}
	var childEmpty bool
	if more {
		removed, childEmpty = child.remove(rest, group, shared, id)
	} else {
		if shared {
			removed = child.groups.remove(group, id)
		} else {
			removed = child.subs.remove(id)
		}
		childEmpty = child.isEmpty()
	}
	if childEmpty {
		switch {
		case len(level) == 1 && level[0] == '+':
			n.plus = nil
		case len(level) == 1 && level[0] == '#':
			n.hash = nil
		default:
			delete(n.children, string(level))
			if len(n.children) == 0 {
				n.children = nil
			}
		}
	}
	return removed, n.isEmpty()
}

// isEmpty reports whether n holds nothing and can be pruned.
func (n *node) isEmpty() bool {
	return len(n.subs.subs) == 0 && len(n.groups) == 0 && len(n.children) == 0 && n.plus == nil && n.hash == nil
}

// hasWildcard reports whether a valid filter contains '+' or '#'.
func hasWildcard(f []byte) bool {
	return bytes.IndexByte(f, '+') >= 0 || bytes.IndexByte(f, '#') >= 0
}

// isWildcardLevel reports whether level is "+" or "#".
func isWildcardLevel(level []byte) bool {
	return len(level) == 1 && (level[0] == '+' || level[0] == '#')
}
