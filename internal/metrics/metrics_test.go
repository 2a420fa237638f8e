package metrics_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/internal/metrics"
	"github.com/ariapp/ariapp/internal/metrics/metricstest"
	"github.com/ariapp/ariapp/webhook"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// scrape is one GET /metrics of m's handler, as Prometheus makes it.
func scrape(t *testing.T, m *metrics.Metrics) []byte {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	m.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("Content-Type %q, want the text format", ct)
	}
	body, _ := io.ReadAll(rec.Body)
	return body
}

// value fails the test when the series is missing.
func value(t *testing.T, s metricstest.Samples, name string, labels ...string) float64 {
	t.Helper()
	v, ok := s.Value(name, labels...)
	if !ok {
		t.Fatalf("no series %s%v", name, labels)
	}
	return v
}

// ev is a call event of a call with per-call ids the metrics must not use.
func ev(name app.EventName, src app.Source, took time.Duration) app.Event {
	return app.Event{
		Name: name, CallID: "c0ffee00c0ffee00", Seq: 1, Party: app.Caller, Source: src, Took: took,
		Call: app.CallInfo{
			CallID: "c0ffee00c0ffee00", BridgeID: "c0ffee00c0ffee00-bridge",
			Caller: app.PartyInfo{Role: app.Caller, ChannelID: "chan-caller-1", Endpoint: "PJSIP/alice"},
			Callee: app.PartyInfo{Role: app.Callee, ChannelID: "chan-callee-1", Endpoint: "PJSIP/bob"},
		},
	}
}

func TestCallEvents(t *testing.T) {
	refused := ev(app.EventHoldFailed, app.SourcePhone, time.Millisecond)
	refused.Refused = true
	ended := ev(app.EventCallEnded, "", 0)
	ended.Call.EndCause = "unhold_failed"
	tests := []struct {
		name   string
		events []app.Event
		// series and how much each must have moved.
		want []delta
	}{
		{
			name:   "call started and answered",
			events: []app.Event{ev(app.EventCallStarted, "", 0), ev(app.EventCallAnswered, "", 0)},
			want:   []delta{{"ariapp_calls_started_total", nil, 1}, {"ariapp_calls_answered_total", nil, 1}},
		},
		{
			name:   "hold success from the API",
			events: []app.Event{ev(app.EventHoldSuccess, app.SourceAPI, 40*time.Millisecond)},
			want: []delta{
				{"ariapp_holds_total", []string{"source", "api", "result", "success"}, 1},
				{"ariapp_holds_total", []string{"source", "phone", "result", "success"}, 0},
				{"ariapp_hold_operation_duration_seconds_count", []string{"result", "success"}, 1},
				{"ariapp_hold_operation_duration_seconds_sum", []string{"result", "success"}, 0.04},
			},
		},
		{
			name:   "hold refused from the phone",
			events: []app.Event{refused},
			want: []delta{
				{"ariapp_holds_total", []string{"source", "phone", "result", "refused"}, 1},
				{"ariapp_holds_total", []string{"source", "phone", "result", "failed"}, 0},
				{"ariapp_hold_operation_duration_seconds_count", []string{"result", "refused"}, 1},
			},
		},
		{
			name:   "hold failed by DTMF",
			events: []app.Event{ev(app.EventHoldFailed, app.SourceDTMF, 5*time.Second)},
			want: []delta{
				{"ariapp_holds_total", []string{"source", "dtmf", "result", "failed"}, 1},
				{"ariapp_hold_operation_duration_seconds_sum", []string{"result", "failed"}, 5},
			},
		},
		{
			name: "muted and unmuted",
			events: []app.Event{
				{Name: app.EventMuted, Source: app.SourceAPI, Direction: app.MuteIn},
				{Name: app.EventMuted, Source: app.SourceAPI, Direction: app.MuteOut},
				{Name: app.EventUnmuted, Source: app.SourceAPI, Direction: app.MuteBoth},
			},
			want: []delta{
				{"ariapp_mutes_total", []string{"action", "mute", "direction", "in"}, 1},
				{"ariapp_mutes_total", []string{"action", "mute", "direction", "out"}, 1},
				{"ariapp_mutes_total", []string{"action", "mute", "direction", "both"}, 0},
				{"ariapp_mutes_total", []string{"action", "unmute", "direction", "both"}, 1},
				{"ariapp_holds_total", nil, 0},
			},
		},
		{
			name: "resume success, resume failed, call ended",
			events: []app.Event{
				ev(app.EventUnholdSuccess, app.SourceAPI, 20*time.Millisecond),
				ev(app.EventUnholdFailed, app.SourceAPI, 30*time.Millisecond),
				ended,
			},
			want: []delta{
				{"ariapp_resumes_total", []string{"source", "api", "result", "success"}, 1},
				{"ariapp_resumes_total", []string{"source", "api", "result", "failed"}, 1},
				{"ariapp_resume_operation_duration_seconds_count", nil, 2},
				{"ariapp_resume_operation_duration_seconds_sum", []string{"result", "failed"}, 0.03},
				{"ariapp_calls_ended_total", []string{"cause", "unhold_failed"}, 1},
				{"ariapp_holds_total", nil, 0},
			},
		},
		{
			name: "hold timers: two reminders, a resume by the timer",
			events: []app.Event{
				ev(app.EventHoldReminder, app.SourceTimer, 0),
				ev(app.EventHoldReminder, app.SourceTimer, 0),
				ev(app.EventUnholdSuccess, app.SourceTimer, 2*time.Millisecond),
			},
			want: []delta{
				{"ariapp_hold_reminders_total", nil, 2},
				{"ariapp_resumes_total", []string{"source", "timer", "result", "success"}, 1},
				{"ariapp_resumes_total", []string{"source", "api", "result", "success"}, 0},
			},
		},
	}
	m := metrics.New("v-test")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := metricstest.MustParse(t, scrape(t, m))
			for _, e := range tt.events {
				m.ObserveCallEvent(e)
			}
			after := metricstest.MustParse(t, scrape(t, m))
			for _, d := range tt.want {
				d.check(t, before, after)
			}
		})
	}
}

