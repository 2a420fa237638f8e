package holdmusic_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/holdmusic"
)

// fakeCall is one recorded request to fakeARI.
type fakeCall struct {
	Method     string
	ChannelID  string
	PlaybackID string
	Class      string
	Media      []string
}

// fakeARI records every request and fails the ones named in fail.
type fakeARI struct {
	calls []fakeCall
	fail  map[string]error // method name -> error to return
}

func (f *fakeARI) err(method string) error {
	if f.fail == nil {
		return nil
	}
	return f.fail[method]
}

func (f *fakeARI) Play(_ context.Context, channelID, playbackID string, media ...string) (*ari.Playback, error) {
	f.calls = append(f.calls, fakeCall{Method: "Play", ChannelID: channelID, PlaybackID: playbackID, Media: slices.Clone(media)})
	if err := f.err("Play"); err != nil {
		return nil, err
	}
	return &ari.Playback{ID: playbackID, TargetURI: "channel:" + channelID, State: "queued"}, nil
}

func (f *fakeARI) StopPlayback(_ context.Context, playbackID string) error {
	f.calls = append(f.calls, fakeCall{Method: "StopPlayback", PlaybackID: playbackID})
	return f.err("StopPlayback")
}

func (f *fakeARI) StartMOH(_ context.Context, channelID, class string) error {
	f.calls = append(f.calls, fakeCall{Method: "StartMOH", ChannelID: channelID, Class: class})
	return f.err("StartMOH")
}

func (f *fakeARI) StopMOH(_ context.Context, channelID string) error {
	f.calls = append(f.calls, fakeCall{Method: "StopMOH", ChannelID: channelID})
	return f.err("StopMOH")
}

var _ holdmusic.ARI = (*fakeARI)(nil)

func mustNew(t *testing.T, cfg holdmusic.Config) *holdmusic.Source {
	t.Helper()
	s, err := holdmusic.New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return s
}

func sameCalls(t *testing.T, got, want []fakeCall) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("ARI calls:\n got %+v\nwant %+v", got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Method != w.Method || g.ChannelID != w.ChannelID || g.PlaybackID != w.PlaybackID || g.Class != w.Class || !slices.Equal(g.Media, w.Media) {
			t.Fatalf("ARI call %d:\n got %+v\nwant %+v\n(all: %+v)", i, g, w, got)
		}
	}
}

