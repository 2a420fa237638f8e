package ari_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/internal/labtest"
)

// lab is one connected client with its event recorder, and bookkeeping of
// what the test created so it can prove nothing is left in Asterisk.
type lab struct {
	t        *testing.T
	c        *ari.Client
	rec      *labtest.Recorder
	channels []string
	bridges  []string
}

func newLab(t *testing.T) *lab {
	t.Helper()
	return newLabWith(t, labtest.Require(t))
}

// newLabWith is newLab with a config of the test's, e.g. over TLS.
func newLabWith(t *testing.T, cfg ari.Config) *lab {
	t.Helper()
	c, err := ari.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		c.Close()
		t.Fatalf("connect: %v", err)
	}
	l := &lab{t: t, c: c, rec: labtest.Record(c.Events())}
	// The first event is our own ConnectionEvent.
	ev, _ := l.rec.Wait(t, 0, labtest.WaitTimeout, "connected", labtest.Is(ari.ConnectionEventType, ""))
	if ce := ev.(*ari.ConnectionEvent); ce.State != ari.StateConnected || ce.Reconnect {
		t.Fatalf("first connection event = %+v", ce)
	}
	t.Cleanup(l.cleanup)
	return l
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// talker originates Local/talk@ariapp-test (answers and plays a tone) into
// our application and waits for its StasisStart.
func (l *lab) talker(args ...string) string {
	l.t.Helper()
	id := "it-" + labtest.ID()
	l.channels = append(l.channels, id)
	from := len(l.rec.Events())
	ch, err := l.c.Originate(ctx(l.t), ari.OriginateParams{
		Endpoint:  "Local/talk@" + labtest.TestContext,
		ChannelID: id,
		App:       l.c.Application(),
		AppArgs:   args,
		Formats:   "ulaw",
		Variables: map[string]string{"ARIAPP_TEST": "1"},
	})
	if err != nil {
		l.t.Fatalf("originate: %v", err)
	}
	if ch.ID != id {
		l.t.Fatalf("originate returned channel %q, want the id we chose %q", ch.ID, id)
	}
	ev, _ := l.rec.Within(l.t, from, "StasisStart", id)
	if got := ev.(*ari.StasisStart).Args; !slices.Equal(got, args) && !(len(got) == 0 && len(args) == 0) {
		l.t.Fatalf("StasisStart args = %q, want %q", got, args)
	}
	return id
}

func (l *lab) cleanup() {
	c := context.Background()
	for _, id := range l.channels {
		_ = l.c.Hangup(c, id, ari.HangupNormal)
	}
	for _, id := range l.bridges {
		_ = l.c.DestroyBridge(c, id)
	}
	// Nothing this test created may be left in Asterisk. Local channels'
	// ;2 halves go away with ;1 within a moment.
	labtest.ExpectNothingLeft(l.t, l.c, l.channels, l.bridges)
	l.c.Close()
	<-l.rec.Done()
}

