// Package metrics is ariapp's Prometheus exposition (GET /metrics). It is
// the only package that knows the Prometheus client: the application and
// the ARI client report through their hooks (app.Config.OnEvent,
// ari.Config.OnRequest), and the counters they keep themselves
// (ari.Client.Stats, app.App.ResyncStats) are read at scrape time.
//
// No label takes a per-call value (call, channel, bridge or playback id,
// endpoint): every label has a small fixed set of values, so the number of
// series does not grow with the traffic.
package metrics

import (
	"net/http"
	"runtime"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/ari"
)

// namespace prefixes every family of ariapp's own.
const namespace = "ariapp"

// Label values of results.
const (
	resultSuccess = "success"
	resultFailed  = "failed"
	// resultRefused: a hold refused before any ARI step (the call's
	// state, the hold policy); nothing changed in Asterisk.
	resultRefused = "refused"
)

// holdSources are the sources whose hold and resume series exist from the
// start, at zero, so that a rate over them is defined before the first
// hold.
var holdSources = []app.Source{app.SourceAPI, app.SourcePhone, app.SourceDTMF}

// Hold and resume take a few ARI round trips and Asterisk's confirming
// events: tens of milliseconds on a quiet Asterisk, up to the step timeout
// (5 s by default) when a step is never confirmed.
var operationBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// One ARI request is a millisecond on a quiet Asterisk on the same host;
// the request timeout is 5 s by default.
var requestBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Metrics holds ariapp's metric families and their registry.
type Metrics struct {
	reg     *prometheus.Registry
	version string

	callsStarted   prometheus.Counter
	callsAnswered  prometheus.Counter
	callsEnded     *prometheus.CounterVec
	holds          *prometheus.CounterVec
	resumes        *prometheus.CounterVec
	reminders      prometheus.Counter
	mutes          *prometheus.CounterVec
	holdSeconds    *prometheus.HistogramVec
	resumeSeconds  *prometheus.HistogramVec
	requests       *prometheus.CounterVec
	requestSeconds *prometheus.HistogramVec

	buildMu   sync.Mutex
	buildInfo *prometheus.GaugeVec

	watchOnce   sync.Once
	clusterOnce sync.Once
}

