package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ariapp/ariapp/api"
)

// TestUnitProtocolErrorsAreJSON: requests net/http refuses before any
// handler runs (a header block too large, a malformed request line, an
// HTTP version it does not speak) are answered with the API's JSON error
// body, like every other error.
func TestUnitProtocolErrorsAreJSON(t *testing.T) {
	s := api.New(api.Config{Listen: "127.0.0.1:0"}, newFakeCalls(t), nil, nil)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Close(ctx)
	})
	tests := []struct {
		name       string
		request    string
		wantStatus int
		wantCode   string
	}{
		{"header block too large", "GET /v1/calls HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 1<<20+8192) + "\r\n\r\n", http.StatusRequestHeaderFieldsTooLarge, api.CodeHeadersTooLarge},
		{"malformed request line", "GARBAGE\r\n\r\n", http.StatusBadRequest, api.CodeBadRequest},
		{"malformed header", "GET /v1/calls HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", http.StatusBadRequest, api.CodeBadRequest},
		{"unsupported HTTP version", "GET /v1/calls HTTP/2.5\r\nHost: x\r\n\r\n", http.StatusHTTPVersionNotSupported, api.CodeHTTPVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", s.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			go func() { _, _ = io.WriteString(c, tt.request) }()
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("reading the reply: %v", err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("status %d, Content-Type %q (%s); want %d application/json", resp.StatusCode, resp.Header.Get("Content-Type"), body, tt.wantStatus)
			}
			var e api.ErrorBody
			if err := json.Unmarshal(body, &e); err != nil || e.Error.Code != tt.wantCode || e.Error.Message == "" {
				t.Fatalf("body %q: want a JSON error with code %q", body, tt.wantCode)
			}
		})
	}
}

// TestUnitTokenGuardsUnknownPaths: with a token set, a /v1 path that does
// not exist answers 401 without the token, so routes cannot be listed by
// probing, and 404 with it.
func TestUnitTokenGuardsUnknownPaths(t *testing.T) {
	s := api.New(api.Config{Token: "sesame"}, newFakeCalls(t), func() error { return nil }, nil)
	for _, tt := range []struct {
		path, token string
		want        int
	}{
		{"/v1/nothing", "", http.StatusUnauthorized},
		{"/v1", "", http.StatusUnauthorized},
		{"/v1/calls/x/nothing", "wrong", http.StatusUnauthorized},
		{"/v1/nothing", "sesame", http.StatusNotFound},
		{"/nothing", "", http.StatusNotFound},
		{"/healthz", "", http.StatusOK},
	} {
		t.Run(tt.path+" "+tt.token, func(t *testing.T) {
			r, _ := http.NewRequest("GET", tt.path, nil)
			if tt.token != "" {
				r.Header.Set("Authorization", "Bearer "+tt.token)
			}
			w := httptest.NewRecorder()
			s.Handler().ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Errorf("GET %s: %d, want %d", tt.path, w.Code, tt.want)
			}
		})
	}
}
