package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/holdmusic"
)

// The music a hold may choose in TestHoldAnnouncementAndChosenMusic, and
// the announcement before it: an Asterisk core sound (a voice, about
// 2.4 s), told from the tones by its audio being none of them.
const (
	otherHz      = 620
	otherTone    = "tone:620/300|0/200"
	announcement = "sound:pls-hold-while-try"
)

// TestHoldAnnouncementAndChosenMusic: bob, held through the API with a
// chosen music, hears the announcement first (audio that is no tone), then
// the chosen 620 Hz tone and never the default 440 Hz one nor alice; a hold
// without media announces again and plays the default.
func TestHoldAnnouncementAndChosenMusic(t *testing.T) {
	l := newLab(t, func(c *app.Config) {
		c.Music.Announcement = announcement
		cfg, err := holdmusic.ParseMedia(otherTone)
		if err != nil {
			t.Fatal(err)
		}
		c.AllowedMusic = []holdmusic.Config{cfg}
	})
	callID, ac, bc := l.call()

	for _, tc := range []struct {
		name         string
		body         string
		hears, never float64
	}{
		{"chosen music", `{"party":"caller","media":"` + otherTone + `"}`, otherHz, holdHz},
		{"default music", `{"party":"caller"}`, holdHz, otherHz},
	} {
		t.Run(tc.name, func(t *testing.T) {
			asked := time.Now()
			var info app.CallInfo
			if code := l.api("POST", "/v1/calls/"+callID+"/hold", tc.body, &info); code != 200 || info.Caller.State != app.Hold {
				t.Fatalf("hold: %d %+v", code, info)
			}
			r := bc.Audio()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			// Five packets in a row (100 ms of a 300 ms beep): a voice may
			// have a single packet a frequency dominates.
			music, err := r.WaitSteady(ctx, asked, tc.hears, 5)
			if err != nil {
				t.Fatalf("bob never hears the %v Hz music (%s)", tc.hears, audio(bc, asked, time.Now()))
			}
			// The announcement: before the music, bob hears a voice, not
			// a tone, not alice.
			if d := music.Sub(asked); d < time.Second {
				t.Errorf("the music came %v after the hold: no room for the announcement", d)
			}
			if f := r.Other(asked.Add(200*time.Millisecond), music, holdHz, otherHz, aliceHz); f < 0.3 {
				t.Errorf("before the music bob hears the announcement in only %.0f%% of packets (%s)", 100*f, audio(bc, asked, music))
			}
			if f := r.Hears(asked.Add(100*time.Millisecond), music, aliceHz); f > 0.02 {
				t.Errorf("bob still hears alice during the announcement in %.0f%% of packets", 100*f)
			}
			// Then the music of this hold only.
			from := music.Add(100 * time.Millisecond)
			time.Sleep(window + 100*time.Millisecond)
			to := time.Now()
			if f := r.Hears(from, to, tc.hears); f < 0.2 {
				t.Errorf("bob hears the %v Hz music in only %.0f%% of packets (%s)", tc.hears, 100*f, audio(bc, from, to))
			}
			// The voice may have a lone packet at either frequency; a tone
			// is Present in far more (over 20%, see above).
			if f := r.Hears(asked, to, tc.never); f > 0.05 {
				t.Errorf("bob hears the other music (%v Hz) in %.0f%% of packets", tc.never, 100*f)
			}
			if f := r.Other(from, to, holdHz, otherHz); f > 0.1 {
				t.Errorf("after the announcement bob hears something other than the music in %.0f%% of packets", 100*f)
			}
			if code := l.api("POST", "/v1/calls/"+callID+"/unhold", `{"party":"caller"}`, &info); code != 200 || info.Caller.State != app.Live {
				t.Fatalf("resume: %d %+v", code, info)
			}
			l.hearsWithin(bc, aliceHz, "bob hears alice again")
		})
	}
	if code := l.api("DELETE", "/v1/calls/"+callID, "", nil); code != 200 {
		t.Fatalf("hangup: %d", code)
	}
	<-ac.Ended()
	<-bc.Ended()
	l.expectSequence(callID, started, answered, holdOK, unholdOK, holdOK, unholdOK, ended)
}
