package app_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/holdmusic"
)

var (
	started  = app.EventCallStarted
	answered = app.EventCallAnswered
	holdOK   = app.EventHoldSuccess
	holdFail = app.EventHoldFailed
	unholdOK = app.EventUnholdSuccess
	unholdNo = app.EventUnholdFailed
	ended    = app.EventCallEnded
)

// TestCallSetUp: a caller entering Stasis with dial,TARGET rings the callee;
// when it answers both are bridged (call_answered); either side hanging up
// ends the call and leaves nothing behind.
func specCallSetUp(t *testing.T, be backend) {
	h := newHarness(t, be)
	callID, phone := h.establish()
	info, err := h.app.Call(callID)
	if err != nil {
		t.Fatal(err)
	}
	if info.State != app.CallAnswered || info.Caller.State != app.Live || info.Callee.State != app.Live {
		t.Fatalf("after answer: %+v", info)
	}
	if info.Callee.Endpoint != "Local/talk@ariapp-test" || info.Caller.Endpoint != "Local/dial-talk@ariapp-test" {
		t.Fatalf("endpoints: caller %q callee %q", info.Caller.Endpoint, info.Callee.Endpoint)
	}
	h.expectMedia(info)
	// The call is written to the channels, so a restarted ariapp can rebuild it.
	for _, p := range []app.PartyInfo{info.Caller, info.Callee} {
		peer := info.Callee.ChannelID
		if p.Role == app.Callee {
			peer = info.Caller.ChannelID
		}
		for name, want := range map[string]string{app.VarCallID: callID, app.VarRole: string(p.Role), app.VarPeer: peer, app.VarBridge: info.BridgeID} {
			if got, err := h.client.GetVar(ctxT(t), p.ChannelID, name); err != nil || got != want {
				t.Errorf("%s %s = %q, %v; want %q", p.Role, name, got, err, want)
			}
		}
	}
	h.hangupChannel(phone)
	ev := h.waitFor(callID, ended)
	if ev.Call.EndCause != "caller_hangup" || ev.Party != app.Caller {
		t.Fatalf("call_ended cause %q party %q, want caller_hangup by caller", ev.Call.EndCause, ev.Party)
	}
	h.expectNames(callID, started, answered, ended)
	if _, err := h.app.Call(callID); !errors.Is(err, app.ErrCallNotFound) {
		t.Fatalf("ended call still listed: %v", err)
	}
}

// TestCalleeFailures: busy, congested, unreachable and unanswered callees end
// the call with a matching cause, and the caller is hung up.
func specCalleeFailures(t *testing.T, be backend) {
	cases := []struct {
		target string
		cause  string
	}{
		{"busy", "busy"},
		{"congestion", "congestion"},
		{"nonexistent", "unavailable"},
		{"noanswer", "no_answer"},
	}
	for _, tc := range cases {
		t.Run(tc.target, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, be, func(c *app.Config) { c.AnswerTimeout = 2 * time.Second })
			callID, _ := h.placeCall(tc.target)
			ev := h.waitFor(callID, ended)
			if ev.Call.EndCause != tc.cause {
				t.Fatalf("cause %q (reason %q), want %q", ev.Call.EndCause, ev.Reason, tc.cause)
			}
			if ev.Call.AnsweredAt != nil {
				t.Fatalf("answered_at set on an unanswered call")
			}
			h.expectNames(callID, started, ended)
		})
	}
}

