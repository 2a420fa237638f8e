package app

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/ariapp/ariapp/ari"
)

// The hold timers (Config.HoldTimers) count from a hold's start: a
// reminder at every ReminderAfter, and the end of the hold at MaxDuration.
// They are the call's timers, started when a hold succeeds or a call is
// adopted, stopped when that hold is resumed or the call ends. Each message
// carries the start of the hold it was set for, so one that was already
// posted when its hold ended (or a newer hold began) does nothing.
//
// A restarted ariapp knows a hold's start from Asterisk: while a timer is
// configured every hold records it (VarHoldOrder), and a hold found without
// a record gets one (VarHoldSince).

// startHoldTimers starts the timers of holder's hold; after a restart they
// count on from the recorded start, and a hold already past its maximum
// ends at once.
func (c *call) startHoldTimers(holder *party) {
	ht := c.app.cfg.HoldTimers
	since := holder.holdSince
	if ht.ReminderAfter > 0 {
		c.timers.start(reminderTimer.of(holder), nextReminderIn(since, ht.ReminderAfter), holdReminder{holder, since})
	}
	if ht.MaxDuration > 0 {
		c.timers.start(holdLimitTimer.of(holder), max(time.Until(since.Add(ht.MaxDuration)), 0), holdLimit{holder, since})
	}
}

// stopHoldTimers stops the timers of holder's hold.
func (c *call) stopHoldTimers(holder *party) {
	c.timers.stop(reminderTimer.of(holder))
	c.timers.stop(holdLimitTimer.of(holder))
}

// nextReminderIn is the time until the next multiple of every since the
// hold began (reminders missed while no ariapp ran are not made up).
func nextReminderIn(since time.Time, every time.Duration) time.Duration {
	n := time.Since(since)/every + 1
	return time.Until(since.Add(n * every))
}

// holdReminder reminds holder of its hold: the reminder plays to it and
// hold_reminder is reported.
func (c *call) holdReminder(ctx context.Context, holder *party, since time.Time) {
	if c.state != CallAnswered || !holder.holdSince.Equal(since) {
		return
	}
	c.timers.start(reminderTimer.of(holder), nextReminderIn(since, c.app.cfg.HoldTimers.ReminderAfter), holdReminder{holder, since})
	reason := c.playReminder(ctx, holder)
	c.report(Event{Name: EventHoldReminder, Party: holder.role, Source: SourceTimer, Reason: reason})
}

// reminderID is the playback id of p's reminder, derived like musicID.
func (c *call) reminderID(p *party) string { return c.id + "-reminder-" + string(p.role) }

// playReminder plays the reminder to holder, which sits in the bridge and
// hears silence. A holder that is held too hears the hold music instead (a
// playback would queue behind the music). It returns why the reminder was
// not played, if it failed.
func (c *call) playReminder(ctx context.Context, holder *party) string {
	if holder.media != mediaBridged || holder.music != nil || holder.channel != channelInStasis {
		return ""
	}
	ctx = c.forParty(ctx, holder)
	id := c.reminderID(holder)
	if holder.reminder != "" {
		// Still playing, unless its PlaybackFinished was lost.
		if _, err := c.app.ari.Playback(ctx, id); !errors.Is(err, ari.ErrNotFound) {
			return ""
		}
		holder.reminder = ""
	}
	media := c.app.cfg.HoldTimers.ReminderMedia
	c.app.route(id, c)
	if _, err := c.app.ari.Play(ctx, holder.channelID, id, media); err != nil {
		c.app.unrouteID(id, c)
		c.log.Warn("playing the hold reminder failed", zap.String("party", string(holder.role)),
			zap.String("channel_id", holder.channelID), zap.String("playback_id", id), zap.Error(err))
		return "reminder not played: " + err.Error()
	}
	holder.reminder = id
	// Validated: the media parses, and a tone's parts have lengths.
	if length, _ := reminderLength(media); length > 0 {
		c.timers.start(reminderEndTimer.of(holder), length, reminderEnd{holder, id})
	}
	return ""
}

// reminderEnd stops a reminder tone that has played its length.
func (c *call) reminderEnd(ctx context.Context, holder *party, playbackID string) {
	if holder.reminder == playbackID {
		c.stopReminder(ctx, holder)
	}
}

// stopReminder stops p's reminder, if one plays: a playback on a bridged
// channel holds that channel's removeChannel and variable writes open
// until it ends.
func (c *call) stopReminder(ctx context.Context, p *party) {
	if p.reminder == "" {
		return
	}
	id := p.reminder
	p.reminder = ""
	c.timers.stop(reminderEndTimer.of(p))
	if err := c.app.ari.StopPlayback(c.forParty(ctx, p), id); err != nil && !errors.Is(err, ari.ErrNotFound) {
		c.log.Warn("stopping the hold reminder failed", zap.String("party", string(p.role)),
			zap.String("channel_id", p.channelID), zap.String("playback_id", id), zap.Error(err))
	}
}

