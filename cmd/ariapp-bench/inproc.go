package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/ari"
)

// farEndpoint is the far end of every benchmark call: the lab's silent
// "idle" extension, so Asterisk spends its CPU on signalling and bridging,
// not on tone generators (Local/talk costs ~3.5% of a core per call).
const farEndpoint = "Local/idle@ariapp-test"

// inproc runs ariapp's App in this process with its own ARI client and
// Stasis application, and times App.Hold and App.Resume, which return once
// Asterisk confirmed the step (PlaybackStarted, ChannelEnteredBridge).
// Calls are placed with App.Originate between two Local/talk endpoints.
type inproc struct {
	cfg  ari.Config
	reqs *countingTransport
	wait time.Duration

	client  *ari.Client
	app     *app.App
	sub     *app.Subscription
	subDone chan struct{}
	watch   *callWatch
	logs    *countingCore
	ids     []string
}

func newInproc(cfg ari.Config, reqs *countingTransport, wait time.Duration) *inproc {
	return &inproc{cfg: cfg, reqs: reqs, wait: wait}
}

func (d *inproc) ariCounts() (map[string]int, uint64, bool) {
	return d.reqs.snapshot(), d.client.Stats().Received, true
}

func (d *inproc) start(ctx context.Context, n int) error {
	d.logs = newCountingCore(zapcore.WarnLevel)
	log := zap.New(d.logs)
	cfg := d.cfg
	cfg.Logger = log.Named("ari")
	// The events the binary asks Asterisk for by default.
	cfg.EventTypes = app.EventTypes
	c, err := ari.New(cfg)
	if err != nil {
		return err
	}
	// ariapp's defaults, as the binary runs with an empty config file.
	a, err := app.New(app.Config{}, c, log.Named("app"))
	if err != nil {
		c.Close()
		return err
	}
	if err := c.Connect(ctx); err != nil {
		c.Close()
		return fmt.Errorf("inproc: connect: %w", err)
	}
	d.client, d.app = c, a
	d.watch = newCallWatch()
	d.sub = a.Subscribe("")
	d.subDone = make(chan struct{})
	go func() {
		defer close(d.subDone)
		for ev := range d.sub.C {
			d.watch.event(string(ev.Name), ev.CallID, ev.Reason)
		}
	}()
	a.Start(c.Events())
	d.ids = make([]string, n)
	return nil
}

func (d *inproc) establish(ctx context.Context, i int) error {
	info, err := d.app.Originate(ctx, farEndpoint, farEndpoint)
	if err != nil {
		return fmt.Errorf("originate: %w", err)
	}
	d.ids[i] = info.CallID
	return d.watch.waitAnswered(ctx, info.CallID, d.wait)
}

// setupTimes reads each call's timeline: from the caller's StasisStart to
// call_answered.
func (d *inproc) setupTimes() []time.Duration {
	var out []time.Duration
	for _, id := range d.ids {
		tl, err := d.app.Timeline(id)
		if err != nil {
			continue
		}
		var start time.Time
		for _, e := range tl.Entries {
			switch {
			case start.IsZero() && e.Kind == "ari_event" && e.Name == "StasisStart":
				start = e.Time
			case !start.IsZero() && e.Kind == "call_event" && e.Name == string(app.EventCallAnswered):
				out = append(out, e.Time.Sub(start))
			}
		}
	}
	return out
}

func (d *inproc) hold(ctx context.Context, i, party int) error {
	_, err := d.app.Hold(ctx, d.ids[i], partyNames[party], app.SourceAPI)
	return err
}

func (d *inproc) resume(ctx context.Context, i, party int) error {
	_, err := d.app.Resume(ctx, d.ids[i], partyNames[party], app.SourceAPI)
	return err
}

func (d *inproc) teardown(ctx context.Context) error {
	if d.app == nil {
		return nil
	}
	prefixes := callIDs(d.ids)
	errs := forEach(prefixes, 16, func(id string) error {
		if _, err := d.app.Hangup(ctx, id); err != nil && !errors.Is(err, app.ErrCallNotFound) && !errors.Is(err, app.ErrCallEnded) {
			return err
		}
		return nil
	})
	if len(errs) > 0 {
		forceCleanup(ctx, d.client, prefixes)
		return fmt.Errorf("inproc teardown: %d hang-ups failed, first: %w", len(errs), errs[0])
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(d.app.Calls()) > 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("inproc teardown: ariapp still has %d calls", len(d.app.Calls()))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := waitNoLeftovers(ctx, d.client, prefixes, 15*time.Second); err != nil {
		forceCleanup(ctx, d.client, prefixes)
		return err
	}
	return nil
}

func (d *inproc) cpu() time.Duration { return selfCPU() }

func (d *inproc) memory() (uint64, string) { return liveHeap(), methodHeap }

func (d *inproc) drops() (uint64, uint64) {
	if d.client == nil {
		return 0, 0
	}
	return d.client.Stats().Dropped, d.sub.Dropped()
}

func (d *inproc) notes() map[string]int {
	if d.logs == nil {
		return nil
	}
	return d.logs.snapshot()
}

func (d *inproc) stop() {
	if d.app != nil {
		d.app.Close()
		d.sub.Close()
		<-d.subDone
	}
	if d.client != nil {
		d.client.Close()
	}
	d.reqs.CloseIdleConnections()
}

// countingCore is a zap core that only counts log entries at or above a
// level, by level and message: the in-process App's warnings, reported the
// way the binary's warn-level log would show them.
type countingCore struct {
	zapcore.LevelEnabler
	mu     *sync.Mutex
	counts map[string]int
}

func newCountingCore(l zapcore.Level) *countingCore {
	return &countingCore{LevelEnabler: l, mu: new(sync.Mutex), counts: map[string]int{}}
}

// With implements zapcore.Core; fields are not kept.
func (c *countingCore) With([]zapcore.Field) zapcore.Core { return c }

// Check implements zapcore.Core.
func (c *countingCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

// Write implements zapcore.Core.
func (c *countingCore) Write(e zapcore.Entry, _ []zapcore.Field) error {
	c.mu.Lock()
	c.counts[e.Level.String()+": "+e.Message]++
	c.mu.Unlock()
	return nil
}

// Sync implements zapcore.Core.
func (c *countingCore) Sync() error { return nil }

func (c *countingCore) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.counts))
	for k, v := range c.counts {
		out[k] = v
	}
	return out
}

// settle also lets the calls' goroutines, which linger half a second
// after their last work, end: memory is measured of idle calls.
func (d *inproc) settle() {
	d.reqs.CloseIdleConnections()
	time.Sleep(time.Second)
}
