package ari

import (
	"context"
	"net/url"
)

// GlobalVariable reads an Asterisk global (dialplan) variable
// (GET /asterisk/variable). Asterisk answers an unset variable with an empty
// value, so "" means unset or empty.
func (c *Client) GlobalVariable(ctx context.Context, name string) (string, error) {
	if name == "" {
		return "", invalidArg("variable name is empty")
	}
	var out Variable
	if err := c.call(ctx, "GET", "/asterisk/variable", url.Values{"variable": {name}}, nil, &out); err != nil {
		return "", err
	}
	return out.Value, nil
}

// SetGlobalVariable sets an Asterisk global variable
// (POST /asterisk/variable); value "" unsets it. Global variables live until
// Asterisk restarts and are shared by every ARI client of that Asterisk.
func (c *Client) SetGlobalVariable(ctx context.Context, name, value string) error {
	if name == "" {
		return invalidArg("variable name is empty")
	}
	q := url.Values{"variable": {name}}
	if value != "" {
		q.Set("value", value)
	}
	return c.call(ctx, "POST", "/asterisk/variable", q, nil, nil)
}
