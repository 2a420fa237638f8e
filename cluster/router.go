package cluster

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/ariapp/ariapp/api"
	"github.com/ariapp/ariapp/app"
)

// ForwardedHeader marks a request another instance forwarded: its
// receiver answers it itself and never forwards it again, so that a lease
// moving meanwhile gives a 503, not a loop.
const ForwardedHeader = "Ariapp-Forwarded-By"

// remoteCallsTimeout bounds the question for another node's calls in GET
// /v1/calls (and the call lookups of GET /v1/events).
const remoteCallsTimeout = 2 * time.Second

// Router is the control API's view of every node (api.Calls): the Apps of
// the nodes this instance runs, and, through the Bus, the others.
type Router struct {
	cfg   Config
	log   *zap.Logger
	relay *app.Relay
	nodes map[string]bool

	mu    sync.RWMutex
	local map[string]*app.App
	bus   *Bus

	next atomic.Uint64 // round robin of originates without a node
}

var _ api.Calls = (*Router)(nil)

// NewRouter returns a router for cfg's nodes, none of them running here
// yet (Attach).
func NewRouter(cfg Config, log *zap.Logger) (*Router, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	r := &Router{cfg: cfg, log: log, relay: app.NewRelay(cfg.SubscriberBuffer, log.Named("relay")),
		nodes: map[string]bool{}, local: map[string]*app.App{}}
	for _, n := range cfg.Nodes {
		r.nodes[n] = true
	}
	return r, nil
}

// SetBus connects the router to the other instances.
func (r *Router) SetBus(b *Bus) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bus = b
	b.onEvent = r.remoteEvent
}

func (r *Router) getBus() *Bus {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.bus
}

// Attach makes a running node's App serve its calls here.
func (r *Router) Attach(node string, a *app.App) {
	r.mu.Lock()
	r.local[node] = a
	r.mu.Unlock()
}

// Detach takes a node away (it stopped here, or its lease moved).
func (r *Router) Detach(node string) {
	r.mu.Lock()
	delete(r.local, node)
	r.mu.Unlock()
}

// Local returns the App of node if it runs here.
func (r *Router) Local(node string) *app.App {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.local[node]
}

// Locals returns the nodes running here and their Apps.
func (r *Router) Locals() map[string]*app.App {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make(map[string]*app.App, len(r.local))
	for n, a := range r.local {
		out[n] = a
	}
	return out
}

// Nodes are the configured node names, in configuration order.
func (r *Router) Nodes() []string { return append([]string(nil), r.cfg.Nodes...) }

// OnEvent is the app.Config.OnEvent hook of node's App: the event goes to
// this instance's subscribers and, with NATS, to the other instances'.
// It never blocks.
func (r *Router) OnEvent(node string) func(app.Event) {
	return func(ev app.Event) {
		r.relay.Publish(ev)
		if b := r.getBus(); b != nil {
			b.publishEvent(node, ev)
		}
	}
}

// remoteEvent is an event another instance relayed.
func (r *Router) remoteEvent(node string, ev app.Event) {
	if !r.nodes[node] {
		return
	}
	r.relay.Publish(ev)
}

// Close ends every subscription.
func (r *Router) Close() { r.relay.Close() }

// NodeOf returns the node a call id belongs to, or "" if it names none.
// With one node every id is that node's; with several, an id is
// NODE-<16 hex digits> (app.Config.CallIDPrefix).
func (r *Router) NodeOf(callID string) string {
	if len(r.cfg.Nodes) == 1 {
		return r.cfg.Nodes[0]
	}
	if len(callID) < 18 || callID[len(callID)-17] != '-' {
		return ""
	}
	node, hexPart := callID[:len(callID)-17], callID[len(callID)-16:]
	if _, err := hex.DecodeString(hexPart); err != nil || !r.nodes[node] {
		return ""
	}
	return node
}

// CallIDPrefix is the call id prefix of node's App: none with one node.
func CallIDPrefix(nodes int, node string) string {
	if nodes <= 1 {
		return ""
	}
	return node + "-"
}

// Calls lists the calls of every node, this instance's and, with NATS,
// those of the others (a node whose owner does not answer in time is left
// out, and logged), oldest first.
func (r *Router) Calls() []app.CallInfo {
	locals := r.Locals()
	var out []app.CallInfo
	for _, a := range locals {
		out = append(out, a.Calls()...)
	}
	if b := r.getBus(); b != nil {
		var remote []string
		for _, n := range r.cfg.Nodes {
			if locals[n] == nil {
				remote = append(remote, n)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), remoteCallsTimeout)
		defer cancel()
		out = append(out, b.nodesCalls(ctx, remote)...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].StartedAt.Before(out[j].StartedAt) })
	return out
}

