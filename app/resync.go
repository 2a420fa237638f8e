package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/holdmusic"
)

// resync reconciles the App with Asterisk when the event connection comes
// up. On the first connect it adopts the calls a previous ariapp left in
// Asterisk (rebuilt from their channel variables); after a reconnect it
// tells every call what Asterisk has now, so calls whose channels vanished
// while events were lost end, and it starts calls whose StasisStart was
// missed. It runs in the dispatcher, before any newer event is routed.
func (a *App) resync(ctx context.Context, reconnect bool) {
	t0 := time.Now()
	a.learnVarsMode(ctx)
	a.resyncVars, a.resyncMutes = map[string]map[string]string{}, map[string]string{}
	defer func() { a.resyncVars, a.resyncMutes = nil, nil }()
	snap, err := a.asteriskNow(ctx)
	if err != nil {
		a.resyncs.failed.Add(1)
		a.log.Error("resync: calls are not reconciled", zap.Error(err))
		return
	}

	a.prefetchVars(ctx, snap)

	// Calls this App already runs check themselves.
	known := a.liveCalls()
	for _, c := range known {
		c.inbox.put(reconcile{snap})
	}

	// Channels in our Stasis application that no call owns. Callers come
	// first, so that a ringing call they adopt owns its callee before the
	// callee is looked at.
	groups := map[string][]ari.Channel{}
	started, ringing, strays := 0, 0, 0
	var rest []ari.Channel
	for _, ch := range snap.channels {
		args, ours := a.stasisArgs(ch)
		if !ours || a.routeOfID(ch.ID) != nil {
			continue
		}
		if callID := a.channelVar(ctx, ch, VarCallID); callID != "" {
			groups[callID] = append(groups[callID], ch)
			continue
		}
		if len(args) < 2 || args[0] != ArgDial {
			rest = append(rest, ch)
			continue
		}
		// A caller whose call was not answered yet: its StasisStart was
		// missed, or the previous ariapp stopped while the callee rang.
		// The callee's id derives from the caller's, so a ringing callee
		// is found, never dialled twice.
		e := &ari.StasisStart{EventBase: ari.EventBase{Type: "StasisStart"}, Args: args, Channel: ch}
		if callee, ok := snap.channels[a.callIDFor(ch.ID)+calleeSuffix]; ok {
			a.adoptRinging(ctx, e, callee)
			ringing++
			continue
		}
		a.startCall(ctx, e)
		started++
	}
	for _, ch := range rest {
		if a.routeOfID(ch.ID) != nil {
			continue
		}
		args, _ := a.stasisArgs(ch)
		strays++
		a.log.Warn("resync: channel in Stasis without a call; hanging it up",
			zap.String("channel_id", ch.ID), zap.String("channel_name", ch.Name), zap.Strings("args", args))
		if err := a.ari.Hangup(ctx, ch.ID, ari.HangupNormal); err != nil && !errors.Is(err, ari.ErrNotFound) {
			a.log.Warn("resync: hangup failed", zap.String("channel_id", ch.ID), zap.Error(err))
		}
	}
	var adopted []*call
	for callID, parts := range groups {
		// A callee carries the call's variables from its originate on: one
		// that answered while no ariapp ran belongs to the ringing call its
		// caller adopted above.
		parts = slices.DeleteFunc(parts, func(ch ari.Channel) bool { return a.routeOfID(ch.ID) != nil })
		if len(parts) == 0 {
			continue
		}
		adopted = append(adopted, a.adopt(ctx, callID, parts, snap))
	}
	subscribed := a.subscribeBridges(ctx, adopted)
	for _, c := range adopted {
		c.inbox.put(rebuild{subscribed: subscribed[c]})
	}
	a.resyncs.count(len(known), len(adopted), ringing, started, strays)
	a.log.Info("resync with Asterisk done", zap.Bool("reconnect", reconnect), zap.Int("calls_checked", len(known)),
		zap.Int("calls_adopted", len(adopted)), zap.Int("ringing_calls_adopted", ringing), zap.Int("calls_started", started),
		zap.Int("strays_hung_up", strays),
		zap.Duration("took", time.Since(t0)))
}

// ResyncStats counts the resyncs since New and what they did, as the
// "resync with Asterisk done" log line reports each one.
type ResyncStats struct {
	Done   uint64 // resyncs that reconciled the calls
	Failed uint64 // resyncs that could not list Asterisk's channels and bridges
	// CallsChecked are the calls this App ran that checked themselves
	// against Asterisk; CallsAdopted the calls rebuilt from channel
	// variables, RingingAdopted the unanswered ones taken over while their
	// callee rang, CallsStarted those whose StasisStart was missed.
	CallsChecked, CallsAdopted, RingingAdopted, CallsStarted uint64
	// StraysHungUp are channels in ariapp's Stasis application with no call.
	StraysHungUp uint64
}

