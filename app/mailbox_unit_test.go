package app

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestUnitMailboxTakeWithin: a reader that lingers stays the running one:
// a message put meanwhile reaches it and starts no second reader; after the
// linger the reader is over and the next put starts one; once stopped it
// returns at once and stays the running one (it drains next).
func TestUnitMailboxTakeWithin(t *testing.T) {
	var starts atomic.Int32
	m := newMailbox[any](func() { starts.Add(1) })
	m.put(1)
	if v, ok, stopped := m.takeWithin(nil, time.Second); !ok || stopped || v != 1 {
		t.Fatalf("takeWithin = %v, %v, stopped %v; want 1", v, ok, stopped)
	}
	go func() {
		time.Sleep(20 * time.Millisecond)
		m.put(2)
	}()
	if v, ok, _ := m.takeWithin(nil, 10*time.Second); !ok || v != 2 {
		t.Fatalf("takeWithin while lingering = %v, %v; want 2", v, ok)
	}
	if n := starts.Load(); n != 1 {
		t.Fatalf("%d readers started, want 1: the lingering one got the message", n)
	}
	if _, ok, stopped := m.takeWithin(nil, 10*time.Millisecond); ok || stopped {
		t.Fatalf("takeWithin on an empty mailbox after the linger = ok %v, stopped %v; want neither", ok, stopped)
	}
	m.put(3) // the reader is over: a new one starts
	if n := starts.Load(); n != 2 {
		t.Fatalf("%d readers started after the linger, want 2", n)
	}
	m.take()
	stop := make(chan struct{})
	close(stop)
	t0 := time.Now()
	if _, ok, stopped := m.takeWithin(stop, 10*time.Second); ok || !stopped || time.Since(t0) > 5*time.Second {
		t.Fatalf("takeWithin with stop closed = ok %v, stopped %v after %v; want at once, stopped", ok, stopped, time.Since(t0))
	}
	if m.closeIdle() {
		t.Fatal("a stopped reader is no longer the running one: a put could start a second reader while it drains")
	}
}
