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
