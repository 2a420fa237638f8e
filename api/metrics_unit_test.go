package api_test

import (
	"io"
	"net/http"
	"testing"

	"go.uber.org/zap/zapcore"

	"github.com/ariapp/ariapp/api"
)

// TestUnitMetricsRoute: Config.Metrics is served on GET /metrics, behind
// the token when one is set, and only when configured.
func TestUnitMetricsRoute(t *testing.T) {
	const exposition = "# HELP x_total x\n# TYPE x_total counter\nx_total 1\n"
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = io.WriteString(w, exposition)
	})
	tests := []struct {
		name    string
		metrics http.Handler
		token   string
		method  string
		auth    string
		status  int
		code    string // the JSON error code of a refusal
	}{
		{name: "served", metrics: metrics, method: "GET", status: http.StatusOK},
		{name: "not configured", method: "GET", status: http.StatusNotFound, code: api.CodeNotFound},
		{name: "token missing", metrics: metrics, token: "sesame", method: "GET", status: http.StatusUnauthorized, code: api.CodeUnauthorized},
		{name: "token wrong", metrics: metrics, token: "sesame", method: "GET", auth: "Bearer open", status: http.StatusUnauthorized, code: api.CodeUnauthorized},
		{name: "token right", metrics: metrics, token: "sesame", method: "GET", auth: "Bearer sesame", status: http.StatusOK},
		{name: "not configured, token missing", token: "sesame", method: "GET", status: http.StatusUnauthorized, code: api.CodeUnauthorized},
		{name: "wrong method", metrics: metrics, method: "POST", status: http.StatusMethodNotAllowed, code: api.CodeMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newUnit(t, api.Config{Token: tt.token, Metrics: tt.metrics}, nil)
			rec := u.do(req{method: tt.method, target: "/metrics", auth: tt.auth})
			if tt.code != "" {
				wantError(t, rec, tt.status, tt.code)
				return
			}
			if rec.Code != tt.status || rec.Body.String() != exposition {
				t.Fatalf("GET /metrics: %d %q, want %d and the exposition", rec.Code, rec.Body, tt.status)
			}
			// A scrape every few seconds is no news: logged at debug.
			for _, e := range u.logs.FilterMessage("api request").All() {
				if e.Level != zapcore.DebugLevel {
					t.Errorf("scrape logged at %s, want debug", e.Level)
				}
			}
		})
	}
}
