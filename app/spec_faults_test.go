package app_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/internal/fakeasterisk"
)

// Rules whose failure cases need Asterisk to misbehave on demand: a reply
// that fails, comes late or loses its event, a phone's hold key. They run
// against the fake only; the lab has no way to inject them.

func fakeOnly(t *testing.T, be backend) {
	t.Helper()
	if be.name() != "fake" {
		t.Skip("needs the fake Asterisk's fault injection")
	}
}

// specLateEventConfirmedByAsking: Asterisk carries out a step of a hold or
// resume but its confirming event never comes (a busy Asterisk sends it
// late). A slow Asterisk is not a failure: when the step timeout passes,
// ariapp asks Asterisk (the bridge's members, the playback) and the hold or
// resume succeeds with the media as the rule says.
func specLateEventConfirmedByAsking(t *testing.T, be backend) {
	fakeOnly(t, be)
	h := newHarness(t, be, func(c *app.Config) { c.StepTimeout = 200 * time.Millisecond })
	callID, _ := h.establish()
	for _, step := range []struct{ op, do string }{
		{"RemoveChannel", "hold"}, {"StopPlayback", "resume"},
		{"Play", "hold"}, {"AddChannel", "resume"},
	} {
		t.Run(step.op, func(t *testing.T) {
			in := h.conn.fake.Inject(fakeasterisk.Fault{Op: step.op, LoseEvents: true, Times: 1})
			var info app.CallInfo
			if step.do == "hold" {
				info = h.hold(callID, "caller")
			} else {
				info = h.resume(callID, "caller")
			}
			if in.Hits() != 1 {
				t.Fatalf("the fault was hit %d times, want once", in.Hits())
			}
			h.expectMedia(info)
		})
	}
	h.expectNames(callID, started, answered, holdOK, unholdOK, holdOK, unholdOK)
}

// specH5FailedStepRollsBack: a hold's step fails with Asterisk's 500 on
// every try; the hold is rolled back (H5). When the rollback fails too, the
// call cannot be restored and ends rather than stay half held. (A single
// 500 is retried and the hold succeeds: specSlowAsterisk.)
func specH5FailedStepRollsBack(t *testing.T, be backend) {
	fakeOnly(t, be)
	for _, tc := range []struct {
		name   string
		faults []fakeasterisk.Fault
		want   []app.EventName
		cause  string
	}{
		{"play fails", []fakeasterisk.Fault{{Op: "Play", Status: 500, Message: "Internal Server Error"}},
			[]app.EventName{started, answered, holdFail}, ""},
		{"play and rollback fail", []fakeasterisk.Fault{
			{Op: "Play", Status: 500, Message: "Internal Server Error"},
			{Op: "AddChannel", Status: 500, Message: "Internal Server Error"}},
			[]app.EventName{started, answered, holdFail, ended}, "hold_rollback_failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, be)
			callID, _ := h.establish()
			var added []*fakeasterisk.Injected
			for _, f := range tc.faults {
				added = append(added, h.conn.fake.Inject(f))
			}
			defer func() {
				for _, in := range added {
					in.Remove()
				}
			}()
			if _, err := h.app.Hold(ctxT(t), callID, "callee", app.SourceAPI); !errors.Is(err, app.ErrHoldFailed) {
				t.Fatalf("hold: %v, want ErrHoldFailed", err)
			}
			fail := h.waitFor(callID, holdFail)
			if !strings.Contains(fail.Reason, "Internal Server Error") || fail.Call.Callee.State != app.Live {
				t.Fatalf("hold_failed: reason %q callee %s", fail.Reason, fail.Call.Callee.State)
			}
			if tc.cause == "" {
				info, _ := h.app.Call(callID)
				h.expectMedia(info)
			} else if end := h.waitFor(callID, ended); end.Call.EndCause != tc.cause {
				t.Fatalf("ended with %q (%s), want %q", end.Call.EndCause, end.Reason, tc.cause)
			}
			h.expectNames(callID, tc.want...)
		})
	}
}

// specR2StopRetried: Asterisk answers the stop of the hold music with its
// occasional "500 Could not stop playback"; the stop is retried and the
// resume succeeds (R2).
func specR2StopRetried(t *testing.T, be backend) {
	fakeOnly(t, be)
	h := newHarness(t, be)
	callID, _ := h.establish()
	h.hold(callID, "caller")
	in := h.conn.fake.Inject(fakeasterisk.Fault{Op: "StopPlayback", Target: callID + "-hold-callee", Status: 500, Message: "Could not stop playback", Times: 1})
	info := h.resume(callID, "caller")
	if in.Hits() != 1 {
		t.Fatalf("the 500 was answered %d times, want once", in.Hits())
	}
	h.expectMedia(info)
	if got := h.musicPlaying(info.Callee.ChannelID); len(got) != 0 {
		t.Fatalf("music after resume: %v", got)
	}
	h.expectNames(callID, started, answered, holdOK, unholdOK)
}

