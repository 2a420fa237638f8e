package ari_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ariapp/ariapp/ari"
)

// TestUnitTime: ARI's colon-less offsets, RFC 3339, empty and null.
func TestUnitTime(t *testing.T) {
	utc := func(ms int) time.Time { return time.Date(2026, 11, 25, 23, 8, 37, ms*1e6, time.UTC) }
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{`"2026-11-25T23:08:37.149+0000"`, utc(149), false},
		{`"2026-11-26T00:08:37.149+0100"`, utc(149), false},
		{`"2026-11-25T18:08:37.149-0500"`, utc(149), false},
		{`"2026-11-25T23:08:37+0000"`, utc(0), false},
		{`"2026-11-25T23:08:37.149Z"`, utc(149), false},
		{`"2026-11-25T23:08:37.149+00:00"`, utc(149), false},
		{`""`, time.Time{}, false},
		{`null`, time.Time{}, false},
		{`"yesterday"`, time.Time{}, true},
		{`1764112117`, time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var got ari.Time
			err := json.Unmarshal([]byte(tt.in), &got)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !got.Equal(tt.want) {
				t.Errorf("got %v, want %v", got.Time, tt.want)
			}
		})
	}
	t.Run("marshal", func(t *testing.T) {
		b, err := json.Marshal(ari.Time{utc(149)})
		if err != nil || string(b) != `"2026-11-25T23:08:37.149+0000"` {
			t.Errorf("Marshal = %s, %v", b, err)
		}
		b, err = json.Marshal(ari.Time{})
		if err != nil || string(b) != `""` {
			t.Errorf("Marshal(zero) = %s, %v", b, err)
		}
		var back ari.Time
		if err := json.Unmarshal([]byte(`"2026-11-25T23:08:37.149+0000"`), &back); err != nil || !back.Equal(utc(149)) {
			t.Errorf("round trip = %v, %v", back, err)
		}
	})
}

// Realistic Asterisk 22 JSON for the models inside events.
const (
	evTS      = `"2026-11-25T23:08:37.149+0000"`
	evAstID   = `"02:42:ac:11:00:02"`
	chanAlice = `{"id":"1764112117.12","name":"PJSIP/alice-00000005","state":"Up","protocol_id":"8b0d3e1c@127.0.0.1",
		"caller":{"name":"Alice","number":"alice"},"connected":{"name":"","number":""},"accountcode":"",
		"dialplan":{"context":"ariapp-in","exten":"100","priority":2,"app_name":"Stasis","app_data":"ariapp,inbound"},
		"creationtime":"2026-11-25T23:08:30.001+0000","language":"en","channelvars":{"ARIAPP_TEST":"1"}}`
	chanBob = `{"id":"call-1","name":"PJSIP/bob-00000006","state":"Ringing","protocol_id":"",
		"caller":{"name":"","number":"bob"},"connected":{"name":"Alice","number":"alice"},"accountcode":"",
		"dialplan":{"context":"default","exten":"s","priority":1,"app_name":"AppDial2","app_data":"(Outgoing Line)"},
		"creationtime":"2026-11-25T23:08:31.000+0000","language":"en"}`
	bridgeHold = `{"id":"hold-1","technology":"simple_bridge","bridge_type":"mixing","bridge_class":"stasis",
		"creator":"Stasis","name":"hold for alice","channels":["1764112117.12"],
		"creationtime":"2026-11-25T23:08:36.000+0000","video_mode":"none"}`
	pbChannel = `{"id":"pb-1","media_uri":"tone:440/500|0/2500","target_uri":"channel:1764112117.12","language":"en","state":"playing"}`
	pbBridge  = `{"id":"pb-2","media_uri":"sound:hello-world","next_media_uri":"sound:goodbye","target_uri":"bridge:hold-1","language":"en","state":"continuing"}`
)

func evJSON(typ, fields string) string {
	s := `{"type":"` + typ + `","timestamp":` + evTS + `,"asterisk_id":` + evAstID + `,"application":"ariapp"`
	if fields != "" {
		s += "," + fields
	}
	return s + "}"
}

func checkAlice(t *testing.T, ch ari.Channel) {
	t.Helper()
	if ch.ID != "1764112117.12" || ch.Name != "PJSIP/alice-00000005" || ch.State != "Up" ||
		ch.Caller.Number != "alice" || ch.Dialplan.AppData != "ariapp,inbound" || ch.Dialplan.Priority != 2 ||
		ch.ChannelVars["ARIAPP_TEST"] != "1" || ch.Protocol != "8b0d3e1c@127.0.0.1" ||
		!ch.CreationTime.Equal(time.Date(2026, 11, 25, 23, 8, 30, 1e6, time.UTC)) {
		t.Errorf("channel decoded as %+v", ch)
	}
}

