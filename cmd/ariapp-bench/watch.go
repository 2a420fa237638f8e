package main

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// callWatch follows ariapp's call events (from an app.Subscription or the
// API's event stream) so a call's set-up can be awaited and the events of
// the measured operations counted.
type callWatch struct {
	mu       sync.Mutex
	answered map[string]chan struct{}
	ended    map[string]chan struct{}
	reasons  map[string]string
	counts   map[string]int // by event name
	order    []string       // call ids in the order of their call_answered
	more     chan struct{}  // closed and replaced when order grows
}

func newCallWatch() *callWatch {
	return &callWatch{
		answered: map[string]chan struct{}{},
		ended:    map[string]chan struct{}{},
		reasons:  map[string]string{},
		counts:   map[string]int{},
		more:     make(chan struct{}),
	}
}

func latch(m map[string]chan struct{}, id string) chan struct{} {
	ch, ok := m[id]
	if !ok {
		ch = make(chan struct{})
		m[id] = ch
	}
	return ch
}

// event records one call event (name as in SPEC: call_answered, ...).
func (w *callWatch) event(name, callID, reason string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.counts[name]++
	var ch chan struct{}
	switch name {
	case "call_answered":
		ch = latch(w.answered, callID)
		w.order = append(w.order, callID)
		close(w.more)
		w.more = make(chan struct{})
	case "call_ended":
		w.reasons[callID] = reason
		ch = latch(w.ended, callID)
	default:
		return
	}
	select {
	case <-ch:
	default:
		close(ch)
	}
}

// waitAnswered waits for call_answered of callID; a call_ended first is an
// error carrying ariapp's reason.
func (w *callWatch) waitAnswered(ctx context.Context, callID string, timeout time.Duration) error {
	w.mu.Lock()
	ans, end := latch(w.answered, callID), latch(w.ended, callID)
	w.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-ans:
		return nil
	case <-end:
		w.mu.Lock()
		defer w.mu.Unlock()
		return fmt.Errorf("call %s ended before it was answered: %s", callID, w.reasons[callID])
	case <-t.C:
		return fmt.Errorf("call %s: no call_answered within %v", callID, timeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// nthAnswered waits for the n-th call_answered (from 0) and returns its call
// id: a benchmark that sets calls up one at a time from phones learns its
// calls' ids this way.
func (w *callWatch) nthAnswered(ctx context.Context, n int, timeout time.Duration) (string, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		w.mu.Lock()
		if n < len(w.order) {
			id := w.order[n]
			w.mu.Unlock()
			return id, nil
		}
		more := w.more
		w.mu.Unlock()
		select {
		case <-more:
		case <-t.C:
			return "", fmt.Errorf("no call_answered #%d within %v", n+1, timeout)
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}
