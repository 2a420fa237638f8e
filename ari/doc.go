// Package ari is ariapp's own client for the Asterisk REST Interface (ARI).
//
// It speaks the wire and nothing else: typed REST calls (asterisk, channels,
// bridges, playbacks, applications) over one reused net/http client, and the
// application's event WebSocket on /ari/events, decoded into typed events.
// It knows nothing about calls or hold; package app builds those on top.
//
// # REST
//
// Every call takes a context and is bounded by Config.RequestTimeout. Failures
// are returned as *APIError (method, path, HTTP status and Asterisk's own
// message), which matches the sentinel errors of errors.go with errors.Is.
// Asterisk's status codes are uneven — a hung-up channel in addChannel is a
// 400 "Channel not found", not a 404 — so the mapping looks at the message
// too, letting callers tell "the object is gone" (ErrNotFound and its
// specific ErrChannelNotFound, ErrBridgeNotFound, ErrPlaybackNotFound) from
// "my request was wrong" (ErrBadRequest).
//
// # Events
//
// Connect dials the WebSocket once and returns its error (wrong credentials,
// unreachable Asterisk), then a background loop keeps the connection up:
// after a drop it reconnects with jittered, capped exponential backoff.
// Events are delivered on Events() in the order Asterisk sent them. Connection
// transitions are delivered in the same stream as *ConnectionEvent, so a
// consumer resyncs exactly between the last event of the old connection and
// the first of the new one. ApplicationReplaced (another client took the
// application name) is terminal: it is delivered, followed by a
// ConnectionEvent in state StateReplaced, and no reconnect is attempted.
//
// Between the WebSocket reader and the consumer sits a bounded queue
// (Config.EventQueueSize). The reader never blocks Asterisk (which would drop
// a WebSocket whose writes stall); if the consumer falls so far behind that
// the queue is full, further events are dropped, counted in Stats and logged
// — never silently.
//
// Close is idempotent and returns once every goroutine has ended; it then
// closes the Events channel.
package ari
