package app

import "errors"

// Errors returned by App's call operations. Failures of ARI steps wrap the
// ari package's errors, so errors.Is(err, ari.ErrBridgeNotFound) works too.
var (
	// ErrCallNotFound: no live call has this id.
	ErrCallNotFound = errors.New("app: call not found")
	// ErrUnknownParty: the party is neither "caller", "callee" nor one of
	// the call's channel ids.
	ErrUnknownParty = errors.New("app: unknown party")
	// ErrNotEstablished: the call is not answered and bridged (H1).
	ErrNotEstablished = errors.New("app: call is not established")
	// ErrHoldRefused: policy forbids this party to hold (H5).
	ErrHoldRefused = errors.New("app: hold refused by policy")
	// ErrNotHolding: only the party that holds may resume (R1).
	ErrNotHolding = errors.New("app: party does not hold the call")
	// ErrHoldFailed: an ARI step of a hold failed; it was rolled back (H5).
	ErrHoldFailed = errors.New("app: hold failed")
	// ErrUnholdFailed: an ARI step of a resume failed; the call was hung
	// up (R3).
	ErrUnholdFailed = errors.New("app: resume failed, call hung up")
	// ErrCallEnded: the call ended before or during the operation.
	ErrCallEnded = errors.New("app: call ended")
	// ErrInvalidEndpoint: an endpoint to originate is not TECH/resource.
	ErrInvalidEndpoint = errors.New("app: invalid endpoint")
	// ErrClosed: the application is shutting down.
	ErrClosed = errors.New("app: closed")
	// errPartyGone is internal: a party's channel left Stasis mid-operation.
	errPartyGone = errors.New("app: party hung up")
)
