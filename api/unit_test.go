package api_test

// Unit tests of the control API that need no Asterisk: a fake application
// behind the real handler. Run them with -run 'TestUnit|Fuzz'.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/ariapp/ariapp/api"
	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/ari"
)

// errNoAsterisk is what every stub ARI step returns: no test here may reach
// Asterisk.
var errNoAsterisk = errors.New("stub ARI: no Asterisk in unit tests")

// stubARI is an app.ARI whose every step fails. It only lets app.New build
// an App (never started) whose Subscribe the fake hands out.
type stubARI struct{}

var _ app.ARI = stubARI{}

func (stubARI) Play(context.Context, string, string, ...string) (*ari.Playback, error) {
	return nil, errNoAsterisk
}
func (stubARI) StopPlayback(context.Context, string) error             { return errNoAsterisk }
func (stubARI) StartMOH(context.Context, string, string) error         { return errNoAsterisk }
func (stubARI) StopMOH(context.Context, string) error                  { return errNoAsterisk }
func (stubARI) Answer(context.Context, string) error                   { return errNoAsterisk }
func (stubARI) Ring(context.Context, string) error                     { return errNoAsterisk }
func (stubARI) Hangup(context.Context, string, ari.HangupReason) error { return errNoAsterisk }
func (stubARI) Originate(context.Context, ari.OriginateParams) (*ari.Channel, error) {
	return nil, errNoAsterisk
}
func (stubARI) CreateBridge(context.Context, string, string, string) (*ari.Bridge, error) {
	return nil, errNoAsterisk
}
func (stubARI) DestroyBridge(context.Context, string) error             { return errNoAsterisk }
func (stubARI) AddChannel(context.Context, string, ...string) error     { return errNoAsterisk }
func (stubARI) RemoveChannel(context.Context, string, ...string) error  { return errNoAsterisk }
func (stubARI) SetVar(context.Context, string, string, string) error    { return errNoAsterisk }
func (stubARI) Mute(context.Context, string, ari.MuteDirection) error   { return errNoAsterisk }
func (stubARI) Unmute(context.Context, string, ari.MuteDirection) error { return errNoAsterisk }
func (stubARI) GlobalVariable(context.Context, string) (string, error)  { return "", errNoAsterisk }
func (stubARI) SetGlobalVariable(context.Context, string, string) error { return errNoAsterisk }
func (stubARI) Channels(context.Context) ([]ari.Channel, error)         { return nil, errNoAsterisk }
func (stubARI) Bridges(context.Context) ([]ari.Bridge, error)           { return nil, errNoAsterisk }
func (stubARI) Bridge(context.Context, string) (*ari.Bridge, error)     { return nil, errNoAsterisk }
func (stubARI) Playback(context.Context, string) (*ari.Playback, error) { return nil, errNoAsterisk }
func (stubARI) GetVar(context.Context, string, string) (string, error)  { return "", errNoAsterisk }
func (stubARI) Application() string                                     { return "ariapp-unit" }
func (stubARI) Subscribe(context.Context, string) (*ari.Application, error) {
	return nil, errNoAsterisk
}

func (stubARI) SetVars(context.Context, string, map[string]string, bool) error { return errNoAsterisk }

func (stubARI) Info(context.Context) (*ari.AsteriskInfo, error) { return nil, errNoAsterisk }

func (stubARI) GetVars(context.Context, string, ...string) (map[string]string, error) {
	return nil, errNoAsterisk
}

// op is one call the fake application saw.
type op struct {
	Name, CallID, Party string
	Direction           app.MuteDirection
	Source              app.Source
	From, To            string
	Media               string // Hold's HoldOptions.Media
}

// fakeCalls implements api.Calls. Known calls answer; others are
// ErrCallNotFound. err, if set, is what every operation returns.
type fakeCalls struct {
	app *app.App // not started: only its Subscribe is used

	mu      sync.Mutex
	known   map[string]bool
	err     error
	ops     []op // mutating operations: Hold, Resume, Hangup, Originate
	lookups []string
	lists   int
	// ctxDeadline: whether the last operation's context had a deadline.
	ctxDeadline bool
	// delay: how long each operation takes.
	delay time.Duration
}

var _ api.Calls = (*fakeCalls)(nil)

func newFakeCalls(t testing.TB, known ...string) *fakeCalls {
	t.Helper()
	a, err := app.New(app.Config{}, stubARI{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	f := &fakeCalls{app: a, known: map[string]bool{}}
	for _, id := range known {
		f.known[id] = true
	}
	return f
}

func infoOf(id string) app.CallInfo {
	return app.CallInfo{
		CallID:    id,
		State:     app.CallAnswered,
		Caller:    app.PartyInfo{Role: app.Caller, ChannelID: id + "-a", Endpoint: "PJSIP/alice", State: app.Live, HangupAllowed: true},
		Callee:    app.PartyInfo{Role: app.Callee, ChannelID: id + "-b", Endpoint: "PJSIP/bob", State: app.Live, HangupAllowed: true},
		Holders:   []app.Role{},
		StartedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

func (f *fakeCalls) setErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *fakeCalls) Ops() []op {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.ops)
}

func (f *fakeCalls) Lookups() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.lookups)
}

// touched reports whether the fake saw anything at all.
func (f *fakeCalls) touched() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.ops) > 0 || len(f.lookups) > 0 || f.lists > 0
}

func (f *fakeCalls) Calls() []app.CallInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists++
	out := []app.CallInfo{}
	for id := range f.known {
		out = append(out, infoOf(id))
	}
	return out
}

func (f *fakeCalls) Timeline(callID string) (app.Timeline, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lookups = append(f.lookups, callID)
	if !f.known[callID] {
		return app.Timeline{}, fmt.Errorf("call %q: %w", callID, app.ErrCallNotFound)
	}
	return app.Timeline{CallID: callID, Entries: []app.TimelineEntry{{Kind: "call_event", Name: "call_started"}}}, nil
}

func (f *fakeCalls) Call(callID string) (app.CallInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lookups = append(f.lookups, callID)
	if !f.known[callID] {
		return app.CallInfo{}, fmt.Errorf("call %q: %w", callID, app.ErrCallNotFound)
	}
	return infoOf(callID), nil
}

// do records a mutating operation and answers it.
func (f *fakeCalls) do(ctx context.Context, o op) (app.CallInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops = append(f.ops, o)
	_, f.ctxDeadline = ctx.Deadline()
	time.Sleep(f.delay)
	if f.err != nil {
		return app.CallInfo{}, f.err
	}
	if o.Name == "Originate" {
		return infoOf("new-call"), nil
	}
	if !f.known[o.CallID] {
		return app.CallInfo{}, fmt.Errorf("call %q: %w", o.CallID, app.ErrCallNotFound)
	}
	info := infoOf(o.CallID)
	if o.Name == "Hold" {
		info.Holders = []app.Role{app.Role(o.Party)}
	}
	if o.Name == "Mute" {
		info.Party(app.Role(o.Party)).Muted = o.Direction
	}
	return info, nil
}

func (f *fakeCalls) Hold(ctx context.Context, callID, party string, src app.Source, opts ...app.HoldOptions) (app.CallInfo, error) {
	o := op{Name: "Hold", CallID: callID, Party: party, Source: src}
	for _, opt := range opts {
		o.Media = opt.Media
	}
	return f.do(ctx, o)
}

func (f *fakeCalls) Resume(ctx context.Context, callID, party string, src app.Source) (app.CallInfo, error) {
	return f.do(ctx, op{Name: "Resume", CallID: callID, Party: party, Source: src})
}

