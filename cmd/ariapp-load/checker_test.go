package main

import (
	"bytes"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ariapp/ariapp/app"
)

// ev builds an event of call "c1" whose call info is consistent with the
// given holders (as ariapp reports it): HOLD exactly for holders, music for
// the peer of a holder, state st.
func ev(seq uint64, name app.EventName, by app.Role, st app.CallState, holders ...app.Role) app.Event {
	info := app.CallInfo{CallID: "c1", State: st, Holders: append([]app.Role{}, holders...),
		Caller: app.PartyInfo{Role: app.Caller, ChannelID: "c1-caller", State: app.Live, HangupAllowed: true},
		Callee: app.PartyInfo{Role: app.Callee, ChannelID: "c1-callee", State: app.Live, HangupAllowed: true}}
	for _, h := range holders {
		p := info.Party(h)
		p.State, p.HangupAllowed = app.Hold, false
		if st != app.CallEnded {
			info.Party(peerOf(h)).OnHoldMusic = true
		}
	}
	if st == app.CallEnded {
		info.EndCause = "hangup_requested"
	}
	return app.Event{Name: name, CallID: "c1", Seq: seq, Party: by, Call: info, Time: time.Unix(0, 0)}
}

// mutate returns a copy of e changed by f.
func mutate(e app.Event, f func(*app.Event)) app.Event {
	e.Call.Holders = slices.Clone(e.Call.Holders)
	f(&e)
	return e
}

const (
	ringing  = app.CallRinging
	answered = app.CallAnswered
	ended    = app.CallEnded
	caller   = app.Caller
	callee   = app.Callee
)

// start is call_started, call_answered.
func start() []app.Event {
	return []app.Event{
		ev(1, app.EventCallStarted, "", ringing),
		ev(2, app.EventCallAnswered, "", answered),
	}
}

func seqs(head []app.Event, tail ...app.Event) []app.Event { return append(head, tail...) }

func TestCheckerValidSequences(t *testing.T) {
	for _, tc := range []struct {
		name   string
		events []app.Event
	}{
		{"talk and hang up", seqs(start(), ev(3, app.EventCallEnded, "", ended))},
		{"ended while ringing", []app.Event{ev(1, app.EventCallStarted, "", ringing), ev(2, app.EventCallEnded, "", ended)}},
		{"hold and resume", seqs(start(),
			ev(3, app.EventHoldSuccess, caller, answered, caller),
			ev(4, app.EventUnholdSuccess, caller, answered),
			ev(5, app.EventCallEnded, "", ended))},
		{"mutual hold, resumes in either order (M1/M2)", seqs(start(),
			ev(3, app.EventHoldSuccess, callee, answered, callee),
			ev(4, app.EventHoldSuccess, caller, answered, callee, caller),
			ev(5, app.EventUnholdSuccess, callee, answered, caller),
			ev(6, app.EventHoldSuccess, callee, answered, caller, callee),
			ev(7, app.EventUnholdSuccess, caller, answered, callee),
			ev(8, app.EventUnholdSuccess, callee, answered),
			ev(9, app.EventCallEnded, "", ended))},
		{"ended while held: states kept, music off", seqs(start(),
			ev(3, app.EventHoldSuccess, caller, answered, caller),
			ev(4, app.EventCallEnded, "", ended, caller))},
		{"hold_failed leaves everything as it was", seqs(start(),
			ev(3, app.EventHoldSuccess, callee, answered, callee),
			ev(4, app.EventHoldFailed, caller, answered, callee),
			ev(5, app.EventCallEnded, "", ended, callee))},
		{"hold_failed while ringing (H1)", []app.Event{
			ev(1, app.EventCallStarted, "", ringing),
			ev(2, app.EventHoldFailed, caller, ringing),
			ev(3, app.EventCallEnded, "", ended)}},
		{"unhold_failed then call_ended; music not checked on unhold_failed", seqs(start(),
			ev(3, app.EventHoldSuccess, caller, answered, caller),
			mutate(ev(4, app.EventUnholdFailed, caller, answered, caller), func(e *app.Event) { e.Call.Callee.OnHoldMusic = false }),
			ev(5, app.EventCallEnded, "", ended, caller))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewChecker()
			for _, e := range tc.events {
				c.Event(e)
			}
			s := c.Finish(map[string]bool{"c1": true})
			if len(s.Violations) != 0 {
				t.Fatalf("violations: %v", s.Violations)
			}
			if s.Total != len(tc.events) || s.Calls != 1 {
				t.Fatalf("total %d calls %d", s.Total, s.Calls)
			}
		})
	}
}

