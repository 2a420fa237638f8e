package holdmusic

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// medium is one kind of hold music: how it starts, whether it must be
// restarted to loop, and how a restarted ariapp finds it again.
type medium interface {
	mode() Mode
	describe() string
	// media is the one-string form ParseMedia reads.
	media() string
	playbackIDs(idBase string) []string
	needsRecord() bool
	// start plays intro (the announcement, may be empty), then the music.
	start(ctx context.Context, a ARI, channelID, idBase string, intro []string) (*Playing, error)
	restart(ctx context.Context, a ARI, p *Playing) (bool, error)
}

// newMedium builds the medium of a Config whose defaults are applied,
// validating the fields that medium uses.
func newMedium(c Config) (medium, error) {
	build, ok := builders[c.Mode]
	if !ok {
		return nil, fmt.Errorf("%w: Mode %q: unknown mode (want tone, moh or sounds)", ErrConfig, c.Mode)
	}
	return build(c)
}

var builders = map[Mode]func(Config) (medium, error){
	ModeTone:   newTone,
	ModeMOH:    newMOH,
	ModeSounds: newSounds,
}

// playlist is media played as one ARI playback: its id is the one
// PlaybackStarted/Finished report, and ARI answers for it by id
// (GET /playbacks/{id}), so it needs no record on the channel.
type playlist []string

func (pl playlist) describe() string  { return strings.Join(pl, ",") }
func (pl playlist) media() string     { return strings.Join(pl, "|") }
func (pl playlist) needsRecord() bool { return false }

// start plays intro and the list as one playback: Asterisk moves from the
// announcement to the music by itself, so nothing has to happen in
// between (and nothing can be missed while ariapp restarts), and one
// stop ends whichever item plays.
func (pl playlist) start(ctx context.Context, a ARI, channelID, idBase string, intro []string) (*Playing, error) {
	items := append(append(make([]string, 0, len(intro)+len(pl)), intro...), pl...)
	if _, err := a.Play(ctx, channelID, idBase, items...); err != nil {
		return nil, fmt.Errorf("%w: %s on %s: %w", ErrNotStarted, strings.Join(items, ","), channelID, err)
	}
	return &Playing{ChannelID: channelID, PlaybackID: idBase, base: idBase}, nil
}

// tone is an Asterisk tone list, which loops by itself until stopped.
type tone struct{ playlist }

// toneRe is one part of an Asterisk tone list: [!]freq[+freq2|*freq2][/duration],
// frequencies and durations in whole numbers (see indications.conf), or the
// "M" (musical note) forms, which ariapp does not need; they are refused.
var toneRe = regexp.MustCompile(`^!?\d{1,5}([+*]\d{1,5})?(/\d{1,6})?$`)

func newTone(c Config) (medium, error) {
	spec := strings.TrimPrefix(c.Tone, "tone:")
	if strings.Contains(spec, ",") {
		return nil, fmt.Errorf("%w: Tone %q contains ',': ARI splits media lists at commas; separate tone parts with '|'", ErrConfig, spec)
	}
	for _, part := range strings.Split(spec, "|") {
		if !toneRe.MatchString(part) {
			return nil, fmt.Errorf("%w: Tone %q: part %q is not FREQ[+FREQ][/MS]", ErrConfig, spec, part)
		}
		freqs := strings.FieldsFunc(strings.SplitN(strings.TrimPrefix(part, "!"), "/", 2)[0], func(r rune) bool { return r == '+' || r == '*' })
		for _, f := range freqs {
			if n, _ := strconv.Atoi(f); n > 20000 {
				return nil, fmt.Errorf("%w: Tone %q: frequency %d Hz is above 20000", ErrConfig, spec, n)
			}
		}
	}
	return tone{playlist{"tone:" + spec}}, nil
}

func (tone) mode() Mode                                           { return ModeTone }
func (tone) playbackIDs(idBase string) []string                   { return []string{idBase} }
func (tone) restart(context.Context, ARI, *Playing) (bool, error) { return false, nil }

// sounds is a list of sound files. Asterisk plays it once, so it is
// restarted after each PlaybackFinished, alternating between two ids.
type sounds struct{ playlist }

// loopSuffix marks every other loop of a sounds list. A restart does not
// reuse the id that just finished: Asterisk announces PlaybackFinished a
// moment before it forgets the playback, and a new playback under the
// same id in that moment would be ambiguous.
const loopSuffix = "-2"

// soundRe is a sound name: path characters Asterisk accepts, no scheme, no
// comma, no "..".
var soundRe = regexp.MustCompile(`^[A-Za-z0-9_\-./]+$`)

