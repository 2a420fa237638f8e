package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ariapp/ariapp/api"
	"github.com/ariapp/ariapp/app"
)

// callTrack is what the event stream told about one call, for the slot
// that drives it.
type callTrack struct {
	answered chan struct{} // closed on call_answered
	ended    chan struct{} // closed on call_ended
	// endCause and endReason are call_ended's; set before ended is closed.
	endCause, endReason string
}

// tracker routes the event stream to the call slots. Events of a call may
// arrive before the reply to POST /v1/calls names it, so an entry is made
// by whichever comes first.
type tracker struct {
	mu    sync.Mutex
	calls map[string]*callTrack
}

func newTracker() *tracker { return &tracker{calls: map[string]*callTrack{}} }

func (t *tracker) get(id string) *callTrack {
	t.mu.Lock()
	defer t.mu.Unlock()
	ct := t.calls[id]
	if ct == nil {
		ct = &callTrack{answered: make(chan struct{}), ended: make(chan struct{})}
		t.calls[id] = ct
	}
	return ct
}

func (t *tracker) event(ev app.Event) {
	ct := t.get(ev.CallID)
	switch ev.Name {
	case app.EventCallAnswered:
		if !closed(ct.answered) {
			close(ct.answered)
		}
	case app.EventCallEnded:
		if !closed(ct.ended) {
			ct.endCause, ct.endReason = ev.Call.EndCause, ev.Reason
			close(ct.ended)
		}
	}
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// Operation kinds counted in the result.
const (
	opOriginate    = "originate"
	opHold         = "hold"
	opHoldNoop     = "hold_noop" // hold by a party that already holds: 200, no event
	opResume       = "resume"
	opBadResume    = "bad_resume" // resume by a non-holder: 409 not_holding
	opHangup       = "hangup"
	opHoldFailed   = "hold_failed"   // hold answered with an error and a hold_failed event
	opUnholdFailed = "unhold_failed" // resume answered 502 unhold_failed; the call was hung up
	opCheck        = "get_call"      // GET /v1/calls/{id} after a refused resume
)

// tally collects the run's counters; safe for concurrent use.
type tally struct {
	mu        sync.Mutex
	ops       map[string]int
	placed    []string
	answered  int
	refused   int // bad resumes refused with 409 not_holding, as expected
	endedBy   map[string]int
	unexp     int
	unexpList []string
	// shed counts the calls refused or given up for want of capacity, by
	// kind (see shedReply, setupTimedOut); shedList keeps the first few
	// for the report.
	shed     map[string]int
	shedList []string
	// missedSamples counts GET /v1/stats samples that failed during the
	// run (reported; the final one is checked apart).
	missedSamples int
	holdLat       []time.Duration
	resumeLat     []time.Duration
	// tooMany is closed when unexp reaches maxErrors (> 0).
	maxErrors int
	tooMany   chan struct{}
}

func newTally() *tally {
	return &tally{ops: map[string]int{}, endedBy: map[string]int{}, shed: map[string]int{}}
}

// shedOne records a call that could not be set up because the system was
// at capacity: an expected answer under load, judged by its share of the
// originates (-max-shed) and by the checks every call passes (its events,
// no leftover in Asterisk), not as an error.
func (t *tally) shedOne(kind, format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.shed[kind]++
	if len(t.shedList) < 10 {
		t.shedList = append(t.shedList, fmt.Sprintf(format, args...))
	}
}

func (t *tally) op(kind string) {
	t.mu.Lock()
	t.ops[kind]++
	t.mu.Unlock()
}

// unexpected records an HTTP error, a transport failure or a call that
// behaved otherwise than the lab's far ends make certain.
func (t *tally) unexpected(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.unexp++
	if len(t.unexpList) < 20 {
		t.unexpList = append(t.unexpList, fmt.Sprintf(format, args...))
	}
	if t.unexp == t.maxErrors && t.tooMany != nil {
		close(t.tooMany)
	}
}

// codeOverloaded is the error code of a POST /v1/calls that ariapp's
// admission control refuses (503 with Retry-After) because too many
// originates or ARI requests are in flight.
const codeOverloaded = "overloaded"

// Kinds of shed calls.
const (
	shedOverloaded = "overloaded"      // 503 overloaded: refused at once by admission control
	shedTimeout    = "ari_timeout"     // 504 timeout: Asterisk did not answer the originate within ariapp's ARI timeout
	shedSetup      = "setup_timed_out" // call_ended before the answer: a set-up step timed out in Asterisk
)

// shedReply tells whether a failed POST /v1/calls is a capacity answer: 503
// overloaded, or 504 timeout (ariapp gave up waiting for Asterisk and
// ended the call, reported by call_started and call_ended in the stream).
// Anything else (500, 502, 503 unavailable, 400) stays unexpected.
func shedReply(rep reply) (string, bool) {
	switch {
	case rep.Status == http.StatusServiceUnavailable && rep.Code == codeOverloaded:
		return shedOverloaded, true
	case rep.Status == http.StatusGatewayTimeout && rep.Code == api.CodeTimeout:
		return shedTimeout, true
	}
	return "", false
}

// setupTimedOut tells whether a call that ended before its answer did so
// because a set-up step waited too long for Asterisk (the callee's
// originate, the caller's answer): ariapp then ends the call with cause
// unavailable or setup_failed and a reason naming the deadline.
func setupTimedOut(ct *callTrack) bool {
	return (ct.endCause == "unavailable" || ct.endCause == "setup_failed") && strings.Contains(ct.endReason, "deadline exceeded")
}

// runner drives the call slots.
type runner struct {
	cfg   config
	api   *apiClient
	chk   *Checker
	tr    *tracker
	tally *tally
	// stop is closed at the deadline or on a signal: slots stop starting
	// operations and hang up their calls.
	stop <-chan struct{}
}

// liveCall is a slot's view of its current call.
type liveCall struct {
	id string
	ct *callTrack
	// info is the latest call info a reply carried (channel ids).
	info app.CallInfo
	// m is the model the replies are checked against.
	m model
	// changes are the hold/resume events the replies imply, for Reconcile.
	changes []string
	// uncertain: a request's outcome is unknown (transport error, timeout,
	// unexpected status): the replies cannot be reconciled with the events.
	uncertain bool
	// failed: the call saw hold_failed or unhold_failed, after which ariapp
	// may end it by itself.
	failed bool
}

// slot places calls one after the other until stop. After a call that
// could not be set up it waits about 1 s, doubling up to 30 s while set-ups
// keep failing, so an overloaded Asterisk is not flooded with originates it
// may still carry out late.
func (r *runner) slot(i int) {
	rng := rand.New(rand.NewPCG(r.cfg.seed, uint64(i)))
	backoff := time.Second
	for !closed(r.stop) {
		if r.oneCall(rng) {
			backoff = time.Second
			continue
		}
		r.pause(backoff/2 + time.Duration(rng.Int64N(int64(backoff))))
		backoff = min(2*backoff, 30*time.Second)
	}
}

// pause waits d, or until stop; false if stopped.
func (r *runner) pause(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.stop:
		return false
	}
}

