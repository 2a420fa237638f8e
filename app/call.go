package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/holdmusic"
)

type cmdKind int

const (
	cmdHold cmdKind = iota
	cmdResume
	cmdHangup
)

// command is an operation requested from outside the call's goroutine.
type command struct {
	kind   cmdKind
	party  string
	source Source
	reply  chan result
}

type result struct {
	info CallInfo
	err  error
}

// answerTimeout is posted by the ring timer.
type answerTimeout struct{}

// party is one side of a call; owned by the call's goroutine.
type party struct {
	role      Role
	channelID string
	endpoint  string
	holds     bool
	holdSince time.Time
	// music is the hold music running on this party (its peer holds).
	music *holdmusic.Playing
	// recorded: VarHeld is set on this channel (music that Asterisk keeps
	// no trace of, or a record of an older ariapp), so it must be cleared.
	recorded bool
	inBridge bool
	// created: the channel exists in Asterisk (caller always; callee once
	// originated), so ending the call must hang it up.
	created  bool
	gone     bool // left Stasis or destroyed
	inStasis bool
	cause    int
	causeTx  string
	// digits are the party's recent DTMF digits, for feature codes.
	digits    string
	lastDigit time.Time
}

// call is one two-party call. Its fields are owned by run's goroutine; other
// goroutines read only the snapshot.
type call struct {
	app   *App
	id    string
	log   *zap.Logger
	inbox *mailbox
	// pending holds messages taken from the inbox while an operation waited
	// for a specific event; they are handled, in order, after it.
	pending []any

	state            CallState
	caller, callee   *party
	holders          []Role
	bridgeID         string
	bridgeCreated    bool
	bridgeGone       bool
	target           string
	callerID         ari.CallerID
	dialStatus       string // the callee's last Dial status
	callerDialStatus string // the caller's, when ariapp originated it
	// originated: ariapp dialled the caller itself (App.Originate).
	originated bool
	finished   map[string]string // playback id -> final state, as observed
	holdCount  int
	seq        uint64
	startedAt  time.Time
	answeredAt time.Time
	endedAt    time.Time
	endCause   string
	ringTimer  *time.Timer
	ended      bool
	snap       atomic.Pointer[CallInfo]
	// routeIDs are the ids routed to this call; guarded by app.mu.
	routeIDs map[string]struct{}
}

func newCall(a *App, id string, e *ari.StasisStart) *call {
	c := &call{
		app:      a,
		id:       id,
		inbox:    newMailbox(nil),
		caller:   &party{role: Caller, channelID: e.Channel.ID, endpoint: endpointOf(e.Channel.Name), created: true},
		callee:   &party{role: Callee, channelID: id + "-callee"},
		bridgeID: id + "-bridge",
		finished: map[string]string{},
		callerID: e.Channel.Caller,
		state:    CallRinging,
	}
	c.startedAt = time.Now()
	if len(e.Args) > 1 {
		c.target = e.Args[1]
		c.callee.endpoint = c.target
	}
	c.log = a.log.With(zap.String("call_id", id))
	c.updateSnapshot()
	return c
}

// runOn makes the call's mailbox start run (with the App's lifetime
// context) whenever a message arrives and no goroutine handles the call.
// It must be called before anyone else can see the call.
func (c *call) runOn(ctx context.Context) {
	c.inbox.start = func() {
		c.app.wg.Add(1)
		go c.run(ctx)
	}
}

// run is the call's goroutine while it has work (see mailbox): it handles
// one message at a time until none is left, the call ends or the
// application closes. At most one runs per call, so the call's fields need
// no lock.
func (c *call) run(ctx context.Context) {
	defer c.app.wg.Done()
	for !c.ended {
		m, ok := c.next(ctx)
		if !ok {
			if ctx.Err() != nil {
				c.log.Debug("application closing; call left up in Asterisk")
				c.stopRingTimer()
				c.drain(ctx, ErrClosed)
			}
			return // idle: the next message starts a new goroutine
		}
		c.handle(ctx, m)
	}
	c.app.unroute(c)
	c.drain(ctx, ErrCallEnded)
}

