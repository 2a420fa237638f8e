package ari_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/ariapp/ariapp/ari"
)

// FuzzDecodeEvent: whatever arrives on the WebSocket, DecodeEvent does not
// panic and keeps its contract:
//   - no error: a typed or raw event with a type, Raw exactly the input;
//   - an error with an event: a *RawEvent with the type and the input (a
//     known type that failed to decode);
//   - otherwise no event;
//
// and RefsOf never panics on what it returns.
//
// Run it with: go test -run XXX -fuzz FuzzDecodeEvent -fuzztime 60s ./ari/
func FuzzDecodeEvent(f *testing.F) {
	// Realistic Asterisk events of every typed kind (the samples of
	// events_unit_test.go), a few broken ones, and garbage.
	for _, s := range []string{
		evJSON("StasisStart", `"args":["inbound","a=b"],"channel":`+chanAlice),
		evJSON("StasisStart", `"args":[],"channel":`+chanBob+`,"replace_channel":`+chanAlice),
		evJSON("StasisStart", `"args":["callee","call-1"],"channel":`+chanBob),
		evJSON("StasisEnd", `"channel":`+chanAlice),
		evJSON("ChannelCreated", `"channel":`+chanBob),
		evJSON("ChannelStateChange", `"channel":`+chanAlice),
		evJSON("ChannelDestroyed", `"cause":16,"cause_txt":"Normal Clearing","channel":`+chanAlice),
		evJSON("ChannelHangupRequest", `"soft":true,"cause":17,"channel":`+chanAlice),
		evJSON("ChannelHold", `"channel":`+chanAlice+`,"musicclass":"default"`),
		evJSON("ChannelUnhold", `"channel":`+chanAlice),
		evJSON("ChannelDtmfReceived", `"digit":"#","duration_ms":120,"channel":`+chanAlice),
		evJSON("ChannelEnteredBridge", `"bridge":`+bridgeHold+`,"channel":`+chanAlice),
		evJSON("ChannelLeftBridge", `"bridge":`+bridgeHold+`,"channel":`+chanAlice),
		evJSON("BridgeCreated", `"bridge":`+bridgeHold),
		evJSON("BridgeDestroyed", `"bridge":`+bridgeHold),
		evJSON("PlaybackStarted", `"playback":`+pbChannel),
		evJSON("PlaybackContinuing", `"playback":`+pbBridge),
		evJSON("PlaybackFinished", `"playback":{"id":"pb-1","media_uri":"sound:x","target_uri":"channel:c1","language":"en","state":"failed"}`),
		evJSON("PlaybackFinished", `"playback":{"id":"p","target_uri":"channel:"}`),
		evJSON("ChannelVarset", `"variable":"ARIAPP_TEST","value":"1","channel":`+chanAlice),
		evJSON("ChannelVarset", `"variable":"GLOBAL_X","value":"a b"`),
		evJSON("ChannelVarset", `"variable":"X","value":"1","channel":null`),
		evJSON("Dial", `"dialstatus":"RINGING","forward":"","dialstring":"bob","peer":`+chanBob+`,"caller":`+chanAlice),
		evJSON("Dial", `"dialstatus":"","peer":`+chanBob),
		evJSON("ApplicationReplaced", ``),
		// Unknown types are raw.
		evJSON("ChannelTalkingStarted", `"channel":`+chanAlice),
		`{"type":"Futuristic","timestamp":"soon"}`,
		// Known types that fail to decode.
		evJSON("ChannelDestroyed", `"cause":"sixteen","channel":`+chanAlice),
		evJSON("StasisStart", `"args":"inbound","channel":`+chanAlice),
		`{"type":"StasisEnd","timestamp":"tomorrow","application":"ariapp","channel":{"id":"c1"}}`,
		`{"type":"StasisEnd","channel":{"creationtime":17}}`,
		`{"type":"Dial","peer":null,"caller":null}`,
		// Tricky JSON.
		`{"type":"StasisStart","TYPE":"StasisEnd"}`,
		`{"Type":"","type":"BridgeCreated","bridge":{"id":"b"}}`,
		`{"type":"StasisEnd","type":"ChannelHold","channel":{"id":"c"}}`,
		`{"type":"\u0053tasisStart","channel":{"id":"\u0000"}}`,
		"{\"type\":\"\xff\xfe\"}",
		`{"type":"StasisStart","timestamp":null,"channel":{"channelvars":null}}`,
		` {"type":"StasisEnd"} `,
		// Not events.
		``, `null`, `{}`, `[]`, `"StasisStart"`, `42`, `{"type":42}`, `{"type":""}`, `{"type":null}`,
		`{"type":"StasisStart"}{"type":"StasisEnd"}`, `{"type":"StasisStart"`, `not json`,
		"\x00\x01\x02", `[{"type":"StasisStart"}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		in := bytes.Clone(data)
		ev, err := ari.DecodeEvent(in)
		for i := range in { // Raw must not alias the caller's buffer
			in[i] ^= 0xff
		}
		if ev == nil {
			if err == nil {
				t.Fatalf("DecodeEvent(%q) = nil, nil", data)
			}
			return
		}
		b := ev.Base()
		if b == nil {
			t.Fatalf("DecodeEvent(%q): %T with a nil Base", data, ev)
		}
		if ev.GetType() == "" || b.Type != ev.GetType() {
			t.Fatalf("DecodeEvent(%q): %T with type %q (base %q)", data, ev, ev.GetType(), b.Type)
		}
		if !bytes.Equal(b.Raw, data) {
			t.Fatalf("DecodeEvent(%q): Raw %q is not the input", data, b.Raw)
		}
		if !json.Valid(b.Raw) {
			t.Fatalf("DecodeEvent(%q) accepted invalid JSON", data)
		}
		_, raw := ev.(*ari.RawEvent)
		if err != nil && !raw {
			t.Fatalf("DecodeEvent(%q): error %v with a typed %T", data, err, ev)
		}
		if !raw {
			// A typed event is the struct its type names.
			if name := reflect.TypeOf(ev).Elem().Name(); name != ev.GetType() {
				t.Fatalf("DecodeEvent(%q): type %q decoded as %T", data, ev.GetType(), ev)
			}
		}
		refs := ari.RefsOf(ev)
		if raw && refs != (ari.Refs{}) {
			t.Fatalf("DecodeEvent(%q): raw event with refs %+v", data, refs)
		}
	})
}
