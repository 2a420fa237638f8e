package app_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/ariapp/ariapp/app"
)

// TestOnEvent checks that Config.OnEvent sees every call event in the
// order subscribers do, with Took on the outcomes of holds and resumes and
// Refused only on a hold that policy refused.
func TestOnEvent(t *testing.T) {
	var (
		mu   sync.Mutex
		seen []app.Event
	)
	h := newHarness(t, newFakeBackend(), func(c *app.Config) {
		c.MaxHoldsPerCall = 1
		c.OnEvent = func(ev app.Event) {
			mu.Lock()
			seen = append(seen, ev)
			mu.Unlock()
		}
	})
	callID, _ := h.establish()
	h.hold(callID, "caller")
	h.resume(callID, "caller")
	if _, err := h.app.Hold(ctxT(t), callID, "callee", app.SourceAPI); !errors.Is(err, app.ErrHoldRefused) {
		t.Fatalf("second hold: %v, want ErrHoldRefused", err)
	}
	h.expectNames(callID, started, answered, holdOK, unholdOK, holdFail)
	if rs := h.app.ResyncStats(); rs.Done != 1 || rs.Failed != 0 {
		t.Errorf("ResyncStats = %+v, want the one resync of the first connect, done", rs)
	}

	mu.Lock()
	defer mu.Unlock()
	want := []struct {
		name    app.EventName
		took    bool
		refused bool
	}{
		{name: started},
		{name: answered},
		{name: holdOK, took: true},
		{name: unholdOK, took: true},
		{name: holdFail, took: true, refused: true},
	}
	if len(seen) != len(want) {
		t.Fatalf("OnEvent saw %d events, want %d: %+v", len(seen), len(want), seen)
	}
	for i, w := range want {
		ev := seen[i]
		t.Run(string(w.name), func(t *testing.T) {
			if ev.Name != w.name || ev.CallID != callID || ev.Seq != uint64(i+1) {
				t.Fatalf("event %d: %s of %s seq %d, want %s of %s seq %d", i, ev.Name, ev.CallID, ev.Seq, w.name, callID, i+1)
			}
			if (ev.Took > 0) != w.took {
				t.Errorf("Took = %v, want set: %v", ev.Took, w.took)
			}
			if ev.Refused != w.refused {
				t.Errorf("Refused = %v, want %v", ev.Refused, w.refused)
			}
			if w.took && ev.Source != app.SourceAPI {
				t.Errorf("Source = %q, want api", ev.Source)
			}
		})
	}
}