func (f *fakeCalls) Mute(ctx context.Context, callID, party string, dir app.MuteDirection, src app.Source) (app.CallInfo, error) {
	return f.do(ctx, op{Name: "Mute", CallID: callID, Party: party, Direction: dir, Source: src})
}

func (f *fakeCalls) Unmute(ctx context.Context, callID, party string, dir app.MuteDirection, src app.Source) (app.CallInfo, error) {
	return f.do(ctx, op{Name: "Unmute", CallID: callID, Party: party, Direction: dir, Source: src})
}

func (f *fakeCalls) Hangup(ctx context.Context, callID string) (app.CallInfo, error) {
	return f.do(ctx, op{Name: "Hangup", CallID: callID})
}

func (f *fakeCalls) Originate(ctx context.Context, from, to string) (app.CallInfo, error) {
	return f.do(ctx, op{Name: "Originate", From: from, To: to})
}

func (f *fakeCalls) Subscribe(callID string) *app.Subscription { return f.app.Subscribe(callID) }

// unit is an API server in front of a fake, served in-process.
type unit struct {
	t    testing.TB
	fake *fakeCalls
	srv  *api.Server
	h    http.Handler
	logs *observer.ObservedLogs
}

func newUnit(t testing.TB, cfg api.Config, ready func() error, known ...string) *unit {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	f := newFakeCalls(t, known...)
	s := api.New(cfg, f, ready, zap.New(core))
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return &unit{t: t, fake: f, srv: s, h: s.Handler(), logs: logs}
}

// req is one request to send.
type req struct {
	method, target, body string
	// contentType defaults to application/json when body is set; "-" sends
	// none.
	contentType string
	auth        string
	noBody      bool // send no body at all (nil), not an empty one
}

func (u *unit) do(r req) *httptest.ResponseRecorder {
	u.t.Helper()
	var body io.Reader
	if !r.noBody {
		body = strings.NewReader(r.body)
	}
	hr := httptest.NewRequest(r.method, r.target, body)
	switch {
	case r.contentType == "-":
	case r.contentType != "":
		hr.Header.Set("Content-Type", r.contentType)
	case r.body != "" || r.noBody:
		hr.Header.Set("Content-Type", "application/json")
	}
	if r.auth != "" {
		hr.Header.Set("Authorization", r.auth)
	}
	rec := httptest.NewRecorder()
	u.h.ServeHTTP(rec, hr)
	return rec
}

// wantError checks a JSON error reply and returns its message.
func wantError(t testing.TB, rec *httptest.ResponseRecorder, status int, code string) string {
	t.Helper()
	if rec.Code != status {
		t.Errorf("status = %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var eb api.ErrorBody
	dec := json.NewDecoder(strings.NewReader(rec.Body.String()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&eb); err != nil {
		t.Fatalf("error body %q is not {\"error\":{\"code\",\"message\"}}: %v", rec.Body, err)
	}
	if eb.Error.Code != code {
		t.Errorf("code = %q, want %q (message %q)", eb.Error.Code, code, eb.Error.Message)
	}
	if eb.Error.Message == "" {
		t.Errorf("empty message")
	}
	return eb.Error.Message
}

// wantOK checks a JSON success reply and decodes it into out.
func wantOK(t testing.TB, rec *httptest.ResponseRecorder, status int, out any) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status = %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if out != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			t.Fatalf("body %q: %v", rec.Body, err)
		}
	}
}

func wantNoOps(t testing.TB, f *fakeCalls) {
	t.Helper()
	if ops := f.Ops(); len(ops) != 0 {
		t.Errorf("the application saw %+v; want nothing changed", ops)
	}
}

// TestUnitCallIDs: unknown ids and ids with path characters are 404s (or a
// router's 400 or redirect), never a 500 or a panic, and reach the
// application exactly as sent.
func TestUnitCallIDs(t *testing.T) {
	long := strings.Repeat("x", 10<<10)
	tests := []struct {
		name   string
		target string // the id as it appears in the path
		id     string // the id the application must see
	}{
		{"unknown", "nope", "nope"},
		{"escaped slash", "a%2Fb", "a/b"},
		{"escaped NUL", "%00", "\x00"},
		{"escaped dot dot", "%2E%2E", ".."},
		{"10 KB", long, long},
		{"unicode", "%E2%98%8E-%C3%A9", "☎-é"},
		{"raw unicode", "☎", "☎"},
		{"escaped percent", "100%25", "100%"},
		{"spaces", "a%20b", "a b"},
		{"quote and angle", "%22%3Cx%3E", `"<x>`},
		{"invalid UTF-8", "%FF%FE", "\xff\xfe"},
	}
	routes := []struct {
		method, suffix, body string
		opName               string // the mutating operation, "" for GET
	}{
		{http.MethodGet, "", "", ""},
		{http.MethodDelete, "", "", "Hangup"},
		{http.MethodPost, "/hold", `{"party":"caller"}`, "Hold"},
		{http.MethodPost, "/unhold", `{"party":"callee"}`, "Resume"},
		{http.MethodPost, "/mute", `{"party":"callee","direction":"in"}`, "Mute"},
		{http.MethodPost, "/unmute", `{"party":"callee","direction":"out"}`, "Unmute"},
	}
	for _, tt := range tests {
		for _, rt := range routes {
			t.Run(tt.name+"/"+rt.method+rt.suffix, func(t *testing.T) {
				u := newUnit(t, api.Config{}, nil, "known-call")
				rec := u.do(req{method: rt.method, target: "/v1/calls/" + tt.target + rt.suffix, body: rt.body})
				msg := wantError(t, rec, http.StatusNotFound, api.CodeCallNotFound)
				if !strings.Contains(msg, app.ErrCallNotFound.Error()) {
					t.Errorf("message %q does not say %q", msg, app.ErrCallNotFound)
				}
				if rt.opName == "" {
					if got := u.fake.Lookups(); len(got) != 1 || got[0] != tt.id {
						t.Errorf("application looked up %q, want [%q]", got, tt.id)
					}
					wantNoOps(t, u.fake)
					return
				}
				ops := u.fake.Ops()
				if len(ops) != 1 || ops[0].Name != rt.opName || ops[0].CallID != tt.id {
					t.Errorf("application saw %+v, want one %s of %q", ops, rt.opName, tt.id)
				}
			})
		}
	}

	// Paths the mux cleans ("..", ".", "//") are redirected to the clean
	// path (a 301 or 307 without a JSON body; no handler runs): not
	// an error of ours, but never a 500 and never the application.
	for _, target := range []string{"/v1/calls/..", "/v1/calls/.", "/v1/calls/../calls/x/hold", "//v1/calls", "/v1/calls/a//b"} {
		for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
			t.Run("cleaned "+method+" "+target, func(t *testing.T) {
				u := newUnit(t, api.Config{}, nil, "x")
				rec := u.do(req{method: method, target: target, body: `{"party":"caller"}`})
				switch rec.Code {
				case http.StatusMovedPermanently, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
					if rec.Header().Get("Location") == "" {
						t.Errorf("redirect without Location")
					}
				case http.StatusNotFound:
					wantError(t, rec, http.StatusNotFound, api.CodeNotFound)
				case http.StatusMethodNotAllowed:
					wantError(t, rec, http.StatusMethodNotAllowed, api.CodeMethodNotAllowed)
				default:
					t.Errorf("status %d, body %s", rec.Code, rec.Body)
				}
				if u.fake.touched() {
					t.Errorf("the application was reached: ops %+v lookups %q", u.fake.Ops(), u.fake.Lookups())
				}
			})
		}
	}

	t.Run("known call", func(t *testing.T) {
		u := newUnit(t, api.Config{}, nil, "known-call")
		var info app.CallInfo
		wantOK(t, u.do(req{method: http.MethodGet, target: "/v1/calls/known-call"}), http.StatusOK, &info)
		if info.CallID != "known-call" || info.Caller.Endpoint != "PJSIP/alice" {
			t.Errorf("info = %+v", info)
		}
		var list struct{ Calls []app.CallInfo }
		wantOK(t, u.do(req{method: http.MethodGet, target: "/v1/calls"}), http.StatusOK, &list)
		if len(list.Calls) != 1 || list.Calls[0].CallID != "known-call" {
			t.Errorf("list = %+v", list)
		}
		wantOK(t, u.do(req{method: http.MethodDelete, target: "/v1/calls/known-call"}), http.StatusOK, &info)
		if ops := u.fake.Ops(); len(ops) != 1 || ops[0] != (op{Name: "Hangup", CallID: "known-call"}) {
			t.Errorf("ops = %+v", ops)
		}
	})

	t.Run("through a real server", func(t *testing.T) {
		// The bytes on the wire, for what httptest.NewRequest cannot send.
		u := newUnit(t, api.Config{}, nil)
		ts := httptest.NewServer(u.h)
		defer ts.Close()
		for _, tt := range []struct {
			target string
			want   []int
		}{
			{"/v1/calls/%00", []int{http.StatusNotFound}},
			{"/v1/calls/" + long, []int{http.StatusNotFound}},
			{"/v1/calls/%zz", []int{http.StatusBadRequest}},         // net/http rejects it
			{"/v1/calls/a b", []int{http.StatusBadRequest}},         // net/http rejects it
			{"/v1/calls/\xff", []int{http.StatusNotFound}},          // raw non-UTF-8 byte
			{"/v1/calls/a\x01b", []int{http.StatusBadRequest}},      // control character
			{"/v1/calls/" + strings.Repeat("y", 2<<20), []int{431}}, // over MaxHeaderBytes
		} {
			status := rawGet(t, ts.Listener.Addr().String(), tt.target)
			if !slices.Contains(tt.want, status) {
				t.Errorf("GET %.40q: status %d, want one of %v", tt.target, status, tt.want)
			}
		}
	})
}

