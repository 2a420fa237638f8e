package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/ariapp/ariapp/ari"
)

// policy returns why p may not hold, or "" if it may (H5).
func (c *call) policy(p *party) string {
	if allowed := c.app.cfg.HoldAllowedEndpoints; len(allowed) > 0 && !slices.Contains(allowed, p.endpoint) {
		return fmt.Sprintf("endpoint %s is not allowed to hold (policy.hold_allowed_endpoints)", p.endpoint)
	}
	if max := c.app.cfg.MaxHoldsPerCall; max > 0 && c.holdCount >= max {
		return fmt.Sprintf("this call has used its %d holds (policy.max_holds_per_call)", max)
	}
	return ""
}

// hold puts the call on hold on behalf of p: p's peer leaves the bridge and
// hears the hold music (H2–H4). Any failure is rolled back so the media is
// exactly as before, and reported as hold_failed (H5).
func (c *call) hold(ctx context.Context, p *party, src Source) error {
	refuse := func(sentinel error, reason string) error {
		c.emit(EventHoldFailed, p.role, src, reason)
		return fmt.Errorf("%w: %s", sentinel, reason)
	}
	if c.state != CallAnswered {
		return refuse(ErrNotEstablished, fmt.Sprintf("call is %s, not established", c.state))
	}
	if p.holds {
		c.log.Info("hold requested by a party that already holds; nothing to do",
			zap.String("party", string(p.role)), zap.String("channel_id", p.channelID), zap.String("source", string(src)))
		return nil
	}
	if reason := c.policy(p); reason != "" {
		return refuse(ErrHoldRefused, reason)
	}
	q := c.peer(p)

	pbID := c.musicID(q)

	// Step 1: the peer leaves the bridge. Music that leaves no trace in
	// Asterisk is recorded on the peer meanwhile, which must happen before
	// the music starts (see VarHeld).
	varsWritten := func() {}
	if c.app.music.NeedsRecord() {
		varsWritten = c.setVarsAsync(ctx, q, VarHeld, c.app.music.Label(pbID))
		q.recorded = true
	}
	err := c.app.ari.RemoveChannel(ctx, c.bridgeID, q.channelID)
	if err == nil {
		err = c.await(ctx, "ChannelLeftBridge of "+string(q.role), leftBridge(c.bridgeID, q.channelID))
		// Asterisk accepted the removal: even if its event did not come in
		// time, the peer is taken as out, so a rollback adds it back.
		q.inBridge = false
	}
	varsWritten()
	if err != nil {
		c.rollbackHold(ctx, p, q)
		return refuse(ErrHoldFailed, "removing the peer from the bridge: "+err.Error())
	}

	// Step 2: the hold music starts on the peer.
	playing, err := c.app.music.Start(ctx, c.app.ari, q.channelID, pbID)
	if err != nil {
		c.rollbackHold(ctx, p, q)
		return refuse(ErrHoldFailed, "starting hold music: "+err.Error())
	}
	if playing.ExpectsEvents() {
		var finished string
		err := c.await(ctx, "PlaybackStarted of the hold music", func(ev ari.Event) bool {
			switch e := ev.(type) {
			case *ari.PlaybackStarted:
				return e.Playback.ID == pbID
			case *ari.PlaybackFinished:
				if e.Playback.ID == pbID {
					finished = e.Playback.State
					return true
				}
			}
			return false
		})
		if err == nil && finished != "" {
			err = fmt.Errorf("hold music playback %s ended at once (state %s)", pbID, finished)
		}
		if err != nil {
			q.music = playing
			c.rollbackHold(ctx, p, q)
			return refuse(ErrHoldFailed, "starting hold music: "+err.Error())
		}
	}
	q.music = playing

	p.holds = true
	p.holdSince = time.Now()
	c.holders = append(c.holders, p.role)
	c.holdCount++
	c.emit(EventHoldSuccess, p.role, src, "")
	return nil
}

// musicID returns the playback id base of q's hold music, routed to c. It
// is derived from the call and the party, the same in every hold and in
// every ariapp process, so a restarted ariapp finds the music again by
// asking Asterisk for it (GET /playbacks/{id}) and no hold needs a record
// written to Asterisk. Reusing it is safe: a hold starts only after the
// previous music's PlaybackFinished and its bridge re-entry, by which
// time Asterisk has forgotten that playback.
func (c *call) musicID(q *party) string {
	id := c.musicBase(q)
	c.app.route(id, c)
	return id
}

func (c *call) musicBase(q *party) string { return c.id + "-hold-" + string(q.role) }