func TestUnitNew(t *testing.T) {
	tests := []struct {
		name     string
		cfg      holdmusic.Config
		wantErr  []string // substrings of the error; nil: no error
		mode     holdmusic.Mode
		describe string
	}{
		{name: "zero config is the default tone", cfg: holdmusic.Config{}, mode: holdmusic.ModeTone, describe: "tone:" + holdmusic.DefaultTone},
		{name: "tone mode without tone is the default tone", cfg: holdmusic.Config{Mode: holdmusic.ModeTone}, mode: holdmusic.ModeTone, describe: "tone:440/500|0/2500"},
		{name: "tone with tone: prefix", cfg: holdmusic.Config{Tone: "tone:425/200|0/200"}, mode: holdmusic.ModeTone, describe: "tone:425/200|0/200"},
		{name: "tone without prefix", cfg: holdmusic.Config{Mode: holdmusic.ModeTone, Tone: "425/200|0/200"}, mode: holdmusic.ModeTone, describe: "tone:425/200|0/200"},
		{name: "bare tone: prefix is the default tone", cfg: holdmusic.Config{Tone: "tone:"}, mode: holdmusic.ModeTone, describe: "tone:" + holdmusic.DefaultTone},
		{name: "tone with two frequencies, ! and no duration", cfg: holdmusic.Config{Tone: "!350+440/100|480*620"}, mode: holdmusic.ModeTone, describe: "tone:!350+440/100|480*620"},
		{name: "tone at 20000 Hz", cfg: holdmusic.Config{Tone: "20000/100"}, mode: holdmusic.ModeTone, describe: "tone:20000/100"},
		{name: "tone with comma", cfg: holdmusic.Config{Tone: "440,0/2500"}, wantErr: []string{"'|'", "','"}},
		{name: "tone with comma after prefix", cfg: holdmusic.Config{Tone: "tone:440/500,0/2500"}, wantErr: []string{"'|'"}},
		{name: "tone letters", cfg: holdmusic.Config{Tone: "abc"}, wantErr: []string{`"abc"`, "FREQ"}},
		{name: "tone empty part", cfg: holdmusic.Config{Tone: "440/500|"}, wantErr: []string{"FREQ"}},
		{name: "tone musical note form refused", cfg: holdmusic.Config{Tone: "M440/500"}, wantErr: []string{"FREQ"}},
		{name: "tone frequency above 20000", cfg: holdmusic.Config{Tone: "20001/500"}, wantErr: []string{"20001", "above 20000"}},
		{name: "tone second frequency above 20000", cfg: holdmusic.Config{Tone: "440+99999/500"}, wantErr: []string{"99999"}},
		{name: "tone frequency above 20000 behind !", cfg: holdmusic.Config{Tone: "440/500|!30000/10"}, wantErr: []string{"30000"}},
		{name: "moh default class", cfg: holdmusic.Config{Mode: holdmusic.ModeMOH}, mode: holdmusic.ModeMOH, describe: "moh:default"},
		{name: "moh class", cfg: holdmusic.Config{Mode: holdmusic.ModeMOH, Class: "my_class-2"}, mode: holdmusic.ModeMOH, describe: "moh:my_class-2"},
		{name: "moh class with space", cfg: holdmusic.Config{Mode: holdmusic.ModeMOH, Class: "my class"}, wantErr: []string{`"my class"`, "class"}},
		{name: "moh class with slash", cfg: holdmusic.Config{Mode: holdmusic.ModeMOH, Class: "../x"}, wantErr: []string{"class"}},
		{name: "moh class with comma", cfg: holdmusic.Config{Mode: holdmusic.ModeMOH, Class: "a,b"}, wantErr: []string{"class"}},
		{name: "sounds", cfg: holdmusic.Config{Mode: holdmusic.ModeSounds, Sounds: []string{"hello-world", "sound:custom/hold_1.v2"}}, mode: holdmusic.ModeSounds, describe: "sound:hello-world,sound:custom/hold_1.v2"},
		{name: "sounds nil list", cfg: holdmusic.Config{Mode: holdmusic.ModeSounds}, wantErr: []string{"at least one sound"}},
		{name: "sounds empty list", cfg: holdmusic.Config{Mode: holdmusic.ModeSounds, Sounds: []string{}}, wantErr: []string{"at least one sound"}},
		{name: "sounds empty name", cfg: holdmusic.Config{Mode: holdmusic.ModeSounds, Sounds: []string{"sound:"}}, wantErr: []string{`"sound:"`}},
		{name: "sounds with comma", cfg: holdmusic.Config{Mode: holdmusic.ModeSounds, Sounds: []string{"a,b"}}, wantErr: []string{`"a,b"`, "no comma"}},
		{name: "sounds with dot-dot", cfg: holdmusic.Config{Mode: holdmusic.ModeSounds, Sounds: []string{"ok", "sound:../../etc/passwd"}}, wantErr: []string{`"sound:../../etc/passwd"`}},
		{name: "sounds with scheme", cfg: holdmusic.Config{Mode: holdmusic.ModeSounds, Sounds: []string{"recording:foo"}}, wantErr: []string{`"recording:foo"`}},
		{name: "unknown mode", cfg: holdmusic.Config{Mode: "radio"}, wantErr: []string{`"radio"`, "unknown mode"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := holdmusic.New(tt.cfg)
			// Validate refuses exactly what New refuses, with the same error.
			if verr := tt.cfg.Validate(); fmt.Sprint(verr) != fmt.Sprint(err) {
				t.Errorf("Validate() = %v, New's error %v", verr, err)
			}
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("New(%+v) = %v, want an error", tt.cfg, s.Describe())
				}
				if s != nil {
					t.Errorf("New returned a Source with an error")
				}
				if !errors.Is(err, holdmusic.ErrConfig) {
					t.Errorf("error %v does not match ErrConfig", err)
				}
				for _, sub := range tt.wantErr {
					if !strings.Contains(err.Error(), sub) {
						t.Errorf("error %q does not mention %q", err, sub)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("New(%+v): %v", tt.cfg, err)
			}
			if s.Mode() != tt.mode {
				t.Errorf("Mode() = %q, want %q", s.Mode(), tt.mode)
			}
			if got := s.Describe(); got != tt.describe {
				t.Errorf("Describe() = %q, want %q", got, tt.describe)
			}
		})
	}
}

// TestUnitValidate: each refusal wraps ErrConfig and names the field
// that holds the bad value.
func TestUnitValidate(t *testing.T) {
	tests := []struct {
		name  string
		cfg   holdmusic.Config
		field string // "": valid
	}{
		{name: "zero config", cfg: holdmusic.Config{}},
		{name: "moh without class", cfg: holdmusic.Config{Mode: holdmusic.ModeMOH}},
		{name: "fields of other modes are ignored", cfg: holdmusic.Config{Mode: holdmusic.ModeMOH, Tone: "bad,tone", Sounds: []string{"../x"}}},
		{name: "mode", cfg: holdmusic.Config{Mode: "radio"}, field: "Mode"},
		{name: "tone", cfg: holdmusic.Config{Tone: "440,0"}, field: "Tone"},
		{name: "tone frequency", cfg: holdmusic.Config{Tone: "30000"}, field: "Tone"},
		{name: "class", cfg: holdmusic.Config{Mode: holdmusic.ModeMOH, Class: "a b"}, field: "Class"},
		{name: "no sounds", cfg: holdmusic.Config{Mode: holdmusic.ModeSounds}, field: "Sounds"},
		{name: "second sound", cfg: holdmusic.Config{Mode: holdmusic.ModeSounds, Sounds: []string{"a", "b,c"}}, field: "Sounds[1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate(%+v): %v", tt.cfg, err)
				}
				return
			}
			if !errors.Is(err, holdmusic.ErrConfig) {
				t.Fatalf("Validate(%+v) = %v, want an error wrapping ErrConfig", tt.cfg, err)
			}
			if !strings.HasPrefix(err.Error(), holdmusic.ErrConfig.Error()+": "+tt.field) {
				t.Errorf("error %q does not name the field %s", err, tt.field)
			}
		})
	}
}

func TestUnitWithDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   holdmusic.Config
		want holdmusic.Config
	}{
		{name: "zero", in: holdmusic.Config{}, want: holdmusic.Config{Mode: holdmusic.ModeTone, Tone: holdmusic.DefaultTone}},
		{name: "bare tone prefix", in: holdmusic.Config{Tone: "tone:"}, want: holdmusic.Config{Mode: holdmusic.ModeTone, Tone: holdmusic.DefaultTone}},
		{name: "tone kept", in: holdmusic.Config{Tone: "tone:425"}, want: holdmusic.Config{Mode: holdmusic.ModeTone, Tone: "tone:425"}},
		{name: "moh class", in: holdmusic.Config{Mode: holdmusic.ModeMOH}, want: holdmusic.Config{Mode: holdmusic.ModeMOH, Class: holdmusic.DefaultClass}},
		{name: "moh leaves the tone empty", in: holdmusic.Config{Mode: holdmusic.ModeMOH, Class: "jazz"}, want: holdmusic.Config{Mode: holdmusic.ModeMOH, Class: "jazz"}},
		{name: "sounds have no default", in: holdmusic.Config{Mode: holdmusic.ModeSounds}, want: holdmusic.Config{Mode: holdmusic.ModeSounds}},
		{name: "unknown mode kept", in: holdmusic.Config{Mode: "radio"}, want: holdmusic.Config{Mode: "radio"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.in.WithDefaults()
			if got.Mode != tt.want.Mode || got.Tone != tt.want.Tone || got.Class != tt.want.Class || !slices.Equal(got.Sounds, tt.want.Sounds) {
				t.Errorf("WithDefaults(%+v) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestUnitParseMedia(t *testing.T) {
	tests := []struct {
		in      string
		want    holdmusic.Config
		wantErr string // substring; "" means no error
	}{
		{in: "tone:440/500|0/2500", want: holdmusic.Config{Mode: holdmusic.ModeTone, Tone: "440/500|0/2500"}},
		{in: "tone:425", want: holdmusic.Config{Mode: holdmusic.ModeTone, Tone: "425"}},
		{in: "tone:440,0/2500", wantErr: "'|'"},
		{in: "tone:abc", wantErr: "abc"},
		{in: "tone:30000/100", wantErr: "above 20000"},
		{in: "moh", want: holdmusic.Config{Mode: holdmusic.ModeMOH}},
		{in: "moh:default", want: holdmusic.Config{Mode: holdmusic.ModeMOH, Class: "default"}},
		{in: "moh:jazz_2", want: holdmusic.Config{Mode: holdmusic.ModeMOH, Class: "jazz_2"}},
		{in: "moh:", wantErr: "empty music-on-hold class"},
		{in: "tone:", wantErr: "empty tone"},
		{in: "moh:bad class", wantErr: "class"},
		{in: "sound:a", want: holdmusic.Config{Mode: holdmusic.ModeSounds, Sounds: []string{"sound:a"}}},
		{in: "sound:a|sound:b", want: holdmusic.Config{Mode: holdmusic.ModeSounds, Sounds: []string{"sound:a", "sound:b"}}},
		{in: "sound:a|b", wantErr: `item "b" does not start with "sound:"`},
		{in: "sound:a|", wantErr: `item "" does not start with "sound:"`},
		{in: "sound:a,sound:b", wantErr: "no comma"},
		{in: "sound:../x", wantErr: `".."`},
		{in: "sound:", wantErr: `"sound:"`},
		{in: "bogus", wantErr: "want tone:SPEC"},
		{in: "", wantErr: "want tone:SPEC"},
		{in: "MOH", wantErr: "want tone:SPEC"},
		{in: "440/500", wantErr: "want tone:SPEC"},
	}
	for _, tt := range tests {
		name := tt.in
		if name == "" {
			name = "empty"
		}
		t.Run(name, func(t *testing.T) {
			got, err := holdmusic.ParseMedia(tt.in)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("ParseMedia(%q) = %+v, want an error", tt.in, got)
				}
				if !errors.Is(err, holdmusic.ErrConfig) {
					t.Errorf("error %v does not match ErrConfig", err)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q does not mention %q", err, tt.wantErr)
				}
				if got.Mode != "" || got.Tone != "" || got.Class != "" || got.Sounds != nil {
					t.Errorf("ParseMedia returned %+v with an error, want the zero Config", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseMedia(%q): %v", tt.in, err)
			}
			if got.Mode != tt.want.Mode || got.Tone != tt.want.Tone || got.Class != tt.want.Class || !slices.Equal(got.Sounds, tt.want.Sounds) {
				t.Errorf("ParseMedia(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			// What ParseMedia accepts, New accepts.
			if _, err := holdmusic.New(got); err != nil {
				t.Errorf("New(ParseMedia(%q)): %v", tt.in, err)
			}
		})
	}
}

func TestUnitDescribeAndMedia(t *testing.T) {
	tests := []struct {
		name     string
		cfg      holdmusic.Config
		describe string
		media    string
	}{
		{name: "tone", cfg: holdmusic.Config{}, describe: "tone:440/500|0/2500", media: "tone:440/500|0/2500"},
		{name: "moh default", cfg: holdmusic.Config{Mode: holdmusic.ModeMOH}, describe: "moh:default", media: "moh:default"},
		{name: "moh class", cfg: holdmusic.Config{Mode: holdmusic.ModeMOH, Class: "jazz"}, describe: "moh:jazz", media: "moh:jazz"},
		{name: "one sound", cfg: holdmusic.Config{Mode: holdmusic.ModeSounds, Sounds: []string{"a"}}, describe: "sound:a", media: "sound:a"},
		{name: "sounds", cfg: holdmusic.Config{Mode: holdmusic.ModeSounds, Sounds: []string{"sound:a", "b"}}, describe: "sound:a,sound:b", media: "sound:a|sound:b"},
		{name: "sound URL", cfg: holdmusic.Config{Mode: holdmusic.ModeSounds, Sounds: []string{"https://example.com/hold.wav"}}, describe: "sound:https://example.com/hold.wav", media: "sound:https://example.com/hold.wav"},
		{name: "announcement is not part of the media", cfg: holdmusic.Config{Announcement: "pls-hold-while-try"}, describe: "tone:440/500|0/2500", media: "tone:440/500|0/2500"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustNew(t, tt.cfg)
			if got := s.Describe(); got != tt.describe {
				t.Errorf("Describe() = %q, want %q", got, tt.describe)
			}
			if got := s.Media(); got != tt.media {
				t.Errorf("Media() = %q, want %q", got, tt.media)
			}
			// Media reads back as the same music.
			cfg, err := holdmusic.ParseMedia(s.Media())
			if err != nil {
				t.Fatalf("ParseMedia(%q): %v", s.Media(), err)
			}
			if got := mustNew(t, cfg).Media(); got != tt.media {
				t.Errorf("ParseMedia(Media()) is %q, want %q", got, tt.media)
			}
		})
	}
}

// TestUnitURLSounds: a sound may be an http(s) URL Asterisk fetches, but
// nothing that would break ARI's media list or ariapp's own separator.
func TestUnitURLSounds(t *testing.T) {
	tests := []struct {
		media string
		ok    bool
	}{
		{"sound:https://example.com/hold.wav", true},
		{"sound:http://10.0.0.1:8080/music/hold.ulaw", true},
		{"sound:https://example.com/a.wav|sound:beep", true},
		{"sound:https://example.com/a,b.wav", false},
		{"sound:https://", false},
		{"sound:ftp://example.com/hold.wav", false},
		{"sound:https://example.com/a b.wav", false},
		{"sound:file:///etc/passwd", false},
	}
	for _, tt := range tests {
		t.Run(tt.media, func(t *testing.T) {
			_, err := holdmusic.ParseMedia(tt.media)
			if (err == nil) != tt.ok {
				t.Fatalf("ParseMedia(%q) = %v, want ok %v", tt.media, err, tt.ok)
			}
			if err != nil && (!errors.Is(err, holdmusic.ErrConfig) || !strings.Contains(err.Error(), "URL")) {
				t.Errorf("error %v: want ErrConfig naming URLs as an option", err)
			}
		})
	}
}

// TestUnitAnnouncement: the announcement plays once before the music:
// as the first item of the music's own playback (tone, sounds), or as a
// playback of its own after which the music on hold starts.
func TestUnitAnnouncement(t *testing.T) {
	const ann = "sound:pls-hold-while-try"
	ctx := context.Background()
	t.Run("tone in one playback", func(t *testing.T) {
		s := mustNew(t, holdmusic.Config{Announcement: "pls-hold-while-try"})
		if s.Announcement() != ann {
			t.Errorf("Announcement() = %q", s.Announcement())
		}
		f := &fakeARI{}
		p, err := s.Start(ctx, f, "ch1", "pb")
		if err != nil {
			t.Fatal(err)
		}
		sameCalls(t, f.calls, []fakeCall{{Method: "Play", ChannelID: "ch1", PlaybackID: "pb", Media: []string{ann, "tone:440/500|0/2500"}}})
		if p.PlaybackID != "pb" || !p.ExpectsEvents() || p.Media() != "tone:440/500|0/2500" {
			t.Errorf("playing %+v, media %q", p, p.Media())
		}
	})
	t.Run("sounds repeat without it", func(t *testing.T) {
		s := mustNew(t, holdmusic.Config{Mode: holdmusic.ModeSounds, Sounds: []string{"a"}, Announcement: ann})
		f := &fakeARI{}
		p, err := s.Start(ctx, f, "ch1", "pb")
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := s.Restart(ctx, f, p); !ok || err != nil {
			t.Fatalf("Restart = %v, %v", ok, err)
		}
		sameCalls(t, f.calls, []fakeCall{
			{Method: "Play", ChannelID: "ch1", PlaybackID: "pb", Media: []string{ann, "sound:a"}},
			{Method: "Play", ChannelID: "ch1", PlaybackID: "pb-2", Media: []string{"sound:a"}},
		})
	})
	t.Run("moh after its own playback", func(t *testing.T) {
		s := mustNew(t, holdmusic.Config{Mode: holdmusic.ModeMOH, Class: "jazz", Announcement: ann})
		f := &fakeARI{}
		p, err := s.Start(ctx, f, "ch1", "pb")
		if err != nil {
			t.Fatal(err)
		}
		if p.PlaybackID != "pb" || p.NextPlaybackID() != "" {
			t.Fatalf("announcement playing %+v, next %q: want playback pb, no next playback", p, p.NextPlaybackID())
		}
		if ok, err := s.Restart(ctx, f, p); !ok || err != nil {
			t.Fatalf("Restart after the announcement = %v, %v", ok, err)
		}
		if p.ExpectsEvents() {
			t.Errorf("music on hold after the announcement expects events: %+v", p)
		}
		// Music on hold loops by itself; a second restart does nothing.
		if ok, err := s.Restart(ctx, f, p); ok || err != nil {
			t.Fatalf("second Restart = %v, %v", ok, err)
		}
		if err := s.Stop(ctx, f, p); err != nil {
			t.Fatal(err)
		}
		sameCalls(t, f.calls, []fakeCall{
			{Method: "Play", ChannelID: "ch1", PlaybackID: "pb", Media: []string{ann}},
			{Method: "StartMOH", ChannelID: "ch1", Class: "jazz"},
			{Method: "StopMOH", ChannelID: "ch1"},
		})
	})
	t.Run("moh stopped during the announcement", func(t *testing.T) {
		s := mustNew(t, holdmusic.Config{Mode: holdmusic.ModeMOH, Announcement: ann})
		f := &fakeARI{}
		p, err := s.Start(ctx, f, "ch1", "pb")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Stop(ctx, f, p); err != nil {
			t.Fatal(err)
		}
		sameCalls(t, f.calls, []fakeCall{
			{Method: "Play", ChannelID: "ch1", PlaybackID: "pb", Media: []string{ann}},
			{Method: "StopPlayback", PlaybackID: "pb"},
		})
	})
	t.Run("continue adopted music on hold", func(t *testing.T) {
		for _, tt := range []struct {
			name string
			cfg  holdmusic.Config
			want []fakeCall
		}{
			{"moh after an announcement", holdmusic.Config{Mode: holdmusic.ModeMOH, Announcement: ann}, []fakeCall{{Method: "StartMOH", ChannelID: "ch1", Class: "default"}}},
			{"moh without announcement", holdmusic.Config{Mode: holdmusic.ModeMOH}, nil},
			{"tone", holdmusic.Config{Announcement: ann}, nil},
		} {
			t.Run(tt.name, func(t *testing.T) {
				s := mustNew(t, tt.cfg)
				f := &fakeARI{}
				sent, err := s.Continue(ctx, f, s.Adopt("ch1", s.Media()))
				if err != nil || sent != (tt.want != nil) {
					t.Fatalf("Continue = %v, %v", sent, err)
				}
				sameCalls(t, f.calls, tt.want)
			})
		}
	})
	t.Run("invalid", func(t *testing.T) {
		for _, bad := range []string{"tone:440", "moh:default", "sound:a,b", "sound:../x", "sound:a|sound:b"} {
			err := holdmusic.Config{Announcement: bad}.Validate()
			if !errors.Is(err, holdmusic.ErrConfig) || !strings.Contains(err.Error(), "Announcement") {
				t.Errorf("Announcement %q: %v, want ErrConfig naming Announcement", bad, err)
			}
		}
	})
}

func TestUnitStart(t *testing.T) {
	tests := []struct {
		name       string
		cfg        holdmusic.Config
		want       fakeCall
		expects    bool
		playbackID string
	}{
		{
			name:       "default tone",
			cfg:        holdmusic.Config{},
			want:       fakeCall{Method: "Play", ChannelID: "ch1", PlaybackID: "pb1", Media: []string{"tone:440/500|0/2500"}},
			expects:    true,
			playbackID: "pb1",
		},
		{
			name:       "tone with prefix",
			cfg:        holdmusic.Config{Tone: "tone:425/200|0/200"},
			want:       fakeCall{Method: "Play", ChannelID: "ch1", PlaybackID: "pb1", Media: []string{"tone:425/200|0/200"}},
			expects:    true,
			playbackID: "pb1",
		},
		{
			name:    "moh",
			cfg:     holdmusic.Config{Mode: holdmusic.ModeMOH, Class: "jazz"},
			want:    fakeCall{Method: "StartMOH", ChannelID: "ch1", Class: "jazz"},
			expects: false,
		},
		{
			name:    "moh default class",
			cfg:     holdmusic.Config{Mode: holdmusic.ModeMOH},
			want:    fakeCall{Method: "StartMOH", ChannelID: "ch1", Class: "default"},
			expects: false,
		},
		{
			name:       "sounds",
			cfg:        holdmusic.Config{Mode: holdmusic.ModeSounds, Sounds: []string{"a", "sound:b"}},
			want:       fakeCall{Method: "Play", ChannelID: "ch1", PlaybackID: "pb1", Media: []string{"sound:a", "sound:b"}},
			expects:    true,
			playbackID: "pb1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustNew(t, tt.cfg)
			f := &fakeARI{}
			p, err := s.Start(context.Background(), f, "ch1", "pb1")
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			sameCalls(t, f.calls, []fakeCall{tt.want})
			if p.ChannelID != "ch1" {
				t.Errorf("ChannelID = %q, want ch1", p.ChannelID)
			}
			if p.PlaybackID != tt.playbackID {
				t.Errorf("PlaybackID = %q, want %q", p.PlaybackID, tt.playbackID)
			}
			if p.ExpectsEvents() != tt.expects {
				t.Errorf("ExpectsEvents() = %v, want %v", p.ExpectsEvents(), tt.expects)
			}
			if p.Loops != 0 {
				t.Errorf("Loops = %d, want 0", p.Loops)
			}
		})
	}
}

func TestUnitStartFailure(t *testing.T) {
	tests := []struct {
		name   string
		cfg    holdmusic.Config
		method string
	}{
		{name: "tone", cfg: holdmusic.Config{}, method: "Play"},
		{name: "moh", cfg: holdmusic.Config{Mode: holdmusic.ModeMOH}, method: "StartMOH"},
		{name: "sounds", cfg: holdmusic.Config{Mode: holdmusic.ModeSounds, Sounds: []string{"a"}}, method: "Play"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustNew(t, tt.cfg)
			ariErr := fmt.Errorf("%w: 412 channel not answered", ari.ErrPreconditionFailed)
			f := &fakeARI{fail: map[string]error{tt.method: ariErr}}
			p, err := s.Start(context.Background(), f, "ch1", "pb1")
			if err == nil {
				t.Fatalf("Start succeeded (%+v), want an error", p)
			}
			if p != nil {
				t.Errorf("Start returned %+v with an error", p)
			}
			if !errors.Is(err, holdmusic.ErrNotStarted) {
				t.Errorf("error %v does not match ErrNotStarted", err)
			}
			if !errors.Is(err, ari.ErrPreconditionFailed) || !errors.Is(err, ariErr) {
				t.Errorf("error %v does not wrap the ARI error", err)
			}
			if errors.Is(err, holdmusic.ErrConfig) {
				t.Errorf("error %v matches an unrelated sentinel", err)
			}
			if !strings.Contains(err.Error(), "ch1") {
				t.Errorf("error %q does not name the channel", err)
			}
		})
	}
}

func TestUnitStop(t *testing.T) {
	other := fmt.Errorf("%w: 400 boom", ari.ErrBadRequest)
	tests := []struct {
		name    string
		cfg     holdmusic.Config
		stopErr error // returned by the fake's stop method
		want    fakeCall
		wantErr error // nil: Stop must return nil
	}{
		{name: "tone", cfg: holdmusic.Config{}, want: fakeCall{Method: "StopPlayback", PlaybackID: "pb1"}},
		{name: "sounds", cfg: holdmusic.Config{Mode: holdmusic.ModeSounds, Sounds: []string{"a"}}, want: fakeCall{Method: "StopPlayback", PlaybackID: "pb1"}},
		{name: "moh", cfg: holdmusic.Config{Mode: holdmusic.ModeMOH}, want: fakeCall{Method: "StopMOH", ChannelID: "ch1"}},
		{
			name:    "tone already ended",
			cfg:     holdmusic.Config{},
			stopErr: fmt.Errorf("%w", ari.ErrPlaybackNotFound),
			want:    fakeCall{Method: "StopPlayback", PlaybackID: "pb1"},
		},
		{
			name:    "tone already ended, wrapped with ErrNotFound",
			cfg:     holdmusic.Config{},
			stopErr: fmt.Errorf("ari: DELETE /playbacks/pb1: 404 Playback not found: %w %w", ari.ErrNotFound, ari.ErrPlaybackNotFound),
			want:    fakeCall{Method: "StopPlayback", PlaybackID: "pb1"},
		},
		{
			name:    "tone other error",
			cfg:     holdmusic.Config{},
			stopErr: other,
			want:    fakeCall{Method: "StopPlayback", PlaybackID: "pb1"},
			wantErr: other,
		},
		{
			name:    "tone channel gone is not a finished playback",
			cfg:     holdmusic.Config{},
			stopErr: fmt.Errorf("%w %w", ari.ErrNotFound, ari.ErrChannelNotFound),
			want:    fakeCall{Method: "StopPlayback", PlaybackID: "pb1"},
			wantErr: ari.ErrChannelNotFound,
		},
		{
			name:    "moh error",
			cfg:     holdmusic.Config{Mode: holdmusic.ModeMOH},
			stopErr: other,
			want:    fakeCall{Method: "StopMOH", ChannelID: "ch1"},
			wantErr: other,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustNew(t, tt.cfg)
			f := &fakeARI{}
			p, err := s.Start(context.Background(), f, "ch1", "pb1")
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			f.calls = nil
			if tt.stopErr != nil {
				f.fail = map[string]error{"StopPlayback": tt.stopErr, "StopMOH": tt.stopErr}
			}
			err = s.Stop(context.Background(), f, p)
			sameCalls(t, f.calls, []fakeCall{tt.want})
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Stop: %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Stop: %v, want %v", err, tt.wantErr)
			}
		})
	}

	// Music adopted after a restart is stopped as what it is, whatever the
	// mode configured now.
	t.Run("adopted across a mode change", func(t *testing.T) {
		for _, tt := range []struct {
			name  string
			cfg   holdmusic.Config
			label string
			want  fakeCall
		}{
			{"playback under moh", holdmusic.Config{Mode: holdmusic.ModeMOH}, "c1-music-x1", fakeCall{Method: "StopPlayback", PlaybackID: "c1-music-x1"}},
			{"moh under tone", holdmusic.Config{}, "moh:default", fakeCall{Method: "StopMOH", ChannelID: "ch1"}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				f := &fakeARI{}
				if err := mustNew(t, tt.cfg).Stop(context.Background(), f, mustNew(t, tt.cfg).Adopt("ch1", tt.label)); err != nil {
					t.Fatalf("Stop: %v", err)
				}
				sameCalls(t, f.calls, []fakeCall{tt.want})
			})
		}
	})

	t.Run("nil playing", func(t *testing.T) {
		f := &fakeARI{}
		if err := mustNew(t, holdmusic.Config{}).Stop(context.Background(), f, nil); err != nil {
			t.Fatalf("Stop(nil): %v", err)
		}
		sameCalls(t, f.calls, nil)
	})
}

