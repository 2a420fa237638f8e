package app_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/ari"
)

// originateCounter counts the originates an App makes.
type originateCounter struct {
	app.ARI
	n atomic.Int32
}

func (o *originateCounter) Originate(ctx context.Context, p ari.OriginateParams) (*ari.Channel, error) {
	o.n.Add(1)
	return o.ARI.Originate(ctx, p)
}

// TestRestartWhileCalleeRings: an ariapp restarted while the callee rings
// adopts the ringing call under the same id and dials nobody again: the
// callee's phone rings once per call. Hanging the adopted call up cancels
// that ringing callee (the harness checks nothing is left). Once more after
// a second restart.
func specRestartWhileCalleeRings(t *testing.T, be backend) {
	h1 := newHarness(t, be)
	callID, _ := h1.placeCall("noanswer")
	callee := callID + "-callee"
	ctl := h1.control()
	waitUntil(t, "the callee rings", func() bool {
		_, err := ctl.Channel(ctxT(t), callee)
		return err == nil
	})
	h1.crash()

	name := h1.client.Application()
	for restart := 1; restart <= 2; restart++ {
		counter := &originateCounter{}
		h := newHarnessApp(t, be, name, func(a app.ARI) app.ARI { counter.ARI = a; return counter })
		h.mu.Lock()
		h.calls = append(h.calls, callID)
		h.mu.Unlock()
		waitUntil(t, "the ringing call adopted", func() bool { _, err := h.app.Call(callID); return err == nil })
		info, _ := h.app.Call(callID)
		if info.State != app.CallRinging || info.Callee.ChannelID != callee {
			t.Fatalf("restart %d: adopted call %+v, want ringing with callee %s", restart, info, callee)
		}
		if n := counter.n.Load(); n != 0 {
			t.Fatalf("restart %d: the restarted ariapp originated %d channels, want 0 (the callee rings already)", restart, n)
		}
		if _, err := ctl.Channel(ctxT(t), callee); err != nil {
			t.Fatalf("restart %d: the ringing callee is gone: %v", restart, err)
		}
		if restart == 1 {
			h.crash()
			continue
		}
		if _, err := h.app.Hangup(ctxT(t), callID); err != nil {
			t.Fatalf("hangup of the adopted call: %v", err)
		}
		h.waitFor(callID, app.EventCallEnded)
		waitUntil(t, "the callee's leg cancelled", func() bool {
			_, err := ctl.Channel(ctxT(t), callee)
			return errors.Is(err, ari.ErrNotFound)
		})
	}
}

// specRestartKeepsHoldOrder: after a restart, a mutual hold keeps the
// order in which the parties took hold (CallInfo.Holders), whichever
// party held first.
func specRestartKeepsHoldOrder(t *testing.T, be backend) {
	for _, order := range [][]string{{"callee", "caller"}, {"caller", "callee"}} {
		t.Run(order[0]+" first", func(t *testing.T) {
			h1 := newHarness(t, be)
			callID, _ := h1.establish()
			h1.hold(callID, order[0])
			h1.hold(callID, order[1])
			before, _ := h1.app.Call(callID)
			if got := fmt.Sprint(before.Holders); got != fmt.Sprint(order) {
				t.Fatalf("holders before the restart %s, want %v", got, order)
			}
			h1.crash()
			h2 := newHarnessApp(t, be, h1.client.Application(), nil)
			h2.mu.Lock()
			h2.calls = append(h2.calls, callID)
			h2.mu.Unlock()
			waitUntil(t, "the call adopted", func() bool { _, err := h2.app.Call(callID); return err == nil })
			after, _ := h2.app.Call(callID)
			if fmt.Sprint(after.Holders) != fmt.Sprint(before.Holders) {
				t.Fatalf("holders after the restart %v, want %v", after.Holders, before.Holders)
			}
			// The second holder resumes first: the first still holds.
			h2.resume(callID, order[1])
			h2.resume(callID, order[0])
		})
	}
}
