package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/internal/labtest"
)

// syncBuffer is an io.Writer the test can read while run writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// records returns the JSON log records written so far.
func (s *syncBuffer) records(t *testing.T) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, line)
		}
		out = append(out, m)
	}
	return out
}

func (s *syncBuffer) waitRecord(t *testing.T, what string, match func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		for _, r := range s.records(t) {
			if match(r) {
				return r
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no log record %s; log:\n%s", what, s.String())
	return nil
}

// TestLabRunLogsEventsAndCalls runs ariapp against the lab Asterisk: it
// logs every ARI event as one line with its ids and Asterisk's timestamp,
// handles a call placed through the dialplan, never logs the password, and
// stops cleanly on a signal (context cancel) with status 0.
func TestLabRunLogsEventsAndCalls(t *testing.T) {
	cfg := labtest.Require(t)
	envs := map[string]string{
		"ARIAPP_ARI_URL":         cfg.URL,
		"ARIAPP_ARI_USERNAME":    cfg.Username,
		"ARIAPP_ARI_PASSWORD":    cfg.Password,
		"ARIAPP_ARI_APPLICATION": cfg.Application,
		"ARIAPP_LOG_LEVEL":       "info",
		"ARIAPP_API_LISTEN":      "127.0.0.1:0",
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"--config", "../../config.yaml"}, env(envs), io.Discard, &stderr) }()
	stderr.waitRecord(t, "ariapp running", func(r map[string]any) bool { return r["msg"] == "ariapp running" })

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
	start := stderr.waitRecord(t, "StasisStart of the caller", func(r map[string]any) bool {
		return r["msg"] == "ari event" && r["type"] == "StasisStart" && r["channel_id"] == caller
	})
	if ts, _ := start["asterisk_ts"].(string); ts == "" {
		t.Errorf("ari event line lacks asterisk_ts: %v", start)
	}
	answered := stderr.waitRecord(t, "call_answered", func(r map[string]any) bool {
		return r["msg"] == "call event" && r["event"] == "call_answered" && r["caller_channel_id"] == caller
	})
	bridgeID, _ := answered["bridge_id"].(string)
	stderr.waitRecord(t, "ChannelEnteredBridge with bridge_id", func(r map[string]any) bool {
		return r["type"] == "ChannelEnteredBridge" && r["bridge_id"] == bridgeID && r["channel_id"] == caller
	})
	if err := ctl.Hangup(ctx, phone, ""); err != nil {
		t.Fatal(err)
	}
	stderr.waitRecord(t, "call_ended", func(r map[string]any) bool {
		return r["event"] == "call_ended" && r["caller_channel_id"] == caller && r["end_cause"] == "caller_hangup"
	})

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit status %d after a signal; log:\n%s", code, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("ariapp did not stop after the signal")
	}
	if strings.Contains(stderr.String(), cfg.Password) {
		t.Fatal("the log reveals the ARI password")
	}
}

// TestLabRunWrongCredentials: wrong ARI credentials end ariapp at start-up
// with one line naming the cause and status 1.
func TestLabRunWrongCredentials(t *testing.T) {
	cfg := labtest.Require(t)
	envs := map[string]string{"ARIAPP_ARI_URL": cfg.URL, "ARIAPP_ARI_PASSWORD": "definitely-wrong", "ARIAPP_API_LISTEN": "127.0.0.1:0"}
	var stderr syncBuffer
	code := run(context.Background(), []string{"--config", "../../config.yaml"}, env(envs), io.Discard, &stderr)
	if code != exitRuntime {
		t.Fatalf("exit status %d, want %d; stderr:\n%s", code, exitRuntime, stderr.String())
	}
	if got := plainLines(stderr.String()); !strings.Contains(got, "rejected user \"ariapp\"") || strings.Count(got, "\n") != 1 {
		t.Fatalf("want one line about rejected credentials, got %q", got)
	}
	if strings.Contains(stderr.String(), "definitely-wrong") {
		t.Fatal("the password is printed")
	}
}
