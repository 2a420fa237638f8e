package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/holdmusic"
	"github.com/ariapp/ariapp/internal/retry"
)

// media is where a party's audio is. The rule the whole application keeps
// (hearsMusic): a party hears the hold music exactly when its peer holds,
// and is in the bridge otherwise. Only two moves change it, each step
// confirmed by Asterisk's events: toMusic and toBridge.
type media int

const (
	// mediaSetup: the call is not bridged yet (ringing, answering).
	mediaSetup media = iota
	// mediaBridged: in the call's bridge, hearing its peer.
	mediaBridged
	// mediaLeaving: ariapp is taking the party out of the bridge to play it
	// the hold music; after a failed toMusic, out of the bridge with the
	// music not confirmed.
	mediaLeaving
	// mediaOnMusic: out of the bridge, hearing the hold music.
	mediaOnMusic
	// mediaRejoining: ariapp is stopping the music and adding the party
	// back; after a failed toBridge, somewhere on that way.
	mediaRejoining
	// mediaOut: out of the bridge with no music and no move under way: taken
	// out by another ARI client, or a move left half done by an ariapp that
	// stopped.
	mediaOut
)

var mediaNames = [...]string{"setup", "bridged", "leaving", "on_music", "rejoining", "out"}

func (m media) String() string {
	if int(m) < len(mediaNames) {
		return mediaNames[m]
	}
	return fmt.Sprintf("media(%d)", int(m))
}

// hearsMusic is the media rule: whether p must be on the hold music now.
func (c *call) hearsMusic(p *party) bool { return c.peer(p).holds() }

// setMedia records a media transition and logs it (debug level).
func (c *call) setMedia(p *party, to media) {
	if p.media == to {
		return
	}
	if ce := c.log.Check(zap.DebugLevel, "media"); ce != nil {
		ce.Write(zap.String("party", string(p.role)), zap.String("channel_id", p.channelID),
			zap.String("bridge_id", c.bridgeID), zap.String("from", p.media.String()), zap.String("to", to.String()),
			zap.String("transition", p.media.String()+" -> "+to.String()))
	}
	p.media = to
}

// toMusic moves held out of the bridge onto the hold music: removeChannel,
// confirmed by ChannelLeftBridge, then the music, confirmed by
// PlaybackStarted. vars are written to held beside the removal. Steps already done (a repair after a restart) are
// skipped. On failure the party is left where the failed step left it, for
// toBridge to undo.
func (c *call) toMusic(ctx context.Context, held *party, vars ...string) error {
	ctx = c.forParty(ctx, held)
	pbID := c.musicID(held)
	// A holder that is now held too: its reminder would hold the removal
	// and the variable writes open.
	c.stopReminder(ctx, held)
	music := c.musicOf(held)
	if held.media == mediaBridged {
		// Music that Asterisk cannot tell a restarted ariapp about is
		// recorded on the held party meanwhile, with any other variables
		// (name, value pairs) the move carries: that must happen before the
		// music starts (see VarHeld).
		if c.needsRecord(music) && !held.recorded {
			vars = append(vars, VarHeld, music.Media())
			held.recorded = true
		}
		recorded := func() {}
		if len(vars) > 0 {
			recorded = c.setVarsAsync(ctx, held, vars...)
		}
		err := c.step(ctx, func(ctx context.Context) error { return c.app.ari.RemoveChannel(ctx, c.bridgeID, held.channelID) })
		switch {
		case err == nil:
			// Asterisk accepted the removal: even if its event does not
			// come in time, the party is taken as out.
			c.setMedia(held, mediaLeaving)
			err = c.confirm(ctx, "ChannelLeftBridge of "+string(held.role), leftBridge(c.bridgeID, held.channelID),
				func(ctx context.Context) (bool, error) {
					in, err := c.bridgeHas(ctx, held.channelID)
					return !in, err
				})
		case errors.Is(err, ari.ErrUnprocessable):
			// "Channel not in this bridge": already out (perhaps by a try
			// Asterisk answered too late).
			c.setMedia(held, mediaLeaving)
			err = nil
		}
		recorded()
		if err != nil {
			return fmt.Errorf("removing the peer from the bridge: %w", err)
		}
	}
	if held.music == nil {
		c.setMedia(held, mediaLeaving)
		playing, err := c.startMusic(ctx, held, music, pbID)
		if err != nil {
			return fmt.Errorf("starting hold music: %w", err)
		}
		held.music = playing
		if playing.ExpectsEvents() {
			if err := c.awaitMusicStart(ctx, playing.PlaybackID); err != nil {
				return fmt.Errorf("starting hold music: %w", err)
			}
		}
	}
	c.setMedia(held, mediaOnMusic)
	return nil
}

// musicOf is what p hears while its peer holds.
func (c *call) musicOf(p *party) *holdmusic.Source {
	if p.holdMusic != nil {
		return p.holdMusic
	}
	return c.app.music
}