// specR3FailedStepHangsUp: a resume that truly cannot complete — addChannel
// refused for good (after the retries a 5xx gets), or the bridge gone —
// reports unhold_failed and hangs the whole call up (R3).
func specR3FailedStepHangsUp(t *testing.T, be backend) {
	fakeOnly(t, be)
	for _, tc := range []struct {
		name  string
		fault fakeasterisk.Fault
		sent  error // the ARI sentinel the resume error wraps, if any
	}{
		{"addChannel keeps failing", fakeasterisk.Fault{Op: "AddChannel", Status: 500, Message: "Internal Server Error"}, ari.ErrServer},
		{"bridge gone", fakeasterisk.Fault{Op: "AddChannel", Status: 404, Message: "Bridge not found"}, ari.ErrBridgeNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, be, func(c *app.Config) { c.StepTimeout = 200 * time.Millisecond })
			callID, _ := h.establish()
			info := h.hold(callID, "callee")
			h.conn.fake.Inject(tc.fault)
			_, err := h.app.Resume(ctxT(t), callID, "callee", app.SourceAPI)
			if !errors.Is(err, app.ErrUnholdFailed) || (tc.sent != nil && !errors.Is(err, tc.sent)) {
				t.Fatalf("resume: %v, want ErrUnholdFailed (wrapping %v)", err, tc.sent)
			}
			if fail := h.waitFor(callID, unholdNo); fail.Party != app.Callee {
				t.Fatalf("unhold_failed party %q", fail.Party)
			}
			if end := h.waitFor(callID, ended); end.Call.EndCause != "unhold_failed" {
				t.Fatalf("end cause %q", end.Call.EndCause)
			}
			for _, ch := range []string{info.Caller.ChannelID, info.Callee.ChannelID} {
				h.raw.Within(t, 0, "StasisEnd", ch)
			}
			h.expectNames(callID, started, answered, holdOK, unholdNo, ended)
		})
	}
}

// specH2PhoneHoldKey: a phone's hold key (ChannelHold/ChannelUnhold, as a
// SIP re-INVITE with sendonly/sendrecv makes Asterisk emit) holds and
// resumes through the same state machine (source phone).
func specH2PhoneHoldKey(t *testing.T, be backend) {
	fakeOnly(t, be)
	h := newHarness(t, be)
	callID, _ := h.establish()
	info, _ := h.app.Call(callID)
	if err := h.conn.fake.PressHold(info.Callee.ChannelID); err != nil {
		t.Fatal(err)
	}
	ev := h.waitFor(callID, holdOK)
	if ev.Party != app.Callee || ev.Source != app.SourcePhone || ev.Call.Callee.State != app.Hold || !ev.Call.Caller.OnHoldMusic {
		t.Fatalf("hold_success %+v", ev)
	}
	h.expectMedia(ev.Call)
	if err := h.conn.fake.PressUnhold(info.Callee.ChannelID); err != nil {
		t.Fatal(err)
	}
	ev = h.waitFor(callID, unholdOK)
	if ev.Party != app.Callee || ev.Source != app.SourcePhone {
		t.Fatalf("unhold_success %+v", ev)
	}
	now, _ := h.app.Call(callID)
	h.expectMedia(now)
	h.expectNames(callID, started, answered, holdOK, unholdOK)
}

// specTimingOfReplies: whether Asterisk's events come well before its
// replies, or its replies are slow, hold and resume end the same (the
// state machine decides from events, not from reply order).
func specTimingOfReplies(t *testing.T, be backend) {
	fakeOnly(t, be)
	for _, tc := range []struct {
		name  string
		fault fakeasterisk.Fault
	}{
		{"events before replies", fakeasterisk.Fault{ReplyDelay: 30 * time.Millisecond}},
		{"slow requests", fakeasterisk.Fault{Delay: 30 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, be)
			callID, _ := h.establish()
			for _, op := range []string{"RemoveChannel", "Play", "StopPlayback", "AddChannel"} {
				f := tc.fault
				f.Op = op
				h.conn.fake.Inject(f)
			}
			h.expectMedia(h.hold(callID, "caller"))
			h.expectMedia(h.hold(callID, "callee"))
			h.expectMedia(h.resume(callID, "caller"))
			h.expectMedia(h.resume(callID, "callee"))
			h.expectNames(callID, started, answered, holdOK, holdOK, unholdOK, unholdOK)
		})
	}
}

// specReconnectStartsMissedCall: a caller enters Stasis while the event
// connection is down (its StasisStart is lost); the resync after the
// reconnect finds it in GET /channels and sets the call up.
func specReconnectStartsMissedCall(t *testing.T, be backend) {
	fakeOnly(t, be)
	c := be.connect(t, "", true)
	h := newHarnessConn(t, be, c, nil)
	waitUntil(t, "the first resync", h.app.Synced)
	c.cut()
	waitUntil(t, "the App to see the drop", func() bool { return !h.app.Synced() })
	phone, caller := "tc-missed-phone", "tc-missed-caller"
	h.mu.Lock()
	h.channels = append(h.channels, phone, caller)
	h.mu.Unlock()
	if err := be.placeCall(t, c, "talk", "talk", nil, phone, caller); err != nil {
		t.Fatal(err)
	}
	c.restore()
	ev := h.waitEvent(func(e app.Event) bool { return e.Name == started && e.Call.Caller.ChannelID == caller }, "call_started of the missed caller")
	h.mu.Lock()
	h.calls = append(h.calls, ev.CallID)
	h.mu.Unlock()
	h.waitFor(ev.CallID, answered)
	h.expectMedia(h.hold(ev.CallID, "caller"))
}

