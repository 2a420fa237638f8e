package ari

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Sentinel errors. An *APIError matches one or more of them with errors.Is,
// so callers branch on meaning, not on Asterisk's raw status codes.
var (
	// ErrNotFound: the object named in the request does not exist (any more).
	// Matched by 404s and by Asterisk's 400 "... not found" replies.
	ErrNotFound = errors.New("ari: not found")
	// ErrChannelNotFound: the channel is gone (hung up) or never existed.
	ErrChannelNotFound = errors.New("ari: channel not found")
	// ErrBridgeNotFound: the bridge is gone or never existed.
	ErrBridgeNotFound = errors.New("ari: bridge not found")
	// ErrPlaybackNotFound: the playback has ended or never existed.
	ErrPlaybackNotFound = errors.New("ari: playback not found")
	// ErrBadRequest: Asterisk rejected the request itself (400 that is not a
	// missing object): a bug or bad input on our side.
	ErrBadRequest = errors.New("ari: bad request")
	// ErrUnauthorized: wrong ARI credentials (401) or a read-only user (403).
	ErrUnauthorized = errors.New("ari: unauthorized")
	// ErrConflict: the object is in a state that forbids the operation (409),
	// e.g. a bridge id that is already in use.
	ErrConflict = errors.New("ari: conflict")
	// ErrPreconditionFailed: the channel is not in a state that allows the
	// operation (412), e.g. playing to a channel that is not answered.
	ErrPreconditionFailed = errors.New("ari: precondition failed")
	// ErrUnprocessable: the request is well formed but names objects that do
	// not fit together (422), e.g. removing a channel that is not in the bridge.
	ErrUnprocessable = errors.New("ari: unprocessable")
	// ErrNotSupported: this Asterisk does not have the request at all: an
	// unknown route (404 "Resource not found"), a method the route lacks
	// (405) or 501. An older Asterisk answers a newer request so.
	ErrNotSupported = errors.New("ari: not supported by this Asterisk")
	// ErrServer: Asterisk failed internally (5xx).
	ErrServer = errors.New("ari: server error")
	// ErrUnreachable: the request never got an HTTP reply (connection refused,
	// timeout, reset).
	ErrUnreachable = errors.New("ari: unreachable")
	// ErrInvalidArgument: the client refused to send a request that cannot be
	// right (an empty id, a media item that Asterisk would split).
	ErrInvalidArgument = errors.New("ari: invalid argument")
	// ErrClosed: the client has been closed.
	ErrClosed = errors.New("ari: client closed")
	// ErrReplaced: another ARI client registered the same application name;
	// this client's event connection ended for good.
	ErrReplaced = errors.New("ari: application replaced")
)

// APIError is the one error type for a failed ARI request. Message is
// Asterisk's own text (its JSON "message", or the raw body), kept verbatim.
type APIError struct {
	Method  string // HTTP method, e.g. "POST"
	Path    string // path below the ARI base URL, e.g. "/bridges/b1/addChannel"
	Status  int    // HTTP status, 0 if none was received
	Message string // Asterisk's message, or the transport error text
	kinds   []error
	cause   error
}

func (e *APIError) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("ari: %s %s: %s", e.Method, e.Path, e.Message)
	}
	if e.Message == "" {
		return fmt.Sprintf("ari: %s %s: %d %s", e.Method, e.Path, e.Status, http.StatusText(e.Status))
	}
	return fmt.Sprintf("ari: %s %s: %d %s", e.Method, e.Path, e.Status, e.Message)
}

// Unwrap lets errors.Is match the sentinels this error was classified as,
// and errors.As reach a transport cause (e.g. context.DeadlineExceeded).
func (e *APIError) Unwrap() []error {
	out := append([]error(nil), e.kinds...)
	if e.cause != nil {
		out = append(out, e.cause)
	}
	return out
}

// newAPIError classifies an HTTP failure. The message decides between "gone"
// and "bad request" for 400s, because Asterisk answers a hung-up channel in
// addChannel/removeChannel with 400 "Channel not found".
func newAPIError(method, path string, status int, message string) *APIError {
	e := &APIError{Method: method, Path: path, Status: status, Message: message}
	lower := strings.ToLower(message)
	notFound := func() {
		e.kinds = append(e.kinds, ErrNotFound)
		switch {
		case strings.Contains(lower, "channel"):
			e.kinds = append(e.kinds, ErrChannelNotFound)
		case strings.Contains(lower, "bridge"):
			e.kinds = append(e.kinds, ErrBridgeNotFound)
		case strings.Contains(lower, "playback"):
			e.kinds = append(e.kinds, ErrPlaybackNotFound)
		}
	}
	switch {
	case status == http.StatusNotFound && lower == "resource not found",
		status == http.StatusMethodNotAllowed, status == http.StatusNotImplemented:
		e.kinds = append(e.kinds, ErrNotSupported)
	case status == http.StatusNotFound:
		notFound()
	case status == http.StatusBadRequest && strings.Contains(lower, "not found"):
		notFound()
	case status == http.StatusBadRequest:
		e.kinds = append(e.kinds, ErrBadRequest)
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		e.kinds = append(e.kinds, ErrUnauthorized)
	case status == http.StatusConflict:
		e.kinds = append(e.kinds, ErrConflict)
	case status == http.StatusPreconditionFailed:
		e.kinds = append(e.kinds, ErrPreconditionFailed)
	case status == http.StatusUnprocessableEntity:
		e.kinds = append(e.kinds, ErrUnprocessable)
	case status >= 500:
		e.kinds = append(e.kinds, ErrServer)
	}
	return e
}

// newTransportError wraps a failure that produced no HTTP reply.
func newTransportError(method, path string, err error) *APIError {
	return &APIError{Method: method, Path: path, Message: err.Error(), kinds: []error{ErrUnreachable}, cause: err}
}

func invalidArg(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidArgument, fmt.Sprintf(format, args...))
}