// drain answers every command still waiting once the call cannot run them.
func (c *call) drain(ctx context.Context, err error) {
	rest := append(c.pending, c.inbox.close()...)
	c.pending = nil
	for _, m := range rest {
		switch m := m.(type) {
		case *command:
			m.reply <- result{c.snapshot(), err}
		case *ari.StasisStart:
			// A channel of this call that entered Stasis after the call
			// ended (e.g. an originate that timed out but went through):
			// nobody will ever handle it.
			if errors.Is(err, ErrCallEnded) {
				c.app.hangupStray(context.WithoutCancel(ctx), m.Channel.ID, "its call had ended")
			}
		}
	}
}

// stopRingTimer stops the answer timeout, if any: it would only knock on a
// closed mailbox.
func (c *call) stopRingTimer() {
	if c.ringTimer != nil {
		c.ringTimer.Stop()
	}
}

// next returns the next message without waiting: set-aside ones first,
// then the mailbox's. ok is false when there is none (the goroutine ends)
// or the application closes.
func (c *call) next(ctx context.Context) (any, bool) {
	if len(c.pending) > 0 {
		m := c.pending[0]
		c.pending = c.pending[1:]
		return m, true
	}
	if ctx.Err() != nil {
		return nil, false
	}
	return c.inbox.take()
}

func (c *call) handle(ctx context.Context, m any) {
	switch m := m.(type) {
	case ari.Event:
		c.onEvent(ctx, m)
	case *command:
		info, err := c.onCommand(ctx, m)
		m.reply <- result{info, err}
	case originateCaller:
		err := c.originateCaller(ctx)
		m.reply <- result{c.snapshot(), err}
	case rebuild:
		c.rebuildCall(ctx)
	case strayCheck:
		c.checkBridge(ctx)
	case stopPeerMOH:
		c.stopAsteriskMOH(ctx, m.p)
	case *asteriskState:
		if !c.ended {
			c.reconcile(ctx, m)
		}
	case endRequest:
		c.end(ctx, m.cause, "", m.reason)
	case partyGone:
		c.partyLeft(ctx, m.p)
	case answerTimeout:
		if c.state == CallRinging {
			c.end(ctx, "no_answer", "", fmt.Sprintf("callee %s did not answer within %v", c.target, c.app.cfg.AnswerTimeout))
		}
	}
}

func (c *call) partyByChannel(id string) *party {
	switch id {
	case "":
		return nil
	case c.caller.channelID:
		return c.caller
	case c.callee.channelID:
		return c.callee
	}
	return nil
}

// partyByRef resolves "caller", "callee" or a channel id.
func (c *call) partyByRef(ref string) (*party, error) {
	switch Role(ref) {
	case Caller:
		return c.caller, nil
	case Callee:
		return c.callee, nil
	}
	if p := c.partyByChannel(ref); p != nil {
		return p, nil
	}
	return nil, fmt.Errorf("%w: %q is not caller, callee or a channel of call %s", ErrUnknownParty, ref, c.id)
}

func (c *call) peer(p *party) *party {
	if p == c.caller {
		return c.callee
	}
	return c.caller
}

// observe records facts from an event; it is idempotent, because an event
// seen while an operation waits is handled again afterwards.
func (c *call) observe(ev ari.Event) {
	switch e := ev.(type) {
	case *ari.PlaybackFinished:
		c.finished[e.Playback.ID] = e.Playback.State
	case *ari.ChannelHangupRequest:
		// A soft request's "cause" is a flag (4 shutdown, 32 ARI), not a
		// Q.850 cause.
		if p := c.partyByChannel(e.Channel.ID); p != nil && e.Cause != 0 && !e.Soft {
			p.cause = e.Cause
		}
	case *ari.StasisEnd:
		if p := c.partyByChannel(e.Channel.ID); p != nil {
			p.gone = true
		}
	case *ari.ChannelDestroyed:
		if p := c.partyByChannel(e.Channel.ID); p != nil {
			p.gone = true
			if e.Cause != 0 {
				p.cause, p.causeTx = e.Cause, e.CauseTxt
			}
		}
	case *ari.Dial:
		if e.Peer.ID == c.callee.channelID && e.Dialstatus != "" {
			c.dialStatus = e.Dialstatus
		}
		if e.Peer.ID == c.caller.channelID && e.Dialstatus != "" {
			c.callerDialStatus = e.Dialstatus
		}
	case *ari.BridgeDestroyed:
		if e.Bridge.ID == c.bridgeID {
			c.bridgeGone = true
		}
	}
}

