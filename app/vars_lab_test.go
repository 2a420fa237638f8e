package app_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/ari"
)

// countingARI counts the variables an App reads one by one, its bulk
// reads and its subscription requests.
type countingARI struct {
	app.ARI
	getVar, getVars, subscribes *atomic.Int64
}

func (c countingARI) GetVars(ctx context.Context, channelID string, names ...string) (map[string]string, error) {
	c.getVars.Add(1)
	return c.ARI.GetVars(ctx, channelID, names...)
}

func (c countingARI) GetVar(ctx context.Context, channelID, name string) (string, error) {
	c.getVar.Add(1)
	return c.ARI.GetVar(ctx, channelID, name)
}

func (c countingARI) Subscribe(ctx context.Context, eventSource string) (*ari.Application, error) {
	c.subscribes.Add(1)
	return c.ARI.Subscribe(ctx, eventSource)
}

// TestLabVarsOneReadPerChannel: on the lab's Asterisk 22.10 both parties
// of an answered call carry the call's variables, the hold records preset
// empty; a restarted ariapp reads each channel's in one request, none one
// by one, rebuilds the calls (a hold included) and subscribes to all their
// bridges in one request: a bridge destroyed afterwards still ends its call.
func TestLabVarsOneReadPerChannel(t *testing.T) {
	be := labBackend{}
	h1 := newHarness(t, be)
	talking, _ := h1.establish()
	held, _ := h1.establish()
	h1.hold(held, "caller")
	info, err := h1.app.Call(talking)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []app.PartyInfo{info.Caller, info.Callee} {
		peer := info.Callee.ChannelID
		if p.Role == app.Callee {
			peer = info.Caller.ChannelID
		}
		want := map[string]string{app.VarCallID: talking, app.VarRole: string(p.Role), app.VarPeer: peer,
			app.VarBridge: info.BridgeID, app.VarHeld: "", app.VarHoldOrder: ""}
		names := []string{app.VarCallID, app.VarRole, app.VarPeer, app.VarBridge, app.VarHeld, app.VarHoldOrder}
		got, err := h1.control().GetVars(ctxT(t), p.ChannelID, names...)
		if err != nil {
			t.Fatalf("%s: GET variables: %v", p.Role, err)
		}
		for name, v := range want {
			if got[name] != v {
				t.Errorf("%s: %s = %q, want %q", p.Role, name, got[name], v)
			}
		}
	}

	h1.crash()
	var reads, bulkReads, subs atomic.Int64
	h2 := newHarnessApp(t, be, h1.client.Application(), func(a app.ARI) app.ARI { return countingARI{a, &reads, &bulkReads, &subs} })
	h2.mu.Lock()
	h2.calls = append(h2.calls, talking, held)
	h2.mu.Unlock()
	for _, id := range []string{talking, held} {
		waitUntil(t, "call "+id+" rebuilt", func() bool { _, err := h2.app.Call(id); return err == nil })
	}
	if got, _ := h2.app.Call(held); got.Caller.State != app.Hold {
		t.Fatalf("held call rebuilt as %+v", got)
	}
	if n, b := reads.Load(), bulkReads.Load(); n != 0 || b != 4 {
		t.Fatalf("the restart read %d variables one by one and made %d bulk reads; want none and 4 (one per channel)", n, b)
	}
	if n := subs.Load(); n != 1 {
		t.Fatalf("the restart made %d subscription requests; want 1 for both bridges", n)
	}
	h2.resume(held, "caller")
	if err := h2.control().DestroyBridge(ctxT(t), info.BridgeID); err != nil {
		t.Fatal(err)
	}
	if ev := h2.waitFor(talking, ended); ev.Call.EndCause != "bridge_destroyed" {
		t.Fatalf("call ended with %q (%s), want bridge_destroyed", ev.Call.EndCause, ev.Reason)
	}
}
