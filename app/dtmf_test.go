package app_test

import (
	"testing"
	"time"

	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/ari"
)

// TestDTMFHoldResume: a party holds and resumes from its keypad with the
// configured codes, through the same state machine and events (source
// dtmf). The digits are pressed on the caller's far end, so they reach the
// caller's channel as real DTMF.
func specDTMFHoldResume(t *testing.T, be backend) {
	for _, tc := range []struct {
		name         string
		hold, resume string
	}{
		{"two codes", "*7", "*8"},
		{"one toggle code", "#9", "#9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, be, func(c *app.Config) { c.DTMF = app.DTMFConfig{Hold: tc.hold, Resume: tc.resume} })
			// The caller's phone presses "1"+hold (a stray digit before the
			// code does not matter), then resume, a second apart.
			callID, _ := h.placeCallFrom("talk", "keys", map[string]string{
				"ARIAPP_TEST_KEYS1": "1" + tc.hold, "ARIAPP_TEST_KEYS2": tc.resume,
			})
			h.waitFor(callID, answered)
			ev := h.waitFor(callID, holdOK)
			if ev.Party != app.Caller || ev.Source != app.SourceDTMF {
				t.Fatalf("hold_success party %q source %q", ev.Party, ev.Source)
			}
			h.expectMedia(ev.Call)
			ev = h.waitFor(callID, unholdOK)
			if ev.Party != app.Caller || ev.Source != app.SourceDTMF {
				t.Fatalf("unhold_success party %q source %q", ev.Party, ev.Source)
			}
			info, _ := h.app.Call(callID)
			h.expectMedia(info)
			h.expectNames(callID, started, answered, holdOK, unholdOK)
		})
	}
}

// TestDTMFOffByDefault: without codes, digits change nothing.
func specDTMFOffByDefault(t *testing.T, be backend) {
	h := newHarness(t, be)
	callID, _ := h.placeCallFrom("talk", "keys", map[string]string{"ARIAPP_TEST_KEYS1": "*7*8", "ARIAPP_TEST_KEYS2": "#"})
	h.raw.Wait(t, 0, 10*time.Second, "the last digit", func(ev ariEvent) bool { return isDigit(ev, "#") })
	h.expectNames(callID, started, answered)
}

type ariEvent = ari.Event

func isDigit(ev ari.Event, d string) bool {
	e, ok := ev.(*ari.ChannelDtmfReceived)
	return ok && e.Digit == d
}
