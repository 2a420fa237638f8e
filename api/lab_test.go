package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/ariapp/ariapp/api"
	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/holdmusic"
	"github.com/ariapp/ariapp/internal/labtest"
)

// lab is the real application against the lab Asterisk, behind the API.
type lab struct {
	t      *testing.T
	client *ari.Client
	app    *app.App
	srv    *httptest.Server
	api    *api.Server
	token  string
}

func newLab(t *testing.T, token string) *lab {
	t.Helper()
	return newLabApp(t, token, app.Config{AnswerTimeout: 5 * time.Second})
}

// newLabApp is newLab with the application's configuration.
func newLabApp(t *testing.T, token string, acfg app.Config) *lab {
	t.Helper()
	cfg := labtest.Require(t)
	client, err := ari.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(acfg, client, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := client.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	a.Start(client.Events())
	s := api.New(api.Config{Token: token, Heartbeat: 200 * time.Millisecond}, a, func() error { return nil }, zaptest.NewLogger(t))
	l := &lab{t: t, client: client, app: a, api: s, srv: httptest.NewServer(s.Handler()), token: token}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		a.HangupAll(ctx)
		_ = s.Close(ctx)
		l.srv.Close()
		a.Close()
		client.Close()
	})
	return l
}

// do sends a request and decodes the JSON reply into out (if not nil).
func (l *lab) do(method, path, body string, out any) int {
	l.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, l.srv.URL+path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if l.token != "" {
		req.Header.Set("Authorization", "Bearer "+l.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		l.t.Fatal(err)
	}
	defer resp.Body.Close()
	openAPI(l.t).check(l.t, req, resp) // real answers match api/openapi.json
	data, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			l.t.Fatalf("%s %s: reply is not JSON: %v: %s", method, path, err, data)
		}
	}
	return resp.StatusCode
}

// stream reads the SSE stream into a log of events.
type stream struct {
	log  *labtest.Log[sseEvent]
	done chan struct{}
}

// sseEvent is one SSE message: its event line and its decoded data.
type sseEvent struct {
	name string
	ev   app.Event
}

func (l *lab) stream(query string) (*stream, func()) {
	l.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", l.srv.URL+"/v1/events"+query, nil)
	if l.token != "" {
		req.Header.Set("Authorization", "Bearer "+l.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		l.t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		l.t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := &stream{log: labtest.NewLog[sseEvent](), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer s.log.Close()
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var name string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				var ev app.Event
				_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev)
				s.log.Add(sseEvent{name: name, ev: ev})
			}
		}
	}()
	return s, func() { cancel(); <-s.done }
}

func (s *stream) wait(t *testing.T, callID string, name app.EventName) app.Event {
	t.Helper()
	var found sseEvent
	if _, ok := s.log.Until(15*time.Second, func(evs []sseEvent) bool {
		for _, e := range evs {
			if (callID == "" || e.ev.CallID == callID) && e.ev.Name == name {
				found = e
				return true
			}
		}
		return false
	}); !ok {
		t.Fatalf("no %s on the event stream", name)
	}
	if found.name != string(name) {
		t.Errorf("SSE event line %q carries %q", found.name, found.ev.Name)
	}
	return found.ev
}

func (s *stream) sequence(callID string) []app.EventName {
	var out []app.EventName
	for _, e := range s.log.All() {
		if e.ev.CallID == callID {
			out = append(out, e.ev.Name)
		}
	}
	return out
}