func (c *call) onEvent(ctx context.Context, ev ari.Event) {
	c.observe(ev)
	switch e := ev.(type) {
	case *ari.StasisStart:
		// A resync may have acted on a channel before its StasisStart was
		// routed: each party starts once.
		switch e.Channel.ID {
		case c.caller.channelID:
			if !c.caller.inStasis {
				c.caller.inStasis = true
				c.start(ctx)
			}
		case c.callee.channelID:
			if !c.callee.inStasis {
				c.callee.inStasis = true
				c.answered(ctx)
			}
		}
	case *ari.StasisEnd:
		if p := c.partyByChannel(e.Channel.ID); p != nil {
			c.partyLeft(ctx, p)
		}
	case *ari.ChannelDestroyed:
		if p := c.partyByChannel(e.Channel.ID); p != nil {
			c.partyLeft(ctx, p)
		}
	case *ari.PlaybackFinished:
		c.musicFinished(ctx, e)
	case *ari.ChannelHold:
		// The phone's own hold key (a re-INVITE with sendonly, inactive or
		// 0.0.0.0): the same hold as from the API.
		if p := c.partyByChannel(e.Channel.ID); p != nil {
			c.request(ctx, p, cmdHold, SourcePhone)
		}
	case *ari.ChannelUnhold:
		if p := c.partyByChannel(e.Channel.ID); p != nil {
			c.request(ctx, p, cmdResume, SourcePhone)
		}
	case *ari.ChannelDtmfReceived:
		if p := c.partyByChannel(e.Channel.ID); p != nil {
			c.dtmf(ctx, p, e.Digit)
		}
	case *ari.ChannelLeftBridge:
		// ariapp's own moves consume their ChannelLeftBridge while they
		// wait for it; one that arrives here for a party that should be in
		// the bridge was done by someone else.
		if p := c.partyByChannel(e.Channel.ID); p != nil && e.Bridge.ID == c.bridgeID && p.inBridge && c.state == CallAnswered && !p.gone {
			// A hang-up also takes the channel out of the bridge first, its
			// StasisEnd follows: look again a moment later.
			p.inBridge = false
			time.AfterFunc(strayCheckDelay, func() { c.inbox.put(strayCheck{}) })
		}
	case *ari.BridgeDestroyed:
		if e.Bridge.ID == c.bridgeID && c.state == CallAnswered && len(c.holders) == 0 {
			c.end(ctx, "bridge_destroyed", "", "the call's bridge was destroyed by another ARI client")
		} else if e.Bridge.ID == c.bridgeID {
			c.log.Warn("the call's bridge was destroyed by another ARI client while on hold; a resume will fail and end the call",
				zap.String("bridge_id", c.bridgeID))
		}
	}
}

// strayCheckDelay is how long after an unexplained ChannelLeftBridge the
// call looks at its bridge again: long enough for a hang-up's StasisEnd.
const strayCheckDelay = 250 * time.Millisecond

// strayCheck asks the call to compare its bridge with the media rule.
type strayCheck struct{}

// checkBridge ends a call whose bridge another ARI client destroyed, or from
// which it took a party: the parties would be left in silence otherwise.
func (c *call) checkBridge(ctx context.Context) {
	if c.ended || c.state != CallAnswered {
		return
	}
	bridges, err := c.app.ari.Bridges(ctx)
	if err != nil {
		c.log.Warn("checking the bridge failed", zap.String("bridge_id", c.bridgeID), zap.Error(err))
		return
	}
	i := slices.IndexFunc(bridges, func(b ari.Bridge) bool { return b.ID == c.bridgeID })
	if i < 0 {
		c.bridgeGone = true
		c.end(ctx, "bridge_destroyed", "", "the call's bridge was destroyed by another ARI client")
		return
	}
	for _, p := range []*party{c.caller, c.callee} {
		if !c.peer(p).holds && !slices.Contains(bridges[i].Channels, p.channelID) {
			c.end(ctx, "bridge_broken", "", fmt.Sprintf("%s (%s) was taken out of the bridge by another ARI client", p.role, p.channelID))
			return
		}
	}
}

