// Package fakeasterisk is an in-process Asterisk for tests of the app
// package: it implements the ARI requests ariapp makes (app.ARI) with the
// real ari types and errors, and emits the events real Asterisk 22 emits
// for them, so the SPEC rules can be tested in seconds without the lab.
//
// It models what ariapp relies on and nothing more:
//
//   - channels with a state, Stasis arguments, dialplan position
//     ("Stasis" / "APP,args"), variables and creation time; Local-channel
//     pairs whose far half answers, rings, is busy, congested or
//     unavailable by its extension in the lab's ariapp-test context (talk,
//     idle, keys, noanswer, busy, congestion; anything else is
//     unavailable);
//   - originate: ChannelCreated, Dial RINGING, then on answer
//     ChannelStateChange Up, Dial ANSWER and StasisStart with the appArgs;
//   - bridges: ChannelEnteredBridge/ChannelLeftBridge, and BridgeDestroyed
//     only for a bridge the application subscribed to;
//   - playbacks: a tone: (or an unknown scheme) plays until it is stopped,
//     sound: items end by themselves (PlaybackFinished done), a hang-up
//     ends them with PlaybackFinished failed;
//   - music on hold: 204 and no event;
//   - channel mute and unmute: 204 and no event at once, also while a
//     playback runs (Asterisk queues it for the channel's thread); the
//     state follows the channel through bridges and playbacks;
//   - global variables (GET/POST /asterisk/variable);
//   - hang-up: ChannelHangupRequest, ChannelLeftBridge, StasisEnd,
//     ChannelDestroyed with the Q.850 cause;
//   - the behaviours of Asterisk that ariapp has to cope with: addChannel,
//     removeChannel and a variable write are held open while a playback
//     runs on the channel; a hung-up channel in addChannel/removeChannel is
//     400 "Channel not found"; the events of a request are queued before
//     its reply returns, so a consumer often sees them first.
//
// Requests can be made to fail, to wait, or to lose their events (Inject,
// LoseEvents); the event connection can drop and come back (Disconnect,
// Reconnect) or be replaced by a new process's (Connect), and phones can
// press hold or keys (PressHold, PressUnhold, PressKeys).
//
// A request the fake holds open (a playback running) and whose context
// ends is answered with the client's timeout error and then forgotten;
// Asterisk would still carry it out once the playback ends.
package fakeasterisk

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ariapp/ariapp/ari"
)

// Behaviour is how a dialled far end reacts.
type Behaviour int

// Far-end behaviours.
const (
	// Unavailable: the far end cannot be reached (Dial CHANUNAVAIL).
	Unavailable Behaviour = iota
	// Answer: the far end answers after Config.AnswerDelay.
	Answer
	// RingForever: the far end rings until the originate times out.
	RingForever
	// Busy: Dial BUSY, cause 17.
	Busy
	// Congestion: Dial CONGESTION, cause 34.
	Congestion
)

// TestContext is the lab dialplan context whose extensions the fake knows.
const TestContext = "ariapp-test"

var testExtensions = map[string]Behaviour{
	"talk":       Answer,
	"idle":       Answer,
	"keys":       Answer,
	"noanswer":   RingForever,
	"busy":       Busy,
	"congestion": Congestion,
}

// Config sets the fake's timing; zero values take the defaults.
type Config struct {
	// Application is the Stasis application name (default "ariapp-fake").
	Application string
	// AnswerDelay is how long an answering far end rings (default 2 ms).
	AnswerDelay time.Duration
	// SoundLength is how long one sound: item plays (default 150 ms).
	SoundLength time.Duration
	// KeysDelay is the pause of a phone before each group of keys it
	// presses once answered (default 50 ms).
	KeysDelay time.Duration
	// RequestTimeout bounds a request the fake holds open, like the ARI
	// client's own (default 5 s).
	RequestTimeout time.Duration
	// Endpoints overrides the behaviour of far ends by endpoint, e.g.
	// "PJSIP/bob": Answer.
	Endpoints map[string]Behaviour
	// Before2210 makes the fake an Asterisk older than 22.10: no bulk
	// variable write (404 "Resource not found") and no reported variables
	// in an originate (400).
	Before2210 bool
}