func TestCheckerViolations(t *testing.T) {
	endedOK := func(seq uint64, holders ...app.Role) app.Event {
		return ev(seq, app.EventCallEnded, "", ended, holders...)
	}
	for _, tc := range []struct {
		name   string
		events []app.Event
		rule   string
		detail string // a part of the first violation's detail
	}{
		{"seq gap", seqs(start(), ev(4, app.EventCallEnded, "", ended)), "seq", "1 event(s) missing"},
		{"seq repeated", seqs(start(), ev(2, app.EventCallAnswered, "", answered), endedOK(3)), "seq", "repeated or out of order"},
		{"call_started twice", []app.Event{ev(1, app.EventCallStarted, "", ringing), ev(2, app.EventCallStarted, "", ringing), endedOK(3)}, "order", "already ringing"},
		{"call_answered twice", seqs(start(), ev(3, app.EventCallAnswered, "", answered), endedOK(4)), "order", "not ringing"},
		{"event after call_ended", seqs(start(), endedOK(3), ev(4, app.EventHoldSuccess, caller, answered, caller)), "order", "after call_ended"},
		{"call_ended twice", seqs(start(), endedOK(3), endedOK(4)), "order", "after call_ended"},
		{"hold before answer (H1)", []app.Event{ev(1, app.EventCallStarted, "", ringing),
			ev(2, app.EventHoldSuccess, caller, ringing, caller), endedOK(3, caller)}, "H1", "not answered"},
		{"hold_success by a holder", seqs(start(), ev(3, app.EventHoldSuccess, caller, answered, caller),
			ev(4, app.EventHoldSuccess, caller, answered, caller), endedOK(5, caller)), "H3", "already holds"},
		{"hold_failed by a holder", seqs(start(), ev(3, app.EventHoldSuccess, caller, answered, caller),
			ev(4, app.EventHoldFailed, caller, answered, caller), endedOK(5, caller)), "H5", "which holds"},
		{"unhold_success by a non-holder (R1)", seqs(start(), ev(3, app.EventHoldSuccess, caller, answered, caller),
			ev(4, app.EventUnholdSuccess, callee, answered, caller), endedOK(5, caller)), "R1", "does not hold"},
		{"unhold_failed by a non-holder", seqs(start(), ev(3, app.EventUnholdFailed, callee, answered), endedOK(4)), "R1", "does not hold"},
		{"unhold_failed not followed by call_ended (R3)", seqs(start(), ev(3, app.EventHoldSuccess, caller, answered, caller),
			ev(4, app.EventUnholdFailed, caller, answered, caller), ev(5, app.EventUnholdSuccess, caller, answered), endedOK(6)), "R3", "followed by call_ended"},
		{"holder reported LIVE", seqs(start(),
			mutate(ev(3, app.EventHoldSuccess, caller, answered, caller), func(e *app.Event) { e.Call.Caller.State = app.Live }),
			endedOK(4, caller)), "info", "caller state LIVE, want HOLD"},
		{"held party reported HOLD (H4)", seqs(start(),
			mutate(ev(3, app.EventHoldSuccess, caller, answered, caller), func(e *app.Event) { e.Call.Callee.State = app.Hold }),
			endedOK(4, caller)), "info", "callee state HOLD, want LIVE"},
		{"held party without music", seqs(start(),
			mutate(ev(3, app.EventHoldSuccess, caller, answered, caller), func(e *app.Event) { e.Call.Callee.OnHoldMusic = false }),
			endedOK(4, caller)), "info", "callee on_hold_music false, want true"},
		{"holder hears music although the peer does not hold", seqs(start(),
			mutate(ev(3, app.EventHoldSuccess, caller, answered, caller), func(e *app.Event) { e.Call.Caller.OnHoldMusic = true }),
			endedOK(4, caller)), "info", "caller on_hold_music true, want false"},
		{"M2: resumer taken off the music while the peer holds", seqs(start(),
			ev(3, app.EventHoldSuccess, caller, answered, caller),
			ev(4, app.EventHoldSuccess, callee, answered, caller, callee),
			mutate(ev(5, app.EventUnholdSuccess, caller, answered, callee), func(e *app.Event) { e.Call.Caller.OnHoldMusic = false }),
			endedOK(6, callee)), "info", "caller on_hold_music false, want true"},
		{"music after call_ended", seqs(start(), ev(3, app.EventHoldSuccess, caller, answered, caller),
			mutate(endedOK(4, caller), func(e *app.Event) { e.Call.Callee.OnHoldMusic = true })), "info", "after the call ended"},
		{"holders list wrong", seqs(start(),
			mutate(ev(3, app.EventHoldSuccess, caller, answered, caller), func(e *app.Event) { e.Call.Holders = nil }),
			endedOK(4, caller)), "info", "holders [], want [caller]"},
		{"holders order wrong", seqs(start(),
			ev(3, app.EventHoldSuccess, callee, answered, callee),
			mutate(ev(4, app.EventHoldSuccess, caller, answered, callee, caller), func(e *app.Event) { e.Call.Holders = []app.Role{caller, callee} }),
			endedOK(5, callee, caller)), "info", "holders [caller callee], want [callee caller]"},
		{"hang-up offered to a holder (H6)", seqs(start(),
			mutate(ev(3, app.EventHoldSuccess, caller, answered, caller), func(e *app.Event) { e.Call.Caller.HangupAllowed = true }),
			endedOK(4, caller)), "info", "H6"},
		{"wrong call state", seqs(start(),
			mutate(ev(3, app.EventHoldSuccess, caller, answered, caller), func(e *app.Event) { e.Call.State = ringing }),
			endedOK(4, caller)), "info", `call state "ringing", want "answered"`},
		{"party missing", seqs(start(), ev(3, app.EventHoldSuccess, "", answered), endedOK(4)), "info", "neither caller nor callee"},
		{"call_ended without cause", seqs(start(), mutate(endedOK(3), func(e *app.Event) { e.Call.EndCause = "" })), "info", "without end_cause"},
		{"unknown event", seqs(start(), ev(3, "hold_maybe", caller, answered), endedOK(4)), "info", "unknown event"},
		{"no call_ended", start(), "missing", "no call_ended"},
		{"first event not call_started", []app.Event{ev(2, app.EventCallAnswered, "", answered), endedOK(3)}, "seq", "first event seen"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewChecker()
			for _, e := range tc.events {
				c.Event(e)
			}
			s := c.Finish(map[string]bool{"c1": true})
			if len(s.Violations) == 0 {
				t.Fatal("no violation found")
			}
			v := s.Violations[0]
			if v.Rule != tc.rule || !strings.Contains(v.Detail, tc.detail) {
				t.Fatalf("first violation %v, want rule %s with %q (all: %v)", v, tc.rule, tc.detail, s.Violations)
			}
		})
	}
}

