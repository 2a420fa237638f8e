package ari_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ariapp/ariapp/ari"
)

var allSentinels = map[string]error{
	"ErrNotFound":           ari.ErrNotFound,
	"ErrChannelNotFound":    ari.ErrChannelNotFound,
	"ErrBridgeNotFound":     ari.ErrBridgeNotFound,
	"ErrPlaybackNotFound":   ari.ErrPlaybackNotFound,
	"ErrBadRequest":         ari.ErrBadRequest,
	"ErrUnauthorized":       ari.ErrUnauthorized,
	"ErrConflict":           ari.ErrConflict,
	"ErrPreconditionFailed": ari.ErrPreconditionFailed,
	"ErrUnprocessable":      ari.ErrUnprocessable,
	"ErrServer":             ari.ErrServer,
	"ErrNotSupported":       ari.ErrNotSupported,
	"ErrUnreachable":        ari.ErrUnreachable,
	"ErrInvalidArgument":    ari.ErrInvalidArgument,
	"ErrClosed":             ari.ErrClosed,
	"ErrReplaced":           ari.ErrReplaced,
}

// assertSentinels checks that err matches exactly the sentinels in want.
func assertSentinels(t *testing.T, err error, want ...error) {
	t.Helper()
	for name, s := range allSentinels {
		is := errors.Is(err, s)
		wanted := false
		for _, w := range want {
			if w == s {
				wanted = true
			}
		}
		if is != wanted {
			t.Errorf("errors.Is(err, %s) = %v, want %v (err: %v)", name, is, wanted, err)
		}
	}
}

// TestUnitErrorMapping: HTTP status and Asterisk's message map to the
// sentinel errors and to APIError's fields.
func TestUnitErrorMapping(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		want    []error
		wantMsg string
	}{
		{"404 channel", 404, `{"message":"Channel not found"}`, []error{ari.ErrNotFound, ari.ErrChannelNotFound}, "Channel not found"},
		{"400 channel not found is gone, not bad request", 400, `{"message":"Channel not found"}`, []error{ari.ErrNotFound, ari.ErrChannelNotFound}, "Channel not found"},
		{"400 other", 400, `{"message":"Invalid media URI"}`, []error{ari.ErrBadRequest}, "Invalid media URI"},
		{"400 missing parameter", 400, `{"message":"missing required parameter: endpoint"}`, []error{ari.ErrBadRequest}, "missing required parameter: endpoint"},
		{"404 bridge", 404, `{"message":"Bridge not found"}`, []error{ari.ErrNotFound, ari.ErrBridgeNotFound}, "Bridge not found"},
		{"400 bridge not found", 400, `{"message":"Bridge not found"}`, []error{ari.ErrNotFound, ari.ErrBridgeNotFound}, "Bridge not found"},
		{"404 playback", 404, `{"message":"Playback not found"}`, []error{ari.ErrNotFound, ari.ErrPlaybackNotFound}, "Playback not found"},
		{"404 variable", 404, `{"message":"Provided variable was not found"}`, []error{ari.ErrNotFound}, "Provided variable was not found"},
		{"404 empty body", 404, ``, []error{ari.ErrNotFound}, ""},
		{"401", 401, `{"message":"Authentication required"}`, []error{ari.ErrUnauthorized}, "Authentication required"},
		{"403", 403, `{"message":"Forbidden"}`, []error{ari.ErrUnauthorized}, "Forbidden"},
		{"409", 409, `{"message":"Channel not in Stasis application"}`, []error{ari.ErrConflict}, "Channel not in Stasis application"},
		{"412", 412, `{"message":"Channel in invalid state"}`, []error{ari.ErrPreconditionFailed}, "Channel in invalid state"},
		{"422", 422, `{"message":"Channel not in this bridge"}`, []error{ari.ErrUnprocessable}, "Channel not in this bridge"},
		{"500", 500, `{"message":"Allocation failed"}`, []error{ari.ErrServer}, "Allocation failed"},
		{"503 non-JSON", 503, "Service Unavailable\n", []error{ari.ErrServer}, "Service Unavailable"},
		{"500 non-JSON body kept as text", 500, "<html>oops</html>", []error{ari.ErrServer}, "<html>oops</html>"},
		{"JSON error field", 400, `{"error":"Invalid parameter"}`, []error{ari.ErrBadRequest}, "Invalid parameter"},
		{"JSON without message kept as text", 400, `{"foo":"bar"}`, []error{ari.ErrBadRequest}, `{"foo":"bar"}`},
		{"404 unknown route: an older Asterisk", 404, `{"message":"Resource not found"}`, []error{ari.ErrNotSupported}, "Resource not found"},
		{"405 method the route lacks", 405, `{"message":"Invalid method"}`, []error{ari.ErrNotSupported}, "Invalid method"},
		{"501", 501, `{"message":"Not implemented"}`, []error{ari.ErrNotSupported}, "Not implemented"},
		{"418 unclassified", 418, `{"message":"teapot"}`, nil, "teapot"},
	}
	f := newFake(t)
	c := newUnitClient(t, unitConfig(f))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.setReply(func(*http.Request) (int, string) { return tt.status, tt.body })
			err := c.AddChannel(bg(t), "b/1", "c1")
			if err == nil {
				t.Fatal("no error")
			}
			assertSentinels(t, err, tt.want...)
			var e *ari.APIError
			if !errors.As(err, &e) {
				t.Fatalf("err %T is not an *APIError", err)
			}
			if e.Method != "POST" || e.Path != "/bridges/b%2F1/addChannel" || e.Status != tt.status || e.Message != tt.wantMsg {
				t.Errorf("APIError = %+v, want POST /bridges/b%%2F1/addChannel %d %q", e, tt.status, tt.wantMsg)
			}
			s := e.Error()
			for _, part := range []string{"POST", "/bridges/b%2F1/addChannel", strconv.Itoa(tt.status), tt.wantMsg} {
				if !strings.Contains(s, part) {
					t.Errorf("Error() = %q lacks %q", s, part)
				}
			}
			if tt.wantMsg == "" && !strings.Contains(s, http.StatusText(tt.status)) {
				t.Errorf("Error() = %q lacks the status text", s)
			}
		})
	}
}

