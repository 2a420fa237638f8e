package app

import (
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Call events are what ariapp reports of a call (SPEC "Events"): to the log,
// the event stream and the metrics. They are not ARI events, which are
// Asterisk's reports to ariapp (package ari).

// EventName is one of SPEC's event names.
type EventName string

// The events of SPEC "Events".
const (
	EventCallStarted  EventName = "call_started"
	EventCallAnswered EventName = "call_answered"
	EventHoldSuccess  EventName = "hold_success"
	EventHoldFailed   EventName = "hold_failed"
	// EventHoldReminder: a party has held for another
	// HoldTimers.ReminderAfter; nothing changed.
	EventHoldReminder  EventName = "hold_reminder"
	EventUnholdSuccess EventName = "unhold_success"
	EventUnholdFailed  EventName = "unhold_failed"
	EventCallEnded     EventName = "call_ended"
	// EventMuted and EventUnmuted report a change of a party's mute,
	// which is apart from hold (see MuteDirection).
	EventMuted   EventName = "muted"
	EventUnmuted EventName = "unmuted"
)

// EventNames lists every event name, in life-cycle order.
var EventNames = []EventName{EventCallStarted, EventCallAnswered, EventHoldSuccess, EventHoldFailed, EventHoldReminder, EventUnholdSuccess, EventUnholdFailed,
	EventMuted, EventUnmuted, EventCallEnded}

// Event is one state change of a call.
type Event struct {
	Name   EventName `json:"event"`
	CallID string    `json:"call_id"`
	// Seq numbers the call's events from 1, so a consumer can tell a gap.
	Seq uint64 `json:"seq"`
	// Party is the requesting party (hold/unhold), the holder a hold timer
	// acted for (hold_reminder, and unhold_success or call_ended with
	// source timer), or the party whose hang-up ended the call; empty when
	// not party-specific.
	Party  Role   `json:"party,omitempty"`
	Source Source `json:"source,omitempty"`
	// Direction is what a muted or unmuted event changed ("in", "out" or
	// "both"); the party's resulting mute is in Call.
	Direction MuteDirection `json:"direction,omitempty"`
	// Reason explains failures and call_ended.
	Reason string `json:"reason,omitempty"`
	// Media is the hold's music (PartyInfo.HoldMedia of the held party)
	// on hold_success, hold_failed, unhold_success and unhold_failed: what
	// the held party hears, would have heard, or heard until the resume.
	Media string    `json:"media,omitempty"`
	Time  time.Time `json:"time"`
	Call  CallInfo  `json:"call"`
	// Took is how long a hold, resume or mute took, from the call's
	// goroutine taking the request up to its outcome; set on hold_success,
	// hold_failed, unhold_success, unhold_failed, muted and unmuted (for
	// metrics, not part of the event stream).
	Took time.Duration `json:"-"`
	// Refused marks a hold_failed for a request refused before any ARI
	// step (the call's state, the hold policy): nothing changed in
	// Asterisk.
	Refused bool `json:"-"`
}

// logEvent writes the one structured line an event produces.
func logEvent(log *zap.Logger, ev *Event) {
	level := zapcore.InfoLevel
	if ev.Name == EventHoldFailed || ev.Name == EventUnholdFailed {
		level = zapcore.WarnLevel
	}
	// Check first: a disabled level builds no fields.
	ce := log.Check(level, "call event")
	if ce == nil {
		return
	}
	fields := []zap.Field{
		zap.String("event", string(ev.Name)),
		zap.String("call_id", ev.CallID),
		zap.Uint64("seq", ev.Seq),
		zap.String("call_state", string(ev.Call.State)),
		zap.String("caller_channel_id", ev.Call.Caller.ChannelID),
		zap.String("caller_endpoint", ev.Call.Caller.Endpoint),
		zap.String("caller_state", string(ev.Call.Caller.State)),
		zap.String("callee_channel_id", ev.Call.Callee.ChannelID),
		zap.String("callee_endpoint", ev.Call.Callee.Endpoint),
		zap.String("callee_state", string(ev.Call.Callee.State)),
		zap.Any("holders", ev.Call.Holders),
	}
	if ev.Party != "" {
		fields = append(fields, zap.String("party", string(ev.Party)))
	}
	if ev.Source != "" {
		fields = append(fields, zap.String("source", string(ev.Source)))
	}
	if ev.Direction != "" {
		fields = append(fields, zap.String("direction", string(ev.Direction)),
			zap.String("caller_muted", string(ev.Call.Caller.Muted)), zap.String("callee_muted", string(ev.Call.Callee.Muted)))
	}
	if ev.Call.BridgeID != "" {
		fields = append(fields, zap.String("bridge_id", ev.Call.BridgeID))
	}
	if ev.Reason != "" {
		fields = append(fields, zap.String("reason", ev.Reason))
	}
	if ev.Media != "" {
		fields = append(fields, zap.String("media", ev.Media))
	}
	if ev.Call.EndCause != "" {
		fields = append(fields, zap.String("end_cause", ev.Call.EndCause))
	}
	ce.Write(fields...)
}
