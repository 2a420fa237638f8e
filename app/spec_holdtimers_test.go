package app_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/ari"
)

// The hold timers' rules run against both backends like the SPEC table.
// Their durations are short but far from each other, and the bounds are
// generous: a busy machine delays a timer's event, never advances it.

const reminded = app.EventHoldReminder

func withHoldTimers(ht app.HoldTimers) harnessOpt {
	return func(c *app.Config) { c.HoldTimers = ht }
}

// reminderTone is the tests' reminder: 1800 Hz for 100 ms.
const reminderTone = "tone:1800/100"

// eventsOf returns a call's events of one name so far.
func (h *harness) eventsOf(callID string, name app.EventName) []app.Event {
	var out []app.Event
	for _, e := range h.events.All() {
		if e.CallID == callID && e.Name == name {
			out = append(out, e)
		}
	}
	return out
}

// waitN waits for the n-th event of this name of a call.
func (h *harness) waitN(callID string, name app.EventName, n int) app.Event {
	h.t.Helper()
	var found app.Event
	if _, ok := h.events.Until(15*time.Second, func(evs []app.Event) bool {
		seen := 0
		for _, e := range evs {
			if e.CallID == callID && e.Name == name {
				if seen++; seen == n {
					found = e
					return true
				}
			}
		}
		return false
	}); !ok {
		h.t.Fatalf("timed out waiting for %s #%d of call %s\n%s", name, n, callID, h.dump(callID))
	}
	return found
}

// reminderPlaybacks returns the reminder playbacks Asterisk reported
// started, by target channel.
func (h *harness) reminderPlaybacks(media string) map[string]int {
	out := map[string]int{}
	for _, ev := range h.raw.Events() {
		if e, ok := ev.(*ari.PlaybackStarted); ok && e.Playback.MediaURI == media {
			out[e.Playback.TargetURI]++
		}
	}
	return out
}

// quiet proves that no event of this name of a call follows for d.
func (h *harness) quiet(callID string, name app.EventName, d time.Duration) {
	h.t.Helper()
	n := len(h.eventsOf(callID, name))
	time.Sleep(d)
	if m := len(h.eventsOf(callID, name)); m != n {
		h.t.Fatalf("%d more %s events after the timers should have stopped\n%s", m-n, name, h.dump(callID))
	}
}

// specHoldMaxResume: a hold that lasts hold.max_duration is resumed, as the
// usual unhold_success with source timer, not before its time; the media is
// restored and the call goes on.
func specHoldMaxResume(t *testing.T, be backend) {
	limit := 700 * time.Millisecond
	h := newHarness(t, be, withHoldTimers(app.HoldTimers{MaxDuration: limit}))
	callID, _ := h.establish()
	h.hold(callID, "caller")
	held := h.waitFor(callID, holdOK)
	ev := h.waitFor(callID, unholdOK)
	if ev.Source != app.SourceTimer || ev.Party != app.Caller {
		t.Fatalf("unhold_success source %q party %q, want timer, caller", ev.Source, ev.Party)
	}
	if took := ev.Time.Sub(*held.Call.Caller.HoldSince); took < limit || took > limit+5*time.Second {
		t.Fatalf("resumed %v after the hold began, want %v (and not much later)", took, limit)
	}
	if ev.Call.Caller.State != app.Live || len(ev.Call.Holders) != 0 {
		t.Fatalf("after the timer: %+v", ev.Call)
	}
	h.expectMedia(ev.Call)
	// The call goes on: a new hold gets its own full time.
	h.hold(callID, "callee")
	h.waitN(callID, unholdOK, 2)
	h.expectNames(callID, started, answered, holdOK, unholdOK, holdOK, unholdOK)
}

