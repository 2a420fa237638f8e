package app

import (
	"context"
	"errors"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/ariapp/ariapp/ari"
)

// phoneHold is a phone's own hold key (a re-INVITE with sendonly, inactive
// or 0.0.0.0): the same hold as from the API.
func (c *call) phoneHold(ctx context.Context, holder *party) {
	err := c.hold(ctx, holder, SourcePhone, nil)
	if err != nil && c.state != CallEnded {
		// The phone's hold went through the bridge, where Asterisk starts
		// its own music on hold on the peer. The hold was refused: the
		// peer must hear what it heard before (H5).
		held := c.peer(holder)
		c.stopPeerMOH(ctx, held)
		c.timers.start(mohRecheckTimer, phoneHoldMOHRecheck, stopPeerMOH{held})
	}
	c.notCarriedOut(holder, SourcePhone, err)
}

// phoneUnhold is the phone's resume (a re-INVITE with sendrecv).
func (c *call) phoneUnhold(ctx context.Context, holder *party) {
	c.notCarriedOut(holder, SourcePhone, c.resume(ctx, holder, SourcePhone))
}

// notCarriedOut logs a request from the phone that changed nothing; hold
// and resume report the outcomes as events.
func (c *call) notCarriedOut(p *party, src Source, err error) {
	if err == nil {
		return
	}
	lvl := zap.InfoLevel
	if errors.Is(err, ErrHoldFailed) || errors.Is(err, ErrUnholdFailed) {
		lvl = zap.WarnLevel
	}
	c.log.Log(lvl, "request from the phone not carried out", zap.String("party", string(p.role)),
		zap.String("channel_id", p.channelID), zap.String("source", string(src)), zap.Error(err))
}

// dtmf matches a party's digits against the configured feature codes.
func (c *call) dtmf(ctx context.Context, p *party, digit string) {
	cfg := c.app.cfg.DTMF
	if cfg.Hold == "" && cfg.Resume == "" {
		return
	}
	now := time.Now()
	if now.Sub(p.lastDigit) > cfg.Timeout {
		p.digits = ""
	}
	p.lastDigit = now
	p.digits += digit
	if n := max(len(cfg.Hold), len(cfg.Resume)); len(p.digits) > n {
		p.digits = p.digits[len(p.digits)-n:]
	}
	holdHit := cfg.Hold != "" && strings.HasSuffix(p.digits, cfg.Hold)
	resumeHit := cfg.Resume != "" && strings.HasSuffix(p.digits, cfg.Resume)
	if !holdHit && !resumeHit {
		return
	}
	p.digits = ""
	// One code for both toggles.
	if resumeHit && (!holdHit || p.holds()) {
		c.notCarriedOut(p, SourceDTMF, c.resume(ctx, p, SourceDTMF))
		return
	}
	c.notCarriedOut(p, SourceDTMF, c.hold(ctx, p, SourceDTMF, nil))
}

// stopPeerMOH stops music on hold that Asterisk started on held by itself
// (not ariapp's hold music: that is never music on hold on a party in the
// bridge).
func (c *call) stopPeerMOH(ctx context.Context, held *party) {
	if c.state == CallEnded || held.channel == channelGone || held.music != nil {
		return
	}
	if err := c.app.ari.StopMOH(c.forParty(ctx, held), held.channelID); err != nil && !errors.Is(err, ari.ErrNotFound) {
		c.log.Warn("stopping Asterisk's music on hold after a refused phone hold failed",
			zap.String("party", string(held.role)), zap.String("channel_id", held.channelID), zap.Error(err))
	}
}
