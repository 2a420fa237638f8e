package fakeasterisk

import (
	"context"

	"github.com/ariapp/ariapp/ari"
)

// muteDirections expands a mute direction ("" is both, as in Asterisk).
func muteDirections(dir ari.MuteDirection) ([]ari.MuteDirection, bool) {
	switch dir {
	case ari.MuteIn, ari.MuteOut:
		return []ari.MuteDirection{dir}, true
	case ari.MuteBoth, "":
		return []ari.MuteDirection{ari.MuteIn, ari.MuteOut}, true
	}
	return nil, false
}

// Mute mutes a channel in a direction: 204 and no event. Asterisk queues
// the mute for the channel's thread, so the reply does not wait for a
// running playback.
func (a *Asterisk) Mute(ctx context.Context, channelID string, dir ari.MuteDirection) error {
	return a.mute(ctx, "Mute", "POST", channelID, dir, true)
}

// Unmute unmutes a channel in a direction: 204 and no event, also for a
// direction that is not muted.
func (a *Asterisk) Unmute(ctx context.Context, channelID string, dir ari.MuteDirection) error {
	return a.mute(ctx, "Unmute", "DELETE", channelID, dir, false)
}

func (a *Asterisk) mute(ctx context.Context, op, method, channelID string, dir ari.MuteDirection, on bool) error {
	r, c, err := a.channelOp(ctx, op, method, channelID, "mute")
	if err != nil {
		return err
	}
	dirs, ok := muteDirections(dir)
	if !ok {
		return a.fail(r, 400, "Invalid direction specified")
	}
	if c.ch.State != "Up" {
		return a.fail(r, 412, "Channel not in Up state")
	}
	if c.muted == nil {
		c.muted = map[ari.MuteDirection]bool{}
	}
	for _, d := range dirs {
		c.muted[d] = on
	}
	a.end(r)
	return nil
}

// Muted reports a channel's muted directions: "in", "out", "both" or ""
// (ARI cannot tell; a test can).
func (a *Asterisk) Muted(channelID string) ari.MuteDirection {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.channels[channelID]
	if c == nil {
		return ""
	}
	switch in, out := c.muted[ari.MuteIn], c.muted[ari.MuteOut]; {
	case in && out:
		return ari.MuteBoth
	case in:
		return ari.MuteIn
	case out:
		return ari.MuteOut
	}
	return ""
}

// GlobalVariable reads a global variable (GET /asterisk/variable); an
// unset one reads empty, as in Asterisk.
func (a *Asterisk) GlobalVariable(ctx context.Context, name string) (string, error) {
	if name == "" {
		return "", invalid("variable name is empty")
	}
	r, err := a.begin(ctx, "GlobalVariable", name, "GET", "/asterisk/variable")
	if err != nil {
		return "", err
	}
	v := a.globals[name]
	a.end(r)
	return v, nil
}

// SetGlobalVariable sets a global variable (POST /asterisk/variable);
// "" unsets it.
func (a *Asterisk) SetGlobalVariable(ctx context.Context, name, value string) error {
	if name == "" {
		return invalid("variable name is empty")
	}
	r, err := a.begin(ctx, "SetGlobalVariable", name, "POST", "/asterisk/variable")
	if err != nil {
		return err
	}
	if value == "" {
		delete(a.globals, name)
	} else {
		a.globals[name] = value
	}
	a.end(r)
	return nil
}

// Globals returns a copy of the global variables set (a test's check for
// records left behind).
func (a *Asterisk) Globals() map[string]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]string, len(a.globals))
	for k, v := range a.globals {
		out[k] = v
	}
	return out
}

// Mute is Asterisk.Mute through this connection.
func (c *Client) Mute(ctx context.Context, channelID string, dir ari.MuteDirection) error {
	if err := c.cut("POST", "/channels/"+esc(channelID)+"/mute"); err != nil {
		return err
	}
	return c.a.Mute(ctx, channelID, dir)
}

// Unmute is Asterisk.Unmute through this connection.
func (c *Client) Unmute(ctx context.Context, channelID string, dir ari.MuteDirection) error {
	if err := c.cut("DELETE", "/channels/"+esc(channelID)+"/mute"); err != nil {
		return err
	}
	return c.a.Unmute(ctx, channelID, dir)
}

// GlobalVariable is Asterisk.GlobalVariable through this connection.
func (c *Client) GlobalVariable(ctx context.Context, name string) (string, error) {
	if err := c.cut("GET", "/asterisk/variable"); err != nil {
		return "", err
	}
	return c.a.GlobalVariable(ctx, name)
}

// SetGlobalVariable is Asterisk.SetGlobalVariable through this connection.
func (c *Client) SetGlobalVariable(ctx context.Context, name, value string) error {
	if err := c.cut("POST", "/asterisk/variable"); err != nil {
		return err
	}
	return c.a.SetGlobalVariable(ctx, name, value)
}