func TestIntegrationAsteriskInfoPing(t *testing.T) {
	l := newLab(t)
	info, err := l.c.Info(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if info.System.Version == "" || info.Status.StartupTime.IsZero() {
		t.Fatalf("info lacks version or start-up time: %+v", info)
	}
	ping, err := l.c.Ping(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if ping.Ping != "pong" {
		t.Fatalf("ping = %+v", ping)
	}
	app, err := l.c.ApplicationInfo(ctx(t), "")
	if err != nil {
		t.Fatal(err)
	}
	if app.Name != l.c.Application() {
		t.Fatalf("application = %q, want %q", app.Name, l.c.Application())
	}
}

// TestIntegrationHoldRecipe walks the ARI steps of a hold and a resume
// (remove from the bridge, play; stop the playback, add to the bridge) and
// checks each event and its ids.
func TestIntegrationHoldRecipe(t *testing.T) {
	l := newLab(t)
	a := l.talker("dial", "Local/talk")
	b := l.talker()

	bridgeID := "it-br-" + labtest.ID()
	l.bridges = append(l.bridges, bridgeID)
	from := len(l.rec.Events())
	br, err := l.c.CreateBridge(ctx(t), bridgeID, "mixing", "it")
	if err != nil {
		t.Fatal(err)
	}
	if br.ID != bridgeID || br.BridgeType != "mixing" {
		t.Fatalf("bridge = %+v", br)
	}
	if err := l.c.AddChannel(ctx(t), bridgeID, a, b); err != nil {
		t.Fatal(err)
	}
	l.rec.Within(t, from, "ChannelEnteredBridge", a)
	l.rec.Within(t, from, "ChannelEnteredBridge", b)
	got, err := l.c.Bridge(ctx(t), bridgeID)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got.Channels)
	want := []string{a, b}
	slices.Sort(want)
	if !slices.Equal(got.Channels, want) {
		t.Fatalf("bridge channels = %v, want %v", got.Channels, want)
	}
	all, err := l.c.Bridges(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(all, func(x ari.Bridge) bool { return x.ID == bridgeID }) {
		t.Fatalf("bridge %s not in list", bridgeID)
	}

	// Hold: b leaves the bridge and hears a tone.
	from = len(l.rec.Events())
	if err := l.c.RemoveChannel(ctx(t), bridgeID, b); err != nil {
		t.Fatal(err)
	}
	ev, _ := l.rec.Within(t, from, "ChannelLeftBridge", b)
	if ev.(*ari.ChannelLeftBridge).Bridge.ID != bridgeID {
		t.Fatalf("left bridge %s, want %s", ev.(*ari.ChannelLeftBridge).Bridge.ID, bridgeID)
	}
	pbID := "it-pb-" + labtest.ID()
	pb, err := l.c.Play(ctx(t), b, pbID, "tone:440/500|0/2500")
	if err != nil {
		t.Fatal(err)
	}
	if pb.ID != pbID || pb.TargetURI != "channel:"+b {
		t.Fatalf("playback = %+v", pb)
	}
	ev, _ = l.rec.Within(t, from, "PlaybackStarted", pbID)
	if r := ari.RefsOf(ev); r.ChannelID != b {
		t.Fatalf("PlaybackStarted target = %q, want %q", r.ChannelID, b)
	}
	cur, err := l.c.Playback(ctx(t), pbID)
	if err != nil {
		t.Fatal(err)
	}
	if cur.State != "playing" {
		t.Fatalf("playback state = %q, want playing", cur.State)
	}

	// Resume: stop the tone first, then add b back.
	from = len(l.rec.Events())
	if err := l.c.StopPlayback(ctx(t), pbID); err != nil {
		t.Fatal(err)
	}
	ev, _ = l.rec.Within(t, from, "PlaybackFinished", pbID)
	if st := ev.(*ari.PlaybackFinished).Playback.State; st != "done" {
		t.Fatalf("PlaybackFinished state = %q, want done", st)
	}
	if err := l.c.AddChannel(ctx(t), bridgeID, b); err != nil {
		t.Fatal(err)
	}
	l.rec.Within(t, from, "ChannelEnteredBridge", b)

	// The stopped playback is gone: ErrPlaybackNotFound (404).
	err = l.c.StopPlayback(ctx(t), pbID)
	if !errors.Is(err, ari.ErrPlaybackNotFound) || !errors.Is(err, ari.ErrNotFound) {
		t.Fatalf("stop of an ended playback: %v, want ErrPlaybackNotFound", err)
	}

	// Bridge playback and bridge MOH.
	from = len(l.rec.Events())
	bpb := "it-bpb-" + labtest.ID()
	if _, err := l.c.PlayBridge(ctx(t), bridgeID, bpb, "tone:350|0/100"); err != nil {
		t.Fatal(err)
	}
	ev, _ = l.rec.Within(t, from, "PlaybackStarted", bpb)
	if r := ari.RefsOf(ev); r.BridgeID != bridgeID {
		t.Fatalf("bridge playback target = %+v", r)
	}
	if err := l.c.StopPlayback(ctx(t), bpb); err != nil {
		t.Fatal(err)
	}
	l.rec.Within(t, from, "PlaybackFinished", bpb)
	if err := l.c.StartBridgeMOH(ctx(t), bridgeID, ""); err != nil {
		t.Fatal(err)
	}
	if err := l.c.StopBridgeMOH(ctx(t), bridgeID); err != nil {
		t.Fatal(err)
	}

	// Destroying the bridge while subscribed to it gives BridgeDestroyed.
	if _, err := l.c.Subscribe(ctx(t), "bridge:"+bridgeID); err != nil {
		t.Fatal(err)
	}
	from = len(l.rec.Events())
	if err := l.c.DestroyBridge(ctx(t), bridgeID); err != nil {
		t.Fatal(err)
	}
	l.rec.Within(t, from, "BridgeDestroyed", bridgeID)
	if _, err := l.c.Bridge(ctx(t), bridgeID); !errors.Is(err, ari.ErrBridgeNotFound) {
		t.Fatalf("get of a destroyed bridge: %v, want ErrBridgeNotFound", err)
	}

	// Hang up with a reason: StasisEnd, then ChannelDestroyed with the cause.
	from = len(l.rec.Events())
	if err := l.c.Hangup(ctx(t), a, ari.HangupBusy); err != nil {
		t.Fatal(err)
	}
	l.rec.Within(t, from, "StasisEnd", a)
	ev, _ = l.rec.Within(t, from, "ChannelDestroyed", a)
	if cd := ev.(*ari.ChannelDestroyed); cd.Cause != 17 {
		t.Fatalf("ChannelDestroyed cause = %d (%s), want 17 (busy)", cd.Cause, cd.CauseTxt)
	}
}

// TestIntegrationChannelOps covers the channel methods that the hold recipe
// does not: get, list, ring, answer, moh, hold, mute, variables, create+dial.
func TestIntegrationChannelOps(t *testing.T) {
	l := newLab(t)
	a := l.talker()

	ch, err := l.c.Channel(ctx(t), a)
	if err != nil {
		t.Fatal(err)
	}
	if ch.ID != a || ch.State != "Up" {
		t.Fatalf("channel = %+v", ch)
	}
	list, err := l.c.Channels(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(list, func(c ari.Channel) bool { return c.ID == a }) {
		t.Fatalf("channel %s not listed", a)
	}

	steps := []struct {
		name string
		do   func(context.Context) error
	}{
		{"answer (already up)", func(c context.Context) error { return l.c.Answer(c, a) }},
		{"ring", func(c context.Context) error { return l.c.Ring(c, a) }},
		{"ring stop", func(c context.Context) error { return l.c.RingStop(c, a) }},
		{"moh start", func(c context.Context) error { return l.c.StartMOH(c, a, "default") }},
		{"moh stop", func(c context.Context) error { return l.c.StopMOH(c, a) }},
		{"hold", func(c context.Context) error { return l.c.Hold(c, a) }},
		{"unhold", func(c context.Context) error { return l.c.Unhold(c, a) }},
		{"mute in", func(c context.Context) error { return l.c.Mute(c, a, ari.MuteIn) }},
		{"unmute in", func(c context.Context) error { return l.c.Unmute(c, a, ari.MuteIn) }},
		{"send dtmf", func(c context.Context) error {
			return l.c.SendDTMF(c, a, "1#", 50*time.Millisecond, 80*time.Millisecond)
		}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if err := s.do(ctx(t)); err != nil {
				t.Fatal(err)
			}
		})
	}

	from := len(l.rec.Events())
	if err := l.c.SetVar(ctx(t), a, "ARIAPP_HOLD", "caller"); err != nil {
		t.Fatal(err)
	}
	ev, _ := l.rec.Wait(t, from, labtest.WaitTimeout, "ChannelVarset ARIAPP_HOLD", func(e ari.Event) bool {
		v, ok := e.(*ari.ChannelVarset)
		return ok && v.Variable == "ARIAPP_HOLD" && v.Channel != nil && v.Channel.ID == a
	})
	if v := ev.(*ari.ChannelVarset); v.Value != "caller" {
		t.Fatalf("varset value = %q", v.Value)
	}
	got, err := l.c.GetVar(ctx(t), a, "ARIAPP_HOLD")
	if err != nil || got != "caller" {
		t.Fatalf("GetVar = %q, %v", got, err)
	}
	// A variable set at originate time is readable too.
	if got, err := l.c.GetVar(ctx(t), a, "ARIAPP_TEST"); err != nil || got != "1" {
		t.Fatalf("GetVar(ARIAPP_TEST) = %q, %v", got, err)
	}

	// Create, then dial: the channel rings the talk extension and enters Stasis.
	id := "it-cr-" + labtest.ID()
	l.channels = append(l.channels, id)
	from = len(l.rec.Events())
	cr, err := l.c.CreateChannel(ctx(t), ari.CreateParams{Endpoint: "Local/talk@" + labtest.TestContext, App: l.c.Application(), ChannelID: id})
	if err != nil {
		t.Fatal(err)
	}
	if cr.ID != id {
		t.Fatalf("created %q, want %q", cr.ID, id)
	}
	l.rec.Within(t, from, "StasisStart", id)
	if err := l.c.Dial(ctx(t), id, a, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	l.rec.Wait(t, from, labtest.WaitTimeout, "Dial ANSWER", func(e ari.Event) bool {
		d, ok := e.(*ari.Dial)
		return ok && d.Peer.ID == id && d.Dialstatus == "ANSWER"
	})
	if _, err := l.c.Unsubscribe(ctx(t), "channel:"+id); err != nil {
		t.Fatal(err)
	}
}

// TestIntegrationErrors checks that Asterisk's real failure replies map to
// the sentinels callers branch on (errors.go).
func TestIntegrationErrors(t *testing.T) {
	l := newLab(t)
	a := l.talker()
	bridgeID := "it-br-" + labtest.ID()
	l.bridges = append(l.bridges, bridgeID)
	if _, err := l.c.CreateBridge(ctx(t), bridgeID, "mixing", ""); err != nil {
		t.Fatal(err)
	}
	gone := "it-gone-" + labtest.ID()

	cases := []struct {
		name   string
		do     func(context.Context) error
		want   []error
		status int
	}{
		{"addChannel unknown channel", func(c context.Context) error { return l.c.AddChannel(c, bridgeID, gone) }, []error{ari.ErrNotFound, ari.ErrChannelNotFound}, 400},
		{"removeChannel not in bridge", func(c context.Context) error { return l.c.RemoveChannel(c, bridgeID, a) }, []error{ari.ErrUnprocessable}, 422},
		{"addChannel unknown bridge", func(c context.Context) error { return l.c.AddChannel(c, "it-nobridge-"+labtest.ID(), a) }, []error{ari.ErrNotFound, ari.ErrBridgeNotFound}, 404},
		{"play on unknown channel", func(c context.Context) error {
			_, err := l.c.Play(c, gone, "pb-"+labtest.ID(), "tone:440")
			return err
		}, []error{ari.ErrNotFound, ari.ErrChannelNotFound}, 404},
		{"stop unknown playback", func(c context.Context) error { return l.c.StopPlayback(c, "it-nopb-"+labtest.ID()) }, []error{ari.ErrNotFound, ari.ErrPlaybackNotFound}, 404},
		{"hangup unknown channel", func(c context.Context) error { return l.c.Hangup(c, gone, "") }, []error{ari.ErrNotFound, ari.ErrChannelNotFound}, 404},
		{"get unset variable", func(c context.Context) error {
			_, err := l.c.GetVar(c, a, "ARIAPP_NEVER_SET")
			return err
		}, []error{ari.ErrNotFound}, 404},
		{"bridge id in use", func(c context.Context) error {
			_, err := l.c.CreateBridge(c, bridgeID, "mixing", "")
			return err
		}, []error{ari.ErrConflict}, 409},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do(ctx(t))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("error %v does not match %v", err, w)
				}
			}
			var ae *ari.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("error %T is not *ari.APIError", err)
			}
			if tc.status != 0 && ae.Status != tc.status {
				t.Errorf("status = %d, want %d (message %q)", ae.Status, tc.status, ae.Message)
			}
			if ae.Message == "" {
				t.Errorf("Asterisk's message was dropped: %+v", ae)
			}
			t.Logf("%s -> %v", tc.name, err)
		})
	}

	t.Run("wrong credentials", func(t *testing.T) {
		cfg := labtest.Config(t)
		cfg.Password = "wrong"
		c, err := ari.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Info(ctx(t)); !errors.Is(err, ari.ErrUnauthorized) {
			t.Fatalf("REST with a wrong password: %v, want ErrUnauthorized", err)
		}
		if err := c.Connect(ctx(t)); !errors.Is(err, ari.ErrUnauthorized) {
			t.Fatalf("Connect with a wrong password: %v, want ErrUnauthorized", err)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		cfg := labtest.Config(t)
		cfg.URL = "http://127.0.0.1:1/ari"
		c, err := ari.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Info(ctx(t)); !errors.Is(err, ari.ErrUnreachable) {
			t.Fatalf("REST to a closed port: %v, want ErrUnreachable", err)
		}
		if err := c.Connect(ctx(t)); !errors.Is(err, ari.ErrUnreachable) {
			t.Fatalf("Connect to a closed port: %v, want ErrUnreachable", err)
		}
	})
}
