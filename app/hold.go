package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/holdmusic"
)

// policy returns why holder may not hold, or "" if it may (H5).
func (c *call) policy(holder *party) string {
	if allowed := c.app.cfg.HoldAllowedEndpoints; len(allowed) > 0 && !slices.Contains(allowed, holder.endpoint) {
		return fmt.Sprintf("endpoint %s is not allowed to hold (policy.hold_allowed_endpoints)", holder.endpoint)
	}
	if max := c.app.cfg.MaxHoldsPerCall; max > 0 && c.holdCount >= max {
		return fmt.Sprintf("this call has used its %d holds (policy.max_holds_per_call)", max)
	}
	return ""
}

// hold puts the call on hold on behalf of holder: the peer moves to the
// hold music (H2–H4), music (nil: the configured default). Any failure is
// rolled back so the media is exactly as before, and reported as
// hold_failed (H5). With an announcement, the hold is confirmed when its
// playback starts: the peer has left the bridge for the hold media then.
func (c *call) hold(ctx context.Context, holder *party, src Source, music *holdmusic.Source) error {
	start := time.Now()
	if music == nil {
		music = c.app.music
	}
	failed := func(err *OpError) error {
		c.report(Event{Name: EventHoldFailed, Party: holder.role, Source: src, Reason: err.Reason, Media: music.Media(),
			Took: time.Since(start), Refused: err.Err == nil})
		return err
	}
	if c.state != CallAnswered {
		return failed(c.refusal(OpHold, holder.role, ErrNotEstablished, "call is %s, not established", c.state))
	}
	if holder.holds() {
		c.log.Info("hold requested by a party that already holds; nothing to do",
			zap.String("party", string(holder.role)), zap.String("channel_id", holder.channelID), zap.String("source", string(src)))
		return nil
	}
	if reason := c.policy(holder); reason != "" {
		return failed(c.refusal(OpHold, holder.role, ErrHoldRefused, "%s", reason))
	}
	held := c.peer(holder)
	held.holdMusic = music
	var vars []string
	recorded := held.holds() || c.app.cfg.HoldTimers.on()
	if recorded {
		// The hold's start, which orders a mutual hold and restarts the
		// hold timers, is recorded on the party that now leaves the bridge
		// (see VarHoldOrder); a single hold without hold timers writes
		// nothing.
		vars = []string{VarHoldOrder, holdOrderValue(holder.role, start)}
	}
	if err := c.toMusic(ctx, held, vars...); err != nil {
		c.rollbackHold(ctx, holder, held)
		return failed(c.opError(OpHold, holder.role, ErrHoldFailed, "", err))
	}
	holder.holdSince, holder.startRecorded = start, recorded
	c.holdCount++
	c.report(Event{Name: EventHoldSuccess, Party: holder.role, Source: src, Media: music.Media(), Took: time.Since(start)})
	c.startHoldTimers(holder)
	return nil
}

// rollbackHold undoes a partial hold: held goes back into the bridge. If
// that is impossible the call cannot be restored and is ended (never a
// half-done hold).
func (c *call) rollbackHold(ctx context.Context, holder, held *party) {
	if c.state == CallEnded {
		return
	}
	err := c.toBridge(ctx, held)
	if err == nil {
		c.log.Info("hold rolled back; the peer is back in the bridge", zap.String("party", string(holder.role)),
			zap.String("channel_id", held.channelID), zap.String("bridge_id", c.bridgeID))
		return
	}
	if errors.Is(err, errPartyGone) {
		return // the hang-up is handled next and ends the call
	}
	if errors.Is(err, ari.ErrChannelNotFound) {
		// The peer hung up before Asterisk told us: its StasisEnd is on the
		// way; end the call as that hang-up.
		held.channel = channelGone
		c.later(partyLeft{held})
		return
	}
	c.log.Error("hold rollback failed; ending the call", zap.String("party", string(holder.role)),
		zap.String("channel_id", held.channelID), zap.String("bridge_id", c.bridgeID), zap.Error(err))
	// Behind the events already queued, so that hold_failed is reported
	// first.
	c.later(endCall{cause: "hold_rollback_failed", reason: "hold could not be rolled back: " + err.Error()})
}

// resume takes holder's hold off: the peer leaves the hold music and returns
// to the bridge (R2). The resumer's own media does not change: if the peer
// holds too, it stays on the music (M2). Only the holder may resume (R1). A
// failure hangs the call up (R3).
func (c *call) resume(ctx context.Context, holder *party, src Source) error {
	start := time.Now()
	if c.state != CallAnswered {
		return c.refusal(OpResume, holder.role, ErrNotEstablished, "call is %s", c.state)
	}
	if !holder.holds() {
		reason := fmt.Sprintf("%s does not hold the call; only the party that put it on hold can resume it", holder.role)
		if holders := c.holders(); len(holders) > 0 {
			reason += fmt.Sprintf(" (held by %v)", holders)
		}
		c.log.Info("resume refused", zap.String("party", string(holder.role)), zap.String("channel_id", holder.channelID),
			zap.String("source", string(src)), zap.String("reason", reason))
		return c.refusal(OpResume, holder.role, ErrNotHolding, "%s", reason)
	}
	c.stopHoldTimers(holder)
	c.stopReminder(ctx, holder)
	media := c.musicOf(c.peer(holder)).Media()
	if err := c.toBridge(ctx, c.peer(holder)); err != nil {
		if ctx.Err() != nil {
			// Not Asterisk's failure: the application closes. The call
			// stays up, half resumed, for the next ariapp's repair.
			return ErrClosed
		}
		opErr := c.opError(OpResume, holder.role, ErrUnholdFailed, "", err)
		reason := "resume failed: " + opErr.Reason
		c.report(Event{Name: EventUnholdFailed, Party: holder.role, Source: src, Reason: reason, Media: media, Took: time.Since(start)})
		c.endCall(ctx, "unhold_failed", "", reason)
		return opErr
	}
	holder.holdSince, holder.startRecorded = time.Time{}, false
	c.report(Event{Name: EventUnholdSuccess, Party: holder.role, Source: src, Media: media, Took: time.Since(start)})
	return nil
}

// holders lists the parties that hold, in the order they took hold.
func (c *call) holders() []Role {
	out := make([]Role, 0, 2)
	first, second := c.caller, c.callee
	if second.holds() && (!first.holds() || second.holdSince.Before(first.holdSince)) {
		first, second = second, first
	}
	for _, p := range []*party{first, second} {
		if p.holds() {
			out = append(out, p.role)
		}
	}
	return out
}

// holdOrderValue is VarHoldOrder's value: the party that took hold second,
// and when.
func holdOrderValue(second Role, at time.Time) string {
	return string(second) + "@" + strconv.FormatInt(at.UnixNano(), 10)
}

// parseHoldOrder reads a VarHoldOrder value; ok is false for anything
// else (unset, or written by something other than ariapp).
func parseHoldOrder(v string) (second Role, at int64, ok bool) {
	r, ts, found := strings.Cut(v, "@")
	n, err := strconv.ParseInt(ts, 10, 64)
	if !found || err != nil || (Role(r) != Caller && Role(r) != Callee) {
		return "", 0, false
	}
	return Role(r), n, true
}
