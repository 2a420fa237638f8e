package app

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/holdmusic"
)

// Stasis arguments ariapp understands.
const (
	// ArgDial starts a call: Stasis(app,dial,TARGET).
	ArgDial = "dial"
	// ArgCallee marks the callee ariapp originated: appArgs callee,CALL_ID.
	ArgCallee = "callee"
)

// Channel variables ariapp writes, so a restarted ariapp can rebuild its
// calls from Asterisk alone. The first four are written once, when the call
// is set up. A hold writes nothing (unless hold timers need its start, see
// VarHoldOrder): who holds follows from what Asterisk
// has — a party out of the bridge with a hold-music playback whose id is
// derived from the call and the party (see musicID) is held by its peer.
// Only music on hold (holdmusic.ModeMOH), which ARI cannot query, and music
// a hold chose other than the configured default are recorded, in VarHeld.
//
// Asterisk runs ARI channel operations, setting a variable included, on the
// channel's own thread, which a running playback occupies: a variable write
// to a channel that hears the hold music waits until the music ends. So
// VarHeld is written where that never happens: on the held party, before
// its music starts and after it stopped. The hold flag of party P is thus
// the VarHeld of P's peer.
const (
	VarCallID = "ARIAPP_CALL_ID"
	VarRole   = "ARIAPP_ROLE"
	VarPeer   = "ARIAPP_PEER"
	VarBridge = "ARIAPP_BRIDGE"
	// VarHeld, for music on hold and for music a hold chose other than
	// the default, is non-empty exactly while this channel's peer holds the
	// call; its value names the music in holdmusic.ParseMedia's form
	// ("moh:CLASS", "tone:620/500|0/2500").
	// Earlier ariapp versions wrote it in every mode, with the playback id;
	// a restarted ariapp still adopts such a record.
	VarHeld = "ARIAPP_HELD"
	// VarHoldOrder tells, after a restart, when a party took hold and so
	// in which order the parties of a mutual hold did, which Asterisk
	// keeps no trace of: written when the second party holds, on the first
	// holder as it leaves the bridge (before its music starts), as
	// "ROLE@UNIXNANO" of the second holder; with hold timers configured
	// (Config.HoldTimers) every hold writes it so on the held party. Of the
	// two parties' values the later one counts; a single hold without hold
	// timers writes nothing.
	VarHoldOrder = "ARIAPP_HOLD_ORDER"
	// VarHoldSince records the start of a hold that a restarted ariapp
	// with hold timers (Config.HoldTimers) found without a record: on the
	// holder itself, which sits in the bridge with nothing playing, as
	// "ROLE@UNIXNANO" of the holder. Of it and the VarHoldOrder of the held
	// party that name the holder, the later one counts.
	VarHoldSince = "ARIAPP_HOLD_SINCE"
)

// App is the Stasis application. Create it with New, feed it the ARI client's
// events with Start, and stop it with Close.
type App struct {
	cfg   Config
	ari   ARI
	music *holdmusic.Source
	// allowed is the music a hold may choose, by Source.Media: music and
	// Config.AllowedMusic; allowedNames their Media in the config's order.
	allowed      map[string]*holdmusic.Source
	allowedNames []string
	log          *zap.Logger
	hub          *hub

	mu     sync.RWMutex
	calls  map[string]*call // by call id
	routes map[string]*call // channel, bridge and playback ids -> call
	// abandoned are channel ids of ended calls (see abandon).
	abandoned *recent
	// ended are the ids of calls that ended lately (see rememberEnded).
	ended *recent
	// endedTimelines are the timelines of the calls that ended last.
	endedTimelines timelines

	// synced: the calls were reconciled with Asterisk since the event
	// connection last came up.
	synced    atomic.Bool
	syncMu    sync.Mutex
	syncedC   chan struct{} // closed while synced
	stop      chan struct{} // closed by Close
	originate chan *originateRequest
	// originates holds a token per originate request in flight to
	// Asterisk (Config.MaxOriginates).
	originates chan struct{}
	sweeper    sweeper
	resyncs    resyncCounters
	// varsMode is how Asterisk takes channel variables (see setVars).
	varsMode atomic.Int32
	// resyncVars are the channels' variables read during a resync, which
	// runs in the dispatcher alone (see channelVar).
	resyncVars map[string]map[string]string
	// resyncMutes are the mute records (see VarMutePrefix) read with them,
	// by channel id.
	resyncMutes map[string]string
	cancel      context.CancelFunc
	wg          sync.WaitGroup
	startOnce   sync.Once
	closeOnce   sync.Once
}

