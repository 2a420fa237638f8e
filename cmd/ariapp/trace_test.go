package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// lockedBuffer is a log sink two ariapp "processes" share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) Sync() error    { return nil }
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// expectInOrder fails unless a line matching each of the regular
// expressions want appears in out, in that order, each on a later line than
// the one before.
func expectInOrder(t *testing.T, out string, want ...string) {
	t.Helper()
	lines := strings.Split(out, "\n")
	i := 0
	for _, w := range want {
		re := regexp.MustCompile(w)
		for i < len(lines) && !re.MatchString(lines[i]) {
			i++
		}
		if i == len(lines) {
			t.Fatalf("trace lacks %q (in order); trace:\n%s", w, out)
		}
		i++
	}
}

// TestTraceUsage: wrong arguments print the usage; a call not in the log is
// said plainly.
func TestTraceUsage(t *testing.T) {
	var out, errs bytes.Buffer
	if code := run(context.Background(), []string{"trace"}, env(nil), &out, &errs); code != exitConfig || !strings.Contains(errs.String(), "usage: ariapp trace") {
		t.Fatalf("exit %d, stderr %q", code, errs.String())
	}
	traceStdin = strings.NewReader(`{"level":"info","ts":"2026-12-01T10:00:00.000000Z","logger":"app","msg":"call event","event":"call_started","call_id":"other"}` + "\n")
	defer func() { traceStdin = nil }()
	errs.Reset()
	if code := run(context.Background(), []string{"trace", "missing"}, env(nil), &out, &errs); code != exitRuntime || !strings.Contains(errs.String(), "no line of call missing") {
		t.Fatalf("exit %d, stderr %q", code, errs.String())
	}
}
