package ari

import "context"

// Playback returns a playback's current state (GET /playbacks/{id}).
func (c *Client) Playback(ctx context.Context, playbackID string) (*Playback, error) {
	p, err := path("playback", playbackID)
	if err != nil {
		return nil, err
	}
	var out Playback
	if err := c.call(ctx, "GET", p, nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// StopPlayback stops a playback (DELETE /playbacks/{id}). A playback that has
// already ended is ErrPlaybackNotFound.
func (c *Client) StopPlayback(ctx context.Context, playbackID string) error {
	p, err := path("playback", playbackID)
	if err != nil {
		return err
	}
	return c.call(ctx, "DELETE", p, nil, nil, nil)
}
