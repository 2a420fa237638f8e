package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/ariapp/ariapp/ari"
)

// MuteDirection is which of a party's audio a mute cuts, in Asterisk's
// terms (ARI's channel mute), seen from Asterisk:
//
//   - MuteIn: the audio Asterisk receives from the party's phone, what
//     the party says. Its peer no longer hears it.
//   - MuteOut: the audio Asterisk sends to the party's phone, what it
//     hears: its peer, and the hold music while its peer holds.
//   - MuteBoth: both.
//
// A party's mute is apart from hold: a muted party can hold and be held,
// a resume does not unmute it, and a mute while it is held applies when it
// is back in the bridge. As a party's state, MuteNone ("") is not muted.
type MuteDirection string

// Mute directions; MuteNone is a party's state only.
const (
	MuteNone MuteDirection = ""
	MuteIn   MuteDirection = "in"
	MuteOut  MuteDirection = "out"
	MuteBoth MuteDirection = "both"
)

// MuteDirections are the directions a mute or unmute may name.
var MuteDirections = []MuteDirection{MuteIn, MuteOut, MuteBoth}

// muteSet is a party's mute as two flags.
type muteSet uint8

const (
	mutedIn muteSet = 1 << iota
	mutedOut
)

// set returns the flags of a direction; ok is false for anything but the
// three MuteDirections.
func (d MuteDirection) set() (s muteSet, ok bool) {
	switch d {
	case MuteIn:
		return mutedIn, true
	case MuteOut:
		return mutedOut, true
	case MuteBoth:
		return mutedIn | mutedOut, true
	}
	return 0, false
}

// direction is the state as reported: MuteNone when nothing is muted.
func (s muteSet) direction() MuteDirection {
	switch s {
	case mutedIn:
		return MuteIn
	case mutedOut:
		return MuteOut
	case mutedIn | mutedOut:
		return MuteBoth
	}
	return MuteNone
}

// checkDirection refuses a direction that is not one of MuteDirections,
// naming the allowed ones.
func checkDirection(d MuteDirection) error {
	if _, ok := d.set(); ok {
		return nil
	}
	allowed := make([]string, len(MuteDirections))
	for i, a := range MuteDirections {
		allowed[i] = string(a)
	}
	return fmt.Errorf("%w: %s (allowed: %s)", ErrInvalidDirection, quoteShort(string(d)), strings.Join(allowed, ", "))
}

// Mute mutes party ("caller", "callee" or its channel id) in direction
// dir (see MuteDirection) and reports a muted event. Muting what is
// already muted changes nothing, reports nothing and returns nil. Only an
// established call (answered and bridged) can be muted: ErrNotEstablished
// otherwise. A mute Asterisk refuses returns ErrMuteFailed and changes
// nothing.
func (a *App) Mute(ctx context.Context, callID, party string, dir MuteDirection, src Source) (CallInfo, error) {
	if err := checkDirection(dir); err != nil {
		return CallInfo{}, err
	}
	return a.operate(ctx, callID, &operation{kind: opMute, party: party, dir: dir, source: src})
}

// Unmute takes party's mute off in direction dir and reports an unmuted
// event. Unmuting a direction that is not muted changes nothing, reports
// nothing and returns nil: a client may unmute without knowing the state.
func (a *App) Unmute(ctx context.Context, callID, party string, dir MuteDirection, src Source) (CallInfo, error) {
	if err := checkDirection(dir); err != nil {
		return CallInfo{}, err
	}
	return a.operate(ctx, callID, &operation{kind: opUnmute, party: party, dir: dir, source: src})
}

// VarMutePrefix names the record of a party's mute, which ARI cannot read
// back from a channel: the Asterisk global variable VarMutePrefix +
// channel id holds "in", "out", "both" or "none" (unmuted after a mute)
// from the party's first mute until its call ends. A global variable,
// not a channel variable: Asterisk runs a channel variable write on the
// channel's thread, which a held party's music occupies until it ends,
// while a mute must apply at once.
const VarMutePrefix = "ARIAPP_MUTE_"

// muteRecordNone is the record of a party unmuted after a mute.
const muteRecordNone = "none"

func muteRecordName(channelID string) string { return VarMutePrefix + channelID }

func (s muteSet) record() string {
	if s == 0 {
		return muteRecordNone
	}
	return string(s.direction())
}

// parseMuteRecord reads a record; ok is false for an empty or foreign
// value.
func parseMuteRecord(v string) (muteSet, bool) {
	if v == muteRecordNone {
		return 0, true
	}
	s, ok := MuteDirection(v).set()
	return s, ok
}

