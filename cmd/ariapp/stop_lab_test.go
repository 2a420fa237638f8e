package main

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/internal/labtest"
)

// TestLabStopWithStalledEventClient: with shutdown.hangup_calls, SIGTERM
// hangs every call up and ariapp exits 0 soon, although an event-stream
// client stopped reading and ariapp's writes to it block: the hang-up runs
// first, with its own budget, and the stop ends the stream.
func TestLabStopWithStalledEventClient(t *testing.T) {
	cfg := labtest.Require(t)
	addr := freePort(t)
	obs, err := ari.New(labtest.Config(t))
	if err != nil {
		t.Fatal(err)
	}
	defer obs.Close()
	const stopTimeout = 5 * time.Second
	p := startAriapp(t, cfg, addr, "ARIAPP_SHUTDOWN_HANGUP_CALLS=true", "ARIAPP_SHUTDOWN_TIMEOUT="+stopTimeout.String())
	labtest.StalledHTTPClient(t, addr, "/v1/events")

	var held, other app.CallInfo
	for _, info := range []*app.CallInfo{&held, &other} {
		if code := p.do("POST", "/v1/calls", `{"from":"Local/talk@ariapp-test","to":"Local/talk@ariapp-test"}`, info); code != 201 {
			t.Fatalf("originate: %d\n%s", code, p.stderr.String())
		}
		p.waitAnswered(info.CallID)
	}
	// Events for the stalled stream: 40 holds and resumes, some 60 KiB,
	// far more than its socket takes.
	for i := range 40 {
		for _, op := range []string{"hold", "unhold"} {
			if code := p.do("POST", "/v1/calls/"+other.CallID+"/"+op, `{"party":"caller"}`, nil); code != 200 {
				t.Fatalf("%s #%d: %d", op, i, code)
			}
		}
	}
	if code := p.do("POST", "/v1/calls/"+held.CallID+"/hold", `{"party":"callee"}`, nil); code != 200 {
		t.Fatalf("hold: %d", code)
	}

	t0 := time.Now()
	exitErr := p.signal(syscall.SIGTERM, 3*stopTimeout)
	took := time.Since(t0)
	var exit *exec.ExitError
	if exitErr != nil && !errors.As(exitErr, &exit) {
		t.Fatal(exitErr)
	}
	if exitErr != nil {
		t.Errorf("exit after SIGTERM: %v (took %v)\n%s", exitErr, took, p.stderr.String())
	}
	if took >= stopTimeout {
		t.Errorf("the stop took %v, the whole shutdown timeout: something waited on the stalled client", took)
	}
	ids := []string{held.CallID, other.CallID}
	deadline := time.Now().Add(5 * time.Second)
	for {
		var left []string
		chans, err := obs.Channels(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range chans {
			for _, id := range ids {
				if strings.HasPrefix(ch.ID, id) {
					left = append(left, ch.ID)
				}
			}
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			for _, id := range left {
				_ = obs.Hangup(context.Background(), id, "")
			}
			t.Fatalf("left in Asterisk after SIGTERM with shutdown.hangup_calls: %v (ariapp exited with %v)\n%s", left, exitErr, p.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
