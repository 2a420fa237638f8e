package ari_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ariapp/ariapp/ari"
)

func wantBasicAuth() string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(unitUser+":"+unitPass))
}

// TestUnitRESTWireFormat checks what each REST method puts on the wire:
// method, escaped path, query and JSON body.
func TestUnitRESTWireFormat(t *testing.T) {
	type call func(ctx context.Context, c *ari.Client) error
	ignore1 := func(_ any, err error) error { return err }
	tests := []struct {
		name      string
		call      call
		method    string
		path      string // escaped, below /ari
		query     url.Values
		body      string // JSON, "" for none
		configApp string // Config.Application override
	}{
		{
			name: "Originate full",
			call: func(ctx context.Context, c *ari.Client) error {
				return ignore1(c.Originate(ctx, ari.OriginateParams{
					Endpoint:       "PJSIP/bob",
					ChannelID:      "call-1",
					OtherChannelID: "call-1;2",
					App:            "ariapp",
					AppArgs:        []string{"outbound", "leg b", "x=1"},
					CallerID:       `"Alice" <alice>`,
					Timeout:        1500 * time.Millisecond,
					Originator:     "in-1",
					Formats:        "ulaw,alaw",
					Variables:      map[string]string{"ARIAPP_TEST": "1", "CALLERID(name)": "Alice & Bob"},
				}))
			},
			method: "POST", path: "/channels",
			query: url.Values{
				"endpoint": {"PJSIP/bob"}, "channelId": {"call-1"}, "otherChannelId": {"call-1;2"},
				"app": {"ariapp"}, "appArgs": {"outbound,leg b,x=1"}, "callerId": {`"Alice" <alice>`},
				"timeout": {"2"}, "originator": {"in-1"}, "formats": {"ulaw,alaw"},
			},
			body: `{"variables":{"ARIAPP_TEST":"1","CALLERID(name)":"Alice & Bob"}}`,
		},
		{
			name: "Originate with reported variables",
			call: func(ctx context.Context, c *ari.Client) error {
				return ignore1(c.Originate(ctx, ari.OriginateParams{
					Endpoint: "PJSIP/bob", App: "a", Variables: map[string]string{"ARIAPP_ROLE": "callee", "ARIAPP_HELD": ""}, ReportVariables: true,
				}))
			},
			method: "POST", path: "/channels",
			query: url.Values{"endpoint": {"PJSIP/bob"}, "app": {"a"}},
			body:  `{"variables":{"ARIAPP_ROLE":{"value":"callee","report_events":true},"ARIAPP_HELD":{"value":"","report_events":true}}}`,
		},
		{
			name: "SetVars reported",
			call: func(ctx context.Context, c *ari.Client) error {
				return c.SetVars(ctx, "c 1", map[string]string{"A": "x", "B": ""}, true)
			},
			method: "POST", path: "/channels/c%201/variables",
			body: `{"variables":{"A":{"value":"x","report_events":true},"B":{"value":"","report_events":true}}}`,
		},
		{
			name: "GetVars",
			call: func(ctx context.Context, c *ari.Client) error {
				return ignore1(c.GetVars(ctx, "c1", "A", "B"))
			},
			method: "GET", path: "/channels/c1/variables",
			query: url.Values{"variables": {"A,B"}},
		},
		{
			name: "SetVars plain",
			call: func(ctx context.Context, c *ari.Client) error {
				return c.SetVars(ctx, "c1", map[string]string{"A": "x"}, false)
			},
			method: "POST", path: "/channels/c1/variables",
			body: `{"variables":{"A":"x"}}`,
		},
		{
			name: "Originate to extension, timeout rounded up from 1ns, no body",
			call: func(ctx context.Context, c *ari.Client) error {
				return ignore1(c.Originate(ctx, ari.OriginateParams{
					Endpoint: "Local/talk@ariapp-test", Extension: "100", Context: "ariapp-in", Priority: 3, Timeout: 1,
				}))
			},
			method: "POST", path: "/channels",
			query: url.Values{"endpoint": {"Local/talk@ariapp-test"}, "extension": {"100"}, "context": {"ariapp-in"}, "priority": {"3"}, "timeout": {"1"}},
		},
		{
			name: "Originate whole seconds stay whole",
			call: func(ctx context.Context, c *ari.Client) error {
				return ignore1(c.Originate(ctx, ari.OriginateParams{Endpoint: "PJSIP/bob", App: "a", Timeout: 30 * time.Second}))
			},
			method: "POST", path: "/channels",
			query: url.Values{"endpoint": {"PJSIP/bob"}, "app": {"a"}, "timeout": {"30"}},
		},
		{
			name: "CreateChannel",
			call: func(ctx context.Context, c *ari.Client) error {
				return ignore1(c.CreateChannel(ctx, ari.CreateParams{
					Endpoint: "PJSIP/bob", App: "ariapp", AppArgs: []string{"a", "b"}, ChannelID: "c1",
					OtherChannelID: "c1-2", Originator: "o1", Formats: "ulaw", Variables: map[string]string{"V": "x"},
				}))
			},
			method: "POST", path: "/channels/create",
			query: url.Values{"endpoint": {"PJSIP/bob"}, "app": {"ariapp"}, "appArgs": {"a,b"}, "channelId": {"c1"}, "otherChannelId": {"c1-2"}, "originator": {"o1"}, "formats": {"ulaw"}},
			body:  `{"variables":{"V":"x"}}`,
		},
		{
			name: "Dial with caller and timeout rounded up",
			call: func(ctx context.Context, c *ari.Client) error {
				return c.Dial(ctx, "c/1", "caller 1", 2500*time.Millisecond)
			},
			method: "POST", path: "/channels/c%2F1/dial",
			query: url.Values{"caller": {"caller 1"}, "timeout": {"3"}},
		},
		{
			name:   "Dial bare",
			call:   func(ctx context.Context, c *ari.Client) error { return c.Dial(ctx, "c1", "", 0) },
			method: "POST", path: "/channels/c1/dial",
		},
		{
			name:   "Channel with slash in id",
			call:   func(ctx context.Context, c *ari.Client) error { return ignore1(c.Channel(ctx, "a/b")) },
			method: "GET", path: "/channels/a%2Fb",
		},
		{
			name:   "Channel with space, question mark and hash in id",
			call:   func(ctx context.Context, c *ari.Client) error { return ignore1(c.Channel(ctx, "a b?c#d")) },
			method: "GET", path: "/channels/a%20b%3Fc%23d",
		},
		{
			name:   "Channels",
			call:   func(ctx context.Context, c *ari.Client) error { return ignore1(c.Channels(ctx)) },
			method: "GET", path: "/channels",
		},
		{
			name:   "Answer",
			call:   func(ctx context.Context, c *ari.Client) error { return c.Answer(ctx, "a/b") },
			method: "POST", path: "/channels/a%2Fb/answer",
		},
		{
			name:   "Ring",
			call:   func(ctx context.Context, c *ari.Client) error { return c.Ring(ctx, "c1") },
			method: "POST", path: "/channels/c1/ring",
		},
		{
			name:   "RingStop",
			call:   func(ctx context.Context, c *ari.Client) error { return c.RingStop(ctx, "c1") },
			method: "DELETE", path: "/channels/c1/ring",
		},
		{
			name:   "Hangup with reason",
			call:   func(ctx context.Context, c *ari.Client) error { return c.Hangup(ctx, "c 1", ari.HangupBusy) },
			method: "DELETE", path: "/channels/c%201",
			query: url.Values{"reason": {"busy"}},
		},
		{
			name:   "Hangup without reason",
			call:   func(ctx context.Context, c *ari.Client) error { return c.Hangup(ctx, "c1", "") },
			method: "DELETE", path: "/channels/c1",
		},
		{
			name: "Play joins media",
			call: func(ctx context.Context, c *ari.Client) error {
				return ignore1(c.Play(ctx, "c/1", "pb/1", "tone:440/500|0/2500", "sound:hello-world"))
			},
			method: "POST", path: "/channels/c%2F1/play/pb%2F1",
			query: url.Values{"media": {"tone:440/500|0/2500,sound:hello-world"}},
		},
		{
			name:   "StartMOH with class",
			call:   func(ctx context.Context, c *ari.Client) error { return c.StartMOH(ctx, "c1", "jazz") },
			method: "POST", path: "/channels/c1/moh",
			query: url.Values{"mohClass": {"jazz"}},
		},
		{
			name:   "StartMOH default class",
			call:   func(ctx context.Context, c *ari.Client) error { return c.StartMOH(ctx, "c1", "") },
			method: "POST", path: "/channels/c1/moh",
		},
		{
			name:   "StopMOH",
			call:   func(ctx context.Context, c *ari.Client) error { return c.StopMOH(ctx, "c1") },
			method: "DELETE", path: "/channels/c1/moh",
		},
		{
			name:   "Hold",
			call:   func(ctx context.Context, c *ari.Client) error { return c.Hold(ctx, "c1") },
			method: "POST", path: "/channels/c1/hold",
		},
		{
			name:   "Unhold",
			call:   func(ctx context.Context, c *ari.Client) error { return c.Unhold(ctx, "c1") },
			method: "DELETE", path: "/channels/c1/hold",
		},
		{
			name:   "Mute in",
			call:   func(ctx context.Context, c *ari.Client) error { return c.Mute(ctx, "c1", ari.MuteIn) },
			method: "POST", path: "/channels/c1/mute",
			query: url.Values{"direction": {"in"}},
		},
		{
			name:   "Mute both by default",
			call:   func(ctx context.Context, c *ari.Client) error { return c.Mute(ctx, "c1", "") },
			method: "POST", path: "/channels/c1/mute",
		},
		{
			name:   "Unmute out",
			call:   func(ctx context.Context, c *ari.Client) error { return c.Unmute(ctx, "c1", ari.MuteOut) },
			method: "DELETE", path: "/channels/c1/mute",
			query: url.Values{"direction": {"out"}},
		},
		{
			name: "SendDTMF",
			call: func(ctx context.Context, c *ari.Client) error {
				return c.SendDTMF(ctx, "c1", "*7", 100*time.Millisecond, 80*time.Millisecond)
			},
			method: "POST", path: "/channels/c1/dtmf",
			query: url.Values{"dtmf": {"*7"}, "between": {"100"}, "duration": {"80"}},
		},
		{
			name:   "GetVar",
			call:   func(ctx context.Context, c *ari.Client) error { return ignore1(c.GetVar(ctx, "c1", "CHANNEL(state)")) },
			method: "GET", path: "/channels/c1/variable",
			query: url.Values{"variable": {"CHANNEL(state)"}},
		},
		{
			name:   "SetVar with empty value",
			call:   func(ctx context.Context, c *ari.Client) error { return c.SetVar(ctx, "c1", "X", "") },
			method: "POST", path: "/channels/c1/variable",
			query: url.Values{"variable": {"X"}, "value": {""}},
		},
		{
			name:   "SetVar",
			call:   func(ctx context.Context, c *ari.Client) error { return c.SetVar(ctx, "c1", "X", "a,b & c") },
			method: "POST", path: "/channels/c1/variable",
			query: url.Values{"variable": {"X"}, "value": {"a,b & c"}},
		},
		{
			name: "CreateBridge",
			call: func(ctx context.Context, c *ari.Client) error {
				return ignore1(c.CreateBridge(ctx, "b/1", "mixing,dtmf_events", "my bridge"))
			},
			method: "POST", path: "/bridges",
			query: url.Values{"bridgeId": {"b/1"}, "type": {"mixing,dtmf_events"}, "name": {"my bridge"}},
		},
		{
			name:   "CreateBridge minimal",
			call:   func(ctx context.Context, c *ari.Client) error { return ignore1(c.CreateBridge(ctx, "b1", "", "")) },
			method: "POST", path: "/bridges",
			query: url.Values{"bridgeId": {"b1"}},
		},
		{
			name:   "Bridge",
			call:   func(ctx context.Context, c *ari.Client) error { return ignore1(c.Bridge(ctx, "b/1")) },
			method: "GET", path: "/bridges/b%2F1",
		},
		{
			name:   "Bridges",
			call:   func(ctx context.Context, c *ari.Client) error { return ignore1(c.Bridges(ctx)) },
			method: "GET", path: "/bridges",
		},
		{
			name:   "DestroyBridge",
			call:   func(ctx context.Context, c *ari.Client) error { return c.DestroyBridge(ctx, "b1") },
			method: "DELETE", path: "/bridges/b1",
		},
		{
			name:   "AddChannel joins ids",
			call:   func(ctx context.Context, c *ari.Client) error { return c.AddChannel(ctx, "b/1", "c1", "c/2", "c 3") },
			method: "POST", path: "/bridges/b%2F1/addChannel",
			query: url.Values{"channel": {"c1,c/2,c 3"}},
		},
		{
			name:   "RemoveChannel",
			call:   func(ctx context.Context, c *ari.Client) error { return c.RemoveChannel(ctx, "b1", "c1") },
			method: "POST", path: "/bridges/b1/removeChannel",
			query: url.Values{"channel": {"c1"}},
		},
		{
			name: "PlayBridge",
			call: func(ctx context.Context, c *ari.Client) error {
				return ignore1(c.PlayBridge(ctx, "b1", "pb1", "sound:a"))
			},
			method: "POST", path: "/bridges/b1/play/pb1",
			query: url.Values{"media": {"sound:a"}},
		},
		{
			name:   "StartBridgeMOH",
			call:   func(ctx context.Context, c *ari.Client) error { return c.StartBridgeMOH(ctx, "b1", "default") },
			method: "POST", path: "/bridges/b1/moh",
			query: url.Values{"mohClass": {"default"}},
		},
		{
			name:   "StopBridgeMOH",
			call:   func(ctx context.Context, c *ari.Client) error { return c.StopBridgeMOH(ctx, "b1") },
			method: "DELETE", path: "/bridges/b1/moh",
		},
		{
			name:   "Playback",
			call:   func(ctx context.Context, c *ari.Client) error { return ignore1(c.Playback(ctx, "pb/1")) },
			method: "GET", path: "/playbacks/pb%2F1",
		},
		{
			name:   "StopPlayback",
			call:   func(ctx context.Context, c *ari.Client) error { return c.StopPlayback(ctx, "pb1") },
			method: "DELETE", path: "/playbacks/pb1",
		},
		{
			name:   "ApplicationInfo default is own app, escaped",
			call:   func(ctx context.Context, c *ari.Client) error { return ignore1(c.ApplicationInfo(ctx, "")) },
			method: "GET", path: "/applications/my%20app%2F1", configApp: "my app/1",
		},
		{
			name:   "ApplicationInfo other app",
			call:   func(ctx context.Context, c *ari.Client) error { return ignore1(c.ApplicationInfo(ctx, "other")) },
			method: "GET", path: "/applications/other",
		},
		{
			name:   "Subscribe",
			call:   func(ctx context.Context, c *ari.Client) error { return ignore1(c.Subscribe(ctx, "bridge:b1")) },
			method: "POST", path: "/applications/" + unitApp + "/subscription",
			query: url.Values{"eventSource": {"bridge:b1"}},
		},
		{
			name:   "Unsubscribe",
			call:   func(ctx context.Context, c *ari.Client) error { return ignore1(c.Unsubscribe(ctx, "channel:c1")) },
			method: "DELETE", path: "/applications/" + unitApp + "/subscription",
			query: url.Values{"eventSource": {"channel:c1"}},
		},
		{
			name:   "Info",
			call:   func(ctx context.Context, c *ari.Client) error { return ignore1(c.Info(ctx)) },
			method: "GET", path: "/asterisk/info",
		},
		{
			name:   "Ping",
			call:   func(ctx context.Context, c *ari.Client) error { return ignore1(c.Ping(ctx)) },
			method: "GET", path: "/asterisk/ping",
		},
	}
	f := newFake(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := unitConfig(f)
			if tt.configApp != "" {
				cfg.Application = tt.configApp
			}
			c := newUnitClient(t, cfg)
			before := len(f.Requests())
			if err := tt.call(bg(t), c); err != nil {
				t.Fatalf("call: %v", err)
			}
			reqs := f.Requests()[before:]
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1: %+v", len(reqs), reqs)
			}
			r := reqs[0]
			if r.Method != tt.method {
				t.Errorf("method %s, want %s", r.Method, tt.method)
			}
			if want := "/ari" + tt.path; r.EscapedPath != want {
				t.Errorf("path %s, want %s", r.EscapedPath, want)
			}
			wantQ := tt.query
			if wantQ == nil {
				wantQ = url.Values{}
			}
			if !reflect.DeepEqual(r.Query, wantQ) {
				t.Errorf("query %v, want %v", r.Query, wantQ)
			}
			if tt.body == "" {
				if r.Body != "" || r.ContentType != "" {
					t.Errorf("body %q (Content-Type %q), want none", r.Body, r.ContentType)
				}
			} else {
				if !jsonEqual(t, r.Body, tt.body) {
					t.Errorf("body %s, want %s", r.Body, tt.body)
				}
				if r.ContentType != "application/json" {
					t.Errorf("Content-Type %q", r.ContentType)
				}
			}
			if r.Auth != wantBasicAuth() {
				t.Errorf("Authorization %q, want %q", r.Auth, wantBasicAuth())
			}
			if r.Accept != "application/json" {
				t.Errorf("Accept %q", r.Accept)
			}
		})
	}
}