// TestH1HoldOnlyWhenEstablished: a hold while the callee still rings is
// refused with hold_failed, and nothing changes.
func specH1HoldOnlyWhenEstablished(t *testing.T, be backend) {
	h := newHarness(t, be)
	callID, phone := h.placeCall("noanswer")
	_, err := h.app.Hold(ctxT(t), callID, "caller", app.SourceAPI)
	if !errors.Is(err, app.ErrNotEstablished) {
		t.Fatalf("hold while ringing: %v, want ErrNotEstablished", err)
	}
	ev := h.waitFor(callID, holdFail)
	if ev.Party != app.Caller || ev.Call.Caller.State != app.Live || ev.Call.State != app.CallRinging || ev.Reason == "" {
		t.Fatalf("hold_failed: %+v", ev)
	}
	if _, err := h.app.Resume(ctxT(t), callID, "caller", app.SourceAPI); !errors.Is(err, app.ErrNotEstablished) {
		t.Fatalf("resume while ringing: %v, want ErrNotEstablished", err)
	}
	h.hangupChannel(phone)
	h.waitFor(callID, ended)
	h.expectNames(callID, started, holdFail, ended)
}

// TestH2H3H4HoldByEitherParty: caller or callee may hold (H2); the holder
// becomes HOLD with hold_success (H3); the held party stays LIVE, leaves the
// bridge and hears the hold music, the holder stays in the bridge (H4) —
// checked in Asterisk, not only in ariapp's state. H6: the holder's info
// says hang-up should not be offered.
func specH2H3H4HoldByEitherParty(t *testing.T, be backend) {
	for _, holder := range []app.Role{app.Caller, app.Callee} {
		t.Run(string(holder), func(t *testing.T) {
			h := newHarness(t, be)
			callID, _ := h.establish()
			info := h.hold(callID, string(holder))
			ev := h.waitFor(callID, holdOK)
			if ev.Party != holder || ev.Source != app.SourceAPI {
				t.Fatalf("hold_success party %q source %q", ev.Party, ev.Source)
			}
			held := app.Callee
			if holder == app.Callee {
				held = app.Caller
			}
			hp, pp := info.Party(holder), info.Party(held)
			if hp.State != app.Hold || hp.HoldSince == nil || hp.HangupAllowed {
				t.Fatalf("holder after hold: %+v", hp)
			}
			if pp.State != app.Live || !pp.OnHoldMusic || !pp.HangupAllowed {
				t.Fatalf("held party after hold: %+v", pp)
			}
			if !slices.Equal(info.Holders, []app.Role{holder}) {
				t.Fatalf("holders %v", info.Holders)
			}
			h.expectMedia(info)
			if got := h.musicPlaying(pp.ChannelID); len(got) != 1 {
				t.Fatalf("hold music on the held party: %v, want exactly one playback", got)
			}
			if got := h.musicPlaying(hp.ChannelID); len(got) != 0 {
				t.Fatalf("the holder hears music %v; it should hear silence", got)
			}
			// The hold is findable in Asterisk alone (for a restarted
			// ariapp): the music runs under the id derived from the call
			// and the held party, and nothing is recorded on the channels.
			musicID := callID + "-hold-" + string(held)
			if got := h.musicPlaying(pp.ChannelID); got[0] != musicID {
				t.Fatalf("hold music %v, want id %s", got, musicID)
			}
			if pb, err := h.client.Playback(ctxT(t), musicID); err != nil || pb.TargetURI != "channel:"+pp.ChannelID || pb.State != "playing" {
				t.Fatalf("GET /playbacks/%s = %+v, %v; want it playing on %s", musicID, pb, err, pp.ChannelID)
			}
			for _, ch := range []string{pp.ChannelID, hp.ChannelID} {
				// Unset, or preset empty at set-up for a bulk read.
				if v, err := h.client.GetVar(ctxT(t), ch, app.VarHeld); v != "" || (err != nil && !errors.Is(err, ari.ErrNotFound)) {
					t.Fatalf("%s on %s = %q, %v; want nothing recorded in tone mode", app.VarHeld, ch, v, err)
				}
			}
			// Holding again is a no-op: no event, no second playback.
			again := h.hold(callID, string(holder))
			if again.Party(holder).State != app.Hold {
				t.Fatalf("second hold changed state: %+v", again)
			}
			if got := h.musicPlaying(pp.ChannelID); len(got) != 1 {
				t.Fatalf("after a second hold: playbacks %v, want one", got)
			}
			h.expectNames(callID, started, answered, holdOK)
		})
	}
}

