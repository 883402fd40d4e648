package auth

import (
	"bytes"
	"strings"
	"sync"
)

// Rights is what one client may do under an ACL: the client's own section (its user's, or the anonymous
// one) and the patterns with its client identifier and user name filled in. For builds it once per
// connection; the checks then allocate nothing.
//
// A nil *Rights permits everything: it is what a broker without an ACL file uses.
//
// The decision is Mosquitto 2.0's (mosquitto_acl_check_default), taken in this order:
//
//  1. a deny line of the client's section that matches the topic denies;
//  2. a line of the client's section that matches and grants the access permits;
//  3. if the ACL has patterns and the user name or client identifier holds '+' or '#', the client is
//     denied (such a name could widen a pattern);
//  4. a deny pattern that matches denies;
//  5. a pattern that matches and grants the access permits;
//  6. anything else is denied (an empty ACL file denies everything).
//
// So a grant in a user's section wins over a deny pattern, and order within a section does not matter.
type Rights struct {
	deny, grant               []rule // the client's section
	patternDeny, patternGrant []rule // patterns, %c and %u replaced
	unsafeName                bool   // step 3 applies

	cache *decisionCache // only for long rule lists
}

// cacheMin is the rule count from which a client gets a cache of recent decisions: below it a scan is
// as quick as a cache lookup, and a million short-listed clients should not each carry one.
const cacheMin = 32

// For compiles the rights of one client. anonymous is true for a client that sent no user name (user is
// then ignored); an empty user name that was sent is a user name. The result is safe for concurrent use.
func (a *ACL) For(user string, anonymous bool, clientID string) *Rights {
	if a == nil {
		return nil
	}
	r := &Rights{}
	section := a.anonymous
	if !anonymous {
		section = a.users[user]
	}
	for _, x := range section {
		x.literal = literalPrefix(x.filter)
		if x.access == Deny {
			r.deny = append(r.deny, x)
		} else {
			r.grant = append(r.grant, x)
		}
	}
	if len(a.patterns) > 0 {
		r.unsafeName = strings.ContainsAny(clientID, "+#") || (!anonymous && strings.ContainsAny(user, "+#"))
	}
	for _, p := range a.patterns {
		if anonymous && strings.Contains(p.filter, "%u") {
			continue
		}
		x := rule{filter: expand(p.filter, user, anonymous, clientID), access: p.access}
		x.literal = literalPrefix(x.filter)
		if x.access == Deny {
			r.patternDeny = append(r.patternDeny, x)
		} else {
			r.patternGrant = append(r.patternGrant, x)
		}
	}
	if len(r.deny)+len(r.grant)+len(r.patternDeny)+len(r.patternGrant) >= cacheMin {
		r.cache = &decisionCache{}
	}
	return r
}

// expand replaces %c and %u left to right, as Mosquitto does ("%%c" keeps the first '%').
func expand(filter, user string, anonymous bool, clientID string) string {
	if !strings.Contains(filter, "%") {
		return filter
	}
	var b strings.Builder
	for i := 0; i < len(filter); i++ {
		if filter[i] == '%' && i+1 < len(filter) {
			switch {
			case filter[i+1] == 'c':
				b.WriteString(clientID)
				i++
				continue
			case filter[i+1] == 'u' && !anonymous:
				b.WriteString(user)
				i++
				continue
			}
		}
		b.WriteByte(filter[i])
	}
	return b.String()
}

// CanPublish reports whether the client may publish to topic (Mosquitto's MOSQ_ACL_WRITE check,
// including its fixed rules for '$' topics: "$SYS/..." only as "$SYS/broker/connection/+/state",
// never "$share...").
func (r *Rights) CanPublish(topic []byte) bool {
	if r == nil {
		return true
	}
	if bytes.HasPrefix(topic, []byte("$SYS")) {
		if !matchTopic("$SYS/broker/connection/+/state", topic) {
			return false
		}
	} else if bytes.HasPrefix(topic, []byte("$share")) {
		return false
	}
	return r.decideCached(topic, Write)
}

