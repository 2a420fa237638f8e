package app

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/ariapp/ariapp/ari"
)

// How ariapp writes and reads its channel variables, from Asterisk's
// version or its answer to the first bulk write: Asterisk 22.10 takes them
// all in one request each way (POST and GET /channels/{id}/variables); an
// older one has neither (ErrNotSupported) and takes one variable per
// request. They are not written with report_events, which would put them
// into every event of the call's channels: that made Asterisk spend about
// 15% more CPU per hold and resume, for a restart that is rare.
const (
	varsUnknown int32 = iota
	varsBulk
	varsSingle
)

// learnVarsMode reads Asterisk's version on every connect (the next
// Asterisk may be another one): 22.10 and later 22 releases take variables
// in bulk, earlier 22 releases do not; of other branches the first bulk
// write tells.
func (a *App) learnVarsMode(ctx context.Context) {
	info, err := a.ari.Info(ctx)
	if err != nil {
		a.varsMode.Store(varsUnknown)
		a.log.Warn("reading Asterisk's version failed; the first variable write will tell whether it writes them in bulk", zap.Error(err))
		return
	}
	a.varsMode.Store(varsModeFor(info.System.Version))
}

// varsModeFor maps an Asterisk version ("22.10.1+dfsg-1") to how it takes
// channel variables.
func varsModeFor(version string) int32 {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return varsUnknown
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	switch {
	case err1 != nil || err2 != nil || major != 22:
		return varsUnknown
	case minor >= 10:
		return varsBulk
	}
	return varsSingle
}

// presetVars are written on both parties at set-up with their empty value
// when Asterisk reads variables in bulk: a bulk read fails as a whole when
// one is unset, so a restart reads every variable of a channel in one
// request (see App.channelVar).
var presetVars = []string{VarHeld, VarHoldOrder, VarHoldSince}

// callVars are the variables a restart reads from a channel.
var callVars = []string{VarCallID, VarRole, VarPeer, VarBridge, VarHeld, VarHoldOrder, VarHoldSince}

// setupVars are the variables a party carries from call_answered on:
// enough for a restarted ariapp to rebuild the call (see VarCallID).
func (c *call) setupVars(p *party, preset bool) map[string]string {
	vars := map[string]string{
		VarCallID: c.id,
		VarRole:   string(p.role),
		VarPeer:   c.peer(p).channelID,
		VarBridge: c.bridgeID,
	}
	if preset {
		for _, name := range presetVars {
			vars[name] = ""
		}
	}
	return vars
}

// bulkVars tells whether Asterisk is known to take variables in bulk.
func (a *App) bulkVars() bool { return a.varsMode.Load() == varsBulk }

// setVars writes channel variables (name, value pairs). They let a restarted
// ariapp rebuild the call; a failure is logged, not fatal. Never call it on
// a channel with a playback running (see VarHeld).
func (c *call) setVars(ctx context.Context, p *party, kv ...string) {
	if p.channel == channelGone {
		return
	}
	ctx = c.forParty(ctx, p)
	if c.app.varsMode.Load() != varsSingle {
		vars := make(map[string]string, len(kv)/2)
		for i := 0; i+1 < len(kv); i += 2 {
			vars[kv[i]] = kv[i+1]
		}
		err := c.app.ari.SetVars(ctx, p.channelID, vars, false)
		switch {
		case err == nil:
			c.app.varsMode.CompareAndSwap(varsUnknown, varsBulk)
			return
		case !errors.Is(err, ari.ErrNotSupported):
			c.log.Warn("writing channel variables failed", zap.String("party", string(p.role)),
				zap.String("channel_id", p.channelID), zap.Error(err))
			return
		}
		if c.app.varsMode.Swap(varsSingle) != varsSingle {
			c.app.log.Info("Asterisk writes no channel variables in bulk (before 22.10); writing them one by one", zap.Error(err))
		}
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

// pairs flattens variables into setVars' name, value pairs.
func pairs(vars map[string]string) []string {
	kv := make([]string, 0, 2*len(vars))
	for k, v := range vars {
		kv = append(kv, k, v)
	}
	return kv
}

// readVars reads a channel's call variables for a resync: in one request
// when Asterisk reads in bulk and every one is set (a channel this version
// set up), else nil, and channelVar reads them one by one.
func (a *App) readVars(ctx context.Context, channelID string) map[string]string {
	if !a.bulkVars() {
		return nil
	}
	vars, err := a.ari.GetVars(ctx, channelID, callVars...)
	if err != nil {
		return nil
	}
	return vars
}