// specHoldMaxHangup: with hold.max_action hangup, a hold that lasts
// hold.max_duration ends the call with cause hold_timeout.
func specHoldMaxHangup(t *testing.T, be backend) {
	limit := 600 * time.Millisecond
	h := newHarness(t, be, withHoldTimers(app.HoldTimers{MaxDuration: limit, MaxAction: app.HoldHangup}))
	callID, _ := h.establish()
	h.hold(callID, "callee")
	ev := h.waitFor(callID, ended)
	if ev.Call.EndCause != "hold_timeout" || ev.Party != app.Callee {
		t.Fatalf("call_ended cause %q party %q, want hold_timeout by callee (%s)", ev.Call.EndCause, ev.Party, ev.Reason)
	}
	if took := ev.Time.Sub(*h.waitFor(callID, holdOK).Call.Callee.HoldSince); took < limit {
		t.Fatalf("ended %v after the hold began, before its maximum %v", took, limit)
	}
	h.expectNames(callID, started, answered, holdOK, ended)
}

// specHoldReminder: while a party holds, it hears the reminder at every
// hold.reminder_after (a playback on its own channel, which stays in the
// bridge; the held party's music goes on) and hold_reminder is reported;
// resume stops the reminders.
func specHoldReminder(t *testing.T, be backend) {
	every := 400 * time.Millisecond
	h := newHarness(t, be, withHoldTimers(app.HoldTimers{ReminderAfter: every, ReminderMedia: reminderTone}))
	callID, _ := h.establish()
	info := h.hold(callID, "caller")
	holdSince := *info.Caller.HoldSince
	music := h.musicPlaying(info.Callee.ChannelID)
	first := h.waitN(callID, reminded, 1)
	second := h.waitN(callID, reminded, 2)
	for i, ev := range []app.Event{first, second} {
		if ev.Party != app.Caller || ev.Source != app.SourceTimer || ev.Reason != "" {
			t.Fatalf("hold_reminder %d: party %q source %q reason %q", i+1, ev.Party, ev.Source, ev.Reason)
		}
		if at := ev.Time.Sub(holdSince); at < time.Duration(i+1)*every {
			t.Fatalf("hold_reminder %d came %v after the hold began, before %v", i+1, at, time.Duration(i+1)*every)
		}
		if ev.Call.Caller.State != app.Hold {
			t.Fatalf("hold_reminder %d: caller %s", i+1, ev.Call.Caller.State)
		}
	}
	waitUntil(t, "two reminders played to the holder", func() bool {
		return h.reminderPlaybacks(reminderTone)["channel:"+info.Caller.ChannelID] >= 2
	})
	if n := h.reminderPlaybacks(reminderTone)["channel:"+info.Callee.ChannelID]; n != 0 {
		t.Fatalf("%d reminders played to the held party", n)
	}
	now, _ := h.app.Call(callID)
	h.expectMedia(now)
	if got := h.musicPlaying(info.Callee.ChannelID); !slices.Equal(got, music) {
		t.Fatalf("the held party's music changed from %v to %v", music, got)
	}
	resumed := h.resume(callID, "caller")
	h.expectMedia(resumed)
	h.quiet(callID, reminded, 3*every)
	n := len(h.eventsOf(callID, reminded))
	names := []app.EventName{started, answered, holdOK}
	for range n {
		names = append(names, reminded)
	}
	h.expectNames(callID, append(names, unholdOK)...)
	// Every reminder playback ended (ariapp stops a tone after its length).
	waitUntil(t, "the reminders ended", func() bool {
		return len(h.musicPlaying(info.Caller.ChannelID)) == 0
	})
}