// TestUnitErrorTransport: no HTTP reply at all is ErrUnreachable, with the
// cause reachable through errors.Is.
func TestUnitErrorTransport(t *testing.T) {
	t.Run("closed server", func(t *testing.T) {
		f := newFake(t)
		cfg := unitConfig(f)
		f.Close()
		c := newUnitClient(t, cfg)
		_, err := c.Channel(bg(t), "c1")
		assertSentinels(t, err, ari.ErrUnreachable)
		var e *ari.APIError
		if !errors.As(err, &e) || e.Status != 0 || e.Method != "GET" || e.Path != "/channels/c1" || e.Message == "" {
			t.Fatalf("err = %#v", err)
		}
		if s := e.Error(); !strings.Contains(s, "GET /channels/c1") || !strings.Contains(s, e.Message) {
			t.Errorf("Error() = %q", s)
		}
	})

	// slow makes the fake hold every request until the client gives up.
	slow := func(f *fakeARI) {
		f.setReply(func(r *http.Request) (int, string) {
			select {
			case <-r.Context().Done():
			case <-f.done:
			case <-time.After(waitLimit):
			}
			return 200, `{}`
		})
	}

	t.Run("RequestTimeout", func(t *testing.T) {
		f := newFake(t)
		slow(f)
		cfg := unitConfig(f)
		cfg.RequestTimeout = 50 * time.Millisecond
		c := newUnitClient(t, cfg)
		start := time.Now()
		err := c.Answer(context.Background(), "c1")
		assertSentinels(t, err, ari.ErrUnreachable)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want context.DeadlineExceeded too", err)
		}
		if d := time.Since(start); d > waitLimit/2 {
			t.Errorf("took %v with a 50ms RequestTimeout", d)
		}
	})

	t.Run("caller deadline earlier than RequestTimeout wins", func(t *testing.T) {
		f := newFake(t)
		slow(f)
		c := newUnitClient(t, unitConfig(f)) // RequestTimeout 3s
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := c.Answer(ctx, "c1")
		if !errors.Is(err, ari.ErrUnreachable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("took %v; the caller's 50ms deadline should win", d)
		}
	})

	t.Run("caller cancel", func(t *testing.T) {
		f := newFake(t)
		slow(f)
		c := newUnitClient(t, unitConfig(f))
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(20*time.Millisecond, cancel)
		err := c.Answer(ctx, "c1")
		if !errors.Is(err, ari.ErrUnreachable) || !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v", err)
		}
	})
}