func TestCheckerForeignCallIgnored(t *testing.T) {
	c := NewChecker()
	c.Event(ev(5, app.EventHoldSuccess, caller, answered, caller)) // began before the stream
	c.Event(ev(6, app.EventCallEnded, "", ended, caller))
	s := c.Finish(map[string]bool{})
	if len(s.Violations) != 0 || s.Foreign != 1 || s.Calls != 0 {
		t.Fatalf("%+v", s)
	}
}

// TestCheckerUnplacedCall: a call no slot placed (its POST /v1/calls
// failed, e.g. shed on a 504) is checked as far as seen and must end.
func TestCheckerUnplacedCall(t *testing.T) {
	for _, tc := range []struct {
		name   string
		events []app.Event
		want   []string // call ids with a violation
	}{
		{"ended", []app.Event{ev(1, app.EventCallStarted, "", ringing), ev(2, app.EventCallEnded, "", ended)}, []string{"other"}},
		{"never ended", start(), []string{"c1", "other"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewChecker()
			for _, e := range tc.events {
				c.Event(e)
			}
			s := c.Finish(map[string]bool{"other": true})
			var got []string
			for _, v := range s.Violations {
				if v.Rule != "missing" {
					t.Errorf("violation %v", v)
				}
				got = append(got, v.CallID)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) || s.Unplaced != 1 || s.Calls != 1 {
				t.Fatalf("violations of %v, want %v: %+v", got, tc.want, s)
			}
		})
	}
}

