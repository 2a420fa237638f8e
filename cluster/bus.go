package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/ariapp/ariapp/api"
	"github.com/ariapp/ariapp/app"
)

// Headers of the NATS messages.
const (
	// instanceHeader names the instance that published an event, so that
	// it ignores its own.
	instanceHeader = "Ariapp-Instance"
	// nodeHeader names the node of an event.
	nodeHeader = "Ariapp-Node"
)

// maxServing bounds the forwarded requests an owner runs at once; beyond
// it a request is answered 503 overloaded.
const maxServing = 256

// noOwnerRetry is how often a forward retries a node that has no owner
// (its lease is moving).
const noOwnerRetry = 200 * time.Millisecond

// forwardedHeaders are the request headers a forwarded request keeps.
var forwardedHeaders = []string{"Authorization", "Content-Type", "Accept", "Idempotency-Key"}

// answerHeaders are the answer headers a forwarded answer keeps.
var answerHeaders = []string{"Content-Type", "Location", "Retry-After", "Server-Timing", "Allow", "WWW-Authenticate"}

// wireRequest is an HTTP request on its way to a node's owner.
type wireRequest struct {
	Method string              `json:"method"`
	URI    string              `json:"uri"` // path and query
	Header map[string][]string `json:"header,omitempty"`
	Body   []byte              `json:"body,omitempty"`
	From   string              `json:"from"`
}

// wireAnswer is the owner's answer.
type wireAnswer struct {
	Status int                 `json:"status"`
	Header map[string][]string `json:"header,omitempty"`
	Body   []byte              `json:"body,omitempty"`
	// Instance is the instance that answered.
	Instance string `json:"instance"`
}

// ForwardStats counts the requests this instance forwarded and served
// for others.
type ForwardStats struct {
	// Forwarded are requests sent to another instance and answered by it;
	// NoOwner those given up because no instance ran the node within the
	// timeout; Failed those lost on the way (NATS down, timeout).
	Forwarded uint64 `json:"forwarded_total"`
	NoOwner   uint64 `json:"no_owner_total"`
	Failed    uint64 `json:"failed_total"`
	// Served are requests other instances forwarded here.
	Served uint64 `json:"served_total"`
	// EventsRelayed are call events of other instances' nodes received.
	EventsRelayed uint64 `json:"events_relayed_total"`
	// EventsPublishFailed are this instance's events NATS did not take.
	EventsPublishFailed uint64 `json:"events_publish_failed_total"`
}

// Bus carries forwarded requests, call lists and call events between
// instances over NATS.
type Bus struct {
	nc       *nats.Conn
	prefix   string // "ariapp.BUCKET."
	instance string
	timeout  time.Duration
	log      *zap.Logger
	onEvent  func(node string, ev app.Event) // set by Router.SetBus

	handler atomic.Pointer[http.Handler]
	sem     chan struct{}

	mu      sync.Mutex
	serving map[string][]*nats.Subscription
	events  *nats.Subscription

	forwarded, noOwner, failed, served, relayed, publishFailed atomic.Uint64
}

// NewBus returns a bus on nc for cfg's cluster. Serve the API with
// SetHandler, a node with Serve; Start subscribes to the other instances'
// events.
func NewBus(nc *nats.Conn, cfg Config, log *zap.Logger) *Bus {
	cfg = cfg.WithDefaults()
	if log == nil {
		log = zap.NewNop()
	}
	return &Bus{nc: nc, prefix: "ariapp." + cfg.Bucket + ".", instance: cfg.Instance, timeout: cfg.ForwardTimeout,
		log: log, sem: make(chan struct{}, maxServing), serving: map[string][]*nats.Subscription{}}
}

func (b *Bus) subject(node, kind string) string { return b.prefix + node + "." + kind }

// Connected reports whether the NATS connection is up.
func (b *Bus) Connected() bool { return b.nc.IsConnected() }

// SetHandler is the control API handler (api.Server.Handler) forwarded
// requests are served by. The token is checked there again.
func (b *Bus) SetHandler(h http.Handler) { b.handler.Store(&h) }

// Start subscribes to the events of every node, for this instance's
// subscribers.
func (b *Bus) Start() error {
	sub, err := b.nc.Subscribe(b.prefix+"*.events", b.receiveEvent)
	if err != nil {
		return fmt.Errorf("cluster: subscribing to events: %w", err)
	}
	// A burst of events must not be cut by the default pending limits.
	_ = sub.SetPendingLimits(1<<16, 64<<20)
	b.mu.Lock()
	b.events = sub
	b.mu.Unlock()
	return nil
}