func checkBridge(t *testing.T, b ari.Bridge) {
	t.Helper()
	if b.ID != "hold-1" || b.BridgeType != "mixing" || b.BridgeClass != "stasis" || b.Technology != "simple_bridge" ||
		b.Name != "hold for alice" || !reflect.DeepEqual(b.Channels, []string{"1764112117.12"}) || b.CreationTime.IsZero() {
		t.Errorf("bridge decoded as %+v", b)
	}
}

// TestUnitDecodeEvent decodes a sample of each typed event.
func TestUnitDecodeEvent(t *testing.T) {
	tests := []struct {
		typ    string
		fields string
		check  func(t *testing.T, ev ari.Event)
	}{
		{"StasisStart", `"args":["inbound","a=b"],"channel":` + chanAlice, func(t *testing.T, ev ari.Event) {
			e := ev.(*ari.StasisStart)
			checkAlice(t, e.Channel)
			if !reflect.DeepEqual(e.Args, []string{"inbound", "a=b"}) || e.ReplaceChannel != nil {
				t.Errorf("args %q replace %v", e.Args, e.ReplaceChannel)
			}
		}},
		{"StasisStart", `"args":[],"channel":` + chanBob + `,"replace_channel":` + chanAlice, func(t *testing.T, ev ari.Event) {
			e := ev.(*ari.StasisStart)
			if e.Channel.ID != "call-1" || e.Channel.Connected.Name != "Alice" || e.ReplaceChannel == nil {
				t.Fatalf("decoded %+v", e)
			}
			checkAlice(t, *e.ReplaceChannel)
		}},
		{"StasisEnd", `"channel":` + chanAlice, func(t *testing.T, ev ari.Event) {
			checkAlice(t, ev.(*ari.StasisEnd).Channel)
		}},
		{"ChannelCreated", `"channel":` + chanBob, func(t *testing.T, ev ari.Event) {
			if e := ev.(*ari.ChannelCreated); e.Channel.ID != "call-1" || e.Channel.State != "Ringing" {
				t.Errorf("decoded %+v", e)
			}
		}},
		{"ChannelStateChange", `"channel":` + chanAlice, func(t *testing.T, ev ari.Event) {
			checkAlice(t, ev.(*ari.ChannelStateChange).Channel)
		}},
		{"ChannelDestroyed", `"cause":16,"cause_txt":"Normal Clearing","channel":` + chanAlice, func(t *testing.T, ev ari.Event) {
			e := ev.(*ari.ChannelDestroyed)
			checkAlice(t, e.Channel)
			if e.Cause != 16 || e.CauseTxt != "Normal Clearing" {
				t.Errorf("cause %d %q", e.Cause, e.CauseTxt)
			}
		}},
		{"ChannelHangupRequest", `"soft":true,"cause":17,"channel":` + chanAlice, func(t *testing.T, ev ari.Event) {
			e := ev.(*ari.ChannelHangupRequest)
			checkAlice(t, e.Channel)
			if e.Cause != 17 || !e.Soft {
				t.Errorf("cause %d soft %v", e.Cause, e.Soft)
			}
		}},
		{"ChannelHold", `"channel":` + chanAlice + `,"musicclass":"default"`, func(t *testing.T, ev ari.Event) {
			e := ev.(*ari.ChannelHold)
			checkAlice(t, e.Channel)
			if e.MusicClass != "default" {
				t.Errorf("musicclass %q", e.MusicClass)
			}
		}},
		{"ChannelUnhold", `"channel":` + chanAlice, func(t *testing.T, ev ari.Event) {
			checkAlice(t, ev.(*ari.ChannelUnhold).Channel)
		}},
		{"ChannelDtmfReceived", `"digit":"#","duration_ms":120,"channel":` + chanAlice, func(t *testing.T, ev ari.Event) {
			e := ev.(*ari.ChannelDtmfReceived)
			checkAlice(t, e.Channel)
			if e.Digit != "#" || e.DurationMs != 120 {
				t.Errorf("digit %q duration %d", e.Digit, e.DurationMs)
			}
		}},
		{"ChannelEnteredBridge", `"bridge":` + bridgeHold + `,"channel":` + chanAlice, func(t *testing.T, ev ari.Event) {
			e := ev.(*ari.ChannelEnteredBridge)
			checkAlice(t, e.Channel)
			checkBridge(t, e.Bridge)
		}},
		{"ChannelLeftBridge", `"bridge":` + bridgeHold + `,"channel":` + chanAlice, func(t *testing.T, ev ari.Event) {
			e := ev.(*ari.ChannelLeftBridge)
			checkAlice(t, e.Channel)
			checkBridge(t, e.Bridge)
		}},
		{"BridgeCreated", `"bridge":` + bridgeHold, func(t *testing.T, ev ari.Event) {
			checkBridge(t, ev.(*ari.BridgeCreated).Bridge)
		}},
		{"BridgeDestroyed", `"bridge":` + bridgeHold, func(t *testing.T, ev ari.Event) {
			checkBridge(t, ev.(*ari.BridgeDestroyed).Bridge)
		}},
		{"PlaybackStarted", `"playback":` + pbChannel, func(t *testing.T, ev ari.Event) {
			p := ev.(*ari.PlaybackStarted).Playback
			if p.ID != "pb-1" || p.MediaURI != "tone:440/500|0/2500" || p.TargetURI != "channel:1764112117.12" || p.State != "playing" || p.Language != "en" {
				t.Errorf("playback %+v", p)
			}
		}},
		{"PlaybackContinuing", `"playback":` + pbBridge, func(t *testing.T, ev ari.Event) {
			p := ev.(*ari.PlaybackContinuing).Playback
			if p.ID != "pb-2" || p.NextMediaURI != "sound:goodbye" || p.TargetURI != "bridge:hold-1" || p.State != "continuing" {
				t.Errorf("playback %+v", p)
			}
		}},
		{"PlaybackFinished", `"playback":{"id":"pb-1","media_uri":"sound:x","target_uri":"channel:c1","language":"en","state":"failed"}`, func(t *testing.T, ev ari.Event) {
			if p := ev.(*ari.PlaybackFinished).Playback; p.ID != "pb-1" || p.State != "failed" {
				t.Errorf("playback %+v", p)
			}
		}},
		{"ChannelVarset", `"variable":"ARIAPP_TEST","value":"1","channel":` + chanAlice, func(t *testing.T, ev ari.Event) {
			e := ev.(*ari.ChannelVarset)
			if e.Variable != "ARIAPP_TEST" || e.Value != "1" || e.Channel == nil {
				t.Fatalf("decoded %+v", e)
			}
			checkAlice(t, *e.Channel)
		}},
		{"ChannelVarset", `"variable":"GLOBAL_X","value":"a b"`, func(t *testing.T, ev ari.Event) {
			if e := ev.(*ari.ChannelVarset); e.Variable != "GLOBAL_X" || e.Value != "a b" || e.Channel != nil {
				t.Errorf("global varset decoded %+v", e)
			}
		}},
		{"Dial", `"dialstatus":"RINGING","forward":"","dialstring":"bob","peer":` + chanBob + `,"caller":` + chanAlice, func(t *testing.T, ev ari.Event) {
			e := ev.(*ari.Dial)
			if e.Dialstatus != "RINGING" || e.Dialstring != "bob" || e.Peer.ID != "call-1" || e.Caller == nil || e.Forwarded != nil {
				t.Fatalf("decoded %+v", e)
			}
			checkAlice(t, *e.Caller)
		}},
		{"Dial", `"dialstatus":"","peer":` + chanBob, func(t *testing.T, ev ari.Event) {
			if e := ev.(*ari.Dial); e.Caller != nil || e.Peer.ID != "call-1" || e.Dialstatus != "" {
				t.Errorf("decoded %+v", e)
			}
		}},
		{"ApplicationReplaced", ``, func(t *testing.T, ev ari.Event) {
			_ = ev.(*ari.ApplicationReplaced)
		}},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		seen[tt.typ] = true
		t.Run(tt.typ, func(t *testing.T) {
			in := evJSON(tt.typ, tt.fields)
			ev, err := ari.DecodeEvent([]byte(in))
			if err != nil {
				t.Fatalf("DecodeEvent: %v", err)
			}
			if _, raw := ev.(*ari.RawEvent); raw {
				t.Fatalf("decoded as *RawEvent")
			}
			if got := reflect.TypeOf(ev).Elem().Name(); got != tt.typ {
				t.Fatalf("decoded as %T, want *ari.%s", ev, tt.typ)
			}
			b := ev.Base()
			if ev.GetType() != tt.typ || b.Application != "ariapp" || b.AsteriskID != "02:42:ac:11:00:02" ||
				!b.Timestamp.Equal(time.Date(2026, 11, 25, 23, 8, 37, 149e6, time.UTC)) || string(b.Raw) != in {
				t.Errorf("base = %+v", b)
			}
			tt.check(t, ev)
		})
	}
	// Every type this package claims to decode has a sample above: the
	// list is what the ARI docs name for the events ariapp uses.
	for _, typ := range []string{"StasisStart", "StasisEnd", "ChannelCreated", "ChannelStateChange", "ChannelDestroyed",
		"ChannelHangupRequest", "ChannelHold", "ChannelUnhold", "ChannelDtmfReceived", "ChannelEnteredBridge",
		"ChannelLeftBridge", "BridgeCreated", "BridgeDestroyed", "PlaybackStarted", "PlaybackContinuing",
		"PlaybackFinished", "ChannelVarset", "Dial", "ApplicationReplaced"} {
		if !seen[typ] {
			t.Errorf("no sample for %s", typ)
		}
	}
}

