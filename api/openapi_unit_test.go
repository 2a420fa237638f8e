package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ariapp/ariapp/api"
	"github.com/ariapp/ariapp/app"
)

// TestUnitOpenAPIServed: GET /v1/openapi.json serves the embedded document,
// behind the token like every /v1 path.
func TestUnitOpenAPIServed(t *testing.T) {
	u := newUnit(t, api.Config{Token: "t0k"}, nil)
	rec := u.do(req{method: "GET", target: "/v1/openapi.json", auth: "Bearer t0k"})
	if rec.Code != 200 || rec.Body.String() != string(api.OpenAPI) {
		t.Fatalf("openapi.json: %d, %d bytes", rec.Code, rec.Body.Len())
	}
	if rec := u.do(req{method: "GET", target: "/v1/openapi.json"}); rec.Code != 401 {
		t.Fatalf("without the token: %d", rec.Code)
	}
}

// TestUnitOpenAPIAnswers sends requests that produce every answer the
// OpenAPI document describes, validates each against it, and fails if the
// document lists an answer that none of them produced: it cannot describe
// a route, status or error code the server does not have, nor miss a
// shape the server sends.
func TestUnitOpenAPIAnswers(t *testing.T) {
	sc := openAPI(t)
	type tcase struct {
		name     string
		cfg      api.Config
		ready    error // what the readiness check reports
		err      error // what every operation of the fake returns
		r        req
		status   int
		wantCode string
	}
	party := `{"party":"caller"}`
	mute := `{"party":"caller","direction":"in"}`
	originate := `{"from":"PJSIP/alice","to":"PJSIP/bob"}`
	cases := []tcase{
		{name: "console", r: req{method: "GET", target: "/"}, status: 200},
		{name: "healthz", r: req{method: "GET", target: "/healthz"}, status: 200},
		{name: "readyz", r: req{method: "GET", target: "/readyz"}, status: 200},
		{name: "readyz down", ready: errors.New("ARI is reconnecting"), r: req{method: "GET", target: "/readyz"}, status: 503, wantCode: api.CodeUnavailable},
		{name: "openapi", r: req{method: "GET", target: "/v1/openapi.json"}, status: 200},
		{name: "metrics", cfg: api.Config{Metrics: metricsStub{}}, r: req{method: "GET", target: "/metrics"}, status: 200},
		{name: "list", r: req{method: "GET", target: "/v1/calls"}, status: 200},
		{name: "get", r: req{method: "GET", target: "/v1/calls/c1"}, status: 200},
		{name: "get unknown", r: req{method: "GET", target: "/v1/calls/nope"}, status: 404, wantCode: api.CodeCallNotFound},
		{name: "timeline", r: req{method: "GET", target: "/v1/calls/c1/timeline"}, status: 200},
		{name: "timeline unknown", r: req{method: "GET", target: "/v1/calls/nope/timeline"}, status: 404, wantCode: api.CodeCallNotFound},
		{name: "stats", cfg: api.Config{Stats: func() any { return map[string]int{"calls": 1} }}, r: req{method: "GET", target: "/v1/stats"}, status: 200},
		{name: "stats not an object", cfg: api.Config{Stats: func() any { return 42 }}, r: req{method: "GET", target: "/v1/stats"}, status: 500, wantCode: api.CodeInternal},
		{name: "events unknown call", r: req{method: "GET", target: "/v1/events?call_id=nope"}, status: 404, wantCode: api.CodeCallNotFound},
		{name: "originate", r: req{method: "POST", target: "/v1/calls", body: originate}, status: 201},
		{name: "originate malformed", r: req{method: "POST", target: "/v1/calls", body: `{"from":`}, status: 400, wantCode: api.CodeBadRequest},
		{name: "originate not JSON", r: req{method: "POST", target: "/v1/calls", body: originate, contentType: "text/plain"}, status: 415, wantCode: api.CodeUnsupportedMedia},
		{name: "hangup", r: req{method: "DELETE", target: "/v1/calls/c1"}, status: 200},
		{name: "hangup unknown", r: req{method: "DELETE", target: "/v1/calls/nope"}, status: 404, wantCode: api.CodeCallNotFound},
		{name: "not ready", ready: errors.New("ARI is down"), r: req{method: "DELETE", target: "/v1/calls/c1"}, status: 503, wantCode: api.CodeUnavailable},
	}
	cases = append(cases, tcase{name: "hold with media", r: req{method: "POST", target: "/v1/calls/c1/hold", body: `{"party":"caller","media":"moh:jazz"}`}, status: 200})
	for _, op := range []string{"hold", "unhold"} {
		target := "/v1/calls/c1/" + op
		cases = append(cases,
			tcase{name: op, r: req{method: "POST", target: target, body: party}, status: 200},
			tcase{name: op + " unknown call", r: req{method: "POST", target: "/v1/calls/nope/" + op, body: party}, status: 404, wantCode: api.CodeCallNotFound},
			tcase{name: op + " no party", r: req{method: "POST", target: target, body: `{"party":""}`}, status: 400, wantCode: api.CodeUnknownParty},
			tcase{name: op + " unknown field", r: req{method: "POST", target: target, body: `{"party":"caller","x":1}`}, status: 400, wantCode: api.CodeBadRequest},
			tcase{name: op + " not JSON", r: req{method: "POST", target: target, body: party, contentType: "-"}, status: 415, wantCode: api.CodeUnsupportedMedia},
		)
	}
	for _, op := range []string{"mute", "unmute"} {
		target := "/v1/calls/c1/" + op
		cases = append(cases,
			tcase{name: op, r: req{method: "POST", target: target, body: mute}, status: 200},
			tcase{name: op + " direction omitted", r: req{method: "POST", target: target, body: party}, status: 200},
			tcase{name: op + " unknown call", r: req{method: "POST", target: "/v1/calls/nope/" + op, body: mute}, status: 404, wantCode: api.CodeCallNotFound},
			tcase{name: op + " no party", r: req{method: "POST", target: target, body: `{"direction":"in"}`}, status: 400, wantCode: api.CodeUnknownParty},
			tcase{name: op + " unknown field", r: req{method: "POST", target: target, body: `{"party":"caller","x":1}`}, status: 400, wantCode: api.CodeBadRequest},
			tcase{name: op + " not JSON", r: req{method: "POST", target: target, body: mute, contentType: "-"}, status: 415, wantCode: api.CodeUnsupportedMedia},
		)
	}
	// Every application error on every operation it can come from.
	appErrs := []struct {
		err  error
		ops  []string // "hold", "unhold", "hangup", "originate"
		code string
	}{
		{app.ErrUnknownParty, []string{"hold", "unhold", "mute", "unmute"}, api.CodeUnknownParty},
		{app.ErrInvalidDirection, []string{"mute", "unmute"}, api.CodeInvalidDirection},
		{app.ErrHoldRefused, []string{"hold"}, api.CodeHoldRefused},
		{app.ErrMediaNotAllowed, []string{"hold"}, api.CodeMediaNotAllowed},
		{app.ErrNotEstablished, []string{"hold", "unhold", "mute", "unmute"}, api.CodeNotEstablished},
		{app.ErrNotHolding, []string{"unhold"}, api.CodeNotHolding},
		{app.ErrCallEnded, []string{"hold", "unhold", "mute", "unmute", "hangup"}, api.CodeCallEnded},
		{app.ErrHoldFailed, []string{"hold"}, api.CodeHoldFailed},
		{app.ErrUnholdFailed, []string{"unhold"}, api.CodeUnholdFailed},
		{app.ErrMuteFailed, []string{"mute", "unmute"}, api.CodeMuteFailed},
		{app.ErrInvalidEndpoint, []string{"originate"}, api.CodeInvalidEndpoint},
		{app.ErrOverloaded, []string{"originate"}, api.CodeOverloaded},
		{app.ErrUnavailable, []string{"hold", "unhold", "mute", "unmute", "hangup", "originate"}, api.CodeUnavailable},
		{context.DeadlineExceeded, []string{"hold", "unhold", "mute", "unmute", "hangup", "originate"}, api.CodeTimeout},
		{context.Canceled, []string{"hold", "unhold", "mute", "unmute", "hangup", "originate"}, api.CodeCanceled},
		{errors.New("boom"), []string{"hold", "unhold", "mute", "unmute", "hangup", "originate"}, api.CodeInternal},
	}
	targets := map[string]req{
		"hold":      {method: "POST", target: "/v1/calls/c1/hold", body: party},
		"unhold":    {method: "POST", target: "/v1/calls/c1/unhold", body: party},
		"mute":      {method: "POST", target: "/v1/calls/c1/mute", body: mute},
		"unmute":    {method: "POST", target: "/v1/calls/c1/unmute", body: mute},
		"hangup":    {method: "DELETE", target: "/v1/calls/c1"},
		"originate": {method: "POST", target: "/v1/calls", body: originate},
	}
	for _, ae := range appErrs {
		for _, op := range ae.ops {
			cases = append(cases, tcase{name: op + " " + ae.code, err: ae.err, r: targets[op], status: -1, wantCode: ae.code})
		}
	}
	// Without the token, every /v1 route answers 401.
	for _, r := range []req{
		{method: "GET", target: "/v1/calls"}, {method: "POST", target: "/v1/calls", body: originate},
		{method: "GET", target: "/v1/calls/c1"}, {method: "DELETE", target: "/v1/calls/c1"},
		{method: "GET", target: "/v1/calls/c1/timeline"},
		{method: "POST", target: "/v1/calls/c1/hold", body: party}, {method: "POST", target: "/v1/calls/c1/unhold", body: party},
		{method: "POST", target: "/v1/calls/c1/mute", body: mute}, {method: "POST", target: "/v1/calls/c1/unmute", body: mute},
		{method: "GET", target: "/v1/events"}, {method: "GET", target: "/v1/stats"}, {method: "GET", target: "/v1/openapi.json"},
	} {
		cases = append(cases, tcase{name: "401 " + r.method + " " + r.target, cfg: api.Config{Token: "secret"}, r: r, status: 401, wantCode: api.CodeUnauthorized})
	}
	cases = append(cases, tcase{name: "401 GET /metrics", cfg: api.Config{Token: "secret", Metrics: metricsStub{}}, r: req{method: "GET", target: "/metrics"}, status: 401, wantCode: api.CodeUnauthorized})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var ready func() error
			if tc.ready != nil {
				ready = func() error { return tc.ready }
			}
			u := newUnit(t, tc.cfg, ready, "c1")
			if tc.err != nil {
				u.fake.setErr(tc.err)
			}
			hr := httptest.NewRequest(tc.r.method, tc.r.target, nil)
			rec := u.do(tc.r)
			if tc.status > 0 && rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if tc.wantCode != "" {
				wantError(t, rec, rec.Code, tc.wantCode)
			}
			sc.checkRecorder(t, hr, rec)
		})
	}

	// The event stream: a 200 with its frames' data, and a 503 when
	// MaxStreams are open.
	t.Run("events", func(t *testing.T) {
		u := newUnit(t, api.Config{MaxStreams: 1, Heartbeat: 50 * time.Millisecond}, nil, "c1")
		srv := httptest.NewServer(u.h)
		defer srv.Close()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		hr, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1/events", nil)
		resp, err := http.DefaultClient.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		line, err := bufio.NewReader(resp.Body).ReadString('\n')
		if err != nil || !strings.HasPrefix(line, ": ariapp events") {
			t.Fatalf("first line %q: %v", line, err)
		}
		// Validated with the bytes read so far: the stream does not end.
		head := *resp
		head.Body = io.NopCloser(strings.NewReader(line))
		sc.check(t, hr, &head)

		hr2, _ := http.NewRequest("GET", srv.URL+"/v1/events", nil)
		resp2, err := http.DefaultClient.Do(hr2)
		if err != nil {
			t.Fatal(err)
		}
		defer resp2.Body.Close()
		if resp2.StatusCode != 503 {
			t.Fatalf("second stream: %d", resp2.StatusCode)
		}
		sc.check(t, hr2, resp2)
		cancel()
	})
	t.Run("event data", func(t *testing.T) {
		info := infoOf("c1")
		info.Callee.State, info.Callee.HangupAllowed = app.Hold, false
		since := time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC)
		info.Callee.HoldSince = &since
		info.Caller.OnHoldMusic = true
		info.Holders = []app.Role{app.Callee}
		data := mustJSON(t, app.Event{Name: app.EventHoldSuccess, CallID: "c1", Seq: 3, Party: app.Callee, Source: app.SourcePhone, Time: since, Call: info})
		sc.component(t, "Event", data)
		info.Caller.Muted = app.MuteBoth
		sc.component(t, "Event", mustJSON(t, app.Event{Name: app.EventMuted, CallID: "c1", Seq: 4, Party: app.Caller, Source: app.SourceAPI,
			Direction: app.MuteBoth, Time: since, Call: info}))
		sc.component(t, "LostEvent", []byte(`{"dropped":3}`))
	})

	if t.Failed() {
		return
	}
	if miss := sc.missing(); len(miss) > 0 {
		t.Errorf("documented answers no test produced (the document describes what the server does not):\n  %s", strings.Join(miss, "\n  "))
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// metricsStub stands in for the Prometheus handler: text in its format.
type metricsStub struct{}

func (metricsStub) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = io.WriteString(w, "# TYPE ariapp_synced gauge\nariapp_synced 1\n")
}
