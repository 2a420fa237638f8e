package app

import (
	"context"

	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/holdmusic"
)

// ARI is the part of the ARI client the application needs; *ari.Client
// implements it. Tests wrap it to make a step fail for real. Its Hold is
// not here: ari.Client.Hold only indicates hold to a device, while
// App.Hold holds the call.
type ARI interface {
	holdmusic.ARI
	Answer(ctx context.Context, channelID string) error
	Ring(ctx context.Context, channelID string) error
	Hangup(ctx context.Context, channelID string, reason ari.HangupReason) error
	Originate(ctx context.Context, p ari.OriginateParams) (*ari.Channel, error)
	CreateBridge(ctx context.Context, bridgeID, types, name string) (*ari.Bridge, error)
	DestroyBridge(ctx context.Context, bridgeID string) error
	AddChannel(ctx context.Context, bridgeID string, channelIDs ...string) error
	RemoveChannel(ctx context.Context, bridgeID string, channelIDs ...string) error
	SetVar(ctx context.Context, channelID, name, value string) error
	// SetVars writes several variables in one request (Asterisk 22.10;
	// an older one answers ari.ErrNotSupported), reported in events and
	// channel lists with report.
	SetVars(ctx context.Context, channelID string, vars map[string]string, report bool) error
	// Mute and Unmute are the channel's mute (ARI's direction: "in" is
	// what Asterisk receives from the channel, "out" what it sends).
	Mute(ctx context.Context, channelID string, dir ari.MuteDirection) error
	Unmute(ctx context.Context, channelID string, dir ari.MuteDirection) error
	// Global variables hold the mute records (see VarMutePrefix).
	GlobalVariable(ctx context.Context, name string) (string, error)
	SetGlobalVariable(ctx context.Context, name, value string) error
	Subscribe(ctx context.Context, eventSource string) (*ari.Application, error)
	// For resync after a restart or reconnect.
	Channels(ctx context.Context) ([]ari.Channel, error)
	Bridges(ctx context.Context) ([]ari.Bridge, error)
	Bridge(ctx context.Context, bridgeID string) (*ari.Bridge, error)
	Playback(ctx context.Context, playbackID string) (*ari.Playback, error)
	GetVar(ctx context.Context, channelID, name string) (string, error)
	// GetVars reads several variables in one request (Asterisk 22.10);
	// one unset fails it (ari.ErrNotFound).
	GetVars(ctx context.Context, channelID string, names ...string) (map[string]string, error)
	// Info is Asterisk's version (which requests it takes).
	Info(ctx context.Context) (*ari.AsteriskInfo, error)
	// Application is the Stasis application name callees are originated into.
	Application() string
}

var _ ARI = (*ari.Client)(nil)

// EventTypes are the ARI events the application acts on: an ARI client may
// ask Asterisk for these alone (ari.Config.EventTypes). Anything else, such
// as ChannelVarset (one per variable written, a dozen more at each
// hang-up), is of use only to a person reading the event log.
var EventTypes = []string{
	"StasisStart", "StasisEnd", "ChannelDestroyed", "ChannelHangupRequest", "Dial",
	"ChannelEnteredBridge", "ChannelLeftBridge", "BridgeDestroyed",
	"PlaybackStarted", "PlaybackFinished",
	"ChannelHold", "ChannelUnhold", "ChannelDtmfReceived",
}