// partyLeft ends the call when one of its channels is gone.
func (c *call) partyLeft(ctx context.Context, p *party) {
	if c.ended {
		return
	}
	if p == c.callee && c.state == CallRinging {
		cause, reason := c.dialOutcome(c.callee, c.target, c.dialStatus)
		c.end(ctx, cause, "", reason)
		return
	}
	if p == c.caller && !p.inStasis {
		// A caller ariapp originated (API) that never answered.
		cause, reason := c.dialOutcome(c.caller, c.caller.endpoint, c.callerDialStatus)
		c.end(ctx, "caller_"+cause, "", reason)
		return
	}
	reason := fmt.Sprintf("%s hung up", p.role)
	if p.cause != 0 {
		reason += fmt.Sprintf(" (cause %d)", p.cause)
		if p.causeTx != "" {
			reason = strings.TrimSuffix(reason, ")") + " " + p.causeTx + ")"
		}
	}
	c.end(ctx, string(p.role)+"_hangup", p.role, reason)
}

// dialOutcome names why a ringing callee went away, from Dial's status or
// the hangup cause (Asterisk reports Local channels' busy as cause 0 with
// Dial status BUSY).
func (c *call) dialOutcome(p *party, target, status string) (cause, reason string) {
	st, q := status, p.cause
	switch {
	case st == "BUSY" || q == 17:
		cause = "busy"
	case st == "NOANSWER" || q == 18 || q == 19:
		cause = "no_answer"
	case st == "CONGESTION" || q == 34 || q == 38 || q == 42:
		cause = "congestion"
	case st == "CHANUNAVAIL" || q == 20 || q == 1 || q == 3 || q == 27:
		cause = "unavailable"
	case q == 21:
		cause = "rejected"
	default:
		// Gone before ringing with no status: the target could not be
		// reached (e.g. an extension that does not exist).
		cause = "unavailable"
	}
	reason = fmt.Sprintf("%s %s: dial status %q, cause %d", p.role, target, st, q)
	if p.causeTx != "" {
		reason += " " + p.causeTx
	}
	return cause, reason
}

// hangupReasonFor maps a call_ended cause to the reason the caller's channel
// is hung up with, so the caller's phone shows busy, no answer, and so on.
func hangupReasonFor(cause string) ari.HangupReason {
	switch cause {
	case "busy":
		return ari.HangupBusy
	case "no_answer":
		return ari.HangupNoAnswer
	case "congestion", "unavailable":
		return ari.HangupCongestion
	case "rejected":
		return ari.HangupRejected
	case "no_target":
		return ari.HangupUnallocated
	}
	return ari.HangupNormal
}

// originateCaller is the first message of a call from App.Originate.
type originateCaller struct{ reply chan result }

// originateCaller rings the caller of an API call; the call goes on when it
// answers and enters Stasis with dial,TARGET.
func (c *call) originateCaller(ctx context.Context) error {
	c.emit(EventCallStarted, "", SourceAPI, "")
	c.caller.created = true
	_, err := c.app.ari.Originate(ctx, ari.OriginateParams{
		Endpoint:  c.caller.endpoint,
		ChannelID: c.caller.channelID,
		App:       c.app.ari.Application(),
		AppArgs:   []string{ArgDial, c.target},
		Timeout:   c.app.cfg.AnswerTimeout,
		Formats:   c.app.cfg.OriginateFormats,
	})
	if err != nil {
		// Without an answer from Asterisk the channel may exist anyway:
		// then end() hangs it up (and a late StasisStart of it is refused).
		c.caller.created = errors.Is(err, ari.ErrUnreachable)
		c.end(ctx, "caller_unavailable", "", fmt.Sprintf("originate %s failed: %v", c.caller.endpoint, err))
		return fmt.Errorf("originate %s: %w", c.caller.endpoint, err)
	}
	return nil
}

