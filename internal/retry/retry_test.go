package retry

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	errBusy = errors.New("busy")
	errGone = errors.New("gone")
)

// script is an operation that returns errs in order, then nil.
type script struct {
	errs  []error
	calls int
}

func (s *script) op(context.Context) error {
	s.calls++
	if s.calls <= len(s.errs) {
		return s.errs[s.calls-1]
	}
	return nil
}

// recordWaits makes p record its waits instead of sleeping.
func recordWaits(p *Policy) *[]time.Duration {
	var waits []time.Duration
	p.wait = func(_ context.Context, d time.Duration) error {
		waits = append(waits, d)
		return nil
	}
	return &waits
}

type retryLog struct {
	attempt int
	err     error
	next    time.Duration
}

func TestUnitDo(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name      string
		policy    Policy
		errs      []error // the operation's results before it succeeds
		wantFail  bool    // Do returns the last attempt's error; else nil
		wantCalls int
		wantWaits []time.Duration
		wantLog   []retryLog
	}{
		{
			name:      "first attempt succeeds",
			policy:    Policy{Schedule: Delays{ms, 2 * ms}},
			wantCalls: 1,
		},
		{
			name:      "succeeds after two failures",
			policy:    Policy{Schedule: Delays{ms, 2 * ms, 3 * ms}},
			errs:      []error{errBusy, errBusy},
			wantCalls: 3,
			wantWaits: []time.Duration{ms, 2 * ms},
			wantLog:   []retryLog{{1, errBusy, ms}, {2, errBusy, 2 * ms}},
		},
		{
			name:      "schedule ends: the last error",
			policy:    Policy{Schedule: Delays{ms, 2 * ms}},
			errs:      []error{errBusy, errBusy, fmt.Errorf("third: %w", errBusy), errBusy},
			wantFail:  true,
			wantCalls: 3,
			wantWaits: []time.Duration{ms, 2 * ms},
			wantLog:   []retryLog{{1, errBusy, ms}, {2, errBusy, 2 * ms}},
		},
		{
			name:      "error not retryable",
			policy:    Policy{Schedule: Delays{ms, 2 * ms}, Retryable: On(errBusy)},
			errs:      []error{errGone},
			wantFail:  true,
			wantCalls: 1,
		},
		{
			name:      "retryable, then not",
			policy:    Policy{Schedule: Delays{ms, 2 * ms, 3 * ms}, Retryable: On(errGone, errBusy)},
			errs:      []error{fmt.Errorf("wrapped: %w", errBusy), errGone, errors.New("other")},
			wantFail:  true,
			wantCalls: 3,
			wantWaits: []time.Duration{ms, 2 * ms},
			wantLog:   []retryLog{{1, errBusy, ms}, {2, errGone, 2 * ms}},
		},
		{
			name:      "zero policy tries once",
			errs:      []error{errBusy},
			wantFail:  true,
			wantCalls: 1,
		},
		{
			name:      "wait first, capped exponential",
			policy:    Policy{Schedule: Exponential{Min: 10 * ms, Max: 40 * ms}, WaitFirst: true},
			errs:      []error{errBusy, errBusy, errBusy, errBusy},
			wantCalls: 5,
			wantWaits: []time.Duration{10 * ms, 20 * ms, 40 * ms, 40 * ms, 40 * ms},
			wantLog:   []retryLog{{1, errBusy, 20 * ms}, {2, errBusy, 40 * ms}, {3, errBusy, 40 * ms}, {4, errBusy, 40 * ms}},
		},
		{
			name:      "wait first, bounded retries",
			policy:    Policy{Schedule: Exponential{Min: ms, Retries: 3}, WaitFirst: true},
			errs:      []error{errBusy, errBusy, errBusy, errBusy},
			wantFail:  true,
			wantCalls: 3,
			wantWaits: []time.Duration{ms, 2 * ms, 4 * ms},
			wantLog:   []retryLog{{1, errBusy, 2 * ms}, {2, errBusy, 4 * ms}},
		},
		{
			name:      "wait first with an empty schedule runs at once",
			policy:    Policy{Schedule: Delays{}, WaitFirst: true},
			errs:      []error{errBusy},
			wantFail:  true,
			wantCalls: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.policy
			waits := recordWaits(&p)
			var log []retryLog
			p.OnRetry = func(attempt int, err error, next time.Duration) {
				log = append(log, retryLog{attempt, err, next})
			}
			s := &script{errs: tt.errs}
			err := p.Do(context.Background(), s.op)
			switch {
			case !tt.wantFail && err != nil:
				t.Errorf("Do: %v, want nil", err)
			case tt.wantFail && (s.calls == 0 || err != tt.errs[s.calls-1]):
				t.Errorf("Do: %v, want the last attempt's error", err)
			}
			if s.calls != tt.wantCalls {
				t.Errorf("%d attempts, want %d", s.calls, tt.wantCalls)
			}
			if !slices.Equal(*waits, tt.wantWaits) {
				t.Errorf("waits %v, want %v", *waits, tt.wantWaits)
			}
			if len(log) != len(tt.wantLog) {
				t.Fatalf("OnRetry calls %v, want %v", log, tt.wantLog)
			}
			for i, w := range tt.wantLog {
				if g := log[i]; g.attempt != w.attempt || !errors.Is(g.err, w.err) || g.next != w.next {
					t.Errorf("OnRetry call %d: %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func TestUnitDoContext(t *testing.T) {
	t.Run("cancelled during a wait: the last error, at once", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		s := &script{errs: []error{errBusy, errBusy}}
		op := func(ctx context.Context) error {
			if s.calls == 0 {
				time.AfterFunc(5*time.Millisecond, cancel)
			}
			return s.op(ctx)
		}
		start := time.Now()
		err := Policy{Schedule: Delays{time.Hour}}.Do(ctx, op)
		if !errors.Is(err, errBusy) || errors.Is(err, context.Canceled) {
			t.Errorf("Do: %v, want the operation's error", err)
		}
		if s.calls != 1 {
			t.Errorf("%d attempts, want 1", s.calls)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("Do returned after %v, want soon after the cancel", d)
		}
	})
	t.Run("cancelled by the attempt: no wait, no retry", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		p := Policy{Schedule: Delays{time.Millisecond}}
		waits := recordWaits(&p)
		p.OnRetry = func(int, error, time.Duration) { t.Error("OnRetry called after the context ended") }
		calls := 0
		err := p.Do(ctx, func(context.Context) error { calls++; cancel(); return errBusy })
		if err != errBusy || calls != 1 || len(*waits) != 0 {
			t.Errorf("Do = %v after %d attempts and waits %v; want errBusy, 1, none", err, calls, *waits)
		}
	})
	t.Run("already cancelled: one attempt", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		s := &script{errs: []error{errBusy}}
		if err := (Policy{Schedule: Delays{time.Hour}}).Do(ctx, s.op); err != errBusy || s.calls != 1 {
			t.Errorf("Do = %v after %d attempts; want errBusy after 1", err, s.calls)
		}
	})
	t.Run("already cancelled, wait first: no attempt", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		s := &script{}
		err := Policy{Schedule: Delays{time.Hour}, WaitFirst: true}.Do(ctx, s.op)
		if !errors.Is(err, context.Canceled) || s.calls != 0 {
			t.Errorf("Do = %v after %d attempts; want context.Canceled and none", err, s.calls)
		}
	})
	t.Run("real waits of a few milliseconds", func(t *testing.T) {
		s := &script{errs: []error{errBusy, errBusy}}
		start := time.Now()
		err := Policy{Schedule: Delays{2 * time.Millisecond, 4 * time.Millisecond}}.Do(context.Background(), s.op)
		if err != nil || s.calls != 3 {
			t.Errorf("Do = %v after %d attempts; want nil after 3", err, s.calls)
		}
		if d := time.Since(start); d < 6*time.Millisecond {
			t.Errorf("Do took %v, less than its waits", d)
		}
	})
}

