package app

import (
	"errors"
	"fmt"
)

// Errors returned by App's call operations. An operation that fails in an
// ARI step returns an *OpError, which wraps both one of these and the ari
// package's error: errors.Is(err, ErrHoldFailed) and
// errors.Is(err, ari.ErrBridgeNotFound) both hold.
var (
	// ErrCallNotFound: no live call has this id.
	ErrCallNotFound = errors.New("app: call not found")
	// ErrUnknownParty: the party is neither "caller", "callee" nor one of
	// the call's channel ids.
	ErrUnknownParty = errors.New("app: unknown party")
	// ErrNotEstablished: the call is not answered and bridged (H1).
	ErrNotEstablished = errors.New("app: call is not established")
	// ErrMediaNotAllowed: a hold asked for music that is not the
	// configured default nor one of Config.AllowedMusic. The request is
	// refused before it reaches the call: nothing changes, no event.
	ErrMediaNotAllowed = errors.New("app: hold media not allowed")
	// ErrHoldRefused: policy forbids this party to hold (H5).
	ErrHoldRefused = errors.New("app: hold refused by policy")
	// ErrNotHolding: only the party that holds may resume (R1).
	ErrNotHolding = errors.New("app: party does not hold the call")
	// ErrHoldFailed: an ARI step of a hold failed; it was rolled back (H5).
	ErrHoldFailed = errors.New("app: hold failed")
	// ErrUnholdFailed: an ARI step of a resume failed; the call was hung
	// up (R3).
	ErrUnholdFailed = errors.New("app: resume failed, call hung up")
	// ErrInvalidDirection: a mute direction other than "in", "out" or
	// "both".
	ErrInvalidDirection = errors.New("app: invalid mute direction")
	// ErrMuteFailed: Asterisk refused or did not answer a mute or unmute;
	// the party's mute is as before.
	ErrMuteFailed = errors.New("app: mute failed")
	// ErrSetupFailed: an originate ariapp made for the call failed; the
	// call ended.
	ErrSetupFailed = errors.New("app: call set-up failed")
	// ErrNotConfirmed: Asterisk accepted an ARI step but its confirming
	// event did not come within the step timeout.
	ErrNotConfirmed = errors.New("app: Asterisk did not confirm the step")
	// ErrCallEnded: the call ended before or during the operation.
	ErrCallEnded = errors.New("app: call ended")
	// ErrInvalidEndpoint: an endpoint to originate is not TECH/resource.
	ErrInvalidEndpoint = errors.New("app: invalid endpoint")
	// ErrOverloaded: too many originates are in flight to Asterisk
	// (Config.MaxOriginates); try again shortly.
	ErrOverloaded = errors.New("app: overloaded")
	// ErrUnavailable: Asterisk cannot be reached, or ariapp is not yet in
	// step with it (the event connection is down).
	ErrUnavailable = errors.New("app: Asterisk unavailable")
	// ErrClosed: the application is shutting down.
	ErrClosed = errors.New("app: closed")
	// errPartyGone is internal: a party's channel left Stasis mid-operation.
	errPartyGone = errors.New("app: party hung up")
)

// Operations an OpError names.
const (
	OpHold      = "hold"
	OpResume    = "resume"
	OpOriginate = "originate"
	OpMute      = "mute"
	OpUnmute    = "unmute"
)

// OpError is a call operation that was refused or failed. Kind is one of
// the sentinels above; Err, when an ARI step or Asterisk's confirmation
// failed, is that cause (an *ari.APIError, a timeout, errPartyGone). Both are
// reachable with errors.Is and errors.As.
type OpError struct {
	Op     string // OpHold, OpResume, OpOriginate, OpMute, OpUnmute
	CallID string
	Party  Role // the requesting party; empty for set-up
	Kind   error
	// Reason is the human explanation; the failure event reports it too.
	Reason string
	Err    error
}

func (e *OpError) Error() string { return e.Kind.Error() + ": " + e.Reason }

// Unwrap returns the sentinel and the cause.
func (e *OpError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// opError builds the OpError of call c's operation op. With a cause, the
// reason is prefix (if any) and the cause's text.
func (c *call) opError(op string, by Role, kind error, prefix string, cause error) *OpError {
	reason := prefix
	if cause != nil {
		if reason != "" {
			reason += ": "
		}
		reason += cause.Error()
	}
	return &OpError{Op: op, CallID: c.id, Party: by, Kind: kind, Reason: reason, Err: cause}
}

// refusal is the OpError of an operation refused before any ARI step.
func (c *call) refusal(op string, by Role, kind error, format string, args ...any) *OpError {
	return &OpError{Op: op, CallID: c.id, Party: by, Kind: kind, Reason: fmt.Sprintf(format, args...)}
}
