package topic

import (
	"cmp"
	"slices"
)

// SubscriberID is the broker's handle for a session. It must stay the same across reconnects of a persistent
// session, so that a subscription outlives the connection that made it.
type SubscriberID uint64

// Options are the subscription options delivery needs, packed in the layout of the MQTT 5 SUBSCRIBE options byte
// (§3.8.3.1): bits 0-1 Maximum QoS, bit 2 No Local, bit 3 Retain As Published, bits 4-5 Retain Handling. A v5
// options byte can be converted directly (after the codec has rejected reserved bits); for MQTT 3.1.1 use
// NewOptions(qos, false, false, 0).
type Options byte

const (
	optQoS            Options = 0x03
	optNoLocal        Options = 0x04
	optRetainAsPub    Options = 0x08
	optRetainHandling Options = 0x30
	optValid                  = optQoS | optNoLocal | optRetainAsPub | optRetainHandling
)

// NewOptions packs subscription options. qos is truncated to two bits and retainHandling to two bits.
func NewOptions(qos byte, noLocal, retainAsPublished bool, retainHandling byte) Options {
	o := Options(qos&3) | Options(retainHandling&3)<<4
	if noLocal {
		o |= optNoLocal
	}
	if retainAsPublished {
		o |= optRetainAsPub
	}
	return o
}

// QoS returns the maximum QoS the subscriber granted for this subscription.
func (o Options) QoS() byte { return byte(o & optQoS) }

// NoLocal reports whether messages published by this subscriber must not be sent back to it [MQTT-3.8.3-3].
func (o Options) NoLocal() bool { return o&optNoLocal != 0 }

// RetainAsPublished reports whether forwarded messages keep the RETAIN flag they were published with
// [MQTT-3.3.1-12, -13].
func (o Options) RetainAsPublished() bool { return o&optRetainAsPub != 0 }

// RetainHandling returns 0 (send retained messages on subscribe), 1 (only if the subscription is new) or
// 2 (never) [MQTT-3.3.1-9, -10, -11].
func (o Options) RetainHandling() byte { return byte(o&optRetainHandling) >> 4 }

// Subscription is one subscriber's subscription to one filter, as stored by an Index and as returned by Match.
type Subscription struct {
	// Subscriber is the session that subscribed.
	Subscriber SubscriberID
	// ID is the MQTT 5 subscription identifier, 0 when none was given.
	ID uint32
	// Opts are the subscription options.
	Opts Options
	// Shared is set by Match on entries chosen from a shared subscription group. Such an entry is a delivery of
	// its own: it is not merged with the subscriber's other (overlapping) subscriptions. Subscribe ignores it.
	Shared bool
}

// SortBySubscriber orders subs so that the entries of each subscriber are adjacent, ordinary subscriptions first
// and shared ones after them, ready for NextDelivery. It sorts in place and does not allocate.
func SortBySubscriber(subs []Subscription) {
	if sortedBySubscriber(subs) {
		return // a match result is often in order already (subscribers of one filter, in the order they came)
	}
	slices.SortFunc(subs, func(a, b Subscription) int {
		if c := cmp.Compare(a.Subscriber, b.Subscriber); c != 0 {
			return c
		}
		switch {
		case a.Shared == b.Shared:
			return 0
		case b.Shared:
			return -1
		default:
			return 1
		}
	})
}

// sortedBySubscriber reports whether subs is already in SortBySubscriber's order, in one pass: cheaper than even
// the sort's own pass over sorted input, which calls the comparison through a function value.
func sortedBySubscriber(subs []Subscription) bool {
	for i := 1; i < len(subs); i++ {
		a, b := &subs[i-1], &subs[i]
		if a.Subscriber > b.Subscriber || a.Subscriber == b.Subscriber && a.Shared && !b.Shared {
			return false
		}
	}
	return true
}

// NextDelivery splits the head of subs (ordered by SortBySubscriber) into one delivery and the rest. A delivery is
// either one shared entry, or all the ordinary entries of one subscriber: when a client's overlapping
// subscriptions match a message, the server sends it once with the highest QoS of them [MQTT-3.3.4-2] and with
// every subscription identifier among them (the non-zero ID of each entry in one) [MQTT-3.3.4-3]. qos is that
// maximum. For an empty subs it returns empty one and rest.
func NextDelivery(subs []Subscription) (one, rest []Subscription, qos byte) {
	if len(subs) == 0 {
		return nil, nil, 0
	}
	qos = subs[0].Opts.QoS()
	if subs[0].Shared {
		return subs[:1], subs[1:], qos
	}
	n := 1
	for n < len(subs) && subs[n].Subscriber == subs[0].Subscriber && !subs[n].Shared {
		qos = max(qos, subs[n].Opts.QoS())
		n++
	}
	return subs[:n], subs[n:], qos
}
