package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"go.uber.org/zap"
)

// TestPprofServesProfilesAndStops: debug.pprof_listen serves the runtime
// profiles' index and a heap profile, and stop closes the listener.
func TestPprofServesProfilesAndStops(t *testing.T) {
	p, err := startPprof("127.0.0.1:0", zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{"/debug/pprof/": "goroutine", "/debug/pprof/heap?debug=1": "heap profile"} {
		resp, err := http.Get("http://" + p.addr + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %d, body without %q", path, resp.StatusCode, want)
		}
	}
	p.stop()
	if _, err := http.Get("http://" + p.addr + "/debug/pprof/"); err == nil {
		t.Error("the profiles are still served after stop")
	}
}
