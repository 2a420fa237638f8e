package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/ariapp/ariapp/ari"
)

// TestLabMuteRecordOfAHeldParty measures, on a real Asterisk, why a mute
// is recorded in a global variable: on a party that hears the hold music,
// a mute and a global variable write answer at once, while a channel
// variable write waits until the music ends.
func TestLabMuteRecordOfAHeldParty(t *testing.T) {
	h := newHarness(t, labBackend{})
	callID, _ := h.establish()
	info := h.hold(callID, "caller")
	held := info.Callee.ChannelID
	ctl := h.control()
	quick := 2 * time.Second // generous on a busy machine; the wait below is unbounded

	t0 := time.Now()
	if err := ctl.Mute(ctxT(t), held, ari.MuteIn); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d > quick {
		t.Errorf("a mute of a held party took %v", d)
	}
	name := "ARIAPP_TEST_" + held
	t0 = time.Now()
	if err := ctl.SetGlobalVariable(ctxT(t), name, "in"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d > quick {
		t.Errorf("a global variable write took %v", d)
	}
	t.Cleanup(func() { _ = ctl.SetGlobalVariable(context.Background(), name, "") })
	ctx, cancel := context.WithTimeout(context.Background(), quick)
	defer cancel()
	t0 = time.Now()
	err := ctl.SetVar(ctx, held, "ARIAPP_TEST_MUTE", "in")
	if err == nil {
		t.Errorf("a channel variable write on a held party answered in %v; a mute could be recorded on the channel", time.Since(t0))
	}
	t.Logf("channel variable write on the held party: %v after %v", err, time.Since(t0))
	if err := ctl.Unmute(ctxT(t), held, ari.MuteIn); err != nil {
		t.Fatal(err)
	}
	h.expectMedia(h.resume(callID, "caller"))
}