// Asterisk is the fake. Its methods are safe for concurrent use.
type Asterisk struct {
	cfg Config

	mu        sync.Mutex
	channels  map[string]*channel
	bridges   map[string]*bridge
	playbacks map[string]*playback
	subs      map[string]bool
	globals   map[string]string
	faults    []*Injected
	losses    []*loss
	conn      *Conn
	down      bool
	dropping  bool
	closed    bool
	changed   chan struct{}
	timers    map[*time.Timer]struct{}
	serial    int
}

type channel struct {
	ch       ari.Channel
	vars     map[string]string
	reported map[string]bool // vars shown in the channel's JSON (report_events)
	watched  bool            // its events go to the application
	inStasis bool
	args     []string
	bridge   string
	moh      bool
	// muted are the directions ("in", "out") muted on the channel.
	muted    map[ari.MuteDirection]bool
	other    *channel // the other half of a Local pair
	onAnswer func()   // the far end's reaction once the app answers
}

type bridge struct {
	b ari.Bridge
}

type playback struct {
	pb      ari.Playback
	channel string
	media   []string
	endless bool
}

type loss struct {
	match func(ari.Event) bool
	left  int
}

// New returns a fake Asterisk. Close it when done.
func New(cfg Config) *Asterisk {
	if cfg.Application == "" {
		cfg.Application = "ariapp-fake"
	}
	if cfg.AnswerDelay <= 0 {
		cfg.AnswerDelay = 2 * time.Millisecond
	}
	if cfg.SoundLength <= 0 {
		cfg.SoundLength = 150 * time.Millisecond
	}
	if cfg.KeysDelay <= 0 {
		cfg.KeysDelay = 50 * time.Millisecond
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 5 * time.Second
	}
	return &Asterisk{
		cfg:       cfg,
		channels:  map[string]*channel{},
		bridges:   map[string]*bridge{},
		playbacks: map[string]*playback{},
		subs:      map[string]bool{},
		globals:   map[string]string{},
		changed:   make(chan struct{}),
		timers:    map[*time.Timer]struct{}{},
	}
}

// Application is the Stasis application name.
func (a *Asterisk) Application() string { return a.cfg.Application }

// Close ends the event connection and every pending timer; requests fail
// with ari.ErrClosed afterwards.
func (a *Asterisk) Close() {
	a.mu.Lock()
	a.closed = true
	for t := range a.timers {
		t.Stop()
	}
	a.timers = map[*time.Timer]struct{}{}
	c := a.conn
	a.conn = nil
	a.touch()
	a.mu.Unlock()
	if c != nil {
		c.Close()
	}
}

// touch wakes every request waiting for a change. Call with a.mu held.
func (a *Asterisk) touch() {
	close(a.changed)
	a.changed = make(chan struct{})
}

// wait releases a.mu until something changes or ctx ends.
func (a *Asterisk) wait(ctx context.Context) error {
	c := a.changed
	a.mu.Unlock()
	defer a.mu.Lock()
	select {
	case <-c:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// after runs f with a.mu held after d, unless the fake is closed by then.
func (a *Asterisk) after(d time.Duration, f func()) {
	if a.closed {
		return
	}
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		if _, ok := a.timers[t]; !ok || a.closed {
			return
		}
		delete(a.timers, t)
		f()
	})
	a.timers[t] = struct{}{}
}

func (a *Asterisk) base(typ string) ari.EventBase {
	return ari.EventBase{Type: typ, Application: a.cfg.Application, Timestamp: ari.Time{Time: time.Now()}}
}

// emit queues an event for the application. Call with a.mu held.
func (a *Asterisk) emit(ev ari.Event) {
	if a.conn == nil || a.down || a.dropping {
		return
	}
	for i, l := range a.losses {
		if l.match(ev) {
			if l.left--; l.left <= 0 {
				a.losses = slices.Delete(a.losses, i, i+1)
			}
			return
		}
	}
	a.conn.push(ev)
}