// TestLabAPIHoldResume drives a real call through the API: originate,
// list, hold, a refused resume, resume, hang up, with the SSE stream
// carrying every event in order.
func TestLabAPIHoldResume(t *testing.T) {
	l := newLab(t, "lab-token")
	all, stop := l.stream("")
	defer stop()

	var info app.CallInfo
	if code := l.do("POST", "/v1/calls", `{"from":"Local/talk@ariapp-test","to":"Local/talk@ariapp-test"}`, &info); code != 201 {
		t.Fatalf("originate: %d %+v", code, info)
	}
	callID := info.CallID
	all.wait(t, callID, app.EventCallAnswered)

	var list struct{ Calls []app.CallInfo }
	if code := l.do("GET", "/v1/calls", "", &list); code != 200 || len(list.Calls) != 1 || list.Calls[0].CallID != callID {
		t.Fatalf("list: %d %+v", code, list)
	}
	one, _ := l.stream("?call_id=" + callID)

	var held app.CallInfo
	if code := l.do("POST", "/v1/calls/"+callID+"/hold", `{"party":"callee"}`, &held); code != 200 {
		t.Fatalf("hold: %d", code)
	}
	if held.Callee.State != app.Hold || !held.Caller.OnHoldMusic || held.Caller.State != app.Live {
		t.Fatalf("after hold: %+v", held)
	}
	var e api.ErrorBody
	if code := l.do("POST", "/v1/calls/"+callID+"/unhold", `{"party":"caller"}`, &e); code != 409 || e.Error.Code != api.CodeNotHolding {
		t.Fatalf("resume by the non-holder: %d %+v", code, e)
	}
	if code := l.do("POST", "/v1/calls/"+callID+"/hold", `{"party":"nobody"}`, &e); code != 400 || e.Error.Code != api.CodeUnknownParty {
		t.Fatalf("unknown party: %d %+v", code, e)
	}
	if code := l.do("POST", "/v1/calls/nope/hold", `{"party":"caller"}`, &e); code != 404 || e.Error.Code != api.CodeCallNotFound {
		t.Fatalf("unknown call: %d %+v", code, e)
	}
	var resumed app.CallInfo
	if code := l.do("POST", "/v1/calls/"+callID+"/unhold", `{"party":"`+held.Callee.ChannelID+`"}`, &resumed); code != 200 || resumed.Callee.State != app.Live {
		t.Fatalf("resume by channel id: %d %+v", code, resumed)
	}
	var got app.CallInfo
	if code := l.do("GET", "/v1/calls/"+callID, "", &got); code != 200 || len(got.Holders) != 0 {
		t.Fatalf("get: %d %+v", code, got)
	}
	if code := l.do("DELETE", "/v1/calls/"+callID, "", &got); code != 200 {
		t.Fatalf("hangup: %d", code)
	}
	all.wait(t, callID, app.EventCallEnded)
	<-one.done // a one-call stream ends with its call
	want := []app.EventName{app.EventCallStarted, app.EventCallAnswered, app.EventHoldSuccess, app.EventUnholdSuccess, app.EventCallEnded}
	for name, s := range map[string]*stream{"all": all, "one": one} {
		got := s.sequence(callID)
		if name == "one" {
			want := want[2:] // subscribed after call_answered
			if strings.Join(names(got), ",") != strings.Join(names(want), ",") {
				t.Errorf("%s stream: %v, want %v", name, got, want)
			}
			continue
		}
		if strings.Join(names(got), ",") != strings.Join(names(want), ",") {
			t.Errorf("%s stream: %v, want %v", name, got, want)
		}
	}
	if code := l.do("GET", "/v1/calls/"+callID, "", &e); code != 404 {
		t.Fatalf("ended call: %d", code)
	}
}

func names(n []app.EventName) []string {
	out := make([]string, len(n))
	for i, x := range n {
		out[i] = string(x)
	}
	return out
}

