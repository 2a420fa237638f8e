package fakeasterisk

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ariapp/ariapp/ari"
)

// The ARI requests, with the signatures of *ari.Client's methods: the fake
// implements app.ARI. Paths in errors are the client's.

func esc(s string) string { return url.PathEscape(s) }

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ari.ErrInvalidArgument, fmt.Sprintf(format, args...))
}

// Originate creates a channel and dials it (POST /channels). Only
// originates into Stasis (App set) are modelled.
func (a *Asterisk) Originate(ctx context.Context, p ari.OriginateParams) (*ari.Channel, error) {
	if p.Endpoint == "" {
		return nil, invalid("originate: endpoint is empty")
	}
	if p.App == "" {
		return nil, invalid("originate: fakeasterisk models originates into Stasis only")
	}
	r, err := a.begin(ctx, "Originate", p.Endpoint, "POST", "/channels")
	if err != nil {
		return nil, err
	}
	if p.App != a.cfg.Application {
		return nil, a.fail(r, 400, "Stasis application "+p.App+" is not registered")
	}
	if !strings.Contains(p.Endpoint, "/") {
		return nil, a.fail(r, 400, "Endpoint must be in the format tech/resource")
	}
	if p.Originator != "" && a.channels[p.Originator] == nil {
		return nil, a.fail(r, 400, "Provided originator channel was not found")
	}
	id := p.ChannelID
	if id == "" {
		a.serial++
		id = fmt.Sprintf("fake-%d.%d", time.Now().Unix(), a.serial)
	}
	otherID := p.OtherChannelID
	if otherID == "" {
		otherID = id + ";2"
	}
	local := strings.HasPrefix(p.Endpoint, "Local/")
	if a.channels[id] != nil || (local && a.channels[otherID] != nil) {
		return nil, a.fail(r, 409, "Channel with given unique ID already exists")
	}
	name := a.newName(p.Endpoint)
	c := a.newChannel(id, name, "Down")
	if local {
		c.ch.Name = name + ";1"
		far := a.newChannel(otherID, name+";2", "Ring")
		c.other, far.other = far, c
	}
	if num, ok := callerNumber(p.CallerID); ok {
		c.ch.Caller = num
	}
	if p.ReportVariables && a.cfg.Before2210 {
		return nil, a.fail(r, 400, "Only string values in the 'variables' object allowed")
	}
	for k, v := range p.Variables {
		c.vars[k] = v
		if p.ReportVariables {
			c.reported[k] = true
		}
	}
	c.watched = true
	a.emitChannel(c, &ari.ChannelCreated{EventBase: a.base("ChannelCreated"), Channel: a.channelSnapshot(c)})
	a.dial(c, a.behaviour(p.Endpoint), p.AppArgs, p.Timeout)
	out := a.channelSnapshot(c)
	a.end(r)
	return &out, nil
}

// callerNumber parses `"Name" <number>`.
func callerNumber(s string) (ari.CallerID, bool) {
	if s == "" {
		return ari.CallerID{}, false
	}
	name, rest, ok := strings.Cut(s, "<")
	if !ok {
		return ari.CallerID{Number: strings.TrimSpace(s)}, true
	}
	return ari.CallerID{Name: strings.Trim(strings.TrimSpace(name), `"`), Number: strings.TrimSuffix(strings.TrimSpace(rest), ">")}, true
}

// dial plays out the far end's behaviour on an originated channel.
func (a *Asterisk) dial(c *channel, b Behaviour, args []string, timeout time.Duration) {
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	dialEv := func(status string) {
		a.emitChannel(c, &ari.Dial{EventBase: a.base("Dial"), Peer: a.channelSnapshot(c), Dialstring: c.ch.Name, Dialstatus: status})
	}
	alive := func() bool { return a.channels[c.ch.ID] == c }
	// The outcome is scheduled from the first step, so the events keep
	// their order whatever the timers' goroutines do.
	a.after(0, func() {
		if !alive() {
			return
		}
		dialEv("")
		if b == Answer || b == RingForever {
			a.setState(c, "Ringing")
			dialEv("RINGING")
		}
		switch b {
		case Answer:
			a.after(a.cfg.AnswerDelay, func() {
				if !alive() {
					return
				}
				a.setState(c, "Up")
				dialEv("ANSWER")
				a.enterStasis(c, args)
			})
		case RingForever:
			a.after(timeout, func() {
				if alive() {
					dialEv("NOANSWER")
					a.hangup(c, 19)
				}
			})
		default:
			status, cause := "CHANUNAVAIL", 3
			switch b {
			case Busy:
				status, cause = "BUSY", 17
			case Congestion:
				status, cause = "CONGESTION", 34
			}
			a.after(a.cfg.AnswerDelay, func() {
				if alive() {
					dialEv(status)
					a.hangup(c, cause)
				}
			})
		}
	})
}

