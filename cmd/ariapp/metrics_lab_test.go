package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/internal/labtest"
	"github.com/ariapp/ariapp/internal/metrics/metricstest"
)

// TestLabMetrics runs ariapp against the lab with a token and a hold limit
// of one, places a call, holds, resumes, has a second hold refused by the
// policy and hangs up, and checks that /metrics moved with each step and
// passes promtool.
func TestLabMetrics(t *testing.T) {
	cfg := labtest.Require(t)
	const token = "metrics-lab-token"
	envs := map[string]string{
		"ARIAPP_ARI_URL":                   cfg.URL,
		"ARIAPP_ARI_USERNAME":              cfg.Username,
		"ARIAPP_ARI_PASSWORD":              cfg.Password,
		"ARIAPP_ARI_APPLICATION":           cfg.Application,
		"ARIAPP_LOG_LEVEL":                 "info",
		"ARIAPP_API_LISTEN":                "127.0.0.1:0",
		"ARIAPP_API_TOKEN":                 token,
		"ARIAPP_POLICY_MAX_HOLDS_PER_CALL": "1",
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"--config", "../../config.yaml"}, env(envs), io.Discard, &stderr) }()
	defer func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("exit status %d after a signal", code)
			}
		case <-time.After(15 * time.Second):
			t.Error("ariapp did not stop after the signal")
		}
	}()
	listening := stderr.waitRecord(t, "control API listening", func(r map[string]any) bool { return r["msg"] == "control API listening" })
	base := "http://" + listening["addr"].(string)
	stderr.waitRecord(t, "resync done", func(r map[string]any) bool { return r["msg"] == "resync with Asterisk done" })

	do := func(method, path, body, auth string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	scrape := func() (metricstest.Samples, []byte) {
		t.Helper()
		status, body := do("GET", "/metrics", "", token)
		if status != http.StatusOK {
			t.Fatalf("GET /metrics: %d %s", status, body)
		}
		return metricstest.MustParse(t, body), body
	}
	expect := func(s metricstest.Samples, what string, want float64, name string, labels ...string) {
		t.Helper()
		got, ok := s.Value(name, labels...)
		if !ok || got != want {
			t.Errorf("%s: %s%v = %g (present: %v), want %g", what, name, labels, got, ok, want)
		}
	}
	atLeast := func(s metricstest.Samples, what string, min float64, name string, labels ...string) {
		t.Helper()
		if got, ok := s.Value(name, labels...); !ok || got < min {
			t.Errorf("%s: %s%v = %g (present: %v), want at least %g", what, name, labels, got, ok, min)
		}
	}

	if status, _ := do("GET", "/metrics", "", ""); status != http.StatusUnauthorized {
		t.Errorf("GET /metrics without the token: %d, want 401", status)
	}
	s0, body := scrape()
	metricstest.Promtool(t, body)
	expect(s0, "at start", 1, "ariapp_ari_websocket_up")
	expect(s0, "at start", 1, "ariapp_synced")
	expect(s0, "at start", 1, "ariapp_resyncs_total", "result", "done")
	expect(s0, "at start", 0, "ariapp_calls_active", "state", "answered")
	if _, ok := s0.Value("ariapp_build_info", "version", version, "asterisk_version", "unknown"); ok {
		t.Error("ariapp_build_info lacks the Asterisk version after the connect")
	}
	atLeast(s0, "at start", 1, "ariapp_build_info", "version", version)
	// The info request and the subscription were made at start.
	atLeast(s0, "at start", 1, "ariapp_ari_requests_total", "method", "GET", "route", "/asterisk/info", "status_class", "2xx")

	ctl, err := ari.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	phone, caller := "tc-"+labtest.ID()+"-phone", "tc-"+labtest.ID()+"-caller"
	if _, err := ctl.Originate(ctx, ari.OriginateParams{
		Endpoint: "Local/dial-talk@" + labtest.TestContext, ChannelID: phone, OtherChannelID: caller,
		Extension: "talk", Context: labtest.TestContext, Priority: 1, Formats: "ulaw",
		Variables: map[string]string{"_ARIAPP_TEST_APP": cfg.Application},
	}); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ctl.Hangup(context.Background(), phone, "") }()
	answered := stderr.waitRecord(t, "call_answered", func(r map[string]any) bool {
		return r["msg"] == "call event" && r["event"] == "call_answered" && r["caller_channel_id"] == caller
	})
	callID := answered["call_id"].(string)

	s1, _ := scrape()
	expect(s1, "call answered", 1, "ariapp_calls_active", "state", "answered")
	expect(s1, "call answered", 1, "ariapp_calls_started_total")
	expect(s1, "call answered", 1, "ariapp_calls_answered_total")
	expect(s1, "call answered", 0, "ariapp_parties_on_hold")

	if status, b := do("POST", "/v1/calls/"+callID+"/hold", `{"party":"caller"}`, token); status != http.StatusOK {
		t.Fatalf("hold: %d %s", status, b)
	}
	s2, body := scrape()
	metricstest.Promtool(t, body)
	expect(s2, "after the hold", 1, "ariapp_parties_on_hold")
	expect(s2, "after the hold", 1, "ariapp_holds_total", "source", "api", "result", "success")
	expect(s2, "after the hold", 1, "ariapp_hold_operation_duration_seconds_count", "result", "success")
	if sum, _ := s2.Value("ariapp_hold_operation_duration_seconds_sum", "result", "success"); sum <= 0 || sum > 5 {
		t.Errorf("hold latency %g s, want within (0, 5]", sum)
	}
	atLeast(s2, "after the hold", 1, "ariapp_ari_requests_total", "method", "POST", "route", "/bridges/{id}/removeChannel", "status_class", "2xx")
	atLeast(s2, "after the hold", 1, "ariapp_ari_request_duration_seconds_count", "method", "POST", "route", "/channels/{id}/play/{id}")
	received, _ := s0.Value("ariapp_ari_events_received_total")
	atLeast(s2, "after the hold", received+1, "ariapp_ari_events_received_total")
	expect(s2, "after the hold", 0, "ariapp_ari_events_dropped_total")
	t.Logf("/metrics after a hold (excerpt):\n%s", excerpt(body, "ariapp_holds_total", "ariapp_parties_on_hold", "ariapp_calls_active",
		"ariapp_hold_operation_duration_seconds_count", "ariapp_hold_operation_duration_seconds_sum", "ariapp_build_info",
		"ariapp_ari_requests_total{method=\"POST\",route=\"/bridges/{id}/removeChannel\"", "ariapp_ari_websocket_up", "ariapp_ari_events_received_total"))
	if path := os.Getenv("ARIAPP_METRICS_DUMP"); path != "" {
		_ = os.WriteFile(path, body, 0o644)
	}

	if status, b := do("POST", "/v1/calls/"+callID+"/unhold", `{"party":"caller"}`, token); status != http.StatusOK {
		t.Fatalf("resume: %d %s", status, b)
	}
	if status, b := do("POST", "/v1/calls/"+callID+"/hold", `{"party":"callee"}`, token); status != http.StatusForbidden {
		t.Fatalf("second hold with max_holds_per_call 1: %d %s, want 403 (hold refused)", status, b)
	}
	s3, _ := scrape()
	expect(s3, "after resume and a refused hold", 0, "ariapp_parties_on_hold")
	expect(s3, "after resume and a refused hold", 1, "ariapp_resumes_total", "source", "api", "result", "success")
	expect(s3, "after resume and a refused hold", 1, "ariapp_resume_operation_duration_seconds_count", "result", "success")
	expect(s3, "after resume and a refused hold", 1, "ariapp_holds_total", "source", "api", "result", "refused")
	expect(s3, "after resume and a refused hold", 0, "ariapp_holds_total", "source", "api", "result", "failed")

	if err := ctl.Hangup(ctx, phone, ""); err != nil {
		t.Fatal(err)
	}
	stderr.waitRecord(t, "call_ended", func(r map[string]any) bool {
		return r["event"] == "call_ended" && r["call_id"] == callID
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		s4, body := scrape()
		active, _ := s4.Value("ariapp_calls_active")
		if active == 0 || time.Now().After(deadline) {
			expect(s4, "after the hang-up", 0, "ariapp_calls_active")
			expect(s4, "after the hang-up", 1, "ariapp_calls_ended_total", "cause", "caller_hangup")
			metricstest.Promtool(t, body)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// excerpt returns the lines of an exposition that start with one of
// prefixes.
func excerpt(body []byte, prefixes ...string) string {
	var b strings.Builder
	for _, line := range strings.Split(string(body), "\n") {
		for _, p := range prefixes {
			if strings.HasPrefix(line, p) {
				b.WriteString(line + "\n")
				break
			}
		}
	}
	return b.String()
}