// TestH5HoldRefusedByPolicy: a party not allowed to hold gets hold_failed,
// stays LIVE, and the media is untouched.
func specH5HoldRefusedByPolicy(t *testing.T, be backend) {
	h := newHarness(t, be, func(c *app.Config) { c.HoldAllowedEndpoints = []string{"Local/talk@ariapp-test"} })
	callID, _ := h.establish()
	_, err := h.app.Hold(ctxT(t), callID, "caller", app.SourceAPI)
	if !errors.Is(err, app.ErrHoldRefused) {
		t.Fatalf("hold by a caller not in the allowed list: %v, want ErrHoldRefused", err)
	}
	ev := h.waitFor(callID, holdFail)
	if !strings.Contains(ev.Reason, "not allowed") || ev.Call.Caller.State != app.Live {
		t.Fatalf("hold_failed: reason %q caller %s", ev.Reason, ev.Call.Caller.State)
	}
	info, _ := h.app.Call(callID)
	h.expectMedia(info)
	// The callee's endpoint is allowed.
	h.hold(callID, "callee")
	h.expectNames(callID, started, answered, holdFail, holdOK)
}

// TestH5HoldLimit: policy.max_holds_per_call refuses further holds.
func specH5HoldLimit(t *testing.T, be backend) {
	h := newHarness(t, be, func(c *app.Config) { c.MaxHoldsPerCall = 1 })
	callID, _ := h.establish()
	h.hold(callID, "caller")
	h.resume(callID, "caller")
	if _, err := h.app.Hold(ctxT(t), callID, "callee", app.SourceAPI); !errors.Is(err, app.ErrHoldRefused) {
		t.Fatalf("second hold: %v, want ErrHoldRefused", err)
	}
	info, _ := h.app.Call(callID)
	h.expectMedia(info)
	h.expectNames(callID, started, answered, holdOK, unholdOK, holdFail)
}

// faultyARI makes one ARI step fail for real in Asterisk, by sending it to
// an object that does not exist.
type faultyARI struct {
	app.ARI
	breakPlay, breakRemove bool
	beforePlay             func(channelID string)
}

func (f *faultyARI) Play(ctx context.Context, channelID, playbackID string, media ...string) (*ari.Playback, error) {
	if f.beforePlay != nil {
		f.beforePlay(channelID)
	}
	if f.breakPlay {
		channelID += "-no-such-channel"
	}
	return f.ARI.Play(ctx, channelID, playbackID, media...)
}

func (f *faultyARI) RemoveChannel(ctx context.Context, bridgeID string, ids ...string) error {
	if f.breakRemove {
		bridgeID += "-no-such-bridge"
	}
	return f.ARI.RemoveChannel(ctx, bridgeID, ids...)
}

// TestH5FailedHoldIsRolledBack: when starting the hold music fails in
// Asterisk (404 from play), the peer is put back into the bridge, the holder
// stays LIVE, hold_failed carries Asterisk's message, and a later hold works.
func specH5FailedHoldIsRolledBack(t *testing.T, be backend) {
	f := &faultyARI{breakPlay: true}
	h := newHarnessWrapped(t, be, func(a app.ARI) app.ARI { f.ARI = a; return f })
	callID, _ := h.establish()
	info, _ := h.app.Call(callID)
	from := len(h.raw.Events())
	_, err := h.app.Hold(ctxT(t), callID, "caller", app.SourceAPI)
	if !errors.Is(err, app.ErrHoldFailed) {
		t.Fatalf("hold with a failing play: %v, want ErrHoldFailed", err)
	}
	ev := h.waitFor(callID, holdFail)
	if !strings.Contains(ev.Reason, "Channel not found") {
		t.Fatalf("hold_failed reason %q lacks Asterisk's message", ev.Reason)
	}
	if ev.Call.Caller.State != app.Live || ev.Call.Callee.OnHoldMusic {
		t.Fatalf("after a failed hold: %+v", ev.Call)
	}
	// The callee really left and re-entered the bridge.
	h.raw.Within(t, from, "ChannelLeftBridge", info.Callee.ChannelID)
	h.raw.Within(t, from, "ChannelEnteredBridge", info.Callee.ChannelID)
	now, _ := h.app.Call(callID)
	h.expectMedia(now)

	f.breakPlay = false
	h.hold(callID, "caller")
	h.expectNames(callID, started, answered, holdFail, holdOK)
}

