package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/ariapp/ariapp/app"
)

// Error codes of the JSON error body.
const (
	CodeCallNotFound     = "call_not_found"
	CodeUnknownParty     = "unknown_party"
	CodeMediaNotAllowed  = "media_not_allowed"
	CodeNotHolding       = "not_holding"
	CodeNotEstablished   = "not_established"
	CodeHoldRefused      = "hold_refused"
	CodeHoldFailed       = "hold_failed"
	CodeUnholdFailed     = "unhold_failed"
	CodeCallEnded        = "call_ended"
	CodeInvalidDirection = "invalid_direction"
	CodeMuteFailed       = "mute_failed"
	CodeInvalidEndpoint  = "invalid_endpoint"
	CodeBadRequest       = "bad_request"
	CodeUnsupportedMedia = "unsupported_media_type"
	CodeUnauthorized     = "unauthorized"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeUnavailable      = "unavailable"
	CodeOverloaded       = "overloaded"
	CodeHeadersTooLarge  = "headers_too_large"
	CodeHTTPVersion      = "http_version_not_supported"
	CodeTimeout          = "timeout"
	CodeCanceled         = "canceled"
	CodeInternal         = "internal"
)

// statusClientClosed is the status logged for a request whose client left.
const statusClientClosed = 499

// ErrorBody is the JSON of every error reply.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is a machine-readable code and a human message.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// statusOf maps app errors to HTTP statuses and codes.
func statusOf(err error) (int, string) {
	switch {
	case errors.Is(err, app.ErrCallNotFound):
		return http.StatusNotFound, CodeCallNotFound
	case errors.Is(err, app.ErrUnknownParty):
		return http.StatusBadRequest, CodeUnknownParty
	case errors.Is(err, app.ErrMediaNotAllowed):
		return http.StatusBadRequest, CodeMediaNotAllowed
	case errors.Is(err, app.ErrNotHolding):
		return http.StatusConflict, CodeNotHolding
	case errors.Is(err, app.ErrNotEstablished):
		return http.StatusConflict, CodeNotEstablished
	case errors.Is(err, app.ErrHoldRefused):
		return http.StatusForbidden, CodeHoldRefused
	case errors.Is(err, app.ErrHoldFailed):
		return http.StatusBadGateway, CodeHoldFailed
	case errors.Is(err, app.ErrUnholdFailed):
		return http.StatusBadGateway, CodeUnholdFailed
	case errors.Is(err, app.ErrInvalidDirection):
		return http.StatusBadRequest, CodeInvalidDirection
	case errors.Is(err, app.ErrMuteFailed):
		return http.StatusBadGateway, CodeMuteFailed
	case errors.Is(err, app.ErrCallEnded):
		return http.StatusConflict, CodeCallEnded
	case errors.Is(err, app.ErrInvalidEndpoint):
		return http.StatusBadRequest, CodeInvalidEndpoint
	case errors.Is(err, app.ErrOverloaded):
		return http.StatusServiceUnavailable, CodeOverloaded
	case errors.Is(err, app.ErrUnavailable):
		return http.StatusServiceUnavailable, CodeUnavailable
	case errors.Is(err, app.ErrClosed):
		return http.StatusServiceUnavailable, CodeUnavailable
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, CodeTimeout
	case errors.Is(err, context.Canceled):
		// The client went away; the operation goes on and is reported as
		// an event. 499 as nginx uses it: nobody reads this answer.
		return statusClientClosed, CodeCanceled
	}
	return http.StatusInternalServerError, CodeInternal
}