// rawGet sends a GET with the target written verbatim and returns the
// status.
func rawGet(t *testing.T, addr, target string) int {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	go func() {
		_, _ = fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: unit\r\nConnection: close\r\n\r\n", target)
	}()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET %.40q: %v", target, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestUnitHoldMedia: hold passes "media" to the application as
// HoldOptions.Media (none: ""), answers the application's refusal of it
// with 400 media_not_allowed and its message, and unhold takes no media.
func TestUnitHoldMedia(t *testing.T) {
	for _, tt := range []struct {
		name, body, media string
	}{
		{name: "with media", body: `{"party":"caller","media":"sound:custom/queue"}`, media: "sound:custom/queue"},
		{name: "without media", body: `{"party":"caller"}`, media: ""},
		{name: "empty media", body: `{"party":"caller","media":""}`, media: ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u := newUnit(t, api.Config{}, nil, "c1")
			if rec := u.do(req{method: "POST", target: "/v1/calls/c1/hold", body: tt.body}); rec.Code != 200 {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			if ops := u.fake.Ops(); len(ops) != 1 || ops[0] != (op{Name: "Hold", CallID: "c1", Party: "caller", Source: app.SourceAPI, Media: tt.media}) {
				t.Fatalf("application saw %+v", ops)
			}
		})
	}
	t.Run("refused", func(t *testing.T) {
		u := newUnit(t, api.Config{}, nil, "c1")
		u.fake.setErr(fmt.Errorf(`%w: "moh:jazz"; allowed: tone:440/500|0/2500, moh:default`, app.ErrMediaNotAllowed))
		rec := u.do(req{method: "POST", target: "/v1/calls/c1/hold", body: `{"party":"caller","media":"moh:jazz"}`})
		var eb api.ErrorBody
		if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil || rec.Code != 400 || eb.Error.Code != api.CodeMediaNotAllowed {
			t.Fatalf("status %d %s: %v", rec.Code, rec.Body, err)
		}
		if !strings.Contains(eb.Error.Message, "allowed: tone:440/500|0/2500, moh:default") {
			t.Errorf("message %q does not list the allowed media", eb.Error.Message)
		}
	})
	t.Run("unhold takes no media", func(t *testing.T) {
		u := newUnit(t, api.Config{}, nil, "c1")
		rec := u.do(req{method: "POST", target: "/v1/calls/c1/unhold", body: `{"party":"caller","media":"moh"}`})
		if rec.Code != 400 || len(u.fake.Ops()) != 0 {
			t.Fatalf("status %d, application saw %+v", rec.Code, u.fake.Ops())
		}
	})
}

// TestUnitPartyBody: hold and unhold read one strict JSON object; anything
// else is rejected before the application sees it.
func TestUnitPartyBody(t *testing.T) {
	huge := `{"party":"` + strings.Repeat("c", 17<<10) + `"}`
	tests := []struct {
		name        string
		body        string
		noBody      bool
		contentType string
		status      int
		code        string
		msg         string // part of the message, if set
	}{
		{name: "missing body", noBody: true, status: 400, code: api.CodeBadRequest, msg: "empty body"},
		{name: "empty body", body: "", contentType: "application/json", status: 400, code: api.CodeBadRequest, msg: "empty body"},
		{name: "whitespace only", body: " \n\t ", status: 400, code: api.CodeBadRequest, msg: "empty body"},
		{name: "empty object", body: `{}`, status: 400, code: api.CodeUnknownParty, msg: `"party" is required`},
		{name: "empty party", body: `{"party":""}`, status: 400, code: api.CodeUnknownParty},
		{name: "null party", body: `{"party":null}`, status: 400, code: api.CodeUnknownParty},
		{name: "null", body: `null`, status: 400, code: api.CodeUnknownParty},
		{name: "malformed", body: `{party:caller}`, status: 400, code: api.CodeBadRequest, msg: "malformed JSON"},
		{name: "truncated", body: `{"party":"cal`, status: 400, code: api.CodeBadRequest, msg: "malformed JSON"},
		{name: "truncated after object start", body: `{`, status: 400, code: api.CodeBadRequest, msg: "malformed JSON"},
		{name: "array", body: `[{"party":"caller"}]`, status: 400, code: api.CodeBadRequest, msg: "malformed JSON"},
		{name: "string", body: `"caller"`, status: 400, code: api.CodeBadRequest},
		{name: "number", body: `42`, status: 400, code: api.CodeBadRequest},
		{name: "two objects", body: `{"party":"caller"}{"party":"callee"}`, status: 400, code: api.CodeBadRequest, msg: "exactly one JSON object"},
		{name: "two objects with newline", body: "{\"party\":\"caller\"}\n{\"party\":\"callee\"}", status: 400, code: api.CodeBadRequest},
		{name: "trailing garbage", body: `{"party":"caller"}xyz`, status: 400, code: api.CodeBadRequest},
		{name: "trailing bracket", body: `{"party":"caller"}]`, status: 400, code: api.CodeBadRequest},
		{name: "trailing comma", body: `{"party":"caller"},`, status: 400, code: api.CodeBadRequest},
		{name: "trailing number", body: `{"party":"caller"} 1`, status: 400, code: api.CodeBadRequest},
		{name: "unknown field", body: `{"party":"caller","force":true}`, status: 400, code: api.CodeBadRequest, msg: "unknown field"},
		{name: "wrong field type", body: `{"party":1}`, status: 400, code: api.CodeBadRequest, msg: "malformed JSON"},
		{name: "party object", body: `{"party":{"role":"caller"}}`, status: 400, code: api.CodeBadRequest},
		{name: "huge body", body: huge, status: 400, code: api.CodeBadRequest, msg: "larger than 16384 bytes"},
		{name: "huge trailing whitespace", body: `{"party":"caller"}` + strings.Repeat(" ", 17<<10), status: 400, code: api.CodeBadRequest},
		{name: "text/plain", body: `{"party":"caller"}`, contentType: "text/plain", status: 415, code: api.CodeUnsupportedMedia},
		{name: "form", body: `party=caller`, contentType: "application/x-www-form-urlencoded", status: 415, code: api.CodeUnsupportedMedia},
		{name: "no Content-Type", body: `{"party":"caller"}`, contentType: "-", status: 415, code: api.CodeUnsupportedMedia},
		{name: "bad Content-Type", body: `{"party":"caller"}`, contentType: "application/json; =", status: 415, code: api.CodeUnsupportedMedia},
		{name: "json suffix type", body: `{"party":"caller"}`, contentType: "application/problem+json", status: 415, code: api.CodeUnsupportedMedia},
		// Accepted.
		{name: "caller", body: `{"party":"caller"}`, status: 200},
		{name: "channel id", body: `{"party":"1764112117.12"}`, status: 200},
		{name: "charset", body: `{"party":"callee"}`, contentType: "application/json; charset=utf-8", status: 200},
		{name: "upper-case type", body: `{"party":"callee"}`, contentType: "Application/JSON", status: 200},
		{name: "surrounding whitespace", body: " \n{ \"party\" : \"caller\" }\n\n", status: 200},
		{name: "just under the limit", body: `{"party":"` + strings.Repeat("c", 16<<10-12) + `"}`, status: 200},
	}
	for _, path := range []struct{ suffix, opName string }{{"/hold", "Hold"}, {"/unhold", "Resume"}} {
		for _, tt := range tests {
			t.Run(path.opName+"/"+tt.name, func(t *testing.T) {
				u := newUnit(t, api.Config{}, nil, "c1")
				rec := u.do(req{method: http.MethodPost, target: "/v1/calls/c1" + path.suffix, body: tt.body, noBody: tt.noBody, contentType: tt.contentType})
				if tt.status == http.StatusOK {
					var info app.CallInfo
					wantOK(t, rec, http.StatusOK, &info)
					var want api.PartyRequest
					_ = json.Unmarshal([]byte(tt.body), &want)
					ops := u.fake.Ops()
					if len(ops) != 1 || ops[0] != (op{Name: path.opName, CallID: "c1", Party: want.Party, Source: app.SourceAPI}) {
						t.Errorf("application saw %.200v", ops)
					}
					if info.CallID != "c1" {
						t.Errorf("reply %+v", info)
					}
					return
				}
				msg := wantError(t, rec, tt.status, tt.code)
				if tt.msg != "" && !strings.Contains(msg, tt.msg) {
					t.Errorf("message %q does not contain %q", msg, tt.msg)
				}
				wantNoOps(t, u.fake)
			})
		}
	}

	t.Run("MaxBodyBytes", func(t *testing.T) {
		u := newUnit(t, api.Config{MaxBodyBytes: 20}, nil, "c1")
		msg := wantError(t, u.do(req{method: http.MethodPost, target: "/v1/calls/c1/hold", body: `{"party":"callee-with-a-long-id"}`}),
			http.StatusBadRequest, api.CodeBadRequest)
		if !strings.Contains(msg, "20 bytes") {
			t.Errorf("message %q", msg)
		}
		wantNoOps(t, u.fake)
		wantOK(t, u.do(req{method: http.MethodPost, target: "/v1/calls/c1/hold", body: `{"party":"caller"}`}), http.StatusOK, nil)
	})

	t.Run("operation has a deadline", func(t *testing.T) {
		u := newUnit(t, api.Config{OperationTimeout: time.Minute}, nil, "c1")
		wantOK(t, u.do(req{method: http.MethodPost, target: "/v1/calls/c1/hold", body: `{"party":"caller"}`}), http.StatusOK, nil)
		u.fake.mu.Lock()
		defer u.fake.mu.Unlock()
		if !u.fake.ctxDeadline {
			t.Error("the operation's context has no deadline")
		}
	})
}

// TestUnitMuteBody: mute and unmute pass the party and the direction to
// the application, "both" when the body names none; a body without a
// party is refused before the application sees it.
func TestUnitMuteBody(t *testing.T) {
	tests := []struct {
		name, body string
		want       op // Name and CallID are filled in
		status     int
		code       string
	}{
		{name: "in", body: `{"party":"caller","direction":"in"}`, want: op{Party: "caller", Direction: app.MuteIn}, status: 200},
		{name: "out", body: `{"party":"callee","direction":"out"}`, want: op{Party: "callee", Direction: app.MuteOut}, status: 200},
		{name: "both", body: `{"party":"caller","direction":"both"}`, want: op{Party: "caller", Direction: app.MuteBoth}, status: 200},
		{name: "omitted is both", body: `{"party":"1764112117.12"}`, want: op{Party: "1764112117.12", Direction: app.MuteBoth}, status: 200},
		// The application judges the direction (app.ErrInvalidDirection).
		{name: "other passed on", body: `{"party":"caller","direction":"sideways"}`, want: op{Party: "caller", Direction: "sideways"}, status: 200},
		{name: "no party", body: `{"direction":"in"}`, status: 400, code: api.CodeUnknownParty},
		{name: "direction not a string", body: `{"party":"caller","direction":1}`, status: 400, code: api.CodeBadRequest},
		{name: "unknown field", body: `{"party":"caller","direction":"in","all":true}`, status: 400, code: api.CodeBadRequest},
	}
	for _, path := range []struct{ suffix, opName string }{{"/mute", "Mute"}, {"/unmute", "Unmute"}} {
		for _, tt := range tests {
			t.Run(path.opName+"/"+tt.name, func(t *testing.T) {
				u := newUnit(t, api.Config{}, nil, "c1")
				rec := u.do(req{method: http.MethodPost, target: "/v1/calls/c1" + path.suffix, body: tt.body})
				if tt.status != http.StatusOK {
					wantError(t, rec, tt.status, tt.code)
					wantNoOps(t, u.fake)
					return
				}
				var info app.CallInfo
				wantOK(t, rec, http.StatusOK, &info)
				want := tt.want
				want.Name, want.CallID, want.Source = path.opName, "c1", app.SourceAPI
				if ops := u.fake.Ops(); len(ops) != 1 || ops[0] != want {
					t.Errorf("application saw %+v, want %+v", ops, want)
				}
			})
		}
	}
}

// TestUnitErrorMapping: each app error, wrapped, maps to its status and code,
// on every route that runs an operation; the message is the error's text.
func TestUnitErrorMapping(t *testing.T) {
	tests := []struct {
		err    error
		status int
		code   string
	}{
		{app.ErrCallNotFound, 404, api.CodeCallNotFound},
		{app.ErrUnknownParty, 400, api.CodeUnknownParty},
		{app.ErrNotHolding, 409, api.CodeNotHolding},
		{app.ErrNotEstablished, 409, api.CodeNotEstablished},
		{app.ErrHoldRefused, 403, api.CodeHoldRefused},
		{app.ErrHoldFailed, 502, api.CodeHoldFailed},
		{app.ErrUnholdFailed, 502, api.CodeUnholdFailed},
		{app.ErrCallEnded, 409, api.CodeCallEnded},
		{app.ErrInvalidEndpoint, 400, api.CodeInvalidEndpoint},
		{app.ErrInvalidDirection, 400, api.CodeInvalidDirection},
		{app.ErrMuteFailed, 502, api.CodeMuteFailed},
		{app.ErrClosed, 503, api.CodeUnavailable},
		{context.DeadlineExceeded, 504, api.CodeTimeout},
		{errors.New("something else"), 500, api.CodeInternal},
		{ari.ErrClosed, 500, api.CodeInternal},
		{context.Canceled, 499, api.CodeCanceled}, // the client left: nobody reads it, no warning
		// As app's resume wraps a failed step: the app error decides.
		{fmt.Errorf("%w: %w", app.ErrUnholdFailed, context.DeadlineExceeded), 502, api.CodeUnholdFailed},
		{fmt.Errorf("%w: %w", app.ErrHoldFailed, ari.ErrClosed), 502, api.CodeHoldFailed},
		{fmt.Errorf("%w: %w", app.ErrMuteFailed, ari.ErrChannelNotFound), 502, api.CodeMuteFailed},
	}
	routes := []struct{ method, target, body string }{
		{http.MethodPost, "/v1/calls/c1/hold", `{"party":"caller"}`},
		{http.MethodPost, "/v1/calls/c1/unhold", `{"party":"caller"}`},
		{http.MethodPost, "/v1/calls/c1/mute", `{"party":"caller","direction":"both"}`},
		{http.MethodDelete, "/v1/calls/c1", ""},
		{http.MethodPost, "/v1/calls", `{"from":"PJSIP/alice","to":"PJSIP/bob"}`},
	}
	for _, tt := range tests {
		for _, rt := range routes {
			t.Run(tt.code+"/"+rt.method+" "+rt.target, func(t *testing.T) {
				u := newUnit(t, api.Config{}, nil, "c1")
				wrapped := fmt.Errorf("operation on c1: %w", tt.err)
				u.fake.setErr(wrapped)
				rec := u.do(req{method: rt.method, target: rt.target, body: rt.body})
				msg := wantError(t, rec, tt.status, tt.code)
				if msg != wrapped.Error() {
					t.Errorf("message %q, want %q", msg, wrapped)
				}
				if rec.Header().Get("Location") != "" {
					t.Errorf("Location %q on an error", rec.Header().Get("Location"))
				}
				if len(u.fake.Ops()) != 1 {
					t.Errorf("ops %+v", u.fake.Ops())
				}
				// Server-side failures are logged, client errors are not.
				warned := u.logs.FilterMessage("api request failed").Len()
				if want := tt.status >= 500; (warned == 1) != want {
					t.Errorf("%d warnings for a %d", warned, tt.status)
				}
			})
		}
	}
}

// TestUnitServerTiming: every operation's reply, success or failure,
// carries how long the operation took inside ariapp (Server-Timing).
func TestUnitServerTiming(t *testing.T) {
	routes := []struct{ method, target, body string }{
		{http.MethodPost, "/v1/calls/c1/hold", `{"party":"caller"}`},
		{http.MethodPost, "/v1/calls/c1/unhold", `{"party":"caller"}`},
		{http.MethodDelete, "/v1/calls/c1", ""},
		{http.MethodPost, "/v1/calls", `{"from":"PJSIP/alice","to":"PJSIP/bob"}`},
	}
	for _, fail := range []bool{false, true} {
		for _, rt := range routes {
			t.Run(fmt.Sprintf("%s %s/fail=%v", rt.method, rt.target, fail), func(t *testing.T) {
				u := newUnit(t, api.Config{}, nil, "c1")
				u.fake.delay = 30 * time.Millisecond
				if fail {
					u.fake.setErr(app.ErrHoldFailed)
				}
				rec := u.do(req{method: rt.method, target: rt.target, body: rt.body})
				h := rec.Header().Get("Server-Timing")
				ms, ok := strings.CutPrefix(h, "call;dur=")
				dur, err := strconv.ParseFloat(ms, 64)
				if !ok || err != nil || dur < 30 || dur > 10_000 {
					t.Fatalf("Server-Timing %q (status %d), want call;dur=MS with MS ≥ 30", h, rec.Code)
				}
			})
		}
	}
	t.Run("bad request: no operation, no timing", func(t *testing.T) {
		u := newUnit(t, api.Config{}, nil, "c1")
		rec := u.do(req{method: http.MethodPost, target: "/v1/calls/c1/hold", body: `{}`})
		if h := rec.Header().Get("Server-Timing"); h != "" || rec.Code != 400 {
			t.Fatalf("status %d, Server-Timing %q", rec.Code, h)
		}
	})
}

// TestUnitRouting: wrong methods and unknown paths answer JSON, not the
// mux's plain text.
func TestUnitRouting(t *testing.T) {
	for _, tt := range []struct {
		method, target string
		allow          []string
	}{
		{http.MethodPut, "/v1/calls", []string{"GET", "POST"}},
		{http.MethodDelete, "/v1/calls", []string{"GET", "POST"}},
		{http.MethodPatch, "/v1/calls", []string{"GET", "POST"}},
		{http.MethodGet, "/v1/calls/x/hold", []string{"POST"}},
		{http.MethodGet, "/v1/calls/x/unhold", []string{"POST"}},
		{http.MethodDelete, "/v1/calls/x/hold", []string{"POST"}},
		{http.MethodPatch, "/v1/calls/x", []string{"GET", "DELETE"}},
		{http.MethodPost, "/v1/calls/x", []string{"GET", "DELETE"}},
		{http.MethodPut, "/v1/calls/x", []string{"GET", "DELETE"}},
		{http.MethodPost, "/v1/events", []string{"GET"}},
		{http.MethodPost, "/healthz", []string{"GET"}},
		{http.MethodDelete, "/readyz", []string{"GET"}},
		{"BREW", "/v1/calls", []string{"GET", "POST"}},
	} {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			u := newUnit(t, api.Config{}, nil, "x")
			rec := u.do(req{method: tt.method, target: tt.target, body: `{"party":"caller"}`})
			msg := wantError(t, rec, http.StatusMethodNotAllowed, api.CodeMethodNotAllowed)
			if !strings.Contains(msg, tt.method) {
				t.Errorf("message %q does not name the method", msg)
			}
			allow := rec.Header().Get("Allow")
			for _, m := range tt.allow {
				if !strings.Contains(allow, m) {
					t.Errorf("Allow %q lacks %s", allow, m)
				}
			}
			if strings.Contains(allow, tt.method) {
				t.Errorf("Allow %q lists %s", allow, tt.method)
			}
			if u.fake.touched() {
				t.Error("the application was reached")
			}
		})
	}
	for _, target := range []string{"/v1", "/v1/", "/v2/calls", "/console/", "/v1/calls/x/hold/now", "/v1/calls/x/y", "/v1/eventsx", "/healthz/x", "/favicon.ico"} {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			t.Run(method+" "+target, func(t *testing.T) {
				u := newUnit(t, api.Config{}, nil, "x")
				rec := u.do(req{method: method, target: target, body: `{}`})
				msg := wantError(t, rec, http.StatusNotFound, api.CodeNotFound)
				if !strings.Contains(msg, target) {
					t.Errorf("message %q does not name the path", msg)
				}
				if u.fake.touched() {
					t.Error("the application was reached")
				}
			})
		}
	}
	t.Run("HEAD /v1/calls", func(t *testing.T) {
		u := newUnit(t, api.Config{}, nil)
		if rec := u.do(req{method: http.MethodHead, target: "/v1/calls"}); rec.Code != http.StatusOK {
			t.Errorf("status %d", rec.Code)
		}
	})
	t.Run("healthz", func(t *testing.T) {
		u := newUnit(t, api.Config{}, nil)
		var body map[string]string
		wantOK(t, u.do(req{method: http.MethodGet, target: "/healthz"}), http.StatusOK, &body)
		if body["status"] != "ok" {
			t.Errorf("body %v", body)
		}
	})
}

