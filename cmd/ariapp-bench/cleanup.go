package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ariapp/ariapp/ari"
)

// retry runs an ARI request of a teardown again after a transport failure
// (Asterisk busy or out of HTTP sessions), up to five times; "already gone"
// counts as done.
func retry(ctx context.Context, f func(context.Context) error) error {
	var err error
	for try := 0; try < 5; try++ {
		err = ignoreGone(f(ctx))
		if err == nil || !errors.Is(err, ari.ErrUnreachable) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(try+1) * 200 * time.Millisecond):
		}
	}
	return err
}

// cleanupRun hangs up every channel and destroys every bridge that run
// runID left in Asterisk (after a crash or a kill): baseline channels
// (ids bb-RUNID-…), and channels in Stasis applications ariapp-bench-RUNID-…
// with their calls' bridges. At most 8 requests run at once, so the lab's
// HTTP sessions stay available to others.
func cleanupRun(ctx context.Context, cfg ari.Config, runID string, logf func(string, ...any)) error {
	if len(runID) < 6 || strings.ContainsAny(runID, "-/ ") {
		return fmt.Errorf("cleanup: %q is not a run id (8 hex digits, printed at the start of a run)", runID)
	}
	c, err := ari.New(cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	chans, err := c.Channels(ctx)
	if err != nil {
		return err
	}
	app := "ariapp-bench-" + runID + "-"
	var ids []string
	calls := map[string]bool{}
	for _, ch := range chans {
		if strings.HasPrefix(ch.ID, "bb-"+runID+"-") || strings.HasPrefix(ch.Dialplan.AppData, app) {
			ids = append(ids, ch.ID)
			if base, ok := strings.CutSuffix(ch.ID, "-caller"); ok {
				calls[base] = true
			} else if base, ok := strings.CutSuffix(ch.ID, "-callee"); ok {
				calls[base] = true
			}
		}
	}
	bridges, err := c.Bridges(ctx)
	if err != nil {
		return err
	}
	var bids []string
	for _, b := range bridges {
		base, _ := strings.CutSuffix(b.ID, "-bridge")
		if strings.HasPrefix(b.ID, "bb-"+runID+"-") || calls[base] {
			bids = append(bids, b.ID)
		}
	}
	logf("cleanup of run %s: %d channels, %d bridges", runID, len(ids), len(bids))
	// Channels first: a bridge is destroyed once its channels are gone.
	errs := forEach(ids, 8, func(id string) error {
		return retry(ctx, func(ctx context.Context) error { return c.Hangup(ctx, id, ari.HangupNormal) })
	})
	errs = append(errs, forEach(bids, 8, func(id string) error {
		return retry(ctx, func(ctx context.Context) error { return c.DestroyBridge(ctx, id) })
	})...)
	return errors.Join(errs...)
}

// forEach runs f for every item, at most limit at a time, and returns the
// errors it gave: the teardowns hang hundreds of calls up in parallel
// without flooding Asterisk's HTTP sessions.
func forEach[T any](items []T, limit int, f func(T) error) []error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, limit)
	)
	for _, it := range items {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := f(it); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errs
}

// callIDs returns the ids that were set (a slot whose call failed is "").
func callIDs(ids []string) []string {
	var out []string
	for _, id := range ids {
		if id != "" {
			out = append(out, id)
		}
	}
	return out
}