// reminderFinished takes note that a reminder playback ended; false if
// the playback is no reminder.
func (c *call) reminderFinished(e *ari.PlaybackFinished) bool {
	for _, p := range c.parties() {
		if e.Playback.ID != c.reminderID(p) {
			continue
		}
		if p.reminder == e.Playback.ID {
			p.reminder = ""
			c.timers.stop(reminderEndTimer.of(p))
		}
		delete(c.finished, e.Playback.ID)
		c.app.unrouteID(e.Playback.ID, c)
		return true
	}
	return false
}

// holdLimit ends holder's hold, which reached HoldTimers.MaxDuration.
func (c *call) holdLimit(ctx context.Context, holder *party, since time.Time) {
	if c.state != CallAnswered || !holder.holdSince.Equal(since) {
		return
	}
	ht := c.app.cfg.HoldTimers
	reason := fmt.Sprintf("%s held the call for %v, its maximum (hold.max_duration)", holder.role, ht.MaxDuration)
	c.log.Info("hold reached its maximum duration", zap.String("party", string(holder.role)),
		zap.String("channel_id", holder.channelID), zap.String("action", ht.MaxAction), zap.Duration("held_for", time.Since(since)))
	if ht.MaxAction == HoldHangup {
		c.endCall(ctx, "hold_timeout", holder.role, reason)
		return
	}
	// Reported as unhold_success (or unhold_failed, which ends the call).
	_ = c.resume(ctx, holder, SourceTimer)
}

// recordHoldStart writes holder's hold start on its own channel when
// Asterisk has no record of it (a hold adopted from an ariapp that ran
// without hold timers), so the next restart counts from the same start.
// Only a holder in the bridge with nothing playing can take the write.
func (c *call) recordHoldStart(ctx context.Context, holder *party) {
	if holder.startRecorded || !c.app.cfg.HoldTimers.on() || holder.media != mediaBridged || holder.music != nil || holder.reminder != "" {
		return
	}
	c.setVars(ctx, holder, VarHoldSince, holdOrderValue(holder.role, holder.holdSince))
	holder.startRecorded = true
}

// recordedHoldStart reads holder's hold start from Asterisk: the later of
// VarHoldOrder on the held party and VarHoldSince on the holder that
// names holder (the later one is the current hold's).
func recordedHoldStart(holder Role, heldOrder, holderSince string) (time.Time, bool) {
	var latest int64
	for _, v := range []string{heldOrder, holderSince} {
		if r, at, ok := parseHoldOrder(v); ok && r == holder && at > latest {
			latest = at
		}
	}
	if latest == 0 {
		return time.Time{}, false
	}
	// A record from the future (a clock that went back) counts as now.
	return minTime(time.Unix(0, latest), time.Now()), true
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// reminderLength is how long a reminder plays before ariapp stops it: the
// sum of a tone's parts (Asterisk loops a tone), or 0 for a sound, which
// ends by itself. It is the validation of HoldTimers.ReminderMedia.
func reminderLength(media string) (time.Duration, error) {
	switch {
	case strings.HasPrefix(media, "sound:"):
		if name := strings.TrimPrefix(media, "sound:"); name == "" || strings.ContainsAny(name, ", \t&?#|") {
			return 0, fmt.Errorf("%q: want sound:NAME, one sound without spaces or commas", media)
		}
		return 0, nil
	case strings.HasPrefix(media, "tone:"):
		var total time.Duration
		for _, part := range strings.Split(strings.TrimPrefix(media, "tone:"), "|") {
			freqs, ms, found := strings.Cut(strings.TrimPrefix(part, "!"), "/")
			n, err := strconv.Atoi(ms)
			if !found || err != nil || n <= 0 || !toneFreqs(freqs) {
				return 0, fmt.Errorf("%q: part %q: want FREQ/MS or FREQ+FREQ/MS (every part needs its length: Asterisk loops a tone)", media, part)
			}
			total += time.Duration(n) * time.Millisecond
		}
		return total, nil
	}
	return 0, fmt.Errorf("%q: want tone:SPEC or sound:NAME", media)
}

// toneFreqs reports whether s is a tone part's frequencies: one, or two
// joined by + (mixed) or * (modulated), in Hz.
func toneFreqs(s string) bool {
	freqs := []string{s}
	if i := strings.IndexAny(s, "+*"); i >= 0 {
		freqs = []string{s[:i], s[i+1:]}
	}
	for _, f := range freqs {
		if n, err := strconv.Atoi(f); err != nil || strings.ContainsAny(f, "+-") || n > 20000 {
			return false
		}
	}
	return true
}

// stopStrayReminders stops a reminder tone the previous ariapp may have
// left playing to a holder in the bridge: Asterisk would loop it.
func (c *call) stopStrayReminders(ctx context.Context) {
	for _, p := range c.parties() {
		if !p.holds() || p.media != mediaBridged {
			continue
		}
		if err := c.app.ari.StopPlayback(c.forParty(ctx, p), c.reminderID(p)); err == nil {
			c.log.Info("hold reminder left playing by the previous ariapp stopped", zap.String("party", string(p.role)),
				zap.String("channel_id", p.channelID))
		}
	}
}
