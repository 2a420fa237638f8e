package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/holdmusic"
)

// A call is an actor: one goroutine at a time (run) takes its messages from
// the mailbox and handles each to the end, waiting for Asterisk's
// confirming events in between (await). Each message type is handled by the
// call's method of the same name.
type message interface{ isMessage() }

type (
	// ariEvent is an ARI event of one of the call's channels, bridge or
	// playbacks.
	ariEvent struct{ ari.Event }
	// operation is a hold, resume, mute, unmute or hang-up requested
	// through App.
	operation struct {
		kind   opKind
		party  string
		dir    MuteDirection // of a mute or unmute
		source Source
		// music is what the held party hears (hold only; nil: the
		// configured default).
		music *holdmusic.Source
		reply chan result
	}
	// originateCaller is the first message of a call from App.Originate,
	// which holds an originate token for it. req is the requester's
	// context: the originate is given up when it ends.
	originateCaller struct {
		req   context.Context
		reply chan result
	}
	// rebuild is the first message of a call adopted after a restart;
	// calleeInStasis: a ringing call's callee answered while no ariapp ran;
	// subscribed: the resync subscribed to the call's bridge already.
	rebuild struct{ calleeInStasis, subscribed bool }
	// reconcile tells a running call what Asterisk has after a reconnect.
	reconcile struct{ asterisk *asteriskState }
	// answerTimeout: the callee rang for the configured answer timeout.
	answerTimeout struct{}
	// bridgeCheck: compare the bridge with the media rule (see
	// leftBridgeGrace).
	bridgeCheck struct{}
	// stopPeerMOH: stop music on hold Asterisk started by itself on a
	// party (see phoneHoldMOHRecheck).
	stopPeerMOH struct{ party *party }
	// endCall ends the call, queued behind the events already set aside.
	endCall struct{ cause, reason string }
	// partyLeft ends the call as the party's hang-up.
	partyLeft struct{ party *party }
	// holdReminder: the party's hold, begun at since, reached its next
	// reminder (see holdtimers.go).
	holdReminder struct {
		party *party
		since time.Time
	}
	// reminderEnd: the party's reminder tone has played its length.
	reminderEnd struct {
		party      *party
		playbackID string
	}
	// holdLimit: the party's hold, begun at since, reached
	// HoldTimers.MaxDuration.
	holdLimit struct {
		party *party
		since time.Time
	}
)

func (ariEvent) isMessage()         {}
func (*operation) isMessage()       {}
func (*originateCaller) isMessage() {}
func (rebuild) isMessage()          {}
func (reconcile) isMessage()        {}
func (answerTimeout) isMessage()    {}
func (bridgeCheck) isMessage()      {}
func (stopPeerMOH) isMessage()      {}
func (endCall) isMessage()          {}
func (partyLeft) isMessage()        {}
func (holdReminder) isMessage()     {}
func (reminderEnd) isMessage()      {}
func (holdLimit) isMessage()        {}

type opKind int

const (
	opHold opKind = iota
	opResume
	opHangup
	opMute
	opUnmute
)

type result struct {
	info CallInfo
	err  error
}

// run is the call's goroutine while it has work (see mailbox): it handles
// one message at a time until none is left, the call ends or the
// application closes. At most one runs per call, so the call's fields need
// no lock.
func (c *call) run(ctx context.Context) {
	defer c.app.wg.Done()
	ctx = ari.WithTag(ctx, ari.Tag{CallID: c.id})
	for c.state != CallEnded {
		m, ok, stopped := c.next(ctx)
		if !ok {
			if stopped {
				c.log.Debug("application closing; call left up in Asterisk")
				c.timers.stopAll()
				c.drain(ctx, ErrClosed)
			}
			return // idle: the next message starts a new goroutine
		}
		c.handle(ctx, m)
	}
	c.app.unroute(c)
	c.drain(ctx, ErrCallEnded)
}

// next returns the next message: set-aside ones first, then the
// mailbox's within idleLinger. ok is false when there is none: then either
// the goroutine is no longer the mailbox's reader (idle: a later message
// starts another) or, stopped, the application closes and it is still the
// reader, the only one that may drain the call.
func (c *call) next(ctx context.Context) (m message, ok, stopped bool) {
	if len(c.pending) > 0 {
		m := c.pending[0]
		c.pending = c.pending[1:]
		return m, true, false
	}
	if ctx.Err() != nil {
		return nil, false, true
	}
	return c.inbox.takeWithin(ctx.Done(), idleLinger)
}

// idleLinger is how long a call's goroutine waits for more work before it
// ends: a call that just worked often works again soon (the resume after a
// hold, the events of its next step), and a goroutine that lives on keeps
// the stack the ARI requests grew instead of growing a new one (stack
// growth was a twentieth of the binary's CPU under back-to-back holds).
// An idle call keeps no goroutine.
const idleLinger = 500 * time.Millisecond

func (c *call) handle(ctx context.Context, m message) {
	switch m := m.(type) {
	case ariEvent:
		c.ariEvent(ctx, m.Event)
	case *operation:
		info, err := c.operation(ctx, m)
		m.reply <- result{info, err}
	case *originateCaller:
		err := c.originateCaller(ctx, m.req)
		m.reply <- result{c.snapshot(), err}
	case rebuild:
		c.rebuild(ctx, m)
	case reconcile:
		if c.state != CallEnded {
			c.reconcile(ctx, m.asterisk)
		}
	case answerTimeout:
		c.answerTimeout(ctx)
	case bridgeCheck:
		c.bridgeCheck(ctx)
	case stopPeerMOH:
		c.stopPeerMOH(ctx, m.party)
	case endCall:
		c.endCall(ctx, m.cause, "", m.reason)
	case partyLeft:
		c.partyLeft(ctx, m.party)
	case holdReminder:
		c.holdReminder(ctx, m.party, m.since)
	case reminderEnd:
		c.reminderEnd(ctx, m.party, m.playbackID)
	case holdLimit:
		c.holdLimit(ctx, m.party, m.since)
	}
}

