package holdmusic_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/holdmusic"
	"github.com/ariapp/ariapp/internal/labtest"
)

// TestIntegrationMedia plays each medium on a real channel and checks what
// Asterisk reports: the playback events under the ids holdmusic announced,
// a sounds list restarted under its other id and found again by
// PlaybackIDs, and stops that end the music.
func TestIntegrationMedia(t *testing.T) {
	cfg := labtest.Require(t)
	c, err := ari.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		c.Close()
		t.Fatalf("connect: %v", err)
	}
	rec := labtest.Record(c.Events())
	chID := "hm-" + labtest.ID()
	defer func() {
		_ = c.Hangup(context.Background(), chID, ari.HangupNormal)
		labtest.ExpectNothingLeft(t, c, []string{chID}, nil)
		c.Close()
		<-rec.Done()
	}()
	rec.Wait(t, 0, labtest.WaitTimeout, "connected", labtest.Is(ari.ConnectionEventType, ""))
	if _, err := c.Originate(ctx, ari.OriginateParams{
		Endpoint: "Local/talk@" + labtest.TestContext, ChannelID: chID, App: c.Application(),
	}); err != nil {
		t.Fatalf("originate: %v", err)
	}
	rec.Within(t, 0, "StasisStart", chID)

	// started waits for PlaybackStarted of the playing music.
	started := func(t *testing.T, from int, p *holdmusic.Playing) {
		t.Helper()
		if !p.ExpectsEvents() {
			t.Fatalf("%+v expects no events", p)
		}
		rec.Within(t, from, "PlaybackStarted", p.PlaybackID)
	}
	// stop stops it and waits for its PlaybackFinished.
	stop := func(t *testing.T, s *holdmusic.Source, p *holdmusic.Playing) {
		t.Helper()
		from := len(rec.Events())
		if err := s.Stop(ctx, c, p); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		rec.Within(t, from, "PlaybackFinished", p.PlaybackID)
	}

	t.Run("tone", func(t *testing.T) {
		s := mustNew(t, holdmusic.Config{})
		// A stop right after PlaybackStarted is the case Asterisk refuses
		// now and then; each must still end the tone.
		for i := range 3 {
			from := len(rec.Events())
			p, err := s.Start(ctx, c, chID, "hm-tone-"+labtest.ID())
			if err != nil {
				t.Fatalf("start %d: %v", i, err)
			}
			started(t, from, p)
			stop(t, s, p)
		}
	})

	t.Run("sounds restart and are found again", func(t *testing.T) {
		s := mustNew(t, holdmusic.Config{Mode: holdmusic.ModeSounds, Sounds: []string{"beep"}})
		base := "hm-snd-" + labtest.ID()
		from := len(rec.Events())
		p, err := s.Start(ctx, c, chID, base)
		if err != nil {
			t.Fatal(err)
		}
		started(t, from, p)
		ev, _ := rec.Within(t, from, "PlaybackFinished", base)
		if st := ev.(*ari.PlaybackFinished).Playback.State; st != "done" {
			t.Fatalf("PlaybackFinished state %q, want done", st)
		}
		from = len(rec.Events())
		if ok, err := s.Restart(ctx, c, p); !ok || err != nil {
			t.Fatalf("Restart = %v, %v", ok, err)
		}
		if p.PlaybackID == base {
			t.Fatalf("restarted under the id that just finished")
		}
		started(t, from, p)

		// Found again by its ids, as after an ariapp restart.
		var found []string
		for _, id := range s.PlaybackIDs(base) {
			if pb, err := c.Playback(ctx, id); err == nil && pb.State == "playing" {
				found = append(found, id)
			}
		}
		if len(found) != 1 || found[0] != p.PlaybackID {
			t.Fatalf("playing among PlaybackIDs %q: %q, want only %q", s.PlaybackIDs(base), found, p.PlaybackID)
		}
		stop(t, s, s.AdoptPlayback(chID, base, found[0]))
	})

	t.Run("moh", func(t *testing.T) {
		s := mustNew(t, holdmusic.Config{Mode: holdmusic.ModeMOH})
		p, err := s.Start(ctx, c, chID, "hm-moh-"+labtest.ID())
		if err != nil {
			t.Fatal(err)
		}
		if p.ExpectsEvents() {
			t.Fatalf("music on hold expects events: %+v", p)
		}
		// Stopped as adopted from its label, as after an ariapp restart.
		if err := s.Stop(ctx, c, s.Adopt(chID, s.Media())); err != nil {
			t.Fatalf("Stop: %v", err)
		}
	})

	t.Run("start on a gone channel", func(t *testing.T) {
		for _, cfg := range []holdmusic.Config{{}, {Mode: holdmusic.ModeMOH}} {
			_, err := mustNew(t, cfg).Start(ctx, c, "hm-gone-"+labtest.ID(), "hm-x-"+labtest.ID())
			if !errors.Is(err, holdmusic.ErrNotStarted) || !errors.Is(err, ari.ErrChannelNotFound) {
				t.Errorf("%s: Start on a gone channel: %v, want ErrNotStarted wrapping ErrChannelNotFound", cfg.Mode, err)
			}
		}
	})
}
