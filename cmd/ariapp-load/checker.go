package main

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/ariapp/ariapp/app"
)

// roles are a call's two parties, in a fixed order for messages.
var roles = []app.Role{app.Caller, app.Callee}

// peerOf is the other party of a call.
func peerOf(r app.Role) app.Role {
	if r == app.Caller {
		return app.Callee
	}
	return app.Caller
}

// model is what SPEC says a call's state must be after the events (or the
// operations) seen so far. The checker keeps one per call, fed by the event
// stream; a call slot keeps its own, fed by the replies to its requests.
type model struct {
	// state is the call's life-cycle state; "" before call_started.
	state app.CallState
	// holders are the parties that hold, in the order they took hold (M1).
	holders []app.Role
}

// holds reports whether r holds the call.
func (m *model) holds(r app.Role) bool { return slices.Contains(m.holders, r) }

// take records that r put the call on hold (H3); idempotent.
func (m *model) take(r app.Role) {
	if !m.holds(r) {
		m.holders = append(m.holders, r)
	}
}

// release records that r resumed (R2).
func (m *model) release(r app.Role) {
	m.holders = slices.DeleteFunc(m.holders, func(x app.Role) bool { return x == r })
}

// musicRule says how a call info's OnHoldMusic flags are checked.
type musicRule int

const (
	// musicPeerHolds: a party hears the hold music exactly when its peer
	// holds (the media rule that follows from M1/M2).
	musicPeerHolds musicRule = iota
	// musicOff: nobody hears music (the call has ended: playbacks stopped).
	musicOff
	// musicAny: not checked (unhold_failed: the resume stopped half-way and
	// the call is about to be hung up, R3).
	musicAny
)

// mismatches compares a call info with the model: call state, each party's
// state (HOLD exactly when it holds, H3/H4), hang-up allowed exactly when
// it does not hold (H6), hold music per rule, and the holders list with its
// order. It returns one description per difference.
func (m *model) mismatches(ci *app.CallInfo, music musicRule) []string {
	var out []string
	if ci.State != m.state {
		out = append(out, fmt.Sprintf("call state %q, want %q", ci.State, m.state))
	}
	for _, r := range roles {
		pi := ci.Party(r)
		want := app.Live
		if m.holds(r) {
			want = app.Hold
		}
		if pi.State != want {
			out = append(out, fmt.Sprintf("%s state %s, want %s (H3/H4: HOLD exactly when it holds)", r, pi.State, want))
		}
		if pi.HangupAllowed == m.holds(r) {
			out = append(out, fmt.Sprintf("%s hangup_allowed %v while holding=%v (H6)", r, pi.HangupAllowed, m.holds(r)))
		}
		switch music {
		case musicPeerHolds:
			if w := m.holds(peerOf(r)); pi.OnHoldMusic != w {
				out = append(out, fmt.Sprintf("%s on_hold_music %v, want %v (M1/M2: music exactly when the peer holds)", r, pi.OnHoldMusic, w))
			}
		case musicOff:
			if pi.OnHoldMusic {
				out = append(out, fmt.Sprintf("%s still on hold music after the call ended", r))
			}
		}
	}
	holders := ci.Holders
	if holders == nil {
		holders = []app.Role{}
	}
	want := m.holders
	if want == nil {
		want = []app.Role{}
	}
	if !slices.Equal(holders, want) {
		out = append(out, fmt.Sprintf("holders %v, want %v", holders, want))
	}
	return out
}

// Violation is one departure from SPEC seen by the checker (events) or by a
// call slot (replies).
type Violation struct {
	CallID string `json:"call_id,omitempty"`
	Seq    uint64 `json:"seq,omitempty"`
	Event  string `json:"event,omitempty"`
	// Rule is a short tag: seq, order, H1, H3, R1, R3, info, reply,
	// replies_vs_events, lost, missing.
	Rule   string `json:"rule"`
	Detail string `json:"detail"`
}

func (v Violation) String() string {
	var b strings.Builder
	if v.CallID != "" {
		fmt.Fprintf(&b, "call %s", v.CallID)
		if v.Seq != 0 {
			fmt.Fprintf(&b, " seq %d", v.Seq)
		}
		if v.Event != "" {
			fmt.Fprintf(&b, " %s", v.Event)
		}
		b.WriteString(": ")
	}
	fmt.Fprintf(&b, "[%s] %s", v.Rule, v.Detail)
	return b.String()
}

// change names a state change of a call by event and party, e.g.
// "hold_success caller": what replies and events are reconciled on.
func change(name app.EventName, by app.Role) string { return string(name) + " " + string(by) }

// trackedCall is the checker's view of one call.
type trackedCall struct {
	m       model
	nextSeq uint64
	ended   bool
	// mustEnd: an unhold_failed was seen, the next event must be
	// call_ended (R3).
	mustEnd bool
	// foreign: the first event seen was not call_started with seq 1; the
	// call began before the stream was opened and is not checked (unless a
	// slot of this run placed it, which Finish reports).
	foreign   bool
	firstSeen string
	// changes lists hold_*/unhold_* events in order, for Reconcile.
	changes    []string
	violations []Violation
}

