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
	"github.com/ariapp/ariapp/internal/labtest"
)

var (
	muted   = app.EventMuted
	unmuted = app.EventUnmuted
)

func (h *harness) mute(callID, party string, dir app.MuteDirection) app.CallInfo {
	h.t.Helper()
	info, err := h.app.Mute(ctxT(h.t), callID, party, dir, app.SourceAPI)
	if err != nil {
		h.t.Fatalf("mute %s %s: %v\n%s", party, dir, err, h.dump(callID))
	}
	return info
}

func (h *harness) unmute(callID, party string, dir app.MuteDirection) app.CallInfo {
	h.t.Helper()
	info, err := h.app.Unmute(ctxT(h.t), callID, party, dir, app.SourceAPI)
	if err != nil {
		h.t.Fatalf("unmute %s %s: %v\n%s", party, dir, err, h.dump(callID))
	}
	return info
}

// expectMuted checks the parties' mute in the call info and, where ARI
// can tell, in Asterisk: the record a restarted ariapp reads, and on the
// fake the channel's mute itself (ARI cannot read it back from Asterisk).
func (h *harness) expectMuted(info app.CallInfo, caller, callee app.MuteDirection) {
	h.t.Helper()
	for _, c := range []struct {
		p    app.PartyInfo
		want app.MuteDirection
	}{{info.Caller, caller}, {info.Callee, callee}} {
		if c.p.Muted != c.want {
			h.t.Errorf("%s muted %q, want %q", c.p.Role, c.p.Muted, c.want)
		}
		if h.conn.fake != nil {
			if got := h.conn.fake.Muted(c.p.ChannelID); string(got) != string(c.want) {
				h.t.Errorf("Asterisk has %s (%s) muted %q, want %q", c.p.Role, c.p.ChannelID, got, c.want)
			}
		}
	}
}

// muteRecord is the record of a channel's mute in Asterisk.
func (h *harness) muteRecord(channelID string) string {
	h.t.Helper()
	v, err := h.control().GlobalVariable(ctxT(h.t), app.VarMutePrefix+channelID)
	if err != nil {
		h.t.Fatalf("reading the mute record of %s: %v", channelID, err)
	}
	return v
}

