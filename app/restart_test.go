package app_test

import (
	"errors"
	"testing"
	"time"

	"github.com/ariapp/ariapp/ari"

	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/holdmusic"
)

// crash stops an App the way a killed process would leave Asterisk: nothing
// is hung up, the event WebSocket just goes away.
func (h *harness) crash() {
	h.app.Close()
	h.conn.close()
}

// TestRestartRebuildsCalls: calls in every hold state survive ariapp going
// away; a new ariapp on the same application rebuilds them from Asterisk
// alone (channel variables, bridges, playbacks): same states, the held
// parties' music never stopped, and resume, hold and hang-up work on the
// rebuilt calls. A call left without a live peer is hung up and reported.
func specRestartRebuildsCalls(t *testing.T, be backend) {
	h1 := newHarness(t, be)
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
	ctl := h1.control()
	if err := ctl.Hangup(ctxT(t), orphanPhone, ari.HangupNormal); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the orphan's caller gone", func() bool {
		_, err := ctl.Channel(ctxT(t), orphanInfo.Caller.ChannelID)
		return errors.Is(err, ari.ErrNotFound)
	})

	h2 := newHarnessApp(t, be, h1.client.Application(), nil)
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

// TestRestartFindsHoldsInAsterisk: a restarted ariapp reads who holds from
// Asterisk alone, whatever music plays and however the old process left
// it: tone and sounds (also after the sounds list looped, under its second
// id) are found as playbacks, music on hold by its record; a party left out
// of the bridge with no music (killed between two steps of a hold or a
// resume) is put back, not held; and a hold recorded by an ariapp of an
// earlier version (ARIAPP_HELD with the playback id) is still adopted.
func specRestartFindsHoldsInAsterisk(t *testing.T, be backend) {
	modes := []struct {
		name  string
		music holdmusic.Config
	}{
		{"tone", holdmusic.Config{}},
		{"sounds", holdmusic.Config{Mode: holdmusic.ModeSounds, Sounds: []string{"beep"}}},
		{"moh", holdmusic.Config{Mode: holdmusic.ModeMOH}},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			withMusic := func(c *app.Config) { c.Music = m.music }
			h1 := newHarness(t, be, withMusic)
			held, _ := h1.establish()
			h1.hold(held, "callee")
			if m.music.Mode == holdmusic.ModeSounds {
				// "beep" lasts under a second: wait for a loop, so the
				// music runs under its second id.
				waitUntil(t, "the sounds loop", func() bool {
					got := h1.musicPlaying(mustCall(t, h1, held).Caller.ChannelID)
					return len(got) == 1 && got[0] == held+"-hold-caller-2"
				})
			}
			halfDone, _ := h1.establish()
			half := mustCall(t, h1, halfDone)
			old, _ := h1.establish()
			oldInfo := mustCall(t, h1, old)
			h1.crash()

			ctl := h1.control()
			// Killed between the steps of a hold: the callee is out of the
			// bridge and hears nothing.
			if err := ctl.RemoveChannel(ctxT(t), half.BridgeID, half.Callee.ChannelID); err != nil {
				t.Fatal(err)
			}
			// An earlier ariapp's hold by the caller: record and playback.
			oldID := old + "-music-x1"
			if err := ctl.RemoveChannel(ctxT(t), oldInfo.BridgeID, oldInfo.Callee.ChannelID); err != nil {
				t.Fatal(err)
			}
			if err := ctl.SetVar(ctxT(t), oldInfo.Callee.ChannelID, app.VarHeld, oldID); err != nil {
				t.Fatal(err)
			}
			if _, err := ctl.Play(ctxT(t), oldInfo.Callee.ChannelID, oldID, "tone:440/500|0/2500"); err != nil {
				t.Fatal(err)
			}
			waitUntil(t, "the old-style music playing", func() bool {
				pb, err := ctl.Playback(ctxT(t), oldID)
				return err == nil && pb.State == "playing"
			})

			h2 := newHarnessApp(t, be, h1.client.Application(), nil, withMusic)
			h2.mu.Lock()
			h2.calls = append(h2.calls, held, halfDone, old)
			h2.mu.Unlock()
			for _, id := range []string{held, halfDone, old} {
				waitUntil(t, "call "+id+" rebuilt", func() bool { _, err := h2.app.Call(id); return err == nil })
			}
			if info := mustCall(t, h2, held); info.Callee.State != app.Hold || !info.Caller.OnHoldMusic || info.Callee.OnHoldMusic {
				t.Fatalf("held call rebuilt as %+v", info)
			}
			waitUntil(t, "the half-done hold undone", func() bool {
				info := mustCall(t, h2, halfDone)
				return info.Caller.State == app.Live && info.Callee.State == app.Live && len(h2.bridgeChannels(info.BridgeID)) == 2
			})
			if info := mustCall(t, h2, old); info.Caller.State != app.Hold || !info.Callee.OnHoldMusic {
				t.Fatalf("call held by an earlier ariapp rebuilt as %+v", info)
			}
			for _, id := range []string{held, halfDone, old} {
				h2.expectMedia(mustCall(t, h2, id))
			}
			// Resume works on what was found, and clears the old record.
			h2.expectMedia(h2.resume(held, "callee"))
			h2.expectMedia(h2.resume(old, "caller"))
			if v, err := ctl.GetVar(ctxT(t), oldInfo.Callee.ChannelID, app.VarHeld); err != nil || v != "" {
				t.Fatalf("%s after resume = %q, %v; want empty", app.VarHeld, v, err)
			}
			h2.expectMedia(h2.hold(held, "caller"))
		})
	}
}

func mustCall(t *testing.T, h *harness, id string) app.CallInfo {
	t.Helper()
	info, err := h.app.Call(id)
	if err != nil {
		t.Fatal(err)
	}
	return info
}