func TestShedClassification(t *testing.T) {
	for _, tc := range []struct {
		rep  reply
		kind string
	}{
		{reply{Status: 503, Code: codeOverloaded}, shedOverloaded},
		{reply{Status: 504, Code: "timeout"}, shedTimeout},
		{reply{Status: 503, Code: "unavailable"}, ""}, // Asterisk down: not capacity
		{reply{Status: 500, Code: "internal"}, ""},
		{reply{Status: 502, Code: "hold_failed"}, ""},
		{reply{Status: 504}, ""},
	} {
		t.Run(tc.rep.String(), func(t *testing.T) {
			kind, ok := shedReply(tc.rep)
			if kind != tc.kind || ok != (tc.kind != "") {
				t.Fatalf("shedReply = %q, %v; want %q", kind, ok, tc.kind)
			}
		})
	}
	for _, tc := range []struct {
		cause, reason string
		want          bool
	}{
		{"unavailable", `originate Local/idle@ariapp-test failed: ari: POST /channels: Post "http://127.0.0.1:8088/ari/channels": context deadline exceeded`, true},
		{"setup_failed", "answer caller: ari: POST /channels/x/answer: context deadline exceeded", true},
		{"unavailable", "originate PJSIP/bob failed: ari: 404 not found", false},
		{"caller_hangup", "context deadline exceeded", false},
	} {
		if got := setupTimedOut(&callTrack{endCause: tc.cause, endReason: tc.reason}); got != tc.want {
			t.Errorf("setupTimedOut(%s, %q) = %v", tc.cause, tc.reason, got)
		}
	}
}

func TestCheckerMissingCall(t *testing.T) {
	c := NewChecker()
	s := c.Finish(map[string]bool{"nope": true})
	if len(s.Violations) != 1 || s.Violations[0].Rule != "missing" {
		t.Fatalf("%+v", s.Violations)
	}
}

func TestCheckerLost(t *testing.T) {
	c := NewChecker()
	c.Lost(3)
	s := c.Finish(nil)
	if s.Lost != 3 || len(s.Violations) != 1 || s.Violations[0].Rule != "lost" {
		t.Fatalf("%+v", s)
	}
}

func TestCheckerReconcile(t *testing.T) {
	events := seqs(start(),
		ev(3, app.EventHoldSuccess, caller, answered, caller),
		ev(4, app.EventUnholdSuccess, caller, answered),
		ev(5, app.EventCallEnded, "", ended))
	for _, tc := range []struct {
		name    string
		replies []string
		ok      bool
	}{
		{"match", []string{"hold_success caller", "unhold_success caller"}, true},
		{"event without reply (a no-op hold reported an event)", []string{"hold_success caller"}, false},
		{"reply without event", []string{"hold_success caller", "unhold_success caller", "hold_success callee"}, false},
		{"other party", []string{"hold_success callee", "unhold_success callee"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewChecker()
			for _, e := range events {
				c.Event(e)
			}
			c.Reconcile("c1", tc.replies)
			s := c.Finish(map[string]bool{"c1": true})
			if ok := len(s.Violations) == 0; ok != tc.ok {
				t.Fatalf("ok %v, want %v: %v", ok, tc.ok, s.Violations)
			}
			if !tc.ok && s.Violations[0].Rule != "replies_vs_events" {
				t.Fatalf("%v", s.Violations)
			}
		})
	}
}