func (a *Asterisk) emitChannel(c *channel, ev ari.Event) {
	if c.watched {
		a.emit(ev)
	}
}

// LoseEvents makes the next n events that match disappear, as if the
// WebSocket lost them.
func (a *Asterisk) LoseEvents(n int, match func(ari.Event) bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.losses = append(a.losses, &loss{match: match, left: n})
}

// Connect opens the application's event connection, as a starting ariapp
// does. Its first event is a ConnectionEvent{State: StateConnected}. An
// earlier connection is closed: a new process took the application.
func (a *Asterisk) Connect() *Conn {
	c := newConn(a)
	a.mu.Lock()
	old := a.conn
	a.conn = c
	a.down = false
	c.connects = 1
	c.connected = true
	c.push(&ari.ConnectionEvent{EventBase: a.base(ari.ConnectionEventType), State: ari.StateConnected})
	a.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return c
}

// Disconnect drops the event connection: the application gets a
// ConnectionEvent{StateDisconnected}, events meanwhile are lost and the
// connection's Client fails with ari.ErrUnreachable until Reconnect.
func (a *Asterisk) Disconnect() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.conn == nil || a.down {
		return
	}
	a.conn.push(&ari.ConnectionEvent{EventBase: a.base(ari.ConnectionEventType), State: ari.StateDisconnected, Err: fmt.Errorf("fakeasterisk: connection dropped")})
	a.conn.setConnected(false)
	a.down = true
}

// Reconnect ends a Disconnect: the application gets a
// ConnectionEvent{StateConnected, Reconnect: true}.
func (a *Asterisk) Reconnect() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.conn == nil || !a.down {
		return
	}
	a.down = false
	a.conn.setConnected(true)
	a.conn.mu.Lock()
	a.conn.connects++
	a.conn.mu.Unlock()
	a.conn.push(&ari.ConnectionEvent{EventBase: a.base(ari.ConnectionEventType), State: ari.StateConnected, Reconnect: true})
}

// behaviour returns how a far end dialled as endpoint reacts.
func (a *Asterisk) behaviour(endpoint string) Behaviour {
	if b, ok := a.cfg.Endpoints[endpoint]; ok {
		return b
	}
	if ext, ok := strings.CutPrefix(endpoint, "Local/"); ok {
		if e, ctx, ok := strings.Cut(ext, "@"); ok && ctx == TestContext {
			return testExtensions[e]
		}
	}
	return Unavailable
}

func (a *Asterisk) newName(endpoint string) string {
	a.serial++
	return fmt.Sprintf("%s-%08x", endpoint, a.serial)
}

func (a *Asterisk) newChannel(id, name, state string) *channel {
	c := &channel{
		ch: ari.Channel{
			ID: id, Name: name, State: state, Language: "en",
			CreationTime: ari.Time{Time: time.Now()},
		},
		vars:     map[string]string{},
		reported: map[string]bool{},
	}
	a.channels[id] = c
	return c
}

// channelSnapshot is the channel as ARI reports it.
func (a *Asterisk) channelSnapshot(c *channel) ari.Channel {
	ch := c.ch
	if len(c.reported) > 0 {
		ch.ChannelVars = make(map[string]string, len(c.reported))
		for k := range c.reported {
			ch.ChannelVars[k] = c.vars[k]
		}
	}
	if c.inStasis {
		ch.Dialplan.AppName = "Stasis"
		ch.Dialplan.AppData = strings.Join(append([]string{a.cfg.Application}, c.args...), ",")
	}
	return ch
}

func (b *bridge) snapshot() ari.Bridge {
	out := b.b
	out.Channels = slices.Clone(b.b.Channels)
	if out.Channels == nil {
		out.Channels = []string{}
	}
	return out
}

// setState changes a channel's state and reports it.
func (a *Asterisk) setState(c *channel, state string) {
	if c.ch.State == state {
		return
	}
	c.ch.State = state
	a.emitChannel(c, &ari.ChannelStateChange{EventBase: a.base("ChannelStateChange"), Channel: a.channelSnapshot(c)})
}

