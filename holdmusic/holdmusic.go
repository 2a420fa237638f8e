package holdmusic

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ariapp/ariapp/ari"
)

// Mode selects what a held party hears.
type Mode string

// Modes.
const (
	ModeTone   Mode = "tone"
	ModeMOH    Mode = "moh"
	ModeSounds Mode = "sounds"
)

// DefaultTone is a 440 Hz beep of half a second every three seconds, the
// classic "you are on hold" tone. '|' separates tone parts (a comma would
// split the ARI media list).
const DefaultTone = "440/500|0/2500"

// Config is holdmusic's configuration.
type Config struct {
	Mode   Mode     // default ModeTone
	Tone   string   // ModeTone: Asterisk tone list, e.g. "440/500|0/2500" (a leading "tone:" is accepted)
	Class  string   // ModeMOH: music-on-hold class; "" means "default"
	Sounds []string // ModeSounds: sound names, e.g. "hello-world" or "sound:hello-world"
}

// ErrConfig is returned by New for a configuration that cannot work.
var ErrConfig = errors.New("holdmusic: invalid configuration")

// ErrNotStarted: the music could not be started on the channel.
var ErrNotStarted = errors.New("holdmusic: could not start")

// ARI is the part of the ARI client holdmusic needs.
type ARI interface {
	Play(ctx context.Context, channelID, playbackID string, media ...string) (*ari.Playback, error)
	StopPlayback(ctx context.Context, playbackID string) error
	StartMOH(ctx context.Context, channelID, class string) error
	StopMOH(ctx context.Context, channelID string) error
}

// Source starts and stops hold music of one validated configuration.
// It has no state of its own and is safe for concurrent use.
type Source struct {
	mode  Mode
	media []string // tone or sounds media list
	class string
}

// toneRe is one part of an Asterisk tone list: [!]freq[+freq2|*freq2][/duration],
// frequencies and durations in whole numbers (see indications.conf), or the
// "M" (musical note) forms, which ariapp does not need; they are refused.
var toneRe = regexp.MustCompile(`^!?\d{1,5}([+*]\d{1,5})?(/\d{1,6})?$`)

// soundRe is a sound name: path characters Asterisk accepts, no scheme, no
// comma, no "..".
var soundRe = regexp.MustCompile(`^[A-Za-z0-9_\-./]+$`)

var classRe = regexp.MustCompile(`^[A-Za-z0-9_\-]+$`)

// New validates cfg and returns a Source.
func New(cfg Config) (*Source, error) {
	mode := cfg.Mode
	if mode == "" {
		mode = ModeTone
	}
	switch mode {
	case ModeTone:
		tone := strings.TrimPrefix(cfg.Tone, "tone:")
		if tone == "" {
			tone = DefaultTone
		}
		if err := validateTone(tone); err != nil {
			return nil, err
		}
		return &Source{mode: mode, media: []string{"tone:" + tone}}, nil
	case ModeMOH:
		class := cfg.Class
		if class == "" {
			class = "default"
		}
		if !classRe.MatchString(class) {
			return nil, fmt.Errorf("%w: music-on-hold class %q: only letters, digits, '_' and '-'", ErrConfig, class)
		}
		return &Source{mode: mode, class: class}, nil
	case ModeSounds:
		if len(cfg.Sounds) == 0 {
			return nil, fmt.Errorf("%w: mode sounds needs at least one sound", ErrConfig)
		}
		media := make([]string, 0, len(cfg.Sounds))
		for _, s := range cfg.Sounds {
			name := strings.TrimPrefix(s, "sound:")
			if !soundRe.MatchString(name) || strings.Contains(name, "..") {
				return nil, fmt.Errorf("%w: sound %q: expected a sound name such as \"sound:hello-world\" (letters, digits, '_', '-', '.', '/'; no comma, no \"..\")", ErrConfig, s)
			}
			media = append(media, "sound:"+name)
		}
		return &Source{mode: mode, media: media}, nil
	default:
		return nil, fmt.Errorf("%w: unknown mode %q (want tone, moh or sounds)", ErrConfig, cfg.Mode)
	}
}