// TestUnitDecodeEventFallbacks: unknown, untyped and malformed messages.
func TestUnitDecodeEventFallbacks(t *testing.T) {
	t.Run("unknown type is raw", func(t *testing.T) {
		in := evJSON("ChannelTalkingStarted", `"channel":`+chanAlice)
		ev, err := ari.DecodeEvent([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		r, ok := ev.(*ari.RawEvent)
		if !ok {
			t.Fatalf("decoded as %T", ev)
		}
		if string(r.Raw) != in || r.GetType() != "ChannelTalkingStarted" || r.Application != "ariapp" || r.Timestamp.IsZero() {
			t.Errorf("raw event %+v", r)
		}
	})
	t.Run("raw is a copy", func(t *testing.T) {
		in := []byte(evJSON("SomethingNew", ""))
		ev, _ := ari.DecodeEvent(in)
		want := string(in)
		for i := range in {
			in[i] = 'x'
		}
		if string(ev.Base().Raw) != want {
			t.Errorf("Raw aliases the input buffer")
		}
	})
	t.Run("unknown type with bad timestamp still raw", func(t *testing.T) {
		in := `{"type":"Futuristic","timestamp":"soon"}`
		ev, err := ari.DecodeEvent([]byte(in))
		if err != nil || ev.GetType() != "Futuristic" || string(ev.Base().Raw) != in {
			t.Errorf("ev %+v err %v", ev, err)
		}
	})
	for _, tt := range []struct{ name, in string }{
		{"not JSON", `not json`},
		{"JSON array", `[{"type":"StasisStart"}]`},
		{"missing type", `{"application":"ariapp","timestamp":` + evTS + `}`},
		{"empty type", `{"type":""}`},
		{"type not a string", `{"type":42}`},
		{"empty", ``},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := ari.DecodeEvent([]byte(tt.in))
			if err == nil || ev != nil {
				t.Errorf("DecodeEvent(%q) = %v, %v; want nil and an error", tt.in, ev, err)
			}
		})
	}
	for _, tt := range []struct {
		name, in string
		app      string // best effort: fields after a broken timestamp are lost
	}{
		{"wrong field type", evJSON("ChannelDestroyed", `"cause":"sixteen","cause_txt":"Normal Clearing","channel":`+chanAlice), "ariapp"},
		{"wrong nested type", evJSON("StasisStart", `"args":"inbound","channel":`+chanAlice), "ariapp"},
		{"bad timestamp", `{"type":"StasisEnd","application":"ariapp","timestamp":"tomorrow","channel":{"id":"c1"}}`, "ariapp"},
		{"bad timestamp first", `{"type":"StasisEnd","timestamp":"tomorrow","application":"ariapp","channel":{"id":"c1"}}`, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := ari.DecodeEvent([]byte(tt.in))
			if err == nil {
				t.Fatal("no error")
			}
			r, ok := ev.(*ari.RawEvent)
			if !ok {
				t.Fatalf("decoded as %T, want *RawEvent with the error", ev)
			}
			var head struct{ Type string }
			_ = json.Unmarshal([]byte(tt.in), &head)
			if string(r.Raw) != tt.in || r.GetType() != head.Type || r.Application != tt.app {
				t.Errorf("raw event %+v", r)
			}
			if !strings.Contains(err.Error(), head.Type) {
				t.Errorf("error %q does not name the type", err)
			}
		})
	}
}