// specMuteApartFromHold: a party is muted and unmuted per direction while
// the call stays bridged; the state shows in the call info, each change is
// one muted or unmuted event, a change that changes nothing reports
// nothing. Hold is independent: a muted party holds and is held, a resume
// does not unmute, a mute while held stays when the party is back in the
// bridge. Refusals: a bad direction, an unknown party or call, a call not
// established or ended.
func specMuteApartFromHold(t *testing.T, be backend) {
	// OnEvent is where the webhooks and the metrics take the events.
	observed := labtest.NewLog[app.Event]()
	h := newHarness(t, be, func(c *app.Config) { c.OnEvent = observed.Add })
	ringing, _ := h.placeCall("noanswer")
	if _, err := h.app.Mute(ctxT(t), ringing, "caller", app.MuteIn, app.SourceAPI); !errors.Is(err, app.ErrNotEstablished) {
		t.Fatalf("mute while ringing: %v, want ErrNotEstablished", err)
	}
	callID, _ := h.establish()
	before := mustCall(t, h, callID)
	h.expectMuted(before, "", "")

	for _, tc := range []struct {
		name, call, party string
		dir               app.MuteDirection
		want              error
	}{
		{"bad direction", callID, "caller", "sideways", app.ErrInvalidDirection},
		{"empty direction", callID, "caller", "", app.ErrInvalidDirection},
		{"unknown party", callID, "carol", app.MuteIn, app.ErrUnknownParty},
		{"unknown call", "nope", "caller", app.MuteIn, app.ErrCallNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, op := range []func() (app.CallInfo, error){
				func() (app.CallInfo, error) { return h.app.Mute(ctxT(t), tc.call, tc.party, tc.dir, app.SourceAPI) },
				func() (app.CallInfo, error) { return h.app.Unmute(ctxT(t), tc.call, tc.party, tc.dir, app.SourceAPI) },
			} {
				if _, err := op(); !errors.Is(err, tc.want) {
					t.Fatalf("got %v, want %v", err, tc.want)
				}
			}
		})
	}
	var bad error
	_, bad = h.app.Mute(ctxT(t), callID, "caller", "sideways", app.SourceAPI)
	for _, allowed := range []string{`"sideways"`, "in, out, both"} {
		if !strings.Contains(bad.Error(), allowed) {
			t.Errorf("error %q does not name %s", bad, allowed)
		}
	}

	info := h.mute(callID, "caller", app.MuteIn)
	h.expectMuted(info, app.MuteIn, "")
	ev := h.waitFor(callID, muted)
	if ev.Party != app.Caller || ev.Direction != app.MuteIn || ev.Source != app.SourceAPI || ev.Call.Caller.Muted != app.MuteIn {
		t.Fatalf("muted event %+v", ev)
	}
	if got := h.muteRecord(info.Caller.ChannelID); got != "in" {
		t.Fatalf("mute record %q, want in", got)
	}
	if _, ok := observed.Until(5*time.Second, func(evs []app.Event) bool {
		return slices.ContainsFunc(evs, func(e app.Event) bool { return e.Name == muted && e.Direction == app.MuteIn })
	}); !ok {
		t.Error("the muted event did not reach Config.OnEvent")
	}
	tl, err := h.app.Timeline(callID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(tl.Entries, func(e app.TimelineEntry) bool {
		return e.Kind == "call_event" && e.Name == string(muted) && e.Party == app.Caller && e.Detail == "direction in"
	}) {
		t.Errorf("the timeline has no muted entry: %+v", tl.Entries)
	}
	// Muting what is muted changes nothing, as does unmuting what is not.
	h.expectMuted(h.mute(callID, "caller", app.MuteIn), app.MuteIn, "")
	h.expectMuted(h.unmute(callID, "callee", app.MuteBoth), app.MuteIn, "")
	h.expectMuted(h.unmute(callID, "caller", app.MuteOut), app.MuteIn, "")
	// Directions add up; the callee by its channel id.
	h.expectMuted(h.mute(callID, "caller", app.MuteOut), app.MuteBoth, "")
	h.expectMuted(h.mute(callID, before.Callee.ChannelID, app.MuteOut), app.MuteBoth, app.MuteOut)
	h.expectMedia(info)

	// A muted party holds, and its resume leaves the mute.
	info = h.hold(callID, "caller")
	h.expectMuted(info, app.MuteBoth, app.MuteOut)
	h.expectMedia(info)
	info = h.resume(callID, "caller")
	h.expectMuted(info, app.MuteBoth, app.MuteOut)
	h.expectMedia(info)

	// A muted party is held; its mute changes while it is on the music and
	// stays when it is back in the bridge.
	h.hold(callID, "callee")
	info = h.unmute(callID, "caller", app.MuteOut)
	h.expectMuted(info, app.MuteIn, app.MuteOut)
	if !info.Caller.OnHoldMusic || info.Callee.State != app.Hold {
		t.Fatalf("a mute changed the hold: %+v", info)
	}
	info = h.resume(callID, "callee")
	h.expectMuted(info, app.MuteIn, app.MuteOut)
	h.expectMedia(info)

	info = h.unmute(callID, "caller", app.MuteBoth)
	h.expectMuted(info, "", app.MuteOut)
	if got := h.muteRecord(info.Caller.ChannelID); got != "none" {
		t.Fatalf("mute record after unmute %q, want none", got)
	}
	ev = h.waitEvent(func(e app.Event) bool { return e.CallID == callID && e.Name == unmuted && e.Call.Caller.Muted == "" }, "the last unmuted")
	if ev.Party != app.Caller || ev.Direction != app.MuteBoth {
		t.Fatalf("unmuted event %+v", ev)
	}

	if _, err := h.app.Hangup(ctxT(t), callID); err != nil {
		t.Fatal(err)
	}
	h.waitFor(callID, ended)
	if _, err := h.app.Mute(ctxT(t), callID, "caller", app.MuteIn, app.SourceAPI); !errors.Is(err, app.ErrCallEnded) {
		t.Fatalf("mute after the end: %v, want ErrCallEnded", err)
	}
	h.expectNames(callID, started, answered, muted, muted, muted, holdOK, unholdOK, holdOK, unmuted, unholdOK, unmuted, ended)
	// The call's records are gone with it.
	for _, ch := range []string{before.Caller.ChannelID, before.Callee.ChannelID} {
		if got := h.muteRecord(ch); got != "" {
			t.Errorf("mute record of %s left after the call: %q", ch, got)
		}
	}
}

