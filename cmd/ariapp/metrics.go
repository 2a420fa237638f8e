package main

import (
	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/internal/metrics"
)

// newMetrics builds the Prometheus metrics when the API serves them
// (api.metrics, and an API listener); nil otherwise.
func newMetrics(cfg Config) *metrics.Metrics {
	if !cfg.Metrics || cfg.API.Listen == "" {
		return nil
	}
	return metrics.New(version)
}

// watchMetrics points m at the application's and the ARI client's own
// counters, read at every scrape.
func watchMetrics(m *metrics.Metrics, a *app.App, c *ari.Client) error {
	return m.Watch(metrics.Sources{
		Calls:     a.Calls,
		ARI:       c.Stats,
		Connected: c.Connected,
		Synced:    a.Synced,
		Resync:    a.ResyncStats,
		Swept:     a.Swept,
	})
}

// onRequests is one ari.Config.OnRequest hook that calls each of hooks
// (nil ones left out) in turn.
func onRequests(hooks ...func(*ari.Request)) func(*ari.Request) {
	var hs []func(*ari.Request)
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
	return func(r *ari.Request) {
		for _, h := range hs {
			h(r)
		}
	}
}