func TestUnitRestart(t *testing.T) {
	t.Run("sounds play again, alternating between two ids", func(t *testing.T) {
		s := mustNew(t, holdmusic.Config{Mode: holdmusic.ModeSounds, Sounds: []string{"a", "b"}})
		f := &fakeARI{}
		ctx := context.Background()
		p, err := s.Start(ctx, f, "ch1", "c1-music-3")
		if err != nil {
			t.Fatalf("Start: %v", err)
		}
		want := []fakeCall{{Method: "Play", ChannelID: "ch1", PlaybackID: "c1-music-3", Media: []string{"sound:a", "sound:b"}}}
		for loop := 1; loop <= 3; loop++ {
			next := p.NextPlaybackID()
			// Never the id that just finished (Asterisk forgets it a
			// moment after PlaybackFinished).
			wantNext := "c1-music-3-2"
			if loop%2 == 0 {
				wantNext = "c1-music-3"
			}
			if next != wantNext {
				t.Fatalf("loop %d: NextPlaybackID() = %q, want %q", loop, next, wantNext)
			}
			ok, err := s.Restart(ctx, f, p)
			if err != nil || !ok {
				t.Fatalf("loop %d: Restart = %v, %v; want true, nil", loop, ok, err)
			}
			if p.Loops != loop {
				t.Errorf("loop %d: Loops = %d", loop, p.Loops)
			}
			if p.PlaybackID != next {
				t.Errorf("loop %d: PlaybackID = %q, want %q", loop, p.PlaybackID, next)
			}
			if !p.ExpectsEvents() {
				t.Errorf("loop %d: ExpectsEvents() = false", loop)
			}
			want = append(want, fakeCall{Method: "Play", ChannelID: "ch1", PlaybackID: next, Media: []string{"sound:a", "sound:b"}})
		}
		sameCalls(t, f.calls, want)

		// Stop stops the current (latest) playback.
		f.calls = nil
		if err := s.Stop(ctx, f, p); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		sameCalls(t, f.calls, []fakeCall{{Method: "StopPlayback", PlaybackID: "c1-music-3-2"}})
	})

	t.Run("failed restart changes nothing", func(t *testing.T) {
		s := mustNew(t, holdmusic.Config{Mode: holdmusic.ModeSounds, Sounds: []string{"a"}})
		f := &fakeARI{}
		ctx := context.Background()
		p, err := s.Start(ctx, f, "ch1", "pb")
		if err != nil {
			t.Fatalf("Start: %v", err)
		}
		ariErr := fmt.Errorf("%w: channel gone", ari.ErrChannelNotFound)
		f.fail = map[string]error{"Play": ariErr}
		ok, err := s.Restart(ctx, f, p)
		if ok || !errors.Is(err, holdmusic.ErrNotStarted) || !errors.Is(err, ari.ErrChannelNotFound) {
			t.Fatalf("Restart = %v, %v; want false and an error wrapping ErrNotStarted and the ARI error", ok, err)
		}
		if p.Loops != 0 || p.PlaybackID != "pb" || p.NextPlaybackID() != "pb-2" {
			t.Errorf("after a failed restart: Loops %d, PlaybackID %q, next %q", p.Loops, p.PlaybackID, p.NextPlaybackID())
		}
	})

	for _, tt := range []struct {
		name string
		cfg  holdmusic.Config
	}{
		{name: "tone loops by itself", cfg: holdmusic.Config{}},
		{name: "moh loops by itself", cfg: holdmusic.Config{Mode: holdmusic.ModeMOH}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := mustNew(t, tt.cfg)
			f := &fakeARI{}
			ctx := context.Background()
			p, err := s.Start(ctx, f, "ch1", "pb")
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			before := *p
			f.calls = nil
			ok, err := s.Restart(ctx, f, p)
			if ok || err != nil {
				t.Fatalf("Restart = %v, %v; want false, nil", ok, err)
			}
			sameCalls(t, f.calls, nil)
			if p.Loops != before.Loops || p.PlaybackID != before.PlaybackID {
				t.Errorf("Restart changed the playing: %+v -> %+v", before, *p)
			}
		})
	}
}

