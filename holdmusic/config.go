package holdmusic

import (
	"fmt"
	"strings"
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

// DefaultClass is the music-on-hold class of ModeMOH when Class is empty.
const DefaultClass = "default"

// Config is holdmusic's configuration. Only the fields of the selected
// Mode are used.
type Config struct {
	Mode   Mode     // default ModeTone
	Tone   string   // ModeTone: Asterisk tone list, e.g. "440/500|0/2500" (a leading "tone:" is accepted); default DefaultTone
	Class  string   // ModeMOH: music-on-hold class; default DefaultClass
	Sounds []string // ModeSounds: sound names, e.g. "hello-world" or "sound:hello-world", or http(s) URLs; no default
	// Announcement is a sound the held party hears once before the music
	// ("please hold"), e.g. "sound:pls-hold-while-try" or an http(s) URL
	// as a sound; "" plays none.
	Announcement string
}

// WithDefaults returns c with its empty fields set to their defaults: the
// Mode, and the Tone or Class of that mode.
func (c Config) WithDefaults() Config {
	if c.Mode == "" {
		c.Mode = ModeTone
	}
	switch {
	case c.Mode == ModeTone && strings.TrimPrefix(c.Tone, "tone:") == "":
		c.Tone = DefaultTone
	case c.Mode == ModeMOH && c.Class == "":
		c.Class = DefaultClass
	}
	return c
}

// Validate reports why c cannot work, as an error wrapping ErrConfig that
// names the field; empty fields count as their defaults (WithDefaults).
func (c Config) Validate() error {
	_, err := New(c)
	return err
}

// ParseMedia reads the one-string form used in ariapp's config file:
//
//	tone:440/500|0/2500          an Asterisk tone (ModeTone)
//	moh  or  moh:CLASS           a music-on-hold class (ModeMOH)
//	sound:a|sound:b              sound files played in a loop (ModeSounds)
//	sound:https://host/hold.wav  a sound Asterisk fetches over http(s)
//
// '|' separates sounds, as it separates tone parts, because a comma would
// split ARI's media list. The result is validated as New validates it;
// Media gives the same form back.
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
				return Config{}, fmt.Errorf("%w: %q: item %q does not start with \"sound:\"", ErrConfig, s, item)
			}
		}
	default:
		return Config{}, fmt.Errorf("%w: %q: want tone:SPEC, moh[:CLASS] or sound:NAME[|sound:NAME...]", ErrConfig, s)
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}