// start handles the caller's StasisStart: ring back and originate the callee.
func (c *call) start(ctx context.Context) {
	if !c.originated {
		c.emit(EventCallStarted, "", "", "")
	}
	if c.target == "" {
		c.end(ctx, "no_target", "", "Stasis was entered with 'dial' but no target")
		return
	}
	if err := c.app.ari.Ring(ctx, c.caller.channelID); err != nil {
		// Ringback is a courtesy; the call can go on without it.
		c.log.Warn("ringback to caller failed", zap.String("channel_id", c.caller.channelID), zap.Error(err))
	}
	cid := ""
	if c.callerID.Number != "" || c.callerID.Name != "" {
		cid = fmt.Sprintf("%q <%s>", c.callerID.Name, c.callerID.Number)
	}
	c.callee.created = true
	_, err := c.app.ari.Originate(ctx, ari.OriginateParams{
		Endpoint:   c.target,
		ChannelID:  c.callee.channelID,
		App:        c.app.ari.Application(),
		AppArgs:    []string{ArgCallee, c.id},
		CallerID:   cid,
		Originator: c.caller.channelID,
		// ariapp's own timer decides no-answer; Asterisk's is a backstop.
		Timeout: c.app.cfg.AnswerTimeout + 5*time.Second,
	})
	if err != nil {
		c.callee.created = errors.Is(err, ari.ErrUnreachable) // see originateCaller
		if errors.Is(err, ari.ErrChannelNotFound) {
			// "Provided originator channel was not found": the caller hung
			// up before the callee could be dialled.
			c.caller.gone = true
			c.partyLeft(ctx, c.caller)
			return
		}
		cause := "unavailable"
		if errors.Is(err, ari.ErrBadRequest) {
			cause = "no_target"
		}
		c.end(ctx, cause, "", fmt.Sprintf("originate %s failed: %v", c.target, err))
		return
	}
	c.ringTimer = time.AfterFunc(c.app.cfg.AnswerTimeout, func() { c.inbox.put(answerTimeout{}) })
}

// answered handles the callee's StasisStart: answer the caller and bridge both.
func (c *call) answered(ctx context.Context) {
	if c.state != CallRinging {
		return
	}
	c.stopRingTimer()
	fail := func(step string, err error) {
		c.end(ctx, "setup_failed", "", fmt.Sprintf("%s: %v", step, err))
	}
	if err := c.app.ari.Answer(ctx, c.caller.channelID); err != nil {
		fail("answer caller", err)
		return
	}
	c.bridgeCreated = true
	if _, err := c.app.ari.CreateBridge(ctx, c.bridgeID, c.app.bridgeType(), "ariapp-"+c.id); err != nil {
		c.bridgeCreated = false
		fail("create bridge", err)
		return
	}
	// Without a subscription Asterisk sends no BridgeDestroyed.
	if _, err := c.app.ari.Subscribe(ctx, "bridge:"+c.bridgeID); err != nil {
		c.log.Warn("subscribing to the bridge failed; its destruction will go unnoticed until a resume", zap.String("bridge_id", c.bridgeID), zap.Error(err))
	}
	if err := c.app.ari.AddChannel(ctx, c.bridgeID, c.caller.channelID, c.callee.channelID); err != nil {
		fail("bridge both parties", err)
		return
	}
	want := map[string]bool{c.caller.channelID: true, c.callee.channelID: true}
	if err := c.await(ctx, "both parties entering the bridge", func(ev ari.Event) bool {
		if e, ok := ev.(*ari.ChannelEnteredBridge); ok && e.Bridge.ID == c.bridgeID {
			delete(want, e.Channel.ID)
		}
		return len(want) == 0
	}); err != nil {
		fail("bridge both parties", err)
		return
	}
	c.caller.inBridge, c.callee.inBridge = true, true
	// Written before call_answered: from then on a restarted ariapp must be
	// able to rebuild the call from the channels.
	for _, p := range []*party{c.caller, c.callee} {
		c.setVars(ctx, p,
			VarCallID, c.id,
			VarRole, string(p.role),
			VarPeer, c.peer(p).channelID,
			VarBridge, c.bridgeID)
	}
	c.state = CallAnswered
	c.answeredAt = time.Now()
	c.emit(EventCallAnswered, "", "", "")
}