// New validates the configuration and builds the application.
func New(cfg Config, client ARI, log *zap.Logger) (*App, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	music, err := holdmusic.New(c.Music)
	if err != nil {
		return nil, err
	}
	allowed := map[string]*holdmusic.Source{music.Media(): music}
	names := []string{music.Media()}
	for _, m := range c.AllowedMusic {
		m.Announcement = c.Music.Announcement
		s, err := holdmusic.New(m)
		if err != nil {
			return nil, err
		}
		if _, dup := allowed[s.Media()]; !dup {
			allowed[s.Media()] = s
			names = append(names, s.Media())
		}
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &App{
		cfg:          c,
		ari:          client,
		music:        music,
		allowed:      allowed,
		allowedNames: names,
		log:          log,
		hub:          newHub(log),
		calls:        map[string]*call{},
		routes:       map[string]*call{},
		abandoned:    newRecent(abandonedFor, rememberMax),
		ended:        newRecent(endedFor, rememberMax),
		stop:         make(chan struct{}),
		syncedC:      make(chan struct{}),
		originate:    make(chan *originateRequest),
		originates:   make(chan struct{}, c.MaxOriginates),
	}, nil
}

// Start consumes ARI events until the channel closes or Close is called.
func (a *App) Start(events <-chan ari.Event) {
	a.startOnce.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		a.mu.Lock()
		a.cancel = cancel
		a.mu.Unlock()
		a.wg.Add(2)
		go a.dispatch(ctx, events)
		go a.sweepEvery(ctx, a.cfg.SweepInterval)
	})
}

// Close stops the dispatcher and every call goroutine and waits for them.
// Calls stay up in Asterisk (HangupAll ends them first, if wanted). Pending
// operations fail with ErrClosed. Idempotent.
func (a *App) Close() {
	a.closeOnce.Do(func() {
		close(a.stop)
		a.mu.Lock()
		cancel := a.cancel
		a.mu.Unlock()
		if cancel != nil {
			cancel()
		}
		// A call with no goroutine running (no work) gets none any more:
		// its mailbox closes, so later commands fail with ErrClosed. One
		// with a goroutine sees the cancelled context and drains.
		for _, c := range a.liveCalls() {
			if c.inbox.closeIdle() {
				// No goroutine of the call can run any more, and the last
				// one's writes are visible through the mailbox's lock.
				c.timers.stopAll()
				c.log.Debug("application closing; call left up in Asterisk")
			}
		}
		a.wg.Wait()
		a.hub.close()
	})
}

// bridgeType is the ARI type of a call's bridge. With DTMF feature codes
// the bridge must pass DTMF through Asterisk's core: two SIP phones in a
// plain mixing bridge are bridged natively (RTP straight through) and their
// keypad presses never become ChannelDtmfReceived events.
func (a *App) bridgeType() string {
	if a.cfg.DTMF.Hold != "" || a.cfg.DTMF.Resume != "" {
		return "mixing,dtmf_events"
	}
	return "mixing"
}

// Synced reports whether the App has reconciled its calls with Asterisk
// since the event connection last came up (readiness: before that, calls of
// a previous ariapp are not adopted yet).
func (a *App) Synced() bool { return a.synced.Load() }