// Checker checks the SPEC event stream of every call: per call, seq 1, 2,
// 3…; call_started first; call_answered only when ringing; hold_success
// only when answered and by a party that does not hold; unhold_success only
// by a party that holds; unhold_failed followed by call_ended; call_ended
// last and once; and in every event's call info, the states, hold music and
// holders the model predicts. It is safe for concurrent use.
type Checker struct {
	mu     sync.Mutex
	calls  map[string]*trackedCall
	global []Violation
	counts map[app.EventName]int
	events int
	lost   uint64
}

// NewChecker returns an empty checker.
func NewChecker() *Checker {
	return &Checker{calls: map[string]*trackedCall{}, counts: map[app.EventName]int{}}
}

func (t *trackedCall) violate(ev *app.Event, rule, format string, args ...any) {
	t.violations = append(t.violations, Violation{CallID: ev.CallID, Seq: ev.Seq, Event: string(ev.Name), Rule: rule, Detail: fmt.Sprintf(format, args...)})
}

// Event checks one event and applies it to the call's model.
func (c *Checker) Event(ev app.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events++
	c.counts[ev.Name]++
	t := c.calls[ev.CallID]
	if t == nil {
		t = &trackedCall{nextSeq: 1}
		c.calls[ev.CallID] = t
		if ev.Seq != 1 || ev.Name != app.EventCallStarted {
			t.foreign = true
			t.firstSeen = fmt.Sprintf("%s seq %d", ev.Name, ev.Seq)
		}
	}
	if t.foreign {
		return
	}
	if ev.Call.CallID != ev.CallID {
		t.violate(&ev, "info", "call info is of call %q", ev.Call.CallID)
	}
	switch {
	case ev.Seq < t.nextSeq:
		t.violate(&ev, "seq", "seq %d after seq %d: repeated or out of order", ev.Seq, t.nextSeq-1)
		return
	case ev.Seq > t.nextSeq:
		t.violate(&ev, "seq", "seq %d, want %d: %d event(s) missing", ev.Seq, t.nextSeq, ev.Seq-t.nextSeq)
	}
	t.nextSeq = ev.Seq + 1
	if t.ended {
		t.violate(&ev, "order", "event after call_ended")
		return
	}
	if t.mustEnd && ev.Name != app.EventCallEnded {
		t.violate(&ev, "R3", "unhold_failed must be followed by call_ended (the call is hung up)")
		t.mustEnd = false
	}
	m := &t.m
	music := musicPeerHolds
	partyOK := func() bool {
		if ev.Party != app.Caller && ev.Party != app.Callee {
			t.violate(&ev, "info", "party %q is neither caller nor callee", ev.Party)
			return false
		}
		return true
	}
	switch ev.Name {
	case app.EventCallStarted:
		if m.state != "" {
			t.violate(&ev, "order", "call_started when the call is already %s", m.state)
		}
		m.state = app.CallRinging
	case app.EventCallAnswered:
		if m.state != app.CallRinging {
			t.violate(&ev, "order", "call_answered when the call is %q, not ringing", m.state)
		}
		m.state = app.CallAnswered
	case app.EventHoldSuccess:
		if !partyOK() {
			break
		}
		if m.state != app.CallAnswered {
			t.violate(&ev, "H1", "hold_success when the call is %q, not answered", m.state)
		}
		if m.holds(ev.Party) {
			t.violate(&ev, "H3", "hold_success by %s, which already holds (a repeated hold is a no-op without event)", ev.Party)
		}
		m.take(ev.Party)
		t.changes = append(t.changes, change(ev.Name, ev.Party))
	case app.EventHoldFailed:
		if !partyOK() {
			break
		}
		if m.holds(ev.Party) {
			t.violate(&ev, "H5", "hold_failed by %s, which holds (a repeated hold is a no-op without event)", ev.Party)
		}
		t.changes = append(t.changes, change(ev.Name, ev.Party))
	case app.EventUnholdSuccess:
		if !partyOK() {
			break
		}
		if m.state != app.CallAnswered {
			t.violate(&ev, "R2", "unhold_success when the call is %q, not answered", m.state)
		}
		if !m.holds(ev.Party) {
			t.violate(&ev, "R1", "unhold_success by %s, which does not hold (holders %v)", ev.Party, m.holders)
		}
		m.release(ev.Party)
		t.changes = append(t.changes, change(ev.Name, ev.Party))
	case app.EventUnholdFailed:
		if !partyOK() {
			break
		}
		if !m.holds(ev.Party) {
			t.violate(&ev, "R1", "unhold_failed by %s, which does not hold (a non-holder's resume is refused without event)", ev.Party)
		}
		t.mustEnd = true
		music = musicAny
		t.changes = append(t.changes, change(ev.Name, ev.Party))
	case app.EventCallEnded:
		t.ended, t.mustEnd = true, false
		m.state = app.CallEnded
		music = musicOff
		if ev.Call.EndCause == "" {
			t.violate(&ev, "info", "call_ended without end_cause")
		}
	default:
		t.violate(&ev, "info", "unknown event name %q", ev.Name)
		return
	}
	for _, d := range m.mismatches(&ev.Call, music) {
		t.violate(&ev, "info", "%s", d)
	}
}