// delta is how much a series must move between two scrapes.
type delta struct {
	name   string
	labels []string
	by     float64
}

func (d delta) check(t *testing.T, before, after metricstest.Samples) {
	t.Helper()
	b, _ := before.Value(d.name, d.labels...)
	a := value(t, after, d.name, d.labels...)
	if got := a - b; got < d.by-1e-9 || got > d.by+1e-9 {
		t.Errorf("%s%v moved by %g, want %g", d.name, d.labels, got, d.by)
	}
}

func TestARIRequests(t *testing.T) {
	tests := []struct {
		name   string
		req    ari.Request
		method string
		route  string
		class  string
	}{
		{"ok", ari.Request{Method: "POST", Route: "/bridges/{id}/removeChannel", BridgeID: "b-1", ChannelID: "ch-1", Status: 204, Duration: 2 * time.Millisecond}, "POST", "/bridges/{id}/removeChannel", "2xx"},
		{"not found", ari.Request{Method: "DELETE", Route: "/channels/{id}", ChannelID: "ch-2", Status: 404, Err: errors.New("Channel not found")}, "DELETE", "/channels/{id}", "4xx"},
		{"server error", ari.Request{Method: "POST", Route: "/channels/{id}/play/{id}", Status: 500}, "POST", "/channels/{id}/play/{id}", "5xx"},
		{"no reply", ari.Request{Method: "GET", Route: "/channels", Status: 0, Err: errors.New("connection refused")}, "GET", "/channels", "none"},
		{"no route", ari.Request{Method: "GET", Status: 200}, "GET", "unknown", "2xx"},
	}
	m := metrics.New("v-test")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := metricstest.MustParse(t, scrape(t, m))
			m.ObserveARIRequest(&tt.req)
			after := metricstest.MustParse(t, scrape(t, m))
			delta{"ariapp_ari_requests_total", []string{"method", tt.method, "route", tt.route, "status_class", tt.class}, 1}.check(t, before, after)
			delta{"ariapp_ari_request_duration_seconds_count", []string{"method", tt.method, "route", tt.route}, 1}.check(t, before, after)
			delta{"ariapp_ari_request_duration_seconds_sum", []string{"method", tt.method, "route", tt.route}, tt.req.Duration.Seconds()}.check(t, before, after)
		})
	}
}

// fakeSources are Sources a test changes between scrapes.
type fakeSources struct {
	mu        sync.Mutex
	calls     []app.CallInfo
	stats     ari.Stats
	connected bool
	synced    bool
	resync    app.ResyncStats
	swept     uint64
	webhooks  webhook.Stats
}

func (f *fakeSources) sources() metrics.Sources {
	lock := func() func() { f.mu.Lock(); return f.mu.Unlock }
	return metrics.Sources{
		Calls:     func() []app.CallInfo { defer lock()(); return slices.Clone(f.calls) },
		ARI:       func() ari.Stats { defer lock()(); return f.stats },
		Connected: func() bool { defer lock()(); return f.connected },
		Synced:    func() bool { defer lock()(); return f.synced },
		Resync:    func() app.ResyncStats { defer lock()(); return f.resync },
		Swept:     func() uint64 { defer lock()(); return f.swept },
		Webhooks:  func() webhook.Stats { defer lock()(); return f.webhooks },
	}
}

