package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/ariapp/ariapp/app"
)

// Sender delivers call events to the configured receivers. Publish is its
// app.Config.OnEvent hook.
type Sender struct {
	cfg       Config
	key       []byte
	log       *zap.Logger
	client    *http.Client
	transport *http.Transport
	receivers []*receiver

	// mu orders Publish against Close: no event is queued once Close has
	// begun.
	mu      sync.RWMutex
	closing bool
	// stop is closed by Close: the workers deliver what is queued, then
	// return.
	stop chan struct{}
	// ctx bounds every delivery; Close cancels it after the grace.
	ctx    context.Context
	cancel context.CancelFunc

	startOnce, closeOnce sync.Once
	started              bool // set in startOnce
	wg                   sync.WaitGroup
	stats                counters
}

// counters are the Sender's Stats, kept atomically: Publish runs in many
// calls' goroutines.
type counters struct {
	delivered, retries, givenUp, rejected, dropped atomic.Uint64
}

// Stats counts what happened to the events, over every receiver: one
// event posted to two receivers counts twice.
type Stats struct {
	// Delivered: a receiver answered 2xx.
	Delivered uint64 `json:"delivered"`
	// Retries: POSTs after a failed one (an event delivered at the third
	// attempt counts two).
	Retries uint64 `json:"retries"`
	// GivenUp: still failing after RetryFor, or when Close's grace ran
	// out.
	GivenUp uint64 `json:"given_up"`
	// Rejected: a receiver answered a status that says a retry cannot
	// help (a 4xx other than 408 and 429, or a redirect); not retried.
	Rejected uint64 `json:"rejected"`
	// Dropped: not queued because the receiver's queue was full, or left
	// in the queue when Close's grace ran out.
	Dropped uint64 `json:"dropped"`
	// Queued is how many events wait now, over every receiver.
	Queued int `json:"queued"`
}

// closeGrace bounds how long Close lets queued and in-flight deliveries
// go on: one POST's timeout, so a delivery already on the wire can
// finish.
func (s *Sender) closeGrace() time.Duration { return s.cfg.Timeout }

// New returns a Sender for cfg (its zero fields take their defaults); it
// delivers nothing before Start. With no URLs it is a valid Sender that
// drops nothing and sends nothing.
func New(cfg Config, log *zap.Logger) (*Sender, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.backoffMin == 0 {
		cfg.backoffMin = defaultBackoffMin
	}
	if cfg.backoffMax == 0 {
		cfg.backoffMax = defaultBackoffMax
	}
	key, err := SecretKey(cfg.Secret)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if log == nil {
		log = zap.NewNop()
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	s := &Sender{
		cfg:       cfg,
		key:       key,
		log:       log,
		transport: transport,
		client: &http.Client{
			Transport: transport,
			// A receiver that redirects is misconfigured; following could
			// send the event, and its credentials, elsewhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		stop: make(chan struct{}),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	for _, raw := range cfg.URLs {
		u, err := parseURL(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
		s.receivers = append(s.receivers, &receiver{
			s:     s,
			url:   u,
			name:  redact(u),
			queue: make(chan message, cfg.QueueSize),
		})
	}
	return s, nil
}

// Start starts one delivery worker per receiver; later calls do nothing.
func (s *Sender) Start() {
	s.startOnce.Do(func() {
		s.started = true
		for _, r := range s.receivers {
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				r.run(s.ctx)
			}()
		}
	})
}

// Publish queues ev for every receiver and returns at once: it runs in
// the call's goroutine (app.Config.OnEvent). An event that finds a
// receiver's queue full is dropped for that receiver.
func (s *Sender) Publish(ev app.Event) {
	if len(s.receivers) == 0 {
		return
	}
	body, err := json.Marshal(ev)
	if err != nil {
		s.log.Error("encoding a call event for the webhooks", zap.Error(err),
			zap.String("call_id", ev.CallID), zap.String("event", string(ev.Name)))
		return
	}
	m := message{
		id:     fmt.Sprintf("msg_%s_%d", ev.CallID, ev.Seq),
		callID: ev.CallID,
		event:  string(ev.Name),
		body:   body,
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closing {
		return
	}
	for _, r := range s.receivers {
		r.enqueue(m)
	}
}

// Publisher returns Publish as a hook, or nil for a nil Sender, so that
// no webhooks means no hook.
func (s *Sender) Publisher() func(app.Event) {
	if s == nil {
		return nil
	}
	return s.Publish
}

// Stats returns the counters.
func (s *Sender) Stats() Stats {
	st := Stats{
		Delivered: s.stats.delivered.Load(),
		Retries:   s.stats.retries.Load(),
		GivenUp:   s.stats.givenUp.Load(),
		Rejected:  s.stats.rejected.Load(),
		Dropped:   s.stats.dropped.Load(),
	}
	for _, r := range s.receivers {
		st.Queued += len(r.queue)
	}
	return st
}

// Close stops taking events, lets the workers deliver what is queued for
// up to the grace (one POST's timeout), then cancels what is left, and
// returns once every worker has. It may be called more than once and
// before Start.
func (s *Sender) Close() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closing = true
		close(s.stop)
		s.mu.Unlock()
		s.startOnce.Do(func() {}) // no Start after Close
		if !s.started {
			for _, r := range s.receivers {
				r.dropQueued()
			}
		}
		grace := time.AfterFunc(s.closeGrace(), s.cancel)
		s.wg.Wait()
		grace.Stop()
		s.cancel()
		s.transport.CloseIdleConnections()
	})
}