// sound returns the ARI media of a sound name ("hello-world" or
// "sound:hello-world") or of an http(s) URL Asterisk fetches into its media
// cache ("sound:https://host/hold.wav"); "" when s is neither.
func sound(s string) string {
	name := strings.TrimPrefix(s, "sound:")
	if strings.HasPrefix(name, "http://") || strings.HasPrefix(name, "https://") {
		u, err := url.Parse(name)
		// ',' would split ARI's media list, '|' ariapp's own.
		if err != nil || u.Host == "" || strings.ContainsAny(name, ",| \t") {
			return ""
		}
		return "sound:" + name
	}
	if !soundRe.MatchString(name) || strings.Contains(name, "..") {
		return ""
	}
	return "sound:" + name
}

// soundHint is what sound accepts, for error messages.
const soundHint = `a sound name such as "sound:hello-world" (letters, digits, '_', '-', '.', '/'; no comma, no "..") or an http(s) URL such as "sound:https://example.com/hold.wav"`

func newSounds(c Config) (medium, error) {
	if len(c.Sounds) == 0 {
		return nil, fmt.Errorf("%w: Sounds: mode sounds needs at least one sound", ErrConfig)
	}
	pl := make(playlist, 0, len(c.Sounds))
	for i, s := range c.Sounds {
		media := sound(s)
		if media == "" {
			return nil, fmt.Errorf("%w: Sounds[%d] %q: expected %s", ErrConfig, i, s, soundHint)
		}
		pl = append(pl, media)
	}
	return sounds{pl}, nil
}

// newAnnouncement checks Config.Announcement and returns it as the intro
// of every start (nil for none).
func newAnnouncement(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	media := sound(s)
	if media == "" {
		return nil, fmt.Errorf("%w: Announcement %q: expected %s", ErrConfig, s, soundHint)
	}
	return []string{media}, nil
}

func (sounds) mode() Mode                         { return ModeSounds }
func (sounds) playbackIDs(idBase string) []string { return []string{idBase, idBase + loopSuffix} }

func (s sounds) restart(ctx context.Context, a ARI, p *Playing) (bool, error) {
	next := p.NextPlaybackID()
	if _, err := a.Play(ctx, p.ChannelID, next, s.playlist...); err != nil {
		return false, fmt.Errorf("%w: restart %s on %s: %w", ErrNotStarted, s.describe(), p.ChannelID, err)
	}
	p.Loops++
	p.PlaybackID = next
	return true, nil
}

// moh is an Asterisk music-on-hold class. Asterisk confirms nothing (204,
// no event; an unknown class silently falls back to the default one), and
// ARI can neither list nor query music on hold, so the caller records it
// on the channel. An announcement is a playback of its own before it (MOH
// is no playback that could follow it in a media list): the music on hold
// starts as the announcement's restart, on its PlaybackFinished.
type moh struct{ class string }

var classRe = regexp.MustCompile(`^[A-Za-z0-9_\-]+$`)

func newMOH(c Config) (medium, error) {
	if !classRe.MatchString(c.Class) {
		return nil, fmt.Errorf("%w: Class %q: a music-on-hold class has only letters, digits, '_' and '-'", ErrConfig, c.Class)
	}
	return moh{class: c.Class}, nil
}

func (m moh) mode() Mode        { return ModeMOH }
func (m moh) describe() string  { return mohLabelPrefix + m.class }
func (m moh) media() string     { return m.describe() }
func (m moh) needsRecord() bool { return true }

// playbackIDs is the announcement's id: the only playback music on hold
// can run as.
func (m moh) playbackIDs(idBase string) []string { return []string{idBase} }

func (m moh) start(ctx context.Context, a ARI, channelID, idBase string, intro []string) (*Playing, error) {
	if len(intro) > 0 {
		if _, err := a.Play(ctx, channelID, idBase, intro...); err != nil {
			return nil, fmt.Errorf("%w: announcement %s on %s: %w", ErrNotStarted, strings.Join(intro, ","), channelID, err)
		}
		return &Playing{ChannelID: channelID, PlaybackID: idBase, base: idBase}, nil
	}
	if err := a.StartMOH(ctx, channelID, m.class); err != nil {
		return nil, fmt.Errorf("%w: moh %s on %s: %w", ErrNotStarted, m.class, channelID, err)
	}
	return &Playing{ChannelID: channelID, base: idBase}, nil
}

// restart starts the music on hold when the announcement before it ended;
// music on hold itself loops.
func (m moh) restart(ctx context.Context, a ARI, p *Playing) (bool, error) {
	if p.PlaybackID == "" {
		return false, nil
	}
	if err := a.StartMOH(ctx, p.ChannelID, m.class); err != nil {
		return false, fmt.Errorf("%w: moh %s on %s after the announcement: %w", ErrNotStarted, m.class, p.ChannelID, err)
	}
	p.PlaybackID = ""
	p.Loops++
	return true, nil
}

// mohLabelPrefix starts the Label of music on hold, which has no playback id.
const mohLabelPrefix = "moh:"
