package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/internal/retry"
)

// ariEvent handles one ARI event of the call outside an operation.
func (c *call) ariEvent(ctx context.Context, ev ari.Event) {
	c.observe(ev)
	switch e := ev.(type) {
	case *ari.StasisStart:
		// A resync may have acted on a channel before its StasisStart was
		// routed: each party starts once.
		switch p := c.partyByChannel(e.Channel.ID); {
		case p == nil || p.channel != channelDialled:
		case p == c.caller:
			p.channel = channelInStasis
			c.start(ctx)
		default:
			p.channel = channelInStasis
			c.answered(ctx)
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
		if !c.reminderFinished(e) {
			c.musicFinished(ctx, e)
		}
	case *ari.ChannelHold:
		if p := c.partyByChannel(e.Channel.ID); p != nil {
			c.phoneHold(ctx, p)
		}
	case *ari.ChannelUnhold:
		if p := c.partyByChannel(e.Channel.ID); p != nil {
			c.phoneUnhold(ctx, p)
		}
	case *ari.ChannelDtmfReceived:
		if p := c.partyByChannel(e.Channel.ID); p != nil {
			c.dtmf(ctx, p, e.Digit)
		}
	case *ari.ChannelLeftBridge:
		// ariapp's own moves consume their ChannelLeftBridge while they
		// wait for it; one that arrives here for a party that should be in
		// the bridge was done by someone else.
		if p := c.partyByChannel(e.Channel.ID); p != nil && e.Bridge.ID == c.bridgeID && p.media == mediaBridged &&
			c.state == CallAnswered && p.channel != channelGone {
			c.setMedia(p, mediaOut)
			c.timers.start(bridgeTimer, leftBridgeGrace, bridgeCheck{})
		}
	case *ari.BridgeDestroyed:
		if e.Bridge.ID != c.bridgeID {
			break
		}
		if c.state == CallAnswered && len(c.holders()) == 0 {
			c.endCall(ctx, "bridge_destroyed", "", "the call's bridge was destroyed by another ARI client")
		} else {
			c.log.Warn("the call's bridge was destroyed by another ARI client while on hold; a resume will fail and end the call",
				zap.String("bridge_id", c.bridgeID))
		}
	}
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
			p.channel = channelGone
		}
	case *ari.ChannelDestroyed:
		if p := c.partyByChannel(e.Channel.ID); p != nil {
			p.channel = channelGone
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
			c.bridge = bridgeGone
		}
	}
}

// originateCaller rings the caller of an API call; the call goes on when it
// answers and enters Stasis with dial,TARGET. It gives the originate up
// when the requester does (req ends), and then ends the call: a failed
// App.Originate never leaves a call behind.
func (c *call) originateCaller(ctx, req context.Context) error {
	c.emit(EventCallStarted, "", SourceAPI, "")
	c.caller.channel = channelDialled
	octx, cancel := context.WithCancel(c.forParty(ctx, c.caller))
	stop := context.AfterFunc(req, cancel)
	_, err := c.app.ari.Originate(octx, ari.OriginateParams{
		Endpoint:  c.caller.endpoint,
		ChannelID: c.caller.channelID,
		App:       c.app.ari.Application(),
		AppArgs:   []string{ArgDial, c.target},
		Timeout:   c.app.cfg.AnswerTimeout,
		Formats:   c.app.cfg.OriginateFormats,
	})
	stop()
	cancel()
	c.app.originateDone()
	if err == nil && req.Err() != nil {
		// Through, but nobody waits for it any more.
		err = req.Err()
	}
	if err == nil {
		return nil
	}
	kind, cause := ErrSetupFailed, "caller_unavailable"
	switch {
	case req.Err() != nil:
		err = fmt.Errorf("%w (%w)", req.Err(), err)
		cause = "originate_canceled"
	case allocationFailed(err):
		kind, cause = ErrInvalidEndpoint, "caller_invalid_endpoint"
		c.caller.channel = channelAbsent
	case errors.Is(err, ari.ErrUnreachable):
		kind = ErrUnavailable
	default:
		c.caller.channel = channelAbsent
	}
	// A channel Asterisk may have created anyway (no answer from it, or
	// the request given up) is hung up by endCall, and refused should it
	// enter Stasis late.
	opErr := c.opError(OpOriginate, "", kind, "originate "+c.caller.endpoint, err)
	c.endCall(ctx, cause, "", opErr.Reason)
	return opErr
}

// allocationFailed reports Asterisk's answer to an originate of an endpoint
// it has no channel for (an unknown technology, a PJSIP endpoint that does
// not exist): 500 "Allocation failed".
func allocationFailed(err error) bool {
	var ae *ari.APIError
	return errors.As(err, &ae) && ae.Status == 500 && strings.EqualFold(ae.Message, "Allocation failed")
}

