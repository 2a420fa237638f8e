package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/internal/labtest"
)

// TestLabTrace: a call's story from the log of a real run — a hold, a
// refused resume, a restart of ariapp mid-hold, a resume, and a resume that
// fails because the bridge went — told by `ariapp trace` in order, each
// request next to the event that confirmed it, the restart marked.
func TestLabTrace(t *testing.T) {
	cfg := labtest.Require(t)
	sink := &lockedBuffer{}
	log, err := newLogger(LogConfig{Level: "debug", Format: "json"}, sink)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := func() (*ari.Client, *app.App) {
		log.Info("ariapp starting")
		onEvent, _ := eventLog(log.Named("ari_event"))
		c := cfg
		c.OnEvent, c.OnRequest = onEvent, requestLog(log.Named("ari_request"), zapcore.DebugLevel)
		return labtest.StartApp(t, c, app.Config{}, log.Named("app"))
	}
	waitFor := func(a *app.App, callID string, what func(app.CallInfo) bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if info, err := a.Call(callID); err == nil && what(info) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("call %s did not get there", callID)
			}
		}
	}
	client, a := start()
	info, err := a.Originate(ctx, labtest.LocalIdle, labtest.LocalIdle)
	if err != nil {
		t.Fatal(err)
	}
	callID := info.CallID
	waitFor(a, callID, func(i app.CallInfo) bool { return i.State == app.CallAnswered })
	if _, err := a.Hold(ctx, callID, "caller", app.SourceAPI); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Resume(ctx, callID, "callee", app.SourceAPI); err == nil {
		t.Fatal("the callee's resume was not refused")
	}
	// A restart mid-hold.
	a.Close()
	client.Close()
	client, a = start()
	waitFor(a, callID, func(i app.CallInfo) bool { return len(i.Holders) == 1 })
	if _, err := a.Resume(ctx, callID, "caller", app.SourceAPI); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Hold(ctx, callID, "callee", app.SourceAPI); err != nil {
		t.Fatal(err)
	}
	// The bridge goes behind ariapp's back: the resume fails (R3).
	if err := client.DestroyBridge(ctx, callID+"-bridge"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if _, err := a.Resume(ctx, callID, "callee", app.SourceAPI); err == nil {
		t.Fatal("the resume after the bridge went did not fail")
	}
	_ = log.Sync()

	var out, errs bytes.Buffer
	traceStdin = strings.NewReader(sink.String())
	defer func() { traceStdin = nil }()
	if code := run(context.Background(), []string{"trace", callID}, env(nil), &out, &errs); code != exitOK {
		t.Fatalf("trace: exit %d: %s", code, errs.String())
	}
	t.Logf("trace:\n%s", out.String())
	expectInOrder(t, out.String(),
		`call_started`,
		`→ POST /channels +caller +200`,
		`StasisStart +caller +Local/idle@`,
		`→ POST /channels +callee +200`,
		`call_answered`,
		`→ POST /bridges/\{id\}/removeChannel +callee +204`,
		`ChannelLeftBridge +callee +\(confirms /bridges/\{id\}/removeChannel`,
		`→ POST /channels/\{id\}/play/\{id\} +callee +201`,
		`PlaybackStarted +callee +tone:.*\(confirms`,
		`hold_success +by caller \(api\) +caller HOLD +callee LIVE`,
		`resume refused +callee`,
		`--- ariapp started`,
		`→ GET /playbacks/\{id\} +callee +200`,
		`→ DELETE /playbacks/\{id\} +callee +204`,
		`PlaybackFinished +callee .*done +\(confirms`,
		`→ POST /bridges/\{id\}/addChannel +callee +204`,
		`ChannelEnteredBridge +callee +\(confirms`,
		`unhold_success +by caller \(api\)`,
		`hold_success +by callee \(api\)`,
		`→ POST /bridges/\{id\}/addChannel +caller +404 .*Bridge not found`,
		`unhold_failed +by callee \(api\)`,
		`call_ended .*cause unhold_failed`,
	)
}