// TestUnitStopRetriesServerError: Asterisk answers a stop right after
// PlaybackStarted with 500 now and then; the stop is retried briefly, and
// a 500 that persists is returned.
func TestUnitStopRetriesServerError(t *testing.T) {
	s := mustNew(t, holdmusic.Config{})
	busy := fmt.Errorf("%w: 500 Could not stop playback", ari.ErrServer)
	t.Run("transient", func(t *testing.T) {
		f := &flakyStop{fails: 2, err: busy}
		if err := s.Stop(context.Background(), f, &holdmusic.Playing{ChannelID: "ch1", PlaybackID: "pb1"}); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		if f.calls != 3 {
			t.Fatalf("%d stop requests, want 3", f.calls)
		}
	})
	t.Run("persistent", func(t *testing.T) {
		f := &flakyStop{fails: 1000, err: busy}
		err := s.Stop(context.Background(), f, &holdmusic.Playing{ChannelID: "ch1", PlaybackID: "pb1"})
		if !errors.Is(err, ari.ErrServer) {
			t.Fatalf("Stop: %v, want the server error", err)
		}
		if f.calls < 2 || f.calls > 10 {
			t.Fatalf("%d stop requests: want a few retries, bounded", f.calls)
		}
	})
}

// flakyStop fails StopPlayback a number of times, then succeeds.
type flakyStop struct {
	fakeARI
	fails, calls int
	err          error
}

