package app_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/holdmusic"
	"github.com/ariapp/ariapp/internal/fakeasterisk"
)

// Music of the hold-media tests: the default tone, and another tone a hold
// may choose. Both are heard in the lab and told apart by frequency.
const (
	otherTone = "tone:620/500|0/2500"
	// longAnnouncement is an Asterisk core sound of about 2.4 s: long
	// enough to resume or restart while it plays.
	longAnnouncement = "sound:pls-hold-while-try"
)

func withAllowed(media ...string) harnessOpt {
	return func(c *app.Config) {
		for _, m := range media {
			cfg, err := holdmusic.ParseMedia(m)
			if err != nil {
				panic(err)
			}
			c.AllowedMusic = append(c.AllowedMusic, cfg)
		}
	}
}

func withAnnouncement(sound string) harnessOpt {
	return func(c *app.Config) { c.Music.Announcement = sound }
}

// holdWith holds with HoldOptions.Media.
func (h *harness) holdWith(callID, party, media string) app.CallInfo {
	h.t.Helper()
	info, err := h.app.Hold(ctxT(h.t), callID, party, app.SourceAPI, app.HoldOptions{Media: media})
	if err != nil {
		h.t.Fatalf("hold by %s with %q: %v\n%s", party, media, err, h.dump(callID))
	}
	return info
}

// playbackMedia is the media Asterisk reports for a playback now.
func (h *harness) playbackMedia(id string) string {
	pb, err := h.client.Playback(ctxT(h.t), id)
	if err != nil {
		return "error: " + err.Error()
	}
	return pb.MediaURI
}

// specHoldMediaPerHold: a hold may choose one of the allowed musics, which
// the held party hears, the call info and the events name, and which a
// resume stops; any other media is refused before it reaches the call,
// changing nothing; a hold without media plays the default.
func specHoldMediaPerHold(t *testing.T, be backend) {
	h := newHarness(t, be, withAllowed(otherTone, "moh:default"))
	callID, _ := h.establish()
	before := len(h.events.All())

	for _, bad := range []string{"tone:999/100", "bogus:x", "sound:https://example.com/hold.wav", "moh:jazz"} {
		_, err := h.app.Hold(ctxT(t), callID, "caller", app.SourceAPI, app.HoldOptions{Media: bad})
		if !errors.Is(err, app.ErrMediaNotAllowed) {
			t.Fatalf("hold with %q: %v, want ErrMediaNotAllowed", bad, err)
		}
		for _, allowed := range []string{"tone:440/500|0/2500", otherTone, "moh:default"} {
			if !strings.Contains(err.Error(), allowed) {
				t.Errorf("refusal %q does not list %q", err, allowed)
			}
		}
	}
	if got := h.events.All()[before:]; len(got) != 0 {
		t.Fatalf("refused media reported events: %+v", got)
	}
	h.expectMedia(mustCall(t, h, callID))

	info := h.holdWith(callID, "caller", otherTone)
	if info.Callee.HoldMedia != otherTone || info.Caller.HoldMedia != "" {
		t.Fatalf("held with %s: callee hears %q, caller %q", otherTone, info.Callee.HoldMedia, info.Caller.HoldMedia)
	}
	if ev := h.waitFor(callID, app.EventHoldSuccess); ev.Media != otherTone || ev.Call.Callee.HoldMedia != otherTone {
		t.Fatalf("hold_success media %q, callee %q", ev.Media, ev.Call.Callee.HoldMedia)
	}
	if got := h.playbackMedia(callID + "-hold-callee"); got != otherTone {
		t.Fatalf("Asterisk plays %q to the held party, want %q", got, otherTone)
	}
	h.expectMedia(info)
	h.resume(callID, "caller")
	if ev := h.waitFor(callID, app.EventUnholdSuccess); ev.Media != otherTone {
		t.Fatalf("unhold_success media %q, want %q", ev.Media, otherTone)
	}
	// The record of the chosen music is cleared with the hold.
	if v, err := h.control().GetVar(ctxT(t), info.Callee.ChannelID, app.VarHeld); err != nil || v != "" {
		t.Fatalf("%s after resume = %q, %v; want empty", app.VarHeld, v, err)
	}

	// Without media: the default, as before.
	info = h.hold(callID, "callee")
	if info.Caller.HoldMedia != "tone:440/500|0/2500" {
		t.Fatalf("default hold: caller hears %q", info.Caller.HoldMedia)
	}
	if got := h.playbackMedia(callID + "-hold-caller"); got != "tone:440/500|0/2500" {
		t.Fatalf("Asterisk plays %q on a default hold", got)
	}
	// Mutual hold with another choice: each held party hears its peer's.
	info = h.holdWith(callID, "caller", "moh")
	if info.Callee.HoldMedia != "moh:default" || info.Caller.HoldMedia != "tone:440/500|0/2500" {
		t.Fatalf("mutual hold: callee hears %q, caller %q", info.Callee.HoldMedia, info.Caller.HoldMedia)
	}
	h.expectMedia(info)
	h.resume(callID, "caller")
	h.expectMedia(h.resume(callID, "callee"))
}