func TestSources(t *testing.T) {
	m := metrics.New("v-test")
	f := &fakeSources{}
	if err := m.Watch(f.sources()); err != nil {
		t.Fatal(err)
	}
	if err := m.Watch(f.sources()); err == nil {
		t.Fatal("a second Watch succeeded")
	}
	tests := []struct {
		name   string
		change func(f *fakeSources)
		want   []want
	}{
		{
			name:   "idle, not connected",
			change: func(*fakeSources) {},
			want: []want{
				{"ariapp_calls_active", []string{"state", "ringing"}, 0},
				{"ariapp_calls_active", []string{"state", "answered"}, 0},
				{"ariapp_parties_on_hold", nil, 0},
				{"ariapp_ari_websocket_up", nil, 0},
				{"ariapp_ari_websocket_reconnects_total", nil, 0},
				{"ariapp_synced", nil, 0},
				{"ariapp_resyncs_total", []string{"result", "done"}, 0},
				{"ariapp_webhook_deliveries_total", []string{"result", "delivered"}, 0},
				{"ariapp_webhook_retries_total", nil, 0},
			},
		},
		{
			name: "connected and synced, one call ringing, one held by both parties",
			change: func(f *fakeSources) {
				f.connected, f.synced = true, true
				f.stats = ari.Stats{Received: 120, Dropped: 0, Connects: 1, Queued: 3}
				f.resync = app.ResyncStats{Done: 1, CallsAdopted: 2, RingingAdopted: 1}
				f.calls = []app.CallInfo{
					{CallID: "a", State: app.CallRinging},
					{CallID: "b", State: app.CallAnswered, Holders: []app.Role{app.Caller, app.Callee}},
					{CallID: "c", State: app.CallEnded, Holders: []app.Role{app.Caller}},
				}
			},
			want: []want{
				{"ariapp_calls_active", []string{"state", "ringing"}, 1},
				{"ariapp_calls_active", []string{"state", "answered"}, 1},
				{"ariapp_parties_on_hold", nil, 2},
				{"ariapp_ari_websocket_up", nil, 1},
				{"ariapp_ari_websocket_connects_total", nil, 1},
				{"ariapp_ari_websocket_reconnects_total", nil, 0},
				{"ariapp_ari_events_received_total", nil, 120},
				{"ariapp_ari_events_queued", nil, 3},
				{"ariapp_synced", nil, 1},
				{"ariapp_resyncs_total", []string{"result", "done"}, 1},
				{"ariapp_resync_calls_total", []string{"action", "adopted"}, 2},
				{"ariapp_resync_calls_total", []string{"action", "adopted_ringing"}, 1},
			},
		},
		{
			name: "reconnected after losing events; a resync failed, then one did; the sweep removed a stray",
			change: func(f *fakeSources) {
				f.stats = ari.Stats{Received: 300, Dropped: 7, DecodeErrors: 1, Connects: 3}
				f.resync = app.ResyncStats{Done: 2, Failed: 1, CallsChecked: 1, CallsAdopted: 2, RingingAdopted: 1, CallsStarted: 1, StraysHungUp: 4}
				f.swept = 5
				f.calls = nil
				f.webhooks = webhook.Stats{Delivered: 9, Retries: 6, GivenUp: 2, Rejected: 1, Dropped: 3, Queued: 4}
			},
			want: []want{
				{"ariapp_calls_active", nil, 0},
				{"ariapp_parties_on_hold", nil, 0},
				{"ariapp_ari_events_dropped_total", nil, 7},
				{"ariapp_ari_event_decode_errors_total", nil, 1},
				{"ariapp_ari_websocket_reconnects_total", nil, 2},
				{"ariapp_resyncs_total", []string{"result", "failed"}, 1},
				{"ariapp_resync_calls_total", []string{"action", "checked"}, 1},
				{"ariapp_resync_calls_total", []string{"action", "started"}, 1},
				{"ariapp_resync_strays_hung_up_total", nil, 4},
				{"ariapp_sweep_removed_total", nil, 5},
				{"ariapp_webhook_deliveries_total", []string{"result", "delivered"}, 9},
				{"ariapp_webhook_deliveries_total", []string{"result", "rejected"}, 1},
				{"ariapp_webhook_deliveries_total", []string{"result", "given_up"}, 2},
				{"ariapp_webhook_deliveries_total", []string{"result", "dropped"}, 3},
				{"ariapp_webhook_retries_total", nil, 6},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.mu.Lock()
			tt.change(f)
			f.mu.Unlock()
			s := metricstest.MustParse(t, scrape(t, m))
			for _, w := range tt.want {
				if got := value(t, s, w.name, w.labels...); got != w.value {
					t.Errorf("%s%v = %g, want %g", w.name, w.labels, got, w.value)
				}
			}
		})
	}
}