// TestLabAPINotEstablished: hold while the callee rings is 409.
func TestLabAPINotEstablished(t *testing.T) {
	l := newLab(t, "")
	var info app.CallInfo
	if code := l.do("POST", "/v1/calls", `{"from":"Local/talk@ariapp-test","to":"Local/noanswer@ariapp-test"}`, &info); code != 201 {
		t.Fatalf("originate: %d", code)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		var e api.ErrorBody
		code := l.do("POST", "/v1/calls/"+info.CallID+"/hold", `{"party":"caller"}`, &e)
		if code == 409 && e.Error.Code == api.CodeNotEstablished {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hold while ringing: %d %+v", code, e)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var e api.ErrorBody
	if code := l.do("POST", "/v1/calls", `{"from":"Local/talk@ariapp-test,x","to":"bob"}`, &e); code != 400 || e.Error.Code != api.CodeInvalidEndpoint {
		t.Fatalf("bad endpoints: %d %+v", code, e)
	}
	_ = bytes.MinRead
}

// TestLabAPIInvalidEndpoints: endpoints Asterisk has no channel for, and
// ones ariapp refuses before asking, answer 400 invalid_endpoint with a
// short message, never a 500; nothing is left in Asterisk.
func TestLabAPIInvalidEndpoints(t *testing.T) {
	l := newLab(t, "")
	for _, tc := range []struct{ name, from string }{
		{"unknown PJSIP endpoint", "PJSIP/nonexistent"},
		{"unknown technology", "Bogus/x"},
		{"invalid UTF-8", "PJSIP/b\xffob"},
		{"8 KB name", "PJSIP/" + strings.Repeat("a", 8<<10)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, _ := json.Marshal(map[string]string{"from": tc.from, "to": "Local/talk@ariapp-test"})
			var e api.ErrorBody
			if code := l.do("POST", "/v1/calls", string(body), &e); code != 400 || e.Error.Code != api.CodeInvalidEndpoint {
				t.Fatalf("answer %d %+v, want 400 invalid_endpoint", code, e.Error)
			}
			if len(e.Error.Message) > 300 || strings.Contains(e.Error.Message, "<html") {
				t.Fatalf("message of %d bytes: %.200q", len(e.Error.Message), e.Error.Message)
			}
		})
	}
	// Each refused call ends as its originate is answered; its goroutine
	// forgets it a moment later.
	for deadline := time.Now().Add(2 * time.Second); len(l.app.Calls()) != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("calls left in ariapp: %+v", l.app.Calls())
		}
	}
}

