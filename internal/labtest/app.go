package labtest

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/ari"
)

// StartApp connects an ARI client of cfg and runs an App of acfg on it,
// both closed when the test ends. Requests the client makes go to the
// App's call timelines as they do in the binary, and to cfg.OnRequest if
// set.
func StartApp(t testing.TB, cfg ari.Config, acfg app.Config, log *zap.Logger) (*ari.Client, *app.App) {
	t.Helper()
	var a *app.App
	hook := cfg.OnRequest
	cfg.OnRequest = func(r *ari.Request) {
		if hook != nil {
			hook(r)
		}
		if a != nil {
			a.RecordRequest(r)
		}
	}
	client, err := ari.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	a, err = app.New(acfg, client, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := client.Connect(ctx); err != nil {
		t.Fatalf("connect: %v", err)
	}
	a.Start(client.Events())
	return client, a
}

// LocalIdle is a lab far end that answers and stays silent.
const LocalIdle = "Local/idle@" + TestContext
