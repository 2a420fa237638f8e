package app

import (
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// EventName is one of SPEC's event names.
type EventName string

// The events of SPEC "Events".
const (
	EventCallStarted   EventName = "call_started"
	EventCallAnswered  EventName = "call_answered"
	EventHoldSuccess   EventName = "hold_success"
	EventHoldFailed    EventName = "hold_failed"
	EventUnholdSuccess EventName = "unhold_success"
	EventUnholdFailed  EventName = "unhold_failed"
	EventCallEnded     EventName = "call_ended"
)

// EventNames lists every event name, in life-cycle order.
var EventNames = []EventName{EventCallStarted, EventCallAnswered, EventHoldSuccess, EventHoldFailed, EventUnholdSuccess, EventUnholdFailed, EventCallEnded}

// Role is a party's side of the call.
type Role string

// Roles.
const (
	Caller Role = "caller"
	Callee Role = "callee"
)

// PartyState is what SPEC reports for a party: HOLD exactly when it holds.
type PartyState string

// Party states.
const (
	Live PartyState = "LIVE"
	Hold PartyState = "HOLD"
)

// CallState is the life-cycle state of a call.
type CallState string

// Call states.
const (
	CallRinging  CallState = "ringing"  // callee originated, not answered
	CallAnswered CallState = "answered" // both answered and bridged: hold is possible
	CallEnded    CallState = "ended"
)

// Source says where a hold or resume request came from.
type Source string

// Request sources (SPEC "Where a hold request can come from").
const (
	SourceAPI    Source = "api"
	SourcePhone  Source = "phone"
	SourceDTMF   Source = "dtmf"
	SourceSystem Source = "system"
)

// PartyInfo is one party as events and the API report it.
type PartyInfo struct {
	Role      Role       `json:"role"`
	ChannelID string     `json:"channel_id"`
	Endpoint  string     `json:"endpoint"`
	State     PartyState `json:"state"`
	// HoldSince is when this party put the call on hold (nil when LIVE).
	HoldSince *time.Time `json:"hold_since,omitempty"`
	// OnHoldMusic: the party hears hold music because its peer holds.
	OnHoldMusic bool `json:"on_hold_music"`
	// HangupAllowed is false while this party holds: SPEC H6 asks a UI not
	// to offer hang-up on the holding side.
	HangupAllowed bool `json:"hangup_allowed"`
}

// CallInfo is a snapshot of a call.
type CallInfo struct {
	CallID   string    `json:"call_id"`
	State    CallState `json:"state"`
	BridgeID string    `json:"bridge_id,omitempty"`
	Caller   PartyInfo `json:"caller"`
	Callee   PartyInfo `json:"callee"`
	// Holders lists the parties that hold, in the order they took hold.
	Holders    []Role     `json:"holders"`
	StartedAt  time.Time  `json:"started_at"`
	AnsweredAt *time.Time `json:"answered_at,omitempty"`
	EndedAt    *time.Time `json:"ended_at,omitempty"`
	EndCause   string     `json:"end_cause,omitempty"`
}

// Party returns the info of one role.
func (ci *CallInfo) Party(r Role) *PartyInfo {
	if r == Callee {
		return &ci.Callee
	}
	return &ci.Caller
}

// Event is one state change of a call.
type Event struct {
	Name   EventName `json:"event"`
	CallID string    `json:"call_id"`
	// Seq numbers the call's events from 1, so a consumer can tell a gap.
	Seq uint64 `json:"seq"`
	// Party is the requesting party (hold/unhold), or the party whose
	// hang-up ended the call; empty when not party-specific.
	Party  Role   `json:"party,omitempty"`
	Source Source `json:"source,omitempty"`
	// Reason explains failures and call_ended.
	Reason string    `json:"reason,omitempty"`
	Time   time.Time `json:"time"`
	Call   CallInfo  `json:"call"`
}

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

// logEvent writes the one structured line an event produces.
func logEvent(log *zap.Logger, ev *Event) {
	level := zapcore.InfoLevel
	if ev.Name == EventHoldFailed || ev.Name == EventUnholdFailed {
		level = zapcore.WarnLevel
	}
	// Check first: a disabled level builds no fields.
	ce := log.Check(level, "call event")
	if ce == nil {
		return
	}
	fields := []zap.Field{
		zap.String("event", string(ev.Name)),
		zap.String("call_id", ev.CallID),
		zap.Uint64("seq", ev.Seq),
		zap.String("call_state", string(ev.Call.State)),
		zap.String("caller_channel_id", ev.Call.Caller.ChannelID),
		zap.String("caller_endpoint", ev.Call.Caller.Endpoint),
		zap.String("caller_state", string(ev.Call.Caller.State)),
		zap.String("callee_channel_id", ev.Call.Callee.ChannelID),
		zap.String("callee_endpoint", ev.Call.Callee.Endpoint),
		zap.String("callee_state", string(ev.Call.Callee.State)),
		zap.Any("holders", ev.Call.Holders),
	}
	if ev.Party != "" {
		fields = append(fields, zap.String("party", string(ev.Party)))
	}
	if ev.Source != "" {
		fields = append(fields, zap.String("source", string(ev.Source)))
	}
	if ev.Call.BridgeID != "" {
		fields = append(fields, zap.String("bridge_id", ev.Call.BridgeID))
	}
	if ev.Reason != "" {
		fields = append(fields, zap.String("reason", ev.Reason))
	}
	if ev.Call.EndCause != "" {
		fields = append(fields, zap.String("end_cause", ev.Call.EndCause))
	}
	ce.Write(fields...)
}
