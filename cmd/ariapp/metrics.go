package main

import (
	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/internal/metrics"
	"github.com/ariapp/ariapp/webhook"
)

// newMetrics builds the Prometheus metrics when the API serves them
// (api.metrics, and an API listener); nil otherwise.
func newMetrics(cfg Config) *metrics.Metrics {
	if !cfg.Metrics || cfg.API.Listen == "" {
		return nil
	}
	return metrics.New(version)
}

// watchMetrics points m at the application's, the ARI client's and the
// webhooks' own counters (hooks may be nil: no webhooks), read at every
// scrape.
func watchMetrics(m *metrics.Metrics, a *app.App, c *ari.Client, hooks *webhook.Sender) error {
	src := metrics.Sources{
		Calls:     a.Calls,
		ARI:       c.Stats,
		Connected: c.Connected,
		Synced:    a.Synced,
		Resync:    a.ResyncStats,
		Swept:     a.Swept,
	}
	if hooks != nil {
		src.Webhooks = hooks.Stats
	}
	return m.Watch(src)
}

// onEvents is one app.Config.OnEvent hook that calls each of hooks (nil
// ones left out) in turn: the metrics and the webhooks.
func onEvents(hooks ...func(app.Event)) func(app.Event) { return fanOut(hooks...) }

// onRequests is one ari.Config.OnRequest hook that calls each of hooks
// (nil ones left out) in turn.
func onRequests(hooks ...func(*ari.Request)) func(*ari.Request) { return fanOut(hooks...) }

// fanOut is one hook that calls each of hooks, nil ones left out; nil if
// none is left, so that an unused hook costs nothing.
func fanOut[T any](hooks ...func(T)) func(T) {
	var hs []func(T)
	for _, h := range hooks {
		if h != nil {
			hs = append(hs, h)
		}
	}
	switch len(hs) {
	case 0:
		return nil
	case 1:
		return hs[0]
	}
	return func(v T) {
		for _, h := range hs {
			h(v)
		}
	}
}
