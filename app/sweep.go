package app

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/ariapp/ariapp/ari"
)

// sweeper remembers what the last sweep found unowned.
type sweeper struct {
	mu      sync.Mutex
	suspect map[string]bool // ids seen unowned by the last sweep
	// swept counts the channels and bridges the sweeps removed.
	swept atomic.Uint64
}

// Swept is how many channels and bridges of ariapp's that no call owned the
// periodic sweep has removed from Asterisk.
func (a *App) Swept() uint64 { return a.sweeper.swept.Load() }

// sweepEvery runs sweep at every interval until ctx ends.
func (a *App) sweepEvery(ctx context.Context, interval time.Duration) {
	defer a.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if a.Synced() {
				a.sweep(ctx)
			}
		}
	}
}

// sweep removes from Asterisk what is ariapp's and owned by no call: a
// channel in ariapp's Stasis application that no call claims, a channel
// or bridge of an ended call (an originate given up that Asterisk went
// through with later, a hang-up that failed). The dispatcher may not have
// routed a channel's StasisStart yet when its channel is listed, so only
// what two sweeps in a row find unowned is removed.
func (a *App) sweep(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.StepTimeout)
	defer cancel()
	snap, err := a.asteriskNow(ctx)
	if err != nil {
		a.log.Warn("sweep: not done", zap.Error(err))
		return
	}
	type found struct {
		id, name, why string
		bridge        bool
	}
	var unowned []found
	for _, ch := range snap.channels {
		if a.routeOfID(ch.ID) != nil {
			continue
		}
		if _, ours := a.stasisArgs(ch); ours {
			unowned = append(unowned, found{id: ch.ID, name: ch.Name, why: "in Stasis with no call"})
		} else if a.isAbandoned(ch.ID) {
			unowned = append(unowned, found{id: ch.ID, name: ch.Name, why: "of an ended call"})
		}
	}
	for _, b := range snap.bridges {
		if a.routeOfID(b.ID) == nil && a.isAbandoned(b.ID) {
			unowned = append(unowned, found{id: b.ID, name: b.Name, why: "of an ended call", bridge: true})
		}
	}

	a.sweeper.mu.Lock()
	last := a.sweeper.suspect
	a.sweeper.suspect = make(map[string]bool, len(unowned))
	var remove []found
	for _, f := range unowned {
		if last[f.id] {
			remove = append(remove, f)
		} else {
			a.sweeper.suspect[f.id] = true
		}
	}
	a.sweeper.mu.Unlock()

	for _, f := range remove {
		var err error
		if f.bridge {
			a.log.Warn("sweep: destroying a bridge no call owns", zap.String("bridge_id", f.id), zap.String("why", f.why))
			err = a.cleanup(ctx, func(ctx context.Context) error { return a.ari.DestroyBridge(ctx, f.id) })
		} else {
			a.log.Warn("sweep: hanging up a channel no call owns", zap.String("channel_id", f.id),
				zap.String("channel_name", f.name), zap.String("why", f.why))
			err = a.cleanup(ctx, func(ctx context.Context) error { return a.ari.Hangup(ctx, f.id, ari.HangupNormal) })
		}
		switch {
		case err == nil:
			a.sweeper.swept.Add(1)
		case errors.Is(err, ari.ErrNotFound):
		default:
			a.log.Warn("sweep: removal failed; trying again at the next sweep", zap.String("id", f.id), zap.Error(err))
			a.sweeper.mu.Lock()
			a.sweeper.suspect[f.id] = true
			a.sweeper.mu.Unlock()
		}
	}
}