// enterStasis puts a channel into the application with its arguments.
func (a *Asterisk) enterStasis(c *channel, args []string) {
	c.inStasis, c.args, c.watched = true, slices.Clone(args), true
	a.emit(&ari.StasisStart{EventBase: a.base("StasisStart"), Args: slices.Clone(args), Channel: a.channelSnapshot(c)})
}

// CallParams describe a phone calling into the application.
type CallParams struct {
	// Endpoint is the caller's endpoint, e.g. "Local/dial-talk@ariapp-test"
	// (its channel is named after it).
	Endpoint string
	// Args are the Stasis arguments, e.g. dial,Local/talk@ariapp-test.
	Args []string
	// ChannelID is the caller channel's id (the one in Stasis); PhoneID the
	// id of its far end, the "phone": hanging it up hangs up the caller.
	ChannelID, PhoneID string
	// Keys are digit groups the phone presses once the caller is answered,
	// Config.KeysDelay apart (like the lab's keys extension).
	Keys []string
	// Caller is the caller id.
	Caller ari.CallerID
	// Variables are set on the caller channel.
	Variables map[string]string
}

// Call makes a phone call into the application, as the dialplan's
// Stasis(APP,args) does: the caller channel enters Stasis in state Ring.
func (a *Asterisk) Call(p CallParams) (ari.Channel, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return ari.Channel{}, ari.ErrClosed
	}
	if p.ChannelID == "" || p.PhoneID == "" || p.Endpoint == "" {
		return ari.Channel{}, fmt.Errorf("%w: call: endpoint, channel and phone ids are required", ari.ErrInvalidArgument)
	}
	if a.channels[p.ChannelID] != nil || a.channels[p.PhoneID] != nil {
		return ari.Channel{}, ari.NewAPIError("POST", "/channels", 409, "Channel with given unique ID already exists")
	}
	name := a.newName(p.Endpoint)
	phone := a.newChannel(p.PhoneID, name+";1", "Up")
	caller := a.newChannel(p.ChannelID, name+";2", "Ring")
	phone.other, caller.other = caller, phone
	caller.ch.Caller = p.Caller
	caller.ch.Dialplan = ari.DialplanCEP{Context: TestContext, Exten: strings.TrimPrefix(strings.SplitN(p.Endpoint, "@", 2)[0], "Local/"), Priority: 1}
	for k, v := range p.Variables {
		caller.vars[k] = v
	}
	if len(p.Keys) > 0 {
		keys := slices.Clone(p.Keys)
		caller.onAnswer = func() { a.pressGroups(caller, keys) }
	}
	a.enterStasis(caller, p.Args)
	return a.channelSnapshot(caller), nil
}

func (a *Asterisk) pressGroups(c *channel, groups []string) {
	if len(groups) == 0 {
		return
	}
	a.after(a.cfg.KeysDelay, func() {
		if a.channels[c.ch.ID] != c {
			return
		}
		a.press(c, groups[0])
		a.pressGroups(c, groups[1:])
	})
}

func (a *Asterisk) press(c *channel, digits string) {
	for _, d := range digits {
		a.emitChannel(c, &ari.ChannelDtmfReceived{EventBase: a.base("ChannelDtmfReceived"), Digit: string(d), DurationMs: 100, Channel: a.channelSnapshot(c)})
	}
}

// phoneEvent finds a live channel for a phone-side injection.
func (a *Asterisk) phoneEvent(channelID string, ev func(ari.Channel) ari.Event) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.channels[channelID]
	if c == nil {
		return ari.NewAPIError("POST", "/channels/"+url.PathEscape(channelID), 404, "Channel not found")
	}
	a.emitChannel(c, ev(a.channelSnapshot(c)))
	return nil
}

// PressHold is a phone on channelID pressing its hold key (a re-INVITE
// with a=sendonly): Asterisk emits ChannelHold.
func (a *Asterisk) PressHold(channelID string) error {
	return a.phoneEvent(channelID, func(ch ari.Channel) ari.Event {
		return &ari.ChannelHold{EventBase: a.base("ChannelHold"), Channel: ch}
	})
}

