package api_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ariapp/ariapp/api"
)

// TestUnitServerPreboundListener: a server given a bound listener serves on
// it, ignores Listen, and Close closes the listener.
func TestUnitServerPreboundListener(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	func() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s := api.New(api.Config{Listen: "256.0.0.1:1", Listener: ln}, newFakeCalls(t), nil, nil)
		if err := s.Start(); err != nil {
			t.Fatalf("Start with a listener: %v", err)
		}
		if s.Addr() != ln.Addr().String() {
			t.Errorf("Addr = %q, want the listener's %q", s.Addr(), ln.Addr())
		}
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Get("http://" + ln.Addr().String() + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("healthz status %d", resp.StatusCode)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		if _, err := ln.Accept(); err == nil {
			t.Error("the listener is still open after Close")
		}
	}()
	goleak.VerifyNone(t, ignore)
}