// Close unsubscribes everything (the connection is the caller's).
func (b *Bus) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for node, subs := range b.serving {
		for _, s := range subs {
			_ = s.Unsubscribe()
		}
		delete(b.serving, node)
	}
	if b.events != nil {
		_ = b.events.Unsubscribe()
		b.events = nil
	}
}

func (b *Bus) receiveEvent(m *nats.Msg) {
	if m.Header.Get(instanceHeader) == b.instance {
		return
	}
	var ev app.Event
	if err := json.Unmarshal(m.Data, &ev); err != nil {
		b.log.Warn("cluster: undecodable relayed event", zap.String("subject", m.Subject), zap.Error(err))
		return
	}
	b.relayed.Add(1)
	if b.onEvent != nil {
		b.onEvent(m.Header.Get(nodeHeader), ev)
	}
}

// publishEvent sends one of this instance's events to the others. NATS
// buffers it; it never blocks.
func (b *Bus) publishEvent(node string, ev app.Event) {
	data, err := json.Marshal(ev)
	if err == nil {
		m := &nats.Msg{Subject: b.subject(node, "events"), Data: data, Header: nats.Header{}}
		m.Header.Set(instanceHeader, b.instance)
		m.Header.Set(nodeHeader, node)
		err = b.nc.PublishMsg(m)
	}
	if err != nil {
		if b.publishFailed.Add(1) == 1 {
			b.log.Warn("cluster: a call event could not be relayed to the other instances", zap.String("node", node),
				zap.String("call_id", ev.CallID), zap.String("event", string(ev.Name)), zap.Error(err))
		}
	}
}

// Serve answers, for node (which runs here now), the other instances'
// forwarded requests and call lists.
func (b *Bus) Serve(node string, a *app.App) error {
	httpSub, err := b.nc.Subscribe(b.subject(node, "http"), func(m *nats.Msg) { b.serveHTTP(node, m) })
	if err != nil {
		return fmt.Errorf("cluster: serving node %s: %w", node, err)
	}
	callsSub, err := b.nc.Subscribe(b.subject(node, "calls"), func(m *nats.Msg) {
		data, err := json.Marshal(a.Calls())
		if err != nil {
			return
		}
		_ = m.Respond(data)
	})
	if err != nil {
		_ = httpSub.Unsubscribe()
		return fmt.Errorf("cluster: serving node %s: %w", node, err)
	}
	b.mu.Lock()
	b.serving[node] = []*nats.Subscription{httpSub, callsSub}
	b.mu.Unlock()
	// The subscriptions reach the server before another instance is
	// told the node is served.
	return b.nc.Flush()
}

// Unserve stops answering for node.
func (b *Bus) Unserve(node string) {
	b.mu.Lock()
	subs := b.serving[node]
	delete(b.serving, node)
	b.mu.Unlock()
	for _, s := range subs {
		_ = s.Unsubscribe()
	}
}

// serveHTTP runs one forwarded request through the control API.
func (b *Bus) serveHTTP(node string, m *nats.Msg) {
	select {
	case b.sem <- struct{}{}:
	default:
		b.respondErr(m, (fmt.Errorf("%w: %d forwarded requests in progress", app.ErrOverloaded, maxServing)))
		return
	}
	go func() {
		defer func() { <-b.sem }()
		var wr wireRequest
		if err := json.Unmarshal(m.Data, &wr); err != nil {
			b.log.Warn("cluster: undecodable forwarded request", zap.String("node", node), zap.Error(err))
			return
		}
		hp := b.handler.Load()
		if hp == nil {
			b.respondErr(m, (fmt.Errorf("%w: this instance's API is not up", app.ErrUnavailable)))
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, wr.Method, wr.URI, bytes.NewReader(wr.Body))
		if err != nil {
			b.respondErr(m, (fmt.Errorf("%w: %v", app.ErrUnavailable, err)))
			return
		}
		for k, vs := range wr.Header {
			req.Header[k] = vs
		}
		req.Header.Set(ForwardedHeader, wr.From)
		req.RemoteAddr = "nats:" + wr.From
		rec := &recorder{header: http.Header{}}
		(*hp).ServeHTTP(rec, req)
		b.served.Add(1)
		ans := wireAnswer{Status: rec.status, Header: map[string][]string{}, Body: rec.body.Bytes(), Instance: b.instance}
		if ans.Status == 0 {
			ans.Status = http.StatusOK
		}
		for _, k := range answerHeaders {
			if v := rec.header.Values(k); len(v) > 0 {
				ans.Header[k] = v
			}
		}
		data, _ := json.Marshal(ans)
		_ = m.Respond(data)
	}()
}

func (b *Bus) respondErr(m *nats.Msg, err error) {
	status, body := api.ErrorBodyFor(err)
	data, _ := json.Marshal(wireAnswer{Status: status, Header: map[string][]string{"Content-Type": {"application/json"}}, Body: body, Instance: b.instance})
	_ = m.Respond(data)
}

