package app

import (
	"context"
	"testing"
	"time"
)

// TestUnitHoldTimersEndWithTheHold: a hold's timers run from its success,
// stop with its resume, and every timer stops with the call; a timer's
// message that was already posted does nothing once its hold is over.
func TestUnitHoldTimersEndWithTheHold(t *testing.T) {
	ht := HoldTimers{ReminderAfter: time.Hour, MaxDuration: 2 * time.Hour}
	running := func(c *call) []timerKind {
		var on []timerKind
		for k, tm := range c.timers.t {
			if tm != nil {
				on = append(on, timerKind(k))
			}
		}
		return on
	}
	tests := []struct {
		name string
		end  func(ctx context.Context, c *call)
	}{
		// The held party is taken as back in the bridge already: the resume
		// needs no ARI step.
		{"resume", func(ctx context.Context, c *call) {
			c.holdLimit(ctx, c.caller, c.caller.holdSince.Add(-time.Second)) // a stale message
			if !c.caller.holds() {
				t.Fatal("a stale holdLimit ended the hold")
			}
			if err := c.resume(ctx, c.caller, SourceAPI); err != nil {
				t.Fatal(err)
			}
		}},
		{"hang-up", func(ctx context.Context, c *call) { c.endCall(ctx, "caller_hangup", Caller, "") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := New(Config{HoldTimers: ht}, &unitARI{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			c := unitAnswered(t, a)
			c.caller.holdSince = time.Now()
			c.startHoldTimers(c.caller)
			if got := running(c); len(got) != 2 || got[0] != reminderTimer || got[1] != holdLimitTimer {
				t.Fatalf("timers after the hold %v, want the caller's reminder and limit", got)
			}
			tt.end(context.Background(), c)
			if got := running(c); len(got) != 0 {
				t.Fatalf("timers still running after the %s: %v", tt.name, got)
			}
		})
	}
}

// TestUnitNextReminder: reminders fall on multiples of the interval since
// the hold began, also when counting on after a restart.
func TestUnitNextReminder(t *testing.T) {
	every := time.Minute
	for _, tt := range []struct {
		name    string
		elapsed time.Duration
		want    time.Duration
	}{
		{"just held", 0, every},
		{"mid-way", 90 * time.Second, 30 * time.Second},
		{"after a restart", 10*every + 15*time.Second, 45 * time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := nextReminderIn(time.Now().Add(-tt.elapsed), every)
			if got > tt.want || got < tt.want-time.Second {
				t.Fatalf("next reminder in %v, want %v", got, tt.want)
			}
		})
	}
}

// TestUnitRecordedHoldStart: the later of the records that name the
// holder counts; records of the other party or of something else do not.
func TestUnitRecordedHoldStart(t *testing.T) {
	t1, t2 := time.Unix(1000, 0), time.Unix(2000, 0)
	for _, tt := range []struct {
		name                 string
		heldOrder, selfSince string
		want                 time.Time
		ok                   bool
	}{
		{"none", "", "", time.Time{}, false},
		{"on the held party", holdOrderValue(Caller, t1), "", t1, true},
		{"on the holder", "", holdOrderValue(Caller, t2), t2, true},
		{"the later counts", holdOrderValue(Caller, t2), holdOrderValue(Caller, t1), t2, true},
		{"the other party's", holdOrderValue(Callee, t2), "", time.Time{}, false},
		{"garbage", "x@y", "caller", time.Time{}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := recordedHoldStart(Caller, tt.heldOrder, tt.selfSince)
			if ok != tt.ok || !got.Equal(tt.want) {
				t.Fatalf("recordedHoldStart = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}
