// Package console_test drives ariapp's operator console in headless
// Chromium (Debian's chromium package) against the lab Asterisk: the page
// as an operator sees it, live from the event stream.
package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.uber.org/zap/zaptest"

	"github.com/ariapp/ariapp/api"
	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/holdmusic"
	"github.com/ariapp/ariapp/internal/labtest"
	"github.com/ariapp/ariapp/internal/sipphone"
)

const token = "console-test-token"

// lab is ariapp in process (Stasis application "ariapp", as the lab
// dialplan names it) with its API and console on a local port, the lab
// phones alice and bob, and a browser tab.
type lab struct {
	t      *testing.T
	app    *app.App
	srv    *httptest.Server
	alice  *sipphone.Phone
	bob    *sipphone.Phone
	events *labtest.Log[app.Event]
	// streamDown makes GET /v1/events answer 503, as a proxy in front of a
	// restarting ariapp would.
	streamDown atomic.Bool
	tab        context.Context
	shots      string // where screenshots go
}

// chromium finds the browser: missing, the test fails in CI (lab/test.sh
// installs it) and is skipped elsewhere.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" || labtest.Required() {
		t.Fatal("chromium is required (CI or ARIAPP_REQUIRE_LAB=1) but not installed: apt-get install chromium (lab/test.sh does)")
	}
	t.Skip("chromium is not installed (apt-get install chromium)")
	return ""
}

func newLab(t *testing.T, opts ...func(*app.Config)) *lab {
	t.Helper()
	browser := chromium(t)
	cfg := labtest.Require(t)
	labtest.LockPhones(t)
	cfg.Application = "ariapp"
	client, err := ari.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	acfg := app.Config{
		AnswerTimeout: 10 * time.Second,
		Music:         holdmusic.Config{Mode: holdmusic.ModeTone},
	}
	for _, o := range opts {
		o(&acfg)
	}
	a, err := app.New(acfg, client, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := client.Connect(ctx); err != nil {
		t.Fatalf("connect as application ariapp (is another ariapp running?): %v", err)
	}
	a.Start(client.Events())
	l := &lab{t: t, app: a, events: labtest.NewLog[app.Event](), shots: t.TempDir()}
	s := api.New(api.Config{Token: token, Heartbeat: time.Second}, a, nil, zaptest.NewLogger(t))
	h := s.Handler()
	l.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/events" && l.streamDown.Load() {
			http.Error(w, "down for the test", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	}))
	sub := a.Subscribe("")
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer l.events.Close()
		for ev := range sub.C {
			l.events.Add(ev)
		}
	}()
	l.alice = l.phone("alice", "127.0.0.1:5071", 1000)
	l.bob = l.phone("bob", "127.0.0.1:5072", 1500)

	actx, acancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser),
		chromedp.NoSandbox, // the lab runs as root
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 720),
	)...)
	tab, tcancel := chromedp.NewContext(actx)
	l.tab = tab
	// The browser starts with the first action on tab itself: started on a
	// derived context it would end with that context.
	if err := chromedp.Do(tab); err != nil {
		tcancel()
		acancel()
		t.Fatalf("start %s: %v", browser, err)
	}
	t.Cleanup(func() {
		tcancel()
		acancel()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		a.HangupAll(ctx)
		_ = s.Close(ctx)
		l.srv.CloseClientConnections()
		l.srv.Close()
		sub.Close()
		a.Close()
		<-done
		client.Close()
	})
	return l
}

