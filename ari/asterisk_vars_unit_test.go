package ari_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"testing"

	"github.com/ariapp/ariapp/ari"
)

// TestUnitGlobalVariables checks GET and POST /asterisk/variable on the wire
// and what the client makes of Asterisk's answers.
func TestUnitGlobalVariables(t *testing.T) {
	f := newFake(t)
	f.setReply(func(r *http.Request) (int, string) {
		switch {
		case r.Method == "GET" && r.URL.Query().Get("variable") == "SET_ONE":
			return http.StatusOK, `{"value":"instance=a&seq=3"}`
		case r.Method == "GET" && r.URL.Query().Get("variable") == "BROKEN":
			return http.StatusOK, `{"value":`
		case r.Method == "GET":
			return http.StatusOK, `{"value":""}` // how Asterisk answers an unset variable
		case r.URL.Query().Get("variable") == "REFUSED":
			return http.StatusBadRequest, `{"message":"Variable name is required"}`
		}
		return http.StatusNoContent, ""
	})
	c := newUnitClient(t, unitConfig(f))
	tests := []struct {
		name      string
		call      func(ctx context.Context) (string, error)
		method    string
		query     url.Values // nil: nothing may be sent
		wantValue string
		wantErr   error // nil: success wanted
		decodeErr bool  // an error that is no sentinel (a broken reply)
	}{
		{name: "get set", call: func(ctx context.Context) (string, error) { return c.GlobalVariable(ctx, "SET_ONE") },
			method: "GET", query: url.Values{"variable": {"SET_ONE"}}, wantValue: "instance=a&seq=3"},
		{name: "get unset reads empty", call: func(ctx context.Context) (string, error) { return c.GlobalVariable(ctx, "NOPE") },
			method: "GET", query: url.Values{"variable": {"NOPE"}}},
		{name: "get escapes the name", call: func(ctx context.Context) (string, error) { return c.GlobalVariable(ctx, "A&B=C") },
			method: "GET", query: url.Values{"variable": {"A&B=C"}}},
		{name: "get broken reply", call: func(ctx context.Context) (string, error) { return c.GlobalVariable(ctx, "BROKEN") },
			method: "GET", query: url.Values{"variable": {"BROKEN"}}, decodeErr: true},
		{name: "get empty name", call: func(ctx context.Context) (string, error) { return c.GlobalVariable(ctx, "") },
			wantErr: ari.ErrInvalidArgument},
		{name: "set", call: func(ctx context.Context) (string, error) { return "", c.SetGlobalVariable(ctx, "V", "x;y&z") },
			method: "POST", query: url.Values{"variable": {"V"}, "value": {"x;y&z"}}},
		{name: "set empty unsets (no value parameter)", call: func(ctx context.Context) (string, error) { return "", c.SetGlobalVariable(ctx, "V", "") },
			method: "POST", query: url.Values{"variable": {"V"}}},
		{name: "set refused", call: func(ctx context.Context) (string, error) { return "", c.SetGlobalVariable(ctx, "REFUSED", "1") },
			method: "POST", query: url.Values{"variable": {"REFUSED"}, "value": {"1"}}, wantErr: ari.ErrBadRequest},
		{name: "set empty name", call: func(ctx context.Context) (string, error) { return "", c.SetGlobalVariable(ctx, "", "1") },
			wantErr: ari.ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(f.Requests())
			got, err := tt.call(bg(t))
			switch {
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			case tt.decodeErr && err == nil:
				t.Fatal("a broken reply was accepted")
			case tt.wantErr == nil && !tt.decodeErr && err != nil:
				t.Fatalf("err = %v", err)
			}
			if got != tt.wantValue {
				t.Errorf("value %q, want %q", got, tt.wantValue)
			}
			reqs := f.Requests()[before:]
			if tt.query == nil {
				if len(reqs) != 0 {
					t.Fatalf("%d requests sent, want none: %+v", len(reqs), reqs)
				}
				return
			}
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1: %+v", len(reqs), reqs)
			}
			r := reqs[0]
			if r.Method != tt.method || r.Path != "/ari/asterisk/variable" || r.Body != "" {
				t.Errorf("request %s %s body %q, want %s /ari/asterisk/variable without a body", r.Method, r.Path, r.Body, tt.method)
			}
			if !reflect.DeepEqual(r.Query, tt.query) {
				t.Errorf("query %v, want %v", r.Query, tt.query)
			}
		})
	}
}
