package fakeasterisk

import (
	"context"

	"github.com/ariapp/ariapp/ari"
)

// Client is the REST side of one event connection, what an ariapp process
// holds: while that connection is down (Disconnect) its requests fail with
// ari.ErrUnreachable, as through a cut network, while the Asterisk's own
// methods (a test's direct requests) still work.
type Client struct {
	a    *Asterisk
	conn *Conn
}

// Client returns the connection's REST client; it implements app.ARI.
func (c *Conn) Client() *Client { return &Client{a: c.a, conn: c} }

// Application is the Stasis application name.
func (c *Client) Application() string { return c.a.cfg.Application }

// cut reports the error of a request made while the connection is down.
func (c *Client) cut(method, path string) error {
	if c.conn.Connected() {
		return nil
	}
	return ari.NewTransportError(method, path, errConnRefused)
}

// Originate is Asterisk.Originate through this connection.
func (c *Client) Originate(ctx context.Context, p ari.OriginateParams) (*ari.Channel, error) {
	if err := c.cut("POST", "/channels"); err != nil {
		return nil, err
	}
	return c.a.Originate(ctx, p)
}

// Channel is Asterisk.Channel through this connection.
func (c *Client) Channel(ctx context.Context, channelID string) (*ari.Channel, error) {
	if err := c.cut("GET", "/channels/"+esc(channelID)); err != nil {
		return nil, err
	}
	return c.a.Channel(ctx, channelID)
}

// Channels is Asterisk.Channels through this connection.
func (c *Client) Channels(ctx context.Context) ([]ari.Channel, error) {
	if err := c.cut("GET", "/channels"); err != nil {
		return nil, err
	}
	return c.a.Channels(ctx)
}

// Answer is Asterisk.Answer through this connection.
func (c *Client) Answer(ctx context.Context, channelID string) error {
	if err := c.cut("POST", "/channels/"+esc(channelID)+"/answer"); err != nil {
		return err
	}
	return c.a.Answer(ctx, channelID)
}

// Ring is Asterisk.Ring through this connection.
func (c *Client) Ring(ctx context.Context, channelID string) error {
	if err := c.cut("POST", "/channels/"+esc(channelID)+"/ring"); err != nil {
		return err
	}
	return c.a.Ring(ctx, channelID)
}

// Hangup is Asterisk.Hangup through this connection.
func (c *Client) Hangup(ctx context.Context, channelID string, reason ari.HangupReason) error {
	if err := c.cut("DELETE", "/channels/"+esc(channelID)); err != nil {
		return err
	}
	return c.a.Hangup(ctx, channelID, reason)
}

// SetVars is Asterisk.SetVars through this connection.
func (c *Client) SetVars(ctx context.Context, channelID string, vars map[string]string, report bool) error {
	if err := c.cut("POST", "/channels/"+esc(channelID)+"/variables"); err != nil {
		return err
	}
	return c.a.SetVars(ctx, channelID, vars, report)
}

// SetVar is Asterisk.SetVar through this connection.
func (c *Client) SetVar(ctx context.Context, channelID, name, value string) error {
	if err := c.cut("POST", "/channels/"+esc(channelID)+"/variable"); err != nil {
		return err
	}
	return c.a.SetVar(ctx, channelID, name, value)
}

// GetVar is Asterisk.GetVar through this connection.
func (c *Client) GetVar(ctx context.Context, channelID, name string) (string, error) {
	if err := c.cut("GET", "/channels/"+esc(channelID)+"/variable"); err != nil {
		return "", err
	}
	return c.a.GetVar(ctx, channelID, name)
}

// StartMOH is Asterisk.StartMOH through this connection.
func (c *Client) StartMOH(ctx context.Context, channelID, class string) error {
	if err := c.cut("POST", "/channels/"+esc(channelID)+"/moh"); err != nil {
		return err
	}
	return c.a.StartMOH(ctx, channelID, class)
}

// StopMOH is Asterisk.StopMOH through this connection.
func (c *Client) StopMOH(ctx context.Context, channelID string) error {
	if err := c.cut("DELETE", "/channels/"+esc(channelID)+"/moh"); err != nil {
		return err
	}
	return c.a.StopMOH(ctx, channelID)
}