// opPause draws the pause before a call's next operation: uniform in
// [0, 2×mean), so the mean is -op-interval.
func (r *runner) opPause(rng *rand.Rand) time.Duration {
	if r.cfg.opInterval <= 0 {
		return 0
	}
	return time.Duration(rng.Int64N(int64(2 * r.cfg.opInterval)))
}

func (r *runner) request(method, path string, body, out any) (reply, error) {
	ctx, cancel := context.WithTimeout(context.Background(), reqTimeout)
	defer cancel()
	return r.api.do(ctx, method, path, body, out)
}

// oneCall places a call, waits for call_answered, runs random operations
// until a hang-up, the call's end or stop, and settles the call. It
// returns false if the call could not be set up (POST /v1/calls failed or
// the call was not answered), so that the slot backs off.
func (r *runner) oneCall(rng *rand.Rand) bool {
	var info app.CallInfo
	rep, err := r.request(http.MethodPost, "/v1/calls", api.OriginateRequest{From: r.cfg.from, To: r.cfg.to}, &info)
	r.tally.op(opOriginate)
	if err != nil || rep.Status != http.StatusCreated {
		if kind, ok := shedReply(rep); err == nil && ok {
			r.tally.shedOne(kind, "POST /v1/calls: %v", rep)
			return false
		}
		r.tally.unexpected("POST /v1/calls: %v", errOr(err, rep))
		return false
	}
	c := &liveCall{id: info.CallID, ct: r.tr.get(info.CallID), info: info}
	c.m.state = app.CallRinging
	r.tally.mu.Lock()
	r.tally.placed = append(r.tally.placed, c.id)
	r.tally.mu.Unlock()
	if info.State != app.CallRinging {
		r.violation(c, "reply", "POST /v1/calls answered a call in state %q, want ringing", info.State)
	}

	answerWait := time.NewTimer(40 * time.Second)
	defer answerWait.Stop()
	select {
	case <-c.ct.answered:
	case <-c.ct.ended:
		if setupTimedOut(c.ct) {
			r.tally.shedOne(shedSetup, "call %s ended before it was answered: %s (%s)", c.id, c.ct.endCause, c.ct.endReason)
		} else {
			r.tally.unexpected("call %s ended before it was answered: %s (%s)", c.id, c.ct.endCause, c.ct.endReason)
		}
		r.settle(c, false)
		return false
	case <-answerWait.C:
		r.tally.unexpected("call %s: no call_answered within 40s", c.id)
		c.uncertain = true
		r.settle(c, true)
		return false
	}
	c.m.state = app.CallAnswered
	r.tally.mu.Lock()
	r.tally.answered++
	r.tally.mu.Unlock()

	for {
		if !r.pause(r.opPause(rng)) {
			break
		}
		if closed(c.ct.ended) {
			r.endedByAriapp(c)
			return true
		}
		var over bool
		p := rng.Float64()
		nonHolders := slices.DeleteFunc(slices.Clone(roles), c.m.holds)
		switch {
		case p < r.cfg.hangupProb:
			r.settle(c, true)
			return true
		case p < r.cfg.hangupProb+r.cfg.badResumeProb && len(nonHolders) > 0:
			over = r.badResume(c, nonHolders[rng.IntN(len(nonHolders))], rng)
		case len(c.m.holders) > 0 && rng.IntN(2) == 0:
			over = r.resume(c, c.m.holders[rng.IntN(len(c.m.holders))], rng)
		default:
			over = r.hold(c, roles[rng.IntN(2)], rng)
		}
		if over {
			return true
		}
	}
	r.settle(c, true)
	return true
}

