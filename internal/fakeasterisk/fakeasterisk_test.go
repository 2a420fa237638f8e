package fakeasterisk_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/internal/fakeasterisk"
	"github.com/ariapp/ariapp/internal/labtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	_ app.ARI = (*fakeasterisk.Asterisk)(nil)
	_ app.ARI = (*fakeasterisk.Client)(nil)
)

// bridged sets up what ariapp does for a call: a caller in Stasis, an
// originated callee that answers, both in a bridge.
func bridged(t *testing.T) (*fakeasterisk.Asterisk, *labtest.Recorder, context.Context) {
	t.Helper()
	fa := fakeasterisk.New(fakeasterisk.Config{})
	conn := fa.Connect()
	rec := labtest.Record(conn.Events())
	t.Cleanup(func() { fa.Close(); <-rec.Done() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	rec.Within(t, 0, ari.ConnectionEventType, "")
	if _, err := fa.Call(fakeasterisk.CallParams{Endpoint: "Local/dial-talk@ariapp-test", Args: []string{"dial", "Local/talk@ariapp-test"}, ChannelID: "caller", PhoneID: "phone"}); err != nil {
		t.Fatal(err)
	}
	ev, _ := rec.Within(t, 0, "StasisStart", "caller")
	if ch := ev.(*ari.StasisStart).Channel; ch.Dialplan.AppName != "Stasis" || ch.Dialplan.AppData != fa.Application()+",dial,Local/talk@ariapp-test" || ch.State != "Ring" {
		t.Fatalf("caller %+v", ch)
	}
	if _, err := fa.Originate(ctx, ari.OriginateParams{Endpoint: "Local/talk@ariapp-test", ChannelID: "callee", App: fa.Application(), AppArgs: []string{"callee", "c1"}, Originator: "caller"}); err != nil {
		t.Fatal(err)
	}
	ev, _ = rec.Within(t, 0, "StasisStart", "callee")
	if args := ev.(*ari.StasisStart).Args; len(args) != 2 || args[1] != "c1" {
		t.Fatalf("callee args %v", args)
	}
	if err := fa.Answer(ctx, "caller"); err != nil {
		t.Fatal(err)
	}
	if _, err := fa.CreateBridge(ctx, "b1", "mixing", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := fa.Subscribe(ctx, "bridge:b1"); err != nil {
		t.Fatal(err)
	}
	if err := fa.AddChannel(ctx, "b1", "caller", "callee"); err != nil {
		t.Fatal(err)
	}
	rec.Within(t, 0, "ChannelEnteredBridge", "callee")
	return fa, rec, ctx
}

// TestHoldRecipe: the steps of NOTES' hold recipe give Asterisk's replies
// and events, and addChannel waits for a running playback.
func TestHoldRecipe(t *testing.T) {
	fa, rec, ctx := bridged(t)
	if err := fa.RemoveChannel(ctx, "b1", "callee"); err != nil {
		t.Fatal(err)
	}
	rec.Within(t, 0, "ChannelLeftBridge", "callee")
	if _, err := fa.Play(ctx, "callee", "pb1", "tone:440/500|0/2500"); err != nil {
		t.Fatal(err)
	}
	rec.Within(t, 0, "PlaybackStarted", "pb1")
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := fa.AddChannel(short, "b1", "callee"); !errors.Is(err, ari.ErrUnreachable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("addChannel while the tone plays: %v, want the client's timeout", err)
	}
	done := make(chan error, 1)
	go func() { done <- fa.AddChannel(ctx, "b1", "callee") }()
	time.Sleep(20 * time.Millisecond)
	if err := fa.StopPlayback(ctx, "pb1"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("addChannel after the stop: %v", err)
	}
	ev, _ := rec.Within(t, 0, "PlaybackFinished", "pb1")
	if ev.(*ari.PlaybackFinished).Playback.State != "done" {
		t.Fatalf("finished %+v", ev)
	}
	rec.Within(t, 0, "ChannelEnteredBridge", "callee")
	if err := fa.StopPlayback(ctx, "pb1"); !errors.Is(err, ari.ErrPlaybackNotFound) {
		t.Fatalf("second stop: %v", err)
	}
}

// TestErrors: Asterisk's failure replies map to the client's sentinels.
func TestErrors(t *testing.T) {
	fa, rec, ctx := bridged(t)
	cases := []struct {
		name string
		err  error
		want []error
	}{
		{"remove unknown channel", fa.RemoveChannel(ctx, "b1", "nope"), []error{ari.ErrChannelNotFound, ari.ErrNotFound}},
		{"add to unknown bridge", fa.AddChannel(ctx, "nope", "callee"), []error{ari.ErrBridgeNotFound}},
		{"play on unknown channel", func() error { _, err := fa.Play(ctx, "nope", "x", "tone:1"); return err }(), []error{ari.ErrChannelNotFound}},
		{"unset variable", func() error { _, err := fa.GetVar(ctx, "caller", "X"); return err }(), []error{ari.ErrNotFound}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, w := range tc.want {
				if !errors.Is(tc.err, w) {
					t.Fatalf("%v is not %v", tc.err, w)
				}
			}
		})
	}
	if err := fa.Hangup(ctx, "callee", ari.HangupNormal); err != nil {
		t.Fatal(err)
	}
	if err := fa.AddChannel(ctx, "b1", "callee"); !errors.Is(err, ari.ErrChannelNotFound) {
		t.Fatalf("add a hung-up channel: %v", err)
	}
	_, i := rec.Within(t, 0, "ChannelHangupRequest", "callee")
	_, j := rec.Within(t, i, "ChannelLeftBridge", "callee")
	_, k := rec.Within(t, j, "StasisEnd", "callee")
	ev, _ := rec.Within(t, k, "ChannelDestroyed", "callee")
	if ev.(*ari.ChannelDestroyed).Cause != 16 {
		t.Fatalf("cause %d", ev.(*ari.ChannelDestroyed).Cause)
	}
	if err := fa.DestroyBridge(ctx, "b1"); err != nil {
		t.Fatal(err)
	}
	rec.Within(t, 0, "BridgeDestroyed", "b1")
}

// TestFaults: an injected reply fails the request with the client's
// error; a lost event is never delivered.
func TestFaults(t *testing.T) {
	fa, rec, ctx := bridged(t)
	f := fa.Inject(fakeasterisk.Fault{Op: "StopPlayback", Status: 500, Message: "Could not stop playback", Times: 1})
	if _, err := fa.Play(ctx, "callee", "pb1", "sound:beep"); err != nil {
		t.Fatal(err)
	}
	if err := fa.StopPlayback(ctx, "pb1"); !errors.Is(err, ari.ErrServer) {
		t.Fatalf("injected 500: %v", err)
	}
	if f.Hits() != 1 {
		t.Fatalf("hits %d", f.Hits())
	}
	ev, _ := rec.Within(t, 0, "PlaybackFinished", "pb1")
	if ev.(*ari.PlaybackFinished).Playback.State != "done" {
		t.Fatalf("sound ended %+v", ev)
	}
	fa.Inject(fakeasterisk.Fault{Op: "RemoveChannel", LoseEvents: true, Times: 1})
	from := len(rec.Events())
	if err := fa.RemoveChannel(ctx, "b1", "caller"); err != nil {
		t.Fatal(err)
	}
	if err := fa.AddChannel(ctx, "b1", "caller"); err != nil {
		t.Fatal(err)
	}
	_, i := rec.Within(t, from, "ChannelEnteredBridge", "caller")
	for _, ev := range rec.Events()[from:i] {
		if ev.GetType() == "ChannelLeftBridge" {
			t.Fatalf("the lost ChannelLeftBridge was delivered")
		}
	}
}

// TestConnections: a second Connect replaces the first (a restarted
// ariapp); a Disconnect loses events and cuts the connection's client, not
// the Asterisk; Reconnect reports a reconnect.
func TestConnections(t *testing.T) {
	fa := fakeasterisk.New(fakeasterisk.Config{})
	defer fa.Close()
	ctx := context.Background()
	first := fa.Connect()
	old := labtest.Record(first.Events())
	second := fa.Connect()
	<-old.Done() // the first process's stream ended
	rec := labtest.Record(second.Events())
	defer func() { second.Close(); <-rec.Done() }()
	ev, _ := rec.Within(t, 0, ari.ConnectionEventType, "")
	if ce := ev.(*ari.ConnectionEvent); ce.State != ari.StateConnected || ce.Reconnect {
		t.Fatalf("first event %+v", ce)
	}
	client := second.Client()
	fa.Disconnect()
	if _, err := client.Channels(ctx); !errors.Is(err, ari.ErrUnreachable) {
		t.Fatalf("client while disconnected: %v", err)
	}
	if _, err := fa.Call(fakeasterisk.CallParams{Endpoint: "Local/dial-talk@ariapp-test", Args: []string{"dial", "x"}, ChannelID: "c", PhoneID: "p"}); err != nil {
		t.Fatalf("the Asterisk itself while disconnected: %v", err)
	}
	fa.Reconnect()
	chans, err := client.Channels(ctx)
	if err != nil || len(chans) != 2 {
		t.Fatalf("channels after the reconnect: %v, %v", chans, err)
	}
	_, i := rec.Wait(t, 1, time.Second, "the reconnect", func(ev ari.Event) bool {
		ce, ok := ev.(*ari.ConnectionEvent)
		return ok && ce.State == ari.StateConnected && ce.Reconnect
	})
	for _, ev := range rec.Events()[:i] {
		if ev.GetType() == "StasisStart" {
			t.Fatal("an event of the disconnected time was delivered")
		}
	}
	if second.Connects() != 2 {
		t.Fatalf("connects %d", second.Connects())
	}
}

// TestCalleeOutcomes: each far end of the test context ends as the lab's
// dialplan does.
func TestCalleeOutcomes(t *testing.T) {
	for _, tc := range []struct {
		exten, status string
		cause         int
	}{
		{"busy", "BUSY", 17},
		{"congestion", "CONGESTION", 34},
		{"nonexistent", "CHANUNAVAIL", 3},
	} {
		t.Run(tc.exten, func(t *testing.T) {
			fa := fakeasterisk.New(fakeasterisk.Config{})
			conn := fa.Connect()
			rec := labtest.Record(conn.Events())
			defer func() { fa.Close(); <-rec.Done() }()
			if _, err := fa.Originate(context.Background(), ari.OriginateParams{Endpoint: "Local/" + tc.exten + "@ariapp-test", ChannelID: "x", App: fa.Application()}); err != nil {
				t.Fatal(err)
			}
			rec.Wait(t, 0, time.Second, "Dial "+tc.status, func(ev ari.Event) bool {
				d, ok := ev.(*ari.Dial)
				return ok && d.Dialstatus == tc.status
			})
			ev, _ := rec.Within(t, 0, "ChannelDestroyed", "x")
			if c := ev.(*ari.ChannelDestroyed).Cause; c != tc.cause {
				t.Fatalf("cause %d, want %d", c, tc.cause)
			}
			for _, ev := range rec.Events() {
				if ev.GetType() == "StasisStart" {
					t.Fatal("an unanswered callee entered Stasis")
				}
			}
		})
	}
}
