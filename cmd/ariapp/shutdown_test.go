package main

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/ariapp/ariapp/app"
)

// stopLog records the order of the stop's steps.
type stopLog struct {
	mu    sync.Mutex
	steps []string
}

func (l *stopLog) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.steps = append(l.steps, s)
}

func (l *stopLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.steps)
}

type fakeStopServer struct {
	log *stopLog
	// closeTakes: Close blocks this long or until its ctx is done;
	// closeErr is returned then.
	closeTakes time.Duration
	closeErr   error
}

func (s *fakeStopServer) Drain() { s.log.add("drain") }
func (s *fakeStopServer) Close(ctx context.Context) error {
	s.log.add("server close")
	select {
	case <-time.After(s.closeTakes):
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.closeErr
}

type fakeStopApp struct {
	log *stopLog
	// calls are up until HangupAll; hangupEnds says whether the hang-up
	// ends them.
	mu         sync.Mutex
	calls      []app.CallInfo
	hangupEnds bool
}

func (a *fakeStopApp) HangupAll(ctx context.Context) {
	a.log.add("hangup")
	if _, ok := ctx.Deadline(); !ok || ctx.Err() != nil {
		a.log.add("hangup without a live budget")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.hangupEnds {
		a.calls = nil
	}
}

func (a *fakeStopApp) Calls() []app.CallInfo {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.calls)
}

func (a *fakeStopApp) Close() { a.log.add("app close") }

// TestStop: with shutdown.hangup_calls the hang-up runs first, with its
// own budget, before the server stops; a stop that leaves calls up or
// runs out of time reports itself incomplete.
func TestStop(t *testing.T) {
	t.Parallel()
	up := []app.CallInfo{{CallID: "c1"}, {CallID: "c2"}}
	tests := []struct {
		name         string
		plan         stopPlan
		server       *fakeStopServer
		hangupEnds   bool
		wantComplete bool
		wantSteps    []string
		// stepsPrefix: the steps after wantSteps may or may not have run
		// when the stop gave up waiting.
		stepsPrefix bool
		wantLog     string
	}{
		{name: "calls left up, no hang-up", plan: stopPlan{Timeout: time.Second}, server: &fakeStopServer{},
			wantComplete: true, wantSteps: []string{"drain", "server close", "app close", "client close"}},
		{name: "hang-up first", plan: stopPlan{HangupCalls: true, HangupTimeout: time.Second, Timeout: time.Second},
			server: &fakeStopServer{}, hangupEnds: true, wantComplete: true,
			wantSteps: []string{"drain", "hangup", "server close", "app close", "client close"}},
		{name: "calls still up after the hang-up budget", plan: stopPlan{HangupCalls: true, HangupTimeout: 100 * time.Millisecond, Timeout: time.Second},
			server: &fakeStopServer{}, hangupEnds: false, wantComplete: false,
			wantSteps: []string{"drain", "hangup", "server close", "app close", "client close"},
			wantLog:   "graceful stop incomplete: calls still up after the hang-up budget"},
		{name: "server does not stop in time", plan: stopPlan{Timeout: 100 * time.Millisecond},
			server: &fakeStopServer{closeTakes: time.Minute}, wantComplete: false,
			wantSteps: []string{"drain", "server close"}, stepsPrefix: true},
		{name: "server close fails", plan: stopPlan{Timeout: time.Second},
			server: &fakeStopServer{closeErr: errors.New("boom")}, wantComplete: false,
			wantSteps: []string{"drain", "server close", "app close", "client close"}},
		{name: "no API server", plan: stopPlan{HangupCalls: true, HangupTimeout: time.Second, Timeout: time.Second},
			hangupEnds: true, wantComplete: true, wantSteps: []string{"hangup", "app close", "client close"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			steps := &stopLog{}
			core, logs := observer.New(zapcore.InfoLevel)
			a := &fakeStopApp{log: steps, calls: slices.Clone(up), hangupEnds: tt.hangupEnds}
			var srv stopServer
			if tt.server != nil {
				tt.server.log = steps
				srv = tt.server
			}
			t0 := time.Now()
			got := stop(zap.New(core), tt.plan, srv, a, func() { steps.add("client close") })
			if took, bound := time.Since(t0), tt.plan.HangupTimeout+tt.plan.Timeout+time.Second; took > bound {
				t.Errorf("stop took %v, more than its budgets (%v)", took, bound)
			}
			if got != tt.wantComplete {
				t.Errorf("complete = %v, want %v; log %v", got, tt.wantComplete, logs.All())
			}
			s := steps.all()
			if tt.stepsPrefix && len(s) > len(tt.wantSteps) {
				s = s[:len(tt.wantSteps)]
			}
			if !slices.Equal(s, tt.wantSteps) {
				t.Errorf("steps %v, want %v", s, tt.wantSteps)
			}
			if tt.wantLog != "" && logs.FilterMessage(tt.wantLog).Len() != 1 {
				t.Errorf("no log line %q: %v", tt.wantLog, logs.All())
			}
		})
	}
}
