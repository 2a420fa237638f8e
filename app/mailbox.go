package app

import (
	"sync"
	"time"
)

// mailbox is an unbounded FIFO: the dispatcher must never block on a call
// that is busy waiting for Asterisk, and a call receives only a handful of
// messages per operation, so unbounded is safe in practice.
type mailbox struct {
	mu     sync.Mutex
	items  []any
	ready  chan struct{}
	closed bool
}

func newMailbox() *mailbox { return &mailbox{ready: make(chan struct{}, 1)} }

// put appends a message; it reports false once the mailbox is closed.
func (m *mailbox) put(v any) bool {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return false
	}
	m.items = append(m.items, v)
	m.mu.Unlock()
	select {
	case m.ready <- struct{}{}:
	default:
	}
	return true
}

// get waits for a message until timeout (0: no timeout) or until stop is
// closed; ok is false then. Only the call's own goroutine reads, and it stops
// reading once it has closed the mailbox, so close need not wake it.
func (m *mailbox) get(stop <-chan struct{}, timeout time.Duration) (v any, ok bool) {
	var timer <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		timer = t.C
	}
	for {
		m.mu.Lock()
		if len(m.items) > 0 {
			v = m.items[0]
			m.items[0] = nil
			m.items = m.items[1:]
			m.mu.Unlock()
			return v, true
		}
		m.mu.Unlock()
		select {
		case <-m.ready:
		case <-stop:
			return nil, false
		case <-timer:
			return nil, false
		}
	}
}

// close refuses further messages and returns those not yet taken.
func (m *mailbox) close() []any {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	rest := m.items
	m.items = nil
	return rest
}