// start handles the caller's StasisStart: ring back and originate the callee.
func (c *call) start(ctx context.Context) {
	if !c.originated {
		c.emit(EventCallStarted, "", "", "")
	}
	if c.target == "" {
		c.endCall(ctx, "no_target", "", "Stasis was entered with 'dial' but no target")
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
	if err := c.app.waitOriginate(ctx); err != nil {
		if c.leftForNextAriapp(ctx, "waiting to dial the callee", err) {
			return
		}
		// Asterisk is swamped with originates: the caller hears
		// congestion, the telephone network's "try again later".
		c.endCall(ctx, "congestion", "", fmt.Sprintf("callee %s not dialled: %v", c.target, err))
		return
	}
	c.callee.channel = channelDialled
	// The callee carries the call's variables from its originate: no
	// write to it on the way to call_answered.
	_, err := c.app.ari.Originate(c.forParty(ctx, c.callee), ari.OriginateParams{
		Endpoint:   c.target,
		ChannelID:  c.callee.channelID,
		App:        c.app.ari.Application(),
		AppArgs:    []string{ArgCallee, c.id},
		CallerID:   cid,
		Originator: c.caller.channelID,
		// ariapp's own timer decides no-answer; Asterisk's is a backstop.
		Timeout:   c.app.cfg.AnswerTimeout + originateTimeoutSlack,
		Variables: c.setupVars(c.callee, c.app.bulkVars()),
	})
	c.app.originateDone()
	if err != nil && c.leftForNextAriapp(ctx, "dialling the callee", err) {
		return
	}
	if err != nil {
		if !errors.Is(err, ari.ErrUnreachable) { // see originateCaller
			c.callee.channel = channelAbsent
		}
		if errors.Is(err, ari.ErrChannelNotFound) {
			// "Provided originator channel was not found": the caller hung
			// up before the callee could be dialled.
			c.caller.channel = channelGone
			c.endCall(ctx, "caller_hangup", Caller, "caller hung up before the callee was dialled")
			return
		}
		cause := "unavailable"
		if errors.Is(err, ari.ErrBadRequest) || allocationFailed(err) {
			cause = "no_target"
		}
		c.endCall(ctx, cause, "", fmt.Sprintf("originate %s failed: %v", c.target, err))
		return
	}
	c.timers.start(ringTimer, c.app.cfg.AnswerTimeout, answerTimeout{})
}

// leftForNextAriapp reports whether a step failed only because the
// application is closing. Then the call is not ended: Close leaves calls
// up in Asterisk, and the next ariapp adopts this one from where Asterisk
// has it (a ringing callee, a caller still waiting) rather than find it
// hung up.
func (c *call) leftForNextAriapp(ctx context.Context, step string, err error) bool {
	if ctx.Err() == nil {
		return false
	}
	c.log.Info("application closing during the call's set-up; call left in Asterisk for the next ariapp",
		zap.String("step", step), zap.Error(err))
	return true
}

// answerTimeout ends a call whose callee still rings.
func (c *call) answerTimeout(ctx context.Context) {
	if c.state == CallRinging {
		c.endCall(ctx, "no_answer", "", fmt.Sprintf("callee %s did not answer within %v", c.target, c.app.cfg.AnswerTimeout))
	}
}

// answered handles the callee's StasisStart: answer the caller and bridge both.
func (c *call) answered(ctx context.Context) {
	if c.state != CallRinging {
		return
	}
	c.timers.stop(ringTimer)
	fail := func(step string, err error) {
		if c.leftForNextAriapp(ctx, step, err) {
			return
		}
		c.endCall(ctx, "setup_failed", "", fmt.Sprintf("%s: %v", step, err))
	}
	if err := c.app.ari.Answer(ctx, c.caller.channelID); err != nil {
		fail("answer caller", err)
		return
	}
	c.bridge = bridgeCreated
	if _, err := c.app.ari.CreateBridge(ctx, c.bridgeID, c.app.bridgeType(), "ariapp-"+c.id); err != nil {
		c.bridge = bridgeNone
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
	c.setMedia(c.caller, mediaBridged)
	c.setMedia(c.callee, mediaBridged)
	// Written before call_answered: from then on a restarted ariapp must be
	// able to rebuild the call from the channels. The callee has them from
	// its originate.
	c.setVars(ctx, c.caller, pairs(c.setupVars(c.caller, c.app.bulkVars()))...)
	c.state = CallAnswered
	c.answeredAt = time.Now()
	c.emit(EventCallAnswered, "", "", "")
}

// bridgeCheck ends a call whose bridge another ARI client destroyed, or from
// which it took a party: the parties would be left in silence otherwise.
func (c *call) bridgeCheck(ctx context.Context) {
	if c.state != CallAnswered {
		return
	}
	b, err := c.app.ari.Bridge(ctx, c.bridgeID)
	switch {
	case errors.Is(err, ari.ErrNotFound):
		c.bridge = bridgeGone
		c.endCall(ctx, "bridge_destroyed", "", "the call's bridge was destroyed by another ARI client")
		return
	case err != nil:
		c.log.Warn("checking the bridge failed", zap.String("bridge_id", c.bridgeID), zap.Error(err))
		return
	}
	for _, p := range c.parties() {
		if c.hearsMusic(p) {
			continue
		}
		if !slices.Contains(b.Channels, p.channelID) {
			c.endCall(ctx, "bridge_broken", "", fmt.Sprintf("%s (%s) was taken out of the bridge by another ARI client", p.role, p.channelID))
			return
		}
		c.setMedia(p, mediaBridged)
	}
}

// partyLeft ends the call when one of its channels is gone.
func (c *call) partyLeft(ctx context.Context, p *party) {
	if c.state == CallEnded {
		return
	}
	if p == c.callee && c.state == CallRinging {
		cause, reason := c.dialOutcome(c.callee, c.target, c.dialStatus)
		c.endCall(ctx, cause, "", reason)
		return
	}
	if p == c.caller && c.originated && c.callee.channel == channelAbsent {
		// A caller ariapp originated (API) that never answered.
		cause, reason := c.dialOutcome(c.caller, c.caller.endpoint, c.callerDialStatus)
		c.endCall(ctx, "caller_"+cause, "", reason)
		return
	}
	reason := fmt.Sprintf("%s hung up", p.role)
	if p.cause != 0 {
		reason += fmt.Sprintf(" (cause %d)", p.cause)
		if p.causeTx != "" {
			reason = strings.TrimSuffix(reason, ")") + " " + p.causeTx + ")"
		}
	}
	c.endCall(ctx, string(p.role)+"_hangup", p.role, reason)
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

// endCall hangs up everything the call has in Asterisk and reports
// call_ended. by is the party whose hang-up ended the call, if any.
func (c *call) endCall(ctx context.Context, cause string, by Role, reason string) {
	if c.state == CallEnded {
		return
	}
	c.state = CallEnded
	c.timers.stopAll()
	// Cleanup must run even while the application closes. Hanging a
	// channel up also ends its hold music: no separate stop.
	ctx = context.WithoutCancel(ctx)
	for _, p := range c.parties() {
		p.music, p.reminder = nil, ""
		if !p.channel.exists() {
			continue
		}
		c.app.abandon(p.channelID)
		if err := c.app.cleanup(c.forParty(ctx, p), func(ctx context.Context) error {
			return c.app.ari.Hangup(ctx, p.channelID, hangupReasonFor(cause))
		}); err != nil && !errors.Is(err, ari.ErrNotFound) {
			c.log.Warn("hangup failed; the sweep will try again", zap.String("party", string(p.role)), zap.String("channel_id", p.channelID), zap.Error(err))
		}
	}
	if c.bridge == bridgeCreated {
		if err := c.app.cleanup(ctx, func(ctx context.Context) error {
			return c.app.ari.DestroyBridge(ctx, c.bridgeID)
		}); err != nil && !errors.Is(err, ari.ErrNotFound) {
			c.log.Warn("destroying the bridge failed; the sweep will try again", zap.String("bridge_id", c.bridgeID), zap.Error(err))
			c.app.abandon(c.bridgeID)
		}
		c.bridge = bridgeGone
	}
	c.clearMuteRecords(ctx)
	c.endedAt = time.Now()
	c.endCause = cause
	c.emit(EventCallEnded, by, "", reason)
}

// musicFinished goes on with hold music whose playback ended normally (a
// sounds list again, music on hold after its announcement) and reports hold
// music that failed (the held party then hears silence).
func (c *call) musicFinished(ctx context.Context, e *ari.PlaybackFinished) {
	for _, p := range c.parties() {
		if p.music == nil || p.music.PlaybackID != e.Playback.ID || p.channel == channelGone {
			continue
		}
		if e.Playback.State != "done" {
			c.log.Error("hold music ended unexpectedly; the held party hears silence",
				zap.String("party", string(p.role)), zap.String("channel_id", p.channelID),
				zap.String("playback_id", e.Playback.ID), zap.String("state", e.Playback.State))
			return
		}
		if next := p.music.NextPlaybackID(); next != "" {
			c.app.route(next, c)
		}
		delete(c.finished, e.Playback.ID)
		c.app.unrouteID(e.Playback.ID, c)
		if _, err := c.app.music.Restart(c.forParty(ctx, p), c.app.ari, p.music); err != nil {
			c.log.Error("restarting hold music failed", zap.String("party", string(p.role)),
				zap.String("channel_id", p.channelID), zap.String("playback_id", p.music.PlaybackID), zap.Error(err))
		}
		return
	}
}

// cleanupPolicy retries a clean-up request when Asterisk could not be
// reached or failed internally (an overloaded Asterisk refuses HTTP
// sessions): a clean-up given up leaves a channel or bridge behind for good.
var cleanupPolicy = retry.Policy{
	Schedule:  retry.Delays{100 * time.Millisecond, 400 * time.Millisecond, time.Second},
	Retryable: retry.On(ari.ErrUnreachable, ari.ErrServer),
}

// cleanup runs a clean-up request under cleanupPolicy.
func (a *App) cleanup(ctx context.Context, do func(context.Context) error) error {
	return cleanupPolicy.Do(ctx, do)
}
