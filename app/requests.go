package app

import (
	"context"
	"errors"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/ariapp/ariapp/ari"
)

// request runs a hold or resume that came from the phone (re-INVITE) or its
// keypad (DTMF). Outcomes are reported as events by hold and resume; what is
// left to log is a request that changed nothing.
func (c *call) request(ctx context.Context, p *party, kind cmdKind, src Source) {
	var err error
	if kind == cmdHold {
		err = c.hold(ctx, p, src)
	} else {
		err = c.resume(ctx, p, src)
	}
	if err == nil {
		return
	}
	if kind == cmdHold && src == SourcePhone && !c.ended {
		// The phone's hold went through the bridge, where Asterisk starts
		// its own music on hold on the peer. The hold was refused: the
		// peer must hear what it heard before (H5). Asterisk may start the
		// music just after this, so look again a moment later.
		q := c.peer(p)
		c.stopAsteriskMOH(ctx, q)
		time.AfterFunc(200*time.Millisecond, func() { c.inbox.put(stopPeerMOH{q}) })
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
	switch {
	case holdHit && resumeHit: // one code toggles
		p.digits = ""
		if p.holds {
			c.request(ctx, p, cmdResume, SourceDTMF)
		} else {
			c.request(ctx, p, cmdHold, SourceDTMF)
		}
	case holdHit:
		p.digits = ""
		c.request(ctx, p, cmdHold, SourceDTMF)
	case resumeHit:
		p.digits = ""
		c.request(ctx, p, cmdResume, SourceDTMF)
	}
}

// stopPeerMOH asks the call to stop Asterisk's own music on hold on a party.
type stopPeerMOH struct{ p *party }

// stopAsteriskMOH stops music on hold that Asterisk started on q by itself
// (not ariapp's hold music: that is never MOH on a party in the bridge).
func (c *call) stopAsteriskMOH(ctx context.Context, q *party) {
	if c.ended || q.gone || q.music != nil {
		return
	}
	if err := c.app.ari.StopMOH(ctx, q.channelID); err != nil && !errors.Is(err, ari.ErrNotFound) {
		c.log.Warn("stopping Asterisk's music on hold after a refused phone hold failed",
			zap.String("party", string(q.role)), zap.String("channel_id", q.channelID), zap.Error(err))
	}
}