// specSweepRemovesWhatNoCallOwns: the hang-up of an ended call's channel
// fails (Asterisk refuses every try); the periodic sweep finds the channel
// owned by no call twice in a row and hangs it up, so nothing is stranded.
func specSweepRemovesWhatNoCallOwns(t *testing.T, be backend) {
	fakeOnly(t, be)
	h := newHarness(t, be, func(c *app.Config) { c.SweepInterval = time.Second })
	callID, _ := h.establish()
	info, _ := h.app.Call(callID)
	in := h.conn.fake.Inject(fakeasterisk.Fault{Op: "Hangup", Target: info.Callee.ChannelID, Status: 500, Message: "Internal Server Error", Times: 4})
	if _, err := h.app.Hangup(ctxT(t), callID); err != nil {
		t.Fatal(err)
	}
	h.waitFor(callID, ended)
	if in.Hits() != 4 {
		t.Fatalf("the callee's hang-up was tried %d times, want 4 (one and three retries)", in.Hits())
	}
	ctl := h.control()
	if _, err := ctl.Channel(ctxT(t), info.Callee.ChannelID); err != nil {
		t.Fatalf("the callee should still be up after its hang-up failed: %v", err)
	}
	waitUntil(t, "the sweep hangs the callee up", func() bool {
		_, err := ctl.Channel(ctxT(t), info.Callee.ChannelID)
		return errors.Is(err, ari.ErrNotFound)
	})
	if n := h.app.Swept(); n < 1 {
		t.Fatalf("Swept() = %d, want at least 1", n)
	}
}

// specOriginateRefusals: an API call whose first originate Asterisk
// refuses reports why: an endpoint Asterisk has no channel for ("500
// Allocation failed") is ErrInvalidEndpoint, an Asterisk that does not
// answer is ErrUnavailable; the call ends either way and nothing of it is
// left.
func specOriginateRefusals(t *testing.T, be backend) {
	fakeOnly(t, be)
	for _, tc := range []struct {
		name  string
		fault fakeasterisk.Fault
		want  error
		cause string
	}{
		{"no such endpoint", fakeasterisk.Fault{Op: "Originate", Status: 500, Message: "Allocation failed", Times: 1}, app.ErrInvalidEndpoint, "caller_invalid_endpoint"},
		{"Asterisk not answering", fakeasterisk.Fault{Op: "Originate", Unreachable: true, Times: 1}, app.ErrUnavailable, "caller_unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, be)
			h.conn.fake.Inject(tc.fault)
			_, err := h.app.Originate(ctxT(t), "PJSIP/nobody", "Local/talk@ariapp-test")
			if !errors.Is(err, tc.want) {
				t.Fatalf("originate: %v, want %v", err, tc.want)
			}
			ev := h.waitEvent(func(e app.Event) bool { return e.Name == ended }, "call_ended")
			if ev.Call.EndCause != tc.cause {
				t.Fatalf("end cause %q (%s), want %q", ev.Call.EndCause, ev.Reason, tc.cause)
			}
			h.mu.Lock()
			h.calls = append(h.calls, ev.CallID)
			h.mu.Unlock()
		})
	}
}

// specSlowAsterisk: Asterisk answers a step of a hold or a resume too late
// (no reply within the request timeout) or with a passing 500, once; the
// step is tried again and the operation succeeds. A busy Asterisk is not a
// failed hold, and not a reason to hang a call up (R3).
func specSlowAsterisk(t *testing.T, be backend) {
	fakeOnly(t, be)
	h := newHarness(t, be)
	callID, _ := h.establish()
	for _, tc := range []struct {
		name, do string
		fault    fakeasterisk.Fault
	}{
		{"removeChannel unanswered", "hold", fakeasterisk.Fault{Op: "RemoveChannel", Unreachable: true, Times: 1}},
		{"play unanswered", "resume", fakeasterisk.Fault{Op: "Play", Unreachable: true, Times: 1}},
		{"stop 500", "hold", fakeasterisk.Fault{Op: "StopPlayback", Status: 500, Message: "Internal Server Error", Times: 2}},
		{"addChannel unanswered", "resume", fakeasterisk.Fault{Op: "AddChannel", Unreachable: true, Times: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := h.conn.fake.Inject(tc.fault)
			if tc.do == "hold" {
				h.expectMedia(h.hold(callID, "caller"))
				h.expectMedia(h.resume(callID, "caller"))
			} else {
				h.expectMedia(h.hold(callID, "callee"))
				h.expectMedia(h.resume(callID, "callee"))
			}
			if in.Hits() == 0 {
				t.Fatal("the fault was never hit")
			}
		})
	}
	if got := h.names(callID); slices.Contains(got, unholdNo) || slices.Contains(got, holdFail) {
		t.Fatalf("events %v: a slow Asterisk failed an operation", got)
	}
}