// TestUnitToken: with a token, /v1 needs "Authorization: Bearer TOKEN";
// /healthz and /readyz do not.
func TestUnitToken(t *testing.T) {
	const token = "s3cr3t-T0ken"
	for _, tt := range []struct {
		name, auth string
	}{
		{"no header", ""},
		{"wrong scheme", "Basic " + token},
		{"basic credentials", "Basic dXNlcjpzM2NyM3QtVDBrZW4="},
		{"wrong token", "Bearer nope"},
		{"token prefix", "Bearer " + token[:5]},
		{"token and more", "Bearer " + token + "x"},
		{"two spaces", "Bearer  " + token},
		{"trailing space", "Bearer " + token + " "},
		{"tab", "Bearer\t" + token},
		{"no scheme", token},
		{"scheme only", "Bearer"},
		{"scheme and space", "Bearer "},
		{"token twice", "Bearer " + token + ", Bearer " + token},
	} {
		for _, rt := range []req{
			{method: http.MethodGet, target: "/v1/calls"},
			{method: http.MethodGet, target: "/v1/calls/c1"},
			{method: http.MethodDelete, target: "/v1/calls/c1"},
			{method: http.MethodPost, target: "/v1/calls/c1/hold", body: `{"party":"caller"}`},
			{method: http.MethodPost, target: "/v1/calls/c1/unhold", body: `{"party":"caller"}`},
			{method: http.MethodPost, target: "/v1/calls", body: `{"from":"PJSIP/a","to":"PJSIP/b"}`},
			{method: http.MethodGet, target: "/v1/events"},
		} {
			t.Run(tt.name+"/"+rt.method+" "+rt.target, func(t *testing.T) {
				u := newUnit(t, api.Config{Token: token}, nil, "c1")
				rt.auth = tt.auth
				rec := u.do(rt)
				wantError(t, rec, http.StatusUnauthorized, api.CodeUnauthorized)
				if wa := rec.Header().Get("WWW-Authenticate"); !strings.HasPrefix(wa, "Bearer") {
					t.Errorf("WWW-Authenticate = %q", wa)
				}
				if strings.Contains(rec.Body.String(), token) {
					t.Errorf("the reply tells the token: %s", rec.Body)
				}
				if u.fake.touched() {
					t.Error("the application was reached")
				}
			})
		}
	}
	t.Run("right token", func(t *testing.T) {
		u := newUnit(t, api.Config{Token: token}, nil, "c1")
		auth := "Bearer " + token
		wantOK(t, u.do(req{method: http.MethodGet, target: "/v1/calls", auth: auth}), http.StatusOK, nil)
		wantOK(t, u.do(req{method: http.MethodGet, target: "/v1/calls/c1", auth: auth}), http.StatusOK, nil)
		// The scheme is case-insensitive (RFC 9110); the token is not.
		wantOK(t, u.do(req{method: http.MethodGet, target: "/v1/calls/c1", auth: "bearer " + token}), http.StatusOK, nil)
		wantOK(t, u.do(req{method: http.MethodPost, target: "/v1/calls/c1/hold", body: `{"party":"caller"}`, auth: auth}), http.StatusOK, nil)
		wantOK(t, u.do(req{method: http.MethodPost, target: "/v1/calls/c1/unhold", body: `{"party":"caller"}`, auth: auth}), http.StatusOK, nil)
		wantOK(t, u.do(req{method: http.MethodDelete, target: "/v1/calls/c1", auth: auth}), http.StatusOK, nil)
		wantOK(t, u.do(req{method: http.MethodPost, target: "/v1/calls", body: `{"from":"PJSIP/a","to":"PJSIP/b"}`, auth: auth}), http.StatusCreated, nil)
		if n := len(u.fake.Ops()); n != 4 {
			t.Errorf("%d operations, want 4", n)
		}
		// The token is checked before the body: a bad body with a good
		// token is a 400, not a 401.
		wantError(t, u.do(req{method: http.MethodPost, target: "/v1/calls/c1/hold", body: `{`, auth: auth}), http.StatusBadRequest, api.CodeBadRequest)
	})
	t.Run("health needs no token", func(t *testing.T) {
		u := newUnit(t, api.Config{Token: token}, nil)
		wantOK(t, u.do(req{method: http.MethodGet, target: "/healthz"}), http.StatusOK, nil)
		wantOK(t, u.do(req{method: http.MethodGet, target: "/readyz"}), http.StatusOK, nil)
		wantOK(t, u.do(req{method: http.MethodGet, target: "/healthz", auth: "Bearer wrong"}), http.StatusOK, nil)
	})
	t.Run("no token configured", func(t *testing.T) {
		u := newUnit(t, api.Config{}, nil, "c1")
		wantOK(t, u.do(req{method: http.MethodGet, target: "/v1/calls/c1", auth: "Bearer anything"}), http.StatusOK, nil)
		wantOK(t, u.do(req{method: http.MethodGet, target: "/v1/calls/c1"}), http.StatusOK, nil)
	})
}

