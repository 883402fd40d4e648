package server

// tickDuration is the resolution of every broker timer (keep alive, connect timeout, will delay, session expiry).
const tickDuration = 100_000_000 // 100 ms in nanoseconds

// wheelSlots is a power of two; the wheel spans wheelSlots ticks (409.6 s). Longer timers stay in their slot and
// are skipped until their tick comes round, which costs one comparison per lap.
const wheelSlots = 4096

// timerOwner is what a timer calls when it fires. The timer is already unlinked; the owner may re-arm it.
type timerOwner interface {
	onTimer(t *timer, now int64)
}

// timer is an intrusive node embedded in the structure it serves, so arming a timer never allocates.
// A timer belongs to the wheel of one event loop and is only touched on that loop.
type timer struct {
	prev, next *timer
	at         int64 // tick at which it fires
	owner      timerOwner
}

// armed reports whether the timer is linked into a wheel.
func (t *timer) armed() bool { return t.next != nil }

// wheel is a hashed timing wheel, one per event loop, advanced by the loop's tick task.
type wheel struct {
	now     int64 // last tick processed
	slots   [wheelSlots]timer
	scratch timer // sentinel of the slot being fired
}

func newWheel(now int64) *wheel {
	w := &wheel{now: now}
	for i := range w.slots {
		h := &w.slots[i]
		h.next, h.prev = h, h
	}
	return w
}

// schedule arms t to fire at tick at (at least the next tick). An armed timer is moved.
func (w *wheel) schedule(t *timer, at int64) {
	if t.armed() {
		t.unlink()
	}
	if at <= w.now {
		at = w.now + 1
	}
	t.at = at
	w.link(t, &w.slots[at&(wheelSlots-1)])
}

func (w *wheel) link(t, h *timer) {
	t.prev, t.next = h.prev, h
	h.prev.next = t
	h.prev = t
}

// stop disarms t; stopping a disarmed timer is a no-op.
func (t *timer) stop() {
	if t.armed() {
		t.unlink()
	}
}

func (t *timer) unlink() {
	t.prev.next = t.next
	t.next.prev = t.prev
	t.prev, t.next = nil, nil
}

// advance fires every timer due at or before tick now, in tick order.
func (w *wheel) advance(now int64) {
	for w.now < now {
		w.now++
		h := &w.slots[w.now&(wheelSlots-1)]
		if h.next == h {
			continue
		}
		// Move the slot's list onto the scratch list first: an owner may stop or re-arm any timer (its own or
		// another's) while we walk, and unlinking from a proper list keeps that safe.
		p := &w.scratch
		p.next, p.prev = h.next, h.prev
		p.next.prev, p.prev.next = p, p
		h.next, h.prev = h, h
		for p.next != p {
			t := p.next
			t.unlink()
			if t.at <= w.now {
				t.owner.onTimer(t, w.now)
			} else {
				w.link(t, h)
			}
		}
	}
}