func (c *call) onCommand(ctx context.Context, cmd *command) (CallInfo, error) {
	if c.ended {
		return c.snapshot(), ErrCallEnded
	}
	switch cmd.kind {
	case cmdHangup:
		c.end(ctx, "hangup_requested", "", fmt.Sprintf("hang-up requested (%s)", cmd.source))
		return c.snapshot(), nil
	case cmdHold, cmdResume:
		p, err := c.partyByRef(cmd.party)
		if err != nil {
			return c.snapshot(), err
		}
		if cmd.kind == cmdHold {
			err = c.hold(ctx, p, cmd.source)
		} else {
			err = c.resume(ctx, p, cmd.source)
		}
		return c.snapshot(), err
	}
	return c.snapshot(), fmt.Errorf("app: unknown command %d", cmd.kind)
}

// await takes messages until match reports the awaited event. Everything
// else is kept, in order, for after the operation. It fails when a party of
// the call leaves (errPartyGone), after the step timeout, or when the
// application closes.
func (c *call) await(ctx context.Context, what string, match func(ari.Event) bool) error {
	// An earlier wait may already have set aside the event we need.
	for i, m := range c.pending {
		if ev, ok := m.(ari.Event); ok && match(ev) {
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
			return fmt.Errorf("no %s within %v", what, c.app.cfg.StepTimeout)
		}
		m, ok := c.inbox.get(ctx.Done(), left)
		if !ok {
			if ctx.Err() != nil {
				return ErrClosed
			}
			return fmt.Errorf("no %s within %v", what, c.app.cfg.StepTimeout)
		}
		ev, isEvent := m.(ari.Event)
		if isEvent {
			c.observe(ev)
			if match(ev) {
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
	for _, p := range []*party{c.caller, c.callee} {
		if p.gone {
			return fmt.Errorf("%w: %s (%s)", errPartyGone, p.role, p.channelID)
		}
	}
	return nil
}

// end hangs up everything the call has in Asterisk and reports call_ended.
// by is the party whose hang-up ended the call, if any.
func (c *call) end(ctx context.Context, cause string, by Role, reason string) {
	if c.ended {
		return
	}
	c.ended = true
	c.stopRingTimer()
	// Cleanup must run even while the application closes. Hanging a
	// channel up also ends its hold music: no separate stop.
	ctx = context.WithoutCancel(ctx)
	for _, p := range []*party{c.caller, c.callee} {
		p.music = nil
		if !p.created || p.gone {
			continue
		}
		c.app.abandon(p.channelID)
		if err := retry(ctx, func() error { return c.app.ari.Hangup(ctx, p.channelID, hangupReasonFor(cause)) }); err != nil && !errors.Is(err, ari.ErrNotFound) {
			c.log.Warn("hangup failed", zap.String("party", string(p.role)), zap.String("channel_id", p.channelID), zap.Error(err))
		}
	}
	if c.bridgeCreated && !c.bridgeGone {
		if err := retry(ctx, func() error { return c.app.ari.DestroyBridge(ctx, c.bridgeID) }); err != nil && !errors.Is(err, ari.ErrNotFound) {
			c.log.Warn("destroying the bridge failed", zap.String("bridge_id", c.bridgeID), zap.Error(err))
		}
	}
	c.state = CallEnded
	c.endedAt = time.Now()
	c.endCause = cause
	c.emit(EventCallEnded, by, "", reason)
}

// retry runs a clean-up request again when Asterisk could not be reached
// or failed internally (an overloaded Asterisk refuses HTTP sessions): a
// clean-up given up leaves a channel or bridge behind for good.
func retry(ctx context.Context, do func() error) error {
	err := do()
	for _, d := range []time.Duration{100 * time.Millisecond, 400 * time.Millisecond, time.Second} {
		if !errors.Is(err, ari.ErrUnreachable) && !errors.Is(err, ari.ErrServer) {
			return err
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		err = do()
	}
	return err
}

// musicFinished restarts a sounds list that ended normally and reports
// hold music that failed (the held party then hears silence).
func (c *call) musicFinished(ctx context.Context, e *ari.PlaybackFinished) {
	for _, p := range []*party{c.caller, c.callee} {
		if p.music == nil || p.music.PlaybackID != e.Playback.ID || p.gone {
			continue
		}
		if e.Playback.State != "done" {
			c.log.Error("hold music ended unexpectedly; the held party hears silence",
				zap.String("party", string(p.role)), zap.String("channel_id", p.channelID),
				zap.String("playback_id", e.Playback.ID), zap.String("state", e.Playback.State))
			return
		}
		c.app.route(p.music.NextPlaybackID(), c)
		delete(c.finished, e.Playback.ID)
		c.app.unrouteID(e.Playback.ID, c)
		if _, err := c.app.music.Restart(ctx, c.app.ari, p.music); err != nil {
			c.log.Error("restarting hold music failed", zap.String("party", string(p.role)),
				zap.String("channel_id", p.channelID), zap.Error(err))
		}
		return
	}
}

// setVars writes channel variables (name, value pairs). They let a restarted
// ariapp rebuild the call; a failure is logged, not fatal. Never call it on
// a channel with a playback running (see VarHeld).
func (c *call) setVars(ctx context.Context, p *party, kv ...string) {
	if p.gone {
		return
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if err := c.app.ari.SetVar(ctx, p.channelID, kv[i], kv[i+1]); err != nil {
			c.log.Warn("writing channel variable failed", zap.String("party", string(p.role)),
				zap.String("channel_id", p.channelID), zap.String("variable", kv[i]), zap.Error(err))
			return
		}
	}
}

// setVarsAsync runs setVars beside the operation's next ARI request and
// returns the function that waits for it, so the write costs no latency.
func (c *call) setVarsAsync(ctx context.Context, p *party, kv ...string) (wait func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.setVars(ctx, p, kv...)
	}()
	return func() { <-done }
}

// emit reports one state change: snapshot, log line, subscribers, metrics.
func (c *call) emit(name EventName, by Role, src Source, reason string) {
	c.seq++
	info := c.updateSnapshot()
	ev := Event{Name: name, CallID: c.id, Seq: c.seq, Party: by, Source: src, Reason: reason, Time: time.Now(), Call: info}
	logEvent(c.app.log, &ev)
	c.app.hub.publish(ev)
}

func (c *call) snapshot() CallInfo {
	return *c.snap.Load()
}

func (c *call) updateSnapshot() CallInfo {
	info := CallInfo{
		CallID:    c.id,
		State:     c.state,
		Caller:    c.partyInfo(c.caller),
		Callee:    c.partyInfo(c.callee),
		Holders:   slices.Clone(c.holders),
		StartedAt: c.startedAt,
		EndCause:  c.endCause,
	}
	if info.Holders == nil {
		info.Holders = []Role{}
	}
	if c.bridgeCreated {
		info.BridgeID = c.bridgeID
	}
	if !c.answeredAt.IsZero() {
		t := c.answeredAt
		info.AnsweredAt = &t
	}
	if !c.endedAt.IsZero() {
		t := c.endedAt
		info.EndedAt = &t
	}
	c.snap.Store(&info)
	return info
}

func (c *call) partyInfo(p *party) PartyInfo {
	pi := PartyInfo{Role: p.role, ChannelID: p.channelID, Endpoint: p.endpoint, State: Live, OnHoldMusic: p.music != nil, HangupAllowed: !p.holds}
	if p.holds {
		pi.State = Hold
		t := p.holdSince
		pi.HoldSince = &t
	}
	return pi
}