// want is a series' value in one scrape.
type want struct {
	name   string
	labels []string
	value  float64
}

func TestSourcesLeftOut(t *testing.T) {
	m := metrics.New("v-test")
	if err := m.Watch(metrics.Sources{Connected: func() bool { return true }}); err != nil {
		t.Fatal(err)
	}
	s := metricstest.MustParse(t, scrape(t, m))
	if v := value(t, s, "ariapp_ari_websocket_up"); v != 1 {
		t.Errorf("ariapp_ari_websocket_up = %g, want 1", v)
	}
	for _, name := range []string{"ariapp_calls_active", "ariapp_ari_events_received_total", "ariapp_resyncs_total"} {
		if _, ok := s.Value(name); ok {
			t.Errorf("%s is exposed without its source", name)
		}
	}
}

func TestBuildInfo(t *testing.T) {
	m := metrics.New("v1.2.3")
	s := metricstest.MustParse(t, scrape(t, m))
	if v := value(t, s, "ariapp_build_info", "version", "v1.2.3", "goversion", runtime.Version(), "asterisk_version", "unknown"); v != 1 {
		t.Fatalf("build info before the connect = %g, want 1", v)
	}
	m.SetAsteriskVersion("22.5.2")
	s = metricstest.MustParse(t, scrape(t, m))
	if v := value(t, s, "ariapp_build_info", "version", "v1.2.3", "asterisk_version", "22.5.2"); v != 1 {
		t.Fatalf("build info = %g, want 1", v)
	}
	if _, ok := s.Value("ariapp_build_info", "asterisk_version", "unknown"); ok {
		t.Fatal("the unknown Asterisk version is still exposed")
	}
}

// busy feeds m every kind of input once, with the per-call ids a real
// call carries.
func busy(t *testing.T, m *metrics.Metrics) {
	t.Helper()
	f := &fakeSources{connected: true, synced: true, stats: ari.Stats{Received: 10, Connects: 2},
		calls: []app.CallInfo{{CallID: "c0ffee00c0ffee00", State: app.CallAnswered, Holders: []app.Role{app.Caller},
			Caller: app.PartyInfo{ChannelID: "chan-caller-1", Endpoint: "PJSIP/alice"}}}}
	if err := m.Watch(f.sources()); err != nil {
		t.Fatal(err)
	}
	m.SetAsteriskVersion("22.5.2")
	for _, name := range app.EventNames {
		for _, src := range []app.Source{app.SourceAPI, app.SourcePhone, app.SourceDTMF} {
			e := ev(name, src, 25*time.Millisecond)
			e.Call.EndCause = "caller_hangup"
			m.ObserveCallEvent(e)
		}
	}
	m.ObserveARIRequest(&ari.Request{Method: "POST", Route: "/channels/{id}/play/{id}", ChannelID: "chan-caller-1",
		PlaybackID: "c0ffee00c0ffee00-caller-music", Tag: ari.Tag{CallID: "c0ffee00c0ffee00", Party: "caller"}, Status: 201, Duration: time.Millisecond})
}

// TestNoPerCallLabel checks that no label carries a call's ids or
// endpoints, and that every label is one of the known, bounded ones.
func TestNoPerCallLabel(t *testing.T) {
	m := metrics.New("v-test")
	busy(t, m)
	s := metricstest.MustParse(t, scrape(t, m))
	bounded := []string{"cause", "source", "result", "method", "route", "status_class", "state", "action", "direction",
		"version", "goversion", "asterisk_version",
		"le", "quantile", "generation"} // histogram buckets; the Go collector's
	for name, values := range s.LabelValues() {
		if !slices.Contains(bounded, name) {
			t.Errorf("label %q (values %q) is not one of the bounded labels", name, values)
		}
		for _, v := range values {
			for _, id := range []string{"c0ffee00", "chan-", "PJSIP/", "caller-music"} {
				if strings.Contains(v, id) {
					t.Errorf("label %s=%q carries a per-call value", name, v)
				}
			}
		}
	}
}

// TestPromtool checks the whole exposition, with every family holding
// samples, the way an operator's tooling does.
func TestPromtool(t *testing.T) {
	m := metrics.New("v-test")
	busy(t, m)
	body := scrape(t, m)
	s := metricstest.MustParse(t, body)
	ours := 0
	for _, f := range s.Families() {
		if strings.HasPrefix(f, "ariapp_") {
			ours++
		}
	}
	if ours < 20 {
		t.Fatalf("only %d ariapp_ families exposed:\n%s", ours, body)
	}
	metricstest.Promtool(t, body)
}
