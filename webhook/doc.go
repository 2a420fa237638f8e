// Package webhook posts ariapp's call events (SPEC "Events") to HTTP
// receivers, signed in the Standard Webhooks format
// (https://www.standardwebhooks.com): each POST carries the event's JSON,
// as the control API's event stream sends it, and the headers webhook-id,
// webhook-timestamp and webhook-signature, so that a receiver can check it
// with any Standard Webhooks library.
//
// Delivery is at least once: a failed POST is retried with exponential
// backoff until Config.RetryFor has passed, then given up. Each receiver
// has one worker that delivers its queue in order, so a call's events
// reach a receiver in the order they happened. A slow or dead receiver
// only fills its own queue: Publish never blocks, and an event that finds
// the queue full is dropped, counted and logged.
package webhook
