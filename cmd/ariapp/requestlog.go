package main

import (
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/ariapp/ariapp/ari"
)

// requestLog returns the ari client's OnRequest hook that writes each REST
// request ariapp made as one line at level: the other direction of the ARI
// conversation from the event log, so that a hold's removeChannel and play
// stand next to the ChannelLeftBridge and PlaybackStarted they caused. A
// failed request is logged at the same level, with Asterisk's message: its
// consequence (hold_failed, a warning) is logged by the application.
func requestLog(log *zap.Logger, level zapcore.Level) func(*ari.Request) {
	return func(r *ari.Request) {
		ce := log.Check(level, "ari request")
		if ce == nil {
			return
		}
		f := make([]zap.Field, 0, 10)
		f = append(f, zap.String("method", r.Method), zap.String("route", r.Route),
			zap.Int("status", r.Status), zap.Duration("took", r.Duration))
		f = appendIDs(f, "call_id", r.Tag.CallID, "party", r.Tag.Party,
			"channel_id", r.ChannelID, "bridge_id", r.BridgeID, "playback_id", r.PlaybackID)
		if r.Err != nil {
			f = append(f, zap.String("error", r.Message()))
		}
		ce.Write(f...)
	}
}
