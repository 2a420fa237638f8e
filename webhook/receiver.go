package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/ariapp/ariapp/internal/retry"
)

// ErrRejected: the receiver answered a status that a retry cannot change.
var ErrRejected = errors.New("webhook: rejected by the receiver")

// StatusError is a POST answered with a status other than 2xx.
type StatusError struct {
	Code int
}

func (e *StatusError) Error() string { return fmt.Sprintf("receiver answered %d", e.Code) }

// Unwrap gives ErrRejected for a status that is not worth a retry.
func (e *StatusError) Unwrap() error {
	if retryableStatus(e.Code) {
		return nil
	}
	return ErrRejected
}

// retryableStatus: a 5xx, 408 Request Timeout or 429 Too Many Requests
// may pass later; another 4xx or a redirect will not.
func retryableStatus(code int) bool {
	return code >= 500 || code == http.StatusRequestTimeout || code == http.StatusTooManyRequests
}

// message is one event, encoded once for every receiver.
type message struct {
	// id is the webhook-id: the same on every attempt, so a receiver can
	// tell a retry of a message it already has.
	id            string
	callID, event string
	body          []byte
}

// receiver is one URL with its queue and its worker.
type receiver struct {
	s   *Sender
	url *url.URL
	// name is the URL without credentials or query, for the log.
	name  string
	queue chan message
	// dropping is set while events are being dropped, so that a burst of
	// drops logs one line when it starts and one when it ends; burst
	// counts its drops.
	dropping atomic.Bool
	burst    atomic.Uint64
}

// enqueue queues m without blocking, or drops it when the queue is full.
func (r *receiver) enqueue(m message) {
	select {
	case r.queue <- m:
		if r.dropping.Load() && r.dropping.CompareAndSwap(true, false) {
			r.s.log.Info("webhook queue has room again", zap.String("url", r.name), zap.Uint64("dropped", r.burst.Swap(0)))
		}
	default:
		r.s.stats.dropped.Add(1)
		r.burst.Add(1)
		if r.dropping.CompareAndSwap(false, true) {
			r.s.log.Warn("webhook queue full; dropping events until the receiver catches up",
				zap.String("url", r.name), zap.Int("queue_size", cap(r.queue)),
				zap.String("call_id", m.callID), zap.String("event", m.event))
		}
	}
}

// dropQueued empties the queue, counting each event as dropped.
func (r *receiver) dropQueued() {
	for {
		select {
		case <-r.queue:
			r.s.stats.dropped.Add(1)
		default:
			return
		}
	}
}

// run delivers the queue in order until the Sender stops, then what is
// left in the queue while ctx lasts.
func (r *receiver) run(ctx context.Context) {
	for {
		select {
		case m := <-r.queue:
			r.deliver(ctx, m)
		case <-r.s.stop:
			for {
				select {
				case m := <-r.queue:
					if ctx.Err() != nil {
						r.s.stats.dropped.Add(1)
						continue
					}
					r.deliver(ctx, m)
				default:
					return
				}
			}
		}
	}
}

// deliver posts m until it is accepted, rejected, or RetryFor has passed
// (or ctx is done); a later message waits meanwhile.
func (r *receiver) deliver(ctx context.Context, m message) {
	cfg := r.s.cfg
	ctx, cancel := context.WithTimeout(ctx, cfg.RetryFor)
	defer cancel()
	fields := []zap.Field{zap.String("url", r.name), zap.String("call_id", m.callID), zap.String("event", m.event), zap.String("webhook_id", m.id)}
	attempts := 0
	policy := retry.Policy{
		Schedule:  retry.Exponential{Min: cfg.backoffMin, Max: cfg.backoffMax},
		Jitter:    0.5,
		Retryable: func(err error) bool { return !errors.Is(err, ErrRejected) },
		OnRetry: func(attempt int, err error, next time.Duration) {
			r.s.stats.retries.Add(1)
			r.s.log.Info("webhook delivery failed; retrying", append(fields, zap.Int("attempt", attempt), zap.Error(err), zap.Duration("retry_in", next))...)
		},
	}
	err := policy.Do(ctx, func(ctx context.Context) error {
		attempts++
		return r.post(ctx, m)
	})
	switch {
	case err == nil:
		r.s.stats.delivered.Add(1)
		r.s.log.Debug("webhook delivered", append(fields, zap.Int("attempt", attempts))...)
	case errors.Is(err, ErrRejected):
		r.s.stats.rejected.Add(1)
		r.s.log.Warn("webhook rejected by the receiver; not retried", append(fields, zap.Int("attempt", attempts), zap.Error(err))...)
	default:
		r.s.stats.givenUp.Add(1)
		r.s.log.Warn("webhook delivery given up", append(fields, zap.Int("attempt", attempts), zap.Error(err), zap.Duration("retry_for", cfg.RetryFor))...)
	}
}

// maxResponseRead is how much of a response body is read (and thrown
// away) so that the connection can be reused.
const maxResponseRead = 4 << 10

// post makes one attempt, within the POST timeout.
func (r *receiver) post(ctx context.Context, m message) error {
	ctx, cancel := context.WithTimeout(ctx, r.s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url.String(), bytes.NewReader(m.body))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRejected, err)
	}
	ts := time.Now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "ariapp-webhook")
	req.Header.Set(HeaderID, m.id)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(r.s.key, m.id, ts, m.body))
	resp, err := r.s.client.Do(req)
	if err != nil {
		// url.Error names the URL, which may hold credentials.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("POST %s: %w", r.name, err)
	}
	_, _ = io.CopyN(io.Discard, resp.Body, maxResponseRead)
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &StatusError{Code: resp.StatusCode}
	}
	return nil
}
