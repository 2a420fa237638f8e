package app_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/ariapp/ariapp/app"
)

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// TestFiftyCycles: 50 hold/resume cycles on one call, alternating the
// holder; every cycle is reported once and the media is right at the end.
// The latencies are logged (go test -v), not asserted.
func specFiftyCycles(t *testing.T, be backend) {
	h := newHarness(t, be)
	callID, _ := h.establish()
	var holds, resumes []time.Duration
	want := []app.EventName{started, answered}
	for i := range 50 {
		party := []string{"caller", "callee"}[i%2]
		t0 := time.Now()
		info := h.hold(callID, party)
		holds = append(holds, time.Since(t0))
		if info.Party(app.Role(party)).State != app.Hold {
			t.Fatalf("cycle %d: %s not HOLD", i, party)
		}
		t0 = time.Now()
		info = h.resume(callID, party)
		resumes = append(resumes, time.Since(t0))
		if len(info.Holders) != 0 {
			t.Fatalf("cycle %d: holders %v after resume", i, info.Holders)
		}
		want = append(want, holdOK, unholdOK)
	}
	info, _ := h.app.Call(callID)
	h.expectMedia(info)
	h.expectNames(callID, want...)
	t.Logf("50 cycles: hold median %v (max %v), resume median %v (max %v)",
		median(holds), slices.Max(holds), median(resumes), slices.Max(resumes))
}

// TestTwentyConcurrentCalls: 20 calls at once, each holding and resuming
// from random sides; each call's events stay in order and complete.
func specTwentyConcurrentCalls(t *testing.T, be backend) {
	h := newHarness(t, be)
	const calls, cycles = 20, 5
	var wg sync.WaitGroup
	errs := make(chan error, calls)
	ids := make([]string, calls)
	phones := make([]string, calls)
	for i := range calls {
		ids[i], phones[i] = h.establish()
	}
	var mu sync.Mutex
	var holds []time.Duration
	for i := range calls {
		wg.Add(1)
		go func(callID string) {
			defer wg.Done()
			for c := range cycles {
				party := []string{"caller", "callee"}[rand.IntN(2)]
				t0 := time.Now()
				if _, err := h.app.Hold(ctxT(t), callID, party, app.SourceAPI); err != nil {
					errs <- fmt.Errorf("call %s cycle %d hold: %w", callID, c, err)
					return
				}
				mu.Lock()
				holds = append(holds, time.Since(t0))
				mu.Unlock()
				if _, err := h.app.Resume(ctxT(t), callID, party, app.SourceAPI); err != nil {
					errs <- fmt.Errorf("call %s cycle %d resume: %w", callID, c, err)
					return
				}
			}
		}(ids[i])
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i, id := range ids {
		info, err := h.app.Call(id)
		if err != nil {
			t.Fatal(err)
		}
		h.expectMedia(info)
		h.hangupChannel(phones[i])
	}
	for _, id := range ids {
		h.waitFor(id, ended)
		want := []app.EventName{started, answered}
		for range cycles {
			want = append(want, holdOK, unholdOK)
		}
		h.expectNames(id, append(want, ended)...)
	}
	t.Logf("%d concurrent calls: hold median %v, max %v", calls, median(holds), slices.Max(holds))
}

// validEnd checks a raced call's sequence: started, answered, the events
// listed as possible (each at most once, in that order), then call_ended.
func validEnd(t *testing.T, h *harness, callID string, optional ...app.EventName) {
	t.Helper()
	got := h.names(callID)
	if len(got) < 3 || got[0] != started || got[1] != answered || got[len(got)-1] != ended {
		t.Fatalf("sequence %v\n%s", got, h.dump(callID))
	}
	mid := got[2 : len(got)-1]
	i := 0
	for _, n := range mid {
		for i < len(optional) && optional[i] != n {
			i++
		}
		if i == len(optional) {
			t.Fatalf("unexpected %v in %v (allowed, in order: %v)", n, got, optional)
		}
		i++
	}
}

// TestRaceHoldAgainstHangup: a hold and the held party's hang-up at the same
// moment end consistently: call_ended last, at most one hold outcome before
// it, nothing left in Asterisk.
func specRaceHoldAgainstHangup(t *testing.T, be backend) {
	for i := range 5 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			h := newHarness(t, be)
			callID, _ := h.establish()
			info, _ := h.app.Call(callID)
			var wg sync.WaitGroup
			wg.Add(2)
			var holdErr error
			go func() { defer wg.Done(); _, holdErr = h.app.Hold(ctxT(t), callID, "caller", app.SourceAPI) }()
			go func() {
				defer wg.Done()
				time.Sleep(time.Duration(i) * 300 * time.Microsecond)
				h.hangupChannel(info.Callee.ChannelID)
			}()
			wg.Wait()
			h.waitFor(callID, ended)
			if holdErr != nil && !errors.Is(holdErr, app.ErrHoldFailed) && !errors.Is(holdErr, app.ErrCallEnded) && !errors.Is(holdErr, app.ErrCallNotFound) {
				t.Fatalf("hold error %v", holdErr)
			}
			validEnd(t, h, callID, holdOK, holdFail)
		})
	}
}

// TestRaceResumeAgainstHangup: likewise for a resume.
func specRaceResumeAgainstHangup(t *testing.T, be backend) {
	for i := range 5 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			h := newHarness(t, be)
			callID, phone := h.establish()
			h.hold(callID, "callee")
			var wg sync.WaitGroup
			wg.Add(2)
			var resumeErr error
			go func() { defer wg.Done(); _, resumeErr = h.app.Resume(ctxT(t), callID, "callee", app.SourceAPI) }()
			go func() {
				defer wg.Done()
				time.Sleep(time.Duration(i) * 300 * time.Microsecond)
				h.hangupChannel(phone)
			}()
			wg.Wait()
			h.waitFor(callID, ended)
			if resumeErr != nil && !errors.Is(resumeErr, app.ErrUnholdFailed) && !errors.Is(resumeErr, app.ErrCallEnded) && !errors.Is(resumeErr, app.ErrCallNotFound) {
				t.Fatalf("resume error %v", resumeErr)
			}
			validEnd(t, h, callID, holdOK, unholdOK, unholdNo)
		})
	}
}

// TestRaceBothHoldAtOnce: both parties ask for hold at the same instant;
// both holds succeed (serialised), the call ends up in mutual hold.
func specRaceBothHoldAtOnce(t *testing.T, be backend) {
	h := newHarness(t, be)
	callID, _ := h.establish()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, p := range []string{"caller", "callee"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = h.app.Hold(ctxT(t), callID, p, app.SourceAPI)
		}()
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("holds: %v", errs)
	}
	info, _ := h.app.Call(callID)
	if info.Caller.State != app.Hold || info.Callee.State != app.Hold || !info.Caller.OnHoldMusic || !info.Callee.OnHoldMusic {
		t.Fatalf("after both held: %+v", info)
	}
	h.expectMedia(info)
	h.expectNames(callID, started, answered, holdOK, holdOK)
}
