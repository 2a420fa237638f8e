package main

import (
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/ariapp/ariapp/ari"
)

// logARIEvent writes one ARI event as one line: its type, the ids it
// concerns, Asterisk's timestamp and the few fields that explain it.
func logARIEvent(log *zap.Logger, ev ari.Event) {
	if ce := log.Check(zapcore.InfoLevel, "ari event"); ce != nil {
		ce.Write(ariEventFields(ev)...)
	}
}

func ariEventFields(ev ari.Event) []zap.Field {
	r := ari.RefsOf(ev)
	f := make([]zap.Field, 0, 10)
	f = append(f, zap.String("type", ev.GetType()))
	f = appendIDs(f, "channel_id", r.ChannelID, "peer_channel_id", r.PeerID, "bridge_id", r.BridgeID, "playback_id", r.PlaybackID)
	if ts := ev.Base().Timestamp; !ts.IsZero() {
		f = append(f, zap.Time("asterisk_ts", ts.Time))
	}
	switch e := ev.(type) {
	case *ari.ConnectionEvent:
		f = append(f, zap.String("state", e.State.String()), zap.Bool("reconnect", e.Reconnect))
		if e.Err != nil {
			f = append(f, zap.Error(e.Err))
		}
	case *ari.StasisStart:
		f = append(f, zap.String("channel_name", e.Channel.Name), zap.String("channel_state", e.Channel.State), zap.Strings("args", e.Args))
	case *ari.StasisEnd:
		f = append(f, zap.String("channel_name", e.Channel.Name))
	case *ari.ChannelStateChange:
		f = append(f, zap.String("channel_state", e.Channel.State))
	case *ari.ChannelDestroyed:
		f = append(f, zap.Int("cause", e.Cause), zap.String("cause_txt", e.CauseTxt))
	case *ari.ChannelHangupRequest:
		f = append(f, zap.Int("cause", e.Cause), zap.Bool("soft", e.Soft))
	case *ari.ChannelDtmfReceived:
		f = append(f, zap.String("digit", e.Digit), zap.Int("duration_ms", e.DurationMs))
	case *ari.PlaybackStarted:
		f = append(f, zap.String("media_uri", e.Playback.MediaURI), zap.String("playback_state", e.Playback.State))
	case *ari.PlaybackFinished:
		f = append(f, zap.String("media_uri", e.Playback.MediaURI), zap.String("playback_state", e.Playback.State))
	case *ari.ChannelVarset:
		f = append(f, zap.String("variable", e.Variable), zap.String("value", e.Value))
	case *ari.Dial:
		f = append(f, zap.String("dialstatus", e.Dialstatus), zap.String("dialstring", e.Dialstring))
	case *ari.RawEvent:
		// Keep what this version does not decode, so nothing is lost.
		f = append(f, zap.String("raw", strings.TrimSpace(string(e.Raw))))
	}
	return f
}

// appendIDs appends the non-empty ones of (field name, id) pairs: the ids
// a line of the ARI log concerns.
func appendIDs(f []zap.Field, kv ...string) []zap.Field {
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			f = append(f, zap.String(kv[i], kv[i+1]))
		}
	}
	return f
}
