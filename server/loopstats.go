package server

// enter marks the start of a broker callback on l, for its busy clock (stats.BusyClock).
func (l *loop) enter() { l.busy.Enter() }

// leave marks the end of the callback enter started; the flush armed meanwhile, if any, ends the interval.
func (l *loop) leave() { l.busy.Leave(l.flushArmed, &l.stats.BusyNanos) }

// mailboxPending is how many deliveries and tasks wait in l's mailbox now.
func (l *loop) mailboxPending() int {
	m := &l.mail
	m.mu.Lock()
	n := len(m.in) + len(m.tasks)
	m.mu.Unlock()
	return n
}
