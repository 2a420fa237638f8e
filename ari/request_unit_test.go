package ari_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/ariapp/ariapp/ari"
)

// TestUnitOnRequest: every REST request is reported once it finished: its
// route template (no raw ids), the ids it concerns, the caller's tag, the
// reply's status and, on failure, Asterisk's message verbatim. Neither the
// credentials nor the query appear.
func TestUnitOnRequest(t *testing.T) {
	f := newFake(t)
	f.setReply(func(r *http.Request) (int, string) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/removeChannel"):
			return 422, `{"message":"Channel not in this bridge"}`
		case r.Method == "POST" && strings.Contains(r.URL.Path, "/play/"):
			return 201, `{"id":"pb1","state":"queued"}`
		}
		return 204, ""
	})
	var (
		mu  sync.Mutex
		got []ari.Request
	)
	cfg := unitConfig(f)
	cfg.OnRequest = func(r *ari.Request) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, *r)
	}
	c := newUnitClient(t, cfg)
	ctx := ari.WithTag(bg(t), ari.Tag{CallID: "c1", Party: "callee"})

	if err := c.RemoveChannel(ctx, "b 1", "ch1"); !errors.Is(err, ari.ErrUnprocessable) {
		t.Fatalf("removeChannel: %v", err)
	}
	if _, err := c.Play(ctx, "ch1", "pb1", "tone:440"); err != nil {
		t.Fatal(err)
	}
	if err := c.StopPlayback(context.Background(), "pb1"); err != nil {
		t.Fatal(err)
	}
	if err := c.Hangup(ctx, "ch1", ari.HangupNormal); err != nil {
		t.Fatal(err)
	}
	want := []ari.Request{
		{Method: "POST", Route: "/bridges/{id}/removeChannel", BridgeID: "b 1", ChannelID: "ch1", Tag: ari.Tag{CallID: "c1", Party: "callee"}, Status: 422},
		{Method: "POST", Route: "/channels/{id}/play/{id}", ChannelID: "ch1", PlaybackID: "pb1", Tag: ari.Tag{CallID: "c1", Party: "callee"}, Status: 201},
		{Method: "DELETE", Route: "/playbacks/{id}", PlaybackID: "pb1", Status: 204},
		{Method: "DELETE", Route: "/channels/{id}", ChannelID: "ch1", Tag: ari.Tag{CallID: "c1", Party: "callee"}, Status: 204},
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != len(want) {
		t.Fatalf("%d requests reported, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Method != w.Method || g.Route != w.Route || g.BridgeID != w.BridgeID || g.ChannelID != w.ChannelID ||
			g.PlaybackID != w.PlaybackID || g.Tag != w.Tag || g.Status != w.Status {
			t.Errorf("request %d = %+v, want %+v", i, g, w)
		}
		if g.Duration <= 0 {
			t.Errorf("request %d: no duration", i)
		}
	}
	if m := got[0].Message(); m != "Channel not in this bridge" {
		t.Errorf("message %q, want Asterisk's verbatim", m)
	}
	if got[1].Err != nil || got[1].Message() != "" {
		t.Errorf("a success carries error %v", got[1].Err)
	}
	for _, g := range got {
		if strings.Contains(g.Route, "?") || strings.Contains(g.Route, cfg.Password) {
			t.Errorf("route %q carries a query or a secret", g.Route)
		}
	}
}

// TestUnitRouteTemplates: ids in every kind of path become placeholders;
// words that name an operation stay.
func TestUnitRouteTemplates(t *testing.T) {
	f := newFake(t)
	f.setReply(func(r *http.Request) (int, string) { return 200, `{}` })
	var routes []string
	var mu sync.Mutex
	cfg := unitConfig(f)
	cfg.OnRequest = func(r *ari.Request) { mu.Lock(); routes = append(routes, r.Method+" "+r.Route); mu.Unlock() }
	c := newUnitClient(t, cfg)
	ctx := bg(t)
	_, _ = c.Channels(ctx)
	_, _ = c.CreateChannel(ctx, ari.CreateParams{Endpoint: "PJSIP/bob", App: "a"})
	_ = c.AddChannel(ctx, "b1", "c1")
	_, _ = c.Bridge(ctx, "b1")
	_, _ = c.Playback(ctx, "p1")
	_ = c.SetVar(ctx, "c1", "X", "y")
	_, _ = c.Info(ctx)
	want := []string{
		"GET /channels", "POST /channels/create", "POST /bridges/{id}/addChannel", "GET /bridges/{id}",
		"GET /playbacks/{id}", "POST /channels/{id}/variable", "GET /asterisk/info",
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(routes, "\n") != strings.Join(want, "\n") {
		t.Errorf("routes\n%s\nwant\n%s", strings.Join(routes, "\n"), strings.Join(want, "\n"))
	}
}
