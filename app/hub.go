package app

import (
	"sync"
	"sync/atomic"

	"go.uber.org/zap"
)

// Subscription receives events. Read C promptly: when its buffer is full,
// further events for it are dropped and counted (Dropped), and call
// handling goes on.
type Subscription struct {
	C       <-chan Event
	ch      chan Event
	callID  string
	dropped atomic.Uint64
	hub     *hub
	once    sync.Once
}

// Dropped is how many events this subscriber lost to a full buffer.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Close ends the subscription and closes C. Idempotent.
func (s *Subscription) Close() {
	s.once.Do(func() { s.hub.remove(s) })
}

// hub fans events out to subscribers without ever blocking the publisher.
type hub struct {
	mu     sync.Mutex
	subs   map[*Subscription]struct{}
	closed bool
	log    *zap.Logger
	counts map[EventName]*atomic.Uint64
}

func newHub(log *zap.Logger) *hub {
	h := &hub{subs: map[*Subscription]struct{}{}, log: log, counts: map[EventName]*atomic.Uint64{}}
	for _, n := range EventNames {
		h.counts[n] = new(atomic.Uint64)
	}
	return h
}

func (h *hub) subscribe(callID string, buf int) *Subscription {
	ch := make(chan Event, buf)
	s := &Subscription{C: ch, ch: ch, callID: callID, hub: h}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		close(ch)
		return s
	}
	h.subs[s] = struct{}{}
	return s
}

func (h *hub) remove(s *Subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		close(s.ch)
	}
}

func (h *hub) publish(ev Event) {
	h.counts[ev.Name].Add(1)
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		if s.callID != "" && s.callID != ev.CallID {
			continue
		}
		select {
		case s.ch <- ev:
		default:
			n := s.dropped.Add(1)
			if n == 1 || n%100 == 0 {
				h.log.Warn("event subscriber too slow, event dropped for it",
					zap.String("event", string(ev.Name)), zap.String("call_id", ev.CallID),
					zap.Uint64("dropped_total", n))
			}
		}
	}
}

func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.subs {
		delete(h.subs, s)
		close(s.ch)
	}
}
