package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/internal/labtest"
)

// Lab tests of a second ariapp started for an application that a running one
// already has: it must not take the application by accident.

// labHeartbeat keeps the waits of these tests short.
const labHeartbeat = 200 * time.Millisecond

// instanceLab is one test's lab application: its config and a client that
// removes the owner record the test's instances may leave behind.
func instanceLab(t *testing.T) (ari.Config, *ari.Client) {
	t.Helper()
	cfg := labtest.Require(t)
	obs, err := ari.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = obs.SetGlobalVariable(ctx, ownerVariable(cfg.Application), "")
		obs.Close()
	})
	return cfg, obs
}

// runSecond runs a second ariapp in-process for cfg's application and
// returns its exit status and output; it must end within limit.
func runSecond(t *testing.T, cfg ari.Config, apiAddr string, limit time.Duration, extra map[string]string) (int, string) {
	t.Helper()
	envs := map[string]string{
		"ARIAPP_ARI_URL": cfg.URL, "ARIAPP_ARI_USERNAME": cfg.Username, "ARIAPP_ARI_PASSWORD": cfg.Password,
		"ARIAPP_ARI_APPLICATION": cfg.Application, "ARIAPP_API_LISTEN": apiAddr, "ARIAPP_LOG_LEVEL": "info",
	}
	for k, v := range extra {
		envs[k] = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	var stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"--config", "../../config.yaml"}, env(envs), io.Discard, &stderr) }()
	code := <-done
	if ctx.Err() != nil {
		t.Fatalf("the second ariapp was still running after %v:\n%s", limit, stderr.String())
	}
	return code, stderr.String()
}

// assertUnharmed: p still runs, is ready, was never told its application
// was replaced, and places, answers and hangs up a call.
func assertUnharmed(t *testing.T, p *proc) {
	t.Helper()
	select {
	case <-p.exited:
		t.Fatalf("the first ariapp exited: %v\n%s", p.err, p.stderr.String())
	default:
	}
	resp, err := http.Get(p.api + "/readyz")
	if err != nil {
		t.Fatalf("readyz of the first ariapp: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("readyz of the first ariapp: %d\n%s", resp.StatusCode, p.stderr.String())
	}
	var info app.CallInfo
	if code := p.do("POST", "/v1/calls", `{"from":"Local/talk@ariapp-test","to":"Local/talk@ariapp-test"}`, &info); code != 201 {
		t.Fatalf("originate through the first ariapp: %d\n%s", code, p.stderr.String())
	}
	p.waitAnswered(info.CallID)
	if code := p.do("DELETE", "/v1/calls/"+info.CallID, "", nil); code != 200 {
		t.Fatalf("hangup through the first ariapp: %d", code)
	}
	if log := p.stderr.String(); strings.Contains(log, "ApplicationReplaced") || strings.Contains(log, "another ARI client registered") {
		t.Fatalf("the first ariapp was told its application was replaced:\n%s", log)
	}
}

func stopGracefully(t *testing.T, p *proc) {
	t.Helper()
	if err := p.signal(syscall.SIGTERM, 15*time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.stderr.String())
	}
}

// TestLabSecondInstanceSamePort: the same command started twice. The second
// finds the API port taken and exits before it contacts Asterisk; the first
// keeps its application and its events.
func TestLabSecondInstanceSamePort(t *testing.T) {
	cfg, _ := instanceLab(t)
	addr := freePort(t)
	first := startAriapp(t, cfg, addr, heartbeatEnv+"="+labHeartbeat.String())

	code, out := runSecond(t, cfg, addr, 10*time.Second, nil)
	if code == exitOK {
		t.Fatalf("the second ariapp on a taken port exited 0:\n%s", out)
	}
	if got := plainLines(out); !strings.Contains(got, "cannot listen on "+addr) || strings.Count(got, "\n") != 1 {
		t.Errorf("want one line about the taken port %s, got %q", addr, got)
	}
	if strings.Contains(out, "connected to Asterisk") {
		t.Errorf("the second ariapp contacted Asterisk before binding its port:\n%s", out)
	}
	assertUnharmed(t, first)
	stopGracefully(t, first)
}

// TestLabSecondInstanceOtherPort: a second ariapp for the same application
// on another port sees the first one's heartbeat and refuses with one line
// naming the application, the running instance and how to take over.
func TestLabSecondInstanceOtherPort(t *testing.T) {
	cfg, _ := instanceLab(t)
	first := startAriapp(t, cfg, freePort(t), heartbeatEnv+"="+labHeartbeat.String())

	start := time.Now()
	code, out := runSecond(t, cfg, freePort(t), 10*time.Second, nil)
	if code != exitRuntime {
		t.Fatalf("exit status %d, want %d:\n%s", code, exitRuntime, out)
	}
	if took := time.Since(start); took > silentAfter(labHeartbeat)+3*time.Second {
		t.Errorf("refusing took %v", took)
	}
	line := plainLines(out)
	for _, want := range []string{`application "` + cfg.Application + `" is in use`, strings.TrimPrefix(first.api, "http://"), takeoverEnv + "=1"} {
		if !strings.Contains(line, want) {
			t.Errorf("refusal %q lacks %q", line, want)
		}
	}
	if strings.Count(line, "\n") != 1 {
		t.Errorf("refusal is not one line: %q", line)
	}
	assertUnharmed(t, first)
	stopGracefully(t, first)
}