// TestLabAPIHoldMedia: a hold through the API chooses one of the allowed
// musics, which the held party hears after the announcement, the call info
// and the events name; media that is not allowed is answered 400 with the
// allowed values and changes nothing.
func TestLabAPIHoldMedia(t *testing.T) {
	const other = "tone:620/500|0/2500"
	otherCfg, err := holdmusic.ParseMedia(other)
	if err != nil {
		t.Fatal(err)
	}
	l := newLabApp(t, "", app.Config{AnswerTimeout: 5 * time.Second, AllowedMusic: []holdmusic.Config{otherCfg},
		Music: holdmusic.Config{Announcement: "sound:beep"}})
	all, stop := l.stream("")
	defer stop()
	var info app.CallInfo
	if code := l.do("POST", "/v1/calls", `{"from":"Local/talk@ariapp-test","to":"Local/talk@ariapp-test"}`, &info); code != 201 {
		t.Fatalf("originate: %d %+v", code, info)
	}
	callID := info.CallID
	all.wait(t, callID, app.EventCallAnswered)

	var e api.ErrorBody
	if code := l.do("POST", "/v1/calls/"+callID+"/hold", `{"party":"callee","media":"sound:https://example.com/x.wav"}`, &e); code != 400 ||
		e.Error.Code != api.CodeMediaNotAllowed || !strings.Contains(e.Error.Message, other) || !strings.Contains(e.Error.Message, "tone:440/500|0/2500") {
		t.Fatalf("media not allowed: %d %+v", code, e)
	}
	var held app.CallInfo
	if code := l.do("POST", "/v1/calls/"+callID+"/hold", `{"party":"callee","media":"`+other+`"}`, &held); code != 200 {
		t.Fatalf("hold: %d", code)
	}
	if held.Callee.State != app.Hold || held.Caller.HoldMedia != other || held.Callee.HoldMedia != "" {
		t.Fatalf("after hold: %+v", held)
	}
	if ev := all.wait(t, callID, app.EventHoldSuccess); ev.Media != other || ev.Call.Caller.HoldMedia != other {
		t.Fatalf("hold_success: media %q, caller hears %q", ev.Media, ev.Call.Caller.HoldMedia)
	}
	// Asterisk plays the announcement, then the chosen tone, in one playback.
	pbID := callID + "-hold-caller"
	deadline := time.Now().Add(10 * time.Second)
	for {
		pb, err := l.client.Playback(context.Background(), pbID)
		if err == nil && pb.MediaURI == other {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("playback %s: %+v, %v; want %s after the announcement", pbID, pb, err, other)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var got app.CallInfo
	if code := l.do("GET", "/v1/calls/"+callID, "", &got); code != 200 || got.Caller.HoldMedia != other {
		t.Fatalf("get: %d %+v", code, got)
	}
	var resumed app.CallInfo
	if code := l.do("POST", "/v1/calls/"+callID+"/unhold", `{"party":"callee"}`, &resumed); code != 200 || resumed.Caller.HoldMedia != "" || resumed.Caller.OnHoldMusic {
		t.Fatalf("resume: %d %+v", code, resumed)
	}
	if ev := all.wait(t, callID, app.EventUnholdSuccess); ev.Media != other {
		t.Fatalf("unhold_success media %q", ev.Media)
	}
	// Without media: the default.
	var again app.CallInfo
	if code := l.do("POST", "/v1/calls/"+callID+"/hold", `{"party":"callee"}`, &again); code != 200 || again.Caller.HoldMedia != "tone:440/500|0/2500" {
		t.Fatalf("default hold: %d %+v", code, again)
	}
	if code := l.do("DELETE", "/v1/calls/"+callID, "", &got); code != 200 {
		t.Fatalf("hangup: %d", code)
	}
	all.wait(t, callID, app.EventCallEnded)
}

// TestLabAPIMute drives mute and unmute of a real call through the API,
// every answer validated against the OpenAPI document: a mute, a repeated
// mute (no event), a bad direction, a hold that keeps the mute, an unmute
// of what is not muted (no event), the unmute, with the SSE stream
// carrying the muted and unmuted events in order.
func TestLabAPIMute(t *testing.T) {
	l := newLab(t, "")
	all, stop := l.stream("")
	defer stop()
	var info app.CallInfo
	if code := l.do("POST", "/v1/calls", `{"from":"Local/talk@ariapp-test","to":"Local/talk@ariapp-test"}`, &info); code != 201 {
		t.Fatalf("originate: %d %+v", code, info)
	}
	callID := info.CallID
	all.wait(t, callID, app.EventCallAnswered)
	steps := []struct {
		path, body string
		status     int
		code       string
		caller     app.MuteDirection
	}{
		{"/mute", `{"party":"caller","direction":"in"}`, 200, "", app.MuteIn},
		{"/mute", `{"party":"caller","direction":"in"}`, 200, "", app.MuteIn},
		{"/mute", `{"party":"caller","direction":"sideways"}`, 400, api.CodeInvalidDirection, ""},
		{"/mute", `{"party":"nobody"}`, 400, api.CodeUnknownParty, ""},
		{"/hold", `{"party":"callee"}`, 200, "", app.MuteIn},
		{"/unhold", `{"party":"callee"}`, 200, "", app.MuteIn},
		{"/unmute", `{"party":"caller","direction":"out"}`, 200, "", app.MuteIn},
		{"/unmute", `{"party":"caller"}`, 200, "", ""},
	}
	for _, s := range steps {
		var got app.CallInfo
		var e api.ErrorBody
		out := any(&got)
		if s.status != 200 {
			out = &e
		}
		if code := l.do("POST", "/v1/calls/"+callID+s.path, s.body, out); code != s.status || e.Error.Code != s.code {
			t.Fatalf("%s %s: %d %+v", s.path, s.body, code, e)
		}
		if s.status == 200 && got.Caller.Muted != s.caller {
			t.Fatalf("%s %s: caller muted %q, want %q", s.path, s.body, got.Caller.Muted, s.caller)
		}
	}
	if code := l.do("DELETE", "/v1/calls/"+callID, "", nil); code != 200 {
		t.Fatalf("hangup: %d", code)
	}
	var e api.ErrorBody
	if code := l.do("POST", "/v1/calls/"+callID+"/mute", `{"party":"caller"}`, &e); code != 409 || e.Error.Code != api.CodeCallEnded {
		t.Fatalf("mute of the ended call: %d %+v", code, e)
	}
	all.wait(t, callID, app.EventCallEnded)
	want := []app.EventName{app.EventCallStarted, app.EventCallAnswered, app.EventMuted, app.EventHoldSuccess, app.EventUnholdSuccess,
		app.EventUnmuted, app.EventCallEnded}
	if got := all.sequence(callID); strings.Join(names(got), ",") != strings.Join(names(want), ",") {
		t.Errorf("stream: %v, want %v", got, want)
	}
}