func jsonEqual(t *testing.T, a, b string) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal([]byte(a), &va); err != nil {
		t.Errorf("not JSON: %q: %v", a, err)
		return false
	}
	if err := json.Unmarshal([]byte(b), &vb); err != nil {
		t.Fatalf("bad test JSON %q: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}

// TestUnitRESTInvalidArguments: requests that cannot be right are refused
// with ErrInvalidArgument before anything is sent.
func TestUnitRESTInvalidArguments(t *testing.T) {
	ignore1 := func(_ any, err error) error { return err }
	tests := []struct {
		name string
		call func(ctx context.Context, c *ari.Client) error
	}{
		{"Originate no endpoint", func(ctx context.Context, c *ari.Client) error {
			return ignore1(c.Originate(ctx, ari.OriginateParams{App: "a"}))
		}},
		{"Originate neither app nor extension", func(ctx context.Context, c *ari.Client) error {
			return ignore1(c.Originate(ctx, ari.OriginateParams{Endpoint: "PJSIP/bob"}))
		}},
		{"CreateChannel no app", func(ctx context.Context, c *ari.Client) error {
			return ignore1(c.CreateChannel(ctx, ari.CreateParams{Endpoint: "PJSIP/bob"}))
		}},
		{"CreateChannel no endpoint", func(ctx context.Context, c *ari.Client) error {
			return ignore1(c.CreateChannel(ctx, ari.CreateParams{App: "a"}))
		}},
		{"Dial empty id", func(ctx context.Context, c *ari.Client) error { return c.Dial(ctx, "", "", 0) }},
		{"Channel empty id", func(ctx context.Context, c *ari.Client) error { return ignore1(c.Channel(ctx, "")) }},
		{"Answer empty id", func(ctx context.Context, c *ari.Client) error { return c.Answer(ctx, "") }},
		{"Ring empty id", func(ctx context.Context, c *ari.Client) error { return c.Ring(ctx, "") }},
		{"RingStop empty id", func(ctx context.Context, c *ari.Client) error { return c.RingStop(ctx, "") }},
		{"Hangup empty id", func(ctx context.Context, c *ari.Client) error { return c.Hangup(ctx, "", ari.HangupNormal) }},
		{"Play empty channel", func(ctx context.Context, c *ari.Client) error { return ignore1(c.Play(ctx, "", "pb", "sound:a")) }},
		{"Play empty playback id", func(ctx context.Context, c *ari.Client) error { return ignore1(c.Play(ctx, "c1", "", "sound:a")) }},
		{"Play no media", func(ctx context.Context, c *ari.Client) error { return ignore1(c.Play(ctx, "c1", "pb")) }},
		{"Play empty media item", func(ctx context.Context, c *ari.Client) error {
			return ignore1(c.Play(ctx, "c1", "pb", "sound:a", ""))
		}},
		{"Play media with comma", func(ctx context.Context, c *ari.Client) error {
			return ignore1(c.Play(ctx, "c1", "pb", "sound:a", "tone:440/500,0/2500"))
		}},
		{"StartMOH empty id", func(ctx context.Context, c *ari.Client) error { return c.StartMOH(ctx, "", "") }},
		{"StopMOH empty id", func(ctx context.Context, c *ari.Client) error { return c.StopMOH(ctx, "") }},
		{"Hold empty id", func(ctx context.Context, c *ari.Client) error { return c.Hold(ctx, "") }},
		{"Unhold empty id", func(ctx context.Context, c *ari.Client) error { return c.Unhold(ctx, "") }},
		{"Mute empty id", func(ctx context.Context, c *ari.Client) error { return c.Mute(ctx, "", ari.MuteBoth) }},
		{"Unmute empty id", func(ctx context.Context, c *ari.Client) error { return c.Unmute(ctx, "", ari.MuteBoth) }},
		{"SendDTMF empty digits", func(ctx context.Context, c *ari.Client) error { return c.SendDTMF(ctx, "c1", "", 0, 0) }},
		{"GetVar empty id", func(ctx context.Context, c *ari.Client) error { return ignore1(c.GetVar(ctx, "", "X")) }},
		{"GetVar empty name", func(ctx context.Context, c *ari.Client) error { return ignore1(c.GetVar(ctx, "c1", "")) }},
		{"SetVar empty id", func(ctx context.Context, c *ari.Client) error { return c.SetVar(ctx, "", "X", "1") }},
		{"SetVar empty name", func(ctx context.Context, c *ari.Client) error { return c.SetVar(ctx, "c1", "", "1") }},
		{"CreateBridge empty id", func(ctx context.Context, c *ari.Client) error {
			return ignore1(c.CreateBridge(ctx, "", "mixing", ""))
		}},
		{"Bridge empty id", func(ctx context.Context, c *ari.Client) error { return ignore1(c.Bridge(ctx, "")) }},
		{"DestroyBridge empty id", func(ctx context.Context, c *ari.Client) error { return c.DestroyBridge(ctx, "") }},
		{"AddChannel empty bridge", func(ctx context.Context, c *ari.Client) error { return c.AddChannel(ctx, "", "c1") }},
		{"AddChannel no channel", func(ctx context.Context, c *ari.Client) error { return c.AddChannel(ctx, "b1") }},
		{"AddChannel empty channel", func(ctx context.Context, c *ari.Client) error { return c.AddChannel(ctx, "b1", "c1", "") }},
		{"AddChannel channel with comma", func(ctx context.Context, c *ari.Client) error {
			return c.AddChannel(ctx, "b1", "c1,c2")
		}},
		{"RemoveChannel no channel", func(ctx context.Context, c *ari.Client) error { return c.RemoveChannel(ctx, "b1") }},
		{"PlayBridge media with comma", func(ctx context.Context, c *ari.Client) error {
			return ignore1(c.PlayBridge(ctx, "b1", "pb", "tone:440/500,0/2500"))
		}},
		{"PlayBridge empty bridge", func(ctx context.Context, c *ari.Client) error {
			return ignore1(c.PlayBridge(ctx, "", "pb", "sound:a"))
		}},
		{"StartBridgeMOH empty id", func(ctx context.Context, c *ari.Client) error { return c.StartBridgeMOH(ctx, "", "") }},
		{"StopBridgeMOH empty id", func(ctx context.Context, c *ari.Client) error { return c.StopBridgeMOH(ctx, "") }},
		{"Playback empty id", func(ctx context.Context, c *ari.Client) error { return ignore1(c.Playback(ctx, "")) }},
		{"StopPlayback empty id", func(ctx context.Context, c *ari.Client) error { return c.StopPlayback(ctx, "") }},
		{"Subscribe empty source", func(ctx context.Context, c *ari.Client) error { return ignore1(c.Subscribe(ctx, "")) }},
		{"Unsubscribe empty source", func(ctx context.Context, c *ari.Client) error { return ignore1(c.Unsubscribe(ctx, "")) }},
	}
	f := newFake(t)
	c := newUnitClient(t, unitConfig(f))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(f.Requests())
			err := tt.call(bg(t), c)
			if !errors.Is(err, ari.ErrInvalidArgument) {
				t.Fatalf("err = %v, want ErrInvalidArgument", err)
			}
			var apiErr *ari.APIError
			if errors.As(err, &apiErr) {
				t.Errorf("err is an *APIError %+v; nothing was sent", apiErr)
			}
			if n := len(f.Requests()) - before; n != 0 {
				t.Errorf("%d requests sent, want none", n)
			}
		})
	}
	if strings.Contains(func() string {
		_, err := c.Play(bg(t), "c1", "pb", "tone:440/500,0/2500")
		return err.Error()
	}(), "|") == false {
		t.Errorf("the comma error should suggest '|' as the tone separator")
	}
}