// setSynced records the sync state and wakes those waiting for it.
func (a *App) setSynced(v bool) {
	a.syncMu.Lock()
	defer a.syncMu.Unlock()
	a.synced.Store(v)
	if v && !a.isSyncedC() {
		close(a.syncedC)
	} else if !v && a.isSyncedC() {
		a.syncedC = make(chan struct{})
	}
}

func (a *App) isSyncedC() bool {
	select {
	case <-a.syncedC:
		return true
	default:
		return false
	}
}

// waitSynced waits up to the step timeout for the App to be in step with
// Asterisk (a start or a reconnect takes milliseconds), and reports
// ErrUnavailable if it is not.
func (a *App) waitSynced(ctx context.Context) error {
	a.syncMu.Lock()
	ch := a.syncedC
	a.syncMu.Unlock()
	t := time.NewTimer(a.cfg.StepTimeout)
	defer t.Stop()
	select {
	case <-ch:
		return nil
	case <-t.C:
		return fmt.Errorf("%w: the ARI event connection is not up", ErrUnavailable)
	case <-ctx.Done():
		return ctx.Err()
	case <-a.stop:
		return ErrClosed
	}
}

// Subscribe returns a subscription to the events of one call (callID) or of
// every call (""). Close it when done. A subscriber may fall
// Config.SubscriberBuffer events behind before it loses events, a
// subscriber to every call allCallsBufferFactor times that: it carries
// every call's bursts (hundreds of calls changing at once on a busy PBX).
// The buffer is taken as events wait, not reserved up front.
func (a *App) Subscribe(callID string) *Subscription {
	buf := a.cfg.SubscriberBuffer
	if callID == "" {
		buf *= allCallsBufferFactor
	}
	return a.hub.subscribe(callID, buf)
}

// allCallsBufferFactor: see Subscribe. 4 × the default 256 events is about
// 400 KiB for a subscriber to every call that lags that far behind.
const allCallsBufferFactor = 4

// EventCounts is how many events of each name were reported (the metrics).
func (a *App) EventCounts() map[EventName]uint64 {
	out := make(map[EventName]uint64, len(a.hub.counts))
	for n, c := range a.hub.counts {
		out[n] = c.Load()
	}
	return out
}

// Calls returns a snapshot of every live call, oldest first.
func (a *App) Calls() []CallInfo {
	a.mu.RLock()
	out := make([]CallInfo, 0, len(a.calls))
	for _, c := range a.calls {
		out = append(out, c.snapshot())
	}
	a.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].StartedAt.Before(out[j].StartedAt) })
	return out
}

// liveCalls returns the calls the App runs now.
func (a *App) liveCalls() []*call {
	a.mu.RLock()
	defer a.mu.RUnlock()
	out := make([]*call, 0, len(a.calls))
	for _, c := range a.calls {
		out = append(out, c)
	}
	return out
}

// Call returns a snapshot of one live call.
func (a *App) Call(callID string) (CallInfo, error) {
	c := a.lookupCall(callID)
	if c == nil {
		return CallInfo{}, errCallNotFound(callID)
	}
	return c.snapshot(), nil
}

// HoldOptions are the optional parts of a hold request.
type HoldOptions struct {
	// Media is the music the held party hears, in holdmusic.ParseMedia's
	// form ("moh:jazz", "sound:custom/queue"): the configured default or
	// one of Config.AllowedMusic; "" is the default.
	Media string
}

// Hold puts the call on hold on behalf of party ("caller", "callee" or the
// party's channel id). It returns once Asterisk confirmed the hold, or with
// the reason it was refused or failed (a hold_failed event is reported).
// Holding when the party already holds changes nothing and returns nil.
// opts, at most one, choose the hold's music; music that is not allowed
// fails with ErrMediaNotAllowed before the call sees the request.
func (a *App) Hold(ctx context.Context, callID, party string, src Source, opts ...HoldOptions) (CallInfo, error) {
	var media string
	for _, o := range opts {
		media = o.Media
	}
	music, err := a.holdMusic(media)
	if err != nil {
		return CallInfo{}, err
	}
	return a.operate(ctx, callID, &operation{kind: opHold, party: party, source: src, music: music})
}