// specHoldTimersMutualHold: with both parties holding each hold has its own
// timers, counted from its own start: the first holder's maximum comes
// first, then the second's. A holder that is held too hears the hold music,
// not the reminder (no reminder playback while both hold), and its
// hold_reminder is still reported.
func specHoldTimersMutualHold(t *testing.T, be backend) {
	limit, gap := 2500*time.Millisecond, 600*time.Millisecond
	h := newHarness(t, be, withHoldTimers(app.HoldTimers{MaxDuration: limit, ReminderAfter: 300 * time.Millisecond, ReminderMedia: reminderTone}))
	callID, _ := h.establish()
	h.hold(callID, "caller")
	time.Sleep(gap)
	h.hold(callID, "callee")
	played := func() int {
		n := 0
		for _, c := range h.reminderPlaybacks(reminderTone) {
			n += c
		}
		return n
	}
	before := played()
	// Two reminders of the callee while both hold (long before the
	// caller's maximum).
	both := h.waitN(callID, holdOK, 2).Seq
	h.events.Wait(t, 15*time.Second, "two reminders of the callee", func(evs []app.Event) bool {
		n := 0
		for _, e := range evs {
			if e.CallID == callID && e.Name == reminded && e.Party == app.Callee {
				n++
			}
		}
		return n >= 2
	})
	for _, ev := range h.eventsOf(callID, reminded) {
		if ev.Seq > both && len(ev.Call.Holders) != 2 {
			t.Fatalf("hold_reminder of %s with holders %v before the first maximum\n%s", ev.Party, ev.Call.Holders, h.dump(callID))
		}
	}
	if n := played() - before; n != 0 {
		t.Fatalf("%d reminders played while both parties held (both hear the hold music)", n)
	}
	first := h.waitN(callID, unholdOK, 1)
	second := h.waitN(callID, unholdOK, 2)
	if first.Party != app.Caller || second.Party != app.Callee || first.Source != app.SourceTimer || second.Source != app.SourceTimer {
		t.Fatalf("resumed %s (%s), then %s (%s); want the caller, then the callee, by the timer", first.Party, first.Source, second.Party, second.Source)
	}
	if d := second.Time.Sub(first.Time); d < gap/2 {
		t.Fatalf("the second hold ended %v after the first, want about %v", d, gap)
	}
	h.expectMedia(second.Call)
}

// specHoldTimersStopWithResumeAndHangup: a resume just before the maximum
// leaves exactly one unhold_success (the timer's message, if already
// posted, finds its hold gone), and a hang-up during a hold stops its
// timers: nothing is reported after call_ended.
func specHoldTimersStopWithResumeAndHangup(t *testing.T, be backend) {
	limit := 300 * time.Millisecond
	h := newHarness(t, be, withHoldTimers(app.HoldTimers{MaxDuration: limit, ReminderAfter: 150 * time.Millisecond, ReminderMedia: reminderTone}))
	callID, phone := h.establish()
	for i := range 4 {
		h.hold(callID, "caller")
		// Around the maximum: before it, at it, after it.
		time.Sleep(limit - 100*time.Millisecond + time.Duration(i)*60*time.Millisecond)
		if _, err := h.app.Resume(ctxT(t), callID, "caller", app.SourceAPI); err != nil && !isNotHolding(err) {
			t.Fatalf("resume %d: %v", i, err)
		}
		h.waitN(callID, unholdOK, i+1)
	}
	h.quiet(callID, unholdOK, 2*limit)
	if n := len(h.eventsOf(callID, app.EventUnholdFailed)); n != 0 {
		t.Fatalf("%d unhold_failed", n)
	}
	if n := len(h.eventsOf(callID, unholdOK)); n != 4 {
		t.Fatalf("%d unhold_success for 4 holds\n%s", n, h.dump(callID))
	}
	now, _ := h.app.Call(callID)
	h.expectMedia(now)
	h.hold(callID, "callee")
	h.hangupChannel(phone)
	h.waitFor(callID, ended)
	n := len(h.events.All())
	time.Sleep(3 * limit)
	for _, e := range h.events.All()[n:] {
		if e.CallID == callID {
			t.Fatalf("%s reported after call_ended", e.Name)
		}
	}
}

func isNotHolding(err error) bool { return err != nil && errors.Is(err, app.ErrNotHolding) }

// restarted starts a second App on h's Stasis application, as a restarted
// ariapp, and waits until it adopted the call.
func (h *harness) restarted(be backend, callID string, opts ...harnessOpt) *harness {
	h.t.Helper()
	h2 := newHarnessApp(h.t, be, h.client.Application(), nil, opts...)
	h2.mu.Lock()
	h2.calls = append(h2.calls, callID)
	h2.mu.Unlock()
	waitUntil(h.t, "the call adopted", func() bool { _, err := h2.app.Call(callID); return err == nil })
	return h2
}