// TestH5FailedRemoveChangesNothing: the first step failing leaves all as it was.
func specH5FailedRemoveChangesNothing(t *testing.T, be backend) {
	f := &faultyARI{breakRemove: true}
	h := newHarnessWrapped(t, be, func(a app.ARI) app.ARI { f.ARI = a; return f })
	callID, _ := h.establish()
	if _, err := h.app.Hold(ctxT(t), callID, "callee", app.SourceAPI); !errors.Is(err, app.ErrHoldFailed) || !errors.Is(err, ari.ErrBridgeNotFound) {
		t.Fatalf("hold: %v, want ErrHoldFailed wrapping ari.ErrBridgeNotFound", err)
	}
	ev := h.waitFor(callID, holdFail)
	if !strings.Contains(ev.Reason, "Bridge not found") {
		t.Fatalf("reason %q", ev.Reason)
	}
	info, _ := h.app.Call(callID)
	h.expectMedia(info)
	h.expectNames(callID, started, answered, holdFail)
}

// TestH5PeerHangsUpDuringHold: the held party hangs up between the hold's
// steps; the hold fails (nothing half-done is left) and the call ends.
func specH5PeerHangsUpDuringHold(t *testing.T, be backend) {
	f := &faultyARI{}
	h := newHarnessWrapped(t, be, func(a app.ARI) app.ARI { f.ARI = a; return f })
	callID, _ := h.establish()
	info, _ := h.app.Call(callID)
	f.beforePlay = func(ch string) {
		if err := h.client.Hangup(context.Background(), ch, ari.HangupNormal); err != nil {
			t.Errorf("hangup of the peer: %v", err)
		}
		// Let Asterisk finish the hang-up so play meets a gone channel.
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := h.app.Hold(ctxT(t), callID, "caller", app.SourceAPI); !errors.Is(err, app.ErrHoldFailed) {
		t.Fatalf("hold: %v", err)
	}
	ev := h.waitFor(callID, ended)
	if ev.Call.EndCause != "callee_hangup" {
		t.Fatalf("end cause %q", ev.Call.EndCause)
	}
	fail := h.waitFor(callID, holdFail)
	if fail.Call.Caller.State != app.Live {
		t.Fatalf("holder after failed hold: %s", fail.Call.Caller.State)
	}
	_ = info
	h.expectNames(callID, started, answered, holdFail, ended)
}

// TestR1OnlyTheHolderResumes: a resume by the party that does not hold is
// refused with a clear error, reports nothing and changes nothing.
func specR1OnlyTheHolderResumes(t *testing.T, be backend) {
	h := newHarness(t, be)
	callID, _ := h.establish()
	h.hold(callID, "caller")
	before, _ := h.app.Call(callID)
	_, err := h.app.Resume(ctxT(t), callID, "callee", app.SourceAPI)
	if !errors.Is(err, app.ErrNotHolding) || !strings.Contains(err.Error(), "only the party that put it on hold") {
		t.Fatalf("resume by the held party: %v, want ErrNotHolding with a reason", err)
	}
	after, _ := h.app.Call(callID)
	if after.Caller.State != app.Hold || after.Callee.State != app.Live || !after.Callee.OnHoldMusic {
		t.Fatalf("state changed: before %+v after %+v", before, after)
	}
	h.expectMedia(after)
	// Unknown party and unknown call are errors of their own.
	if _, err := h.app.Resume(ctxT(t), callID, "somebody", app.SourceAPI); !errors.Is(err, app.ErrUnknownParty) {
		t.Fatalf("unknown party: %v", err)
	}
	if _, err := h.app.Resume(ctxT(t), "no-such-call", "caller", app.SourceAPI); !errors.Is(err, app.ErrCallNotFound) {
		t.Fatalf("unknown call: %v", err)
	}
	// The holder may, also by naming its channel id.
	h.resume(callID, before.Caller.ChannelID)
	h.expectNames(callID, started, answered, holdOK, unholdOK)
}

// TestR2Resume: the holder resumes; it is LIVE again with unhold_success,
// the held party's music stops and it is back in the bridge.
func specR2Resume(t *testing.T, be backend) {
	for _, holder := range []string{"caller", "callee"} {
		t.Run(holder, func(t *testing.T) {
			h := newHarness(t, be)
			callID, _ := h.establish()
			held := h.hold(callID, holder)
			peer, peerRole := held.Callee, "callee"
			if holder == "callee" {
				peer, peerRole = held.Caller, "caller"
			}
			from := len(h.raw.Events())
			info := h.resume(callID, holder)
			ev := h.waitFor(callID, unholdOK)
			if ev.Party != app.Role(holder) {
				t.Fatalf("unhold_success party %q", ev.Party)
			}
			if info.Caller.State != app.Live || info.Callee.State != app.Live || len(info.Holders) != 0 {
				t.Fatalf("after resume: %+v", info)
			}
			pf, _ := h.raw.Within(t, from, "PlaybackFinished", "")
			if pf.(*ari.PlaybackFinished).Playback.TargetURI != "channel:"+peer.ChannelID {
				t.Fatalf("stopped playback on %s, want %s", pf.(*ari.PlaybackFinished).Playback.TargetURI, peer.ChannelID)
			}
			h.raw.Within(t, from, "ChannelEnteredBridge", peer.ChannelID)
			if got := h.musicPlaying(peer.ChannelID); len(got) != 0 {
				t.Fatalf("music still playing: %v", got)
			}
			h.expectMedia(info)
			if pb, err := h.client.Playback(ctxT(t), callID+"-hold-"+peerRole); !errors.Is(err, ari.ErrPlaybackNotFound) {
				t.Fatalf("hold music after resume: %+v, %v; want 404", pb, err)
			}
			h.expectNames(callID, started, answered, holdOK, unholdOK)
		})
	}
}

// TestR3FailedResumeHangsUp: the bridge is destroyed behind ariapp's back
// while the caller holds; the resume fails with unhold_failed and the whole
// call is hung up (channels, bridge, music).
func specR3FailedResumeHangsUp(t *testing.T, be backend) {
	h := newHarness(t, be)
	callID, _ := h.establish()
	info := h.hold(callID, "caller")
	if err := h.client.DestroyBridge(ctxT(t), info.BridgeID); err != nil {
		t.Fatal(err)
	}
	_, err := h.app.Resume(ctxT(t), callID, "caller", app.SourceAPI)
	if !errors.Is(err, app.ErrUnholdFailed) || !errors.Is(err, ari.ErrBridgeNotFound) {
		t.Fatalf("resume without a bridge: %v, want ErrUnholdFailed wrapping ari.ErrBridgeNotFound", err)
	}
	fail := h.waitFor(callID, unholdNo)
	if fail.Party != app.Caller || !strings.Contains(fail.Reason, "Bridge not found") {
		t.Fatalf("unhold_failed: party %q reason %q", fail.Party, fail.Reason)
	}
	end := h.waitFor(callID, ended)
	if end.Call.EndCause != "unhold_failed" {
		t.Fatalf("end cause %q", end.Call.EndCause)
	}
	// Both channels leave Stasis hung up; the harness checks that nothing is
	// left in Asterisk.
	for _, ch := range []string{info.Caller.ChannelID, info.Callee.ChannelID} {
		h.raw.Within(t, 0, "StasisEnd", ch)
	}
	h.expectNames(callID, started, answered, holdOK, unholdNo, ended)
}

// TestM1M2MutualHold: both parties hold independently; a resume restores
// only the resumer's side, in both orders.
func specM1M2MutualHold(t *testing.T, be backend) {
	orders := [][2]string{{"caller", "callee"}, {"callee", "caller"}}
	for _, o := range orders {
		first, second := o[0], o[1]
		t.Run("resume "+first+" first", func(t *testing.T) {
			h := newHarness(t, be)
			callID, _ := h.establish()
			h.hold(callID, "caller")
			both := h.hold(callID, "callee")
			if both.Caller.State != app.Hold || both.Callee.State != app.Hold {
				t.Fatalf("mutual hold: %+v", both)
			}
			if !both.Caller.OnHoldMusic || !both.Callee.OnHoldMusic {
				t.Fatalf("both must hear the music: %+v", both)
			}
			if !slices.Equal(both.Holders, []app.Role{app.Caller, app.Callee}) {
				t.Fatalf("holders %v", both.Holders)
			}
			h.expectMedia(both) // bridge empty, both on music

			one := h.resume(callID, first)
			r1, r2 := one.Party(app.Role(first)), one.Party(app.Role(second))
			if r1.State != app.Live || r2.State != app.Hold {
				t.Fatalf("after %s resumes: %s=%s %s=%s", first, first, r1.State, second, r2.State)
			}
			// M2: the resumer is still held by its peer: still on the music.
			if !r1.OnHoldMusic || r2.OnHoldMusic {
				t.Fatalf("after %s resumes: %s on music=%v (want true), %s on music=%v (want false)", first, first, r1.OnHoldMusic, second, r2.OnHoldMusic)
			}
			h.expectMedia(one)
			if got := h.musicPlaying(r1.ChannelID); len(got) != 1 {
				t.Fatalf("resumer's music: %v", got)
			}

			all := h.resume(callID, second)
			if all.Caller.State != app.Live || all.Callee.State != app.Live || all.Caller.OnHoldMusic || all.Callee.OnHoldMusic {
				t.Fatalf("after both resumed: %+v", all)
			}
			h.expectMedia(all)
			h.expectNames(callID, started, answered, holdOK, holdOK, unholdOK, unholdOK)
		})
	}
}

// TestHangupInEveryState: either party hanging up, in any hold state, ends
// the call, hangs up the other, stops the music and destroys the bridge.
func specHangupInEveryState(t *testing.T, be backend) {
	states := []struct {
		name  string
		holds []string
	}{
		{"talking", nil},
		{"caller holds", []string{"caller"}},
		{"callee holds", []string{"callee"}},
		{"both hold", []string{"caller", "callee"}},
	}
	for _, st := range states {
		for _, by := range []app.Role{app.Caller, app.Callee} {
			t.Run(st.name+"/"+string(by)+" hangs up", func(t *testing.T) {
				t.Parallel()
				h := newHarness(t, be)
				callID, phone := h.establish()
				want := []app.EventName{started, answered}
				for _, p := range st.holds {
					h.hold(callID, p)
					want = append(want, holdOK)
				}
				info, _ := h.app.Call(callID)
				if by == app.Caller {
					h.hangupChannel(phone)
				} else {
					h.hangupChannel(info.Callee.ChannelID)
				}
				ev := h.waitFor(callID, ended)
				if ev.Call.EndCause != string(by)+"_hangup" || ev.Party != by {
					t.Fatalf("cause %q party %q", ev.Call.EndCause, ev.Party)
				}
				h.expectNames(callID, append(want, ended)...)
			})
		}
	}
	t.Run("ringing/caller hangs up", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, be)
		callID, phone := h.placeCall("noanswer")
		h.hangupChannel(phone)
		ev := h.waitFor(callID, ended)
		if ev.Call.EndCause != "caller_hangup" {
			t.Fatalf("cause %q", ev.Call.EndCause)
		}
		h.expectNames(callID, started, ended)
	})
	t.Run("api hangup while held", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, be)
		callID, _ := h.establish()
		h.hold(callID, "callee")
		if _, err := h.app.Hangup(ctxT(t), callID); err != nil {
			t.Fatal(err)
		}
		ev := h.waitFor(callID, ended)
		if ev.Call.EndCause != "hangup_requested" {
			t.Fatalf("cause %q", ev.Call.EndCause)
		}
		h.expectNames(callID, started, answered, holdOK, ended)
	})
}