// resyncCounters are ResyncStats as the dispatcher counts them.
type resyncCounters struct {
	done, failed                                     atomic.Uint64
	checked, adopted, ringing, started, straysHungUp atomic.Uint64
}

func (r *resyncCounters) count(checked, adopted, ringing, started, strays int) {
	r.checked.Add(uint64(checked))
	r.adopted.Add(uint64(adopted))
	r.ringing.Add(uint64(ringing))
	r.started.Add(uint64(started))
	r.straysHungUp.Add(uint64(strays))
	r.done.Add(1)
}

// ResyncStats returns the resync counters (metrics).
func (a *App) ResyncStats() ResyncStats {
	r := &a.resyncs
	return ResyncStats{
		Done: r.done.Load(), Failed: r.failed.Load(),
		CallsChecked: r.checked.Load(), CallsAdopted: r.adopted.Load(), RingingAdopted: r.ringing.Load(),
		CallsStarted: r.started.Load(), StraysHungUp: r.straysHungUp.Load(),
	}
}

// asteriskState is what Asterisk had at a resync or sweep.
type asteriskState struct {
	channels map[string]ari.Channel
	bridges  map[string]ari.Bridge
}

// asteriskNow lists Asterisk's channels and bridges.
func (a *App) asteriskNow(ctx context.Context) (*asteriskState, error) {
	chans, err := a.ari.Channels(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing channels: %w", err)
	}
	bridges, err := a.ari.Bridges(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing bridges: %w", err)
	}
	s := &asteriskState{channels: make(map[string]ari.Channel, len(chans)), bridges: make(map[string]ari.Bridge, len(bridges))}
	for _, ch := range chans {
		s.channels[ch.ID] = ch
	}
	for _, b := range bridges {
		s.bridges[b.ID] = b
	}
	return s, nil
}

// stasisArgs reports whether a channel sits in this App's Stasis
// application, and its Stasis arguments.
func (a *App) stasisArgs(ch ari.Channel) ([]string, bool) {
	if ch.Dialplan.AppName != "Stasis" {
		return nil, false
	}
	parts := strings.Split(ch.Dialplan.AppData, ",")
	if parts[0] != a.ari.Application() {
		return nil, false
	}
	return parts[1:], true
}

// prefetchReaders is how many channels' variables a resync reads at once.
const prefetchReaders = 8

