package app

import (
	"sync"
	"time"
)

// mailbox is an unbounded FIFO: the dispatcher must never block on a call
// that is busy waiting for Asterisk, and a call receives only a handful of
// messages per operation, so unbounded is safe in practice.
//
// It also owns its reader's life: a goroutine runs only while there are
// messages (or an operation waits for an event). put starts one when none
// runs; the reader ends when take finds the mailbox empty. An idle call —
// most calls, most of the time — thus costs no goroutine and no stack
// (a call goroutine's stack grows in its ARI requests and would keep that
// size between operations).
type mailbox[T any] struct {
	mu      sync.Mutex
	items   []T
	ready   chan struct{}
	closed  bool
	running bool   // a reader goroutine runs
	start   func() // starts the reader; called with mu held, so it must not block
}

// newMailbox returns a mailbox whose put calls start (if not nil) when a
// message arrives and no reader runs.
func newMailbox[T any](start func()) *mailbox[T] {
	return &mailbox[T]{ready: make(chan struct{}, 1), start: start}
}

// put appends a message, starting a reader if none runs; it reports false
// once the mailbox is closed.
func (m *mailbox[T]) put(v T) bool {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return false
	}
	m.items = append(m.items, v)
	if !m.running && m.start != nil {
		// Under the lock: closeIdle either sees the reader running (and
		// its start, a WaitGroup.Add, done) or closes the mailbox first.
		m.running = true
		m.start()
	}
	m.mu.Unlock()
	select {
	case m.ready <- struct{}{}:
	default:
	}
	return true
}

// take returns the next message without waiting. With none, the reader is
// over: ok is false and the next put starts a new one.
func (m *mailbox[T]) take() (v T, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.items) == 0 {
		m.running = false
		var zero T
		return zero, false
	}
	v = m.items[0]
	var zero T
	m.items[0] = zero
	m.items = m.items[1:]
	return v, true
}

// takeWithin is take that first waits up to linger for a message: the
// reader stays the running one meanwhile, so a put within linger starts no
// new reader. Once stop is closed it returns !ok and stays the running
// one, as the caller then drains the mailbox.
func (m *mailbox[T]) takeWithin(stop <-chan struct{}, linger time.Duration) (v T, ok bool) {
	var timer *time.Timer
	for {
		m.mu.Lock()
		if len(m.items) > 0 {
			v = m.items[0]
			var zero T
			m.items[0] = zero
			m.items = m.items[1:]
			m.mu.Unlock()
			if timer != nil {
				timer.Stop()
			}
			return v, true
		}
		m.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(linger)
		}
		select {
		case <-m.ready:
			continue
		case <-stop:
			timer.Stop()
			var zero T
			return zero, false
		case <-timer.C:
		}
		return m.take()
	}
}

// closeIdle closes the mailbox if no reader runs (so none can start any
// more) and reports whether it did. An idle mailbox holds no message.
func (m *mailbox[T]) closeIdle() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.running || m.closed {
		return false
	}
	m.closed = true
	return true
}

// get waits for a message until timeout (0: no timeout) or until stop is
// closed; ok is false then. Only the call's reader goroutine reads (an
// operation waiting for an event), and it stops reading once it has closed
// the mailbox, so close need not wake it.
func (m *mailbox[T]) get(stop <-chan struct{}, timeout time.Duration) (v T, ok bool) {
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
			var zero T
			m.items[0] = zero
			m.items = m.items[1:]
			m.mu.Unlock()
			return v, true
		}
		m.mu.Unlock()
		select {
		case <-m.ready:
		case <-stop:
			var zero T
			return zero, false
		case <-timer:
			var zero T
			return zero, false
		}
	}
}

// close refuses further messages and returns those not yet taken.
func (m *mailbox[T]) close() []T {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	rest := m.items
	m.items = nil
	return rest
}