func TestModelMismatchesOfReply(t *testing.T) {
	m := model{state: answered}
	m.take(callee)
	m.take(caller)
	info := ev(0, "", "", answered, callee, caller).Call
	if d := m.mismatches(&info, musicPeerHolds); len(d) != 0 {
		t.Fatalf("consistent reply: %v", d)
	}
	m.release(callee)
	if d := m.mismatches(&info, musicPeerHolds); len(d) == 0 {
		t.Fatal("a reply still showing the callee holding was accepted")
	}
}

func TestReadSSE(t *testing.T) {
	stream := ": ariapp events\n\n" +
		"event: call_started\nid: c1:1\ndata: {\"event\":\"call_started\",\"call_id\":\"c1\",\"seq\":1,\"time\":\"2026-01-01T00:00:00Z\",\"call\":{\"call_id\":\"c1\",\"state\":\"ringing\",\"caller\":{},\"callee\":{},\"holders\":[],\"started_at\":\"2026-01-01T00:00:00Z\"}}\n\n" +
		": keep-alive\n\n" +
		"event: lost\ndata: {\"dropped\":7}\n\n"
	ready := make(chan struct{})
	var got []app.Event
	var lost uint64
	err := readSSE(strings.NewReader(stream), ready, func(e app.Event) { got = append(got, e) }, func(n uint64) { lost += n })
	if err != errStreamEnded {
		t.Fatalf("err %v", err)
	}
	if !closed(ready) || len(got) != 1 || got[0].Seq != 1 || got[0].Call.State != ringing || lost != 7 {
		t.Fatalf("ready %v events %+v lost %d", closed(ready), got, lost)
	}
	if err := readSSE(strings.NewReader("event: hold_success\ndata: {\"event\":\"call_ended\"}\n\n"), nil, func(app.Event) {}, func(uint64) {}); err == nil || !strings.Contains(err.Error(), "data says") {
		t.Fatalf("mismatched name: %v", err)
	}
}