// PressUnhold is the phone taking the call off hold: ChannelUnhold.
func (a *Asterisk) PressUnhold(channelID string) error {
	return a.phoneEvent(channelID, func(ch ari.Channel) ari.Event {
		return &ari.ChannelUnhold{EventBase: a.base("ChannelUnhold"), Channel: ch}
	})
}

// PressKeys is the far end of channelID pressing DTMF digits: one
// ChannelDtmfReceived per digit on that channel.
func (a *Asterisk) PressKeys(channelID, digits string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.channels[channelID]
	if c == nil {
		return ari.NewAPIError("POST", "/channels/"+url.PathEscape(channelID)+"/dtmf", 404, "Channel not found")
	}
	a.press(c, digits)
	return nil
}

// hangup ends a channel and its Local other half. Call with a.mu held.
func (a *Asterisk) hangup(c *channel, cause int) {
	if a.channels[c.ch.ID] != c {
		return
	}
	delete(a.channels, c.ch.ID)
	a.emitChannel(c, &ari.ChannelHangupRequest{EventBase: a.base("ChannelHangupRequest"), Cause: cause, Channel: a.channelSnapshot(c)})
	for _, id := range a.playbackIDsOn(c.ch.ID) {
		pb := a.playbacks[id]
		delete(a.playbacks, id)
		pb.pb.State = "failed"
		a.emit(&ari.PlaybackFinished{EventBase: a.base("PlaybackFinished"), Playback: pb.pb})
	}
	if b := a.bridges[c.bridge]; b != nil {
		a.leave(b, c)
	}
	if c.inStasis {
		a.emitChannel(c, &ari.StasisEnd{EventBase: a.base("StasisEnd"), Channel: a.channelSnapshot(c)})
	}
	a.emitChannel(c, &ari.ChannelDestroyed{EventBase: a.base("ChannelDestroyed"), Cause: cause, CauseTxt: causeText[cause], Channel: a.channelSnapshot(c)})
	a.touch()
	if c.other != nil {
		a.hangup(c.other, 16)
	}
}

var causeText = map[int]string{
	1:  "Unallocated (unassigned) number",
	3:  "No route to destination",
	16: "Normal Clearing",
	17: "User busy",
	19: "No user responding",
	21: "Call Rejected",
	34: "Circuit/channel congestion",
	38: "Network out of order",
}

var reasonCause = map[ari.HangupReason]int{
	"":                    16,
	ari.HangupNormal:      16,
	ari.HangupBusy:        17,
	ari.HangupCongestion:  34,
	ari.HangupNoAnswer:    19,
	ari.HangupTimeout:     19,
	ari.HangupRejected:    21,
	ari.HangupUnallocated: 1,
	ari.HangupFailure:     38,
}

func (a *Asterisk) playbackIDsOn(channelID string) []string {
	var ids []string
	for id, pb := range a.playbacks {
		if pb.channel == channelID {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// leave takes a channel out of its bridge and reports it.
func (a *Asterisk) leave(b *bridge, c *channel) {
	b.b.Channels = slices.DeleteFunc(b.b.Channels, func(id string) bool { return id == c.ch.ID })
	c.bridge = ""
	a.emitChannel(c, &ari.ChannelLeftBridge{EventBase: a.base("ChannelLeftBridge"), Bridge: b.snapshot(), Channel: a.channelSnapshot(c)})
	a.touch()
}

// snapshotChannels returns every channel, Stasis or not, as GET /channels does.
func (a *Asterisk) snapshotChannels() []ari.Channel {
	out := make([]ari.Channel, 0, len(a.channels))
	for _, c := range a.channels {
		out = append(out, a.channelSnapshot(c))
	}
	sort.Slice(out, func(i, j int) bool {
		if ti, tj := out[i].CreationTime.Time, out[j].CreationTime.Time; !ti.Equal(tj) {
			return ti.Before(tj)
		}
		return out[i].ID < out[j].ID
	})
	return out
}
