package app

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/ariapp/ariapp/ari"
)

// unitAnswered is a call in state answered with both parties in the bridge.
func unitAnswered(t *testing.T, a *App) *call {
	t.Helper()
	c := unitCall(t, a, "PJSIP/bob")
	c.caller.channel, c.callee.channel = channelInStasis, channelInStasis
	c.state, c.bridge = CallAnswered, bridgeCreated
	c.caller.media, c.callee.media = mediaBridged, mediaBridged
	return c
}

// TestUnitOpError: a failed hold's error wraps both the app sentinel and
// the ARI error, keeps Asterisk's message, and names the operation.
func TestUnitOpError(t *testing.T) {
	ariErr := fmt.Errorf("%w: Channel not in this bridge", ari.ErrUnprocessable)
	notFound := fmt.Errorf("%w: Bridge not found", ari.ErrBridgeNotFound)
	tests := []struct {
		name     string
		fail     map[string]error
		wantKind error
		wantARI  error
		wantText string
	}{
		{"removal refused", map[string]error{"RemoveChannel": notFound}, ErrHoldFailed, ari.ErrBridgeNotFound, "removing the peer from the bridge"},
		{"music refused", map[string]error{"Play": fmt.Errorf("%w: Channel not found", ari.ErrChannelNotFound)}, ErrHoldFailed, ari.ErrChannelNotFound, "starting hold music"},
		// 422 "not in this bridge" is taken as already out: the hold goes on
		// and fails only at the music.
		{"already out, music refused", map[string]error{"RemoveChannel": ariErr, "Play": notFound}, ErrHoldFailed, ari.ErrBridgeNotFound, "starting hold music"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &unitARI{fail: tt.fail}
			a, err := New(Config{StepTimeout: 50 * time.Millisecond}, f, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			c := unitAnswered(t, a)
			// Asterisk confirms a removal it accepted.
			c.pending = []message{ariEvent{&ari.ChannelLeftBridge{Channel: ari.Channel{ID: "c1-callee"}, Bridge: ari.Bridge{ID: "c1-bridge"}}}}
			err = c.hold(context.Background(), c.caller, SourceAPI, nil)
			if !errors.Is(err, tt.wantKind) || !errors.Is(err, tt.wantARI) {
				t.Fatalf("hold error %v: want both %v and %v", err, tt.wantKind, tt.wantARI)
			}
			var op *OpError
			if !errors.As(err, &op) || op.Op != OpHold || op.Party != Caller || op.CallID != "c1" {
				t.Fatalf("error %#v, want an *OpError of the caller's hold", err)
			}
			if !strings.Contains(err.Error(), tt.wantText) || !strings.HasPrefix(err.Error(), ErrHoldFailed.Error()) {
				t.Errorf("error text %q, want it to start with %q and contain %q", err, ErrHoldFailed, tt.wantText)
			}
			if c.caller.holds() {
				t.Error("caller holds after a failed hold")
			}
		})
	}

	t.Run("refusal has no cause", func(t *testing.T) {
		a, err := New(Config{HoldAllowedEndpoints: []string{"PJSIP/carol"}}, &unitARI{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		c := unitAnswered(t, a)
		err = c.hold(context.Background(), c.caller, SourceAPI, nil)
		var op *OpError
		if !errors.Is(err, ErrHoldRefused) || !errors.As(err, &op) || op.Err != nil {
			t.Fatalf("error %#v, want a refusal with no cause", err)
		}
	})

	t.Run("resume failure wraps ErrUnholdFailed and the cause", func(t *testing.T) {
		f := &unitARI{fail: map[string]error{"AddChannel": notFound}}
		a, err := New(Config{StepTimeout: 50 * time.Millisecond}, f, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		c := unitAnswered(t, a)
		c.caller.holdSince = time.Now()
		c.callee.media = mediaOut // out of the bridge, no music
		err = c.resume(context.Background(), c.caller, SourceAPI)
		if !errors.Is(err, ErrUnholdFailed) || !errors.Is(err, ari.ErrBridgeNotFound) {
			t.Fatalf("resume error %v: want ErrUnholdFailed and ari.ErrBridgeNotFound", err)
		}
		if c.state != CallEnded || c.endCause != "unhold_failed" {
			t.Errorf("call %s (%s) after a failed resume, want ended with unhold_failed (R3)", c.state, c.endCause)
		}
	})
}

// TestUnitHolders: who holds is derived from the parties, in the order they
// took hold.
func TestUnitHolders(t *testing.T) {
	t0 := time.Now()
	tests := []struct {
		name           string
		caller, callee time.Time
		want           []Role
	}{
		{"nobody", time.Time{}, time.Time{}, []Role{}},
		{"caller", t0, time.Time{}, []Role{Caller}},
		{"callee", time.Time{}, t0, []Role{Callee}},
		{"caller first", t0, t0.Add(time.Second), []Role{Caller, Callee}},
		{"callee first", t0.Add(time.Second), t0, []Role{Callee, Caller}},
		{"same instant", t0, t0, []Role{Caller, Callee}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := unitCall(t, nil, "PJSIP/bob")
			c.caller.holdSince, c.callee.holdSince = tt.caller, tt.callee
			if got := c.holders(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("holders %v, want %v", got, tt.want)
			}
			for _, p := range c.parties() {
				if got, want := c.hearsMusic(p), c.peer(p).holds(); got != want {
					t.Errorf("%s hearsMusic %v, want %v (its peer holds: %v)", p.role, got, want, want)
				}
			}
		})
	}
}

// TestUnitMediaMoves: a hold and its resume move the peer bridged ->
// leaving -> on_music -> rejoining -> bridged, each transition logged once,
// with the ARI requests of the recipe in order.
func TestUnitMediaMoves(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	f := &unitARI{}
	a, err := New(Config{StepTimeout: time.Second}, f, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	c := unitAnswered(t, a)
	ctx := context.Background()
	// Asterisk's confirmations, as they would arrive: set aside for await.
	pb := c.musicBase(c.callee)
	c.pending = []message{
		ariEvent{&ari.ChannelLeftBridge{Channel: ari.Channel{ID: "c1-callee"}, Bridge: ari.Bridge{ID: "c1-bridge"}}},
		ariEvent{&ari.PlaybackStarted{Playback: ari.Playback{ID: pb}}},
	}
	if err := c.hold(ctx, c.caller, SourceAPI, nil); err != nil {
		t.Fatalf("hold: %v", err)
	}
	if c.callee.media != mediaOnMusic || c.callee.music == nil || !c.caller.holds() {
		t.Fatalf("after hold: callee %s music %v, caller holds %v", c.callee.media, c.callee.music, c.caller.holds())
	}
	c.pending = []message{
		ariEvent{&ari.PlaybackFinished{Playback: ari.Playback{ID: pb, State: "done"}}},
		ariEvent{&ari.ChannelEnteredBridge{Channel: ari.Channel{ID: "c1-callee"}, Bridge: ari.Bridge{ID: "c1-bridge"}}},
	}
	if err := c.resume(ctx, c.caller, SourceAPI); err != nil {
		t.Fatalf("resume: %v", err)
	}
	if c.callee.media != mediaBridged || c.callee.music != nil || c.caller.holds() {
		t.Fatalf("after resume: callee %s music %v, caller holds %v", c.callee.media, c.callee.music, c.caller.holds())
	}
	var got []string
	for _, l := range logs.FilterMessage("media").All() {
		m := l.ContextMap()
		if m["party"] != "callee" || m["channel_id"] != "c1-callee" {
			t.Errorf("media line %v, want the callee's", m)
		}
		got = append(got, fmt.Sprint(m["transition"]))
	}
	want := []string{"bridged -> leaving", "leaving -> on_music", "on_music -> rejoining", "rejoining -> bridged"}
	if !slices.Equal(got, want) {
		t.Errorf("transitions %q, want %q", got, want)
	}
	wantReqs := []string{
		"RemoveChannel c1-bridge [c1-callee]",
		"Play c1-callee " + pb + " [tone:440/500|0/2500]",
		"StopPlayback " + pb,
		"AddChannel c1-bridge [c1-callee]",
	}
	if reqs := f.recorded(); !slices.Equal(reqs, wantReqs) {
		t.Errorf("ARI requests %q, want %q", reqs, wantReqs)
	}
}

// TestUnitTimersEndWithCall: every timer a call started stops when it ends,
// and a stopped timer posts nothing.
func TestUnitTimersEndWithCall(t *testing.T) {
	a, err := New(Config{}, &unitARI{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	c := unitAnswered(t, a)
	c.timers.start(ringTimer, 20*time.Millisecond, answerTimeout{})
	c.timers.start(bridgeTimer, 20*time.Millisecond, bridgeCheck{})
	c.timers.start(mohRecheckTimer, 20*time.Millisecond, stopPeerMOH{c.callee})
	c.endCall(context.Background(), "hangup_requested", "", "test")
	for k, tm := range c.timers.t {
		if tm != nil {
			t.Errorf("timer %d still set after the call ended", k)
		}
	}
	time.Sleep(60 * time.Millisecond)
	if m, ok := c.inbox.take(); ok {
		t.Errorf("a stopped timer posted %#v", m)
	}
}

// TestUnitSlowAsteriskIsNotAFailure: a step Asterisk did not answer in time
// (or failed internally) is tried again, and a confirming event that comes
// late is replaced by asking Asterisk: the hold and the resume succeed, and
// R3 does not hang the call up.
func TestUnitSlowAsteriskIsNotAFailure(t *testing.T) {
	slow := fmt.Errorf("%w: context deadline exceeded", ari.ErrUnreachable)
	f := &unitARI{
		fail:  map[string]error{"RemoveChannel": slow, "AddChannel": fmt.Errorf("%w: Internal Server Error", ari.ErrServer)},
		failN: map[string]int{"RemoveChannel": 1, "AddChannel": 2},
	}
	a, err := New(Config{StepTimeout: 30 * time.Millisecond}, f, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	c := unitAnswered(t, a)
	ctx := context.Background()
	pb := c.musicBase(c.callee)
	// No ChannelLeftBridge comes: Asterisk's bridge shows the callee out.
	f.bridged = []string{"caller-ch"}
	c.pending = []message{ariEvent{&ari.PlaybackStarted{Playback: ari.Playback{ID: pb}}}}
	if err := c.hold(ctx, c.caller, SourceAPI, nil); err != nil {
		t.Fatalf("hold with one timed-out removal and a late event: %v", err)
	}
	// Resume: addChannel fails twice with a 500, and ChannelEnteredBridge is
	// late; the bridge shows the callee back.
	c.pending = []message{ariEvent{&ari.PlaybackFinished{Playback: ari.Playback{ID: pb, State: "done"}}}}
	f.bridged = []string{"caller-ch", "c1-callee"}
	if err := c.resume(ctx, c.caller, SourceAPI); err != nil {
		t.Fatalf("resume with two failed adds and a late event: %v", err)
	}
	if c.state != CallAnswered || c.callee.media != mediaBridged {
		t.Fatalf("call %s, callee %s; want answered and bridged", c.state, c.callee.media)
	}
	var removes, adds int
	for _, r := range f.recorded() {
		switch {
		case strings.HasPrefix(r, "RemoveChannel"):
			removes++
		case strings.HasPrefix(r, "AddChannel"):
			adds++
		}
	}
	if removes != 2 || adds != 3 {
		t.Errorf("%d removals and %d adds, want 2 and 3 (each retried until it went through)", removes, adds)
	}

	t.Run("a resume that truly cannot complete still hangs up (R3)", func(t *testing.T) {
		f := &unitARI{fail: map[string]error{"AddChannel": fmt.Errorf("%w: Bridge not found", ari.ErrBridgeNotFound)}}
		a, err := New(Config{StepTimeout: 30 * time.Millisecond}, f, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		c := unitAnswered(t, a)
		c.caller.holdSince = time.Now()
		c.callee.media = mediaOut
		if err := c.resume(ctx, c.caller, SourceAPI); !errors.Is(err, ErrUnholdFailed) {
			t.Fatalf("resume = %v, want ErrUnholdFailed", err)
		}
		if c.state != CallEnded {
			t.Errorf("call %s, want ended", c.state)
		}
	})
}

// TestUnitOperationOnEndedCall: an operation on a call that ended lately is
// told so (ErrCallEnded, the API's 409 call_ended), one on an id that never
// was gets ErrCallNotFound, and neither echoes a huge id back.
func TestUnitOperationOnEndedCall(t *testing.T) {
	a, err := New(Config{}, &unitARI{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	c := unitAnswered(t, a)
	a.register(c)
	c.endCall(context.Background(), "hangup_requested", "", "test")
	a.unroute(c)
	ctx := context.Background()
	if _, err := a.Hold(ctx, "c1", "caller", SourceAPI); !errors.Is(err, ErrCallEnded) {
		t.Errorf("hold of an ended call = %v, want ErrCallEnded", err)
	}
	if _, err := a.Resume(ctx, "never", "caller", SourceAPI); !errors.Is(err, ErrCallNotFound) {
		t.Errorf("resume of an unknown call = %v, want ErrCallNotFound", err)
	}
	huge := strings.Repeat("x", 60<<10)
	if _, err := a.Hangup(ctx, huge); !errors.Is(err, ErrCallNotFound) || len(err.Error()) > 200 {
		t.Errorf("hangup of a 60 KB id: error of %d bytes (%v), want ErrCallNotFound, short", len(err.Error()), errors.Unwrap(err))
	}
}

// TestUnitRecent: ids are remembered for their ttl, never more than max at
// once (the oldest go first), and adding one again renews it.
func TestUnitRecent(t *testing.T) {
	t0 := time.Unix(1000, 0)
	tests := []struct {
		name    string
		ttl     time.Duration
		max     int
		adds    []string // one per second from t0
		at      time.Duration
		want    []string
		notWant []string
	}{
		{"within ttl", time.Minute, 10, []string{"a", "b"}, 3 * time.Second, []string{"a", "b"}, nil},
		{"expired", 5 * time.Second, 10, []string{"a", "b"}, 5500 * time.Millisecond, []string{"b"}, []string{"a"}},
		{"cap drops the oldest", time.Hour, 2, []string{"a", "b", "c"}, 3 * time.Second, []string{"b", "c"}, []string{"a"}},
		{"added again is renewed", 5 * time.Second, 10, []string{"a", "b", "a"}, 5500 * time.Millisecond, []string{"a", "b"}, nil},
		{"renewed survives the cap", time.Hour, 2, []string{"a", "b", "a", "c"}, 4 * time.Second, []string{"a", "c"}, []string{"b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRecent(tt.ttl, tt.max)
			for i, id := range tt.adds {
				r.add(id, t0.Add(time.Duration(i)*time.Second))
			}
			now := t0.Add(tt.at)
			for _, id := range tt.want {
				if !r.has(id, now) {
					t.Errorf("%s forgotten", id)
				}
			}
			for _, id := range tt.notWant {
				if r.has(id, now) {
					t.Errorf("%s still remembered", id)
				}
			}
			if r.len() > tt.max {
				t.Errorf("%d ids remembered, max %d", r.len(), tt.max)
			}
		})
	}
}

// TestUnitTimeline: a call's timeline keeps its last entries in order,
// counts those it dropped, and outlives the call for a while.
func TestUnitTimeline(t *testing.T) {
	a, err := New(Config{TimelineSize: 3}, &unitARI{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	c := unitAnswered(t, a)
	a.register(c)
	for i := range 5 {
		c.timeline.add(TimelineEntry{Kind: "call_event", Name: fmt.Sprint("e", i)})
	}
	a.RecordRequest(&ari.Request{Method: "POST", Route: "/bridges/{id}/removeChannel", Tag: ari.Tag{CallID: "c1", Party: "callee"}, Status: 204})
	a.RecordRequest(&ari.Request{Method: "GET", Route: "/channels", Tag: ari.Tag{CallID: "other"}})
	tl, err := a.Timeline("c1")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range tl.Entries {
		names = append(names, e.Name)
	}
	if want := []string{"e3", "e4", "POST /bridges/{id}/removeChannel"}; !slices.Equal(names, want) || tl.Dropped != 3 {
		t.Fatalf("timeline %v (dropped %d), want %v (dropped 3)", names, tl.Dropped, want)
	}
	if e := tl.Entries[2]; e.Kind != "request" || e.Party != Callee || e.Status != 204 {
		t.Errorf("request entry %+v", e)
	}
	c.endCall(context.Background(), "hangup_requested", "", "test")
	a.unroute(c)
	if tl, err := a.Timeline("c1"); err != nil || tl.Entries[len(tl.Entries)-1].Name != string(EventCallEnded) {
		t.Fatalf("timeline of the ended call: %v, %+v", err, tl)
	}
	if _, err := a.Timeline("never"); !errors.Is(err, ErrCallNotFound) {
		t.Errorf("timeline of an unknown call: %v", err)
	}
}

// TestUnitCloseDuringSetUp: a set-up step that fails because the
// application closes (its context is cancelled) does not end the call:
// Close leaves calls in Asterisk for the next ariapp. The same failure
// while running ends it.
func TestUnitCloseDuringSetUp(t *testing.T) {
	for _, closing := range []bool{true, false} {
		t.Run(fmt.Sprintf("closing %v", closing), func(t *testing.T) {
			canceled := fmt.Errorf("%w: context canceled", ari.ErrUnreachable)
			f := &unitARI{fail: map[string]error{"Originate": canceled}}
			a, err := New(Config{}, f, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			c := unitCall(t, a, "Local/noanswer@x")
			c.caller.channel = channelInStasis
			ctx, cancel := context.WithCancel(context.Background())
			if closing {
				cancel()
			} else {
				defer cancel()
			}
			c.start(ctx)
			if ended := c.state == CallEnded; ended == closing {
				t.Fatalf("call state %s after a failed callee originate (closing %v)", c.state, closing)
			}
			for _, r := range f.recorded() {
				if closing && strings.HasPrefix(r, "Hangup") {
					t.Errorf("request %q while closing: the call must be left up", r)
				}
			}
		})
	}
}