// specRestartKeepsMute: a restarted ariapp knows each party's mute from
// its record in Asterisk, in every hold state, and makes Asterisk follow
// the record (an ariapp stopped between the record and the mute is
// repaired); the adopted mute can be changed and its record is cleared
// when the call ends.
func specRestartKeepsMute(t *testing.T, be backend) {
	h1 := newHarness(t, be)
	talking, _ := h1.establish()
	h1.mute(talking, "caller", app.MuteIn)
	held, _ := h1.establish()
	h1.mute(held, "callee", app.MuteBoth)
	h1.mute(held, "caller", app.MuteOut)
	h1.hold(held, "caller") // the muted callee is on the music
	unmutedAgain, _ := h1.establish()
	h1.mute(unmutedAgain, "callee", app.MuteOut)
	h1.unmute(unmutedAgain, "callee", app.MuteOut)
	infos := map[string]app.CallInfo{}
	for _, id := range []string{talking, held, unmutedAgain} {
		infos[id] = mustCall(t, h1, id)
	}
	h1.crash()
	if fa := h1.conn.fake; fa != nil {
		// Stopped between a record and its request: Asterisk has the
		// talking caller unmuted, and the callee of unmutedAgain still
		// muted.
		if err := fa.Unmute(ctxT(t), infos[talking].Caller.ChannelID, ari.MuteBoth); err != nil {
			t.Fatal(err)
		}
		if err := fa.Mute(ctxT(t), infos[unmutedAgain].Callee.ChannelID, ari.MuteOut); err != nil {
			t.Fatal(err)
		}
	}

	h2 := newHarnessApp(t, be, h1.client.Application(), nil)
	h2.mu.Lock()
	h2.calls = append(h2.calls, talking, held, unmutedAgain)
	h2.mu.Unlock()
	for id := range infos {
		waitUntil(t, "call "+id+" rebuilt", func() bool { _, err := h2.app.Call(id); return err == nil })
	}
	// The rebuild (and with it the repair) runs in the call's goroutine:
	// an operation queued behind it sees its outcome.
	h2.expectMuted(h2.unmute(talking, "callee", app.MuteBoth), app.MuteIn, "")
	info := h2.unmute(held, "callee", app.MuteIn)
	h2.expectMuted(info, app.MuteOut, app.MuteOut)
	if info.Caller.State != app.Hold || !info.Callee.OnHoldMusic {
		t.Fatalf("held call rebuilt as %+v", info)
	}
	h2.expectMuted(h2.unmute(unmutedAgain, "caller", app.MuteBoth), "", "")
	info = h2.resume(held, "caller")
	h2.expectMuted(info, app.MuteOut, app.MuteOut)
	h2.expectMedia(info)
	for id, was := range infos {
		if _, err := h2.app.Hangup(ctxT(t), id); err != nil {
			t.Fatal(err)
		}
		h2.waitFor(id, ended)
		for _, ch := range []string{was.Caller.ChannelID, was.Callee.ChannelID} {
			if got := h2.muteRecord(ch); got != "" {
				t.Errorf("mute record of %s left after the call: %q", ch, got)
			}
		}
	}
	h2.expectNames(held, unmuted, unholdOK, ended)
}

// specMuteFailureChangesNothing: a mute Asterisk refuses or does not
// answer returns ErrMuteFailed with Asterisk's error, reports no event,
// and leaves the state and its record as they were.
func specMuteFailureChangesNothing(t *testing.T, be backend) {
	fakeOnly(t, be)
	h := newHarness(t, be)
	callID, _ := h.establish()
	h.mute(callID, "caller", app.MuteIn)
	for _, f := range []fakeasterisk.Fault{
		{Op: "Mute", Status: 500, Message: "Internal Server Error"},
		{Op: "Unmute", Unreachable: true},
	} {
		t.Run(f.Op, func(t *testing.T) {
			in := h.conn.fake.Inject(f)
			defer in.Remove()
			var err error
			if f.Op == "Mute" {
				_, err = h.app.Mute(ctxT(t), callID, "caller", app.MuteOut, app.SourceAPI)
			} else {
				_, err = h.app.Unmute(ctxT(t), callID, "caller", app.MuteIn, app.SourceAPI)
			}
			var opErr *app.OpError
			if !errors.Is(err, app.ErrMuteFailed) || !errors.As(err, &opErr) || opErr.Party != app.Caller {
				t.Fatalf("got %v, want an OpError of ErrMuteFailed", err)
			}
			if f.Status != 0 && !errors.Is(err, ari.ErrServer) {
				t.Errorf("Asterisk's error is not reachable in %v", err)
			}
			info := mustCall(t, h, callID)
			h.expectMuted(info, app.MuteIn, "")
			if got := h.muteRecord(info.Caller.ChannelID); got != "in" {
				t.Errorf("mute record %q after a failure, want in", got)
			}
		})
	}
	h.expectNames(callID, started, answered, muted)
}
