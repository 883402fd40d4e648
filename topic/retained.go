package topic

import (
	"sort"
	"sync"
)

// kidsIndexAbove is the number of children from which a retained-trie node keeps a map from level to child.
const kidsIndexAbove = 8

// Retained stores the retained message of each topic name and walks those matching a filter. M is the broker's
// message type (typically a pointer to a reference-counted message). It is safe for concurrent use.
//
// Walks are resumable: Walk visits at most a given number of messages and returns a Cursor from which the next
// call continues, so that a '#' subscription over a million retained messages is served in bounded batches with
// flow control in between. Messages are visited in a fixed order (a node's own message, then its child levels in
// the order they were first created); a topic that is retained for the whole duration of a resumed walk is
// visited exactly once, one set or deleted meanwhile may or may not be.
type Retained[M any] struct {
	mu   sync.RWMutex
	root rnode[M]
	n    int
	seq  uint64 // creation counter giving every node its place in the walk order
}

// rnode is one level of the retained trie.
type rnode[M any] struct {
	level  string
	parent *rnode[M]
	seq    uint64
	kids   []*rnode[M]          // in creation (seq) order; may hold pruned nodes until the next compaction
	index  map[string]*rnode[M] // level → live child, when there are many children
	pruned int                  // pruned nodes still in kids
	gone   bool                 // pruned from its parent
	has    bool
	msg    M
}

// Cursor is a position in a walk of a Retained store. The zero Cursor starts at the beginning.
type Cursor[M any] struct {
	n *rnode[M]
}

// NewRetained returns an empty retained message store.
func NewRetained[M any]() *Retained[M] {
	return &Retained[M]{}
}

// Len returns the number of retained messages.
func (r *Retained[M]) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.n
}

// Set stores m as the retained message of the topic name, replacing any previous one, which it returns so the
// caller can release it. topic must be a valid topic name. A PUBLISH with RETAIN and an empty payload deletes
// instead [MQTT-3.3.1-6]: call Delete for that.
func (r *Retained[M]) Set(topic []byte, m M) (old M, replaced bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := &r.root
	for more := true; more; {
		var level []byte
		level, topic, more = cutLevel(topic)
		c := n.child(level)
		if c == nil {
			r.seq++
			c = &rnode[M]{level: string(level), parent: n, seq: r.seq}
			n.addKid(c)
		}
		n = c
	}
	old, replaced = n.msg, n.has
	n.msg, n.has = m, true
	if !replaced {
		r.n++
	}
	return old, replaced
}

// Get returns the retained message of the topic name.
func (r *Retained[M]) Get(topic []byte) (m M, ok bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if n := r.find(topic); n != nil && n.has {
		return n.msg, true
	}
	return m, false
}

// Delete removes the retained message of the topic name and returns it so the caller can release it.
func (r *Retained[M]) Delete(topic []byte) (old M, deleted bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.find(topic)
	if n == nil || !n.has {
		return old, false
	}
	old = n.msg
	var zero M
	n.msg, n.has = zero, false
	r.n--
	for n != &r.root && !n.has && n.live() == 0 {
		p := n.parent
		p.removeKid(n)
		n = p
	}
	return old, true
}

// find returns the node of a topic name, or nil.
func (r *Retained[M]) find(topic []byte) *rnode[M] {
	n := &r.root
	for more := true; more && n != nil; {
		var level []byte
		level, topic, more = cutLevel(topic)
		n = n.child(level)
	}
	return n
}

// Walk calls fn for the retained messages whose topic names match filter, starting after cursor c, and stops
// after limit of them (limit <= 0 means no limit) or when fn returns false. It returns the cursor to pass to the next
// call and whether the walk stopped early (more is false once every match has been visited). filter must be a
// valid, non-shared topic filter; filters that begin with a wildcard skip topics that begin with '$'
// [MQTT-4.7.2-1].
//
// fn runs under the store's read lock: it must not call methods of r. The topic slice is valid only during the
// call.
func (r *Retained[M]) Walk(filter []byte, c Cursor[M], limit int, fn func(topic []byte, m M) bool) (next Cursor[M], more bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	w := walker[M]{limit: limit, fn: fn, last: c.n, path: make([]byte, 0, 128)}
	if c.n != nil {
		for n := c.n; n != &r.root && n != nil; n = n.parent {
			w.chain = append(w.chain, n)
		}
		for i, j := 0, len(w.chain)-1; i < j; i, j = i+1, j-1 {
			w.chain[i], w.chain[j] = w.chain[j], w.chain[i]
		}
	}
	w.dollarSafe = len(filter) > 0 && (filter[0] == '+' || filter[0] == '#')
	w.walk(&r.root, 0, filter, c.n != nil)
	return Cursor[M]{w.last}, w.stopped
}

// walker is the state of one Walk.
type walker[M any] struct {
	limit      int
	seen       int
	fn         func([]byte, M) bool
	chain      []*rnode[M] // the cursor's path from the first level down, when resuming
	last       *rnode[M]
	path       []byte
	dollarSafe bool // the filter begins with a wildcard: skip first levels that begin with '$'
	stopped    bool
}

