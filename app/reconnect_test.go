package app_test

import (
	"errors"
	"testing"
	"time"

	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/internal/labtest"
)

// TestReconnectResync: the event WebSocket drops (cut at a proxy) and stays
// down for a while; meanwhile one call's caller hangs up and another call's
// bridge is destroyed. After the client reconnects, ariapp resyncs: the
// vanished calls end with call_ended (and their leftovers are hung up), the
// untouched held call goes on and can be resumed.
func TestReconnectResync(t *testing.T) {
	proxy := labtest.NewProxy(t, "127.0.0.1:8088")
	h := newHarnessARI(t, func(c *ari.Config) {
		c.URL = "http://" + proxy.Addr() + "/ari"
		c.ReconnectMin, c.ReconnectMax = 50*time.Millisecond, 200*time.Millisecond
	}, nil)
	hungUp, hungUpPhone := h.establish()
	noBridge, _ := h.establish()
	held, _ := h.establish()
	h.hold(held, "caller")
	noBridgeInfo, _ := h.app.Call(noBridge)

	proxy.Cut(true)
	waitUntil(t, "the client to notice the drop", func() bool { return !h.client.Connected() })
	ctl, err := ari.New(labtest.Config(t))
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	if err := ctl.Hangup(ctxT(t), hungUpPhone, ari.HangupNormal); err != nil {
		t.Fatal(err)
	}
	if err := ctl.DestroyBridge(ctxT(t), noBridgeInfo.BridgeID); err != nil {
		t.Fatal(err)
	}
	// While disconnected, requests that need Asterisk fail fast rather
	// than hang: the REST calls go through the same cut proxy.
	if _, err := h.app.Hold(ctxT(t), held, "callee", app.SourceAPI); err == nil {
		t.Fatal("hold succeeded while Asterisk was unreachable")
	}
	time.Sleep(300 * time.Millisecond) // several failed reconnect attempts
	proxy.Restore()
	waitUntil(t, "the reconnect", func() bool { return h.client.Connected() })

	ev := h.waitFor(hungUp, ended)
	if ev.Call.EndCause != "caller_hangup" {
		t.Fatalf("hung-up call ended with %q (%s)", ev.Call.EndCause, ev.Reason)
	}
	ev = h.waitFor(noBridge, ended)
	if ev.Call.EndCause != "bridge_destroyed" {
		t.Fatalf("bridgeless call ended with %q (%s)", ev.Call.EndCause, ev.Reason)
	}
	info := h.resume(held, "caller")
	h.expectMedia(info)
	if c := h.client.Stats().Connects; c < 2 {
		t.Fatalf("%d connects, want a reconnect", c)
	}
	_ = errors.New
}