// channelOp begins a request about one channel; a missing channel is
// Asterisk's 404 "Channel not found".
func (a *Asterisk) channelOp(ctx context.Context, op, method, channelID, rest string) (*request, *channel, error) {
	if channelID == "" {
		return nil, nil, invalid("channel id is empty")
	}
	path := "/channels/" + esc(channelID)
	if rest != "" {
		path += "/" + rest
	}
	r, err := a.begin(ctx, op, channelID, method, path)
	if err != nil {
		return nil, nil, err
	}
	c := a.channels[channelID]
	if c == nil {
		return nil, nil, a.fail(r, 404, "Channel not found")
	}
	return r, c, nil
}

// Channel returns one channel (GET /channels/{id}).
func (a *Asterisk) Channel(ctx context.Context, channelID string) (*ari.Channel, error) {
	r, c, err := a.channelOp(ctx, "Channel", "GET", channelID, "")
	if err != nil {
		return nil, err
	}
	out := a.channelSnapshot(c)
	a.end(r)
	return &out, nil
}

// Channels lists every channel (GET /channels).
func (a *Asterisk) Channels(ctx context.Context) ([]ari.Channel, error) {
	r, err := a.begin(ctx, "Channels", "", "GET", "/channels")
	if err != nil {
		return nil, err
	}
	out := a.snapshotChannels()
	a.end(r)
	return out, nil
}

// Answer answers a channel.
func (a *Asterisk) Answer(ctx context.Context, channelID string) error {
	r, c, err := a.channelOp(ctx, "Answer", "POST", channelID, "answer")
	if err != nil {
		return err
	}
	if c.ch.State != "Up" {
		a.setState(c, "Up")
		if c.onAnswer != nil {
			c.onAnswer()
			c.onAnswer = nil
		}
	}
	a.end(r)
	return nil
}

// Ring indicates ringing to a channel.
func (a *Asterisk) Ring(ctx context.Context, channelID string) error {
	r, c, err := a.channelOp(ctx, "Ring", "POST", channelID, "ring")
	if err != nil {
		return err
	}
	if c.ch.State != "Up" {
		a.setState(c, "Ringing")
	}
	a.end(r)
	return nil
}

// Hangup hangs a channel up; its Local other half goes too.
func (a *Asterisk) Hangup(ctx context.Context, channelID string, reason ari.HangupReason) error {
	r, c, err := a.channelOp(ctx, "Hangup", "DELETE", channelID, "")
	if err != nil {
		return err
	}
	cause, ok := reasonCause[reason]
	if !ok {
		return a.fail(r, 400, "Invalid reason for hangup provided")
	}
	a.hangup(c, cause)
	a.end(r)
	return nil
}

// SetVar sets a channel variable. Asterisk runs it on the channel's
// thread, so it waits while a playback runs on the channel.
func (a *Asterisk) SetVar(ctx context.Context, channelID, name, value string) error {
	if name == "" {
		return invalid("variable name is empty")
	}
	r, c, err := a.channelOp(ctx, "SetVar", "POST", channelID, "variable")
	if err != nil {
		return err
	}
	if err := a.hold(r, func() bool { return a.channels[channelID] != c || len(a.playbackIDsOn(channelID)) == 0 }); err != nil {
		a.end(r)
		return err
	}
	if a.channels[channelID] != c {
		return a.fail(r, 404, "Channel not found")
	}
	c.vars[name] = value
	// A write without report_events takes the variable out of the
	// channel's JSON, as Asterisk 22.10 does.
	delete(c.reported, name)
	a.emitChannel(c, &ari.ChannelVarset{EventBase: a.base("ChannelVarset"), Variable: name, Value: value, Channel: ptr(a.channelSnapshot(c))})
	a.end(r)
	return nil
}

