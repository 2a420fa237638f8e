package api_test

import (
	"strings"
	"testing"

	"github.com/ariapp/ariapp/api"
)

// TestUnitConsoleFiles: the console is served at / and its files under
// /console/, open (no token: the page holds no data), with a policy that
// allows no request outside ariapp; anything else there is a JSON 404.
func TestUnitConsoleFiles(t *testing.T) {
	u := newUnit(t, api.Config{Token: "secret"}, nil)
	tests := []struct {
		target, ctype, contains string
	}{
		{"/", "text/html", `src="/console/console.js"`},
		{"/console/console.js", "javascript", "Authorization"},
		{"/console/console.css", "text/css", ".badge"},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			rec := u.do(req{method: "GET", target: tt.target})
			if rec.Code != 200 || !strings.Contains(rec.Header().Get("Content-Type"), tt.ctype) {
				t.Fatalf("%d %q", rec.Code, rec.Header().Get("Content-Type"))
			}
			if !strings.Contains(rec.Body.String(), tt.contains) {
				t.Errorf("body lacks %q", tt.contains)
			}
			csp := rec.Header().Get("Content-Security-Policy")
			if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") {
				t.Errorf("Content-Security-Policy %q", csp)
			}
			if strings.Contains(rec.Body.String(), "http://") || strings.Contains(rec.Body.String(), "https://") {
				t.Errorf("%s names an outside address", tt.target)
			}
		})
	}
	for _, target := range []string{"/console/nope.js", "/console/index.html"} {
		t.Run(target, func(t *testing.T) {
			wantError(t, u.do(req{method: "GET", target: target}), 404, api.CodeNotFound)
		})
	}
}
