package ari

import (
	"reflect"
	"testing"
)

// FuzzDecodeFastPathAgrees: the scanning fast path of DecodeEvent must give
// exactly what the general path gives, for any input.
func FuzzDecodeFastPathAgrees(f *testing.F) {
	for _, s := range []string{
		`{"type":"StasisStart","args":["dial","PJSIP/bob"],"channel":{"id":"c1","name":"PJSIP/alice-1"}}`,
		`{"variable":"X","value":"\"type\":\"Dial\"","type":"ChannelVarset","channel":{"id":"c1"}}`,
		`{"cause":16,"type":"ChannelDestroyed","channel":{"id":"c1"}}`,
		`{"type":"Dial","type":"StasisEnd","channel":{"id":"c1"}}`,
		`{"Type":"StasisEnd","channel":{"id":"c1"}}`,
		`{"type":"Stasis\u0045nd","channel":{"id":"c1"}}`,
		`{"type":"PlaybackStarted","playback":{"id":"p","target_uri":"channel:c"}}`,
		`{"nested":{"type":"Dial"},"type":"BridgeDestroyed","bridge":{"id":"b"}}`,
		`{"type":"ChannelDestroyed","cause":"sixteen"}`,
		`{"type":"Unknown"}`, `{}`, `[]`, `"x"`, `{"type":1}`, `{"type":"StasisEnd"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, ferr := DecodeEvent(data)
		slow, serr := decodeEventSlow(data)
		if (ferr == nil) != (serr == nil) {
			t.Fatalf("errors differ: fast %v, slow %v", ferr, serr)
		}
		if (fast == nil) != (slow == nil) {
			t.Fatalf("events differ: fast %T, slow %T", fast, slow)
		}
		if fast == nil {
			return
		}
		if reflect.TypeOf(fast) != reflect.TypeOf(slow) || fast.GetType() != slow.GetType() {
			t.Fatalf("fast %T %q, slow %T %q", fast, fast.GetType(), slow, slow.GetType())
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("decoded differently:\nfast %+v\nslow %+v", fast, slow)
		}
	})
}

// benchEvent is a typical ChannelVarset as Asterisk 22 sends it.
var benchEvent = []byte(`{"variable":"ARIAPP_HELD","value":"c1-music-1","type":"ChannelVarset","timestamp":"2026-11-25T23:13:37.747+0000","channel":{"id":"1764112417.42","name":"PJSIP/bob-0000001a","state":"Up","protocol_id":"dc25a4af-0d99-4480-93a2-61a0f9f0c791","caller":{"name":"Bob","number":"bob"},"connected":{"name":"Alice","number":"alice"},"accountcode":"","dialplan":{"context":"phones","exten":"bob","priority":1,"app_name":"Stasis","app_data":"ariapp,callee,c1"},"creationtime":"2026-11-25T23:13:30.101+0000","language":"en"},"asterisk_id":"02:fc:00:00:00:01","application":"ariapp"}`)

// BenchmarkDecodeEvent compares the scanning fast path with the general
// two-pass decode (go test -run X -bench DecodeEvent ./ari).
func BenchmarkDecodeEvent(b *testing.B) {
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeEvent(benchEvent); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("two-pass", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeEventSlow(benchEvent); err != nil {
				b.Fatal(err)
			}
		}
	})
}