// SetVars sets several channel variables (POST /channels/{id}/variables,
// Asterisk 22.10), one ChannelVarset each; with report they are shown in
// the channel's JSON. Like SetVar it waits while a playback runs. Before
// 22.10 (Config.Before2210) Asterisk has no such request.
func (a *Asterisk) SetVars(ctx context.Context, channelID string, vars map[string]string, report bool) error {
	if len(vars) == 0 {
		return invalid("no variables")
	}
	if a.cfg.Before2210 {
		r, err := a.begin(ctx, "SetVars", channelID, "POST", "/channels/"+esc(channelID)+"/variables")
		if err != nil {
			return err
		}
		return a.fail(r, 404, "Resource not found")
	}
	r, c, err := a.channelOp(ctx, "SetVars", "POST", channelID, "variables")
	if err != nil {
		return err
	}
	if err := a.hold(r, func() bool { return a.channels[channelID] != c || len(a.playbackIDsOn(channelID)) == 0 }); err != nil {
		a.end(r)
		return err
	}
	if a.channels[channelID] != c {
		return a.fail(r, 404, "Provided channel was not found")
	}
	for _, name := range slices.Sorted(maps.Keys(vars)) {
		c.vars[name] = vars[name]
		if report {
			c.reported[name] = true
		} else {
			delete(c.reported, name)
		}
		a.emitChannel(c, &ari.ChannelVarset{EventBase: a.base("ChannelVarset"), Variable: name, Value: vars[name], Channel: ptr(a.channelSnapshot(c))})
	}
	a.end(r)
	return nil
}

func ptr[T any](v T) *T { return &v }

// GetVar reads a channel variable; an unset one is 404.
func (a *Asterisk) GetVar(ctx context.Context, channelID, name string) (string, error) {
	if name == "" {
		return "", invalid("variable name is empty")
	}
	r, c, err := a.channelOp(ctx, "GetVar", "GET", channelID, "variable")
	if err != nil {
		return "", err
	}
	v, ok := c.vars[name]
	if !ok {
		return "", a.fail(r, 404, "Provided variable was not found")
	}
	a.end(r)
	return v, nil
}

// GetVars reads several channel variables (GET /channels/{id}/variables,
// Asterisk 22.10); one unset fails the whole request with 404, as
// Asterisk does. Before 22.10 (Config.Before2210) there is no such request.
func (a *Asterisk) GetVars(ctx context.Context, channelID string, names ...string) (map[string]string, error) {
	if len(names) == 0 {
		return nil, invalid("no variable names")
	}
	if a.cfg.Before2210 {
		r, err := a.begin(ctx, "GetVars", channelID, "GET", "/channels/"+esc(channelID)+"/variables")
		if err != nil {
			return nil, err
		}
		return nil, a.fail(r, 404, "Resource not found")
	}
	r, c, err := a.channelOp(ctx, "GetVars", "GET", channelID, "variables")
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(names))
	for _, n := range names {
		v, ok := c.vars[n]
		if !ok {
			return nil, a.fail(r, 404, "Provided variable was not found")
		}
		out[n] = v
	}
	a.end(r)
	return out, nil
}

// StartMOH starts music on hold: 204 and no event, whatever the class.
func (a *Asterisk) StartMOH(ctx context.Context, channelID, class string) error {
	r, c, err := a.channelOp(ctx, "StartMOH", "POST", channelID, "moh")
	if err != nil {
		return err
	}
	if c.ch.State != "Up" {
		return a.fail(r, 412, "Channel not in Up state")
	}
	c.moh = true
	a.end(r)
	return nil
}

// StopMOH stops music on hold: 204 and no event.
func (a *Asterisk) StopMOH(ctx context.Context, channelID string) error {
	r, c, err := a.channelOp(ctx, "StopMOH", "DELETE", channelID, "moh")
	if err != nil {
		return err
	}
	c.moh = false
	a.end(r)
	return nil
}

