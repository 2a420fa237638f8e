package e2e

import (
	"testing"
	"time"

	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/internal/sipphone"
)

// The reminder these tests configure: 1850 Hz, apart from the phones'
// own frequencies and the hold tone, for 250 ms.
const (
	reminderHz   = 1850
	reminderTone = "tone:1850/250"
	remindEvery  = 1200 * time.Millisecond
)

// TestHoldReminderHeardByHolder: with hold.reminder_after, alice, who
// holds through the API and otherwise hears nothing, hears a burst of the
// reminder tone at every interval, each with a hold_reminder event; bob,
// whom she holds, hears his hold tone and never the reminder. The
// reminders stop with the resume.
func TestHoldReminderHeardByHolder(t *testing.T) {
	l := newLab(t, func(c *app.Config) {
		c.HoldTimers = app.HoldTimers{ReminderAfter: remindEvery, ReminderMedia: reminderTone}
	})
	callID, ac, bc := l.call()
	var info app.CallInfo
	if code := l.api("POST", "/v1/calls/"+callID+"/hold", `{"party":"caller"}`, &info); code != 200 || info.Caller.State != app.Hold {
		t.Fatalf("hold: %d %+v", code, info)
	}
	from := time.Now()
	l.hearsWithin(bc, holdHz, "bob hears the hold tone")
	second := l.wait(callID, app.EventHoldReminder, 2)
	if second.Party != app.Caller || second.Source != app.SourceTimer {
		t.Fatalf("hold_reminder party %q source %q", second.Party, second.Source)
	}
	// The second burst has played out.
	time.Sleep(500 * time.Millisecond)
	to := time.Now()
	bursts := ac.Audio().Bursts(from, to, reminderHz)
	if n := len(l.eventsOf(callID, app.EventHoldReminder)); len(bursts) < 2 || len(bursts) > n {
		t.Fatalf("alice heard %d bursts of the reminder in %v, want one per hold_reminder (%d) (%s)", len(bursts), to.Sub(from), n, audio(ac, from, to))
	}
	if gap := bursts[1].Sub(bursts[0]); gap < remindEvery/2 || gap > 2*remindEvery {
		t.Errorf("the reminders came %v apart, want about %v", gap, remindEvery)
	}
	if f := ac.Audio().Hears(from, to, bobHz); f > 0.02 {
		t.Errorf("alice, holding, hears bob in %.0f%% of packets", 100*f)
	}
	if f := bc.Audio().Hears(from, to, reminderHz); f > 0 {
		t.Errorf("bob, held, hears the reminder in %.1f%% of packets (%s)", 100*f, audio(bc, from, to))
	}
	l.expectHeld(bc, aliceHz, from.Add(200*time.Millisecond), to)

	if code := l.api("POST", "/v1/calls/"+callID+"/unhold", `{"party":"caller"}`, &info); code != 200 {
		t.Fatalf("resume: %d %+v", code, info)
	}
	l.hearsWithin(bc, aliceHz, "bob hears alice again")
	after := time.Now()
	time.Sleep(remindEvery + 500*time.Millisecond)
	if b := ac.Audio().Bursts(after, time.Now(), reminderHz); len(b) != 0 {
		t.Errorf("alice heard %d reminders after the resume", len(b))
	}
	l.expectTalking(ac, bc, after.Add(100*time.Millisecond), time.Now())
	if code := l.api("DELETE", "/v1/calls/"+callID, "", nil); code != 200 {
		t.Fatalf("hangup: %d", code)
	}
	<-ac.Ended()
	want := []app.EventName{started, answered, holdOK}
	for range l.eventsOf(callID, app.EventHoldReminder) {
		want = append(want, app.EventHoldReminder)
	}
	l.expectSequence(callID, append(want, unholdOK, ended)...)
}

func (l *lab) eventsOf(callID string, name app.EventName) []app.Event {
	var out []app.Event
	for _, e := range l.events.All() {
		if e.CallID == callID && e.Name == name {
			out = append(out, e)
		}
	}
	return out
}

// TestHoldReminderPhoneHold: a phone that held with its own hold key told
// Asterisk to send it nothing (a=sendonly), and Asterisk sends nothing,
// the reminder included: such a holder is reminded by the hold_reminder
// event alone (a phone reminds its user by itself). Bob still hears only
// his hold tone.
func TestHoldReminderPhoneHold(t *testing.T) {
	l := newLab(t, func(c *app.Config) {
		c.HoldTimers = app.HoldTimers{ReminderAfter: remindEvery, ReminderMedia: reminderTone}
	})
	callID, ac, bc := l.call()
	from := time.Now()
	if err := ac.Hold(ctxT(t), sipphone.HoldSendonly); err != nil {
		t.Fatal(err)
	}
	l.hearsWithin(bc, holdHz, "bob hears the hold tone")
	ev := l.wait(callID, app.EventHoldReminder, 2)
	if ev.Party != app.Caller || ev.Source != app.SourceTimer {
		t.Fatalf("hold_reminder party %q source %q", ev.Party, ev.Source)
	}
	time.Sleep(500 * time.Millisecond)
	to := time.Now()
	if b := ac.Audio().Bursts(from, to, reminderHz); len(b) != 0 {
		t.Errorf("alice, holding with a=sendonly, heard %d reminders: Asterisk sends to a sendonly phone now", len(b))
	}
	if f := bc.Audio().Hears(from, to, reminderHz); f > 0 {
		t.Errorf("bob, held, hears the reminder in %.1f%% of packets", 100*f)
	}
	if err := ac.Unhold(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	l.hearsWithin(bc, aliceHz, "bob hears alice again")
	l.hearsWithin(ac, bobHz, "alice hears bob again")
}