// setMute mutes (on) or unmutes p in dir. The record is written first: a
// restarted ariapp makes Asterisk follow the record (applyMuteRecord), so
// an ariapp stopped between the two steps leaves nothing it cannot repair.
// Asterisk confirms a mute with its reply alone: a mute emits no event.
func (c *call) setMute(ctx context.Context, p *party, dir MuteDirection, on bool, src Source) error {
	op, name := OpMute, EventMuted
	if !on {
		op, name = OpUnmute, EventUnmuted
	}
	if c.state != CallAnswered {
		return c.refusal(op, p.role, ErrNotEstablished, "call is %s, not established", c.state)
	}
	flags, _ := dir.set()
	want := p.muted | flags
	if !on {
		want = p.muted &^ flags
	}
	if want == p.muted {
		c.log.Info(op+" requested; nothing to do", zap.String("party", string(p.role)), zap.String("channel_id", p.channelID),
			zap.String("direction", string(dir)), zap.String("muted", string(p.muted.direction())), zap.String("source", string(src)))
		return nil
	}
	start := time.Now()
	ctx = c.forParty(ctx, p)
	c.recordMute(ctx, p, want)
	sctx, cancel := context.WithTimeout(ctx, c.app.cfg.StepTimeout)
	defer cancel()
	err := c.step(sctx, func(ctx context.Context) error {
		if on {
			return c.app.ari.Mute(ctx, p.channelID, ari.MuteDirection(dir))
		}
		return c.app.ari.Unmute(ctx, p.channelID, ari.MuteDirection(dir))
	})
	if err != nil {
		opErr := c.opError(op, p.role, ErrMuteFailed, "", err)
		c.log.Warn(op+" failed", zap.String("party", string(p.role)), zap.String("channel_id", p.channelID),
			zap.String("direction", string(dir)), zap.String("source", string(src)), zap.Error(err))
		if !errors.Is(err, ari.ErrChannelNotFound) {
			c.recordMute(ctx, p, p.muted)
		}
		return opErr
	}
	p.muted = want
	c.report(Event{Name: name, Party: p.role, Source: src, Direction: dir, Took: time.Since(start)})
	return nil
}

// recordMute writes p's mute record (VarMutePrefix); a failure is logged,
// not fatal: only a restart would miss it.
func (c *call) recordMute(ctx context.Context, p *party, s muteSet) {
	if err := c.app.ari.SetGlobalVariable(ctx, muteRecordName(p.channelID), s.record()); err != nil {
		c.log.Warn("writing the mute record failed; a restarted ariapp will not know this mute",
			zap.String("party", string(p.role)), zap.String("channel_id", p.channelID), zap.Error(err))
		return
	}
	p.muteRecorded = true
}

// clearMuteRecords removes the call's mute records once it ended.
func (c *call) clearMuteRecords(ctx context.Context) {
	for _, p := range c.parties() {
		if !p.muteRecorded {
			continue
		}
		if err := c.app.cleanup(c.forParty(ctx, p), func(ctx context.Context) error {
			return c.app.ari.SetGlobalVariable(ctx, muteRecordName(p.channelID), "")
		}); err != nil {
			c.log.Warn("clearing the mute record failed; it stays in Asterisk until Asterisk restarts",
				zap.String("party", string(p.role)), zap.String("channel_id", p.channelID),
				zap.String("variable", muteRecordName(p.channelID)), zap.Error(err))
			continue
		}
		p.muteRecorded = false
	}
}

// adoptMute reads p's mute record after a restart (see VarMutePrefix),
// from what the resync read beforehand (prefetchVars) or else from
// Asterisk.
func (a *App) adoptMute(ctx context.Context, p *party) {
	v, ok := a.resyncMutes[p.channelID]
	if !ok {
		var err error
		if v, err = a.ari.GlobalVariable(ctx, muteRecordName(p.channelID)); err != nil {
			a.log.Warn("resync: reading the mute record failed; the party is taken as not muted",
				zap.String("party", string(p.role)), zap.String("channel_id", p.channelID), zap.Error(err))
			return
		}
	}
	s, ok := parseMuteRecord(v)
	if !ok {
		return
	}
	p.muted, p.muteRecorded = s, true
}

// applyMuteRecord makes Asterisk follow the recorded mute of each party
// of an adopted call: the recorded directions muted, the others unmuted
// (both idempotent in Asterisk). It repairs a mute or unmute that an
// ariapp stopped between its record and its ARI request.
func (c *call) applyMuteRecord(ctx context.Context) {
	for _, p := range c.parties() {
		if !p.muteRecorded {
			continue
		}
		pctx := c.forParty(ctx, p)
		var err error
		if off := (mutedIn | mutedOut) &^ p.muted; off != 0 {
			err = c.app.ari.Unmute(pctx, p.channelID, ari.MuteDirection(off.direction()))
		}
		if on := p.muted; err == nil && on != 0 {
			err = c.app.ari.Mute(pctx, p.channelID, ari.MuteDirection(on.direction()))
		}
		if err != nil {
			c.log.Warn("restoring the recorded mute failed", zap.String("party", string(p.role)),
				zap.String("channel_id", p.channelID), zap.String("muted", string(p.muted.direction())), zap.Error(err))
		}
	}
}