// walk visits the matches of the filter levels rest below n, which sits at depth d. bound reports that n is on
// the cursor's path, so only what comes after the cursor may be visited.
func (w *walker[M]) walk(n *rnode[M], d int, rest []byte, bound bool) {
	level, rest, more := cutLevel(rest)
	switch {
	case len(level) == 1 && level[0] == '#':
		if d > 0 && !bound {
			w.emit(n) // "a/#" matches "a"
		}
		w.subtree(n, d, bound)
	case len(level) == 1 && level[0] == '+':
		w.eachKid(n, d, bound, func(k *rnode[M], kb bool) {
			w.descend(k, d, rest, more, kb)
		})
	default:
		k := n.child(level)
		if k == nil {
			return
		}
		if kb, after := w.position(k, d, bound); kb || after {
			w.descend(k, d, rest, more, kb)
		}
	}
}

// descend continues the walk at child k of a node at depth d.
func (w *walker[M]) descend(k *rnode[M], d int, rest []byte, more, bound bool) {
	mark := len(w.path)
	if d > 0 {
		w.path = append(w.path, '/')
	}
	w.path = append(w.path, k.level...)
	if more {
		w.walk(k, d+1, rest, bound)
	} else if !bound {
		w.emit(k)
	}
	w.path = w.path[:mark]
}

// subtree visits every message strictly below n, in walk order.
func (w *walker[M]) subtree(n *rnode[M], d int, bound bool) {
	w.eachKid(n, d, bound, func(k *rnode[M], kb bool) {
		mark := len(w.path)
		if d > 0 {
			w.path = append(w.path, '/')
		}
		w.path = append(w.path, k.level...)
		if !kb {
			w.emit(k)
		}
		w.subtree(k, d+1, kb)
		w.path = w.path[:mark]
	})
}

// eachKid calls f for the live children of n (at depth d) that may hold matches after the cursor, in walk order,
// telling whether each is on the cursor's path.
func (w *walker[M]) eachKid(n *rnode[M], d int, bound bool, f func(k *rnode[M], bound bool)) {
	kids := n.kids
	if bound && d < len(w.chain) {
		s := w.chain[d].seq
		kids = kids[sort.Search(len(kids), func(i int) bool { return kids[i].seq >= s }):]
	}
	for _, k := range kids {
		if w.stopped {
			return
		}
		if k.gone || (d == 0 && w.dollarSafe && len(k.level) > 0 && k.level[0] == '$') {
			continue
		}
		kb, after := w.position(k, d, bound)
		if kb || after {
			f(k, kb)
		}
	}
}

// position tells whether child k of a node at depth d is on the cursor's path (kb) or entirely after the cursor.
func (w *walker[M]) position(k *rnode[M], d int, bound bool) (kb, after bool) {
	if !bound || d >= len(w.chain) {
		return false, true // a node's children come after the node itself
	}
	switch c := w.chain[d]; {
	case k.seq == c.seq:
		return true, false
	case k.seq > c.seq:
		return false, true
	default:
		return false, false
	}
}

// emit visits n's message if it has one and counts it against the batch size.
func (w *walker[M]) emit(n *rnode[M]) {
	if w.stopped || !n.has {
		return
	}
	w.last = n
	w.seen++
	if !w.fn(w.path, n.msg) || (w.limit > 0 && w.seen >= w.limit) {
		w.stopped = true
	}
}

// child returns the live child of n for level, or nil.
func (n *rnode[M]) child(level []byte) *rnode[M] {
	if n.index != nil {
		return n.index[string(level)]
	}
	for _, k := range n.kids {
		if !k.gone && k.level == string(level) {
			return k
		}
	}
	return nil
}

// live returns the number of live children.
func (n *rnode[M]) live() int { return len(n.kids) - n.pruned }

// addKid appends a new child; its seq is the highest so far, which keeps kids in seq order.
func (n *rnode[M]) addKid(k *rnode[M]) {
	n.kids = append(n.kids, k)
	if n.index != nil {
		n.index[k.level] = k
	} else if n.live() > kidsIndexAbove {
		n.index = make(map[string]*rnode[M], n.live())
		for _, k := range n.kids {
			if !k.gone {
				n.index[k.level] = k
			}
		}
	}
}

// removeKid prunes child k. The slice is compacted once half of it is pruned nodes, so deletes cost O(1)
// amortized and walks in progress (which hold seq positions, not indexes) are not disturbed.
func (n *rnode[M]) removeKid(k *rnode[M]) {
	k.gone = true
	n.pruned++
	if n.index != nil {
		delete(n.index, k.level)
	}
	if n.pruned*2 < len(n.kids) && n.live() > 0 {
		return
	}
	live := n.kids[:0]
	for _, c := range n.kids {
		if !c.gone {
			live = append(live, c)
		}
	}
	clear(n.kids[len(live):])
	n.kids, n.pruned = live, 0
	switch {
	case len(live) == 0:
		n.kids, n.index = nil, nil
	case len(live) <= kidsIndexAbove/2:
		n.index = nil
	}
}
