package main

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/ariapp/ariapp/app"
)

// stopPlan is what a signal makes ariapp do.
type stopPlan struct {
	// HangupCalls: hang every call up before stopping, within
	// HangupTimeout.
	HangupCalls   bool
	HangupTimeout time.Duration
	// Timeout bounds the rest: the API server's graceful stop (in-flight
	// requests finish, event streams end), the application and the ARI
	// client.
	Timeout time.Duration
}

// stopServer is what the stop needs of the API server (*api.Server).
type stopServer interface {
	Drain()
	Close(ctx context.Context) error
}

// stopApp is what the stop needs of the application (*app.App).
type stopApp interface {
	HangupAll(ctx context.Context)
	Calls() []app.CallInfo
	Close()
}

// stop ends ariapp after a signal and reports whether the stop completed:
// every call hung up when the plan says so, and everything stopped within
// its budget. The hang-up comes first, with the API still serving (but
// refusing new calls) and the ARI events still flowing, as it needs them;
// only then does the server stop, which ends the event streams at once, so
// a client that stopped reading cannot hold the stop.
func stop(log *zap.Logger, plan stopPlan, server stopServer, a stopApp, closeClient func()) bool {
	complete := true
	if server != nil {
		server.Drain()
	}
	if plan.HangupCalls {
		if left := hangupAll(plan.HangupTimeout, a); len(left) > 0 {
			ids := make([]string, 0, min(len(left), 20))
			for _, c := range left[:cap(ids)] {
				ids = append(ids, c.CallID)
			}
			log.Error("graceful stop incomplete: calls still up after the hang-up budget",
				zap.Int("calls", len(left)), zap.Strings("call_ids", ids), zap.Duration("hangup_timeout", plan.HangupTimeout))
			complete = false
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), plan.Timeout)
	defer cancel()
	done := make(chan bool, 1)
	go func() {
		ok := true
		if server != nil {
			if err := server.Close(ctx); err != nil {
				log.Error("the API server did not stop in time; its connections were closed", zap.Error(err))
				ok = false
			}
		}
		a.Close()
		closeClient()
		done <- ok
	}()
	select {
	case ok := <-done:
		complete = complete && ok
	case <-ctx.Done():
		log.Error("graceful stop timed out", zap.Duration("timeout", plan.Timeout))
		complete = false
	}
	return complete
}

// hangupAll hangs every call up and waits, within timeout, for the calls
// to end; it returns those still up.
func hangupAll(timeout time.Duration, a stopApp) []app.CallInfo {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	a.HangupAll(ctx)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		left := a.Calls()
		if len(left) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return left
		case <-tick.C:
		}
	}
}
