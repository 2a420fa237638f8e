package app_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/internal/labtest"
)

// harness runs one App against the lab Asterisk with its own Stasis
// application name, records the raw ARI events the App consumes and the App
// events it reports, and proves at the end that nothing is left in Asterisk.
type harness struct {
	t      *testing.T
	client *ari.Client
	app    *app.App
	raw    *labtest.Recorder
	sub    *app.Subscription

	mu       sync.Mutex
	events   []app.Event
	notify   chan struct{}
	subDone  chan struct{}
	channels []string // ids of channels the test originated
	calls    []string
}

type harnessOpt func(*app.Config)

func newHarness(t *testing.T, opts ...harnessOpt) *harness {
	return newHarnessWrapped(t, nil, opts...)
}

func newHarnessWrapped(t *testing.T, wrap func(app.ARI) app.ARI, opts ...harnessOpt) *harness {
	t.Helper()
	return newHarnessApp(t, "", wrap, opts...)
}

// newHarnessApp runs the App under a given Stasis application name ("" for
// a fresh one): a second harness with the first one's name is a restarted
// ariapp.
func newHarnessApp(t *testing.T, appName string, wrap func(app.ARI) app.ARI, opts ...harnessOpt) *harness {
	t.Helper()
	return newHarnessARI(t, func(c *ari.Config) {
		if appName != "" {
			c.Application = appName
		}
	}, wrap, opts...)
}

