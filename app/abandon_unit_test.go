package app

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ariapp/ariapp/ari"
)

// TestUnitLateChannelOfEndedCall: an originate that timed out may still go
// through; when its channel enters Stasis after the call ended, it is hung
// up, not taken for a new call (a "dial" caller) or left in Stasis.
func TestUnitLateChannelOfEndedCall(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"caller of an API call", []string{ArgDial, "PJSIP/bob"}},
		{"callee", []string{ArgCallee, "c-gone"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &unitARI{}
			a, err := New(Config{}, f, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			a.abandon("late-1")
			a.handleEvent(context.Background(), &ari.StasisStart{Args: tc.args, Channel: ari.Channel{ID: "late-1"}})
			deadline := time.Now().Add(2 * time.Second)
			for !slices.Contains(f.recorded(), fmt.Sprintf("Hangup late-1 %s", ari.HangupNormal)) {
				if time.Now().After(deadline) {
					t.Fatalf("no hangup of the late channel; requests %v", f.recorded())
				}
				time.Sleep(5 * time.Millisecond)
			}
			if n := len(a.Calls()); n != 0 {
				t.Fatalf("%d calls started for it", n)
			}
		})
	}
}

// TestUnitRetryCleanup: a clean-up request that Asterisk did not answer is
// tried again; a definite answer is not.
func TestUnitRetryCleanup(t *testing.T) {
	unreachable := fmt.Errorf("%w: EOF", ari.ErrUnreachable)
	for _, tc := range []struct {
		name  string
		fails []error
		calls int
		ok    bool
	}{
		{"success", nil, 1, true},
		{"unreachable once", []error{unreachable}, 2, true},
		{"unreachable always", []error{unreachable, unreachable, unreachable, unreachable}, 4, false},
		{"not found is final", []error{fmt.Errorf("%w", ari.ErrNotFound)}, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := 0
			err := (&App{}).cleanup(context.Background(), func(context.Context) error {
				n++
				if n <= len(tc.fails) {
					return tc.fails[n-1]
				}
				return nil
			})
			if n != tc.calls || (err == nil) != tc.ok {
				t.Fatalf("%d calls, err %v; want %d calls, ok %v", n, err, tc.calls, tc.ok)
			}
		})
	}
}
