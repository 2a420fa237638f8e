package confcheck

import (
	"errors"
	"testing"
	"time"
)

func TestName(t *testing.T) {
	t.Parallel()
	for field, want := range map[string]string{
		"AnswerTimeout":  "answer timeout",
		"DTMF.Timeout":   "DTMF timeout",
		"URL":            "URL",
		"HTTPClient":     "HTTP client",
		"EventQueueSize": "event queue size",
		"Music":          "music",
	} {
		t.Run(field, func(t *testing.T) {
			t.Parallel()
			if got := Name(field); got != want {
				t.Errorf("Name(%q) = %q, want %q", field, got, want)
			}
		})
	}
}

func TestChecker(t *testing.T) {
	t.Parallel()
	sentinel := errors.New("pkg: invalid")
	cause := errors.New("deeper")
	c := New("pkg", sentinel)
	if c.Err() != nil {
		t.Fatalf("empty checker: Err() = %v, want nil", c.Err())
	}
	c.AtLeast("StepTimeout", 5*time.Millisecond, 10*time.Millisecond)
	c.Positive("A", 0)
	c.Positive("B", -time.Second)
	c.Positive("C", time.Second) // fine
	c.Between("Queue", 0, 1, 8)
	c.FailPeer("Max", "Min", "1s is less than {peer} 2s")
	c.Cause("Music", cause)
	err := c.Err()
	want := "pkg config: step timeout: must be at least 10ms, got 5ms; pkg config: a: must be greater than 0, got 0s; " +
		"pkg config: b: must not be negative, got -1s; pkg config: queue: must be between 1 and 8, got 0; " +
		"pkg config: max: 1s is less than min 2s; pkg config: music: deeper"
	if err == nil || err.Error() != want {
		t.Fatalf("Err() = %v\nwant %s", err, want)
	}
	if !errors.Is(err, sentinel) || !errors.Is(err, cause) {
		t.Errorf("Err() does not wrap the sentinel and the cause: %v", err)
	}
	var es Errors
	if !errors.As(err, &es) || len(es) != 6 || es[4].Explain(func(f string) string { return "<" + f + ">" }) != "1s is less than <Min> 2s" {
		t.Errorf("Errors = %#v", es)
	}
}

func TestDefault(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want time.Duration }{{0, 5}, {-1, 5}, {3, 3}} {
		got := tt.in
		Default(&got, 5)
		if got != tt.want {
			t.Errorf("Default(%d, 5) = %d, want %d", tt.in, got, tt.want)
		}
	}
}
