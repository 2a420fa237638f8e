package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ariapp/ariapp/api"
	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/internal/labtest"
)

// requireDisruptive gates tests that restart the lab's Asterisk: they would
// break every other test running against it, so lab/test.sh runs them on
// their own, after the main suite, with ARIAPP_DISRUPTIVE=1.
func requireDisruptive(t *testing.T) {
	t.Helper()
	if os.Getenv("ARIAPP_DISRUPTIVE") != "1" {
		t.Skip("restarts Asterisk; run with ARIAPP_DISRUPTIVE=1 (lab/test.sh does, after the main suite)")
	}
}

// sseNames collects the event names of an SSE stream.
type sseNames struct {
	*labtest.Log[app.Event]
}

func (s *sseNames) has(callID string, name app.EventName) bool {
	for _, e := range s.All() {
		if e.CallID == callID && e.Name == name {
			return true
		}
	}
	return false
}

// TestDisruptiveAsteriskRestart: Asterisk restarts under a running ariapp.
// While it is down ariapp says so (/readyz 503, a hold answers 503 with a
// reason at once, no hang); it reconnects with backoff, resyncs, ends the
// calls whose channels vanished with call_ended, and is ready again.
func TestDisruptiveAsteriskRestart(t *testing.T) {
	requireDisruptive(t)
	cfg := labtest.Require(t)
	p := startAriapp(t, cfg, freePort(t))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", p.api+"/v1/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	stream := &sseNames{labtest.NewLog[app.Event]()}
	go func() {
		defer stream.Close()
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var ev app.Event
				if json.Unmarshal([]byte(data), &ev) == nil {
					stream.Add(ev)
				}
			}
		}
	}()

	var ids []string
	for range 2 {
		var info app.CallInfo
		if code := p.do("POST", "/v1/calls", `{"from":"Local/talk@ariapp-test","to":"Local/talk@ariapp-test"}`, &info); code != 201 {
			t.Fatalf("originate: %d", code)
		}
		p.waitAnswered(info.CallID)
		ids = append(ids, info.CallID)
	}
	if code := p.do("POST", "/v1/calls/"+ids[1]+"/hold", `{"party":"caller"}`, nil); code != 200 {
		t.Fatalf("hold: %d", code)
	}

	// Stop Asterisk, check ariapp's honesty while it is down, start it again.
	lab := func(args ...string) {
		t.Helper()
		out, err := exec.Command("../../lab/lab.sh", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("lab/lab.sh %v: %v\n%s", args, err, out)
		}
	}
	lab("down")
	defer lab("up") // whatever happens, leave the lab running
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting until %s\n%s", what, p.stderr.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor("/readyz reports not ready", func() bool {
		r, err := http.Get(p.api + "/readyz")
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.StatusCode == http.StatusServiceUnavailable
	})
	t0 := time.Now()
	var e api.ErrorBody
	if code := p.do("POST", "/v1/calls/"+ids[0]+"/hold", `{"party":"caller"}`, &e); code != 503 || e.Error.Code != api.CodeUnavailable || !strings.Contains(e.Error.Message, "ARI") {
		t.Fatalf("hold while Asterisk is down: %d %+v", code, e)
	}
	if d := time.Since(t0); d > time.Second {
		t.Fatalf("the refusal took %v", d)
	}
	lab("up")
	waitFor("ready again", func() bool {
		r, err := http.Get(p.api + "/readyz")
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.StatusCode == 200
	})
	for _, id := range ids {
		waitFor("call_ended of "+id, func() bool { return stream.has(id, app.EventCallEnded) })
	}
	var list struct{ Calls []app.CallInfo }
	if code := p.do("GET", "/v1/calls", "", &list); code != 200 || len(list.Calls) != 0 {
		t.Fatalf("calls after the restart: %d %+v", code, list)
	}
	if !strings.Contains(p.stderr.String(), `"reconnect":true`) {
		t.Fatalf("no reconnect logged:\n%s", p.stderr.String())
	}
	// And it works again.
	var info app.CallInfo
	if code := p.do("POST", "/v1/calls", `{"from":"Local/talk@ariapp-test","to":"Local/talk@ariapp-test"}`, &info); code != 201 {
		t.Fatalf("originate after the restart: %d", code)
	}
	p.waitAnswered(info.CallID)
	if code := p.do("DELETE", "/v1/calls/"+info.CallID, "", nil); code != 200 {
		t.Fatalf("hangup: %d", code)
	}
}
