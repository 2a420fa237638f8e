package main

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/internal/labtest"
)

// TestLabRestartKeepsHoldMedia: the real binary, configured with
// hold.allowed_media and hold.announcement, is killed during the
// announcement of a hold that chose another tone; the next ariapp reports
// the chosen tone, Asterisk goes on from the announcement into it in the
// same playback, and the resume works. A bad hold.allowed_media value
// stops ariapp at start-up.
func TestLabRestartKeepsHoldMedia(t *testing.T) {
	cfg := labtest.Require(t)
	const other = "tone:620/500|0/2500"
	env := []string{"ARIAPP_HOLD_ALLOWED_MEDIA=moh:default," + other, "ARIAPP_HOLD_ANNOUNCEMENT=sound:pls-hold-while-try"}

	t.Run("bad allowed media stops ariapp", func(t *testing.T) {
		cmd := exec.Command(ariappBinary(t), "--config", "../../config.yaml")
		cmd.Env = append(os.Environ(), "ARIAPP_ARI_URL="+cfg.URL, "ARIAPP_ARI_PASSWORD="+cfg.Password,
			"ARIAPP_API_LISTEN="+freePort(t), "ARIAPP_HOLD_ALLOWED_MEDIA=tone:abc")
		out, err := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); err == nil || code != 2 || !strings.Contains(string(out), "hold.allowed_media: item 0") {
			t.Fatalf("exit status %d (%v), want 2 naming hold.allowed_media:\n%s", code, err, out)
		}
	})

	obs, err := ari.New(labtest.Config(t))
	if err != nil {
		t.Fatal(err)
	}
	defer obs.Close()
	ctx := context.Background()
	addr := freePort(t)
	p1 := startAriapp(t, cfg, addr, env...)
	var info app.CallInfo
	if code := p1.do("POST", "/v1/calls", `{"from":"Local/talk@ariapp-test","to":"Local/talk@ariapp-test"}`, &info); code != 201 {
		t.Fatalf("originate: %d", code)
	}
	callID := info.CallID
	p1.waitAnswered(callID)
	var held app.CallInfo
	if code := p1.do("POST", "/v1/calls/"+callID+"/hold", `{"party":"caller","media":"`+other+`"}`, &held); code != 200 || held.Callee.HoldMedia != other {
		t.Fatalf("hold with %s: %d %+v", other, code, held)
	}
	pbID := callID + "-hold-callee"
	if pb, err := obs.Playback(ctx, pbID); err != nil || pb.MediaURI != "sound:pls-hold-while-try" {
		t.Fatalf("right after the hold: %+v, %v; want the announcement playing", pb, err)
	}
	// Killed while the announcement plays.
	p1.signal(syscall.SIGKILL, 5*time.Second)
	p2 := startAriapp(t, cfg, addr, env...)
	now := p2.call(callID)
	if now.Caller.State != app.Hold || !now.Callee.OnHoldMusic || now.Callee.HoldMedia != other {
		t.Fatalf("after the restart: %+v", now)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		pb, err := obs.Playback(ctx, pbID)
		if err == nil && pb.MediaURI == other {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("playback %s after the restart: %+v, %v; want %s after the announcement", pbID, pb, err, other)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var resumed app.CallInfo
	if code := p2.do("POST", "/v1/calls/"+callID+"/unhold", `{"party":"caller"}`, &resumed); code != 200 || resumed.Callee.OnHoldMusic {
		t.Fatalf("resume after the restart: %d %+v", code, resumed)
	}
	if _, err := obs.Playback(ctx, pbID); err == nil {
		t.Fatalf("playback %s still running after the resume", pbID)
	}
	if code := p2.do("DELETE", "/v1/calls/"+callID, "", nil); code != 200 {
		t.Fatalf("hangup: %d", code)
	}
	if err := p2.signal(syscall.SIGTERM, 15*time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p2.stderr.String())
	}
}