func TestUnitJitter(t *testing.T) {
	t.Run("bounds", func(t *testing.T) {
		tests := []struct {
			name   string
			d      time.Duration
			frac   float64
			lo, hi time.Duration
		}{
			{name: "none", d: 100, frac: 0, lo: 100, hi: 100},
			{name: "equal", d: 100, frac: 0.5, lo: 50, hi: 100},
			{name: "full", d: 100, frac: 1, lo: 0, hi: 100},
			{name: "clamped below", d: 100, frac: -3, lo: 100, hi: 100},
			{name: "clamped above", d: 100, frac: 7, lo: 0, hi: 100},
			{name: "zero delay", d: 0, frac: 0.5, lo: 0, hi: 0},
			{name: "longest delay", d: math.MaxInt64, frac: 1, lo: 0, hi: math.MaxInt64},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				// The extremes of the random draw give the bounds exactly.
				low := jitter(tt.d, tt.frac, func(int64) int64 { return 0 })
				high := jitter(tt.d, tt.frac, func(n int64) int64 { return n })
				if low != tt.lo || high != tt.hi {
					t.Errorf("jitter(%v, %v) spans [%v, %v], want [%v, %v]", tt.d, tt.frac, low, high, tt.lo, tt.hi)
				}
				// Real draws stay inside them.
				p := Policy{Schedule: Delays{tt.d}, Jitter: tt.frac}
				for range 200 {
					var got time.Duration
					p.wait = func(_ context.Context, d time.Duration) error { got = d; return nil }
					if err := p.sleep(context.Background(), tt.d); err != nil {
						t.Fatal(err)
					}
					if got < tt.lo || got > tt.hi {
						t.Fatalf("waited %v, outside [%v, %v]", got, tt.lo, tt.hi)
					}
				}
			})
		}
	})
	t.Run("spread", func(t *testing.T) {
		// Equal jitter of one second draws different waits, not one value.
		seen := map[time.Duration]bool{}
		p := Policy{Jitter: 0.5}
		p.wait = func(_ context.Context, d time.Duration) error { seen[d] = true; return nil }
		for range 50 {
			_ = p.sleep(context.Background(), time.Second)
		}
		if len(seen) < 10 {
			t.Errorf("50 jittered waits took only %d values", len(seen))
		}
	})
}

