package webhook

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/internal/labtest"
)

// TestLabWebhooks: a call through the real Asterisk, held, resumed and
// hung up, reaches a local receiver as its five events, in order, each
// with a valid signature.
func TestLabWebhooks(t *testing.T) {
	cfg := labtest.Require(t)
	k := newSink(t, nil)
	hooks, err := New(testConfig(k.srv.URL), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	hooks.Start()
	defer hooks.Close()
	client, err := ari.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	a, err := app.New(app.Config{OnEvent: hooks.Publish}, client, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := client.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	a.Start(client.Events())

	info, err := a.Originate(ctx, "Local/idle@"+labtest.TestContext, "Local/idle@"+labtest.TestContext)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the answer", func() bool {
		i, err := a.Call(info.CallID)
		return err == nil && i.State == app.CallAnswered
	})
	if _, err := a.Hold(ctx, info.CallID, "caller", app.SourceAPI); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Resume(ctx, info.CallID, "caller", app.SourceAPI); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Hangup(ctx, info.CallID); err != nil {
		t.Fatal(err)
	}
	want := []app.EventName{app.EventCallStarted, app.EventCallAnswered, app.EventHoldSuccess, app.EventUnholdSuccess, app.EventCallEnded}
	waitFor(t, 10*time.Second, "five events", func() bool { return len(k.accepted()) >= len(want) })
	gs := k.accepted()
	if len(gs) != len(want) {
		t.Fatalf("receiver got %+v, want %v", gs, want)
	}
	for i, g := range gs {
		if g.callID != info.CallID || g.name != want[i] || g.seq != uint64(i+1) {
			t.Errorf("event %d: %+v, want %s seq %d of call %s", i, g, want[i], i+1, info.CallID)
		}
	}
	if bad := k.badSignatures(); bad != 0 {
		t.Errorf("%d messages with a bad signature", bad)
	}
}