// TestLabSecondInstanceTakeover: with ARIAPP_INSTANCE_TAKEOVER=1 the second ariapp
// takes the application, the first stops on "application replaced" without
// removing the new owner's record, and a third one is refused.
func TestLabSecondInstanceTakeover(t *testing.T) {
	cfg, _ := instanceLab(t)
	hb := heartbeatEnv + "=" + labHeartbeat.String()
	first := startAriapp(t, cfg, freePort(t), hb)
	var call app.CallInfo
	if code := first.do("POST", "/v1/calls", `{"from":"Local/talk@ariapp-test","to":"Local/talk@ariapp-test"}`, &call); code != 201 {
		t.Fatalf("originate: %d", code)
	}
	first.waitAnswered(call.CallID)

	second := startAriapp(t, cfg, freePort(t), hb, takeoverEnv+"=1")
	select {
	case <-first.exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("the first ariapp still runs after the takeover:\n%s", first.stderr.String())
	}
	if first.err == nil || !strings.Contains(first.stderr.String(), "another ARI client registered application") {
		t.Errorf("the first ariapp's exit: %v\n%s", first.err, first.stderr.String())
	}
	if got := second.call(call.CallID); got.State != app.CallAnswered {
		t.Errorf("the call after the takeover: %+v", got)
	}

	code, out := runSecond(t, cfg, freePort(t), 10*time.Second, nil)
	if code != exitRuntime || !strings.Contains(out, "is in use") {
		t.Fatalf("a third ariapp after the takeover: status %d, want %d refused:\n%s", code, exitRuntime, out)
	}
	assertUnharmed(t, second)
	if code := second.do("DELETE", "/v1/calls/"+call.CallID, "", nil); code != 200 {
		t.Errorf("hangup: %d", code)
	}
	stopGracefully(t, second)
}

// TestLabSecondInstanceAfterStop: once the first ariapp is gone, the next
// one starts: at once after a graceful stop (the record is released), and
// after kill -9 once the stale record has been silent for
// silentAfter(heartbeat). Both times it adopts the call left up.
func TestLabSecondInstanceAfterStop(t *testing.T) {
	cfg, _ := instanceLab(t)
	// A heartbeat long enough that waiting it out would show.
	const slow = 4 * time.Second
	first := startAriapp(t, cfg, freePort(t), heartbeatEnv+"="+slow.String())
	var call app.CallInfo
	if code := first.do("POST", "/v1/calls", `{"from":"Local/talk@ariapp-test","to":"Local/talk@ariapp-test"}`, &call); code != 201 {
		t.Fatalf("originate: %d", code)
	}
	first.waitAnswered(call.CallID)
	stopGracefully(t, first)

	start := time.Now()
	second := startAriapp(t, cfg, freePort(t), heartbeatEnv+"="+labHeartbeat.String())
	if took := time.Since(start); took >= slow {
		t.Errorf("start after a graceful stop took %v: it waited for a released record", took)
	}
	if strings.Contains(second.stderr.String(), "waiting for its heartbeat") {
		t.Errorf("the record was not released by the graceful stop:\n%s", second.stderr.String())
	}
	if got := second.call(call.CallID); got.State != app.CallAnswered {
		t.Fatalf("the call after a graceful stop: %+v", got)
	}

	second.signal(syscall.SIGKILL, 5*time.Second)
	start = time.Now()
	third := startAriapp(t, cfg, freePort(t), heartbeatEnv+"="+labHeartbeat.String())
	took := time.Since(start)
	if !strings.Contains(third.stderr.String(), "heartbeat stopped") {
		t.Errorf("the instance after kill -9 did not wait out the stale record:\n%s", third.stderr.String())
	}
	if took < silentAfter(labHeartbeat) {
		t.Errorf("started %v after kill -9, before the stale record's %v of silence", took, silentAfter(labHeartbeat))
	}
	if got := third.call(call.CallID); got.State != app.CallAnswered {
		t.Fatalf("the call after kill -9: %+v", got)
	}
	if code := third.do("DELETE", "/v1/calls/"+call.CallID, "", nil); code != 200 {
		t.Errorf("hangup: %d", code)
	}
	stopGracefully(t, third)
}
