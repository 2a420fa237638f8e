package main

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/internal/labtest"
)

// TestLabKillRestartKeepsMute: ariapp is killed (SIGKILL) with a muted
// party that is held; the next ariapp reports the same mute from
// Asterisk's record, the mute and the hold stay independent (the resume
// does not unmute), an unmute works, and the records go with the call.
func TestLabKillRestartKeepsMute(t *testing.T) {
	cfg := labtest.Require(t)
	addr := freePort(t)
	obs, err := ari.New(labtest.Config(t))
	if err != nil {
		t.Fatal(err)
	}
	defer obs.Close()
	ctx := context.Background()

	p1 := startAriapp(t, cfg, addr)
	var info app.CallInfo
	if code := p1.do("POST", "/v1/calls", `{"from":"Local/talk@ariapp-test","to":"Local/talk@ariapp-test"}`, &info); code != 201 {
		t.Fatalf("originate: %d", code)
	}
	id := info.CallID
	p1.waitAnswered(id)
	for _, op := range []struct{ path, body string }{
		{"/mute", `{"party":"callee","direction":"in"}`},
		{"/hold", `{"party":"caller"}`}, // the muted callee is held
		{"/mute", `{"party":"caller","direction":"out"}`},
	} {
		if code := p1.do("POST", "/v1/calls/"+id+op.path, op.body, &info); code != 200 {
			t.Fatalf("%s %s: %d", op.path, op.body, code)
		}
	}
	if info.Caller.Muted != app.MuteOut || info.Callee.Muted != app.MuteIn || info.Caller.State != app.Hold {
		t.Fatalf("before the restart: %+v", info)
	}
	before := info

	p1.signal(syscall.SIGKILL, 5*time.Second)
	p2 := startAriapp(t, cfg, addr)
	now := p2.call(id)
	if now.Caller.Muted != app.MuteOut || now.Callee.Muted != app.MuteIn || now.Caller.State != app.Hold || !now.Callee.OnHoldMusic {
		t.Fatalf("after the restart: %+v, was %+v", now, before)
	}
	if code := p2.do("POST", "/v1/calls/"+id+"/unhold", `{"party":"caller"}`, &info); code != 200 || info.Callee.Muted != app.MuteIn {
		t.Fatalf("resume after the restart: %d %+v", code, info)
	}
	if code := p2.do("POST", "/v1/calls/"+id+"/unmute", `{"party":"caller"}`, &info); code != 200 || info.Caller.Muted != "" {
		t.Fatalf("unmute after the restart: %d %+v", code, info)
	}
	if code := p2.do("DELETE", "/v1/calls/"+id, "", nil); code != 200 {
		t.Fatalf("hangup: %d", code)
	}
	for _, ch := range []string{before.Caller.ChannelID, before.Callee.ChannelID} {
		if v, err := obs.GlobalVariable(ctx, app.VarMutePrefix+ch); err != nil || v != "" {
			t.Errorf("mute record of %s after the call = %q, %v; want none", ch, v, err)
		}
	}
	if err := p2.signal(syscall.SIGTERM, 15*time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p2.stderr.String())
	}
}
