package main

import (
	"slices"
	"testing"

	"github.com/ariapp/ariapp/ari"
)

func TestOnRequests(t *testing.T) {
	var got []string
	hook := func(name string) func(*ari.Request) {
		return func(r *ari.Request) { got = append(got, name+" "+r.Route) }
	}
	tests := []struct {
		name  string
		hooks []func(*ari.Request)
		want  []string
	}{
		{name: "none", hooks: nil},
		{name: "only nil", hooks: []func(*ari.Request){nil, nil}},
		{name: "one", hooks: []func(*ari.Request){nil, hook("log")}, want: []string{"log /channels"}},
		{name: "both, in order", hooks: []func(*ari.Request){hook("log"), nil, hook("metrics")}, want: []string{"log /channels", "metrics /channels"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got = nil
			h := onRequests(tt.hooks...)
			if (h == nil) != (len(tt.want) == 0) {
				t.Fatalf("onRequests returned nil: %v, want nil: %v", h == nil, len(tt.want) == 0)
			}
			if h != nil {
				h(&ari.Request{Method: "GET", Route: "/channels"})
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("hooks ran %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNewMetricsOnlyWithAnAPI(t *testing.T) {
	tests := []struct {
		name    string
		metrics bool
		listen  string
		want    bool
	}{
		{"on", true, "127.0.0.1:8090", true},
		{"off by key", false, "127.0.0.1:8090", false},
		{"no API", true, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := newConfig()
			cfg.Metrics, cfg.API.Listen = tt.metrics, tt.listen
			if got := newMetrics(cfg) != nil; got != tt.want {
				t.Fatalf("metrics built: %v, want %v", got, tt.want)
			}
		})
	}
}
