// Package retry runs an operation again after failures worth retrying,
// waiting a scheduled, optionally jittered delay between attempts and
// giving up when the schedule ends or the context is done.
//
// It serves short bounded retries of one request (a stop that Asterisk
// refuses for a moment, a clean-up request during a brief outage) as well
// as an unbounded capped backoff (redialling the event WebSocket).
package retry

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"time"
)

// Schedule gives the delay before each retry.
type Schedule interface {
	// Delay is the wait before retry n (0 for the first); ok is false when
	// no retry n is allowed.
	Delay(n int) (d time.Duration, ok bool)
}

// Delays is a bounded schedule: one retry per element, in order.
type Delays []time.Duration

// Delay implements Schedule.
func (ds Delays) Delay(n int) (time.Duration, bool) {
	if n < 0 || n >= len(ds) {
		return 0, false
	}
	return ds[n], true
}

// Exponential doubles the delay from Min up to the cap Max.
type Exponential struct {
	Min time.Duration
	// Max caps the delay; 0 means no cap.
	Max time.Duration
	// Retries bounds the number of retries; 0 means no bound (the caller's
	// context ends the retries).
	Retries int
}

// Delay implements Schedule.
func (e Exponential) Delay(n int) (time.Duration, bool) {
	if n < 0 || (e.Retries > 0 && n >= e.Retries) {
		return 0, false
	}
	d := max(e.Min, 0)
	// Doubling stops at the cap, so the loop is short even for a large n.
	for i := 0; i < n && d > 0 && (e.Max <= 0 || d < e.Max) && d <= math.MaxInt64/2; i++ {
		d *= 2
	}
	if e.Max > 0 {
		d = min(d, e.Max)
	}
	return d, true
}

// Policy says which failures are retried and how long to wait between
// attempts. The zero Policy makes one attempt only (it has no schedule).
type Policy struct {
	Schedule Schedule
	// Jitter is the fraction of each delay drawn at random: the wait is in
	// [d*(1-Jitter), d]. 0.5 is "equal jitter", which spreads clients that
	// lost the same server without ever retrying at once. Values outside
	// [0, 1] are clamped.
	Jitter float64
	// Retryable reports whether a failure is worth another attempt; nil
	// retries every error.
	Retryable func(error) bool
	// WaitFirst waits the schedule's first delay before the first attempt
	// too, so a reconnect right after a drop does not hit the server at
	// once. Retry n then waits the schedule's delay n+1.
	WaitFirst bool
	// OnRetry, if set, is called after each failed attempt that will be
	// retried, with the attempt's number (from 1), its error and the
	// scheduled delay before the next attempt (before jitter).
	OnRetry func(attempt int, err error, next time.Duration)

	// wait waits d or until ctx is done (then it returns ctx.Err());
	// tests replace it to run without sleeping.
	wait func(ctx context.Context, d time.Duration) error
	// randN returns a number in [0, n]; tests replace it to pin jitter.
	randN func(n int64) int64
}

// On returns a Retryable that matches errors wrapping any of targets.
func On(targets ...error) func(error) bool {
	return func(err error) bool {
		for _, t := range targets {
			if errors.Is(err, t) {
				return true
			}
		}
		return false
	}
}

// Do runs op until it succeeds, fails with an error that is not
// retryable, the schedule ends or ctx is done, and returns op's last
// error (nil on success). A done ctx stops the wait at once; Do then
// returns the last error as op gave it, or ctx.Err() if op never ran.
// Without WaitFirst op runs at least once, whatever the state of ctx.
func (p Policy) Do(ctx context.Context, op func(context.Context) error) error {
	var err error
	if d, ok := p.delay(0); ok && p.WaitFirst {
		if werr := p.sleep(ctx, d); werr != nil {
			return werr
		}
	}
	for attempt := 1; ; attempt++ {
		if err = op(ctx); err == nil {
			return nil
		}
		if p.Retryable != nil && !p.Retryable(err) {
			return err
		}
		if ctx.Err() != nil {
			return err
		}
		n := attempt - 1 // the schedule's index of the next wait
		if p.WaitFirst {
			n = attempt
		}
		d, ok := p.delay(n)
		if !ok {
			return err
		}
		if p.OnRetry != nil {
			p.OnRetry(attempt, err, d)
		}
		if p.sleep(ctx, d) != nil {
			return err
		}
	}
}

// delay is the scheduled (unjittered) delay before retry n.
func (p Policy) delay(n int) (time.Duration, bool) {
	if p.Schedule == nil {
		return 0, false
	}
	return p.Schedule.Delay(n)
}

// sleep waits the jittered d.
func (p Policy) sleep(ctx context.Context, d time.Duration) error {
	randN := p.randN
	if randN == nil {
		randN = func(n int64) int64 {
			if n == math.MaxInt64 {
				return rand.Int64()
			}
			return rand.Int64N(n + 1)
		}
	}
	d = jitter(d, p.Jitter, randN)
	if p.wait != nil {
		return p.wait(ctx, d)
	}
	return Wait(ctx, d)
}

// jitter draws a wait in [d*(1-frac), d] with randN (which returns a
// number in [0, n]).
func jitter(d time.Duration, frac float64, randN func(int64) int64) time.Duration {
	spread := int64(d)
	// Converted only when below d, so the conversion cannot overflow.
	if f := float64(d) * max(frac, 0); f < float64(d) {
		spread = int64(f)
	}
	if d <= 0 || spread <= 0 {
		return d
	}
	return d - time.Duration(spread) + time.Duration(randN(spread))
}

// Wait waits d, or returns ctx.Err() as soon as ctx is done.
func Wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