// partyRef names the party in a request: usually "caller"/"callee", one
// time in five its channel id (the API accepts both).
func (c *liveCall) partyRef(p app.Role, rng *rand.Rand) string {
	if id := c.info.Party(p).ChannelID; id != "" && rng.IntN(5) == 0 {
		return id
	}
	return string(p)
}

func (r *runner) violation(c *liveCall, rule, format string, args ...any) {
	r.chk.Add(Violation{CallID: c.id, Rule: rule, Detail: fmt.Sprintf(format, args...)})
}

// checkReply compares a 200 reply's call info with the slot's model.
func (r *runner) checkReply(c *liveCall, what string, info *app.CallInfo) {
	if info.CallID != c.id {
		r.violation(c, "reply", "%s: reply is of call %q", what, info.CallID)
		return
	}
	for _, d := range c.m.mismatches(info, musicPeerHolds) {
		r.violation(c, "reply", "%s: %s", what, d)
	}
	c.info = *info
}

// gone reports whether a reply says the call no longer exists.
func gone(rep reply) bool {
	return rep.Code == api.CodeCallEnded || rep.Code == api.CodeCallNotFound
}

// hold asks party p to hold. It returns true when the call is over.
func (r *runner) hold(c *liveCall, p app.Role, rng *rand.Rand) bool {
	what := "hold by " + string(p)
	var info app.CallInfo
	t0 := time.Now()
	rep, err := r.request(http.MethodPost, "/v1/calls/"+c.id+"/hold", api.PartyRequest{Party: c.partyRef(p, rng)}, &info)
	lat := time.Since(t0)
	switch {
	case err != nil:
		r.tally.op(opHold)
		r.tally.unexpected("call %s: %s: %v", c.id, what, err)
		c.uncertain = true
		r.settle(c, true)
		return true
	case rep.Status == http.StatusOK:
		if c.m.holds(p) {
			r.tally.op(opHoldNoop)
		} else {
			r.tally.op(opHold)
			c.m.take(p)
			c.changes = append(c.changes, change(app.EventHoldSuccess, p))
			r.tally.mu.Lock()
			r.tally.holdLat = append(r.tally.holdLat, lat)
			r.tally.mu.Unlock()
		}
		r.checkReply(c, what, &info)
		return false
	case gone(rep):
		r.tally.op(opHold)
		return r.endedByAriapp(c)
	case rep.Code == api.CodeHoldFailed || rep.Code == api.CodeNotEstablished || rep.Code == api.CodeHoldRefused:
		// Each reports hold_failed (H5); only a failed ARI step (502) is
		// possible on an answered call with no hold policy.
		r.tally.op(opHoldFailed)
		c.changes = append(c.changes, change(app.EventHoldFailed, p))
		c.failed = true
		if rep.Code != api.CodeHoldFailed {
			r.tally.unexpected("call %s: %s: %v", c.id, what, rep)
		}
		return false
	default:
		r.tally.op(opHold)
		r.tally.unexpected("call %s: %s: %v", c.id, what, rep)
		c.uncertain = true
		r.settle(c, true)
		return true
	}
}