func (l *lab) phone(user, addr string, hz float64) *sipphone.Phone {
	l.t.Helper()
	p, err := sipphone.New(context.Background(), sipphone.Config{User: user, SIPAddr: addr, Server: "127.0.0.1:5060", ToneHz: hz})
	if err != nil {
		l.t.Fatalf("phone %s: %v", user, err)
	}
	l.t.Cleanup(func() { _ = p.Close() })
	return p
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// do runs browser actions within 20 s.
func (l *lab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(l.tab, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		l.t.Fatalf("%s: %v", what, err)
	}
}

// until waits for a JavaScript condition on the page.
func (l *lab) until(what, js string) {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(l.tab, 15*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		l.t.Fatalf("waiting until %s (%s): %v\npage: %s", what, js, err, l.eval(`document.querySelector("main").innerText`))
	}
}

func (l *lab) eval(js string) string {
	ctx, cancel := context.WithTimeout(l.tab, 5*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[any](js))
	if err != nil {
		return "(" + err.Error() + ")"
	}
	if s, ok := v.(string); ok {
		return s
	}
	data, _ := json.Marshal(v)
	return string(data)
}

// screenshot takes a picture of the page: into docs/console/NAME.png with
// ARIAPP_CONSOLE_SCREENSHOTS=1 (to refresh the README's pictures), else
// into the test's temporary directory, so a test run leaves the tree clean.
func (l *lab) screenshot(name string) {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(l.tab, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		l.t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := l.shots
	if os.Getenv("ARIAPP_CONSOLE_SCREENSHOTS") == "1" {
		dir = filepath.Join("..", "..", "docs", "console")
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		l.t.Fatal(err)
	}
	l.t.Logf("screenshot %s", path)
}

func (l *lab) wait(callID string, name app.EventName) app.Event {
	l.t.Helper()
	return l.waitFor(string(name)+" of "+callID, func(e app.Event) bool {
		return (callID == "" || e.CallID == callID) && e.Name == name
	})
}

func (l *lab) waitFor(what string, match func(app.Event) bool) app.Event {
	l.t.Helper()
	var found app.Event
	if _, ok := l.events.Until(15*time.Second, func(evs []app.Event) bool {
		for _, e := range evs {
			if match(e) {
				found = e
				return true
			}
		}
		return false
	}); !ok {
		l.t.Fatalf("no event %s", what)
	}
	return found
}

// party is the JavaScript of one party row of a call.
func party(callID, role string) string {
	return fmt.Sprintf(`document.querySelector('tbody[data-call-id=%q] tr[data-party=%q]')`, callID, role)
}

// shown is the JavaScript test that a button of a party row is offered.
func shown(callID, role, button string) string {
	return fmt.Sprintf(`((b) => !!b && getComputedStyle(b).visibility === "visible" && !b.disabled)(%s.querySelector("button.%s"))`, party(callID, role), button)
}

func state(callID, role string) string {
	return fmt.Sprintf(`%s.querySelector(".badge").textContent`, party(callID, role))
}

func click(callID, role, button string) chromedp.Action[chromedp.Void] {
	return chromedp.Click(chromedp.CSS(fmt.Sprintf(`tbody[data-call-id=%q] tr[data-party=%q] button.%s`, callID, role, button)))
}

func (l *lab) rowBox(callID string) string {
	return l.eval(fmt.Sprintf(`JSON.stringify((() => { const r = document.querySelector('tbody[data-call-id=%q]').getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; })())`, callID))
}

// TestConsole walks an operator through the console: the token prompt, a
// call placed from the form, hold and resume by the buttons, a mute of the
// held party by its button (kept across the resume) and its unmute, a
// phone's re-INVITE hold arriving live, hang-up, the end cause, a refused
// request's message, and a stream that reconnects and resyncs.
func TestConsole(t *testing.T) {
	l := newLab(t)

	// The token prompt: a wrong token is refused, the right one opens the
	// stream.
	l.do("open the console", chromedp.Navigate(l.srv.URL+"/"))
	l.until("the token prompt shows", `document.getElementById("login").open && document.activeElement.id === "token"`)
	l.screenshot("token-prompt")
	l.do("a wrong token", chromedp.SendKeys(chromedp.ID("token"), "wrong"), chromedp.Click(chromedp.ID("login-go")))
	l.until("the wrong token is refused", `document.getElementById("login").open && document.getElementById("login-msg").textContent.includes("refused")`)
	l.do("the token", chromedp.SendKeys(chromedp.ID("token"), token+"\r"))
	l.until("the stream is live", `document.getElementById("stream").dataset.state === "live" && !document.getElementById("login").open`)
	if got := l.eval(`sessionStorage.getItem("ariapp-token")`); got != token {
		t.Fatalf("session storage holds %q", got)
	}

	// A refused request shows the API's message.
	l.do("a call to an unknown endpoint", chromedp.SendKeys(chromedp.ID("from"), "PJSIP/nonexistent"),
		chromedp.SendKeys(chromedp.ID("to"), "Local/talk@ariapp-test"), chromedp.Click(chromedp.ID("place-go")))
	l.until("the refusal shows", `document.getElementById("place-msg").textContent.includes("invalid_endpoint")`)

	// A call placed from the form appears.
	l.do("place a call", chromedp.SetValue(chromedp.ID("from"), "Local/talk@ariapp-test"),
		chromedp.SetValue(chromedp.ID("to"), "Local/talk@ariapp-test"), chromedp.Click(chromedp.ID("place-go")))
	ev := l.wait("", app.EventCallAnswered)
	callID := ev.CallID
	l.until("the call is answered on the page", fmt.Sprintf(`document.querySelector('tbody[data-call-id=%q]')?.dataset.state === "answered"`, callID))
	l.until("both parties LIVE, hold offered, resume not", shown(callID, "caller", "hold")+" && "+shown(callID, "callee", "hold")+
		" && !"+shown(callID, "caller", "resume")+" && !"+shown(callID, "callee", "resume"))
	l.screenshot("call-live")
	before := l.rowBox(callID)

	// Hold by the caller: HOLD on the caller, its hang-up hidden (H6); the
	// callee stays LIVE with hold music (which one: the default tone), and
	// no resume is offered for it (R1).
	l.do("hold the caller", click(callID, "caller", "hold"))
	l.until("the caller holds", state(callID, "caller")+` === "HOLD" && `+state(callID, "callee")+` === "LIVE"`)
	l.until("the caller's hang-up is hidden, its resume offered", "!"+shown(callID, "caller", "hangup")+" && "+shown(callID, "caller", "resume"))
	l.until("the callee has hold music, hang-up, no resume", party(callID, "callee")+`.querySelector(".moh").textContent.includes("♪ tone:440/500|0/2500") && `+
		shown(callID, "callee", "hangup")+" && !"+shown(callID, "callee", "resume"))
	if got := l.eval(fmt.Sprintf(`document.querySelector('tbody[data-call-id=%q] .callmeta').textContent`, callID)); !strings.Contains(got, "held by caller") {
		t.Errorf("call line %q does not say who holds", got)
	}
	if after := l.rowBox(callID); after != before {
		t.Errorf("the call's row moved or resized on hold: %s -> %s", before, after)
	}
	l.screenshot("caller-holds")
	// Mute is apart from hold: the held callee is muted from its row, the
	// row does not move, and the caller's resume leaves the mute.
	l.until("mute offered on both sides while held", shown(callID, "caller", "mute")+" && "+shown(callID, "callee", "mute"))
	l.do("mute the callee", click(callID, "callee", "mute"))
	muteText := party(callID, "callee") + `.querySelector(".moh").textContent`
	l.until("the callee shows muted in, with hold music, and Unmute", muteText+`.includes("muted in") && `+muteText+`.includes("♪ tone:440/500|0/2500") && `+
		party(callID, "callee")+`.querySelector("button.mute").textContent === "Unmute"`)
	if ev := l.wait(callID, app.EventMuted); ev.Party != app.Callee || ev.Direction != app.MuteIn {
		t.Fatalf("muted event from the button: %+v", ev)
	}
	if after := l.rowBox(callID); after != before {
		t.Errorf("the call's row moved or resized on mute: %s -> %s", before, after)
	}
	l.screenshot("held-party-muted")
	// The API refuses a resume for the non-holder; the page never offers it.
	var e api.ErrorBody
	if code := l.api("POST", "/v1/calls/"+callID+"/unhold", `{"party":"callee"}`, &e); code != 409 || e.Error.Code != api.CodeNotHolding {
		t.Fatalf("resume by the callee: %d %+v", code, e)
	}

	// Resume by the holder.
	l.do("resume the caller", click(callID, "caller", "resume"))
	l.until("both LIVE again", state(callID, "caller")+` === "LIVE" && `+state(callID, "callee")+` === "LIVE" && `+shown(callID, "caller", "hangup"))
	if got := l.eval(muteText); !strings.Contains(got, "muted in") {
		t.Errorf("the callee's mute after the resume: %q", got)
	}
	l.do("unmute the callee", click(callID, "callee", "mute"))
	l.until("the callee unmuted", `!`+muteText+`.includes("muted") && `+party(callID, "callee")+`.querySelector("button.mute").textContent === "Mute"`)

	// History on demand.
	l.do("open the history", chromedp.Click(chromedp.CSS(fmt.Sprintf(`tbody[data-call-id=%q] button.history`, callID))))
	l.until("the history lists the hold", `document.getElementById("history").open && document.querySelector("#history-table tbody").innerText.includes("hold_success")`)
	l.screenshot("history")
	l.do("close the history", chromedp.Click(chromedp.ID("history-close")))

	// Hang-up: the call shows its end cause, then leaves the table.
	l.do("hang up", click(callID, "callee", "hangup"))
	ended := l.wait(callID, app.EventCallEnded)
	if ended.Call.EndCause == "" {
		t.Fatalf("call_ended without a cause: %+v", ended)
	}
	l.until("the end cause shows", fmt.Sprintf(`document.querySelector('tbody[data-call-id=%q] .metarow')?.textContent === "ended: " + %q`, callID, ended.Call.EndCause))
	l.screenshot("call-ended")
	l.until("the call leaves the table for the ended list", fmt.Sprintf(`!document.querySelector('tbody[data-call-id=%q]') && document.querySelector('#ended li[data-call-id=%q]').textContent.includes(%q)`, callID, callID, ended.Call.EndCause))

	// A call between the phones; alice holds with a re-INVITE: the page
	// shows it without a reload.
	pcall, ac := l.phoneCall()
	l.until("the phone call appears", fmt.Sprintf(`document.querySelector('tbody[data-call-id=%q]')?.dataset.state === "answered"`, pcall))
	if err := ac.Hold(ctxT(t, 15*time.Second), sipphone.HoldSendonly); err != nil {
		t.Fatalf("alice's re-INVITE hold: %v", err)
	}
	if hev := l.wait(pcall, app.EventHoldSuccess); hev.Source != app.SourcePhone {
		t.Fatalf("hold source %q", hev.Source)
	}
	l.until("alice HOLD on the page", state(pcall, "caller")+` === "HOLD" && `+state(pcall, "callee")+` === "LIVE" && !`+shown(pcall, "caller", "hangup")+
		" && !"+shown(pcall, "callee", "resume"))
	l.screenshot("phone-holds")
	if err := ac.Unhold(ctxT(t, 15*time.Second)); err != nil {
		t.Fatalf("alice's re-INVITE resume: %v", err)
	}
	l.until("alice LIVE again", state(pcall, "caller")+` === "LIVE" && `+shown(pcall, "caller", "hangup"))

	// The stream breaks and stays down for a while: the page says so; a
	// call placed meanwhile is there once it resyncs.
	l.streamDown.Store(true)
	l.srv.CloseClientConnections()
	l.until("the page says it reconnects", `document.getElementById("stream").dataset.state === "reconnecting"`)
	var placed app.CallInfo
	if code := l.api("POST", "/v1/calls", `{"from":"Local/talk@ariapp-test","to":"Local/talk@ariapp-test"}`, &placed); code != 201 {
		t.Fatalf("originate while the page reconnects: %d", code)
	}
	l.wait(placed.CallID, app.EventCallAnswered)
	l.screenshot("reconnecting")
	l.streamDown.Store(false)
	l.until("the page is live and lists the new call", fmt.Sprintf(`document.getElementById("stream").dataset.state === "live" && document.querySelector('tbody[data-call-id=%q]')?.dataset.state === "answered"`, placed.CallID))
	l.until("the phone call is still listed", fmt.Sprintf(`!!document.querySelector('tbody[data-call-id=%q]')`, pcall))
	l.screenshot("two-calls")
}

// TestConsoleHoldTimers: a hold_reminder and a hold the maximum resumed
// show on the call's row, live from the event stream.
func TestConsoleHoldTimers(t *testing.T) {
	l := newLab(t, func(c *app.Config) {
		c.HoldTimers = app.HoldTimers{ReminderAfter: 700 * time.Millisecond, MaxDuration: 2500 * time.Millisecond}
	})
	l.do("open the console", chromedp.Navigate(l.srv.URL+"/"))
	l.until("the token prompt shows", `document.getElementById("login").open && document.activeElement.id === "token"`)
	l.do("the token", chromedp.SendKeys(chromedp.ID("token"), token+"\r"))
	l.until("the stream is live", `document.getElementById("stream").dataset.state === "live"`)
	var placed app.CallInfo
	if code := l.api("POST", "/v1/calls", `{"from":"Local/talk@ariapp-test","to":"Local/talk@ariapp-test"}`, &placed); code != 201 {
		t.Fatalf("originate: %d", code)
	}
	callID := placed.CallID
	l.wait(callID, app.EventCallAnswered)
	if code := l.api("POST", "/v1/calls/"+callID+"/hold", `{"party":"caller"}`, nil); code != 200 {
		t.Fatalf("hold: %d", code)
	}
	l.wait(callID, app.EventHoldReminder)
	row := fmt.Sprintf(`document.querySelector('tbody[data-call-id=%q] .metarow')?.textContent`, callID)
	l.until("the reminder shows", row+`?.startsWith("reminder: caller holds for ")`)
	if ev := l.wait(callID, app.EventUnholdSuccess); ev.Source != app.SourceTimer {
		t.Fatalf("unhold_success source %q, want timer", ev.Source)
	}
	l.until("the resume by the maximum shows", row+` === "caller's hold reached its maximum and was resumed" && `+state(callID, "caller")+` === "LIVE"`)
}

// api sends one control API request with the token.
func (l *lab) api(method, path, body string, out any) int {
	l.t.Helper()
	req, _ := http.NewRequestWithContext(ctxT(l.t, 20*time.Second), method, l.srv.URL+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		l.t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			l.t.Fatal(err)
		}
	}
	return resp.StatusCode
}

// phoneCall: alice dials bob, bob answers.
func (l *lab) phoneCall() (string, *sipphone.Call) {
	l.t.Helper()
	type res struct {
		c   *sipphone.Call
		err error
	}
	dialed := make(chan res, 1)
	go func() {
		c, err := l.alice.Dial(ctxT(l.t, 15*time.Second), "bob")
		dialed <- res{c, err}
	}()
	bc, err := l.bob.Incoming(ctxT(l.t, 15*time.Second))
	if err != nil {
		l.t.Fatalf("bob: no incoming call: %v", err)
	}
	if err := bc.Answer(ctxT(l.t, 15*time.Second)); err != nil {
		l.t.Fatalf("bob answers: %v", err)
	}
	r := <-dialed
	if r.err != nil {
		l.t.Fatalf("alice dials bob: %v", r.err)
	}
	ev := l.waitFor("alice's call answered", func(e app.Event) bool {
		return e.Name == app.EventCallAnswered && e.Call.Caller.Endpoint == "PJSIP/alice"
	})
	return ev.CallID, r.c
}
