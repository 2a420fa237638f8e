package ari

import "context"

// Info returns Asterisk's version and start-up time (GET /asterisk/info).
// It is also the cheapest way to check credentials.
func (c *Client) Info(ctx context.Context) (*AsteriskInfo, error) {
	var out AsteriskInfo
	if err := c.call(ctx, "GET", "/asterisk/info", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Ping checks that Asterisk answers (GET /asterisk/ping).
func (c *Client) Ping(ctx context.Context) (*AsteriskPing, error) {
	var out AsteriskPing
	if err := c.call(ctx, "GET", "/asterisk/ping", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