// CanRead reports whether the client may receive a message published to topic: checked for every
// message a subscription delivers, retained ones included, as Mosquitto checks MOSQ_ACL_READ.
func (r *Rights) CanRead(topic []byte) bool {
	if r == nil {
		return true
	}
	if bytes.HasPrefix(topic, []byte("$share")) {
		return false
	}
	return r.decideCached(topic, Read)
}

// CanSubscribe reports whether a subscription to filter could deliver anything: true when some rule
// grants read on topics the filter matches and no single deny rule that takes precedence covers all of
// them. A shared subscription ("$share/group/filter") is judged by its filter.
//
// This is a pre-check that refuses hopeless subscriptions (SUBACK 0x80 / 0x87). Mosquitto 2.0's ACL file
// grants every SUBSCRIBE and filters each message on delivery; the per-message CanRead stays the rule
// that decides, so a granted subscription to "#" still delivers only what the client may read.
func (r *Rights) CanSubscribe(filter []byte) bool {
	if r == nil {
		return true
	}
	f := string(filter)
	if strings.HasPrefix(f, "$share/") {
		_, rest, _ := strings.Cut(f[len("$share/"):], "/")
		f = rest
	}
	if !validFilter(f) {
		return false
	}
	// A grant can deliver the topics its filter shares with f, unless an earlier deny covers them all.
	for _, g := range r.grant {
		if g.access&Read == 0 {
			continue
		}
		if m, ok := meet(g.filter, f); ok && !coveredBy(m, r.deny, nil) {
			return true
		}
	}
	if r.unsafeName {
		return false
	}
	for _, g := range r.patternGrant {
		if g.access&Read == 0 {
			continue
		}
		if m, ok := meet(g.filter, f); ok && !coveredBy(m, r.deny, r.patternDeny) {
			return true
		}
	}
	return false
}

func coveredBy(f string, denies, more []rule) bool {
	for _, d := range denies {
		if covers(d.filter, f) {
			return true
		}
	}
	for _, d := range more {
		if covers(d.filter, f) {
			return true
		}
	}
	return false
}

// decide runs steps 1 to 6 of the Rights doc for one topic.
func (r *Rights) decide(topic []byte, want Access) bool {
	for i := range r.deny {
		if r.deny[i].matches(topic) {
			return false
		}
	}
	for i := range r.grant {
		if r.grant[i].access&want != 0 && r.grant[i].matches(topic) {
			return true
		}
	}
	if r.unsafeName {
		return false
	}
	for i := range r.patternDeny {
		if r.patternDeny[i].matches(topic) {
			return false
		}
	}
	for i := range r.patternGrant {
		if r.patternGrant[i].access&want != 0 && r.patternGrant[i].matches(topic) {
			return true
		}
	}
	return false
}

func (r *Rights) decideCached(topic []byte, want Access) bool {
	if r.cache == nil {
		return r.decide(topic, want)
	}
	if ok, hit := r.cache.get(topic, want); hit {
		return ok
	}
	ok := r.decide(topic, want)
	r.cache.put(topic, want, ok)
	return ok
}

// decisionCache remembers the last few decisions of one client: devices publish to a handful of topics
// over and over, and a long ACL costs a scan per PUBLISH otherwise. Slots keep their buffers, so a
// steady client allocates nothing; the mutex is uncontended (a client's packets come from one loop).
type decisionCache struct {
	mu    sync.Mutex
	next  int
	slots [4]struct {
		topic []byte
		want  Access
		ok    bool
		used  bool
	}
}

func (c *decisionCache) get(topic []byte, want Access) (ok, hit bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.slots {
		s := &c.slots[i]
		if s.used && s.want == want && bytes.Equal(s.topic, topic) {
			return s.ok, true
		}
	}
	return false, false
}

func (c *decisionCache) put(topic []byte, want Access, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &c.slots[c.next]
	c.next = (c.next + 1) % len(c.slots)
	s.topic = append(s.topic[:0], topic...)
	s.want, s.ok, s.used = want, ok, true
}
