package main

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// buffer is a goroutine-safe log sink.
type buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *buffer) Sync() error { return nil }

func (b *buffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := strings.TrimRight(b.b.String(), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// isoMicro matches the log timestamp: ISO 8601 with microseconds and a zone.
var isoMicro = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$`)

func TestNewLoggerJSON(t *testing.T) {
	t.Parallel()
	var buf buffer
	log, err := newLogger(LogConfig{Level: "info", Format: "json"}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("ari event", zap.String("type", "StasisStart"), zap.Duration("took", 1500*time.Millisecond))
	log.Error("failed", zap.String("reason", "boom"))
	lines := buf.lines()
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2: %q", len(lines), lines)
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatalf("line is not JSON: %v: %s", err, lines[0])
	}
	tests := []struct {
		key  string
		want any
	}{
		{"level", "info"},
		{"msg", "ari event"},
		{"type", "StasisStart"},
		{"took", "1.5s"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if rec[tt.key] != tt.want {
				t.Errorf("%s = %#v, want %#v", tt.key, rec[tt.key], tt.want)
			}
		})
	}
	ts, _ := rec["ts"].(string)
	if !isoMicro.MatchString(ts) {
		t.Errorf("ts = %q, want ISO 8601 with microseconds", ts)
	}
	if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
		t.Errorf("ts %q does not parse as RFC 3339: %v", ts, err)
	}
	if c, _ := rec["caller"].(string); !strings.HasPrefix(c, "ariapp/logger_test.go:") {
		t.Errorf("caller = %q, want ariapp/logger_test.go:N", c)
	}
	if strings.Contains(lines[1], "stacktrace") {
		t.Errorf("an error log carries a stack trace: %s", lines[1])
	}
}

func TestNewLoggerLevels(t *testing.T) {
	t.Parallel()
	tests := []struct {
		level string
		want  []string // messages that get through
	}{
		{"debug", []string{"d", "i", "w", "e"}},
		{"info", []string{"i", "w", "e"}},
		{"warn", []string{"w", "e"}},
		{"error", []string{"e"}},
	}
	for _, tt := range tests {
		t.Run(tt.level, func(t *testing.T) {
			t.Parallel()
			var buf buffer
			log, err := newLogger(LogConfig{Level: tt.level, Format: "json"}, &buf)
			if err != nil {
				t.Fatal(err)
			}
			log.Debug("d")
			log.Info("i")
			log.Warn("w")
			log.Error("e")
			var got []string
			for _, l := range buf.lines() {
				var rec struct{ Msg string }
				if err := json.Unmarshal([]byte(l), &rec); err != nil {
					t.Fatal(err)
				}
				got = append(got, rec.Msg)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("logged %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNewLoggerConsole(t *testing.T) {
	t.Parallel()
	var buf buffer
	log, err := newLogger(LogConfig{Level: "debug", Format: "console"}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	log.Warn("hello", zap.String("k", "v"))
	lines := buf.lines()
	if len(lines) != 1 {
		t.Fatalf("got %d lines, want 1: %q", len(lines), lines)
	}
	fields := strings.Split(lines[0], "\t")
	if len(fields) < 5 {
		t.Fatalf("console line has %d tab-separated fields, want >= 5: %q", len(fields), lines[0])
	}
	if !isoMicro.MatchString(fields[0]) {
		t.Errorf("time %q, want ISO 8601 with microseconds", fields[0])
	}
	if fields[1] != "WARN" {
		t.Errorf("level %q, want WARN (no colour codes)", fields[1])
	}
	if fields[3] != "hello" || !strings.Contains(fields[4], `"k": "v"`) {
		t.Errorf("message/fields = %q / %q", fields[3], fields[4])
	}
}

// TestNewLoggerNoSampling: zap's production preset drops repeated messages;
// the event log must not.
func TestNewLoggerNoSampling(t *testing.T) {
	t.Parallel()
	var buf buffer
	log, err := newLogger(LogConfig{Level: "info", Format: "json"}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	const n = 1000
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			log.Info("ari event", zap.Int("i", i))
		}()
	}
	wg.Wait()
	if got := len(buf.lines()); got != n {
		t.Errorf("logged %d lines, want %d", got, n)
	}
}

func TestNewLoggerInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  LogConfig
		want string
	}{
		{"bad level", LogConfig{Level: "trace", Format: "json"}, "log.level"},
		{"empty level", LogConfig{Level: "", Format: "json"}, "log.level"},
		{"bad format", LogConfig{Level: "info", Format: "xml"}, "log.format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := newLogger(tt.cfg, zapcore.AddSync(&buffer{}))
			if err == nil || !strings.HasPrefix(err.Error(), tt.want+": ") {
				t.Errorf("err = %v, want one naming %s", err, tt.want)
			}
		})
	}
}