// OnMOH reports whether music on hold runs on a channel (ARI cannot tell;
// a test can).
func (a *Asterisk) OnMOH(channelID string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.channels[channelID]
	return c != nil && c.moh
}

// Play starts a playback on a channel under the given id.
func (a *Asterisk) Play(ctx context.Context, channelID, playbackID string, media ...string) (*ari.Playback, error) {
	if playbackID == "" {
		return nil, invalid("playback id is empty")
	}
	if len(media) == 0 {
		return nil, invalid("no media to play")
	}
	for _, m := range media {
		if m == "" || strings.Contains(m, ",") {
			return nil, invalid("bad media item %q", m)
		}
	}
	r, c, err := a.channelOp(ctx, "Play", "POST", channelID, "play/"+esc(playbackID))
	if err != nil {
		return nil, err
	}
	if c.ch.State != "Up" {
		return nil, a.fail(r, 412, "Channel not in Up state")
	}
	if a.playbacks[playbackID] != nil {
		return nil, a.fail(r, 409, "A playback with this id already exists")
	}
	pb := &playback{
		pb:      ari.Playback{ID: playbackID, MediaURI: media[0], TargetURI: "channel:" + channelID, Language: "en", State: "playing"},
		channel: channelID,
		media:   slices.Clone(media),
	}
	for _, m := range media {
		if !strings.HasPrefix(m, "sound:") {
			pb.endless = true // tones loop; an unknown scheme never finishes
		}
	}
	a.playbacks[playbackID] = pb
	a.emit(&ari.PlaybackStarted{EventBase: a.base("PlaybackStarted"), Playback: pb.pb})
	if !pb.endless {
		a.after(time.Duration(len(media))*a.cfg.SoundLength, func() {
			if a.playbacks[playbackID] != pb {
				return
			}
			delete(a.playbacks, playbackID)
			pb.pb.State = "done"
			a.emit(&ari.PlaybackFinished{EventBase: a.base("PlaybackFinished"), Playback: pb.pb})
			a.touch()
		})
	}
	out := pb.pb
	a.end(r)
	return &out, nil
}

// Playback returns a running playback; an ended one is 404.
func (a *Asterisk) Playback(ctx context.Context, playbackID string) (*ari.Playback, error) {
	if playbackID == "" {
		return nil, invalid("playback id is empty")
	}
	r, err := a.begin(ctx, "Playback", playbackID, "GET", "/playbacks/"+esc(playbackID))
	if err != nil {
		return nil, err
	}
	pb := a.playbacks[playbackID]
	if pb == nil {
		return nil, a.fail(r, 404, "Playback not found")
	}
	out := pb.pb
	a.end(r)
	return &out, nil
}

// StopPlayback stops a playback: PlaybackFinished with state done.
func (a *Asterisk) StopPlayback(ctx context.Context, playbackID string) error {
	if playbackID == "" {
		return invalid("playback id is empty")
	}
	r, err := a.begin(ctx, "StopPlayback", playbackID, "DELETE", "/playbacks/"+esc(playbackID))
	if err != nil {
		return err
	}
	pb := a.playbacks[playbackID]
	if pb == nil {
		return a.fail(r, 404, "Playback not found")
	}
	delete(a.playbacks, playbackID)
	pb.pb.State = "done"
	a.emit(&ari.PlaybackFinished{EventBase: a.base("PlaybackFinished"), Playback: pb.pb})
	a.touch()
	a.end(r)
	return nil
}

// CreateBridge creates a bridge with the given id.
func (a *Asterisk) CreateBridge(ctx context.Context, bridgeID, types, name string) (*ari.Bridge, error) {
	if bridgeID == "" {
		return nil, invalid("bridge id is empty")
	}
	r, err := a.begin(ctx, "CreateBridge", bridgeID, "POST", "/bridges")
	if err != nil {
		return nil, err
	}
	if a.bridges[bridgeID] != nil {
		return nil, a.fail(r, 409, "Bridge with this id already exists")
	}
	if types == "" {
		types = "mixing"
	}
	b := &bridge{b: ari.Bridge{ID: bridgeID, Technology: "simple_bridge", BridgeType: strings.Split(types, ",")[0],
		BridgeClass: "stasis", Creator: "Stasis", Name: name, Channels: []string{}, CreationTime: ari.Time{Time: time.Now()}}}
	a.bridges[bridgeID] = b
	out := b.snapshot()
	a.end(r)
	return &out, nil
}

