package ari

// NewAPIError returns the error the client returns when Asterisk answers
// method path with this status and message, classified into the same
// sentinels. It exists for in-process fakes of Asterisk, whose errors must
// match errors.Is exactly as the real client's do.
func NewAPIError(method, path string, status int, message string) *APIError {
	return newAPIError(method, path, status, message)
}

// NewTransportError returns the error the client returns when a request got
// no HTTP reply at all (ErrUnreachable, wrapping err), for in-process fakes.
func NewTransportError(method, path string, err error) *APIError {
	return newTransportError(method, path, err)
}