// resume asks holder p to resume. It returns true when the call is over.
func (r *runner) resume(c *liveCall, p app.Role, rng *rand.Rand) bool {
	what := "resume by " + string(p)
	var info app.CallInfo
	t0 := time.Now()
	rep, err := r.request(http.MethodPost, "/v1/calls/"+c.id+"/unhold", api.PartyRequest{Party: c.partyRef(p, rng)}, &info)
	lat := time.Since(t0)
	switch {
	case err != nil:
		r.tally.op(opResume)
		r.tally.unexpected("call %s: %s: %v", c.id, what, err)
		c.uncertain = true
		r.settle(c, true)
		return true
	case rep.Status == http.StatusOK:
		r.tally.op(opResume)
		c.m.release(p)
		c.changes = append(c.changes, change(app.EventUnholdSuccess, p))
		r.tally.mu.Lock()
		r.tally.resumeLat = append(r.tally.resumeLat, lat)
		r.tally.mu.Unlock()
		r.checkReply(c, what, &info)
		return false
	case rep.Code == api.CodeUnholdFailed:
		// R3: unhold_failed, then ariapp hangs the call up.
		r.tally.op(opUnholdFailed)
		c.changes = append(c.changes, change(app.EventUnholdFailed, p))
		c.failed = true
		return r.endedByAriapp(c)
	case gone(rep):
		r.tally.op(opResume)
		return r.endedByAriapp(c)
	case rep.Code == api.CodeNotHolding:
		r.tally.op(opResume)
		r.violation(c, "R1", "%s, which holds per the replies (holders %v), refused: %v", what, c.m.holders, rep)
		c.uncertain = true
		r.settle(c, true)
		return true
	default:
		r.tally.op(opResume)
		r.tally.unexpected("call %s: %s: %v", c.id, what, rep)
		c.uncertain = true
		r.settle(c, true)
		return true
	}
}