// rollbackHold undoes a partial hold: stop the music if it started, and put
// the peer back into the bridge. If that is impossible the call cannot be
// restored and is ended (never a half-done hold).
func (c *call) rollbackHold(ctx context.Context, p, q *party) {
	if c.ended {
		return
	}
	log := c.log.With(zap.String("party", string(p.role)), zap.String("peer_channel_id", q.channelID), zap.String("bridge_id", c.bridgeID))
	err := c.restore(ctx, q)
	if err == nil {
		log.Info("hold rolled back; the peer is back in the bridge")
		return
	}
	if errors.Is(err, errPartyGone) {
		return // the hang-up is handled next and ends the call
	}
	if errors.Is(err, ari.ErrChannelNotFound) {
		// The peer hung up before Asterisk told us: its StasisEnd is on the
		// way; end the call as that hang-up.
		q.gone = true
		c.pending = append(c.pending, partyGone{q})
		return
	}
	log.Error("hold rollback failed; ending the call", zap.Error(err))
	c.pendingEnd("hold_rollback_failed", "hold could not be rolled back: "+err.Error())
}

// pendingEnd queues the end of the call behind the events already queued, so
// the failure event of the current operation is reported first.
func (c *call) pendingEnd(cause, reason string) {
	c.pending = append(c.pending, endRequest{cause: cause, reason: reason})
}

// endRequest asks the call's goroutine to end the call.
type endRequest struct{ cause, reason string }

// partyGone asks the call's goroutine to end the call as p's hang-up.
type partyGone struct{ p *party }

// restore stops q's hold music, if any, and puts q back into the bridge,
// waiting for Asterisk to confirm each step. The music must stop first:
// Asterisk holds addChannel open while a playback runs on the channel.
func (c *call) restore(ctx context.Context, q *party) error {
	if q.music != nil {
		pbID := q.music.PlaybackID
		if err := c.app.music.Stop(ctx, c.app.ari, q.music); err != nil {
			return fmt.Errorf("stopping hold music: %w", err)
		}
		if pbID != "" {
			if _, done := c.finished[pbID]; !done {
				if err := c.await(ctx, "PlaybackFinished of the hold music", playbackFinished(pbID)); err != nil {
					return fmt.Errorf("stopping hold music: %w", err)
				}
			}
			// Over: no event of it will come any more.
			delete(c.finished, pbID)
			c.app.unrouteID(pbID, c)
		}
		q.music = nil
	}
	// The music has stopped: q's record, if any, can be cleared now,
	// beside the addChannel.
	if q.recorded {
		varsWritten := c.setVarsAsync(ctx, q, VarHeld, "")
		defer varsWritten()
		q.recorded = false
	}
	if !q.inBridge {
		if err := c.app.ari.AddChannel(ctx, c.bridgeID, q.channelID); err != nil {
			return fmt.Errorf("adding %s back to the bridge: %w", q.role, err)
		}
		if err := c.await(ctx, "ChannelEnteredBridge of "+string(q.role), enteredBridge(c.bridgeID, q.channelID)); err != nil {
			return fmt.Errorf("adding %s back to the bridge: %w", q.role, err)
		}
		q.inBridge = true
	}
	return nil
}

// resume takes p's hold off: p's peer leaves the hold music and returns to
// the bridge (R2). p's own media does not change: if the peer holds too, p
// stays on the music (M2). Only the holder may resume (R1). A failure hangs
// the call up (R3).
func (c *call) resume(ctx context.Context, p *party, src Source) error {
	if c.state != CallAnswered {
		return fmt.Errorf("%w: call is %s", ErrNotEstablished, c.state)
	}
	if !p.holds {
		reason := fmt.Sprintf("%s does not hold the call; only the party that put it on hold can resume it", p.role)
		if len(c.holders) > 0 {
			reason += fmt.Sprintf(" (held by %v)", c.holders)
		}
		c.log.Info("resume refused", zap.String("party", string(p.role)), zap.String("channel_id", p.channelID),
			zap.String("source", string(src)), zap.String("reason", reason))
		return fmt.Errorf("%w: %s", ErrNotHolding, reason)
	}
	q := c.peer(p)
	if err := c.restore(ctx, q); err != nil {
		reason := "resume failed: " + err.Error()
		c.emit(EventUnholdFailed, p.role, src, reason)
		c.end(ctx, "unhold_failed", "", reason)
		return fmt.Errorf("%w: %w", ErrUnholdFailed, err)
	}
	p.holds = false
	p.holdSince = time.Time{}
	c.holders = slices.DeleteFunc(c.holders, func(r Role) bool { return r == p.role })
	c.emit(EventUnholdSuccess, p.role, src, "")
	return nil
}

func leftBridge(bridgeID, channelID string) func(ari.Event) bool {
	return func(ev ari.Event) bool {
		e, ok := ev.(*ari.ChannelLeftBridge)
		return ok && e.Bridge.ID == bridgeID && e.Channel.ID == channelID
	}
}

func enteredBridge(bridgeID, channelID string) func(ari.Event) bool {
	return func(ev ari.Event) bool {
		e, ok := ev.(*ari.ChannelEnteredBridge)
		return ok && e.Bridge.ID == bridgeID && e.Channel.ID == channelID
	}
}

func playbackFinished(id string) func(ari.Event) bool {
	return func(ev ari.Event) bool {
		e, ok := ev.(*ari.PlaybackFinished)
		return ok && e.Playback.ID == id
	}
}