func validateTone(tone string) error {
	if strings.Contains(tone, ",") {
		return fmt.Errorf("%w: tone %q contains ',': ARI splits media lists at commas; separate tone parts with '|'", ErrConfig, tone)
	}
	for _, part := range strings.Split(tone, "|") {
		if !toneRe.MatchString(part) {
			return fmt.Errorf("%w: tone %q: part %q is not FREQ[+FREQ][/MS]", ErrConfig, tone, part)
		}
		freqs := strings.FieldsFunc(strings.SplitN(strings.TrimPrefix(part, "!"), "/", 2)[0], func(r rune) bool { return r == '+' || r == '*' })
		for _, f := range freqs {
			if n, _ := strconv.Atoi(f); n > 20000 {
				return fmt.Errorf("%w: tone %q: frequency %d Hz is above 20000", ErrConfig, tone, n)
			}
		}
	}
	return nil
}

// Mode is the configured mode.
func (s *Source) Mode() Mode { return s.mode }

// Describe is a short text of what plays, for logs ("tone:440/500|0/2500",
// "moh:default", "sound:a,sound:b").
func (s *Source) Describe() string {
	if s.mode == ModeMOH {
		return "moh:" + s.class
	}
	return strings.Join(s.media, ",")
}

// Label names the music that Start(…, idBase) will play, for a record kept
// on the channel: the playback id, or "moh:CLASS".
func (s *Source) Label(idBase string) string {
	if s.mode == ModeMOH {
		return "moh:" + s.class
	}
	return idBase
}

// NeedsRecord reports whether music of this mode leaves no trace in
// Asterisk that a restarted ariapp could find, so the caller must record
// it (ModeMOH: ARI can neither list nor query music on hold). Tone and
// sounds run as playbacks whose ids PlaybackIDs derives from the idBase,
// which ARI answers for (GET /playbacks/{id}).
func (s *Source) NeedsRecord() bool { return s.mode == ModeMOH }

// PlaybackIDs lists every playback id music started with Start(…, idBase)
// can run under, for finding it again: idBase, and for ModeSounds the id
// its loop alternates with. Nil for ModeMOH.
func (s *Source) PlaybackIDs(idBase string) []string {
	switch s.mode {
	case ModeTone:
		return []string{idBase}
	case ModeSounds:
		return []string{idBase, idBase + loopSuffix}
	}
	return nil
}

// loopSuffix marks every other loop of a sounds list. A restart does not
// reuse the id that just finished: Asterisk announces PlaybackFinished a
// moment before it forgets the playback, and a new playback under the
// same id in that moment would be ambiguous.
const loopSuffix = "-2"

// Playing is hold music running on one channel.
type Playing struct {
	ChannelID string
	// PlaybackID is the ARI playback to expect PlaybackStarted/Finished for;
	// empty for ModeMOH, which Asterisk confirms with no event.
	PlaybackID string
	// Loops is how many times a sounds list has been restarted.
	Loops int
	base  string
}

// ExpectsEvents reports whether the start is confirmed by PlaybackStarted.
func (p *Playing) ExpectsEvents() bool { return p.PlaybackID != "" }

// Start starts the music on channelID. idBase is a unique prefix for the
// playback ids (the caller registers them to route events before the REST
// reply, which may come after the events).
func (s *Source) Start(ctx context.Context, a ARI, channelID, idBase string) (*Playing, error) {
	p := &Playing{ChannelID: channelID, base: idBase}
	if s.mode == ModeMOH {
		if err := a.StartMOH(ctx, channelID, s.class); err != nil {
			return nil, fmt.Errorf("%w: moh %s on %s: %w", ErrNotStarted, s.class, channelID, err)
		}
		return p, nil
	}
	p.PlaybackID = idBase
	if _, err := a.Play(ctx, channelID, p.PlaybackID, s.media...); err != nil {
		return nil, fmt.Errorf("%w: %s on %s: %w", ErrNotStarted, s.Describe(), channelID, err)
	}
	return p, nil
}

// Adopt describes music that is already running on a channel, from the
// Label it was started with (after an ariapp restart, from the channel's
// record): a playback id, or "moh:CLASS".
func (s *Source) Adopt(channelID, label string) *Playing {
	if strings.HasPrefix(label, "moh:") {
		return &Playing{ChannelID: channelID, base: label}
	}
	return &Playing{ChannelID: channelID, PlaybackID: label, base: label}
}