func (f *flakyStop) StopPlayback(context.Context, string) error {
	f.calls++
	if f.calls <= f.fails {
		return f.err
	}
	return nil
}

func TestUnitFindable(t *testing.T) {
	tests := []struct {
		name   string
		cfg    holdmusic.Config
		ids    []string // PlaybackIDs("c1-hold-callee")
		record bool
	}{
		{name: "tone", cfg: holdmusic.Config{}, ids: []string{"c1-hold-callee"}},
		{name: "sounds", cfg: holdmusic.Config{Mode: holdmusic.ModeSounds, Sounds: []string{"a"}}, ids: []string{"c1-hold-callee", "c1-hold-callee-2"}},
		// Music on hold runs as no playback; its announcement as one.
		{name: "moh", cfg: holdmusic.Config{Mode: holdmusic.ModeMOH}, ids: []string{"c1-hold-callee"}, record: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustNew(t, tt.cfg)
			if got := s.PlaybackIDs("c1-hold-callee"); !slices.Equal(got, tt.ids) {
				t.Errorf("PlaybackIDs = %q, want %q", got, tt.ids)
			}
			if got := s.NeedsRecord(); got != tt.record {
				t.Errorf("NeedsRecord = %v, want %v", got, tt.record)
			}
			// Music adopted under any of its ids goes on alternating.
			for _, id := range tt.ids {
				p := s.AdoptPlayback("ch1", "c1-hold-callee", id)
				if p.PlaybackID != id || !p.ExpectsEvents() {
					t.Errorf("AdoptPlayback(%q) = %+v", id, p)
				}
				if tt.cfg.Mode == holdmusic.ModeSounds {
					if next := p.NextPlaybackID(); next == id || !slices.Contains(tt.ids, next) {
						t.Errorf("adopted %q: NextPlaybackID = %q, want the other of %q", id, next, tt.ids)
					}
				}
			}
		})
	}
}
