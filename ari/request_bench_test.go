package ari_test

import (
	"context"
	"net/http"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/ariapp/ariapp/ari"
)

// BenchmarkRequestHook: what the OnRequest hook costs a REST request (one
// removeChannel against an in-process HTTP server): none installed, the
// request log's hook at a disabled level (its fields are never built), and
// a hook that only counts (what metrics do).
func BenchmarkRequestHook(b *testing.B) {
	disabled := zap.New(zapcore.NewNopCore())
	for _, bc := range []struct {
		name string
		hook func(*ari.Request)
	}{
		{"none", nil},
		{"log off", func(r *ari.Request) {
			if ce := disabled.Check(zapcore.DebugLevel, "ari request"); ce != nil {
				ce.Write(zap.String("route", r.Route))
			}
		}},
		{"counting", func(r *ari.Request) { _ = len(r.Route) + r.Status }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			f := newFake(b)
			f.setReply(func(*http.Request) (int, string) { return 204, "" })
			cfg := unitConfig(f)
			cfg.OnRequest = bc.hook
			c := newUnitClient(b, cfg)
			ctx := ari.WithTag(context.Background(), ari.Tag{CallID: "c1", Party: "callee"})
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := c.RemoveChannel(ctx, "b1", "ch1"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