// TestUnitReadiness: while ready fails, /readyz is 503 with the reason and
// /v1 refuses changes, but still answers reads.
func TestUnitReadiness(t *testing.T) {
	reason := errors.New("ARI disconnected: dial tcp: connection refused")
	var mu sync.Mutex
	var notReady error = reason
	ready := func() error {
		mu.Lock()
		defer mu.Unlock()
		return notReady
	}
	u := newUnit(t, api.Config{}, ready, "c1")

	msg := wantError(t, u.do(req{method: http.MethodGet, target: "/readyz"}), http.StatusServiceUnavailable, api.CodeUnavailable)
	if !strings.Contains(msg, reason.Error()) {
		t.Errorf("readyz message %q lacks the reason", msg)
	}
	for _, r := range []req{
		{method: http.MethodPost, target: "/v1/calls/c1/hold", body: `{"party":"caller"}`},
		{method: http.MethodPost, target: "/v1/calls/c1/unhold", body: `{"party":"caller"}`},
		{method: http.MethodDelete, target: "/v1/calls/c1"},
		{method: http.MethodPost, target: "/v1/calls", body: `{"from":"PJSIP/a","to":"PJSIP/b"}`},
		{method: http.MethodPost, target: "/v1/calls/c1/hold", body: `{`}, // readiness before the body
	} {
		msg := wantError(t, u.do(r), http.StatusServiceUnavailable, api.CodeUnavailable)
		if !strings.Contains(msg, reason.Error()) {
			t.Errorf("%s %s: message %q lacks the reason", r.method, r.target, msg)
		}
	}
	wantNoOps(t, u.fake)
	wantOK(t, u.do(req{method: http.MethodGet, target: "/v1/calls"}), http.StatusOK, nil)
	wantOK(t, u.do(req{method: http.MethodGet, target: "/v1/calls/c1"}), http.StatusOK, nil)
	wantOK(t, u.do(req{method: http.MethodGet, target: "/healthz"}), http.StatusOK, nil)

	mu.Lock()
	notReady = nil
	mu.Unlock()
	var body map[string]string
	wantOK(t, u.do(req{method: http.MethodGet, target: "/readyz"}), http.StatusOK, &body)
	if body["status"] != "ready" {
		t.Errorf("readyz body %v", body)
	}
	wantOK(t, u.do(req{method: http.MethodPost, target: "/v1/calls/c1/hold", body: `{"party":"caller"}`}), http.StatusOK, nil)
}