// needsRecord reports whether music must be recorded in VarHeld for a
// restarted ariapp: music on hold, which ARI cannot query, and any music
// but the configured default, which a restarted ariapp would otherwise
// take a playback under the music id for.
func (c *call) needsRecord(music *holdmusic.Source) bool {
	return music.NeedsRecord() || music.Media() != c.app.music.Media()
}

// startMusic starts held's hold music under pbID as a step: tried again
// when Asterisk did not answer in time, and if a try went through all the
// same (a later one is then refused), the playback Asterisk has is taken.
func (c *call) startMusic(ctx context.Context, held *party, music *holdmusic.Source, pbID string) (*holdmusic.Playing, error) {
	var playing *holdmusic.Playing
	err := c.step(ctx, func(ctx context.Context) error {
		var err error
		playing, err = music.Start(ctx, c.app.ari, held.channelID, pbID)
		return err
	})
	if err == nil || errors.Is(err, ari.ErrChannelNotFound) {
		return playing, err
	}
	if pb, perr := c.app.ari.Playback(ctx, pbID); perr == nil && pb.TargetURI == "channel:"+held.channelID {
		c.log.Info("hold music found playing after its start failed; taken", zap.String("party", string(held.role)),
			zap.String("playback_id", pbID), zap.NamedError("start_error", err))
		return music.AdoptPlayback(held.channelID, pbID, pbID), nil
	}
	return nil, err
}

// awaitMusicStart waits for the music's PlaybackStarted; a PlaybackFinished
// instead means Asterisk could not play it.
func (c *call) awaitMusicStart(ctx context.Context, pbID string) error {
	var finished string
	err := c.confirm(ctx, "PlaybackStarted of the hold music", func(ev ari.Event) bool {
		switch e := ev.(type) {
		case *ari.PlaybackStarted:
			return e.Playback.ID == pbID
		case *ari.PlaybackFinished:
			if e.Playback.ID == pbID {
				finished = e.Playback.State
				return true
			}
		}
		return false
	}, func(ctx context.Context) (bool, error) {
		pb, err := c.app.ari.Playback(ctx, pbID)
		if err != nil {
			return false, err
		}
		return pb.State == "playing", nil
	})
	if err == nil && finished != "" {
		err = fmt.Errorf("hold music playback %s ended at once (state %s)", pbID, finished)
	}
	return err
}

// stepPolicy retries an ARI step of a move that Asterisk did not answer in
// time or failed internally: a busy Asterisk is not a failed hold or
// resume. A step that went through on an earlier try is recognised by
// Asterisk's answer to the next (already out of the bridge, already in it,
// playback gone).
var stepPolicy = retry.Policy{
	Schedule:  retry.Delays{200 * time.Millisecond, 500 * time.Millisecond, time.Second},
	Retryable: retry.On(ari.ErrUnreachable, ari.ErrServer),
}

// step runs one ARI step of a move under stepPolicy; a retry is logged.
func (c *call) step(ctx context.Context, do func(context.Context) error) error {
	p := stepPolicy
	p.OnRetry = func(attempt int, err error, next time.Duration) {
		tag := ari.TagOf(ctx)
		c.log.Info("ARI step retried: Asterisk did not answer in time or failed internally", zap.String("party", tag.Party),
			zap.Int("attempt", attempt), zap.Duration("retry_in", next), zap.Error(err))
	}
	return p.Do(ctx, do)
}

// forParty tags ctx's ARI requests as made for p of this call (the request
// log names them).
func (c *call) forParty(ctx context.Context, p *party) context.Context {
	return ari.WithTag(ctx, ari.Tag{CallID: c.id, Party: string(p.role)})
}

// confirm awaits a step's event; when it does not come within the step
// timeout, it asks Asterisk whether the step took effect (a busy Asterisk
// can send the event late), and only then fails.
func (c *call) confirm(ctx context.Context, what string, match func(ari.Event) bool, ask func(context.Context) (bool, error)) error {
	err := c.await(ctx, what, match)
	if !errors.Is(err, ErrNotConfirmed) {
		return err
	}
	actx, cancel := context.WithTimeout(ctx, c.app.cfg.StepTimeout)
	defer cancel()
	ok, aerr := ask(actx)
	if aerr != nil || !ok {
		return errors.Join(err, aerr)
	}
	c.log.Info("step confirmed by asking Asterisk after its event was late", zap.String("awaited", what),
		zap.String("bridge_id", c.bridgeID))
	return nil
}

// bridgeHas reports whether the call's bridge holds the channel now.
func (c *call) bridgeHas(ctx context.Context, channelID string) (bool, error) {
	b, err := c.app.ari.Bridge(ctx, c.bridgeID)
	if err != nil {
		return false, err
	}
	return slices.Contains(b.Channels, channelID), nil
}

