package labtest

import (
	"sync"
	"testing"
	"time"
)

// Log collects values a test observes (ARI events, App events, SSE
// messages...) from any goroutine and lets the test wait for a condition on
// them without polling: every Add wakes the waiters. It is the one event
// recorder of the test packages; Recorder is a Log of ARI events.
type Log[T any] struct {
	mu      sync.Mutex
	items   []T
	changed chan struct{}
	closed  bool
}

// NewLog returns an empty log.
func NewLog[T any]() *Log[T] { return &Log[T]{changed: make(chan struct{})} }

// Add appends v and wakes the waiters.
func (l *Log[T]) Add(v T) {
	l.mu.Lock()
	l.items = append(l.items, v)
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

// Close marks the log complete (its source ended) and wakes the waiters;
// a wait whose condition is still false then fails at once.
func (l *Log[T]) Close() {
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		close(l.changed)
	}
	l.mu.Unlock()
}

// All returns a copy of everything logged so far.
func (l *Log[T]) All() []T {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]T(nil), l.items...)
}

// Len is how many values were logged so far.
func (l *Log[T]) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.items)
}

// Until waits until cond, called with everything logged so far, reports
// true, and returns that snapshot. It returns false (with the last
// snapshot) after timeout or when the log is closed with cond still false.
func (l *Log[T]) Until(timeout time.Duration, cond func([]T) bool) ([]T, bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		items, changed, closed := l.items, l.changed, l.closed
		l.mu.Unlock()
		if cond(items) {
			return append([]T(nil), items...), true
		}
		if closed {
			return append([]T(nil), items...), false
		}
		select {
		case <-changed:
		case <-deadline.C:
			return l.All(), false
		}
	}
}

// Wait is Until that fails the test with what when the condition does not
// come true in time.
func (l *Log[T]) Wait(t testing.TB, timeout time.Duration, what string, cond func([]T) bool) []T {
	t.Helper()
	items, ok := l.Until(timeout, cond)
	if !ok {
		t.Fatalf("timed out after %v waiting for %s (%d values logged)", timeout, what, len(items))
	}
	return items
}