// TestUnitOriginate: POST /v1/calls is a 201 with Location; the endpoints
// are the application's to validate.
func TestUnitOriginate(t *testing.T) {
	t.Run("created", func(t *testing.T) {
		u := newUnit(t, api.Config{}, nil)
		rec := u.do(req{method: http.MethodPost, target: "/v1/calls", body: `{"from":"PJSIP/alice","to":"PJSIP/bob"}`})
		var info app.CallInfo
		wantOK(t, rec, http.StatusCreated, &info)
		if loc := rec.Header().Get("Location"); loc != "/v1/calls/new-call" || info.CallID != "new-call" {
			t.Errorf("Location %q, info %+v", loc, info)
		}
		if ops := u.fake.Ops(); len(ops) != 1 || ops[0] != (op{Name: "Originate", From: "PJSIP/alice", To: "PJSIP/bob"}) {
			t.Errorf("ops %+v", ops)
		}
	})
	for _, tt := range []struct{ name, body, from, to string }{
		{"missing both", `{}`, "", ""},
		{"missing to", `{"from":"PJSIP/alice"}`, "PJSIP/alice", ""},
		{"missing from", `{"to":"PJSIP/bob"}`, "", "PJSIP/bob"},
		{"not TECH/resource", `{"from":"alice","to":"bob"}`, "alice", "bob"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u := newUnit(t, api.Config{}, nil)
			u.fake.setErr(fmt.Errorf("endpoint %q: %w", tt.to, app.ErrInvalidEndpoint))
			rec := u.do(req{method: http.MethodPost, target: "/v1/calls", body: tt.body})
			wantError(t, rec, http.StatusBadRequest, api.CodeInvalidEndpoint)
			if ops := u.fake.Ops(); len(ops) != 1 || ops[0] != (op{Name: "Originate", From: tt.from, To: tt.to}) {
				t.Errorf("ops %+v", ops)
			}
		})
	}
	for _, tt := range []struct{ name, body, contentType, code string }{
		{"unknown field", `{"from":"PJSIP/a","to":"PJSIP/b","via":"x"}`, "", api.CodeBadRequest},
		{"wrong type", `{"from":["PJSIP/a"],"to":"PJSIP/b"}`, "", api.CodeBadRequest},
		{"two objects", `{"from":"PJSIP/a"}{"to":"PJSIP/b"}`, "", api.CodeBadRequest},
		{"text/plain", `{"from":"PJSIP/a","to":"PJSIP/b"}`, "text/plain", api.CodeUnsupportedMedia},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u := newUnit(t, api.Config{}, nil)
			rec := u.do(req{method: http.MethodPost, target: "/v1/calls", body: tt.body, contentType: tt.contentType})
			status := http.StatusBadRequest
			if tt.code == api.CodeUnsupportedMedia {
				status = http.StatusUnsupportedMediaType
			}
			wantError(t, rec, status, tt.code)
			wantNoOps(t, u.fake)
		})
	}
}