// AdoptPlayback describes music found running on a channel as playbackID,
// one of PlaybackIDs(idBase) (after an ariapp restart).
func (s *Source) AdoptPlayback(channelID, idBase, playbackID string) *Playing {
	p := &Playing{ChannelID: channelID, PlaybackID: playbackID, base: idBase}
	if playbackID != idBase {
		p.Loops = 1
	}
	return p
}

// NextPlaybackID is the id Restart will use; register it before calling
// Restart so its events can be routed. Loops alternate between the base id
// and the base id with loopSuffix.
func (p *Playing) NextPlaybackID() string {
	if p.Loops%2 == 0 {
		return p.base + loopSuffix
	}
	return p.base
}

// Restart plays a sounds list again after its PlaybackFinished (state done).
// It is a no-op returning false for modes that loop by themselves.
func (s *Source) Restart(ctx context.Context, a ARI, p *Playing) (bool, error) {
	if s.mode != ModeSounds {
		return false, nil
	}
	next := p.NextPlaybackID()
	if _, err := a.Play(ctx, p.ChannelID, next, s.media...); err != nil {
		return false, fmt.Errorf("%w: restart %s on %s: %w", ErrNotStarted, s.Describe(), p.ChannelID, err)
	}
	p.Loops++
	p.PlaybackID = next
	return true, nil
}

// Stop stops the music. A playback that already ended (404) counts as
// stopped; any other failure is returned.
func (s *Source) Stop(ctx context.Context, a ARI, p *Playing) error {
	if p == nil {
		return nil
	}
	// What plays decides, not the mode: music adopted after a restart may
	// have been started under another configuration.
	if p.PlaybackID == "" {
		return a.StopMOH(ctx, p.ChannelID)
	}
	err := a.StopPlayback(ctx, p.PlaybackID)
	// Asterisk 22 answers a stop that comes right after PlaybackStarted
	// with "500 Could not stop playback" now and then (about 1 in 80 on the
	// lab); the same stop a moment later works. Retry briefly.
	for delay := 2 * time.Millisecond; errors.Is(err, ari.ErrServer) && delay <= 64*time.Millisecond; delay *= 2 {
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		err = a.StopPlayback(ctx, p.PlaybackID)
	}
	if errors.Is(err, ari.ErrPlaybackNotFound) {
		return nil
	}
	return err
}

// ParseMedia reads the one-string form used in ariapp's config file:
//
//	tone:440/500|0/2500          an Asterisk tone (ModeTone)
//	moh  or  moh:CLASS           a music-on-hold class (ModeMOH)
//	sound:a|sound:b              sound files played in a loop (ModeSounds)
//
// '|' separates sounds, as it separates tone parts, because a comma would
// split ARI's media list. The result is validated as New validates it.
func ParseMedia(s string) (Config, error) {
	var cfg Config
	switch {
	case strings.HasPrefix(s, "tone:"):
		cfg = Config{Mode: ModeTone, Tone: strings.TrimPrefix(s, "tone:")}
		if cfg.Tone == "" {
			return Config{}, fmt.Errorf("%w: %q: empty tone (e.g. tone:%s)", ErrConfig, s, DefaultTone)
		}
	case s == "moh":
		cfg = Config{Mode: ModeMOH}
	case strings.HasPrefix(s, "moh:"):
		cfg = Config{Mode: ModeMOH, Class: strings.TrimPrefix(s, "moh:")}
		if cfg.Class == "" {
			return Config{}, fmt.Errorf("%w: %q: empty music-on-hold class", ErrConfig, s)
		}
	case strings.HasPrefix(s, "sound:"):
		cfg = Config{Mode: ModeSounds, Sounds: strings.Split(s, "|")}
		for _, item := range cfg.Sounds {
			if !strings.HasPrefix(item, "sound:") {
				return Config{}, fmt.Errorf("%w: %q: item %q does not start with sound:", ErrConfig, s, item)
			}
		}
	default:
		return Config{}, fmt.Errorf("%w: %q: want tone:SPEC, moh[:CLASS] or sound:NAME[|sound:NAME...]", ErrConfig, s)
	}
	if _, err := New(cfg); err != nil {
		return Config{}, err
	}
	return cfg, nil
}