// TestHoldMusicModes: each holdmusic mode plays on the held party and stops
// on resume, through the same state machine.
func specHoldMusicModes(t *testing.T, be backend) {
	modes := []struct {
		name  string
		music holdmusic.Config
		// events: whether Asterisk reports the music with playback events
		events bool
	}{
		{"tone", holdmusic.Config{Mode: holdmusic.ModeTone, Tone: "425/200|0/200"}, true},
		{"moh", holdmusic.Config{Mode: holdmusic.ModeMOH, Class: "default"}, false},
		{"sounds", holdmusic.Config{Mode: holdmusic.ModeSounds, Sounds: []string{"beep"}}, true},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, be, func(c *app.Config) { c.Music = m.music })
			callID, _ := h.establish()
			info := h.hold(callID, "caller")
			playing := h.musicPlaying(info.Callee.ChannelID)
			if m.events && len(playing) != 1 {
				t.Fatalf("playbacks on the held party: %v", playing)
			}
			if m.name == "sounds" {
				// "beep" is short: the list restarts on its PlaybackFinished.
				starts := 0
				h.raw.Wait(t, 0, 10*time.Second, "restart of the sounds list", func(ev ari.Event) bool {
					if e, ok := ev.(*ari.PlaybackStarted); ok && e.Playback.TargetURI == "channel:"+info.Callee.ChannelID {
						starts++
					}
					return starts >= 2
				})
			}
			h.resume(callID, "caller")
			if got := h.musicPlaying(info.Callee.ChannelID); len(got) != 0 {
				t.Fatalf("music left after resume: %v", got)
			}
			now, _ := h.app.Call(callID)
			h.expectMedia(now)
		})
	}
}