// badResume asks p, which does not hold, to resume: SPEC R1 wants a clear
// refusal (409 not_holding), no event, and nothing changed, which a GET of
// the call then checks.
func (r *runner) badResume(c *liveCall, p app.Role, rng *rand.Rand) bool {
	what := "resume by non-holder " + string(p)
	var info app.CallInfo
	rep, err := r.request(http.MethodPost, "/v1/calls/"+c.id+"/unhold", api.PartyRequest{Party: c.partyRef(p, rng)}, &info)
	r.tally.op(opBadResume)
	switch {
	case err != nil:
		r.tally.unexpected("call %s: %s: %v", c.id, what, err)
		c.uncertain = true
		r.settle(c, true)
		return true
	case rep.Status == http.StatusConflict && rep.Code == api.CodeNotHolding:
		r.tally.mu.Lock()
		r.tally.refused++
		r.tally.mu.Unlock()
	case gone(rep):
		return r.endedByAriapp(c)
	case rep.Status == http.StatusOK:
		r.violation(c, "R1", "%s accepted (200), want 409 not_holding; holders per the replies %v, reply %v", what, c.m.holders, info.Holders)
		c.uncertain = true
		r.settle(c, true)
		return true
	default:
		r.tally.unexpected("call %s: %s: %v, want 409 not_holding", c.id, what, rep)
		c.uncertain = true
		r.settle(c, true)
		return true
	}
	rep, err = r.request(http.MethodGet, "/v1/calls/"+c.id, nil, &info)
	r.tally.op(opCheck)
	switch {
	case err != nil:
		r.tally.unexpected("call %s: GET after a refused resume: %v", c.id, err)
		return false
	case gone(rep):
		return r.endedByAriapp(c)
	case rep.Status != http.StatusOK:
		r.tally.unexpected("call %s: GET after a refused resume: %v", c.id, rep)
		return false
	}
	r.checkReply(c, "after the refused "+what, &info)
	return false
}

// endedByAriapp handles a call that ended without this slot hanging it up.
// After hold_failed or unhold_failed that is allowed (rollback failure, R3);
// otherwise the lab's far ends never hang up, so it is unexpected. Always
// returns true (the call is over).
func (r *runner) endedByAriapp(c *liveCall) bool {
	if !r.awaitEnd(c) {
		return true
	}
	r.tally.mu.Lock()
	r.tally.endedBy[c.ct.endCause]++
	r.tally.mu.Unlock()
	if !c.failed {
		r.tally.unexpected("call %s ended by itself: %s (%s)", c.id, c.ct.endCause, c.ct.endReason)
	}
	r.reconcile(c)
	return true
}

// settle ends the slot's call: hang it up if hangup is set (and the call is
// not over already), wait for call_ended and reconcile the replies with the
// events.
func (r *runner) settle(c *liveCall, hangup bool) {
	if hangup && !closed(c.ct.ended) {
		var info app.CallInfo
		rep, err := r.request(http.MethodDelete, "/v1/calls/"+c.id, nil, &info)
		r.tally.op(opHangup)
		switch {
		case err != nil:
			r.tally.unexpected("call %s: DELETE: %v", c.id, err)
			c.uncertain = true
		case rep.Status == http.StatusOK:
			if info.State != app.CallEnded {
				r.violation(c, "reply", "DELETE answered state %q, want ended", info.State)
			}
		case gone(rep):
			r.endedByAriapp(c)
			return
		default:
			r.tally.unexpected("call %s: DELETE: %v", c.id, rep)
			c.uncertain = true
		}
	}
	if !r.awaitEnd(c) {
		return
	}
	r.tally.mu.Lock()
	r.tally.endedBy[c.ct.endCause]++
	r.tally.mu.Unlock()
	r.reconcile(c)
}

// awaitEnd waits for the call's call_ended event.
func (r *runner) awaitEnd(c *liveCall) bool {
	t := time.NewTimer(15 * time.Second)
	defer t.Stop()
	select {
	case <-c.ct.ended:
		return true
	case <-t.C:
		r.tally.unexpected("call %s: no call_ended within 15s of its end", c.id)
		return false
	}
}

func (r *runner) reconcile(c *liveCall) {
	if !c.uncertain {
		r.chk.Reconcile(c.id, c.changes)
	}
}

func errOr(err error, rep reply) any {
	if err != nil {
		return err
	}
	return rep
}