// LocalCalls lists the calls of the nodes this instance runs (metrics).
func (r *Router) LocalCalls() []app.CallInfo {
	var out []app.CallInfo
	for _, a := range r.Locals() {
		out = append(out, a.Calls()...)
	}
	return out
}

// errNodeElsewhere: the call's node does not run here (its lease is
// elsewhere, or moving).
func (r *Router) errNodeElsewhere(node string) error {
	if r.getBus() == nil {
		return fmt.Errorf("%w: node %s is not connected", app.ErrUnavailable, node)
	}
	return fmt.Errorf("%w: node %s is run by another instance (its lease is moving); retry", app.ErrUnavailable, node)
}

// appOf returns the App of the call's node, ready for operations.
func (r *Router) appOf(callID string) (*app.App, error) {
	node := r.NodeOf(callID)
	if node == "" {
		return nil, fmt.Errorf("%w: %q names no configured node", app.ErrCallNotFound, callID)
	}
	a := r.Local(node)
	if a == nil {
		return nil, r.errNodeElsewhere(node)
	}
	if !a.Synced() {
		// Its calls may not be adopted yet: "not found" would be wrong.
		return nil, fmt.Errorf("%w: node %s is reconnecting or reconciling its calls with Asterisk", app.ErrUnavailable, node)
	}
	return a, nil
}

// Call returns one call, asking its node's owner when it is another
// instance.
func (r *Router) Call(callID string) (app.CallInfo, error) {
	node := r.NodeOf(callID)
	if node == "" {
		return app.CallInfo{}, fmt.Errorf("%w: %q names no configured node", app.ErrCallNotFound, callID)
	}
	if a := r.Local(node); a != nil {
		return a.Call(callID)
	}
	b := r.getBus()
	if b == nil {
		return app.CallInfo{}, r.errNodeElsewhere(node)
	}
	ctx, cancel := context.WithTimeout(context.Background(), remoteCallsTimeout)
	defer cancel()
	calls, err := b.nodeCalls(ctx, node)
	if err != nil {
		return app.CallInfo{}, fmt.Errorf("%w: node %s: %v", app.ErrUnavailable, node, err)
	}
	for _, ci := range calls {
		if ci.CallID == callID {
			return ci, nil
		}
	}
	return app.CallInfo{}, fmt.Errorf("%w: %q", app.ErrCallNotFound, callID)
}

// Timeline is app.App.Timeline of the call's node.
func (r *Router) Timeline(callID string) (app.Timeline, error) {
	a, err := r.appOf(callID)
	if err != nil {
		return app.Timeline{}, err
	}
	return a.Timeline(callID)
}

// Hold is app.App.Hold on the call's node.
func (r *Router) Hold(ctx context.Context, callID, party string, src app.Source, opts ...app.HoldOptions) (app.CallInfo, error) {
	a, err := r.appOf(callID)
	if err != nil {
		return app.CallInfo{}, err
	}
	return a.Hold(ctx, callID, party, src, opts...)
}

// Resume is app.App.Resume on the call's node.
func (r *Router) Resume(ctx context.Context, callID, party string, src app.Source) (app.CallInfo, error) {
	a, err := r.appOf(callID)
	if err != nil {
		return app.CallInfo{}, err
	}
	return a.Resume(ctx, callID, party, src)
}

// Mute is app.App.Mute on the call's node.
func (r *Router) Mute(ctx context.Context, callID, party string, dir app.MuteDirection, src app.Source) (app.CallInfo, error) {
	a, err := r.appOf(callID)
	if err != nil {
		return app.CallInfo{}, err
	}
	return a.Mute(ctx, callID, party, dir, src)
}

// Unmute is app.App.Unmute on the call's node.
func (r *Router) Unmute(ctx context.Context, callID, party string, dir app.MuteDirection, src app.Source) (app.CallInfo, error) {
	a, err := r.appOf(callID)
	if err != nil {
		return app.CallInfo{}, err
	}
	return a.Unmute(ctx, callID, party, dir, src)
}