// TestInterference: another ARI client destroys the bridge of a talking
// call, or takes a party out of it: the call cannot go on as SPEC says, so
// it ends (call_ended) and nothing is left, rather than leaving two parties
// in silence.
func specInterference(t *testing.T, be backend) {
	for _, tc := range []struct {
		name, cause string
		do          func(h *harness, info app.CallInfo) error
	}{
		{"bridge destroyed while talking", "bridge_destroyed", func(h *harness, info app.CallInfo) error {
			return h.client.DestroyBridge(ctxT(h.t), info.BridgeID)
		}},
		{"caller taken out of the bridge", "bridge_broken", func(h *harness, info app.CallInfo) error {
			return h.client.RemoveChannel(ctxT(h.t), info.BridgeID, info.Caller.ChannelID)
		}},
		{"held party's peer taken out while holding", "bridge_broken", func(h *harness, info app.CallInfo) error {
			if _, err := h.app.Hold(ctxT(h.t), info.CallID, "callee", app.SourceAPI); err != nil {
				return err
			}
			return h.client.RemoveChannel(ctxT(h.t), info.BridgeID, info.Callee.ChannelID)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, be)
			callID, _ := h.establish()
			info, _ := h.app.Call(callID)
			if err := tc.do(h, info); err != nil {
				t.Fatal(err)
			}
			ev := h.waitFor(callID, ended)
			if ev.Call.EndCause != tc.cause {
				t.Fatalf("ended with %q (%s), want %q", ev.Call.EndCause, ev.Reason, tc.cause)
			}
		})
	}
}
