package ari

import (
	"context"
	"net/url"
)

// ApplicationInfo returns what a Stasis application is subscribed to
// (GET /applications/{name}); name "" is this client's application.
func (c *Client) ApplicationInfo(ctx context.Context, name string) (*Application, error) {
	if name == "" {
		name = c.cfg.Application
	}
	p, err := path("application", name)
	if err != nil {
		return nil, err
	}
	var out Application
	if err := c.call(ctx, "GET", p, nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Subscribe subscribes this client's application to an event source such as
// "bridge:ID" or "channel:ID" (e.g. to receive BridgeDestroyed).
func (c *Client) Subscribe(ctx context.Context, eventSource string) (*Application, error) {
	return c.subscription(ctx, "POST", eventSource)
}

// Unsubscribe undoes Subscribe.
func (c *Client) Unsubscribe(ctx context.Context, eventSource string) (*Application, error) {
	return c.subscription(ctx, "DELETE", eventSource)
}

func (c *Client) subscription(ctx context.Context, method, eventSource string) (*Application, error) {
	if eventSource == "" {
		return nil, invalidArg("event source is empty")
	}
	p, err := path("application", c.cfg.Application, "subscription")
	if err != nil {
		return nil, err
	}
	var out Application
	if err := c.call(ctx, method, p, url.Values{"eventSource": {eventSource}}, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// eventFilterBody is PUT /applications/{name}/eventFilter's body.
type eventFilterBody struct {
	Allowed []eventType `json:"allowed,omitempty"`
}

type eventType struct {
	Type string `json:"type"`
}

// SetEventFilter asks Asterisk to send this client's application only
// events of the allowed types (PUT /applications/{name}/eventFilter); no
// types clears the filter. Asterisk drops the others just before the
// socket, which saves the wire and the decoding.
func (c *Client) SetEventFilter(ctx context.Context, allowed []string) (*Application, error) {
	p, err := path("application", c.cfg.Application, "eventFilter")
	if err != nil {
		return nil, err
	}
	body := eventFilterBody{}
	for _, t := range allowed {
		body.Allowed = append(body.Allowed, eventType{t})
	}
	var out Application
	if err := c.call(ctx, "PUT", p, nil, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
