package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/ari"
)

// ResyncResult is how long a restarted ariapp took to rebuild n answered
// calls a previous one left in Asterisk, and the ARI requests it made.
type ResyncResult struct {
	Calls int `json:"calls"`
	// ResyncMs is the App's own measure of its first resync (the
	// "resync with Asterisk done" log line's took); ReadyMs runs from
	// the event connection's start to every call rebuilt (its "call
	// rebuilt from Asterisk" line: media checked, bridge subscribed).
	ResyncMs float64 `json:"resync_ms"`
	ReadyMs  float64 `json:"ready_ms"`
	// Requests are the ARI requests by kind from the connect to every call
	// rebuilt (the rebuilt calls' bridge subscriptions included).
	Requests      map[string]int `json:"ari_requests"`
	RequestsTotal int            `json:"ari_requests_total"`
	Adopted       uint64         `json:"calls_adopted"`
}

// resyncRun sets n calls up with an in-process App (Local channels, the
// App's ulaw originate), closes it (Close leaves the calls up in
// Asterisk, as a stopped ariapp does), starts a second App on the same
// Stasis application and times how long it takes to adopt them all.
func resyncRun(ctx context.Context, cfg *config, id string, n int) (*ResyncResult, error) {
	acfg := cfg.ARI
	acfg.Application = "ariapp-bench-" + id + "-resync"
	acfg.EventTypes = app.EventTypes
	newClient := func() (*ari.Client, *countingTransport, error) {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 64, 64
		reqs := newCountingTransport(tr)
		c := acfg
		c.HTTPClient = &http.Client{Transport: reqs}
		cl, err := ari.New(c)
		return cl, reqs, err
	}

	c1, _, err := newClient()
	if err != nil {
		return nil, err
	}
	a1, err := app.New(app.Config{}, c1, zap.NewNop())
	if err != nil {
		c1.Close()
		return nil, err
	}
	if err := c1.Connect(ctx); err != nil {
		c1.Close()
		return nil, err
	}
	watch := newCallWatch()
	sub := a1.Subscribe("")
	subDone := make(chan struct{})
	go func() {
		defer close(subDone)
		for ev := range sub.C {
			watch.event(string(ev.Name), ev.CallID, ev.Reason)
		}
	}()
	a1.Start(c1.Events())
	ids := make([]string, n)
	err = parallel(ctx, n, cfg.SetupPar, func(ctx context.Context, i int) error {
		info, err := a1.Originate(ctx, farEndpoint, farEndpoint)
		if err != nil {
			return err
		}
		ids[i] = info.CallID
		return watch.waitAnswered(ctx, info.CallID, cfg.Wait)
	})
	a1.Close()
	sub.Close()
	<-subDone
	c1.Close()
	prefixes := callIDs(ids)
	lister, _, lerr := newClient()
	if lerr != nil {
		return nil, lerr
	}
	defer lister.Close()
	if err != nil {
		forceCleanup(context.WithoutCancel(ctx), lister, prefixes)
		return nil, fmt.Errorf("set-up: %w", err)
	}
	cfg.logf("resync: %d calls up, left by the first App; starting the second", n)

	c2, reqs, err := newClient()
	if err != nil {
		forceCleanup(context.WithoutCancel(ctx), lister, prefixes)
		return nil, err
	}
	defer c2.Close()
	core, logs := observer.New(zapcore.InfoLevel)
	a2, err := app.New(app.Config{}, c2, zap.New(core))
	if err != nil {
		forceCleanup(context.WithoutCancel(ctx), lister, prefixes)
		return nil, err
	}
	defer a2.Close()
	defer func() {
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		a2.HangupAll(hctx)
		if err := waitNoLeftovers(hctx, lister, prefixes, 30*time.Second); err != nil {
			forceCleanup(hctx, lister, prefixes)
		}
	}()
	before := reqs.snapshot()
	t0 := time.Now()
	if err := c2.Connect(ctx); err != nil {
		return nil, err
	}
	a2.Start(c2.Events())
	for !a2.Synced() || logs.FilterMessage("call rebuilt from Asterisk").Len() < n {
		if time.Since(t0) > time.Minute {
			return nil, fmt.Errorf("resync: %d of %d calls rebuilt after a minute", len(a2.Calls()), n)
		}
		time.Sleep(time.Millisecond)
	}
	res := &ResyncResult{Calls: n, ReadyMs: ms(time.Since(t0)), Requests: diffCounts(before, reqs.snapshot()),
		Adopted: a2.ResyncStats().CallsAdopted}
	for _, v := range res.Requests {
		res.RequestsTotal += v
	}
	for _, e := range logs.FilterMessage("resync with Asterisk done").All() {
		if d, ok := e.ContextMap()["took"].(time.Duration); ok {
			res.ResyncMs = ms(d)
		}
	}
	return res, nil
}

// writeResync writes resync.json and resync.md into dir.
func writeResync(dir string, r *ResyncResult) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	j, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "resync.json"), append(j, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "resync.md"), []byte(r.markdown()), 0o644)
}

func (r *ResyncResult) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Restart resync with %d calls up\n\n", r.Calls)
	fmt.Fprintf(&b, "A second App adopts %d answered calls (Local channels, ulaw) that a first one left in Asterisk: the App's resync took %.1f ms; from its connect to every call rebuilt %.1f ms; %d calls adopted.\n\n", r.Calls, r.ResyncMs, r.ReadyMs, r.Adopted)
	fmt.Fprintf(&b, "ARI requests from the connect to every call rebuilt: %s.\n", countsText(float64(r.RequestsTotal), toFloat(r.Requests)))
	return b.String()
}

func toFloat(m map[string]int) map[string]float64 {
	out := make(map[string]float64, len(m))
	for k, v := range m {
		out[k] = float64(v)
	}
	return out
}