func TestParseFlags(t *testing.T) {
	env := map[string]string{"ARIAPP_ARI_PASSWORD": "pw", "ARIAPP_API_TOKEN": "tok"}
	get := func(k string) string { return env[k] }
	cfg, err := parseFlags([]string{"-calls", "7", "-duration", "3s", "-seed", "9"}, get, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.calls != 7 || cfg.duration != 3*time.Second || cfg.seed != 9 || cfg.token != "tok" || cfg.ariPassword != "pw" ||
		cfg.opInterval != 300*time.Millisecond || cfg.hangupProb != 0.05 || cfg.badResumeProb != 0.05 ||
		cfg.from != "Local/talk@ariapp-test" || cfg.api != "http://127.0.0.1:8090" || cfg.settle != 100*time.Second || cfg.maxErrors != 100 || cfg.maxShed != 0.1 {
		t.Fatalf("%+v", cfg)
	}
	for _, bad := range [][]string{{"-calls", "0"}, {"-duration", "0s"}, {"-hangup-prob", "0.9", "-bad-resume-prob", "0.2"}, {"extra"}, {"-settle", "-1s"}, {"-max-errors", "-1"}, {"-max-shed", "1.5"}, {"-max-shed", "-0.1"}} {
		if _, err := parseFlags(bad, get, io.Discard); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	if _, err := parseFlags(nil, func(string) string { return "" }, io.Discard); err == nil || !strings.Contains(err.Error(), "ARIAPP_ARI_PASSWORD") {
		t.Errorf("missing password: %v", err)
	}
	if _, err := parseFlags([]string{"-ari-url", ""}, func(string) string { return "" }, io.Discard); err != nil {
		t.Errorf("leftover check off: %v", err)
	}
}

func TestWarmupAndPercentile(t *testing.T) {
	for d, want := range map[time.Duration]time.Duration{
		10 * time.Second: 5 * time.Second, 60 * time.Second: 10 * time.Second, 10 * time.Minute: time.Minute,
	} {
		if got := warmupAt(d); got != want {
			t.Errorf("warmupAt(%v) = %v, want %v", d, got, want)
		}
	}
	var s []time.Duration
	for i := 1; i <= 100; i++ {
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	if p := percentile(s, 0.5); p != 50*time.Millisecond {
		t.Errorf("p50 %v", p)
	}
	if p := percentile(s, 0.99); p != 99*time.Millisecond {
		t.Errorf("p99 %v", p)
	}
}

func TestResultChecks(t *testing.T) {
	samples := []Sample{
		{T: 0, Phase: "idle", Goroutines: 15, RSSBytes: 10 << 20},
		{T: 10, Phase: "load", Goroutines: 300, RSSBytes: 30 << 20},
		{T: 60, Phase: "deadline", Goroutines: 320, RSSBytes: 32 << 20},
		{T: 63, Phase: "final", Goroutines: 40, RSSBytes: 40 << 20},
	}
	final := stats{Events: map[string]uint64{"call_started": 2}}
	idle := stats{Events: map[string]uint64{}}
	sum := Summary{Events: map[app.EventName]int{app.EventCallStarted: 2}, Total: 2}
	r := &Result{Warmup: 10}
	r.fill(config{}, time.Minute, newTally(), sum, samples, idle, final, nil, true, 1)
	r.decide()
	if !r.Pass {
		var b bytes.Buffer
		r.writeTable(&b)
		t.Fatalf("want PASS:\n%s", b.String())
	}
	// RSS beyond 1.5 × 30 MiB + 8 MiB = 53 MiB, goroutines beyond 305,
	// a leftover, a dropped ARI event, events not delivered.
	samples[3].RSSBytes, samples[3].Goroutines = 54<<20, 306
	final.ARI.Dropped = 1
	final.Events["call_ended"] = 1
	r = &Result{Warmup: 10}
	r.fill(config{}, time.Minute, newTally(), sum, samples, idle, final, []leftover{{bridge: true, id: "x-bridge", what: "bridge x-bridge"}}, true, 1)
	r.decide()
	var failed []string
	for _, c := range r.Checks {
		if !c.OK {
			failed = append(failed, c.Name)
		}
	}
	want := []string{"stream complete", "goroutines", "RSS flat", "ari.dropped == 0", "no leftovers in Asterisk"}
	if r.Pass || !slices.Equal(failed, want) {
		t.Fatalf("failed checks %v, want %v", failed, want)
	}

	// Shed calls: within -max-shed they pass, beyond it they fail; they
	// are never unexpected errors.
	samples[3].RSSBytes, samples[3].Goroutines = 40<<20, 40
	final.ARI.Dropped = 0
	delete(final.Events, "call_ended")
	for _, tc := range []struct {
		shed int
		pass bool
	}{{0, true}, {10, true}, {11, false}} {
		ta := newTally()
		ta.ops[opOriginate] = 100
		for range tc.shed {
			ta.shedOne(shedTimeout, "POST /v1/calls: 504")
		}
		r = &Result{Warmup: 10}
		r.fill(config{maxShed: 0.1}, time.Minute, ta, sum, samples, idle, final, nil, true, 1)
		r.decide()
		if r.Pass != tc.pass || r.Unexpected != 0 || r.Shed[shedTimeout] != tc.shed {
			var b bytes.Buffer
			r.writeTable(&b)
			t.Errorf("%d of 100 shed: pass %v, want %v:\n%s", tc.shed, r.Pass, tc.pass, b.String())
		}
	}
}