// Hangup is app.App.Hangup on the call's node.
func (r *Router) Hangup(ctx context.Context, callID string) (app.CallInfo, error) {
	a, err := r.appOf(callID)
	if err != nil {
		return app.CallInfo{}, err
	}
	return a.Hangup(ctx, callID)
}

// nodeKey carries the node an originate asked for (POST /v1/calls?node=).
type nodeKey struct{}

// WithNode returns ctx asking Originate for node.
func WithNode(ctx context.Context, node string) context.Context {
	return context.WithValue(ctx, nodeKey{}, node)
}

// Originate starts a call on the node ctx names (WithNode) or, without
// one, on the next of this instance's nodes whose App is synced.
func (r *Router) Originate(ctx context.Context, from, to string) (app.CallInfo, error) {
	if node, _ := ctx.Value(nodeKey{}).(string); node != "" {
		a := r.Local(node)
		if a == nil {
			return app.CallInfo{}, r.errNodeElsewhere(node)
		}
		return a.Originate(ctx, from, to)
	}
	a := r.pickLocal()
	if a == nil {
		return app.CallInfo{}, fmt.Errorf("%w: no node is connected here", app.ErrUnavailable)
	}
	return a.Originate(ctx, from, to)
}

// pickLocal chooses a node of this instance for an originate: the next
// synced one in turn, else any.
func (r *Router) pickLocal() *app.App {
	var names []string
	locals := r.Locals()
	for _, n := range r.cfg.Nodes {
		if locals[n] != nil {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return nil
	}
	start := int(r.next.Add(1))
	for i := range names {
		if a := locals[names[(start+i)%len(names)]]; a.Synced() {
			return a
		}
	}
	return locals[names[start%len(names)]]
}

// Subscribe subscribes to the events of one call or of every call, of
// every node.
func (r *Router) Subscribe(callID string) *app.Subscription { return r.relay.Subscribe(callID) }

// Wrap is the control API's api.Config.Wrap: a request for a call on a
// node another instance runs goes to that instance (Bus.Forward), as does
// POST /v1/calls?node=NODE for such a node; everything else is served
// here. POST /v1/calls without a node goes to this instance's nodes, or to
// another instance's when none runs here.
func (r *Router) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodPost && req.URL.Path == "/v1/calls" {
			if n := req.URL.Query().Get("node"); n != "" && !r.nodes[n] {
				api.WriteErrorCode(w, http.StatusBadRequest, api.CodeBadRequest, fmt.Sprintf("no node %q (the nodes are %s)", n, strings.Join(r.cfg.Nodes, ", ")))
				return
			}
		}
		node, forward := r.target(req)
		if node != "" && req.Method == http.MethodPost && req.URL.Path == "/v1/calls" {
			req = req.WithContext(WithNode(req.Context(), node))
		}
		if !forward {
			next.ServeHTTP(w, req)
			return
		}
		r.getBus().Forward(w, req, node)
	})
}

// target returns the node a request is for ("" for none) and whether it
// goes to another instance.
func (r *Router) target(req *http.Request) (node string, forward bool) {
	p := req.URL.Path
	switch {
	case p == "/v1/calls" && req.Method == http.MethodPost:
		node = req.URL.Query().Get("node")
		if node == "" && r.getBus() != nil && len(r.Locals()) == 0 {
			node = r.anyNode()
		}
	case strings.HasPrefix(p, "/v1/calls/"):
		id, _, _ := strings.Cut(strings.TrimPrefix(p, "/v1/calls/"), "/")
		node = r.NodeOf(id)
	default:
		return "", false
	}
	if node == "" || r.Local(node) != nil || r.getBus() == nil || req.Header.Get(ForwardedHeader) != "" {
		return node, false
	}
	return node, true
}

// anyNode picks a node in turn, for an originate on an instance that runs
// none.
func (r *Router) anyNode() string {
	n := r.cfg.Nodes
	return n[int(r.next.Add(1))%len(n)]
}

// Ready reports why this instance cannot serve (nil when it can): with
// NATS, when NATS is down; without, when no node is connected and synced.
// A node that is down refuses only its own calls' operations.
func (r *Router) Ready() error {
	if b := r.getBus(); b != nil {
		if !b.Connected() {
			return errors.New("the NATS connection is down")
		}
		return nil
	}
	for _, a := range r.Locals() {
		if a.Synced() {
			return nil
		}
	}
	return errors.New("no Asterisk node is connected and reconciled")
}
