package app_test

import (
	"testing"

	"github.com/ariapp/ariapp/internal/fakeasterisk"
)

// TestVarsOneWriteAtSetUpNoReadAtRestart: on Asterisk 22.10 a call's set-up
// writes its variables in one request (the callee has them from its
// originate) and a restarted ariapp rebuilds the call from the channel
// list alone; an older Asterisk gets one request per variable and a
// restart reads them back one by one.
func TestVarsOneWriteAtSetUpNoReadAtRestart(t *testing.T) {
	tests := []struct {
		be                 *fakeBackend
		setVars, setVar    int
		readsBackAtRestart bool
	}{
		{be: newFakeBackend(), setVars: 1, setVar: 0},
		{be: newOldFakeBackend(), setVars: 0, setVar: 4, readsBackAtRestart: true},
	}
	for _, tt := range tests {
		t.Run(tt.be.name(), func(t *testing.T) {
			h1 := newHarness(t, tt.be)
			fa := tt.be.asterisk(t, h1.client.Application())
			// Faults that change nothing count the requests.
			bulk, single := fa.Inject(fakeasterisk.Fault{Op: "SetVars"}), fa.Inject(fakeasterisk.Fault{Op: "SetVar"})
			callID, _ := h1.establish()
			if bulk.Hits() != tt.setVars || single.Hits() != tt.setVar {
				t.Fatalf("set-up made %d SetVars and %d SetVar requests, want %d and %d", bulk.Hits(), single.Hits(), tt.setVars, tt.setVar)
			}
			h1.crash()
			reads := fa.Inject(fakeasterisk.Fault{Op: "GetVar"})
			h2 := newHarnessApp(t, tt.be, h1.client.Application(), nil)
			h2.mu.Lock()
			h2.calls = append(h2.calls, callID)
			h2.mu.Unlock()
			waitUntil(t, "call rebuilt", func() bool { _, err := h2.app.Call(callID); return err == nil })
			if got := reads.Hits(); (got > 0) != tt.readsBackAtRestart {
				t.Fatalf("the restart read %d variables one by one; want reads %v", got, tt.readsBackAtRestart)
			}
		})
	}
}