// specHoldAnnouncement: the held party hears the announcement once, then
// the music, in one playback; the hold is confirmed when it starts; a
// resume during the announcement restores the call; with music on hold the
// announcement is a playback of its own and the music on hold follows.
func specHoldAnnouncement(t *testing.T, be backend) {
	t.Run("tone after it", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, be, withAnnouncement("sound:beep"), withAllowed(otherTone))
		callID, _ := h.establish()
		info := h.holdWith(callID, "caller", otherTone)
		pbID := callID + "-hold-callee"
		ev, _ := h.raw.Within(t, 0, "PlaybackStarted", pbID)
		if got := ev.(*ari.PlaybackStarted).Playback.MediaURI; got != "sound:beep" {
			t.Fatalf("the held party's playback starts with %q, want the announcement", got)
		}
		if info.Callee.HoldMedia != otherTone {
			t.Fatalf("held party hears %q", info.Callee.HoldMedia)
		}
		if be.name() == "lab" {
			// Asterisk goes on to the music by itself, in the same playback.
			waitUntil(t, "the music after the announcement", func() bool { return h.playbackMedia(pbID) == otherTone })
		}
		h.expectMedia(info)
		h.expectMedia(h.resume(callID, "caller"))
		if got := h.musicPlaying(info.Callee.ChannelID); len(got) != 0 {
			t.Fatalf("playbacks left after resume: %v", got)
		}
	})
	t.Run("resume during it", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, be, withAnnouncement(longAnnouncement))
		callID, _ := h.establish()
		h.expectMedia(h.hold(callID, "callee"))
		if got := h.playbackMedia(callID + "-hold-caller"); got != longAnnouncement {
			t.Fatalf("plays %q right after the hold, want the announcement", got)
		}
		info := h.resume(callID, "callee")
		h.expectMedia(info)
		if got := h.musicPlaying(info.Caller.ChannelID); len(got) != 0 {
			t.Fatalf("playbacks left after a resume during the announcement: %v", got)
		}
		// And the next hold announces again.
		h.hold(callID, "callee")
		if got := h.playbackMedia(callID + "-hold-caller"); got != longAnnouncement {
			t.Fatalf("second hold plays %q first", got)
		}
		h.expectMedia(h.resume(callID, "callee"))
	})
	t.Run("music on hold after it", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, be, withAnnouncement("sound:beep"), withAllowed("moh:default"))
		callID, _ := h.establish()
		info := h.holdWith(callID, "caller", "moh:default")
		pbID := callID + "-hold-callee"
		h.raw.Within(t, 0, "PlaybackStarted", pbID)
		// The announcement ends; music on hold follows it (no event).
		h.raw.Within(t, 0, "PlaybackFinished", pbID)
		if be.name() == "fake" {
			fa := h.conn.fake
			waitUntil(t, "music on hold after the announcement", func() bool { return fa.OnMOH(info.Callee.ChannelID) })
		}
		if got := mustCall(t, h, callID).Callee.HoldMedia; got != "moh:default" {
			t.Fatalf("held party hears %q", got)
		}
		info = h.resume(callID, "caller")
		h.expectMedia(info)
		if be.name() == "fake" && h.conn.fake.OnMOH(info.Callee.ChannelID) {
			t.Fatal("music on hold left after resume")
		}
	})
	t.Run("failed announcement is rolled back", func(t *testing.T) {
		fakeOnly(t, be)
		t.Parallel()
		for _, media := range []string{"", "moh:default"} {
			h := newHarness(t, be, withAnnouncement("sound:beep"), withAllowed("moh:default"))
			callID, _ := h.establish()
			in := h.conn.fake.Inject(fakeasterisk.Fault{Op: "Play", Status: 500, Message: "Internal Server Error"})
			_, err := h.app.Hold(ctxT(t), callID, "caller", app.SourceAPI, app.HoldOptions{Media: media})
			in.Remove()
			if !errors.Is(err, app.ErrHoldFailed) {
				t.Fatalf("media %q: hold whose announcement fails: %v, want ErrHoldFailed", media, err)
			}
			fail := h.waitFor(callID, app.EventHoldFailed)
			if fail.Call.Caller.State != app.Live || fail.Call.Callee.OnHoldMusic || fail.Media == "" {
				t.Fatalf("media %q: hold_failed with %+v, media %q", media, fail.Call, fail.Media)
			}
			info := mustCall(t, h, callID)
			h.expectMedia(info)
			if h.conn.fake.OnMOH(info.Callee.ChannelID) {
				t.Fatalf("media %q: music on hold started after a failed announcement", media)
			}
		}
	})
}

