package holdmusic

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/internal/retry"
)

// ErrConfig is returned by New and Config.Validate for a configuration
// that cannot work.
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
	medium medium
	// intro is the announcement played before the music (nil: none).
	intro []string
}

// New applies cfg's defaults, validates it and returns a Source.
func New(cfg Config) (*Source, error) {
	m, err := newMedium(cfg.WithDefaults())
	if err != nil {
		return nil, err
	}
	intro, err := newAnnouncement(cfg.Announcement)
	if err != nil {
		return nil, err
	}
	return &Source{medium: m, intro: intro}, nil
}

// Mode is the configured mode.
func (s *Source) Mode() Mode { return s.medium.mode() }

// Describe is a short text of what plays, for logs ("tone:440/500|0/2500",
// "moh:default", "sound:a,sound:b").
func (s *Source) Describe() string { return s.medium.describe() }

// Media is the music in the one-string form ParseMedia reads
// ("tone:440/500|0/2500", "moh:default", "sound:a|sound:b"), without the
// announcement: the same for every spelling of the same music ("moh" and
// "moh:default"), so it names the music in the API, in events and in the
// record a restarted ariapp reads.
func (s *Source) Media() string { return s.medium.media() }

// Announcement is the sound played once before the music ("" for none).
func (s *Source) Announcement() string {
	if len(s.intro) == 0 {
		return ""
	}
	return s.intro[0]
}

// NeedsRecord reports whether music of this mode leaves no trace in
// Asterisk that a restarted ariapp could find, so the caller must record
// it (ModeMOH: ARI can neither list nor query music on hold). Tone and
// sounds run as playbacks whose ids PlaybackIDs derives from the idBase,
// which ARI answers for (GET /playbacks/{id}).
func (s *Source) NeedsRecord() bool { return s.medium.needsRecord() }

// PlaybackIDs lists every playback id music started with Start(…, idBase)
// can run under, for finding it again: idBase, and for ModeSounds the id
// its loop alternates with. For ModeMOH idBase is the announcement's.
func (s *Source) PlaybackIDs(idBase string) []string { return s.medium.playbackIDs(idBase) }

// Playing is hold music running on one channel.
type Playing struct {
	ChannelID string
	// PlaybackID is the ARI playback to expect PlaybackStarted/Finished for;
	// empty for ModeMOH, which Asterisk confirms with no event (its
	// announcement is a playback).
	PlaybackID string
	// Loops is how many times the music has been restarted.
	Loops int
	base  string
	// src is the Source the music was started or adopted by; nil for music
	// adopted from a record that names only a playback id.
	src *Source
}

// ExpectsEvents reports whether the start is confirmed by PlaybackStarted.
func (p *Playing) ExpectsEvents() bool { return p.PlaybackID != "" }

// Media is Source.Media of the music, "" when unknown (adopted from a
// record of a playback id only).
func (p *Playing) Media() string {
	if p.src == nil {
		return ""
	}
	return p.src.Media()
}

// Source is the Source that started or adopted the music; nil when
// unknown (see Media).
func (p *Playing) Source() *Source { return p.src }

// NextPlaybackID is the id Restart will use; register it before calling
// Restart so its events can be routed. Loops alternate between the base id
// and the base id with loopSuffix. "" when the restart plays no playback
// (music on hold after its announcement).
func (p *Playing) NextPlaybackID() string {
	if p.src != nil && p.src.Mode() == ModeMOH {
		return ""
	}
	if p.Loops%2 == 0 {
		return p.base + loopSuffix
	}
	return p.base
}

// Start starts the music on channelID, after the announcement if there is
// one. idBase is a unique prefix for the playback ids (the caller
// registers them to route events before the REST reply, which may come
// after the events).
func (s *Source) Start(ctx context.Context, a ARI, channelID, idBase string) (*Playing, error) {
	p, err := s.medium.start(ctx, a, channelID, idBase, s.intro)
	if p != nil {
		p.src = s
	}
	return p, err
}

// Adopt describes music that is already running on a channel, from the
// record it was noted in (after an ariapp restart, from the channel's
// record): "moh:CLASS" for music on hold, or a playback id.
func (s *Source) Adopt(channelID, label string) *Playing {
	if strings.HasPrefix(label, mohLabelPrefix) {
		return &Playing{ChannelID: channelID, base: label, src: s}
	}
	return &Playing{ChannelID: channelID, PlaybackID: label, base: label, src: s}
}

// AdoptPlayback describes music found running on a channel as playbackID,
// one of PlaybackIDs(idBase) (after an ariapp restart). For ModeMOH that
// is the announcement, with the music on hold still to follow.
func (s *Source) AdoptPlayback(channelID, idBase, playbackID string) *Playing {
	p := &Playing{ChannelID: channelID, PlaybackID: playbackID, base: idBase, src: s}
	if playbackID != idBase {
		p.Loops = 1
	}
	return p
}

// Restart goes on with the music after its playback's PlaybackFinished
// (state done): a sounds list plays again (without the announcement), and
// music on hold starts after its announcement. It is a no-op returning
// false for music that loops by itself. The music's own Source restarts
// it, which may not be s (music adopted after a restart).
func (s *Source) Restart(ctx context.Context, a ARI, p *Playing) (bool, error) {
	if p.src != nil {
		s = p.src
	}
	return s.medium.restart(ctx, a, p)
}

// Continue makes sure adopted music whose progress is unknown plays: music
// on hold after an announcement that ended while no ariapp ran has never
// been started, and no event tells. It starts music on hold again (on a
// channel that already hears it, Asterisk restarts the class); music that
// runs as a playback, or music on hold without an announcement, is left
// alone. It reports whether it sent a request.
func (s *Source) Continue(ctx context.Context, a ARI, p *Playing) (bool, error) {
	if p.src != nil {
		s = p.src
	}
	m, ok := s.medium.(moh)
	if !ok || len(s.intro) == 0 || p.PlaybackID != "" {
		return false, nil
	}
	if err := a.StartMOH(ctx, p.ChannelID, m.class); err != nil {
		return true, fmt.Errorf("%w: moh %s on %s after an announcement: %w", ErrNotStarted, m.class, p.ChannelID, err)
	}
	return true, nil
}

// stopRefusedRetry covers Asterisk 22 answering a stop that comes right
// after PlaybackStarted with "500 Could not stop playback" now and then
// (about 1 in 80 on the lab); the same stop a moment later works.
var stopRefusedRetry = retry.Policy{
	Schedule:  retry.Delays{2 * time.Millisecond, 4 * time.Millisecond, 8 * time.Millisecond, 16 * time.Millisecond, 32 * time.Millisecond, 64 * time.Millisecond},
	Retryable: retry.On(ari.ErrServer),
}

// Stop stops the music. A playback that already ended (404) counts as
// stopped; any other failure is returned.
func (s *Source) Stop(ctx context.Context, a ARI, p *Playing) error {
	if p == nil {
		return nil
	}
	// What plays decides, not the configured medium: music adopted after
	// a restart may have been started under another configuration, and
	// only music on hold runs as no playback.
	if !p.ExpectsEvents() {
		return a.StopMOH(ctx, p.ChannelID)
	}
	err := stopRefusedRetry.Do(ctx, func(ctx context.Context) error { return a.StopPlayback(ctx, p.PlaybackID) })
	if errors.Is(err, ari.ErrPlaybackNotFound) {
		return nil
	}
	return err
}