// Lost records an SSE "event: lost" line: n events were dropped for this
// subscriber. Any loss fails the run.
func (c *Checker) Lost(n uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lost += n
	c.global = append(c.global, Violation{Rule: "lost", Detail: fmt.Sprintf("the event stream dropped %d event(s) for this client (SSE \"event: lost\")", n)})
}

// Add records a violation found elsewhere (a reply that contradicts the
// model).
func (c *Checker) Add(v Violation) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v.CallID != "" {
		if t := c.calls[v.CallID]; t != nil {
			t.violations = append(t.violations, v)
			return
		}
	}
	c.global = append(c.global, v)
}

// Ended reports whether call_ended of the call was seen.
func (c *Checker) Ended(callID string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.calls[callID]
	return t != nil && t.ended
}

// Reconcile compares the state changes a call slot's replies imply (hold
// and resume successes and failures, in order) with the events the stream
// reported for the call. Call it after call_ended was seen. A mismatch is
// an event without a reply (a no-op hold or refused resume that reported
// an event), or a reply without its event.
func (c *Checker) Reconcile(callID string, fromReplies []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.calls[callID]
	if t == nil || t.foreign {
		return // Finish reports it when the call is ours
	}
	if !slices.Equal(t.changes, fromReplies) {
		t.violations = append(t.violations, Violation{CallID: callID, Rule: "replies_vs_events",
			Detail: fmt.Sprintf("replies imply %s, events report %s", listOrNone(fromReplies), listOrNone(t.changes))})
	}
}

func listOrNone(l []string) string {
	if len(l) == 0 {
		return "[]"
	}
	return "[" + strings.Join(l, ", ") + "]"
}

// Summary is the checker's verdict.
type Summary struct {
	// Events counts the events seen, by name.
	Events map[app.EventName]int `json:"events"`
	// Total is the number of events seen.
	Total int `json:"total"`
	// Lost is the sum of SSE "event: lost" counts.
	Lost uint64 `json:"lost"`
	// Calls is the number of calls checked; Foreign those not checked
	// because they began before the stream was opened.
	Calls   int `json:"calls"`
	Foreign int `json:"foreign"`
	// Unplaced counts the checked calls that no slot placed: the calls of
	// POST /v1/calls requests that failed, and calls ariapp started by
	// itself (a channel entering its Stasis application).
	Unplaced int `json:"unplaced"`
	// Violations lists every violation, global ones first, then per call
	// in the order found.
	Violations []Violation `json:"violations"`
}

// Finish returns the verdict. ours, if not nil, is the set of calls this
// run placed: each must have been seen from call_started (seq 1) to
// call_ended. Other calls are checked as far as they were seen.
func (c *Checker) Finish(ours map[string]bool) Summary {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := Summary{Events: map[app.EventName]int{}, Total: c.events, Lost: c.lost}
	for n, k := range c.counts {
		s.Events[n] = k
	}
	s.Violations = append(s.Violations, c.global...)
	ids := make([]string, 0, len(c.calls))
	for id := range c.calls {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		t := c.calls[id]
		if t.foreign {
			if ours[id] {
				s.Violations = append(s.Violations, Violation{CallID: id, Rule: "seq",
					Detail: fmt.Sprintf("first event seen was %s, not call_started seq 1", t.firstSeen)})
			} else {
				s.Foreign++
				continue
			}
		}
		s.Calls++
		if ours != nil && !ours[id] {
			s.Unplaced++
		}
		s.Violations = append(s.Violations, t.violations...)
		switch {
		case t.ended:
		case ours[id]:
			s.Violations = append(s.Violations, Violation{CallID: id, Rule: "missing", Detail: "no call_ended seen"})
		case ours != nil:
			// A failed POST /v1/calls (a shed call among them) means the
			// call does not exist: ariapp must have ended it.
			s.Violations = append(s.Violations, Violation{CallID: id, Rule: "missing",
				Detail: "no call_ended seen for a call no slot placed (its POST /v1/calls failed)"})
		}
	}
	var unseen []string
	for id := range ours {
		if c.calls[id] == nil {
			unseen = append(unseen, id)
		}
	}
	slices.Sort(unseen)
	for _, id := range unseen {
		s.Violations = append(s.Violations, Violation{CallID: id, Rule: "missing", Detail: "no event of this call was seen"})
	}
	return s
}

// violationCount is the number of violations found so far (for progress
// lines; Finish has the verdict).
func (c *Checker) violationCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.global)
	for _, t := range c.calls {
		if !t.foreign {
			n += len(t.violations)
		}
	}
	return n
}

// total is the number of events seen.
func (c *Checker) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.events
}

// started returns the ids of the calls seen from call_started on (not
// foreign).
func (c *Checker) started() map[string]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]bool, len(c.calls))
	for id, t := range c.calls {
		if !t.foreign {
			out[id] = true
		}
	}
	return out
}