// specRestartKeepsHoldTimers: a restarted ariapp counts a hold's timers on
// from the hold's start as recorded in Asterisk, not from its own start:
// the same hold_since, the reminders go on, and the maximum ends the hold
// at its time.
func specRestartKeepsHoldTimers(t *testing.T, be backend) {
	limit := 2500 * time.Millisecond
	ht := withHoldTimers(app.HoldTimers{MaxDuration: limit, ReminderAfter: 600 * time.Millisecond, ReminderMedia: reminderTone})
	h1 := newHarness(t, be, ht)
	callID, _ := h1.establish()
	before := h1.hold(callID, "callee")
	since := *before.Callee.HoldSince
	time.Sleep(700 * time.Millisecond)
	h1.crash()
	h2 := h1.restarted(be, callID, ht)
	after, _ := h2.app.Call(callID)
	if after.Callee.HoldSince == nil || !after.Callee.HoldSince.Equal(since) {
		t.Fatalf("hold_since after the restart %v, want %v", after.Callee.HoldSince, since)
	}
	ev := h2.waitFor(callID, unholdOK)
	if ev.Source != app.SourceTimer || ev.Party != app.Callee {
		t.Fatalf("unhold_success source %q party %q", ev.Source, ev.Party)
	}
	if took := ev.Time.Sub(since); took < limit || took > limit+5*time.Second {
		t.Fatalf("the restarted ariapp resumed %v after the hold began, want %v", took, limit)
	}
	if len(h2.eventsOf(callID, reminded)) == 0 {
		t.Fatalf("no hold_reminder from the restarted ariapp\n%s", h2.dump(callID))
	}
	h2.expectMedia(ev.Call)
}

// specRestartEndsOverdueHold: a hold that passed its maximum while no
// ariapp ran is ended as soon as the call is adopted.
func specRestartEndsOverdueHold(t *testing.T, be backend) {
	limit := time.Second
	ht := withHoldTimers(app.HoldTimers{MaxDuration: limit, MaxAction: app.HoldHangup})
	h1 := newHarness(t, be, ht)
	callID, _ := h1.establish()
	h1.hold(callID, "caller")
	h1.crash()
	time.Sleep(limit + 200*time.Millisecond)
	t0 := time.Now()
	h2 := newHarnessApp(t, be, h1.client.Application(), nil, ht)
	h2.mu.Lock()
	h2.calls = append(h2.calls, callID)
	h2.mu.Unlock()
	ev := h2.waitFor(callID, ended)
	if ev.Call.EndCause != "hold_timeout" || ev.Party != app.Caller {
		t.Fatalf("call_ended cause %q party %q (%s)", ev.Call.EndCause, ev.Party, ev.Reason)
	}
	if d := ev.Time.Sub(t0); d > 5*time.Second {
		t.Fatalf("the overdue hold ended %v after the restart, want at once", d)
	}
}

// specRestartRecordsHoldStart: a hold taken while no hold timer was
// configured has no record of its start; the restarted ariapp with timers
// counts from its adoption and records that start, so a second restart
// counts from the same moment.
func specRestartRecordsHoldStart(t *testing.T, be backend) {
	h1 := newHarness(t, be)
	callID, _ := h1.establish()
	info := h1.hold(callID, "caller")
	h1.crash()
	ht := withHoldTimers(app.HoldTimers{MaxDuration: time.Minute})
	adoptedAfter := time.Now()
	h2 := h1.restarted(be, callID, ht)
	got, _ := h2.app.Call(callID)
	since := *got.Caller.HoldSince
	if since.Before(adoptedAfter) {
		t.Fatalf("hold_since %v from no record, want the adoption (after %v)", since, adoptedAfter)
	}
	waitUntil(t, "the start recorded on the holder", func() bool {
		v, err := h2.client.GetVar(ctxT(t), info.Caller.ChannelID, app.VarHoldSince)
		return err == nil && v != ""
	})
	h2.crash()
	h3 := h2.restarted(be, callID, ht)
	again, _ := h3.app.Call(callID)
	if again.Caller.HoldSince == nil || !again.Caller.HoldSince.Equal(since) {
		t.Fatalf("hold_since after the second restart %v, want %v", again.Caller.HoldSince, since)
	}
	h3.resume(callID, "caller")
}