// TestUnitRESTReplies: replies are decoded into the models.
func TestUnitRESTReplies(t *testing.T) {
	f := newFake(t)
	c := newUnitClient(t, unitConfig(f))
	ctx := bg(t)
	replies := map[string]string{
		"POST /ari/channels": `{"id":"call-1","name":"PJSIP/bob-00000001","state":"Down","protocol_id":"",
			"caller":{"name":"","number":""},"connected":{"name":"","number":""},"accountcode":"",
			"dialplan":{"context":"default","exten":"s","priority":1,"app_name":"AppDial2","app_data":"(Outgoing Line)"},
			"creationtime":"2026-11-25T23:08:37.149+0000","language":"en"}`,
		"GET /ari/channels":                `[{"id":"a","state":"Up"},{"id":"b","state":"Ring"}]`,
		"GET /ari/bridges":                 `[]`,
		"GET /ari/channels/c1/variable":    `{"value":"Up"}`,
		"POST /ari/bridges":                `{"id":"b1","technology":"simple_bridge","bridge_type":"mixing","bridge_class":"stasis","creator":"Stasis","name":"","channels":[],"creationtime":"2026-11-25T23:08:37.150+0000","video_mode":"none"}`,
		"POST /ari/channels/c1/play/pb1":   `{"id":"pb1","media_uri":"sound:hello-world","target_uri":"channel:c1","language":"en","state":"queued"}`,
		"GET /ari/asterisk/info":           `{"build":{"os":"Linux"},"system":{"version":"22.5.0","entity_id":"02:42:ac:11:00:02"},"config":{},"status":{"startup_time":"2026-11-25T22:00:00.000+0000","last_reload_time":"2026-11-25T22:30:00.500+0000"}}`,
		"GET /ari/asterisk/ping":           `{"asterisk_id":"02:42:ac:11:00:02","ping":"pong","timestamp":"2026-11-25T23:08:37.149+0000"}`,
		"GET /ari/applications/" + unitApp: `{"name":"` + unitApp + `","channel_ids":["c1"],"bridge_ids":["b1"],"endpoint_ids":[],"device_names":[],"events_allowed":[],"events_disallowed":[]}`,
		"GET /ari/channels/bad":            `{"id": 42}`,
	}
	f.setReply(func(r *http.Request) (int, string) {
		if body, ok := replies[r.Method+" "+r.URL.Path]; ok {
			return 200, body
		}
		return 204, ""
	})

	ch, err := c.Originate(ctx, ari.OriginateParams{Endpoint: "PJSIP/bob", App: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if ch.ID != "call-1" || ch.State != "Down" || ch.Dialplan.Priority != 1 || ch.Language != "en" ||
		!ch.CreationTime.Equal(time.Date(2026, 11, 25, 23, 8, 37, 149e6, time.UTC)) {
		t.Errorf("Originate reply decoded as %+v", ch)
	}
	chans, err := c.Channels(ctx)
	if err != nil || len(chans) != 2 || chans[0].ID != "a" || chans[1].State != "Ring" {
		t.Errorf("Channels = %+v, %v", chans, err)
	}
	bridges, err := c.Bridges(ctx)
	if err != nil || len(bridges) != 0 {
		t.Errorf("Bridges = %+v, %v", bridges, err)
	}
	v, err := c.GetVar(ctx, "c1", "CHANNEL(state)")
	if err != nil || v != "Up" {
		t.Errorf("GetVar = %q, %v", v, err)
	}
	b, err := c.CreateBridge(ctx, "b1", "mixing", "")
	if err != nil || b.ID != "b1" || b.BridgeType != "mixing" || b.CreationTime.IsZero() {
		t.Errorf("CreateBridge = %+v, %v", b, err)
	}
	pb, err := c.Play(ctx, "c1", "pb1", "sound:hello-world")
	if err != nil || pb.ID != "pb1" || pb.TargetURI != "channel:c1" || pb.State != "queued" {
		t.Errorf("Play = %+v, %v", pb, err)
	}
	info, err := c.Info(ctx)
	if err != nil || info.System.Version != "22.5.0" ||
		!info.Status.LastReloadTime.Equal(time.Date(2026, 11, 25, 22, 30, 0, 500e6, time.UTC)) {
		t.Errorf("Info = %+v, %v", info, err)
	}
	ping, err := c.Ping(ctx)
	if err != nil || ping.Ping != "pong" || ping.AsteriskID == "" {
		t.Errorf("Ping = %+v, %v", ping, err)
	}
	app, err := c.ApplicationInfo(ctx, "")
	if err != nil || app.Name != unitApp || len(app.ChannelIDs) != 1 || app.BridgeIDs[0] != "b1" {
		t.Errorf("ApplicationInfo = %+v, %v", app, err)
	}
	// 204 without a body is fine for calls with a reply model.
	if _, err := c.Subscribe(ctx, "bridge:b1"); err != nil {
		t.Errorf("Subscribe with 204: %v", err)
	}
	// A 2xx with a body that does not fit the model is an error, but not
	// an *APIError: the request did succeed.
	_, err = c.Channel(ctx, "bad")
	var apiErr *ari.APIError
	if err == nil || errors.As(err, &apiErr) || !strings.Contains(err.Error(), "GET /channels/bad") {
		t.Errorf("Channel with undecodable reply: err = %v", err)
	}
}

// TestUnitConfig: New validates the config and does no I/O.
func TestUnitConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  ari.Config
		ok   bool
	}{
		{"ok", ari.Config{URL: "http://127.0.0.1:1/ari", Application: "a"}, true},
		{"https ok", ari.Config{URL: "https://pbx.example/ari/", Application: "a"}, true},
		{"empty URL", ari.Config{Application: "a"}, false},
		{"ws scheme", ari.Config{URL: "ws://127.0.0.1/ari", Application: "a"}, false},
		{"no host", ari.Config{URL: "http:///ari", Application: "a"}, false},
		{"garbage", ari.Config{URL: "::", Application: "a"}, false},
		{"no application", ari.Config{URL: "http://127.0.0.1/ari"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ari.New(tt.cfg)
			if tt.ok {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if c.Application() != tt.cfg.Application {
					t.Errorf("Application() = %q", c.Application())
				}
				c.Close()
				return
			}
			if !errors.Is(err, ari.ErrInvalidArgument) {
				t.Fatalf("New err = %v, want ErrInvalidArgument", err)
			}
		})
	}
}