// Forward sends req to the instance that runs node and writes its answer
// to w. While no instance runs the node (a lease moving) it retries until
// the forward timeout or the request's context ends, and then answers 503.
func (b *Bus) Forward(w http.ResponseWriter, req *http.Request, node string) {
	body, err := io.ReadAll(io.LimitReader(req.Body, maxForwardBody))
	if err != nil {
		api.WriteError(w, fmt.Errorf("%w: reading the request: %v", app.ErrUnavailable, err))
		return
	}
	wr := wireRequest{Method: req.Method, URI: req.URL.RequestURI(), Header: map[string][]string{}, Body: body, From: b.instance}
	for _, k := range forwardedHeaders {
		if v := req.Header.Values(k); len(v) > 0 {
			wr.Header[k] = v
		}
	}
	if req.Method == http.MethodPost && req.URL.Path == "/v1/calls" && req.URL.Query().Get("node") == "" {
		u := *req.URL
		q := u.Query()
		q.Set("node", node)
		u.RawQuery = q.Encode()
		wr.URI = u.RequestURI()
	}
	data, _ := json.Marshal(wr)
	ctx, cancel := context.WithTimeout(req.Context(), b.timeout)
	defer cancel()
	ans, err := b.request(ctx, b.subject(node, "http"), data)
	if err != nil {
		switch {
		case errors.Is(err, nats.ErrNoResponders):
			b.noOwner.Add(1)
			api.WriteError(w, fmt.Errorf("%w: no instance runs node %s now (its lease is moving); retry", app.ErrUnavailable, node))
		default:
			b.failed.Add(1)
			b.log.Warn("cluster: forwarding failed", zap.String("node", node), zap.String("method", req.Method),
				zap.String("path", req.URL.Path), zap.Error(err))
			api.WriteError(w, fmt.Errorf("%w: forwarding to the owner of node %s: %v", app.ErrUnavailable, node, err))
		}
		return
	}
	var wa wireAnswer
	if err := json.Unmarshal(ans, &wa); err != nil {
		b.failed.Add(1)
		api.WriteError(w, fmt.Errorf("%w: undecodable answer of the owner of node %s: %v", app.ErrUnavailable, node, err))
		return
	}
	b.forwarded.Add(1)
	for k, v := range wa.Header {
		w.Header()[k] = v
	}
	w.Header().Set("Ariapp-Served-By", wa.Instance)
	w.WriteHeader(wa.Status)
	_, _ = w.Write(wa.Body)
}

// maxForwardBody bounds a forwarded body; the owner's API applies its own
// api.max_body_bytes.
const maxForwardBody = 1 << 20

// request is a NATS request that retries while nobody answers the
// subject, until ctx ends.
func (b *Bus) request(ctx context.Context, subject string, data []byte) ([]byte, error) {
	for {
		m, err := b.nc.RequestWithContext(ctx, subject, data)
		if err == nil {
			return m.Data, nil
		}
		if !errors.Is(err, nats.ErrNoResponders) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(noOwnerRetry):
		}
	}
}

// nodeCalls asks node's owner for its calls.
func (b *Bus) nodeCalls(ctx context.Context, node string) ([]app.CallInfo, error) {
	m, err := b.nc.RequestWithContext(ctx, b.subject(node, "calls"), nil)
	if err != nil {
		return nil, err
	}
	var calls []app.CallInfo
	if err := json.Unmarshal(m.Data, &calls); err != nil {
		return nil, err
	}
	return calls, nil
}

// nodesCalls asks every node's owner at once; a node without an answer is
// logged and left out.
func (b *Bus) nodesCalls(ctx context.Context, nodes []string) []app.CallInfo {
	var mu sync.Mutex
	var wg sync.WaitGroup
	var out []app.CallInfo
	for _, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			calls, err := b.nodeCalls(ctx, n)
			if err != nil {
				if !errors.Is(err, nats.ErrNoResponders) {
					b.log.Warn("cluster: the calls of a node are left out of the list", zap.String("node", n), zap.Error(err))
				}
				return
			}
			mu.Lock()
			out = append(out, calls...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// Stats returns the forwarding counters.
func (b *Bus) Stats() ForwardStats {
	return ForwardStats{Forwarded: b.forwarded.Load(), NoOwner: b.noOwner.Load(), Failed: b.failed.Load(),
		Served: b.served.Load(), EventsRelayed: b.relayed.Load(), EventsPublishFailed: b.publishFailed.Load()}
}

// recorder is the ResponseWriter of a forwarded request.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}
func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(p)
}