func TestUnitExponential(t *testing.T) {
	tests := []struct {
		name string
		e    Exponential
		n    int
		want time.Duration
		ok   bool
	}{
		{name: "first", e: Exponential{Min: 10, Max: 50}, n: 0, want: 10, ok: true},
		{name: "doubles", e: Exponential{Min: 10, Max: 50}, n: 2, want: 40, ok: true},
		{name: "capped", e: Exponential{Min: 10, Max: 50}, n: 3, want: 50, ok: true},
		{name: "capped far on", e: Exponential{Min: 10, Max: 50}, n: 1 << 30, want: 50, ok: true},
		{name: "no cap", e: Exponential{Min: 10}, n: 4, want: 160, ok: true},
		{name: "max below min", e: Exponential{Min: 10, Max: 5}, n: 0, want: 5, ok: true},
		{name: "zero min", e: Exponential{Max: 50}, n: 5, want: 0, ok: true},
		{name: "last allowed retry", e: Exponential{Min: 10, Retries: 3}, n: 2, want: 40, ok: true},
		{name: "beyond retries", e: Exponential{Min: 10, Retries: 3}, n: 3, ok: false},
		{name: "negative", e: Exponential{Min: 10}, n: -1, ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, ok := tt.e.Delay(tt.n); got != tt.want || ok != tt.ok {
				t.Errorf("Delay(%d) = %v, %v; want %v, %v", tt.n, got, ok, tt.want, tt.ok)
			}
		})
	}
	t.Run("no cap does not overflow", func(t *testing.T) {
		e := Exponential{Min: time.Second}
		prev, _ := e.Delay(0)
		for n := 1; n < 200; n++ {
			d, ok := e.Delay(n)
			if !ok || d < prev {
				t.Fatalf("Delay(%d) = %v, %v after %v", n, d, ok, prev)
			}
			prev = d
		}
	})
}

func TestUnitDelays(t *testing.T) {
	ds := Delays{100 * time.Millisecond, 400 * time.Millisecond, time.Second}
	for n, want := range []time.Duration{100 * time.Millisecond, 400 * time.Millisecond, time.Second} {
		if got, ok := ds.Delay(n); !ok || got != want {
			t.Errorf("Delay(%d) = %v, %v; want %v, true", n, got, ok, want)
		}
	}
	for _, n := range []int{-1, 3} {
		if _, ok := ds.Delay(n); ok {
			t.Errorf("Delay(%d) is allowed", n)
		}
	}
}

func TestUnitWait(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	if err := Wait(ctx, 0); err != nil {
		t.Errorf("Wait(0): %v", err)
	}
	if err := Wait(ctx, time.Millisecond); err != nil {
		t.Errorf("Wait(1ms): %v", err)
	}
	cancel()
	for _, d := range []time.Duration{0, time.Hour} {
		if err := Wait(ctx, d); !errors.Is(err, context.Canceled) {
			t.Errorf("Wait(%v) on a cancelled context: %v", d, err)
		}
	}
}
