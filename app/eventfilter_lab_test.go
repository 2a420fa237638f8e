package app_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/internal/labtest"
)

// TestLabEventFilter: with the event filter (ari.Config.EventTypes =
// app.EventTypes) a call's set-up, hold, resume and hang-up work the same
// and bring Asterisk's events down to those ariapp acts on: no
// ChannelVarset. Prints the events per call with and without.
func TestLabEventFilter(t *testing.T) {
	count := func(filter bool) (total int, varsets int) {
		cfg := labtest.Require(t)
		if filter {
			cfg.EventTypes = app.EventTypes
		}
		var mu sync.Mutex
		byType := map[string]int{}
		cfg.OnEvent = func(ev ari.Event) {
			mu.Lock()
			byType[ev.GetType()]++
			mu.Unlock()
		}
		_, a := labtest.StartApp(t, cfg, app.Config{}, zaptest.NewLogger(t))
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		sub := a.Subscribe("")
		defer sub.Close()
		info, err := a.Originate(ctx, labtest.LocalIdle, labtest.LocalIdle)
		if err != nil {
			t.Fatal(err)
		}
		wait := func(name app.EventName) {
			t.Helper()
			for {
				select {
				case ev := <-sub.C:
					if ev.CallID == info.CallID && ev.Name == name {
						return
					}
				case <-ctx.Done():
					t.Fatalf("no %s", name)
				}
			}
		}
		wait(app.EventCallAnswered)
		if _, err := a.Hold(ctx, info.CallID, "caller", app.SourceAPI); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Resume(ctx, info.CallID, "caller", app.SourceAPI); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Hangup(ctx, info.CallID); err != nil {
			t.Fatal(err)
		}
		wait(app.EventCallEnded)
		time.Sleep(200 * time.Millisecond) // the hang-up's last events
		mu.Lock()
		defer mu.Unlock()
		for typ, n := range byType {
			if typ != "ClientConnectionState" {
				total += n
			}
		}
		t.Logf("filter %v: %d events for one call (set-up, hold, resume, hang-up): %v", filter, total, byType)
		return total, byType["ChannelVarset"]
	}
	all, _ := count(false)
	filtered, varsets := count(true)
	if varsets != 0 || filtered >= all {
		t.Fatalf("with the filter %d events (%d ChannelVarset), without %d", filtered, varsets, all)
	}
}
