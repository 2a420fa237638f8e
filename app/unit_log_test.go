package app

import (
	"reflect"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestUnitLogEvent(t *testing.T) {
	base := func() Event {
		return Event{
			CallID: "c1",
			Seq:    4,
			Time:   time.Now(),
			Call: CallInfo{
				CallID:   "c1",
				State:    CallAnswered,
				BridgeID: "c1-bridge",
				Caller:   PartyInfo{Role: Caller, ChannelID: "caller-ch", Endpoint: "PJSIP/alice", State: Hold},
				Callee:   PartyInfo{Role: Callee, ChannelID: "c1-callee", Endpoint: "PJSIP/bob", State: Live, OnHoldMusic: true},
				Holders:  []Role{Caller},
			},
		}
	}
	common := map[string]any{
		"call_id":           "c1",
		"seq":               uint64(4),
		"call_state":        "answered",
		"caller_channel_id": "caller-ch",
		"caller_endpoint":   "PJSIP/alice",
		"caller_state":      "HOLD",
		"callee_channel_id": "c1-callee",
		"callee_endpoint":   "PJSIP/bob",
		"callee_state":      "LIVE",
		"holders":           []Role{Caller},
		"bridge_id":         "c1-bridge",
	}
	tests := []struct {
		name   string
		edit   func(e *Event)
		level  zapcore.Level
		extra  map[string]any // fields beyond common
		absent []string
	}{
		{
			name:   "hold_success",
			edit:   func(e *Event) { e.Name, e.Party, e.Source = EventHoldSuccess, Caller, SourceAPI },
			level:  zapcore.InfoLevel,
			extra:  map[string]any{"event": "hold_success", "party": "caller", "source": "api"},
			absent: []string{"reason"},
		},
		{
			name: "hold_failed is a warning with its reason",
			edit: func(e *Event) {
				e.Name, e.Party, e.Source, e.Reason = EventHoldFailed, Callee, SourcePhone, "endpoint PJSIP/bob is not allowed to hold"
			},
			level: zapcore.WarnLevel,
			extra: map[string]any{"event": "hold_failed", "party": "callee", "source": "phone", "reason": "endpoint PJSIP/bob is not allowed to hold"},
		},
		{
			name: "unhold_failed is a warning",
			edit: func(e *Event) {
				e.Name, e.Party, e.Source, e.Reason = EventUnholdFailed, Caller, SourceDTMF, "resume failed: boom"
			},
			level: zapcore.WarnLevel,
			extra: map[string]any{"event": "unhold_failed", "party": "caller", "source": "dtmf", "reason": "resume failed: boom"},
		},
		{
			name:   "call_ended by a party",
			edit:   func(e *Event) { e.Name, e.Party, e.Reason = EventCallEnded, Callee, "callee hung up (cause 16)" },
			level:  zapcore.InfoLevel,
			extra:  map[string]any{"event": "call_ended", "party": "callee", "reason": "callee hung up (cause 16)"},
			absent: []string{"source"},
		},
		{
			name:   "call_answered has no party, source or reason",
			edit:   func(e *Event) { e.Name = EventCallAnswered },
			level:  zapcore.InfoLevel,
			extra:  map[string]any{"event": "call_answered"},
			absent: []string{"party", "source", "reason"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			core, logs := observer.New(zapcore.DebugLevel)
			e := base()
			tt.edit(&e)
			logEvent(zap.New(core), &e)
			if logs.Len() != 1 {
				t.Fatalf("%d log lines, want 1: %+v", logs.Len(), logs.All())
			}
			entry := logs.All()[0]
			if entry.Message != "call event" {
				t.Errorf("message %q", entry.Message)
			}
			if entry.Level != tt.level {
				t.Errorf("level %v, want %v", entry.Level, tt.level)
			}
			got := entry.ContextMap()
			want := map[string]any{}
			for k, v := range common {
				want[k] = v
			}
			for k, v := range tt.extra {
				want[k] = v
			}
			for k, v := range want {
				if !reflect.DeepEqual(got[k], v) {
					t.Errorf("field %s = %#v, want %#v", k, got[k], v)
				}
			}
			for _, k := range tt.absent {
				if v, ok := got[k]; ok {
					t.Errorf("field %s = %#v, want it absent", k, v)
				}
			}
			if len(got) != len(want) {
				t.Errorf("fields %v, want exactly %v", got, want)
			}
		})
	}

	t.Run("no bridge, no holders", func(t *testing.T) {
		core, logs := observer.New(zapcore.DebugLevel)
		e := Event{Name: EventCallStarted, CallID: "c2", Seq: 1, Call: CallInfo{CallID: "c2", State: CallRinging, Holders: []Role{}}}
		logEvent(zap.New(core), &e)
		if logs.Len() != 1 {
			t.Fatalf("%d log lines, want 1", logs.Len())
		}
		got := logs.All()[0].ContextMap()
		if _, ok := got["bridge_id"]; ok {
			t.Errorf("bridge_id logged without a bridge: %v", got)
		}
		if got["call_id"] != "c2" || got["event"] != "call_started" || got["call_state"] != "ringing" {
			t.Errorf("fields %v", got)
		}
	})
}

// TestUnitEmit: each state change is one log line and one published event,
// numbered from 1 per call, counted in EventCounts.
func TestUnitEmit(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	a, err := New(Config{}, nil, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	sub := a.Subscribe("c1")
	other := a.Subscribe("c2")
	c := unitCall(t, a, "PJSIP/bob")

	c.emit(EventCallStarted, "", "", "")
	c.state = CallAnswered
	c.bridge = bridgeCreated
	c.emit(EventCallAnswered, "", "", "")
	c.caller.holdSince = time.Now()
	c.emit(EventHoldSuccess, Caller, SourceAPI, "")

	evs := unitDrain(sub)
	if len(evs) != 3 {
		t.Fatalf("%d events, want 3: %+v", len(evs), evs)
	}
	wantNames := []EventName{EventCallStarted, EventCallAnswered, EventHoldSuccess}
	for i, e := range evs {
		unitEq(t, "name", e.Name, wantNames[i])
		unitEq(t, "seq", e.Seq, uint64(i+1))
		unitEq(t, "call id", e.CallID, "c1")
		if e.Time.IsZero() {
			t.Errorf("event %d has no time", i)
		}
	}
	last := evs[2]
	unitEq(t, "party", last.Party, Caller)
	unitEq(t, "source", last.Source, SourceAPI)
	unitEq(t, "caller state", last.Call.Caller.State, Hold)
	unitEq(t, "caller hangup allowed", last.Call.Caller.HangupAllowed, false)
	unitEq(t, "callee state", last.Call.Callee.State, Live)
	unitEq(t, "bridge", last.Call.BridgeID, "c1-bridge")
	if !reflect.DeepEqual(last.Call.Holders, []Role{Caller}) {
		t.Errorf("holders %v", last.Call.Holders)
	}
	// The event's call info is a copy: later changes do not leak into it.
	c.callee.holdSince = time.Now()
	c.updateSnapshot()
	if !reflect.DeepEqual(last.Call.Holders, []Role{Caller}) {
		t.Error("event holders alias the call's")
	}
	// The snapshot is what the last event carried.
	if snap := c.snapshot(); snap.Caller.State != Hold || snap.State != CallAnswered {
		t.Errorf("snapshot %+v", snap)
	}
	if got := unitDrain(other); len(got) != 0 {
		t.Errorf("a subscriber of another call got %+v", got)
	}

	lines := logs.FilterMessage("call event").All()
	if len(lines) != 3 {
		t.Fatalf("%d log lines, want 3", len(lines))
	}
	for i, l := range lines {
		m := l.ContextMap()
		if m["event"] != string(wantNames[i]) || m["seq"] != uint64(i+1) || m["call_id"] != "c1" {
			t.Errorf("log line %d: %v", i, m)
		}
	}

	counts := a.EventCounts()
	for _, n := range EventNames {
		want := uint64(0)
		for _, w := range wantNames {
			if w == n {
				want = 1
			}
		}
		if counts[n] != want {
			t.Errorf("EventCounts[%s] = %d, want %d", n, counts[n], want)
		}
	}
}
