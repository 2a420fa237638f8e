package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/ariapp/ariapp/api"
	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/internal/labtest"
)

// TestLabTimeline: GET /v1/calls/{id}/timeline tells a hold's story from
// the real Asterisk, each request with its status next to the events it
// caused, and still does once the call has ended.
func TestLabTimeline(t *testing.T) {
	cfg := labtest.Require(t)
	_, a := labtest.StartApp(t, cfg, app.Config{}, zaptest.NewLogger(t))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	srv := httptest.NewServer(api.New(api.Config{}, a, func() error { return nil }, zaptest.NewLogger(t)).Handler())
	defer srv.Close()

	info, err := a.Originate(ctx, labtest.LocalIdle, labtest.LocalIdle)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if i, err := a.Call(info.CallID); err == nil && i.State == app.CallAnswered {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not answered")
		}
	}
	if _, err := a.Hold(ctx, info.CallID, "caller", app.SourceAPI); err != nil {
		t.Fatal(err)
	}
	get := func() {
		t.Helper()
		resp, err := http.Get(srv.URL + "/v1/calls/" + info.CallID + "/timeline")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("timeline: %d", resp.StatusCode)
		}
		var tl app.Timeline
		if err := json.NewDecoder(resp.Body).Decode(&tl); err != nil {
			t.Fatal(err)
		}
		want := []struct {
			kind, name string
			party      app.Role
		}{
			{"call_event", "call_answered", ""},
			{"request", "POST /bridges/{id}/removeChannel", app.Callee},
			{"ari_event", "ChannelLeftBridge", app.Callee},
			{"request", "POST /channels/{id}/play/{id}", app.Callee},
			{"ari_event", "PlaybackStarted", app.Callee},
			{"call_event", "hold_success", app.Caller},
		}
		i := 0
		for _, e := range tl.Entries {
			if i < len(want) && e.Kind == want[i].kind && e.Name == want[i].name && e.Party == want[i].party {
				if e.Kind == "request" && (e.Status == 0 || e.TookMs <= 0) {
					t.Errorf("request entry without status or duration: %+v", e)
				}
				i++
			}
		}
		if i < len(want) {
			t.Fatalf("timeline lacks %+v (in order): %+v", want[i], tl.Entries)
		}
	}
	get()
	if _, err := a.Hangup(ctx, info.CallID); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := a.Call(info.CallID); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the call did not end")
		}
	}
	get() // the ended call's story is still there
}