// newHarnessARI lets a test change the ARI client's config (e.g. its URL).
func newHarnessARI(t *testing.T, ariOpt func(*ari.Config), wrap func(app.ARI) app.ARI, opts ...harnessOpt) *harness {
	t.Helper()
	cfg := labtest.Require(t)
	if ariOpt != nil {
		ariOpt(&cfg)
	}
	client, err := ari.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	acfg := app.Config{AnswerTimeout: 10 * time.Second, StepTimeout: 5 * time.Second}
	for _, o := range opts {
		o(&acfg)
	}
	var a app.ARI = client
	if wrap != nil {
		a = wrap(client)
	}
	ap, err := app.New(acfg, a, zaptest.NewLogger(t))
	if err != nil {
		client.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := client.Connect(ctx); err != nil {
		client.Close()
		t.Fatalf("connect: %v", err)
	}
	events, raw := labtest.Tee(client.Events())
	h := &harness{t: t, client: client, app: ap, raw: raw, notify: make(chan struct{}, 1), subDone: make(chan struct{})}
	h.sub = ap.Subscribe("")
	go func() {
		defer close(h.subDone)
		for ev := range h.sub.C {
			h.mu.Lock()
			h.events = append(h.events, ev)
			h.mu.Unlock()
			select {
			case h.notify <- struct{}{}:
			default:
			}
		}
	}()
	ap.Start(events)
	t.Cleanup(h.cleanup)
	return h
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// placeCall makes a caller enter ariapp from the dialplan like a phone:
// Local/dial-TARGET@ariapp-test; its ;2 half runs
// Stasis(<app>,dial,Local/TARGET@ariapp-test) and is the call's caller; its
// ;1 half (the "phone") plays a tone once answered. It returns the call id
// and the id of the caller's far end (hang it up to hang up "the phone").
func (h *harness) placeCall(target string) (callID, phone string) {
	h.t.Helper()
	return h.placeCallFrom(target, "talk", nil)
}

// placeCallFrom is placeCall with the phone half running another
// extension of the test context (e.g. "keys"), with extra variables.
func (h *harness) placeCallFrom(target, phoneExten string, vars map[string]string) (callID, phone string) {
	h.t.Helper()
	id := "tc-" + labtest.ID()
	phone, caller := id+"-phone", id+"-caller"
	h.mu.Lock()
	h.channels = append(h.channels, phone, caller)
	h.mu.Unlock()
	v := map[string]string{"_ARIAPP_TEST_APP": h.client.Application()}
	for k, val := range vars {
		v[k] = val
	}
	_, err := h.client.Originate(ctxT(h.t), ari.OriginateParams{
		Endpoint:       "Local/dial-" + target + "@" + labtest.TestContext,
		ChannelID:      phone,
		OtherChannelID: caller,
		Extension:      phoneExten,
		Context:        labtest.TestContext,
		Priority:       1,
		Formats:        "ulaw",
		Variables:      v,
	})
	if err != nil {
		h.t.Fatalf("originate caller: %v", err)
	}
	ev := h.waitEvent(func(e app.Event) bool { return e.Name == app.EventCallStarted && e.Call.Caller.ChannelID == caller }, "call_started of "+caller)
	h.mu.Lock()
	h.calls = append(h.calls, ev.CallID)
	h.mu.Unlock()
	return ev.CallID, phone
}

// establish places a call to the talk extension and waits for call_answered.
func (h *harness) establish() (callID, phone string) {
	h.t.Helper()
	callID, phone = h.placeCall("talk")
	h.waitFor(callID, app.EventCallAnswered)
	return callID, phone
}

// waitEvent waits for an App event matching f.
func (h *harness) waitEvent(f func(app.Event) bool, what string) app.Event {
	h.t.Helper()
	deadline := time.NewTimer(15 * time.Second)
	defer deadline.Stop()
	for {
		h.mu.Lock()
		for _, e := range h.events {
			if f(e) {
				h.mu.Unlock()
				return e
			}
		}
		h.mu.Unlock()
		select {
		case <-h.notify:
		case <-deadline.C:
			h.t.Fatalf("timed out waiting for %s; app events:\n%s\nraw ARI events:\n%s", what, h.dump(""), h.raw.Dump())
		}
	}
}

// waitFor waits for the n-th (default first) event of this name of a call.
func (h *harness) waitFor(callID string, name app.EventName) app.Event {
	h.t.Helper()
	return h.waitEvent(func(e app.Event) bool { return e.CallID == callID && e.Name == name }, fmt.Sprintf("%s of call %s", name, callID))
}

// names returns the names of a call's events so far, checking that their
// sequence numbers run 1, 2, 3... with no gap or repeat.
func (h *harness) names(callID string) []app.EventName {
	h.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []app.EventName
	var seq uint64
	for _, e := range h.events {
		if e.CallID != callID {
			continue
		}
		seq++
		if e.Seq != seq {
			h.t.Errorf("call %s: event %s has seq %d, want %d", callID, e.Name, e.Seq, seq)
		}
		out = append(out, e.Name)
	}
	return out
}

// expectNames checks a call's whole event sequence. Events reach the
// subscription a moment after the operation that caused them returned, so
// it waits (briefly) for as many events as expected, and a little longer to
// catch any surplus event.
func (h *harness) expectNames(callID string, want ...app.EventName) {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(h.names(callID)) < len(want) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	if got := h.names(callID); !slices.Equal(got, want) {
		h.t.Fatalf("call %s events = %v, want %v\n%s", callID, got, want, h.dump(callID))
	}
}

func (h *harness) dump(callID string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var b strings.Builder
	for _, e := range h.events {
		if callID != "" && e.CallID != callID {
			continue
		}
		fmt.Fprintf(&b, "  %s #%d %-15s party=%-6s caller=%s/%v callee=%s/%v holders=%v reason=%q\n", e.CallID, e.Seq, e.Name, e.Party,
			e.Call.Caller.State, e.Call.Caller.OnHoldMusic, e.Call.Callee.State, e.Call.Callee.OnHoldMusic, e.Call.Holders, e.Reason)
	}
	return b.String()
}

// bridgeChannels returns the sorted channel ids in the call's bridge, as
// Asterisk reports them.
func (h *harness) bridgeChannels(bridgeID string) []string {
	h.t.Helper()
	b, err := h.client.Bridge(ctxT(h.t), bridgeID)
	if err != nil {
		h.t.Fatalf("get bridge %s: %v", bridgeID, err)
	}
	sort.Strings(b.Channels)
	return b.Channels
}

// expectMedia checks SPEC's media rule against Asterisk itself: a party is
// in the bridge exactly when its peer does not hold, and on the hold music
// exactly when its peer holds.
func (h *harness) expectMedia(info app.CallInfo) {
	h.t.Helper()
	var want []string
	for _, p := range []app.PartyInfo{info.Caller, info.Callee} {
		peer := info.Callee
		if p.Role == app.Callee {
			peer = info.Caller
		}
		peerHolds := peer.State == app.Hold
		if p.OnHoldMusic != peerHolds {
			h.t.Errorf("%s: on hold music = %v, but its peer holds = %v", p.Role, p.OnHoldMusic, peerHolds)
		}
		if !peerHolds {
			want = append(want, p.ChannelID)
		}
	}
	sort.Strings(want)
	if got := h.bridgeChannels(info.BridgeID); !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
		h.t.Errorf("bridge %s holds %v, want %v (holders %v)", info.BridgeID, got, want, info.Holders)
	}
}

// musicPlaying reports the hold-music playbacks Asterisk has running on a
// channel, from PlaybackStarted/PlaybackFinished seen so far.
func (h *harness) musicPlaying(channelID string) []string {
	running := map[string]bool{}
	for _, ev := range h.raw.Events() {
		switch e := ev.(type) {
		case *ari.PlaybackStarted:
			if e.Playback.TargetURI == "channel:"+channelID {
				running[e.Playback.ID] = true
			}
		case *ari.PlaybackFinished:
			delete(running, e.Playback.ID)
		}
	}
	var out []string
	for id := range running {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

func (h *harness) hold(callID, party string) app.CallInfo {
	h.t.Helper()
	info, err := h.app.Hold(ctxT(h.t), callID, party, app.SourceAPI)
	if err != nil {
		h.t.Fatalf("hold by %s: %v\n%s", party, err, h.dump(callID))
	}
	return info
}

func (h *harness) resume(callID, party string) app.CallInfo {
	h.t.Helper()
	info, err := h.app.Resume(ctxT(h.t), callID, party, app.SourceAPI)
	if err != nil {
		h.t.Fatalf("resume by %s: %v\n%s", party, err, h.dump(callID))
	}
	return info
}

func (h *harness) hangupChannel(id string) {
	h.t.Helper()
	if err := h.client.Hangup(ctxT(h.t), id, ari.HangupNormal); err != nil && !errors.Is(err, ari.ErrNotFound) {
		h.t.Fatalf("hangup %s: %v", id, err)
	}
}

// cleanup ends every call the test left, closes the App and the client, and
// fails the test if any channel, bridge or playback of it is left in
// Asterisk.
func (h *harness) cleanup() {
	t := h.t
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	h.app.HangupAll(ctx)
	h.app.Close()
	h.sub.Close()
	<-h.subDone

	h.mu.Lock()
	chans := slices.Clone(h.channels)
	calls := slices.Clone(h.calls)
	h.mu.Unlock()
	// A client of its own: the App's may be closed already (a crash test).
	check, err := ari.New(labtest.Config(t))
	if err != nil {
		t.Fatal(err)
	}
	defer check.Close()
	var playbacks []string
	for _, ev := range h.raw.Events() {
		if e, ok := ev.(*ari.PlaybackStarted); ok {
			playbacks = append(playbacks, e.Playback.ID)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	var left []string
	for {
		left = left[:0]
		all, err := check.Channels(ctx)
		if err != nil {
			t.Errorf("list channels: %v", err)
			break
		}
		for _, ch := range all {
			for _, prefix := range append(slices.Clone(chans), calls...) {
				if strings.HasPrefix(ch.ID, prefix) {
					left = append(left, "channel "+ch.ID+" ("+ch.Name+")")
				}
			}
		}
		bridges, err := check.Bridges(ctx)
		if err != nil {
			t.Errorf("list bridges: %v", err)
			break
		}
		for _, b := range bridges {
			for _, c := range calls {
				if strings.HasPrefix(b.ID, c) {
					left = append(left, "bridge "+b.ID)
				}
			}
		}
		for _, pb := range playbacks {
			if _, err := check.Playback(ctx, pb); err == nil {
				left = append(left, "playback "+pb)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(left) > 0 {
		t.Errorf("left in Asterisk after the test: %v", left)
		for _, ch := range chans {
			_ = check.Hangup(ctx, ch, "")
		}
	}
	if d := h.client.Stats().Dropped; d != 0 {
		t.Errorf("ARI client dropped %d events", d)
	}
	if d := h.sub.Dropped(); d != 0 {
		t.Errorf("event subscription dropped %d events", d)
	}
	h.client.Close()
	<-h.raw.Done()
}