// holdMusic returns the allowed music that media names, in any spelling
// ParseMedia reads ("moh" is "moh:default"); "" is the default.
func (a *App) holdMusic(media string) (*holdmusic.Source, error) {
	if media == "" {
		return a.music, nil
	}
	if cfg, err := holdmusic.ParseMedia(media); err == nil {
		cfg.Announcement = a.cfg.Music.Announcement
		if s, err := holdmusic.New(cfg); err == nil {
			if allowed, ok := a.allowed[s.Media()]; ok {
				return allowed, nil
			}
		}
	}
	return nil, fmt.Errorf("%w: %s; allowed: %s", ErrMediaNotAllowed, quoteShort(media), strings.Join(a.allowedNames, ", "))
}

// AllowedMedia lists the music a hold may choose (HoldOptions.Media), the
// default first.
func (a *App) AllowedMedia() []string { return slices.Clone(a.allowedNames) }

// Resume takes the call off hold on behalf of party. Only the holder may
// resume (ErrNotHolding otherwise, nothing changes). A failed resume reports
// unhold_failed, hangs the call up and returns ErrUnholdFailed.
func (a *App) Resume(ctx context.Context, callID, party string, src Source) (CallInfo, error) {
	return a.operate(ctx, callID, &operation{kind: opResume, party: party, source: src})
}

// Hangup ends a call: both channels, the bridge and any playback.
func (a *App) Hangup(ctx context.Context, callID string) (CallInfo, error) {
	return a.operate(ctx, callID, &operation{kind: opHangup, source: SourceAPI})
}

// HangupAll ends every live call (for a shutdown that should not leave
// calls up) and waits until each has ended or ctx is done.
func (a *App) HangupAll(ctx context.Context) {
	var wg sync.WaitGroup
	for _, ci := range a.Calls() {
		wg.Add(1)
		go func(id string) {
			defer wg.Done()
			_, _ = a.operate(ctx, id, &operation{kind: opHangup, source: SourceSystem})
		}(ci.CallID)
	}
	wg.Wait()
}

// operate hands op to its call's goroutine and waits for the outcome.
func (a *App) operate(ctx context.Context, callID string, op *operation) (CallInfo, error) {
	c := a.lookupCall(callID)
	if c == nil {
		if a.recentlyEnded(callID) {
			return CallInfo{}, fmt.Errorf("%w: %s", ErrCallEnded, quoteShort(callID))
		}
		return CallInfo{}, errCallNotFound(callID)
	}
	op.reply = make(chan result, 1)
	if !c.inbox.put(op) {
		return c.snapshot(), ErrCallEnded
	}
	select {
	case r := <-op.reply:
		return r.info, r.err
	case <-ctx.Done():
		// The operation goes on in the call's goroutine; its outcome is
		// still reported as an event.
		return c.snapshot(), ctx.Err()
	case <-a.stop:
		return c.snapshot(), ErrClosed
	}
}

// originateRequest asks the dispatcher to start a call that ariapp dials
// itself (App.Originate).
type originateRequest struct {
	from, to string
	// ctx is the requester's: the originate is given up when it ends.
	ctx   context.Context
	reply chan result
}

