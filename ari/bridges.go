package ari

import (
	"context"
	"net/url"
	"strings"
)

// CreateBridge creates a bridge with a client-chosen id (POST /bridges).
// types is ARI's comma list, e.g. "mixing" or "holding"; name is optional.
func (c *Client) CreateBridge(ctx context.Context, bridgeID, types, name string) (*Bridge, error) {
	if bridgeID == "" {
		return nil, invalidArg("bridge id is empty")
	}
	q := url.Values{"bridgeId": {bridgeID}}
	setIf(q, "type", types)
	setIf(q, "name", name)
	var out Bridge
	if err := c.call(ctx, "POST", "/bridges", q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Bridge returns one bridge (GET /bridges/{id}).
func (c *Client) Bridge(ctx context.Context, bridgeID string) (*Bridge, error) {
	p, err := path("bridge", bridgeID)
	if err != nil {
		return nil, err
	}
	var out Bridge
	if err := c.call(ctx, "GET", p, nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Bridges lists every bridge (GET /bridges).
func (c *Client) Bridges(ctx context.Context) ([]Bridge, error) {
	var out []Bridge
	if err := c.call(ctx, "GET", "/bridges", nil, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// DestroyBridge destroys a bridge; its channels stay up, out of any bridge.
func (c *Client) DestroyBridge(ctx context.Context, bridgeID string) error {
	p, err := path("bridge", bridgeID)
	if err != nil {
		return err
	}
	return c.call(ctx, "DELETE", p, nil, nil, nil)
}

// AddChannel adds channels to a bridge. Asterisk holds this request open
// while a playback runs on the channel: stop playbacks first.
func (c *Client) AddChannel(ctx context.Context, bridgeID string, channelIDs ...string) error {
	return c.bridgeChannels(ctx, bridgeID, "addChannel", channelIDs)
}

// RemoveChannel removes channels from a bridge.
func (c *Client) RemoveChannel(ctx context.Context, bridgeID string, channelIDs ...string) error {
	return c.bridgeChannels(ctx, bridgeID, "removeChannel", channelIDs)
}

func (c *Client) bridgeChannels(ctx context.Context, bridgeID, op string, ids []string) error {
	if len(ids) == 0 {
		return invalidArg("%s: no channel", op)
	}
	for _, id := range ids {
		if id == "" || strings.Contains(id, ",") {
			return invalidArg("%s: bad channel id %q", op, id)
		}
	}
	p, err := path("bridge", bridgeID, op)
	if err != nil {
		return err
	}
	return c.call(ctx, "POST", p, url.Values{"channel": {strings.Join(ids, ",")}}, nil, nil)
}

// PlayBridge plays media to every channel of a bridge.
func (c *Client) PlayBridge(ctx context.Context, bridgeID, playbackID string, media ...string) (*Playback, error) {
	return c.play(ctx, "bridge", bridgeID, playbackID, media)
}

// StartBridgeMOH plays music on hold to every channel of a bridge.
func (c *Client) StartBridgeMOH(ctx context.Context, bridgeID, class string) error {
	p, err := path("bridge", bridgeID, "moh")
	if err != nil {
		return err
	}
	q := url.Values{}
	setIf(q, "mohClass", class)
	return c.call(ctx, "POST", p, q, nil, nil)
}

// StopBridgeMOH stops a bridge's music on hold.
func (c *Client) StopBridgeMOH(ctx context.Context, bridgeID string) error {
	p, err := path("bridge", bridgeID, "moh")
	if err != nil {
		return err
	}
	return c.call(ctx, "DELETE", p, nil, nil, nil)
}
