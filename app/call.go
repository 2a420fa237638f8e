package app

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/holdmusic"
)

// channel is where a party's channel is in its life.
type channel int

const (
	// channelAbsent: not created (a callee not yet originated, an originate
	// Asterisk refused).
	channelAbsent channel = iota
	// channelDialled: exists in Asterisk, its StasisStart not handled yet.
	channelDialled
	// channelInStasis: in ariapp's Stasis application.
	channelInStasis
	// channelGone: left Stasis or destroyed.
	channelGone
)

// exists reports whether Asterisk may have the channel, so ending the call
// must hang it up.
func (ch channel) exists() bool { return ch == channelDialled || ch == channelInStasis }

// bridge is the life of a call's bridge.
type bridge int

const (
	bridgeNone    bridge = iota
	bridgeCreated        // created (or its creation requested): ending the call destroys it
	bridgeGone           // destroyed, by ariapp or another ARI client
)

// party is one side of a call; owned by the call's goroutine.
type party struct {
	role      Role
	channelID string
	endpoint  string
	channel   channel
	media     media
	// music is the hold music running on this party (its peer holds).
	music *holdmusic.Playing
	// holdMusic is what this party hears while its peer holds, as the
	// peer's hold chose it; nil: the configured default.
	holdMusic *holdmusic.Source
	// musicUnsure: music on hold adopted after a restart whose
	// announcement may have ended unseen (see holdmusic.Source.Continue).
	musicUnsure bool
	// recorded: VarHeld is set on this channel (music that Asterisk keeps
	// no trace of, or a record of an older ariapp), so it must be cleared.
	recorded bool
	// holdSince is when this party put the call on hold; zero while it
	// does not hold.
	holdSince time.Time
	// startRecorded: Asterisk has a record of holdSince (see
	// recordHoldStart).
	startRecorded bool
	// reminder is the playback id of the hold reminder playing to this
	// party (it holds), "" when none plays.
	reminder string
	// muted is the party's mute; muteRecorded: its record (see
	// VarMutePrefix) exists in Asterisk and must be cleared at the end.
	muted        muteSet
	muteRecorded bool
	cause        int
	causeTx      string
	// digits are the party's recent DTMF digits, for feature codes.
	digits    string
	lastDigit time.Time
}

// holds reports whether the party holds the call (its SPEC state is HOLD).
func (p *party) holds() bool { return !p.holdSince.IsZero() }

// call is one two-party call. Its fields are owned by the call's goroutine
// (see actor.go); other goroutines read only the snapshot.
type call struct {
	app   *App
	id    string
	log   *zap.Logger
	inbox *mailbox[message]
	// pending holds messages taken from the inbox while an operation waited
	// for a specific event; they are handled, in order, after it.
	pending []message

	state            CallState
	caller, callee   *party
	bridgeID         string
	bridge           bridge
	target           string
	callerID         ari.CallerID
	dialStatus       string // the callee's last Dial status
	callerDialStatus string // the caller's, when ariapp originated it
	// originated: ariapp dialled the caller itself (App.Originate).
	originated bool
	finished   map[string]string // playback id -> final state, as observed
	holdCount  int
	seq        uint64
	startedAt  time.Time
	answeredAt time.Time
	endedAt    time.Time
	endCause   string
	timers     timers
	timeline   *timeline
	snap       atomic.Pointer[CallInfo]
	// routeIDs are the ids routed to this call; guarded by app.mu.
	routeIDs map[string]struct{}
}

// newCall builds a call; every call, new or adopted after a restart, is
// made here and registered with App.register.
func newCall(a *App, id string) *call {
	c := &call{
		app:       a,
		id:        id,
		inbox:     newMailbox[message](nil),
		caller:    &party{role: Caller, media: mediaSetup},
		callee:    &party{role: Callee, media: mediaSetup},
		finished:  map[string]string{},
		state:     CallRinging,
		startedAt: time.Now(),
		log:       a.log.With(zap.String("call_id", id)),
		timeline:  &timeline{max: a.cfg.TimelineSize},
	}
	c.timers.call = c
	return c
}

// Suffixes of the ids ariapp derives from a call id.
const (
	callerSuffix = "-caller"
	calleeSuffix = "-callee"
	bridgeSuffix = "-bridge"
)

// newCallID returns a call id for a call ariapp originates: short, random,
// safe in ARI ids and URLs, behind the node's prefix (Config.CallIDPrefix).
func (a *App) newCallID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return a.cfg.CallIDPrefix + hex.EncodeToString(b[:])
}

