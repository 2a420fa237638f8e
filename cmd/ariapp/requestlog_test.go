package main

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/ariapp/ariapp/ari"
)

// TestRequestLogLevels: the request log is written at its configured level
// only, with the ids, call and party, status, duration and Asterisk's
// message of a failure.
func TestRequestLogLevels(t *testing.T) {
	req := &ari.Request{Method: "POST", Route: "/bridges/{id}/removeChannel", BridgeID: "b1", ChannelID: "c1",
		Tag: ari.Tag{CallID: "k1", Party: "callee"}, Status: 422, Duration: 600 * time.Microsecond,
		Err: fmt.Errorf("wrapped: %w", errors.New("Channel not in this bridge"))}
	for _, tt := range []struct {
		name         string
		level, logAt zapcore.Level
		want         int
	}{
		{"debug hook, info log: off", zapcore.DebugLevel, zapcore.InfoLevel, 0},
		{"debug hook, debug log", zapcore.DebugLevel, zapcore.DebugLevel, 1},
		{"info hook, info log", zapcore.InfoLevel, zapcore.InfoLevel, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			core, logs := observer.New(tt.logAt)
			requestLog(zap.New(core), tt.level)(req)
			if logs.Len() != tt.want {
				t.Fatalf("%d lines, want %d", logs.Len(), tt.want)
			}
			if tt.want == 0 {
				return
			}
			m := logs.All()[0].ContextMap()
			for k, v := range map[string]any{"method": "POST", "route": "/bridges/{id}/removeChannel", "bridge_id": "b1",
				"channel_id": "c1", "call_id": "k1", "party": "callee", "status": int64(422),
				"took": 600 * time.Microsecond, "error": "wrapped: Channel not in this bridge"} {
				if m[k] != v {
					t.Errorf("field %s = %#v, want %#v", k, m[k], v)
				}
			}
		})
	}
}