// prefetchVars reads, in bulk and a few channels at once, the variables and
// the mute records of the channels in this App's Stasis application that no
// call owns: what the resync is about to look at (see channelVar and
// adoptMute).
func (a *App) prefetchVars(ctx context.Context, snap *asteriskState) {
	if !a.bulkVars() {
		return
	}
	var ids []string
	for _, ch := range snap.channels {
		if _, ours := a.stasisArgs(ch); ours && a.routeOfID(ch.ID) == nil && len(ch.ChannelVars) == 0 {
			ids = append(ids, ch.ID)
		}
	}
	read := make([]map[string]string, len(ids))
	mutes := make([]*string, len(ids))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(prefetchReaders, len(ids)) {
		wg.Go(func() {
			for i := range next {
				read[i] = a.readVars(ctx, ids[i])
				if v, err := a.ari.GlobalVariable(ctx, muteRecordName(ids[i])); err == nil {
					mutes[i] = &v
				}
			}
		})
	}
	for i := range ids {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, id := range ids {
		a.resyncVars[id] = read[i]
		if mutes[i] != nil {
			a.resyncMutes[id] = *mutes[i]
		}
	}
}

// channelVar reads a variable from the channel snapshot (ari.conf
// channelvars), from the channel's variables read in one request at this
// resync (see readVars), or else from Asterisk on its own.
func (a *App) channelVar(ctx context.Context, ch ari.Channel, name string) string {
	if v, ok := ch.ChannelVars[name]; ok {
		return v
	}
	if a.resyncVars != nil {
		vars, read := a.resyncVars[ch.ID]
		if !read {
			vars = a.readVars(ctx, ch.ID)
			a.resyncVars[ch.ID] = vars
		}
		if v, ok := vars[name]; ok {
			return v
		}
	}
	v, err := a.ari.GetVar(ctx, ch.ID, name)
	if err != nil {
		return ""
	}
	return v
}

func (a *App) routeOfID(id string) *call {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.routes[id]
}

// adopt rebuilds a call of a previous ariapp from its channels' variables
// and what Asterisk plays to them and registers it; its goroutine
// completes or ends it once handed a rebuild.
func (a *App) adopt(ctx context.Context, callID string, parts []ari.Channel, snap *asteriskState) *call {
	c := newCall(a, callID)
	c.state = CallAnswered
	c.runOn(ctx)
	held := map[Role]string{}
	chans := map[Role]ari.Channel{}
	for _, ch := range parts {
		role := Role(a.channelVar(ctx, ch, VarRole))
		if role != Caller && role != Callee {
			continue
		}
		p := c.caller
		if role == Callee {
			p = c.callee
		}
		p.channelID, p.endpoint, p.channel = ch.ID, endpointOf(ch.Name), channelInStasis
		chans[role] = ch
		if c.bridgeID == "" {
			c.bridgeID = a.channelVar(ctx, ch, VarBridge)
		}
		held[role] = a.channelVar(ctx, ch, VarHeld)
		a.adoptMute(ctx, p)
		if role == Caller {
			c.startedAt = ch.CreationTime.Time
			c.callerID = ch.Caller
		}
	}
	if b, ok := snap.bridges[c.bridgeID]; ok && c.bridgeID != "" {
		c.bridge = bridgeCreated
		c.answeredAt = b.CreationTime.Time
	}
	// P holds when its peer hears hold music: recorded in the peer's
	// VarHeld (music on hold, music other than the default), or found as a
	// playback under the peer's music id.
	now := time.Now()
	for _, p := range c.parties() {
		if p.channelID == "" {
			continue
		}
		c.placeFromSnapshot(p, snap)
		recordedHold := false
		switch label := held[p.role]; {
		case isMediaRecord(label):
			music := c.recordedMusic(label)
			p.holdMusic, p.recorded, recordedHold = music, true, true
			if c.bridge == bridgeCreated {
				// A playback under the music id: the music, or music on
				// hold's announcement.
				p.music = c.findMusic(ctx, p, music)
			}
			if p.music == nil && music.NeedsRecord() {
				p.music = music.Adopt(p.channelID, label)
				// Its announcement may have ended while no ariapp ran,
				// leaving the music on hold unstarted (rebuild).
				p.musicUnsure = true
			}
		case label != "":
			p.music = a.music.Adopt(p.channelID, label)
			p.recorded = true
		case p.media != mediaBridged && c.bridge == bridgeCreated:
			p.music = c.findMusic(ctx, p, a.music)
		}
		if recordedHold && p.music == nil {
			// The recorded music died with no ariapp to see it:
			// rebuild's repair starts it again.
			c.peer(p).holdSince = now
		}
		if p.music != nil {
			if p.media != mediaBridged {
				c.setMedia(p, mediaOnMusic)
			}
			c.adoptHoldStart(ctx, c.peer(p), chans, now)
			if p.music.PlaybackID != "" {
				a.route(p.music.PlaybackID, c)
			}
		}
	}
	if c.caller.holds() && c.callee.holds() {
		c.orderHolds(ctx, parts)
	}
	c.updateSnapshot()
	a.register(c)
	return c
}

// subscribeBatch is how many bridges one subscription request names: ARI
// takes a comma-separated list of event sources, and a batch keeps the
// request line short.
const subscribeBatch = 50

// subscribeBridges subscribes to the bridges of adopted calls a batch per
// request rather than a request per call; a batch Asterisk refuses (a
// bridge gone meanwhile) leaves its calls to subscribe on their own.
func (a *App) subscribeBridges(ctx context.Context, calls []*call) map[*call]bool {
	done := map[*call]bool{}
	var batch []*call
	flush := func() {
		if len(batch) == 0 {
			return
		}
		srcs := make([]string, len(batch))
		for i, c := range batch {
			srcs[i] = "bridge:" + c.bridgeID
		}
		if _, err := a.ari.Subscribe(ctx, strings.Join(srcs, ",")); err == nil {
			for _, c := range batch {
				done[c] = true
			}
		} else {
			a.log.Info("resync: subscribing to a batch of bridges failed; each call subscribes on its own", zap.Int("bridges", len(batch)), zap.Error(err))
		}
		batch = batch[:0]
	}
	for _, c := range calls {
		if c.bridge != bridgeCreated {
			continue
		}
		if batch = append(batch, c); len(batch) == subscribeBatch {
			flush()
		}
	}
	flush()
	return done
}

// adoptHoldStart sets when holder took hold from Asterisk's record (see
// recordedHoldStart), or to now if there is none.
func (c *call) adoptHoldStart(ctx context.Context, holder *party, chans map[Role]ari.Channel, now time.Time) {
	holder.holdSince = now
	var holderSince string
	if holder.channelID != "" {
		holderSince = c.app.channelVar(ctx, chans[holder.role], VarHoldSince)
	}
	heldOrder := c.app.channelVar(ctx, chans[c.peer(holder).role], VarHoldOrder)
	if at, ok := recordedHoldStart(holder.role, heldOrder, holderSince); ok {
		holder.holdSince, holder.startRecorded = at, true
	}
}

// orderHolds restores which party of a mutual hold took hold first, from
// the parties' VarHoldOrder (see there): the first holder's start, if it
// has no record of its own, is taken as just before the second's.
func (c *call) orderHolds(ctx context.Context, parts []ari.Channel) {
	var second Role
	var latest int64
	for _, ch := range parts {
		if r, at, ok := parseHoldOrder(c.app.channelVar(ctx, ch, VarHoldOrder)); ok && at > latest {
			second, latest = r, at
		}
	}
	if second == "" {
		return // no record: the caller is taken as first
	}
	first := c.caller
	if second == Caller {
		first = c.callee
	}
	if then := c.peer(first).holdSince; !first.holdSince.Before(then) {
		first.holdSince = then.Add(-time.Millisecond)
	}
}

// adoptRinging takes over a call of a previous ariapp whose callee was
// still ringing (or answered unseen): the same call id, the same callee
// channel, the ring timer counting from when the callee was dialled.
func (a *App) adoptRinging(ctx context.Context, e *ari.StasisStart, callee ari.Channel) {
	c := newDialledCall(a, a.callIDFor(e.Channel.ID), e)
	c.caller.channel = channelInStasis
	c.callee.channel = channelDialled
	if !callee.CreationTime.IsZero() {
		c.startedAt = callee.CreationTime.Time
	}
	c.updateSnapshot()
	c.runOn(ctx)
	a.register(c)
	c.inbox.put(rebuild{calleeInStasis: callee.Dialplan.AppName == "Stasis"})
}

// placeFromSnapshot sets p's media from where Asterisk has its channel: in
// the call's bridge or not (whether it hears music is up to the caller).
func (c *call) placeFromSnapshot(p *party, snap *asteriskState) {
	b, ok := snap.bridges[c.bridgeID]
	if ok && slices.Contains(b.Channels, p.channelID) {
		c.setMedia(p, mediaBridged)
	} else if p.media != mediaOnMusic || p.music == nil {
		c.setMedia(p, mediaOut)
	}
}

// isMediaRecord reports whether a VarHeld value names music (see
// recordedMusic), not a playback id.
func isMediaRecord(label string) bool {
	for _, prefix := range []string{"tone:", "sound:", "moh:"} {
		if strings.HasPrefix(label, prefix) {
			return true
		}
	}
	return label == "moh"
}

// recordedMusic is the music a VarHeld record names: the allowed music of
// that name, or, for music this configuration does not allow (written by
// an ariapp configured otherwise), that music all the same, since it is
// what plays. A record no configuration could have written is taken as
// the default.
func (c *call) recordedMusic(label string) *holdmusic.Source {
	if music, err := c.app.holdMusic(label); err == nil {
		return music
	}
	cfg, err := holdmusic.ParseMedia(label)
	if err == nil {
		cfg.Announcement = c.app.cfg.Music.Announcement
		var music *holdmusic.Source
		if music, err = holdmusic.New(cfg); err == nil {
			c.log.Info("adopted hold music that this configuration does not allow", zap.String("media", music.Media()))
			return music
		}
	}
	c.log.Warn("resync: unreadable hold music record; taken as the default", zap.String("record", label), zap.Error(err))
	return c.app.music
}

// findMusic asks Asterisk for held's hold music under the ids music can run
// as (see musicID); nil when none plays to its channel.
func (c *call) findMusic(ctx context.Context, held *party, music *holdmusic.Source) *holdmusic.Playing {
	base := c.musicBase(held)
	for _, id := range music.PlaybackIDs(base) {
		pb, err := c.app.ari.Playback(ctx, id)
		if err != nil {
			if !errors.Is(err, ari.ErrNotFound) {
				c.log.Warn("resync: looking up hold music failed", zap.String("party", string(held.role)),
					zap.String("channel_id", held.channelID), zap.String("playback_id", id), zap.Error(err))
			}
			continue
		}
		if pb.TargetURI != "channel:"+held.channelID {
			continue
		}
		switch pb.State {
		case "queued", "playing", "continuing", "paused":
			return music.AdoptPlayback(held.channelID, base, id)
		}
	}
	return nil
}

// rebuild completes an adopted call. A ringing one waits for its callee
// again (or bridges it, if it answered while no ariapp ran). An answered
// one: a call missing a party or its
// bridge is hung up and reported; otherwise the media is made to follow the
// rule again (an ariapp killed in the middle of a hold or resume leaves it
// half done), music that died is restarted, and the bridge subscribed.
func (c *call) rebuild(ctx context.Context, m rebuild) {
	if c.state == CallRinging {
		if m.calleeInStasis {
			c.callee.channel = channelInStasis
			c.answered(ctx)
			return
		}
		left := c.app.cfg.AnswerTimeout - time.Since(c.startedAt)
		c.timers.start(ringTimer, max(left, 0), answerTimeout{})
		c.log.Info("ringing call adopted", zap.String("caller_channel_id", c.caller.channelID),
			zap.String("callee_channel_id", c.callee.channelID), zap.Duration("rings_for", max(left, 0)))
		return
	}
	var missing []string
	if c.caller.channelID == "" {
		missing = append(missing, "caller")
	}
	if c.callee.channelID == "" {
		missing = append(missing, "callee")
	}
	if c.bridge != bridgeCreated {
		missing = append(missing, "bridge "+c.bridgeID)
	}
	if len(missing) > 0 {
		c.endCall(ctx, "orphaned", "", fmt.Sprintf("found after a restart without %s; hung up", strings.Join(missing, ", ")))
		return
	}
	if !m.subscribed {
		if _, err := c.app.ari.Subscribe(ctx, "bridge:"+c.bridgeID); err != nil {
			c.log.Warn("subscribing to the bridge failed", zap.String("bridge_id", c.bridgeID), zap.Error(err))
		}
	}
	c.stopStrayReminders(ctx)
	if err := c.repairMedia(ctx); err != nil {
		c.endCall(ctx, "rebuild_failed", "", "restoring the media after a restart: "+err.Error())
		return
	}
	for _, p := range c.parties() {
		if p.holds() {
			c.recordHoldStart(ctx, p)
			c.startHoldTimers(p)
		}
		if !p.musicUnsure || p.music == nil {
			continue
		}
		p.musicUnsure = false
		if sent, err := p.music.Source().Continue(c.forParty(ctx, p), c.app.ari, p.music); err != nil {
			c.log.Error("starting music on hold after its announcement failed; the held party may hear silence",
				zap.String("party", string(p.role)), zap.String("channel_id", p.channelID), zap.Error(err))
		} else if sent {
			c.log.Info("music on hold started again: its announcement may have ended while no ariapp ran",
				zap.String("party", string(p.role)), zap.String("channel_id", p.channelID))
		}
	}
	c.applyMuteRecord(ctx)
	c.updateSnapshot()
	c.log.Info("call rebuilt from Asterisk", zap.String("caller_channel_id", c.caller.channelID),
		zap.String("callee_channel_id", c.callee.channelID), zap.String("bridge_id", c.bridgeID), zap.Any("holders", c.holders()))
}

// reconcile checks a running call against what Asterisk has after a
// reconnect: vanished channels end the call, a vanished bridge too, a
// callee that answered unseen is bridged, and the media is repaired from
// where Asterisk has the channels now.
func (c *call) reconcile(ctx context.Context, s *asteriskState) {
	for _, p := range c.parties() {
		if !p.channel.exists() {
			continue
		}
		if _, ok := s.channels[p.channelID]; !ok {
			dialled := p.channel == channelDialled
			p.channel = channelGone
			if dialled && p == c.callee && c.state == CallRinging {
				// Gone while ringing: busy, no answer, ... unknown now.
				c.endCall(ctx, "callee_gone", "", "the callee vanished while the ARI connection was down")
				return
			}
			c.endCall(ctx, string(p.role)+"_hangup", p.role, fmt.Sprintf("%s vanished while the ARI connection was down", p.role))
			return
		}
	}
	switch c.state {
	case CallRinging:
		if ch, ok := s.channels[c.callee.channelID]; ok && c.callee.channel == channelDialled && ch.Dialplan.AppName == "Stasis" {
			c.callee.channel = channelInStasis
			c.answered(ctx) // its StasisStart was lost
		}
	case CallAnswered:
		if _, ok := s.bridges[c.bridgeID]; !ok {
			c.bridge = bridgeGone
			c.endCall(ctx, "bridge_destroyed", "", "the bridge vanished while the ARI connection was down")
			return
		}
		for _, p := range c.parties() {
			c.placeFromSnapshot(p, s)
		}
		if err := c.repairMedia(ctx); err != nil {
			c.log.Warn("restoring the media after a reconnect failed", zap.Error(err))
		}
		c.updateSnapshot()
	}
}
