package app

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/ariapp/ariapp/ari"
)

// The dispatcher is the one goroutine that reads ARI events: it routes each
// to its call's mailbox by the channel, bridge or playback ids the call
// registered, in Asterisk's order, and starts new calls.

func (a *App) lookupCall(id string) *call {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.calls[id]
}

// route registers an id (channel, bridge, playback) as belonging to c, before
// the ARI request that creates it, since its events can beat the reply.
func (a *App) route(id string, c *call) {
	a.mu.Lock()
	a.routeLocked(id, c)
	a.mu.Unlock()
}

// routeLocked is route with a.mu held. Each call keeps its own ids, so
// ending it does not scan every route.
func (a *App) routeLocked(id string, c *call) {
	if id == "" {
		return
	}
	a.routes[id] = c
	if c.routeIDs == nil {
		c.routeIDs = map[string]struct{}{}
	}
	c.routeIDs[id] = struct{}{}
}

// unrouteID forgets one id of c (a playback that finished), so a long call
// with many holds does not grow.
func (a *App) unrouteID(id string, c *call) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.routes[id] == c {
		delete(a.routes, id)
	}
	delete(c.routeIDs, id)
}

// unroute forgets a call and every id routed to it.
func (a *App) unroute(c *call) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for id := range c.routeIDs {
		if a.routes[id] == c {
			delete(a.routes, id)
		}
	}
	c.routeIDs = nil
	delete(a.calls, c.id)
	a.rememberEnded(c.id)
	a.endedTimelines.put(c.id, c.timeline)
}

// endedFor is how long ariapp remembers the ids of ended calls, so that an
// operation on one is told the call ended rather than that it never was.
const endedFor = 5 * time.Minute

// rememberEnded records an ended call's id; a.mu held.
func (a *App) rememberEnded(id string) { a.ended.add(id, time.Now()) }

// recentlyEnded reports whether a call of this id ended lately.
func (a *App) recentlyEnded(id string) bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.ended.has(id, time.Now())
}

// dispatch routes each ARI event to its call's mailbox, in Asterisk's order.
func (a *App) dispatch(ctx context.Context, events <-chan ari.Event) {
	defer a.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			a.handleEvent(ctx, ev)
		case req := <-a.originate:
			a.newOriginatedCall(ctx, req)
		}
	}
}

func (a *App) handleEvent(ctx context.Context, ev ari.Event) {
	switch e := ev.(type) {
	case *ari.ConnectionEvent:
		a.log.Info("ari connection", zap.String("state", e.State.String()), zap.Bool("reconnect", e.Reconnect), zap.Error(e.Err))
		if e.State == ari.StateConnected {
			// Events may have been missed (a reconnect), or a previous
			// ariapp left calls (the first connect): reconcile with Asterisk.
			a.resync(ctx, e.Reconnect)
			a.setSynced(true)
		} else {
			a.setSynced(false)
		}
		return
	case *ari.StasisStart:
		// A channel ariapp originated (a callee, or the caller of an API
		// call) is routed by its id; anything else with "dial" is a new call.
		if c := a.routeOf(ev); c != nil {
			c.recordEvent(ev)
			c.inbox.put(ariEvent{ev})
			return
		}
		if a.isAbandoned(e.Channel.ID) {
			// ariapp gave this channel up (its call ended, or its
			// originate timed out) before it entered Stasis.
			a.log.Warn("a channel of an ended call entered Stasis; hanging it up", zap.String("channel_id", e.Channel.ID))
			a.hangupStrayAsync(ctx, e.Channel.ID)
			return
		}
		if len(e.Args) > 0 && e.Args[0] == ArgDial {
			a.startCall(ctx, e)
			return
		}
		if len(e.Args) >= 2 && e.Args[0] == ArgCallee {
			if c := a.lookupCall(e.Args[1]); c != nil {
				c.recordEvent(ev)
				c.inbox.put(ariEvent{ev})
				return
			}
		}
		// A channel ariapp has no call for: hang it up rather than leave it
		// stranded in Stasis.
		a.log.Warn("channel entered Stasis without a call; hanging it up",
			zap.String("channel_id", e.Channel.ID), zap.String("channel_name", e.Channel.Name), zap.Strings("args", e.Args))
		a.hangupStrayAsync(ctx, e.Channel.ID)
		return
	}
	// Events for no call are normal (a Local channel's other half, late
	// events of an ended call): they were logged as they arrived.
	if c := a.routeOf(ev); c != nil {
		c.recordEvent(ev)
		c.inbox.put(ariEvent{ev})
	}
}

func (a *App) routeOf(ev ari.Event) *call {
	r := ari.RefsOf(ev)
	a.mu.RLock()
	defer a.mu.RUnlock()
	for _, id := range []string{r.PlaybackID, r.ChannelID, r.BridgeID, r.PeerID} {
		if id == "" {
			continue
		}
		if c, ok := a.routes[id]; ok {
			return c
		}
	}
	return nil
}

// startCall starts the call of a caller that entered Stasis with "dial".
func (a *App) startCall(ctx context.Context, e *ari.StasisStart) {
	c := newDialledCall(a, a.callIDFor(e.Channel.ID), e)
	c.runOn(ctx)
	a.register(c)
	c.recordEvent(e)
	c.inbox.put(ariEvent{e})
}

// register makes a call and the ids it has or will create routable.
func (a *App) register(c *call) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls[c.id] = c
	a.routeLocked(c.caller.channelID, c)
	a.routeLocked(c.callee.channelID, c)
	a.routeLocked(c.bridgeID, c)
}

// abandonedFor is how long ariapp remembers the channels of ended calls, to
// refuse one that enters Stasis late (an originate that timed out) and for
// the sweep to remove one Asterisk created late.
const abandonedFor = 5 * time.Minute

// rememberMax bounds how many ids of ended calls (and of their channels)
// ariapp remembers at once.
const rememberMax = 8192

// abandon remembers a channel or bridge id of an ended call.
func (a *App) abandon(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.abandoned.add(id, time.Now())
}

func (a *App) isAbandoned(id string) bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.abandoned.has(id, time.Now())
}

// hangupStray hangs up a channel in Stasis that no call owns.
func (a *App) hangupStray(ctx context.Context, id, why string) {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.StepTimeout)
	defer cancel()
	a.log.Warn("hanging up a stray channel", zap.String("channel_id", id), zap.String("why", why))
	if err := a.cleanup(ctx, func(ctx context.Context) error { return a.ari.Hangup(ctx, id, ari.HangupNormal) }); err != nil && !errors.Is(err, ari.ErrNotFound) {
		a.log.Warn("hangup of a stray channel failed", zap.String("channel_id", id), zap.Error(err))
	}
}

// hangupStrayAsync is hangupStray off the dispatcher's goroutine.
func (a *App) hangupStrayAsync(ctx context.Context, id string) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.hangupStray(ctx, id, "no call owns it")
	}()
}