// TestUnitRefsOf: the ids each event is about.
func TestUnitRefsOf(t *testing.T) {
	decode := func(typ, fields string) ari.Event {
		ev, err := ari.DecodeEvent([]byte(evJSON(typ, fields)))
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	alice := "1764112117.12"
	tests := []struct {
		name string
		ev   ari.Event
		want ari.Refs
	}{
		{"StasisStart", decode("StasisStart", `"args":[],"channel":`+chanAlice), ari.Refs{ChannelID: alice}},
		{"StasisEnd", decode("StasisEnd", `"channel":`+chanAlice), ari.Refs{ChannelID: alice}},
		{"ChannelCreated", decode("ChannelCreated", `"channel":`+chanBob), ari.Refs{ChannelID: "call-1"}},
		{"ChannelStateChange", decode("ChannelStateChange", `"channel":`+chanAlice), ari.Refs{ChannelID: alice}},
		{"ChannelDestroyed", decode("ChannelDestroyed", `"cause":16,"channel":`+chanAlice), ari.Refs{ChannelID: alice}},
		{"ChannelHangupRequest", decode("ChannelHangupRequest", `"channel":`+chanAlice), ari.Refs{ChannelID: alice}},
		{"ChannelHold", decode("ChannelHold", `"channel":`+chanAlice), ari.Refs{ChannelID: alice}},
		{"ChannelUnhold", decode("ChannelUnhold", `"channel":`+chanAlice), ari.Refs{ChannelID: alice}},
		{"ChannelDtmfReceived", decode("ChannelDtmfReceived", `"digit":"1","channel":`+chanAlice), ari.Refs{ChannelID: alice}},
		{"ChannelEnteredBridge", decode("ChannelEnteredBridge", `"bridge":`+bridgeHold+`,"channel":`+chanAlice), ari.Refs{ChannelID: alice, BridgeID: "hold-1"}},
		{"ChannelLeftBridge", decode("ChannelLeftBridge", `"bridge":`+bridgeHold+`,"channel":`+chanAlice), ari.Refs{ChannelID: alice, BridgeID: "hold-1"}},
		{"BridgeCreated", decode("BridgeCreated", `"bridge":`+bridgeHold), ari.Refs{BridgeID: "hold-1"}},
		{"BridgeDestroyed", decode("BridgeDestroyed", `"bridge":`+bridgeHold), ari.Refs{BridgeID: "hold-1"}},
		{"playback on channel", decode("PlaybackStarted", `"playback":`+pbChannel), ari.Refs{PlaybackID: "pb-1", PlaybackTarget: alice, ChannelID: alice}},
		{"playback on bridge", decode("PlaybackContinuing", `"playback":`+pbBridge), ari.Refs{PlaybackID: "pb-2", PlaybackTarget: "hold-1", BridgeID: "hold-1"}},
		{"PlaybackFinished on channel X", decode("PlaybackFinished", `"playback":{"id":"p","target_uri":"channel:X","state":"done"}`), ari.Refs{PlaybackID: "p", PlaybackTarget: "X", ChannelID: "X"}},
		{"PlaybackFinished on bridge Y", decode("PlaybackFinished", `"playback":{"id":"p","target_uri":"bridge:Y","state":"done"}`), ari.Refs{PlaybackID: "p", PlaybackTarget: "Y", BridgeID: "Y"}},
		{"playback target with other scheme", decode("PlaybackStarted", `"playback":{"id":"p","target_uri":"endpoint:PJSIP/bob"}`), ari.Refs{PlaybackID: "p"}},
		{"playback target prefix only", decode("PlaybackStarted", `"playback":{"id":"p","target_uri":"channel:"}`), ari.Refs{PlaybackID: "p"}},
		{"ChannelVarset on channel", decode("ChannelVarset", `"variable":"X","value":"1","channel":`+chanAlice), ari.Refs{ChannelID: alice}},
		{"ChannelVarset global", decode("ChannelVarset", `"variable":"X","value":"1"`), ari.Refs{}},
		{"Dial with caller", decode("Dial", `"dialstatus":"ANSWER","peer":`+chanBob+`,"caller":`+chanAlice), ari.Refs{ChannelID: "call-1", PeerID: alice}},
		{"Dial without caller", decode("Dial", `"dialstatus":"","peer":`+chanBob), ari.Refs{ChannelID: "call-1"}},
		{"ApplicationReplaced", decode("ApplicationReplaced", ""), ari.Refs{}},
		{"raw", decode("ChannelTalkingStarted", `"channel":`+chanAlice), ari.Refs{}},
		{"connection event", &ari.ConnectionEvent{State: ari.StateConnected}, ari.Refs{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ari.RefsOf(tt.ev); got != tt.want {
				t.Errorf("RefsOf = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestUnitConnStateString(t *testing.T) {
	for s, want := range map[ari.ConnState]string{
		ari.StateDisconnected: "disconnected",
		ari.StateConnected:    "connected",
		ari.StateReplaced:     "replaced",
		ari.ConnState(7):      "ConnState(7)",
	} {
		if got := s.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(s), got, want)
		}
	}
}