// Originate starts a call between two endpoints (e.g. "PJSIP/alice" and
// "PJSIP/bob"): ariapp rings from, and once it answers, dials to exactly as
// for a call from the dialplan. It returns when Asterisk accepted the first
// originate, with the call in state ringing (call_started reported).
func (a *App) Originate(ctx context.Context, from, to string) (CallInfo, error) {
	for _, ep := range []string{from, to} {
		if err := checkEndpoint(ep); err != nil {
			return CallInfo{}, err
		}
	}
	select {
	case <-a.stop:
		return CallInfo{}, ErrClosed
	default:
	}
	if err := a.waitSynced(ctx); err != nil {
		return CallInfo{}, err
	}
	// Admission: refused at once rather than piled onto a busy Asterisk.
	select {
	case a.originates <- struct{}{}:
	default:
		return CallInfo{}, fmt.Errorf("%w: %d originates in flight (call.max_originates)", ErrOverloaded, cap(a.originates))
	}
	req := &originateRequest{from: from, to: to, ctx: ctx, reply: make(chan result, 1)}
	select {
	case a.originate <- req:
	case <-a.stop:
		a.originateDone()
		return CallInfo{}, ErrClosed
	case <-ctx.Done():
		a.originateDone()
		return CallInfo{}, ctx.Err()
	}
	// The call gives up its originate when ctx ends, and then ends: an
	// error here always means the call does not exist. So the reply is
	// awaited even after ctx is done.
	select {
	case r := <-req.reply:
		return r.info, r.err
	case <-a.stop:
		return CallInfo{}, ErrClosed
	}
}

// originateDone gives back an originate token.
func (a *App) originateDone() { <-a.originates }

// waitOriginate takes an originate token, waiting up to the step timeout.
func (a *App) waitOriginate(ctx context.Context) error {
	t := time.NewTimer(a.cfg.StepTimeout)
	defer t.Stop()
	select {
	case a.originates <- struct{}{}:
		return nil
	case <-t.C:
		return fmt.Errorf("%w: no originate slot within %v (call.max_originates %d)", ErrOverloaded, a.cfg.StepTimeout, cap(a.originates))
	case <-ctx.Done():
		return ctx.Err()
	}
}

// maxEndpointLen bounds an endpoint name; Asterisk's own channel names
// are far shorter.
const maxEndpointLen = 256

// checkEndpoint accepts TECH/resource of printable UTF-8 with no characters
// that would change the meaning of an ARI dial string or argument list.
func checkEndpoint(ep string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w: %s: %s (want TECH/resource, e.g. PJSIP/bob)", ErrInvalidEndpoint, quoteShort(ep), why)
	}
	switch tech, res, ok := strings.Cut(ep, "/"); {
	case len(ep) > maxEndpointLen:
		return bad(fmt.Sprintf("longer than %d bytes", maxEndpointLen))
	case !utf8.ValidString(ep):
		return bad("not valid UTF-8")
	case !ok || tech == "" || res == "":
		return bad("no TECH/resource")
	case strings.ContainsAny(ep, ",&"):
		return bad("contains ',' or '&'")
	case strings.IndexFunc(ep, func(r rune) bool { return !unicode.IsPrint(r) || unicode.IsSpace(r) }) >= 0:
		return bad("contains a space or an unprintable character")
	}
	return nil
}

func errCallNotFound(callID string) error {
	return fmt.Errorf("%w: %s", ErrCallNotFound, quoteShort(callID))
}

// quoteShort quotes s for an error message, cut to a readable length: an
// id or endpoint comes from a client and may be of any size.
func quoteShort(s string) string {
	const max = 64
	if len(s) <= max {
		return strconv.Quote(s)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + fmt.Sprintf("... (%d bytes)", len(s))
}

func (a *App) newOriginatedCall(ctx context.Context, req *originateRequest) {
	id := a.newCallID()
	c := newDialledCall(a, id, &ari.StasisStart{Args: []string{ArgDial, req.to}, Channel: ari.Channel{ID: id + callerSuffix}})
	c.originated = true
	c.caller.endpoint = req.from
	c.caller.channel = channelAbsent
	c.updateSnapshot()
	c.runOn(ctx)
	a.register(c)
	c.inbox.put(&originateCaller{req: req.ctx, reply: req.reply})
}

// endpointOf derives "PJSIP/alice" from a channel name "PJSIP/alice-0000002a"
// and "Local/x@ctx" from "Local/x@ctx-00000001;2".
func endpointOf(name string) string {
	if i := strings.LastIndexByte(name, ';'); i > 0 {
		name = name[:i]
	}
	if i := strings.LastIndexByte(name, '-'); i > 0 && i > strings.IndexByte(name, '/') {
		return name[:i]
	}
	return name
}