// Play is Asterisk.Play through this connection.
func (c *Client) Play(ctx context.Context, channelID, playbackID string, media ...string) (*ari.Playback, error) {
	if err := c.cut("POST", "/channels/"+esc(channelID)+"/play/"+esc(playbackID)); err != nil {
		return nil, err
	}
	return c.a.Play(ctx, channelID, playbackID, media...)
}

// Playback is Asterisk.Playback through this connection.
func (c *Client) Playback(ctx context.Context, playbackID string) (*ari.Playback, error) {
	if err := c.cut("GET", "/playbacks/"+esc(playbackID)); err != nil {
		return nil, err
	}
	return c.a.Playback(ctx, playbackID)
}

// StopPlayback is Asterisk.StopPlayback through this connection.
func (c *Client) StopPlayback(ctx context.Context, playbackID string) error {
	if err := c.cut("DELETE", "/playbacks/"+esc(playbackID)); err != nil {
		return err
	}
	return c.a.StopPlayback(ctx, playbackID)
}

// CreateBridge is Asterisk.CreateBridge through this connection.
func (c *Client) CreateBridge(ctx context.Context, bridgeID, types, name string) (*ari.Bridge, error) {
	if err := c.cut("POST", "/bridges"); err != nil {
		return nil, err
	}
	return c.a.CreateBridge(ctx, bridgeID, types, name)
}

// Bridge is Asterisk.Bridge through this connection.
func (c *Client) Bridge(ctx context.Context, bridgeID string) (*ari.Bridge, error) {
	if err := c.cut("GET", "/bridges/"+esc(bridgeID)); err != nil {
		return nil, err
	}
	return c.a.Bridge(ctx, bridgeID)
}

// Bridges is Asterisk.Bridges through this connection.
func (c *Client) Bridges(ctx context.Context) ([]ari.Bridge, error) {
	if err := c.cut("GET", "/bridges"); err != nil {
		return nil, err
	}
	return c.a.Bridges(ctx)
}

// DestroyBridge is Asterisk.DestroyBridge through this connection.
func (c *Client) DestroyBridge(ctx context.Context, bridgeID string) error {
	if err := c.cut("DELETE", "/bridges/"+esc(bridgeID)); err != nil {
		return err
	}
	return c.a.DestroyBridge(ctx, bridgeID)
}

// AddChannel is Asterisk.AddChannel through this connection.
func (c *Client) AddChannel(ctx context.Context, bridgeID string, channelIDs ...string) error {
	if err := c.cut("POST", "/bridges/"+esc(bridgeID)+"/addChannel"); err != nil {
		return err
	}
	return c.a.AddChannel(ctx, bridgeID, channelIDs...)
}

// RemoveChannel is Asterisk.RemoveChannel through this connection.
func (c *Client) RemoveChannel(ctx context.Context, bridgeID string, channelIDs ...string) error {
	if err := c.cut("POST", "/bridges/"+esc(bridgeID)+"/removeChannel"); err != nil {
		return err
	}
	return c.a.RemoveChannel(ctx, bridgeID, channelIDs...)
}

// Subscribe is Asterisk.Subscribe through this connection.
func (c *Client) Subscribe(ctx context.Context, eventSource string) (*ari.Application, error) {
	if err := c.cut("POST", "/applications/"+esc(c.a.cfg.Application)+"/subscription"); err != nil {
		return nil, err
	}
	return c.a.Subscribe(ctx, eventSource)
}

// Info is Asterisk.Info through this connection.
func (c *Client) Info(ctx context.Context) (*ari.AsteriskInfo, error) {
	if err := c.cut("GET", "/asterisk/info"); err != nil {
		return nil, err
	}
	return c.a.Info(ctx)
}

// GetVars is Asterisk.GetVars through this connection.
func (c *Client) GetVars(ctx context.Context, channelID string, names ...string) (map[string]string, error) {
	if err := c.cut("GET", "/channels/"+esc(channelID)+"/variables"); err != nil {
		return nil, err
	}
	return c.a.GetVars(ctx, channelID, names...)
}
