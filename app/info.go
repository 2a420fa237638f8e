package app

import "time"

// Role is a party's side of the call.
type Role string

// Roles.
const (
	Caller Role = "caller"
	Callee Role = "callee"
)

// PartyState is what SPEC reports for a party: HOLD exactly when it holds.
type PartyState string

// Party states.
const (
	Live PartyState = "LIVE"
	Hold PartyState = "HOLD"
)

// CallState is the life-cycle state of a call.
type CallState string

// Call states.
const (
	CallRinging  CallState = "ringing"  // callee originated, not answered
	CallAnswered CallState = "answered" // both answered and bridged: hold is possible
	CallEnded    CallState = "ended"
)

// Source says where a hold or resume request came from.
type Source string

// Request sources (SPEC "Where a hold request can come from").
const (
	SourceAPI    Source = "api"
	SourcePhone  Source = "phone"
	SourceDTMF   Source = "dtmf"
	SourceSystem Source = "system"
	// SourceTimer: a hold timer (HoldTimers), not a party, acted.
	SourceTimer Source = "timer"
)

// PartyInfo is one party as events and the API report it.
type PartyInfo struct {
	Role      Role       `json:"role"`
	ChannelID string     `json:"channel_id"`
	Endpoint  string     `json:"endpoint"`
	State     PartyState `json:"state"`
	// HoldSince is when this party put the call on hold (nil when LIVE).
	HoldSince *time.Time `json:"hold_since,omitempty"`
	// OnHoldMusic: the party hears hold music because its peer holds.
	OnHoldMusic bool `json:"on_hold_music"`
	// HoldMedia is the music it hears then, as chosen by the peer's hold
	// ("tone:440/500|0/2500", "moh:default", "sound:a|sound:b"; the
	// announcement, if configured, plays once before it); empty while
	// OnHoldMusic is false.
	HoldMedia string `json:"hold_media,omitempty"`
	// HangupAllowed is false while this party holds: SPEC H6 asks a UI not
	// to offer hang-up on the holding side.
	HangupAllowed bool `json:"hangup_allowed"`
	// Muted is the party's mute: "in", "out", "both", or "" (not muted).
	// It is apart from hold: a muted party holds and is held as any other,
	// and a resume leaves its mute as it was.
	Muted MuteDirection `json:"muted"`
}

// CallInfo is a snapshot of a call.
type CallInfo struct {
	CallID string `json:"call_id"`
	// Node names the Asterisk the call runs on (Config.Node).
	Node     string    `json:"node,omitempty"`
	State    CallState `json:"state"`
	BridgeID string    `json:"bridge_id,omitempty"`
	Caller   PartyInfo `json:"caller"`
	Callee   PartyInfo `json:"callee"`
	// Holders lists the parties that hold, in the order they took hold.
	Holders    []Role     `json:"holders"`
	StartedAt  time.Time  `json:"started_at"`
	AnsweredAt *time.Time `json:"answered_at,omitempty"`
	EndedAt    *time.Time `json:"ended_at,omitempty"`
	EndCause   string     `json:"end_cause,omitempty"`
}

// Party returns the info of one role.
func (ci *CallInfo) Party(r Role) *PartyInfo {
	if r == Callee {
		return &ci.Callee
	}
	return &ci.Caller
}
