package main

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/internal/metrics"
	"github.com/ariapp/ariapp/internal/metrics/metricstest"
	"github.com/ariapp/ariapp/webhook"
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

// TestReadmeListsMetrics: the README's Metrics section names exactly the
// ariapp_ families that /metrics exposes.
func TestReadmeListsMetrics(t *testing.T) {
	m := metrics.New("v-test")
	zero := func() uint64 { return 0 }
	if err := m.Watch(metrics.Sources{
		Calls: func() []app.CallInfo { return nil }, ARI: func() ari.Stats { return ari.Stats{} },
		Connected: func() bool { return false }, Synced: func() bool { return false },
		Resync: func() app.ResyncStats { return app.ResyncStats{} }, Swept: zero,
		Webhooks: func() webhook.Stats { return webhook.Stats{} },
	}); err != nil {
		t.Fatal(err)
	}
	// A labelled family shows once it has a series.
	for _, name := range app.EventNames {
		m.ObserveCallEvent(app.Event{Name: name, Source: app.SourceAPI, Call: app.CallInfo{EndCause: "caller_hangup"}})
	}
	m.ObserveARIRequest(&ari.Request{Method: "GET", Route: "/channels", Status: 200})
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	var exposed []string
	for _, f := range metricstest.MustParse(t, rec.Body.Bytes()).Families() {
		if strings.HasPrefix(f, "ariapp_") {
			exposed = append(exposed, f)
		}
	}
	readme := readRepoFile(t, "README.md")
	_, section, ok := strings.Cut(readme, "\n## Metrics\n")
	if !ok {
		t.Fatal("README.md has no Metrics section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var documented []string
	for _, name := range regexp.MustCompile("`(ariapp_[a-z_]+)`").FindAllStringSubmatch(section, -1) {
		documented = append(documented, name[1])
	}
	for _, f := range exposed {
		if !slices.Contains(documented, f) {
			t.Errorf("README's Metrics section lacks %s", f)
		}
	}
	for _, f := range documented {
		if !slices.Contains(exposed, f) {
			t.Errorf("README's Metrics section names %s, which /metrics does not expose", f)
		}
	}
}

// TestOnEventsFeedsMetricsAndWebhooks: the one OnEvent hook reaches both
// the metrics and a webhook receiver.
func TestOnEventsFeedsMetricsAndWebhooks(t *testing.T) {
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get(webhook.HeaderID)
	}))
	defer srv.Close()
	hooks, err := webhook.New(webhook.Config{URLs: []string{srv.URL}, Secret: "s"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	hooks.Start()
	defer hooks.Close()
	m := metrics.New("v-test")
	if onEvents(nil, (*webhook.Sender)(nil).Publisher()) != nil {
		t.Error("no hooks, but a hook")
	}
	onEvents(m.ObserveCallEvent, hooks.Publisher())(app.Event{Name: app.EventCallStarted, CallID: "c1", Seq: 1})
	if id := <-got; id != "msg_c1_1" {
		t.Errorf("webhook-id %q", id)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if v, ok := metricstest.MustParse(t, rec.Body.Bytes()).Value("ariapp_calls_started_total"); !ok || v != 1 {
		t.Errorf("calls started %g, want 1", v)
	}
}