// TestUnitBaseURLPrefix: REST and the WebSocket follow the configured base
// URL, whatever its path (and a trailing slash is ignored).
func TestUnitBaseURLPrefix(t *testing.T) {
	for _, sub := range []bool{false, true} {
		t.Run(map[bool]string{false: "subscribeAll=false", true: "subscribeAll=true"}[sub], func(t *testing.T) {
			f := newFake(t)
			cfg := unitConfig(f)
			cfg.URL = f.srv.URL + "/pbx/1/ari/"
			cfg.Application = "app one&two"
			cfg.SubscribeAll = sub
			c := newUnitClient(t, cfg)
			if err := c.Answer(bg(t), "c1"); err != nil {
				t.Fatal(err)
			}
			if got := f.Requests()[0].EscapedPath; got != "/pbx/1/ari/channels/c1/answer" {
				t.Errorf("REST path %s", got)
			}
			connect(t, c)
			hs := f.Handshakes()
			if len(hs) != 1 {
				t.Fatalf("%d handshakes", len(hs))
			}
			h := hs[0]
			if h.Method != "GET" || h.EscapedPath != "/pbx/1/ari/events" {
				t.Errorf("handshake %s %s, want GET /pbx/1/ari/events", h.Method, h.EscapedPath)
			}
			want := url.Values{"app": {"app one&two"}, "subscribeAll": {map[bool]string{false: "false", true: "true"}[sub]}}
			if !reflect.DeepEqual(h.Query, want) {
				t.Errorf("handshake query %v, want %v", h.Query, want)
			}
			if h.Auth != wantBasicAuth() {
				t.Errorf("handshake Authorization %q, want %q", h.Auth, wantBasicAuth())
			}
		})
	}
}