// New builds the metrics of ariapp at version (its build version), with
// the Go runtime's and the process's standard families.
func New(version string) *Metrics {
	m := &Metrics{
		reg:     prometheus.NewRegistry(),
		version: version,
		callsStarted: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "calls_started_total",
			Help: "Calls started (a caller entered the Stasis application, or an API originate).",
		}),
		callsAnswered: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "calls_answered_total",
			Help: "Calls whose callee answered and that were bridged.",
		}),
		callsEnded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "calls_ended_total",
			Help: "Calls ended, by end cause (caller_hangup, callee_hangup, busy, no_answer, unhold_failed, ...).",
		}, []string{"cause"}),
		holds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "holds_total",
			Help: "Hold operations by source (api, phone, dtmf) and result (success; refused: the call's state or the hold policy; failed: an ARI step failed and was rolled back).",
		}, []string{"source", "result"}),
		resumes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "resumes_total",
			Help: "Resume operations by source (api, phone, dtmf; timer: hold.max_duration) and result (success; failed: the call was hung up).",
		}, []string{"source", "result"}),
		reminders: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "hold_reminders_total",
			Help: "Hold reminders: a party held for another hold.reminder_after.",
		}),
		mutes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "mutes_total",
			Help: "Mute changes (muted and unmuted events) by action (mute, unmute) and direction (in, out, both); requests that changed nothing are not counted.",
		}, []string{"action", "direction"}),
		holdSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "hold_operation_duration_seconds",
			Help:    "Time from taking up a hold request to its outcome, by result.",
			Buckets: operationBuckets,
		}, []string{"result"}),
		resumeSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "resume_operation_duration_seconds",
			Help:    "Time from taking up a resume request to its outcome, by result.",
			Buckets: operationBuckets,
		}, []string{"result"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "ari_requests_total",
			Help: "ARI REST requests by method, route template and status class (2xx, 4xx, 5xx; none: no reply).",
		}, []string{"method", "route", "status_class"}),
		requestSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "ari_request_duration_seconds",
			Help:    "Duration of ARI REST requests by method and route template.",
			Buckets: requestBuckets,
		}, []string{"method", "route"}),
		buildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "build_info",
			Help: "Always 1: ariapp's version, the Go version it was built with and the version of the Asterisk it talks to (unknown before the first connect).",
		}, []string{"version", "goversion", "asterisk_version"}),
	}
	for _, src := range holdSources {
		for _, r := range []string{resultSuccess, resultRefused, resultFailed} {
			m.holds.WithLabelValues(string(src), r)
		}
		for _, r := range []string{resultSuccess, resultFailed} {
			m.resumes.WithLabelValues(string(src), r)
		}
	}
	for _, action := range []string{"mute", "unmute"} {
		for _, d := range app.MuteDirections {
			m.mutes.WithLabelValues(action, string(d))
		}
	}
	m.SetAsteriskVersion("")
	m.reg.MustRegister(m.callsStarted, m.callsAnswered, m.callsEnded, m.holds, m.resumes, m.reminders, m.mutes,
		m.holdSeconds, m.resumeSeconds, m.requests, m.requestSeconds, m.buildInfo,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in the Prometheus text format (or what the
// scraper asks for).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Registry is the registry the metrics are in (for tests and embedding).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// SetAsteriskVersion records the version of the Asterisk ariapp talks to
// in ariapp_build_info; "" means not known yet.
func (m *Metrics) SetAsteriskVersion(v string) {
	if v == "" {
		v = "unknown"
	}
	m.buildMu.Lock()
	defer m.buildMu.Unlock()
	m.buildInfo.Reset()
	m.buildInfo.WithLabelValues(m.version, runtime.Version(), v).Set(1)
}

// ObserveCallEvent is app.Config.OnEvent: it counts the call's event. It
// runs in the call's goroutine and takes no lock of its own beyond the
// client library's.
func (m *Metrics) ObserveCallEvent(ev app.Event) {
	src := string(ev.Source)
	if src == "" {
		src = "none"
	}
	switch ev.Name {
	case app.EventCallStarted:
		m.callsStarted.Inc()
	case app.EventCallAnswered:
		m.callsAnswered.Inc()
	case app.EventCallEnded:
		cause := ev.Call.EndCause
		if cause == "" {
			cause = "unknown"
		}
		m.callsEnded.WithLabelValues(cause).Inc()
	case app.EventHoldSuccess:
		m.holds.WithLabelValues(src, resultSuccess).Inc()
		m.holdSeconds.WithLabelValues(resultSuccess).Observe(ev.Took.Seconds())
	case app.EventHoldFailed:
		r := resultFailed
		if ev.Refused {
			r = resultRefused
		}
		m.holds.WithLabelValues(src, r).Inc()
		m.holdSeconds.WithLabelValues(r).Observe(ev.Took.Seconds())
	case app.EventUnholdSuccess:
		m.resumes.WithLabelValues(src, resultSuccess).Inc()
		m.resumeSeconds.WithLabelValues(resultSuccess).Observe(ev.Took.Seconds())
	case app.EventUnholdFailed:
		m.resumes.WithLabelValues(src, resultFailed).Inc()
		m.resumeSeconds.WithLabelValues(resultFailed).Observe(ev.Took.Seconds())
	case app.EventHoldReminder:
		m.reminders.Inc()
	case app.EventMuted, app.EventUnmuted:
		if ev.Direction != "" {
			action := "mute"
			if ev.Name == app.EventUnmuted {
				action = "unmute"
			}
			m.mutes.WithLabelValues(action, string(ev.Direction)).Inc()
		}
	}
}

// ObserveARIRequest is ari.Config.OnRequest: it counts the request by its
// route template, never its ids.
func (m *Metrics) ObserveARIRequest(r *ari.Request) {
	route := r.Route
	if route == "" {
		route = "unknown"
	}
	m.requests.WithLabelValues(r.Method, route, statusClass(r.Status)).Inc()
	m.requestSeconds.WithLabelValues(r.Method, route).Observe(r.Duration.Seconds())
}

// statusClass is "2xx" for 200..299 and so on; "none" when no reply came.
func statusClass(status int) string {
	if status < 100 || status > 599 {
		return "none"
	}
	return strconv.Itoa(status/100) + "xx"
}
