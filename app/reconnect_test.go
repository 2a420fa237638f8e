package app_test

import (
	"testing"
	"time"

	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/ari"
)

// TestReconnectResync: the event WebSocket drops (cut at a proxy) and stays
// down for a while; meanwhile one call's caller hangs up and another call's
// bridge is destroyed. After the client reconnects, ariapp resyncs: the
// vanished calls end with call_ended (and their leftovers are hung up), the
// untouched held call goes on and can be resumed.
func specReconnectResync(t *testing.T, be backend) {
	c := be.connect(t, "", true)
	h := newHarnessConn(t, be, c, nil)
	hungUp, hungUpPhone := h.establish()
	noBridge, _ := h.establish()
	held, _ := h.establish()
	h.hold(held, "caller")
	noBridgeInfo, _ := h.app.Call(noBridge)

	c.cut()
	waitUntil(t, "the client to notice the drop", func() bool { return !c.connected() })
	ctl := h.control()
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
	c.restore()
	waitUntil(t, "the reconnect", func() bool { return c.connected() })

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
	if n := c.connects(); n < 2 {
		t.Fatalf("%d connects, want a reconnect", n)
	}
}
