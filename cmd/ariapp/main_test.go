package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		wantCode   int
		wantStdout string // substring
		wantStderr string // substring
	}{
		{name: "version", args: []string{"--version"}, wantCode: 0, wantStdout: "ariapp " + version},
		{name: "help", args: []string{"-h"}, wantCode: 0, wantStdout: "ARIAPP_ARI_PASSWORD"},
		{name: "config error", args: []string{"--log-level", "loud"}, env: withPassword(nil), wantCode: 2,
			wantStderr: `ariapp: config: log.level: invalid level "loud"`},
		{name: "missing password", wantCode: 2, wantStderr: "ariapp: config: ari.password: not set"},
		{name: "unreachable ARI", env: withPassword(map[string]string{"ARIAPP_ARI_URL": "http://127.0.0.1:1/ari", "ARIAPP_API_LISTEN": "127.0.0.1:0"}), wantCode: 1,
			wantStderr: "ariapp: cannot reach ARI at http://127.0.0.1:1/ari"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr strings.Builder
			code := run(context.Background(), tt.args, env(tt.env), &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit status %d, want %d (stderr %q)", code, tt.wantCode, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Errorf("stdout %q lacks %q", stdout.String(), tt.wantStdout)
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tt.wantStderr)
			}
			if strings.Contains(stdout.String()+stderr.String(), testPassword) {
				t.Errorf("output reveals the password")
			}
			if tt.wantCode == 2 && strings.Count(stderr.String(), "\n") != 1 {
				t.Errorf("config error is not exactly one line: %q", stderr.String())
			}
			if tt.wantCode == 1 && strings.Count(plainLines(stderr.String()), "\n") != 1 {
				t.Errorf("start-up failure is not exactly one plain line: %q", stderr.String())
			}
		})
	}
}

// plainLines keeps the lines that are not JSON log records: what an operator
// reads as ariapp's own message.
func plainLines(s string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\n") {
		if l != "" && !strings.HasPrefix(l, "{") {
			b.WriteString(l)
		}
	}
	return b.String()
}

func TestRunLogsConfigFields(t *testing.T) {
	t.Parallel()
	var stdout, stderr strings.Builder
	e := withPassword(map[string]string{"ARIAPP_ARI_URL": "http://127.0.0.1:1/ari", "ARIAPP_API_LISTEN": "127.0.0.1:0"})
	if code := run(context.Background(), nil, env(e), &stdout, &stderr); code != 1 {
		t.Fatalf("exit status %d, want 1 (ARI unreachable): %s", code, stderr.String())
	}
	first, _, _ := strings.Cut(stderr.String(), "\n")
	var rec map[string]any
	if err := json.Unmarshal([]byte(first), &rec); err != nil {
		t.Fatalf("start-up line is not one JSON object: %v: %s", err, stderr.String())
	}
	for key, want := range map[string]any{
		"ari_url":          "http://127.0.0.1:1/ari",
		"ari_application":  "ariapp",
		"ari_password_set": true,
		"version":          version,
		"hold_media":       "tone:440/500|0/2500",
	} {
		if rec[key] != want {
			t.Errorf("%s = %#v, want %#v", key, rec[key], want)
		}
	}
}
