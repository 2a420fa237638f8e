package app_test

import (
	"errors"
	"testing"
	"time"

	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/internal/labtest"

	"github.com/ariapp/ariapp/app"
)

// crash stops an App the way a killed process would leave Asterisk: nothing
// is hung up, the event WebSocket just goes away.
func (h *harness) crash() {
	h.app.Close()
	h.client.Close()
}

// TestRestartRebuildsCalls: calls in every hold state survive ariapp going
// away; a new ariapp on the same application rebuilds them from Asterisk
// alone (channel variables, bridges, playbacks): same states, the held
// parties' music never stopped, and resume, hold and hang-up work on the
// rebuilt calls. A call left without a live peer is hung up and reported.
func TestRestartRebuildsCalls(t *testing.T) {
	h1 := newHarness(t)
	talking, _ := h1.establish()
	callerHolds, _ := h1.establish()
	h1.hold(callerHolds, "caller")
	bothHold, _ := h1.establish()
	h1.hold(bothHold, "caller")
	h1.hold(bothHold, "callee")
	orphan, orphanPhone := h1.establish()
	before := map[string]app.CallInfo{}
	for _, id := range []string{talking, callerHolds, bothHold} {
		before[id], _ = h1.app.Call(id)
	}
	musicBefore := h1.musicPlaying(before[callerHolds].Callee.ChannelID)

	orphanInfo, _ := h1.app.Call(orphan)
	h1.crash()
	// While no ariapp runs, the orphan's caller hangs up.
	ctl, err := ari.New(labtest.Config(t))
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	if err := ctl.Hangup(ctxT(t), orphanPhone, ari.HangupNormal); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the orphan's caller gone", func() bool {
		_, err := ctl.Channel(ctxT(t), orphanInfo.Caller.ChannelID)
		return errors.Is(err, ari.ErrNotFound)
	})

	h2 := newHarnessApp(t, h1.client.Application(), nil)
	h2.mu.Lock()
	h2.calls = append(h2.calls, talking, callerHolds, bothHold, orphan)
	h2.mu.Unlock()

	// The new ariapp adopts the calls as soon as it connects.
	for id := range before {
		waitUntil(t, "call "+id+" rebuilt", func() bool { _, err := h2.app.Call(id); return err == nil })
	}
	// The orphan is hung up and reported.
	ev := h2.waitFor(orphan, ended)
	if ev.Call.EndCause != "orphaned" {
		t.Fatalf("orphan ended with %q (%s)", ev.Call.EndCause, ev.Reason)
	}
	for id, was := range before {
		now, err := h2.app.Call(id)
		if err != nil {
			t.Fatalf("call %s not rebuilt: %v", id, err)
		}
		if now.Caller.State != was.Caller.State || now.Callee.State != was.Callee.State ||
			now.Caller.OnHoldMusic != was.Caller.OnHoldMusic || now.Callee.OnHoldMusic != was.Callee.OnHoldMusic ||
			now.BridgeID != was.BridgeID || now.Caller.ChannelID != was.Caller.ChannelID || now.Callee.ChannelID != was.Callee.ChannelID {
			t.Fatalf("call %s rebuilt as %+v, was %+v", id, now, was)
		}
		h2.expectMedia(now)
	}
	// The music playing before the restart is still the one playing: it
	// never stopped.
	if _, err := h2.client.Playback(ctxT(t), musicBefore[0]); err != nil {
		t.Fatalf("hold music %s stopped across the restart: %v", musicBefore[0], err)
	}

	// The rebuilt calls work.
	info := h2.resume(callerHolds, "caller")
	h2.expectMedia(info)
	info = h2.resume(bothHold, "callee")
	if info.Caller.State != app.Hold || info.Callee.State != app.Live {
		t.Fatalf("after callee resumed: %+v", info)
	}
	h2.expectMedia(info)
	info = h2.hold(talking, "callee")
	h2.expectMedia(info)
	if _, err := h2.app.Hangup(ctxT(t), bothHold); err != nil {
		t.Fatal(err)
	}
	h2.waitFor(bothHold, ended)
	h2.expectNames(callerHolds, unholdOK)
	h2.expectNames(talking, holdOK)
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
