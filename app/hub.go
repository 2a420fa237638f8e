package app

import (
	"sync"
	"sync/atomic"

	"go.uber.org/zap"
)

// subscriberChanCap is the capacity of a subscription's channel C: the
// memory an idle subscriber holds. Events beyond it wait in a queue that
// grows on demand up to the subscriber's buffer and is released once the
// reader has caught up, so a thousand idle subscribers cost a few MiB, not
// a full buffer each.
const subscriberChanCap = 16

// Subscription receives events. Read C promptly: when more than its buffer
// is waiting, further events for it are dropped and counted (Dropped), and
// call handling goes on. The first drop is logged, and the total again when
// the subscription closes.
type Subscription struct {
	C      <-chan Event
	ch     chan Event
	id     uint64
	callID string
	// max is how many events may wait for the reader: in ch plus queued.
	max     int
	hub     *hub
	dropped atomic.Uint64
	once    sync.Once
	done    chan struct{} // closed by Close: the pump stops
	pumpWG  sync.WaitGroup

	mu sync.Mutex
	// queue holds, in order, the events that found ch full.
	queue []Event
	// pumping: a pump goroutine moves queue into ch; new events queue
	// behind it to keep their order.
	pumping bool
	// ended: no event is offered any more (Close or the hub closed).
	ended    bool
	chClosed bool
}

// ID identifies the subscription in ariapp's log ("subscriber" field), so
// a consumer (the event stream of the API) can name it in its own lines.
func (s *Subscription) ID() uint64 { return s.id }

// Dropped is how many events this subscriber lost to a full buffer.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Close ends the subscription and closes C; events not yet in C are
// discarded. Idempotent.
func (s *Subscription) Close() {
	s.once.Do(func() {
		s.hub.remove(s)
		s.mu.Lock()
		s.ended = true
		s.queue = nil
		s.mu.Unlock()
		close(s.done)
		s.pumpWG.Wait()
		s.mu.Lock()
		s.closeChLocked()
		s.mu.Unlock()
		if d := s.dropped.Load(); d > 0 {
			s.hub.log.Info("event subscriber closed; it lost events", s.fields(zap.Uint64("dropped_total", d))...)
		}
	})
}

func (s *Subscription) closeChLocked() {
	if !s.chClosed {
		s.chClosed = true
		close(s.ch)
	}
}

func (s *Subscription) fields(more ...zap.Field) []zap.Field {
	f := []zap.Field{zap.Uint64("subscriber", s.id)}
	if s.callID != "" {
		f = append(f, zap.String("subscribed_call_id", s.callID))
	}
	return append(f, more...)
}

// offer delivers ev or, when the buffer is full, drops it. It never blocks:
// call goroutines publish.
func (s *Subscription) offer(ev Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	if !s.pumping {
		select {
		case s.ch <- ev:
			return
		default:
		}
	}
	if len(s.queue) >= s.max-cap(s.ch) {
		if s.dropped.Add(1) == 1 {
			s.hub.log.Warn("event subscriber too slow; its events are dropped until it catches up",
				s.fields(zap.String("event", string(ev.Name)), zap.String("call_id", ev.CallID), zap.Int("buffer", s.max))...)
		}
		return
	}
	s.queue = append(s.queue, ev)
	if !s.pumping {
		s.pumping = true
		s.pumpWG.Add(1)
		go s.pump()
	}
}

// pump moves queued events into ch as the reader takes them, and ends when
// the queue is empty (releasing its memory) or the subscription closes.
// After the hub closed, it delivers what is queued, then closes ch.
func (s *Subscription) pump() {
	defer s.pumpWG.Done()
	s.mu.Lock()
	for {
		if len(s.queue) == 0 {
			s.pumping = false
			s.queue = nil
			if s.ended {
				s.closeChLocked()
			}
			s.mu.Unlock()
			return
		}
		// The event stays queued, counted against the buffer, until C
		// took it.
		ev := s.queue[0]
		s.mu.Unlock()
		select {
		case s.ch <- ev:
		case <-s.done:
			s.mu.Lock()
			s.pumping = false
			s.mu.Unlock()
			return
		}
		s.mu.Lock()
		if len(s.queue) > 0 { // Close may have discarded the queue
			s.queue[0] = Event{}
			s.queue = s.queue[1:]
		}
	}
}

// end stops offers after the hub closed: C closes once the reader has
// taken what is waiting.
func (s *Subscription) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ended = true
	if !s.pumping {
		s.closeChLocked()
	}
}

// hub fans events out to subscribers without ever blocking the publisher.
type hub struct {
	mu     sync.Mutex
	subs   map[*Subscription]struct{}
	closed bool
	log    *zap.Logger
	counts map[EventName]*atomic.Uint64
	nextID atomic.Uint64
}

func newHub(log *zap.Logger) *hub {
	h := &hub{subs: map[*Subscription]struct{}{}, log: log, counts: map[EventName]*atomic.Uint64{}}
	for _, n := range EventNames {
		h.counts[n] = new(atomic.Uint64)
	}
	return h
}

// subscribe adds a subscriber that may fall buf events behind.
func (h *hub) subscribe(callID string, buf int) *Subscription {
	buf = max(buf, 0)
	ch := make(chan Event, min(buf, subscriberChanCap))
	s := &Subscription{C: ch, ch: ch, id: h.nextID.Add(1), callID: callID, max: buf, hub: h, done: make(chan struct{})}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		s.end()
		return s
	}
	h.subs[s] = struct{}{}
	return s
}

func (h *hub) remove(s *Subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, s)
}

func (h *hub) publish(ev Event) {
	if n := h.counts[ev.Name]; n != nil {
		n.Add(1)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		if s.callID != "" && s.callID != ev.CallID {
			continue
		}
		s.offer(ev)
	}
}

func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.subs {
		delete(h.subs, s)
		s.end()
	}
}

// Relay fans out events that come from elsewhere (the Apps of several
// Asterisk nodes, the other instances of a cluster) to subscribers, with
// the buffering and loss accounting of an App's own subscriptions.
type Relay struct {
	hub *hub
	buf int
}

// NewRelay returns a relay whose subscribers may fall subscriberBuffer
// events behind (allCallsBufferFactor times that for every call), as
// App.Subscribe's.
func NewRelay(subscriberBuffer int, log *zap.Logger) *Relay {
	if log == nil {
		log = zap.NewNop()
	}
	return &Relay{hub: newHub(log), buf: max(subscriberBuffer, 1)}
}

// Subscribe is App.Subscribe for the relayed events.
func (r *Relay) Subscribe(callID string) *Subscription {
	buf := r.buf
	if callID == "" {
		buf *= allCallsBufferFactor
	}
	return r.hub.subscribe(callID, buf)
}

// Publish offers ev to every subscriber; it never blocks.
func (r *Relay) Publish(ev Event) { r.hub.publish(ev) }

// Close ends every subscription once its reader took what waits.
func (r *Relay) Close() { r.hub.close() }
