package main

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/ariapp/ariapp/ari"
)

// baseline issues the ARI requests of a hold and a resume directly with
// the ari client, with no application logic: the floor ariapp is held to.
// Per call it originates two Local/idle channels into its own Stasis
// application and bridges them; hold and resume are the bare ARI steps
// (remove, wait ChannelLeftBridge, play, wait
// PlaybackStarted; stop, wait PlaybackFinished, add, wait
// ChannelEnteredBridge).
type baseline struct {
	cfg    ari.Config
	reqs   *countingTransport
	prefix string // of every channel, bridge and playback id
	wait   time.Duration

	client *ari.Client
	router *router
	calls  []*baseCall

	stopRetries atomic.Int64 // 500 "Could not stop playback" retried
}

type baseCall struct {
	box      *inbox
	chans    [2]string
	bridge   string
	playback string // the running hold tone, if any
	seq      int
}

func newBaseline(cfg ari.Config, reqs *countingTransport, prefix string, wait time.Duration) *baseline {
	return &baseline{cfg: cfg, reqs: reqs, prefix: prefix, wait: wait}
}

func (b *baseline) start(ctx context.Context, n int) error {
	c, err := ari.New(b.cfg)
	if err != nil {
		return err
	}
	if err := c.Connect(ctx); err != nil {
		c.Close()
		return fmt.Errorf("baseline: connect: %w", err)
	}
	b.client = c
	b.router = newRouter(c.Events())
	b.calls = make([]*baseCall, n)
	for i := range b.calls {
		id := fmt.Sprintf("%s%d", b.prefix, i)
		b.calls[i] = &baseCall{box: newInbox(), chans: [2]string{id + "-a", id + "-b"}, bridge: id + "-br"}
	}
	return nil
}

func (b *baseline) establish(ctx context.Context, i int) error {
	c := b.calls[i]
	b.router.add(c.box, c.chans[0], c.chans[1], c.bridge)
	for _, id := range c.chans {
		if _, err := b.client.Originate(ctx, ari.OriginateParams{
			Endpoint:       farEndpoint,
			ChannelID:      id,
			OtherChannelID: id + "-2",
			App:            b.client.Application(),
			// Without an originator a Local channel runs in Asterisk's
			// richest format (slin192): every hold tone would be
			// resampled. ariapp offers ulaw the same way.
			Formats: "ulaw",
		}); err != nil {
			return fmt.Errorf("originate %s: %w", id, err)
		}
	}
	for _, id := range c.chans {
		if _, err := c.box.await(ctx, b.wait, "StasisStart of "+id, isChannel[*ari.StasisStart](id)); err != nil {
			return err
		}
	}
	if _, err := b.client.CreateBridge(ctx, c.bridge, "mixing", c.bridge); err != nil {
		return fmt.Errorf("create bridge: %w", err)
	}
	if err := b.client.AddChannel(ctx, c.bridge, c.chans[0], c.chans[1]); err != nil {
		return fmt.Errorf("add both to the bridge: %w", err)
	}
	for _, id := range c.chans {
		if _, err := c.box.await(ctx, b.wait, "ChannelEnteredBridge of "+id, inBridge[*ari.ChannelEnteredBridge](c.bridge, id)); err != nil {
			return err
		}
	}
	return nil
}

func (b *baseline) hold(ctx context.Context, i, party int) error {
	c := b.calls[i]
	if c.playback != "" {
		return errors.New("baseline: call already held")
	}
	peer := c.chans[1-party]
	if err := b.client.RemoveChannel(ctx, c.bridge, peer); err != nil {
		return fmt.Errorf("remove peer: %w", err)
	}
	if _, err := c.box.await(ctx, b.wait, "ChannelLeftBridge", inBridge[*ari.ChannelLeftBridge](c.bridge, peer)); err != nil {
		return err
	}
	c.seq++
	pb := fmt.Sprintf("%s-pb%d", c.bridge, c.seq)
	b.router.add(c.box, pb)
	if _, err := b.client.Play(ctx, peer, pb, tone); err != nil {
		b.router.remove(pb)
		return fmt.Errorf("play: %w", err)
	}
	ev, err := c.box.await(ctx, b.wait, "PlaybackStarted", func(ev ari.Event) bool {
		switch e := ev.(type) {
		case *ari.PlaybackStarted:
			return e.Playback.ID == pb
		case *ari.PlaybackFinished:
			return e.Playback.ID == pb
		}
		return false
	})
	if err != nil {
		return err
	}
	c.playback = pb
	if _, ok := ev.(*ari.PlaybackFinished); ok {
		return fmt.Errorf("playback %s finished at once", pb)
	}
	return nil
}

