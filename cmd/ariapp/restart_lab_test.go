package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/internal/labtest"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// ariappBinary builds the real binary once per test run.
func ariappBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ariapp-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "ariapp")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// proc is a running ariapp process.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	api    string
	stderr *syncBuffer
	exited chan struct{}
	err    error
}

func startAriapp(t *testing.T, cfg ari.Config, apiAddr string, extraEnv ...string) *proc {
	t.Helper()
	cmd := exec.Command(ariappBinary(t), "--config", "../../config.yaml")
	cmd.Env = append(os.Environ(),
		"ARIAPP_ARI_URL="+cfg.URL, "ARIAPP_ARI_USERNAME="+cfg.Username, "ARIAPP_ARI_PASSWORD="+cfg.Password,
		"ARIAPP_ARI_APPLICATION="+cfg.Application, "ARIAPP_API_LISTEN="+apiAddr, "ARIAPP_LOG_LEVEL=info")
	cmd.Env = append(cmd.Env, extraEnv...)
	p := &proc{t: t, cmd: cmd, api: "http://" + apiAddr, stderr: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = cmd.Process.Kill()
			<-p.exited
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		if resp, err := http.Get(p.api + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		select {
		case <-p.exited:
			t.Fatalf("ariapp exited at start-up: %v\n%s", p.err, p.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("ariapp not ready within 15s:\n%s", p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *proc) do(method, path, body string, out any) int {
	p.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, p.api+path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			p.t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
	}
	return resp.StatusCode
}

func (p *proc) call(id string) app.CallInfo {
	p.t.Helper()
	var info app.CallInfo
	if code := p.do("GET", "/v1/calls/"+id, "", &info); code != 200 {
		p.t.Fatalf("GET call %s: %d\n%s", id, code, p.stderr.String())
	}
	return info
}

func (p *proc) waitAnswered(id string) app.CallInfo {
	p.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		info := p.call(id)
		if info.State == app.CallAnswered {
			return info
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("call %s not answered: %+v", id, info)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *proc) signal(sig syscall.Signal, within time.Duration) error {
	p.t.Helper()
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.exited:
		return p.err
	case <-time.After(within):
		p.t.Fatalf("ariapp did not exit within %v after %v:\n%s", within, sig, p.stderr.String())
		return nil
	}
}

// TestLabKillRestartSigterm: ariapp is killed (SIGKILL) with calls up, some
// held; a new ariapp rebuilds every call from Asterisk, the held parties'
// music never stops, and hold, resume and hang-up work on the rebuilt calls.
// SIGTERM stops ariapp within its timeout leaving calls up (the next one
// adopts them again); with shutdown.hangup_calls it hangs them up first and
// nothing is left in Asterisk.
func TestLabKillRestartSigterm(t *testing.T) {
	cfg := labtest.Require(t)
	addr := freePort(t)
	obs, err := ari.New(labtest.Config(t))
	if err != nil {
		t.Fatal(err)
	}
	defer obs.Close()
	ctx := context.Background()

	p1 := startAriapp(t, cfg, addr)
	var ids []string
	for range 3 {
		var info app.CallInfo
		if code := p1.do("POST", "/v1/calls", `{"from":"Local/talk@ariapp-test","to":"Local/talk@ariapp-test"}`, &info); code != 201 {
			t.Fatalf("originate: %d", code)
		}
		ids = append(ids, info.CallID)
		p1.waitAnswered(info.CallID)
	}
	talking, callerHolds, bothHold := ids[0], ids[1], ids[2]
	for _, op := range []struct{ id, party string }{{callerHolds, "caller"}, {bothHold, "caller"}, {bothHold, "callee"}} {
		if code := p1.do("POST", "/v1/calls/"+op.id+"/hold", `{"party":"`+op.party+`"}`, nil); code != 200 {
			t.Fatalf("hold %s by %s: %d", op.id, op.party, code)
		}
	}
	before := map[string]app.CallInfo{}
	music := map[string]string{} // held channel -> playback id
	for _, id := range ids {
		before[id] = p1.call(id)
		for _, pi := range []app.PartyInfo{before[id].Caller, before[id].Callee} {
			if pi.OnHoldMusic {
				// The music runs under an id derived from the call and the
				// held party: how the next ariapp finds it.
				pb := id + "-hold-" + string(pi.Role)
				if got, err := obs.Playback(ctx, pb); err != nil || got.TargetURI != "channel:"+pi.ChannelID {
					t.Fatalf("hold music of %s: GET /playbacks/%s = %+v, %v", pi.ChannelID, pb, got, err)
				}
				music[pi.ChannelID] = pb
			}
		}
	}
	if len(music) != 3 {
		t.Fatalf("music on %d channels, want 3", len(music))
	}

	p1.signal(syscall.SIGKILL, 5*time.Second)
	p2 := startAriapp(t, cfg, addr)
	for _, id := range ids {
		now, was := p2.call(id), before[id]
		if now.Caller.State != was.Caller.State || now.Callee.State != was.Callee.State || now.State != app.CallAnswered ||
			now.Caller.OnHoldMusic != was.Caller.OnHoldMusic || now.Callee.OnHoldMusic != was.Callee.OnHoldMusic {
			t.Fatalf("call %s after the restart: %+v, was %+v", id, now, was)
		}
	}
	for ch, pb := range music {
		if _, err := obs.Playback(ctx, pb); err != nil {
			t.Errorf("the music of %s (%s) stopped across the restart: %v", ch, pb, err)
		}
	}
	var info app.CallInfo
	if code := p2.do("POST", "/v1/calls/"+callerHolds+"/unhold", `{"party":"caller"}`, &info); code != 200 || info.Callee.OnHoldMusic {
		t.Fatalf("resume on a rebuilt call: %d %+v", code, info)
	}
	if code := p2.do("POST", "/v1/calls/"+bothHold+"/unhold", `{"party":"callee"}`, &info); code != 200 || info.Caller.State != app.Hold || !info.Callee.OnHoldMusic {
		t.Fatalf("resume by one side of a mutual hold: %d %+v", code, info)
	}
	if code := p2.do("POST", "/v1/calls/"+talking+"/hold", `{"party":"callee"}`, &info); code != 200 || info.Callee.State != app.Hold {
		t.Fatalf("hold on a rebuilt call: %d %+v", code, info)
	}
	if code := p2.do("DELETE", "/v1/calls/"+bothHold, "", nil); code != 200 {
		t.Fatalf("hangup: %d", code)
	}

	// SIGTERM: a graceful stop that leaves the calls up...
	if err := p2.signal(syscall.SIGTERM, 15*time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p2.stderr.String())
	}
	// ...for the next ariapp, which this time hangs them up on SIGTERM.
	p3 := startAriapp(t, cfg, addr, "ARIAPP_SHUTDOWN_HANGUP_CALLS=true")
	for _, id := range []string{talking, callerHolds} {
		p3.call(id)
	}
	if err := p3.signal(syscall.SIGTERM, 15*time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p3.stderr.String())
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		var left []string
		chans, err := obs.Channels(ctx)
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
		bridges, _ := obs.Bridges(ctx)
		for _, b := range bridges {
			for _, id := range ids {
				if strings.HasPrefix(b.ID, id) {
					left = append(left, "bridge "+b.ID)
				}
			}
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("left in Asterisk after SIGTERM with shutdown.hangup_calls: %v\n%s", left, p3.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestLabKillRestartKeepsHoldTimers: the hold timers of a hold survive a
// SIGKILL of ariapp. The hold records its start in Asterisk (on the held
// party); the next ariapp reads it, reports the same hold_since, reminds
// the holder on, and resumes the hold at hold.max_duration from its
// start, not from its own.
func TestLabKillRestartKeepsHoldTimers(t *testing.T) {
	cfg := labtest.Require(t)
	addr := freePort(t)
	obs, err := ari.New(labtest.Config(t))
	if err != nil {
		t.Fatal(err)
	}
	defer obs.Close()
	const limit = 8 * time.Second
	// A short heartbeat: the next ariapp waits only 0.6 s for the killed
	// one's owner record to go silent, well within the hold's maximum.
	env := []string{"ARIAPP_HOLD_MAX_DURATION=" + limit.String(), "ARIAPP_HOLD_REMINDER_AFTER=1s", "ARIAPP_INSTANCE_HEARTBEAT=200ms"}

	p1 := startAriapp(t, cfg, addr, env...)
	var info app.CallInfo
	if code := p1.do("POST", "/v1/calls", `{"from":"Local/talk@ariapp-test","to":"Local/talk@ariapp-test"}`, &info); code != 201 {
		t.Fatalf("originate: %d", code)
	}
	id := info.CallID
	p1.waitAnswered(id)
	if code := p1.do("POST", "/v1/calls/"+id+"/hold", `{"party":"caller"}`, &info); code != 200 || info.Caller.HoldSince == nil {
		t.Fatalf("hold: %d %+v", code, info)
	}
	since := *info.Caller.HoldSince
	rec, err := obs.GetVar(context.Background(), info.Callee.ChannelID, app.VarHoldOrder)
	if want := fmt.Sprintf("caller@%d", since.UnixNano()); err != nil || rec != want {
		t.Fatalf("%s on the held party = %q, %v; want %q", app.VarHoldOrder, rec, err, want)
	}
	time.Sleep(1500 * time.Millisecond)
	p1.signal(syscall.SIGKILL, 5*time.Second)

	p2 := startAriapp(t, cfg, addr, env...)
	t.Cleanup(func() { p2.do("DELETE", "/v1/calls/"+id, "", nil) })
	now := p2.call(id)
	if now.Caller.State != app.Hold || now.Caller.HoldSince == nil || !now.Caller.HoldSince.Equal(since) {
		t.Fatalf("after the restart: caller %s since %v, want HOLD since %v", now.Caller.State, now.Caller.HoldSince, since)
	}
	deadline := since.Add(limit + 10*time.Second)
	for p2.call(id).Caller.State == app.Hold {
		if time.Now().After(deadline) {
			t.Fatalf("the hold was not ended by its maximum:\n%s", p2.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if d := time.Since(since); d < limit {
		t.Fatalf("resumed %v after the hold began, before its maximum %v", d, limit)
	}
	var tl app.Timeline
	if code := p2.do("GET", "/v1/calls/"+id+"/timeline", "", &tl); code != 200 {
		t.Fatalf("timeline: %d", code)
	}
	var reminders, resumes int
	for _, e := range tl.Entries {
		switch {
		case e.Kind == "call_event" && e.Name == string(app.EventHoldReminder):
			reminders++
		case e.Kind == "call_event" && e.Name == string(app.EventUnholdSuccess):
			resumes++
		}
	}
	if reminders == 0 || resumes != 1 {
		t.Fatalf("the restarted ariapp reported %d reminders and %d resumes: %+v", reminders, resumes, tl.Entries)
	}
}