// specRestartKeepsHoldMedia: a restarted ariapp knows the music a hold
// chose from Asterisk alone (ARIAPP_HELD), keeps it playing, restarts it
// with the same media if it died while no ariapp ran, and resumes it; an
// announcement a restart interrupts goes on into the music by itself.
func specRestartKeepsHoldMedia(t *testing.T, be backend) {
	opts := []harnessOpt{withAllowed(otherTone, "moh:default"), withAnnouncement(longAnnouncement)}
	h1 := newHarness(t, be, opts...)
	chosen, _ := h1.establish()
	died, _ := h1.establish()
	moh, _ := h1.establish()
	h1.holdWith(chosen, "caller", otherTone)
	diedInfo := h1.holdWith(died, "callee", otherTone)
	h1.holdWith(moh, "caller", "moh:default")
	h1.crash()

	// The music of one hold dies while no ariapp runs.
	ctl := h1.control()
	if err := ctl.StopPlayback(ctxT(t), died+"-hold-caller"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the music stopped", func() bool {
		_, err := ctl.Playback(ctxT(t), died+"-hold-caller")
		return errors.Is(err, ari.ErrNotFound)
	})

	h2 := newHarnessApp(t, be, h1.client.Application(), nil, opts...)
	h2.mu.Lock()
	h2.calls = append(h2.calls, chosen, died, moh)
	h2.mu.Unlock()
	for _, id := range []string{chosen, died, moh} {
		waitUntil(t, "call "+id+" rebuilt", func() bool { _, err := h2.app.Call(id); return err == nil })
	}
	if info := mustCall(t, h2, chosen); info.Caller.State != app.Hold || info.Callee.HoldMedia != otherTone {
		t.Fatalf("call held with %s rebuilt as %+v", otherTone, info)
	}
	if info := mustCall(t, h2, moh); info.Caller.State != app.Hold || info.Callee.HoldMedia != "moh:default" {
		t.Fatalf("call held with music on hold rebuilt as %+v", info)
	}
	// The music that died plays again, the chosen one, announced again.
	waitUntil(t, "the music restarted", func() bool {
		info := mustCall(t, h2, died)
		return info.Callee.State == app.Hold && info.Caller.OnHoldMusic && info.Caller.HoldMedia == otherTone &&
			!strings.HasPrefix(h2.playbackMedia(died+"-hold-caller"), "error")
	})
	if be.name() == "lab" {
		// The interrupted announcement goes on into the chosen music.
		waitUntil(t, "the chosen music after the announcement", func() bool {
			return h2.playbackMedia(chosen+"-hold-callee") == otherTone && h2.playbackMedia(died+"-hold-caller") == otherTone
		})
	}
	for _, id := range []string{chosen, died, moh} {
		h2.expectMedia(mustCall(t, h2, id))
	}
	h2.expectMedia(h2.resume(chosen, "caller"))
	if ev := h2.waitFor(chosen, app.EventUnholdSuccess); ev.Media != otherTone {
		t.Fatalf("unhold_success after the restart names %q", ev.Media)
	}
	h2.expectMedia(h2.resume(died, "callee"))
	h2.expectMedia(h2.resume(moh, "caller"))
	if v, err := ctl.GetVar(ctxT(t), diedInfo.Caller.ChannelID, app.VarHeld); err != nil || v != "" {
		t.Fatalf("%s after resume = %q, %v; want empty", app.VarHeld, v, err)
	}
}