func (b *baseline) resume(ctx context.Context, i, party int) error {
	c := b.calls[i]
	if c.playback == "" {
		return errors.New("baseline: call not held")
	}
	pb := c.playback
	peer := c.chans[1-party]
	if err := b.stopPlayback(ctx, pb); err != nil {
		return fmt.Errorf("stop playback: %w", err)
	}
	if _, err := c.box.await(ctx, b.wait, "PlaybackFinished", func(ev ari.Event) bool {
		e, ok := ev.(*ari.PlaybackFinished)
		return ok && e.Playback.ID == pb
	}); err != nil {
		return err
	}
	c.playback = ""
	b.router.remove(pb)
	if err := b.client.AddChannel(ctx, c.bridge, peer); err != nil {
		return fmt.Errorf("add peer: %w", err)
	}
	_, err := c.box.await(ctx, b.wait, "ChannelEnteredBridge", inBridge[*ari.ChannelEnteredBridge](c.bridge, peer))
	return err
}

// stopPlayback stops a playback, retrying Asterisk's 500 "Could not stop
// playback": res_stasis_playback publishes PlaybackStarted before it marks
// a tone playback controllable, so a stop in that instant fails.
func (b *baseline) stopPlayback(ctx context.Context, pb string) error {
	for try := 1; ; try++ {
		err := b.client.StopPlayback(ctx, pb)
		if err == nil || !errors.Is(err, ari.ErrServer) || try == 50 {
			return err
		}
		b.stopRetries.Add(1)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Millisecond):
		}
	}
}

func (b *baseline) teardown(ctx context.Context) error {
	if b.client == nil {
		return nil
	}
	errs := forEach(b.calls, 16, func(c *baseCall) error {
		var err error
		for _, id := range c.chans {
			err = errors.Join(err, retry(ctx, func(ctx context.Context) error { return b.client.Hangup(ctx, id, ari.HangupNormal) }))
		}
		return errors.Join(err, retry(ctx, func(ctx context.Context) error { return b.client.DestroyBridge(ctx, c.bridge) }))
	})
	if len(errs) > 0 {
		return fmt.Errorf("baseline teardown: %d calls failed, first: %w", len(errs), errs[0])
	}
	if err := waitNoLeftovers(ctx, b.client, []string{b.prefix}, 15*time.Second); err != nil {
		return err
	}
	// The calls are gone: forget them and the hang-up events nobody waits
	// for, as ariapp forgets an ended call.
	for _, c := range b.calls {
		b.router.remove(c.chans[0], c.chans[1], c.bridge)
		c.box.mu.Lock()
		c.box.items = nil
		c.box.mu.Unlock()
	}
	return nil
}

func (b *baseline) cpu() time.Duration { return selfCPU() }

func (b *baseline) memory() (uint64, string) { return liveHeap(), methodHeap }

func (b *baseline) drops() (uint64, uint64) {
	if b.client == nil {
		return 0, 0
	}
	return b.client.Stats().Dropped, 0
}

func (b *baseline) notes() map[string]int {
	if n := b.stopRetries.Load(); n > 0 {
		return map[string]int{`retried DELETE /playbacks after 500 "Could not stop playback" (stop right after PlaybackStarted)`: int(n)}
	}
	return nil
}

func (b *baseline) ariCounts() (map[string]int, uint64, bool) {
	return b.reqs.snapshot(), b.client.Stats().Received, true
}

func (b *baseline) stop() {
	if b.client != nil {
		b.client.Close()
		<-b.router.done
	}
	b.reqs.CloseIdleConnections()
}

// isChannel matches an event of type E about channel id.
func isChannel[E ari.Event](id string) func(ari.Event) bool {
	return func(ev ari.Event) bool {
		e, ok := ev.(E)
		return ok && ari.RefsOf(e).ChannelID == id
	}
}

// inBridge matches a ChannelEnteredBridge or ChannelLeftBridge (E) of
// channel id and bridge.
func inBridge[E ari.Event](bridge, id string) func(ari.Event) bool {
	return func(ev ari.Event) bool {
		e, ok := ev.(E)
		if !ok {
			return false
		}
		r := ari.RefsOf(e)
		return r.ChannelID == id && r.BridgeID == bridge
	}
}

func (b *baseline) settle() { b.reqs.CloseIdleConnections() }
