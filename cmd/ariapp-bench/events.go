package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ariapp/ariapp/ari"
)

// inbox is one call's unbounded event queue: the router never blocks on a
// call that is busy with a REST request, as ariapp's own mailbox never does.
type inbox struct {
	mu    sync.Mutex
	items []ari.Event
	ready chan struct{}
}

func newInbox() *inbox { return &inbox{ready: make(chan struct{}, 1)} }

func (b *inbox) put(ev ari.Event) {
	b.mu.Lock()
	b.items = append(b.items, ev)
	b.mu.Unlock()
	select {
	case b.ready <- struct{}{}:
	default:
	}
}

// errWaitTimeout is returned by await when the event did not come in time.
var errWaitTimeout = errors.New("event did not arrive in time")

// await removes and returns the first queued event for which match is true,
// waiting up to timeout. Events that do not match stay queued (in order) for
// a later await, because Asterisk may send them before the REST reply of the
// step that caused them.
func (b *inbox) await(ctx context.Context, timeout time.Duration, what string, match func(ari.Event) bool) (ari.Event, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		b.mu.Lock()
		for i, ev := range b.items {
			if match(ev) {
				b.items = slices.Delete(b.items, i, i+1)
				b.mu.Unlock()
				return ev, nil
			}
		}
		// Events nobody waits for (ChannelVarset, StateChange, ...) would
		// pile up for the whole run; drop the ones await can never want.
		b.items = slices.DeleteFunc(b.items, uninteresting)
		b.mu.Unlock()
		select {
		case <-b.ready:
		case <-t.C:
			return nil, fmt.Errorf("%s: %w after %v", what, errWaitTimeout, timeout)
		case <-ctx.Done():
			return nil, fmt.Errorf("%s: %w", what, ctx.Err())
		}
	}
}

// uninteresting reports events the baseline never waits for.
func uninteresting(ev ari.Event) bool {
	switch ev.(type) {
	case *ari.StasisStart, *ari.ChannelEnteredBridge, *ari.ChannelLeftBridge,
		*ari.PlaybackStarted, *ari.PlaybackFinished, *ari.StasisEnd:
		return false
	}
	return true
}

// router hands each event of one ARI client to the inbox registered for
// the channel, bridge or playback it concerns: the baseline's whole "app
// logic", so its dispatch costs about what ariapp's dispatcher costs.
type router struct {
	mu     sync.RWMutex
	routes map[string]*inbox
	done   chan struct{}
	// unrouted counts events for no registered id (e.g. of the Local
	// channels' ;2 halves after hang-up).
	unrouted int
}

func newRouter(events <-chan ari.Event) *router {
	r := &router{routes: map[string]*inbox{}, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for ev := range events {
			refs := ari.RefsOf(ev)
			r.mu.RLock()
			var box *inbox
			for _, id := range []string{refs.PlaybackID, refs.ChannelID, refs.BridgeID} {
				if id == "" {
					continue
				}
				if b, ok := r.routes[id]; ok {
					box = b
					break
				}
			}
			r.mu.RUnlock()
			if box != nil {
				box.put(ev)
			} else {
				r.unrouted++
			}
		}
	}()
	return r
}

// add routes the events of ids to box.
func (r *router) add(box *inbox, ids ...string) {
	r.mu.Lock()
	for _, id := range ids {
		r.routes[id] = box
	}
	r.mu.Unlock()
}

// remove stops routing ids.
func (r *router) remove(ids ...string) {
	r.mu.Lock()
	for _, id := range ids {
		delete(r.routes, id)
	}
	r.mu.Unlock()
}
