package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/internal/labtest"
)

// TestLabRequestLog: a hold and resume against the lab Asterisk leave one
// request line per ARI request, each naming the call and the party it was
// made for, with Asterisk's statuses, and a refused request keeps
// Asterisk's message verbatim.
func TestLabRequestLog(t *testing.T) {
	cfg := labtest.Require(t)
	core, logs := observer.New(zapcore.DebugLevel)
	cfg.OnRequest = requestLog(zap.New(core), zapcore.DebugLevel)
	client, a := labtest.StartApp(t, cfg, app.Config{}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sub := a.Subscribe("")
	defer sub.Close()
	info, err := a.Originate(ctx, labtest.LocalIdle, labtest.LocalIdle)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = a.Hangup(context.Background(), info.CallID) }()
	for ev := range sub.C {
		if ev.CallID == info.CallID && ev.Name == app.EventCallAnswered {
			break
		}
	}
	if _, err := a.Hold(ctx, info.CallID, "caller", app.SourceAPI); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Resume(ctx, info.CallID, "caller", app.SourceAPI); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Playback(ctx, "no-such-playback-"+labtest.ID()); !errors.Is(err, ari.ErrNotFound) {
		t.Fatalf("playback lookup: %v", err)
	}

	type line struct{ route, party string }
	seen := map[line]int64{}
	var refused map[string]any
	for _, l := range logs.FilterMessage("ari request").All() {
		m := l.ContextMap()
		if m["call_id"] == info.CallID {
			party, _ := m["party"].(string)
			seen[line{m["method"].(string) + " " + m["route"].(string), party}] = m["status"].(int64)
		}
		if m["route"] == "/playbacks/{id}" && m["status"] == int64(404) {
			refused = m
		}
	}
	for l, status := range map[line]int64{
		{"POST /channels", "caller"}:                   200,
		{"POST /channels", "callee"}:                   200,
		{"POST /bridges/{id}/removeChannel", "callee"}: 204,
		{"POST /channels/{id}/play/{id}", "callee"}:    201,
		{"DELETE /playbacks/{id}", "callee"}:           204,
		{"POST /bridges/{id}/addChannel", "callee"}:    204,
		{"POST /channels/{id}/variables", "caller"}:    204, // the lab is Asterisk 22.10: one bulk write
		{"POST /bridges/{id}/addChannel", ""}:          204,
	} {
		if got, ok := seen[l]; !ok || got != status {
			t.Errorf("request %s for party %q: status %d (logged %v), want %d", l.route, l.party, got, ok, status)
		}
	}
	if refused == nil || refused["error"] != "Playback not found" {
		t.Errorf("the refused playback lookup logged as %v, want Asterisk's message verbatim", refused)
	}
}
