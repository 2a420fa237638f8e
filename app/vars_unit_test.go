package app_test

import (
	"testing"

	"github.com/ariapp/ariapp/internal/fakeasterisk"
)

// TestVarsOneWriteAtSetUpOneReadAtRestart: on Asterisk 22.10 a call's
// set-up writes its variables in one request (the callee has them from its
// originate) and a restarted ariapp reads each channel's in one request;
// an older Asterisk gets and gives one request per variable.
func TestVarsOneWriteAtSetUpOneReadAtRestart(t *testing.T) {
	tests := []struct {
		be              *fakeBackend
		setVars, setVar int
		// bulkReads at the restart; singleReads > 0 or none at all.
		bulkReads   int
		singleReads bool
	}{
		{be: newFakeBackend(), setVars: 1, setVar: 0, bulkReads: 2},
		{be: newOldFakeBackend(), setVars: 0, setVar: 4, singleReads: true},
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
			reads, bulkReads := fa.Inject(fakeasterisk.Fault{Op: "GetVar"}), fa.Inject(fakeasterisk.Fault{Op: "GetVars"})
			h2 := newHarnessApp(t, tt.be, h1.client.Application(), nil)
			h2.mu.Lock()
			h2.calls = append(h2.calls, callID)
			h2.mu.Unlock()
			waitUntil(t, "call rebuilt", func() bool { _, err := h2.app.Call(callID); return err == nil })
			if bulkReads.Hits() != tt.bulkReads || (reads.Hits() > 0) != tt.singleReads {
				t.Fatalf("the restart made %d bulk and %d single variable reads; want %d bulk, single ones %v",
					bulkReads.Hits(), reads.Hits(), tt.bulkReads, tt.singleReads)
			}
		})
	}
}