// drain answers every operation still waiting once the call cannot run
// them.
func (c *call) drain(ctx context.Context, err error) {
	rest := append(c.pending, c.inbox.close()...)
	c.pending = nil
	for _, m := range rest {
		switch m := m.(type) {
		case *operation:
			m.reply <- result{c.snapshot(), err}
		case *originateCaller:
			c.app.originateDone()
			m.reply <- result{c.snapshot(), err}
		case ariEvent:
			// A channel of this call that entered Stasis after the call
			// ended (e.g. an originate that timed out but went through):
			// nobody will ever handle it.
			if e, ok := m.Event.(*ari.StasisStart); ok && errors.Is(err, ErrCallEnded) {
				c.app.hangupStray(context.WithoutCancel(ctx), e.Channel.ID, "its call had ended")
			}
		}
	}
}

// later queues m behind the messages already set aside, to be handled once
// the current one is done.
func (c *call) later(m message) { c.pending = append(c.pending, m) }

// operation runs a hold, resume, mute, unmute or hang-up requested through
// App.
func (c *call) operation(ctx context.Context, op *operation) (CallInfo, error) {
	if c.state == CallEnded {
		return c.snapshot(), ErrCallEnded
	}
	switch op.kind {
	case opHangup:
		c.endCall(ctx, "hangup_requested", "", fmt.Sprintf("hang-up requested (%s)", op.source))
		return c.snapshot(), nil
	case opHold, opResume:
		p, err := c.partyByRef(op.party)
		if err != nil {
			return c.snapshot(), err
		}
		if op.kind == opHold {
			err = c.hold(ctx, p, op.source, op.music)
		} else {
			err = c.resume(ctx, p, op.source)
		}
		return c.snapshot(), err
	case opMute, opUnmute:
		p, err := c.partyByRef(op.party)
		if err != nil {
			return c.snapshot(), err
		}
		err = c.setMute(ctx, p, op.dir, op.kind == opMute, op.source)
		return c.snapshot(), err
	}
	return c.snapshot(), fmt.Errorf("app: unknown operation %d", op.kind)
}

// await takes messages until match reports the awaited event. Everything
// else is kept, in order, for after the operation. It fails when a party of
// the call leaves (errPartyGone), after the step timeout, or when the
// application closes.
func (c *call) await(ctx context.Context, what string, match func(ari.Event) bool) error {
	// An earlier wait may already have set aside the event we need.
	for i, m := range c.pending {
		if ev, ok := m.(ariEvent); ok && match(ev.Event) {
			c.pending = slices.Delete(c.pending, i, i+1)
			return nil
		}
	}
	if err := c.goneErr(); err != nil {
		return err
	}
	deadline := time.Now().Add(c.app.cfg.StepTimeout)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("%w: no %s within %v", ErrNotConfirmed, what, c.app.cfg.StepTimeout)
		}
		m, ok := c.inbox.get(ctx.Done(), left)
		if !ok {
			if ctx.Err() != nil {
				return ErrClosed
			}
			return fmt.Errorf("%w: no %s within %v", ErrNotConfirmed, what, c.app.cfg.StepTimeout)
		}
		ev, isEvent := m.(ariEvent)
		if isEvent {
			c.observe(ev.Event)
			if match(ev.Event) {
				return nil
			}
		}
		c.pending = append(c.pending, m)
		if isEvent {
			if err := c.goneErr(); err != nil {
				return err
			}
		}
	}
}

func (c *call) goneErr() error {
	for _, p := range c.parties() {
		if p.channel == channelGone {
			return fmt.Errorf("%w: %s (%s)", errPartyGone, p.role, p.channelID)
		}
	}
	return nil
}

// timers are the timers a call starts; each posts a message to the call and
// all stop when the call ends or the application closes. One of each kind
// runs at a time.
type timers struct {
	call *call
	t    [timerKinds]*time.Timer
}

type timerKind int

const (
	ringTimer       timerKind = iota // answerTimeout
	bridgeTimer                      // bridgeCheck
	mohRecheckTimer                  // stopPeerMOH
	// The hold timers run per party: the caller's kind, then the
	// callee's (see of).
	reminderTimer // holdReminder
	_
	reminderEndTimer // reminderEnd
	_
	holdLimitTimer // holdLimit
	_
	timerKinds
)

// of is the kind of p's own timer of a per-party kind.
func (k timerKind) of(p *party) timerKind {
	if p.role == Callee {
		return k + 1
	}
	return k
}

// start (re)starts the timer of kind k to post m after d.
func (t *timers) start(k timerKind, d time.Duration, m message) {
	if t.t[k] != nil {
		t.t[k].Stop()
	}
	inbox := t.call.inbox
	t.t[k] = time.AfterFunc(d, func() { inbox.put(m) })
}

func (t *timers) stop(k timerKind) {
	if t.t[k] != nil {
		t.t[k].Stop()
		t.t[k] = nil
	}
}

func (t *timers) stopAll() {
	for k := range t.t {
		t.stop(timerKind(k))
	}
}