// toBridge moves a party back into the bridge: its hold music stopped,
// confirmed by PlaybackFinished, then addChannel, confirmed by
// ChannelEnteredBridge. The music must stop first: Asterisk holds an
// addChannel open while a playback runs on the channel. It serves resume
// (R2), the rollback of a failed hold (H5) and the repair after a restart.
func (c *call) toBridge(ctx context.Context, p *party) error {
	ctx = c.forParty(ctx, p)
	if p.media != mediaBridged {
		c.setMedia(p, mediaRejoining)
	}
	if p.music != nil {
		pbID := p.music.PlaybackID
		if err := c.step(ctx, func(ctx context.Context) error { return c.app.music.Stop(ctx, c.app.ari, p.music) }); err != nil {
			return fmt.Errorf("stopping hold music: %w", err)
		}
		if pbID != "" {
			if _, done := c.finished[pbID]; !done {
				if err := c.confirm(ctx, "PlaybackFinished of the hold music", playbackFinished(pbID), func(ctx context.Context) (bool, error) {
					_, err := c.app.ari.Playback(ctx, pbID)
					if errors.Is(err, ari.ErrNotFound) {
						return true, nil
					}
					return false, err
				}); err != nil {
					return fmt.Errorf("stopping hold music: %w", err)
				}
			}
			// Over: no event of it will come any more.
			delete(c.finished, pbID)
			c.app.unrouteID(pbID, c)
		}
		p.music = nil
	}
	// The music has stopped: the record, if any, can be cleared now, beside
	// the addChannel.
	if p.recorded {
		cleared := c.setVarsAsync(ctx, p, VarHeld, "")
		defer cleared()
		p.recorded = false
	}
	if p.media != mediaBridged {
		inBridge := func(ctx context.Context) (bool, error) { return c.bridgeHas(ctx, p.channelID) }
		err := c.step(ctx, func(ctx context.Context) error { return c.app.ari.AddChannel(ctx, c.bridgeID, p.channelID) })
		if err != nil && !errors.Is(err, ari.ErrNotFound) {
			// Perhaps added by a try Asterisk answered too late.
			if in, aerr := inBridge(ctx); aerr == nil && in {
				err = nil
			}
		}
		if err != nil {
			return fmt.Errorf("adding %s back to the bridge: %w", p.role, err)
		}
		if err := c.confirm(ctx, "ChannelEnteredBridge of "+string(p.role), enteredBridge(c.bridgeID, p.channelID), inBridge); err != nil {
			return fmt.Errorf("adding %s back to the bridge: %w", p.role, err)
		}
		c.setMedia(p, mediaBridged)
	}
	return nil
}

// musicID returns the playback id base of p's hold music, routed to c. It
// is derived from the call and the party, the same in every hold and in
// every ariapp process, so a restarted ariapp finds the music again by
// asking Asterisk for it (GET /playbacks/{id}) and no hold needs a record
// written to Asterisk. Reusing it is safe: a hold starts only after the
// previous music's PlaybackFinished and its bridge re-entry, by which time
// Asterisk has forgotten that playback.
func (c *call) musicID(p *party) string {
	id := c.musicBase(p)
	c.app.route(id, c)
	return id
}

func (c *call) musicBase(p *party) string { return c.id + "-hold-" + string(p.role) }

// repairMedia makes both parties follow the media rule again, with the same
// two moves, after a restart or a reconnect left them unsure or half done.
// Music ariapp believes plays is looked up first: music that died is
// started again.
func (c *call) repairMedia(ctx context.Context) error {
	for _, p := range c.parties() {
		if !c.hearsMusic(p) {
			if p.media != mediaBridged || p.music != nil {
				if err := c.toBridge(ctx, p); err != nil {
					return err
				}
			}
			continue
		}
		if p.music != nil && p.music.PlaybackID != "" {
			if _, err := c.app.ari.Playback(ctx, p.music.PlaybackID); err != nil {
				c.log.Info("hold music gone; restarting it", zap.String("party", string(p.role)),
					zap.String("channel_id", p.channelID), zap.String("playback_id", p.music.PlaybackID), zap.Error(err))
				c.app.unrouteID(p.music.PlaybackID, c)
				p.music = nil
				if p.media == mediaOnMusic {
					c.setMedia(p, mediaLeaving)
				}
			}
		}
		// Music on hold (no playback id) gives ARI nothing to ask: it is
		// taken as running.
		if err := c.toMusic(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

func leftBridge(bridgeID, channelID string) func(ari.Event) bool {
	return func(ev ari.Event) bool {
		e, ok := ev.(*ari.ChannelLeftBridge)
		return ok && e.Bridge.ID == bridgeID && e.Channel.ID == channelID
	}
}

func enteredBridge(bridgeID, channelID string) func(ari.Event) bool {
	return func(ev ari.Event) bool {
		e, ok := ev.(*ari.ChannelEnteredBridge)
		return ok && e.Bridge.ID == bridgeID && e.Channel.ID == channelID
	}
}

func playbackFinished(id string) func(ari.Event) bool {
	return func(ev ari.Event) bool {
		e, ok := ev.(*ari.PlaybackFinished)
		return ok && e.Playback.ID == id
	}
}