// specHoldMediaDefaultForPhoneAndDTMF: holds from a phone's hold key or a
// DTMF code carry no media: they play the default, also after a hold that
// chose other music.
func specHoldMediaDefaultForPhoneAndDTMF(t *testing.T, be backend) {
	const def = "tone:440/500|0/2500"
	t.Run("dtmf", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, be, withAllowed(otherTone), func(c *app.Config) { c.DTMF = app.DTMFConfig{Hold: "*7", Resume: "*8"} })
		callID, _ := h.placeCallFrom("talk", "keys", map[string]string{"ARIAPP_TEST_KEYS1": "*7", "ARIAPP_TEST_KEYS2": "*8"})
		ev := h.waitFor(callID, holdOK)
		if ev.Source != app.SourceDTMF || ev.Media != def || ev.Call.Callee.HoldMedia != def {
			t.Fatalf("DTMF hold_success: source %s, media %q, callee hears %q", ev.Source, ev.Media, ev.Call.Callee.HoldMedia)
		}
		h.waitFor(callID, unholdOK)
	})
	t.Run("phone", func(t *testing.T) {
		fakeOnly(t, be)
		t.Parallel()
		h := newHarness(t, be, withAllowed(otherTone))
		callID, _ := h.establish()
		info := h.holdWith(callID, "callee", otherTone)
		h.resume(callID, "callee")
		if err := h.conn.fake.PressHold(info.Callee.ChannelID); err != nil {
			t.Fatal(err)
		}
		ev := h.waitEvent(func(e app.Event) bool { return e.CallID == callID && e.Name == holdOK && e.Source == app.SourcePhone }, "the phone's hold")
		if ev.Media != def || ev.Call.Caller.HoldMedia != def {
			t.Fatalf("phone hold_success: media %q, caller hears %q", ev.Media, ev.Call.Caller.HoldMedia)
		}
		h.expectMedia(ev.Call)
	})
}

// specRestartAfterMOHAnnouncement: music on hold follows its announcement
// on the announcement's PlaybackFinished; when that came while no ariapp
// ran, the restarted ariapp starts the music on hold itself.
func specRestartAfterMOHAnnouncement(t *testing.T, be backend) {
	opts := []harnessOpt{withAllowed("moh:default"), withAnnouncement("sound:beep")}
	h1 := newHarness(t, be, opts...)
	callID, _ := h1.establish()
	info := h1.holdWith(callID, "caller", "moh:default")
	h1.crash()
	ctl := h1.control()
	waitUntil(t, "the announcement over", func() bool {
		_, err := ctl.Playback(ctxT(t), callID+"-hold-callee")
		return errors.Is(err, ari.ErrNotFound)
	})
	if be.name() == "fake" && h1.conn.fake.OnMOH(info.Callee.ChannelID) {
		t.Fatal("music on hold started with no ariapp running")
	}
	h2 := newHarnessApp(t, be, h1.client.Application(), nil, opts...)
	h2.mu.Lock()
	h2.calls = append(h2.calls, callID)
	h2.mu.Unlock()
	waitUntil(t, "the call rebuilt", func() bool { _, err := h2.app.Call(callID); return err == nil })
	if now := mustCall(t, h2, callID); now.Caller.State != app.Hold || now.Callee.HoldMedia != "moh:default" {
		t.Fatalf("rebuilt as %+v", now)
	}
	if be.name() == "fake" {
		fa := h2.conn.fake
		waitUntil(t, "music on hold started by the restarted ariapp", func() bool { return fa.OnMOH(info.Callee.ChannelID) })
	}
	info = h2.resume(callID, "caller")
	h2.expectMedia(info)
	if be.name() == "fake" && h2.conn.fake.OnMOH(info.Callee.ChannelID) {
		t.Fatal("music on hold left after resume")
	}
}
