package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ariapp/ariapp/ari"
)

// Modes: how hold and resume reach Asterisk.
const (
	ModeBaseline = "baseline" // the ari client alone, no app logic
	ModeInproc   = "inproc"   // ariapp's App in this process (App.Hold/Resume)
	ModeAPI      = "api"      // the ariapp binary, driven over its control API
)

// partyNames are the party sides by index (0 caller, 1 callee).
var partyNames = [2]string{"caller", "callee"}

// driver runs one mode at one concurrency level: it sets up calls, holds
// and resumes them, and ends them. Calls are numbered 0..n-1.
type driver interface {
	// start prepares the mode for n calls (client, App or process) and
	// returns with no call up.
	start(ctx context.Context, n int) error
	// establish sets up call i and returns once both parties are answered
	// and in the call's bridge.
	establish(ctx context.Context, i int) error
	// hold puts call i on hold on behalf of party (caller or callee): the
	// other party leaves the bridge and hears the hold tone. It returns
	// when Asterisk confirmed both (ChannelLeftBridge, PlaybackStarted).
	hold(ctx context.Context, i, party int) error
	// resume takes party's hold of call i off: the tone stops and the peer
	// is back in the bridge (PlaybackFinished, ChannelEnteredBridge).
	resume(ctx context.Context, i, party int) error
	// teardown ends every call and checks that none of its channels,
	// bridges or playbacks is left in Asterisk.
	teardown(ctx context.Context) error
	// cpu is the CPU time the measured side has used so far.
	cpu() time.Duration
	// memory is the measured side's memory now and how it was measured.
	memory() (uint64, string)
	// drops is how many ARI events the ARI client dropped (its counter),
	// and lost how many call events the subscriber watching the calls (the
	// App's subscription, the API's event stream) lost to a full buffer.
	drops() (ari, lost uint64)
	// ariCounts are the ARI requests sent (by kind) and events received so
	// far; ok is false where they cannot be observed (the api mode).
	ariCounts() (requests map[string]int, events uint64, ok bool)
	// notes are warnings and anomalies worth reporting (may be empty).
	notes() map[string]int
	// stop releases everything start acquired.
	stop()
}

// tone is the hold music of both ariapp (its default) and the baseline.
const tone = "tone:440/500|0/2500"

// leftovers lists channels and bridges whose ids start with one of
// prefixes, i.e. what a mode's calls left in Asterisk.
func leftovers(ctx context.Context, c *ari.Client, prefixes []string) ([]string, error) {
	has := func(id string) bool {
		return slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(id, p) })
	}
	var left []string
	chans, err := c.Channels(ctx)
	if err != nil {
		return nil, fmt.Errorf("list channels: %w", err)
	}
	for _, ch := range chans {
		if has(ch.ID) {
			left = append(left, "channel "+ch.ID+" ("+ch.Name+")")
		}
	}
	bridges, err := c.Bridges(ctx)
	if err != nil {
		return nil, fmt.Errorf("list bridges: %w", err)
	}
	for _, b := range bridges {
		if has(b.ID) {
			left = append(left, "bridge "+b.ID)
		}
	}
	return left, nil
}

// waitNoLeftovers polls Asterisk until nothing with the prefixes is left
// (Local channels' halves and bridges go a moment after the hang-up).
func waitNoLeftovers(ctx context.Context, c *ari.Client, prefixes []string, within time.Duration) error {
	if len(prefixes) == 0 {
		return nil
	}
	deadline := time.Now().Add(within)
	for {
		left, err := leftovers(ctx, c, prefixes)
		if err != nil {
			return err
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			if len(left) > 10 {
				left = append(left[:10], fmt.Sprintf("... %d more", len(left)-10))
			}
			return fmt.Errorf("left in Asterisk after teardown: %s", strings.Join(left, ", "))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// forceCleanup hangs up the channels and destroys the bridges with the
// prefixes that an application's own teardown left behind, so a failed
// run does not leave load on the shared lab.
func forceCleanup(ctx context.Context, c *ari.Client, prefixes []string) {
	has := func(id string) bool {
		return slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(id, p) })
	}
	if chans, err := c.Channels(ctx); err == nil {
		for _, ch := range chans {
			if has(ch.ID) {
				_ = retry(ctx, func(ctx context.Context) error { return c.Hangup(ctx, ch.ID, ari.HangupNormal) })
			}
		}
	}
	if bridges, err := c.Bridges(ctx); err == nil {
		for _, b := range bridges {
			if has(b.ID) {
				_ = retry(ctx, func(ctx context.Context) error { return c.DestroyBridge(ctx, b.ID) })
			}
		}
	}
}

// ignoreGone treats "already gone" as success for teardown requests.
func ignoreGone(err error) error {
	if errors.Is(err, ari.ErrNotFound) {
		return nil
	}
	return err
}

// settler is a driver that can drop what the load left behind and the
// next load would rebuild (idle HTTP connections to Asterisk, with their
// goroutines and buffers), so memory measured on both sides of a teardown
// differs by the calls alone.
type settler interface {
	settle()
}

func settle(d driver) {
	if s, ok := d.(settler); ok {
		s.settle()
	}
}

// insider is a driver that also knows how long each operation took inside
// ariapp (api: the Server-Timing header), so the report can split the
// latency into ariapp's part and the control API's HTTP hop.
type insider interface {
	insideTimes() (holds, resumes []time.Duration)
}

// setupTimer is a driver that knows how long each call's set-up took
// inside ariapp: from the caller's StasisStart to call_answered.
type setupTimer interface {
	setupTimes() []time.Duration
}
