package ari_test

import (
	"testing"

	"github.com/ariapp/ariapp/ari"
)

// TestUnitEventFilter: with EventTypes set, the client sets the event filter
// on every connect, before it reports the connection (Asterisk forgets the
// filter with the connection), with ApplicationReplaced added; without,
// it sets none.
func TestUnitEventFilter(t *testing.T) {
	for _, tt := range []struct {
		name  string
		types []string
		want  string
	}{
		{"filter", []string{"StasisStart", "StasisEnd"}, `{"allowed":[{"type":"StasisStart"},{"type":"StasisEnd"},{"type":"ApplicationReplaced"}]}`},
		{"none", nil, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.setSession(func(s *wsSession) {
				if s.N == 1 {
					s.Serve()
					s.Conn.CloseNow() // a reconnect follows
					return
				}
				s.Serve()
			})
			cfg := unitConfig(f)
			cfg.EventTypes = tt.types
			c := newUnitClient(t, cfg)
			connect(t, c)
			if ce := nextConn(t, c); ce.State != ari.StateDisconnected {
				t.Fatalf("want the drop, got %+v", ce)
			}
			if ce := nextConn(t, c); ce.State != ari.StateConnected || !ce.Reconnect {
				t.Fatalf("want the reconnect, got %+v", ce)
			}
			var filters []string
			for _, r := range f.Requests() {
				if r.Method == "PUT" && r.Path == "/ari/applications/"+cfg.Application+"/eventFilter" {
					filters = append(filters, r.Body)
				}
			}
			if tt.want == "" {
				if len(filters) != 0 {
					t.Fatalf("filters set without EventTypes: %q", filters)
				}
				return
			}
			if len(filters) != 2 {
				t.Fatalf("%d filter requests, want one per connect (2): %q", len(filters), filters)
			}
			for _, body := range filters {
				if !jsonEqual(t, body, tt.want) {
					t.Errorf("filter body %s, want %s", body, tt.want)
				}
			}
		})
	}
}