// callIDFor derives the id of the call whose caller is channelID: the
// same in every ariapp process, so a restarted ariapp finds the callee it
// originated (channel CALLID-callee) instead of dialling it again. A caller
// ariapp originated itself carries its call id (CALLID-caller). Either
// starts with the node's prefix, so that ids stay unique across nodes.
func (a *App) callIDFor(channelID string) string {
	prefix := a.cfg.CallIDPrefix
	if id, ok := strings.CutSuffix(channelID, callerSuffix); ok && strings.HasPrefix(id, prefix) && isCallID(id[len(prefix):]) {
		return id
	}
	sum := sha256.Sum256([]byte(channelID))
	return prefix + hex.EncodeToString(sum[:8])
}

func isCallID(s string) bool {
	if len(s) != 16 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// newDialledCall is a call that starts with its caller's StasisStart
// (Stasis(app,dial,TARGET)): the callee is originated under a derived id.
func newDialledCall(a *App, id string, e *ari.StasisStart) *call {
	c := newCall(a, id)
	c.caller.channelID, c.caller.endpoint, c.caller.channel = e.Channel.ID, endpointOf(e.Channel.Name), channelDialled
	c.callee.channelID = id + calleeSuffix
	c.bridgeID = id + bridgeSuffix
	c.callerID = e.Channel.Caller
	if len(e.Args) > 1 {
		c.target = e.Args[1]
		c.callee.endpoint = c.target
	}
	c.updateSnapshot()
	return c
}

// runOn makes the call's mailbox start run (with the App's lifetime
// context) whenever a message arrives and no goroutine handles the call.
// It must be called before anyone else can see the call.
func (c *call) runOn(ctx context.Context) {
	c.inbox.start = func() {
		c.app.wg.Add(1)
		go c.run(ctx)
	}
}

func (c *call) parties() [2]*party { return [2]*party{c.caller, c.callee} }

func (c *call) partyByChannel(id string) *party {
	switch id {
	case "":
		return nil
	case c.caller.channelID:
		return c.caller
	case c.callee.channelID:
		return c.callee
	}
	return nil
}

// partyByRef resolves "caller", "callee" or a channel id.
func (c *call) partyByRef(ref string) (*party, error) {
	switch Role(ref) {
	case Caller:
		return c.caller, nil
	case Callee:
		return c.callee, nil
	}
	if p := c.partyByChannel(ref); p != nil {
		return p, nil
	}
	return nil, fmt.Errorf("%w: %q is not caller, callee or a channel of call %s", ErrUnknownParty, ref, c.id)
}

func (c *call) peer(p *party) *party {
	if p == c.caller {
		return c.callee
	}
	return c.caller
}

// emit reports one state change: snapshot, log line, observer, subscribers.
func (c *call) emit(name EventName, by Role, src Source, reason string) {
	c.report(Event{Name: name, Party: by, Source: src, Reason: reason})
}

// report completes ev with the call's id, next sequence number, the time
// and a new snapshot, and reports it. Config.OnEvent runs here, in the
// call's goroutine, so it sees every call's events in order.
func (c *call) report(ev Event) {
	c.seq++
	ev.CallID, ev.Seq, ev.Time, ev.Call = c.id, c.seq, time.Now(), c.updateSnapshot()
	detail := ev.Reason
	if ev.Direction != "" {
		detail = "direction " + string(ev.Direction)
	}
	c.timeline.add(TimelineEntry{Time: ev.Time, Kind: "call_event", Name: string(ev.Name), Party: ev.Party, Detail: detail})
	logEvent(c.app.log, &ev)
	if observe := c.app.cfg.OnEvent; observe != nil {
		observe(ev)
	}
	c.app.hub.publish(ev)
}

func (c *call) snapshot() CallInfo {
	return *c.snap.Load()
}

func (c *call) updateSnapshot() CallInfo {
	info := CallInfo{
		CallID:    c.id,
		Node:      c.app.cfg.Node,
		State:     c.state,
		Caller:    c.partyInfo(c.caller),
		Callee:    c.partyInfo(c.callee),
		Holders:   c.holders(),
		StartedAt: c.startedAt,
		EndCause:  c.endCause,
	}
	if c.bridge != bridgeNone {
		info.BridgeID = c.bridgeID
	}
	if !c.answeredAt.IsZero() {
		t := c.answeredAt
		info.AnsweredAt = &t
	}
	if !c.endedAt.IsZero() {
		t := c.endedAt
		info.EndedAt = &t
	}
	c.snap.Store(&info)
	return info
}

func (c *call) partyInfo(p *party) PartyInfo {
	pi := PartyInfo{Role: p.role, ChannelID: p.channelID, Endpoint: p.endpoint, State: Live, OnHoldMusic: p.music != nil,
		HangupAllowed: !p.holds(), Muted: p.muted.direction()}
	if p.music != nil {
		pi.HoldMedia = p.music.Media()
		if pi.HoldMedia == "" {
			// Adopted from a record that names only a playback id.
			pi.HoldMedia = c.musicOf(p).Media()
		}
	}
	if p.holds() {
		pi.State = Hold
		t := p.holdSince
		pi.HoldSince = &t
	}
	return pi
}