// sse opens an event stream and returns the response and a reader of it.
func sse(t *testing.T, ctx context.Context, client *http.Client, url string) (*http.Response, *bufio.Reader) {
	t.Helper()
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	return resp, bufio.NewReader(resp.Body)
}

func readUntilBlank(t *testing.T, br *bufio.Reader) []string {
	t.Helper()
	var lines []string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("after %q: %v", lines, err)
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			return lines
		}
		lines = append(lines, line)
	}
}

// waitEOF reads the stream to its end, failing if it does not end soon.
func waitEOF(t *testing.T, body io.Reader) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, body)
		done <- err
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the stream did not end")
	}
}

// TestUnitEvents: the SSE stream's opening and ends, without events (a
// never started App has none to give).
func TestUnitEvents(t *testing.T) {
	ignore := goleak.IgnoreCurrent()

	func() {
		u := newUnit(t, api.Config{Heartbeat: 20 * time.Millisecond, Token: "tok"}, nil, "c1")
		ts := httptest.NewServer(u.h)
		defer ts.Close()
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		client := &http.Client{Transport: tr}
		get := func(ctx context.Context, path string) (*http.Response, *bufio.Reader) {
			r, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+path, nil)
			r.Header.Set("Authorization", "Bearer tok")
			resp, err := client.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			return resp, bufio.NewReader(resp.Body)
		}

		t.Run("unknown call", func(t *testing.T) {
			resp, _ := get(context.Background(), "/v1/events?call_id=unknown")
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			rec := httptest.NewRecorder()
			for k, v := range resp.Header {
				rec.Header()[k] = v
			}
			rec.WriteHeader(resp.StatusCode)
			_, _ = rec.Body.Write(body)
			wantError(t, rec, http.StatusNotFound, api.CodeCallNotFound)
			if got := u.fake.Lookups(); len(got) != 1 || got[0] != "unknown" {
				t.Errorf("lookups %q", got)
			}
		})

		t.Run("client cancels", func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			resp, br := get(ctx, "/v1/events")
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
				t.Errorf("Content-Type %q", ct)
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-cache" {
				t.Errorf("Cache-Control %q", cc)
			}
			if got := readUntilBlank(t, br); !slices.Equal(got, []string{": ariapp events"}) {
				t.Errorf("opening %q", got)
			}
			// Heartbeats keep coming.
			for range 2 {
				if got := readUntilBlank(t, br); !slices.Equal(got, []string{": keep-alive"}) {
					t.Errorf("heartbeat %q", got)
				}
			}
			cancel()
			waitEOF(t, br)
		})

		t.Run("one call", func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			resp, br := get(ctx, "/v1/events?call_id=c1")
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
				t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if got := readUntilBlank(t, br); !slices.Equal(got, []string{": ariapp events of call c1"}) {
				t.Errorf("opening %q", got)
			}
			cancel()
			waitEOF(t, br)
		})

		// The mux routes HEAD to the GET handler. A HEAD must answer the
		// stream's headers and end: it used to run the stream (its writes
		// eaten) until the client closed the connection, so the next
		// request on that keep-alive connection hung.
		t.Run("HEAD", func(t *testing.T) {
			hc := &http.Client{Transport: tr, Timeout: 5 * time.Second}
			for _, path := range []string{"/v1/events", "/v1/events?call_id=c1"} {
				r, _ := http.NewRequest(http.MethodHead, ts.URL+path, nil)
				r.Header.Set("Authorization", "Bearer tok")
				resp, err := hc.Do(r)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
					t.Errorf("HEAD %s: status %d, Content-Type %q", path, resp.StatusCode, resp.Header.Get("Content-Type"))
				}
				// The same connection serves the next request.
				resp, err = hc.Get(ts.URL + "/healthz")
				if err != nil {
					t.Fatalf("GET after HEAD %s: %v", path, err)
				}
				resp.Body.Close()
			}
			r, _ := http.NewRequest(http.MethodHead, ts.URL+"/v1/events?call_id=unknown", nil)
			r.Header.Set("Authorization", "Bearer tok")
			resp, err := hc.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("HEAD of an unknown call's events: %d", resp.StatusCode)
			}
		})

		t.Run("server closes", func(t *testing.T) {
			resp, br := get(context.Background(), "/v1/events")
			defer resp.Body.Close()
			readUntilBlank(t, br)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := u.srv.Close(ctx); err != nil {
				t.Errorf("Close: %v", err)
			}
			waitEOF(t, br)
		})
	}()

	t.Run("application closes", func(t *testing.T) {
		u := newUnit(t, api.Config{}, nil)
		ts := httptest.NewServer(u.h)
		defer ts.Close()
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		resp, br := sse(t, context.Background(), &http.Client{Transport: tr}, ts.URL+"/v1/events")
		defer resp.Body.Close()
		readUntilBlank(t, br)
		u.fake.app.Close() // closes every subscription
		waitEOF(t, br)
	})

	goleak.VerifyNone(t, ignore)
}