// Bridge returns one bridge.
func (a *Asterisk) Bridge(ctx context.Context, bridgeID string) (*ari.Bridge, error) {
	if bridgeID == "" {
		return nil, invalid("bridge id is empty")
	}
	r, err := a.begin(ctx, "Bridge", bridgeID, "GET", "/bridges/"+esc(bridgeID))
	if err != nil {
		return nil, err
	}
	b := a.bridges[bridgeID]
	if b == nil {
		return nil, a.fail(r, 404, "Bridge not found")
	}
	out := b.snapshot()
	a.end(r)
	return &out, nil
}

// Bridges lists every bridge.
func (a *Asterisk) Bridges(ctx context.Context) ([]ari.Bridge, error) {
	r, err := a.begin(ctx, "Bridges", "", "GET", "/bridges")
	if err != nil {
		return nil, err
	}
	out := make([]ari.Bridge, 0, len(a.bridges))
	for _, b := range a.bridges {
		out = append(out, b.snapshot())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	a.end(r)
	return out, nil
}

// DestroyBridge destroys a bridge; its channels leave it and stay up.
// BridgeDestroyed reaches the application only if it subscribed.
func (a *Asterisk) DestroyBridge(ctx context.Context, bridgeID string) error {
	if bridgeID == "" {
		return invalid("bridge id is empty")
	}
	r, err := a.begin(ctx, "DestroyBridge", bridgeID, "DELETE", "/bridges/"+esc(bridgeID))
	if err != nil {
		return err
	}
	b := a.bridges[bridgeID]
	if b == nil {
		return a.fail(r, 404, "Bridge not found")
	}
	for _, id := range slices.Clone(b.b.Channels) {
		if c := a.channels[id]; c != nil {
			a.leave(b, c)
		}
	}
	delete(a.bridges, bridgeID)
	if a.subs["bridge:"+bridgeID] {
		delete(a.subs, "bridge:"+bridgeID)
		a.emit(&ari.BridgeDestroyed{EventBase: a.base("BridgeDestroyed"), Bridge: b.snapshot()})
	}
	a.touch()
	a.end(r)
	return nil
}

func checkIDs(op string, ids []string) error {
	if len(ids) == 0 {
		return invalid("%s: no channel", op)
	}
	for _, id := range ids {
		if id == "" || strings.Contains(id, ",") {
			return invalid("%s: bad channel id %q", op, id)
		}
	}
	return nil
}

// bridgeOp begins addChannel/removeChannel and waits, as Asterisk does,
// while a playback runs on one of the channels. It returns the bridge and
// channels found once nothing plays, or the error reply.
func (a *Asterisk) bridgeOp(ctx context.Context, op, bridgeID string, ids []string) (*request, *bridge, []*channel, error) {
	if err := checkIDs(op, ids); err != nil {
		return nil, nil, nil, err
	}
	if bridgeID == "" {
		return nil, nil, nil, invalid("bridge id is empty")
	}
	r, err := a.begin(ctx, strings.ToUpper(op[:1])+op[1:], bridgeID, "POST", "/bridges/"+esc(bridgeID)+"/"+op)
	if err != nil {
		return nil, nil, nil, err
	}
	var b *bridge
	var chans []*channel
	var reply struct {
		status int
		msg    string
	}
	look := func() bool {
		reply.status = 0
		if b = a.bridges[bridgeID]; b == nil {
			reply.status, reply.msg = 404, "Bridge not found"
			return true
		}
		chans = chans[:0]
		for _, id := range ids {
			c := a.channels[id]
			if c == nil {
				reply.status, reply.msg = 400, "Channel not found"
				return true
			}
			chans = append(chans, c)
		}
		for _, c := range chans {
			if len(a.playbackIDsOn(c.ch.ID)) > 0 {
				return false
			}
		}
		return true
	}
	if err := a.hold(r, look); err != nil {
		a.end(r)
		return nil, nil, nil, err
	}
	if reply.status != 0 {
		return nil, nil, nil, a.fail(r, reply.status, reply.msg)
	}
	return r, b, chans, nil
}

// AddChannel adds channels to a bridge (held open while a playback runs
// on one of them).
func (a *Asterisk) AddChannel(ctx context.Context, bridgeID string, channelIDs ...string) error {
	r, b, chans, err := a.bridgeOp(ctx, "addChannel", bridgeID, channelIDs)
	if err != nil {
		return err
	}
	for _, c := range chans {
		if !c.inStasis {
			return a.fail(r, 422, "Channel not in Stasis application")
		}
	}
	for _, c := range chans {
		if c.bridge == bridgeID {
			continue
		}
		if old := a.bridges[c.bridge]; old != nil {
			a.leave(old, c)
		}
		c.bridge = bridgeID
		b.b.Channels = append(b.b.Channels, c.ch.ID)
		a.emitChannel(c, &ari.ChannelEnteredBridge{EventBase: a.base("ChannelEnteredBridge"), Bridge: b.snapshot(), Channel: a.channelSnapshot(c)})
	}
	a.touch()
	a.end(r)
	return nil
}

// RemoveChannel takes channels out of a bridge (held open while a
// playback runs on one of them).
func (a *Asterisk) RemoveChannel(ctx context.Context, bridgeID string, channelIDs ...string) error {
	r, b, chans, err := a.bridgeOp(ctx, "removeChannel", bridgeID, channelIDs)
	if err != nil {
		return err
	}
	for _, c := range chans {
		if c.bridge != bridgeID {
			return a.fail(r, 422, "Channel not in this bridge")
		}
	}
	for _, c := range chans {
		a.leave(b, c)
	}
	a.end(r)
	return nil
}

// Subscribe subscribes the application to an event source; only
// "bridge:ID" changes what the fake emits (BridgeDestroyed).
func (a *Asterisk) Subscribe(ctx context.Context, eventSource string) (*ari.Application, error) {
	if eventSource == "" {
		return nil, invalid("event source is empty")
	}
	r, err := a.begin(ctx, "Subscribe", eventSource, "POST", "/applications/"+esc(a.cfg.Application)+"/subscription")
	if err != nil {
		return nil, err
	}
	// A comma-separated list subscribes to all or, if one does not
	// exist, to none.
	srcs := strings.Split(eventSource, ",")
	for _, src := range srcs {
		kind, id, _ := strings.Cut(src, ":")
		exists := false
		switch kind {
		case "bridge":
			exists = a.bridges[id] != nil
		case "channel":
			exists = a.channels[id] != nil
		}
		if !exists {
			return nil, a.fail(r, 422, "Event source does not exist")
		}
	}
	for _, src := range srcs {
		a.subs[src] = true
	}
	app := &ari.Application{Name: a.cfg.Application}
	for src := range a.subs {
		if k, v, _ := strings.Cut(src, ":"); k == "bridge" {
			app.BridgeIDs = append(app.BridgeIDs, v)
		}
	}
	for id, c := range a.channels {
		if c.inStasis {
			app.ChannelIDs = append(app.ChannelIDs, id)
		}
	}
	sort.Strings(app.BridgeIDs)
	sort.Strings(app.ChannelIDs)
	a.end(r)
	return app, nil
}

// Info returns the version the fake plays (GET /asterisk/info): 22.10.1,
// or 22.5.0 with Config.Before2210.
func (a *Asterisk) Info(ctx context.Context) (*ari.AsteriskInfo, error) {
	r, err := a.begin(ctx, "Info", "", "GET", "/asterisk/info")
	if err != nil {
		return nil, err
	}
	var out ari.AsteriskInfo
	out.System.Version = "22.10.1"
	if a.cfg.Before2210 {
		out.System.Version = "22.5.0"
	}
	out.System.EntityID = "fa:ke:00:00:00:01"
	a.end(r)
	return &out, nil
}