// TestUnitServerStartClose: Start on a free port, Close twice; Start on a
// port in use fails naming it.
func TestUnitServerStartClose(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	func() {
		f := newFakeCalls(t)
		s := api.New(api.Config{Listen: "127.0.0.1:0"}, f, nil, nil)
		if s.Addr() != "" {
			t.Errorf("Addr before Start = %q", s.Addr())
		}
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		addr := s.Addr()
		if addr == "" || strings.HasSuffix(addr, ":0") {
			t.Fatalf("Addr = %q", addr)
		}
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Get("http://" + addr + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("healthz status %d", resp.StatusCode)
		}

		// A port in use.
		s2 := api.New(api.Config{Listen: addr}, f, nil, nil)
		err = s2.Start()
		if err == nil || !strings.Contains(err.Error(), addr) {
			t.Errorf("Start on %s in use: %v", addr, err)
		}
		if err := s2.Close(context.Background()); err != nil {
			t.Errorf("Close of a server that never started: %v", err)
		}

		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := s.Close(ctx); err != nil {
			t.Errorf("second Close: %v", err)
		}
		if _, err := (&http.Client{Transport: tr, Timeout: time.Second}).Get("http://" + addr + "/healthz"); err == nil {
			t.Error("still serving after Close")
		}
	}()
	goleak.VerifyNone(t, ignore)
}

// TestUnitRequestLog: one line per request, without the Authorization
// header or the token, whatever the outcome.
func TestUnitRequestLog(t *testing.T) {
	const token = "very-secret-token-4711"
	u := newUnit(t, api.Config{Token: token}, nil, "c1")
	u.fake.setErr(errors.New("boom")) // a 500: fail() logs too
	reqs := []req{
		{method: http.MethodGet, target: "/v1/calls", auth: "Bearer " + token},
		{method: http.MethodGet, target: "/v1/calls", auth: "Bearer wrong-" + token},
		{method: http.MethodGet, target: "/v1/calls", auth: "Basic " + token},
		{method: http.MethodPost, target: "/v1/calls/c1/hold", body: `{"party":"caller"}`, auth: "Bearer " + token},
		{method: http.MethodPost, target: "/v1/calls/c1/hold", body: `{`, auth: "Bearer " + token},
		{method: http.MethodDelete, target: "/v1/calls/c1", auth: "Bearer " + token},
		{method: http.MethodGet, target: "/v1/calls/c1?token=" + token, auth: "Bearer " + token},
		{method: http.MethodPut, target: "/v1/calls", auth: "Bearer " + token},
		{method: http.MethodGet, target: "/nowhere", auth: "Bearer " + token},
		{method: http.MethodGet, target: "/healthz", auth: "Bearer " + token},
	}
	for _, r := range reqs {
		u.do(r)
	}
	lines := u.logs.FilterMessage("api request").AllUntimed()
	if len(lines) != len(reqs) {
		t.Errorf("%d request lines for %d requests", len(lines), len(reqs))
	}
	for i, e := range lines {
		if i >= len(reqs) {
			break
		}
		m := e.ContextMap()
		if m["method"] != reqs[i].method || m["path"] != strings.Split(reqs[i].target, "?")[0] || m["status"] == nil {
			t.Errorf("line %d: %v", i, m)
		}
	}
	for _, e := range u.logs.AllUntimed() {
		text := e.Message + " " + fmt.Sprint(e.ContextMap())
		if strings.Contains(text, token) || strings.Contains(strings.ToLower(text), "authorization") || strings.Contains(text, "Bearer") {
			t.Errorf("log line tells the credentials: %s", text)
		}
	}
}

// FuzzHoldBody: whatever the body and Content-Type, POST .../hold answers
// a JSON 200, 400 or 415, never a 500 or a panic; the application sees the
// hold exactly when the answer is 200, with the party of the body.
func FuzzHoldBody(f *testing.F) {
	for _, seed := range []struct{ body, ct string }{
		{`{"party":"caller"}`, "application/json"},
		{`{"party":"callee"}`, "application/json; charset=utf-8"},
		{`{"party":"1764112117.12"}`, "application/json"},
		{`{}`, "application/json"},
		{``, "application/json"},
		{`null`, "application/json"},
		{`{"party":1}`, "application/json"},
		{`{"party":"caller","x":1}`, "application/json"},
		{`{"party":"caller"}{"party":"callee"}`, "application/json"},
		{`{"party":"caller"} x`, "application/json"},
		{`[{"party":"caller"}]`, "application/json"},
		{`{"party":"\u0000\ud800"}`, "application/json"},
		{`{"PARTY":"caller"}`, "application/json"},
		{`{"party":"caller","party":"callee"}`, "application/json"},
		{"{\"party\":\"\xff\"}", "application/json"},
		{`{"party":"caller"}`, "text/plain"},
		{`{"party":"caller"}`, ""},
		{`{"party":"caller"}`, "application/json; charset"},
		{`{"party":"caller","media":"moh:jazz"}`, "application/json"},
		{`{"party":"caller","media":1}`, "application/json"},
		{`{"media":"moh"}`, "application/json"},
	} {
		f.Add(seed.body, seed.ct)
	}
	f.Fuzz(func(t *testing.T, body, ct string) {
		u := newUnit(t, api.Config{MaxBodyBytes: 1 << 10}, nil, "x")
		hr := httptest.NewRequest(http.MethodPost, "/v1/calls/x/hold", strings.NewReader(body))
		hr.Header.Set("Content-Type", ct)
		rec := httptest.NewRecorder()
		u.h.ServeHTTP(rec, hr)
		if ctype := rec.Header().Get("Content-Type"); ctype != "application/json" {
			t.Fatalf("Content-Type %q", ctype)
		}
		ops := u.fake.Ops()
		switch rec.Code {
		case http.StatusOK:
			var info app.CallInfo
			if err := json.Unmarshal(rec.Body.Bytes(), &info); err != nil || info.CallID != "x" {
				t.Fatalf("reply %q: %v", rec.Body, err)
			}
			var want api.HoldRequest
			if err := json.Unmarshal([]byte(body), &want); err != nil {
				t.Fatalf("accepted %q, which is not one JSON object: %v", body, err)
			}
			if want.Party == "" || len(ops) != 1 || ops[0] != (op{Name: "Hold", CallID: "x", Party: want.Party, Source: app.SourceAPI, Media: want.Media}) {
				t.Fatalf("body %q: application saw %+v", body, ops)
			}
		case http.StatusBadRequest, http.StatusUnsupportedMediaType:
			var eb api.ErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil || eb.Error.Code == "" || eb.Error.Message == "" {
				t.Fatalf("error reply %q: %v", rec.Body, err)
			}
			if len(ops) != 0 {
				t.Fatalf("rejected %q (%s) but the application saw %+v", body, eb.Error.Code, ops)
			}
		default:
			t.Fatalf("body %q, Content-Type %q: status %d %s", body, ct, rec.Code, rec.Body)
		}
	})
}
