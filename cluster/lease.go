package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/ariapp/ariapp/app"
)

// Member is a node running on this instance: its App and how to stop it.
type Member struct {
	App *app.App
	// Fence stops every request to the node at once: it closes the
	// node's ARI clients, so nothing leaves for Asterisk afterwards. Stop
	// runs after it on a fenced node.
	Fence func()
	// Stop stops the node's App and clients. graceful: the node is given
	// up on purpose (a stop of ariapp), and may still talk to Asterisk
	// (release its owner record); otherwise it may not.
	Stop func(graceful bool)
	// Lost, if not nil, is closed when the node cannot go on here
	// (another ARI client took its Stasis application).
	Lost <-chan struct{}
}

// Opener starts node on this instance: it connects the node's ARI
// client, starts its App (which adopts the node's calls) and returns once
// the App runs. It gives up when ctx ends.
type Opener func(ctx context.Context, node string) (*Member, error)

// Timings of the node runners.
const (
	// openRetry is the wait before opening a node again that could not be
	// opened, without NATS.
	openRetry = 5 * time.Second
	// syncPoll is how often a newly opened node is checked for its first
	// resync, after which it answers forwarded requests.
	syncPoll = 25 * time.Millisecond
	// leaseRequestTimeout bounds a lease request that no fencing deadline
	// bounds sooner.
	leaseRequestTimeout = 2 * time.Second
)

// NodeStatus is one node as GET /v1/stats and the metrics report it.
type NodeStatus struct {
	Name string `json:"name"`
	// Local: the node runs on this instance.
	Local bool `json:"local"`
	// Owner is the instance that holds the node's lease, as this instance
	// last saw it (with NATS; "" when none does).
	Owner string `json:"owner,omitempty"`
	// ARIConnected and Synced are the node's App's, when it runs here.
	ARIConnected bool `json:"ari_connected"`
	Synced       bool `json:"synced"`
	// Calls are the node's calls, when it runs here.
	Calls int `json:"calls"`
	// LocalSince is when the node started running here.
	LocalSince *time.Time `json:"local_since,omitempty"`
	// Acquired counts the leases of the node this instance took; Lost
	// those it lost (fenced: not renewed in time, or taken); Released
	// those it gave up (a stop, a node it could not open).
	Acquired uint64 `json:"leases_acquired_total"`
	Lost     uint64 `json:"leases_lost_total"`
	Released uint64 `json:"leases_released_total"`
	// LastError is the last reason the node could not run here.
	LastError string `json:"last_error,omitempty"`
}

// leaseValue is what a lease records.
type leaseValue struct {
	Instance string    `json:"instance"`
	Since    time.Time `json:"since"`
}

// nodeState is a node's NodeStatus as its runner keeps it.
type nodeState struct {
	mu sync.Mutex
	NodeStatus
	connected func() bool
}

func (st *nodeState) update(f func(*NodeStatus)) {
	st.mu.Lock()
	defer st.mu.Unlock()
	f(&st.NodeStatus)
}

// Supervisor runs the nodes of this instance: every node without NATS,
// the nodes whose lease it holds with NATS.
type Supervisor struct {
	cfg    Config
	router *Router
	bus    *Bus
	js     jetstream.JetStream
	open   Opener
	log    *zap.Logger
	states map[string]*nodeState

	kvMu sync.Mutex
	kv   jetstream.KeyValue

	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// NewSupervisor returns the runner of router's nodes. bus and js are nil
// without NATS. connected reports, for a node's App, whether its ARI
// event connection is up (for NodeStatus); it may be nil.
func NewSupervisor(cfg Config, router *Router, bus *Bus, js jetstream.JetStream, open Opener, log *zap.Logger) *Supervisor {
	cfg = cfg.WithDefaults()
	if log == nil {
		log = zap.NewNop()
	}
	s := &Supervisor{cfg: cfg, router: router, bus: bus, js: js, open: open, log: log, states: map[string]*nodeState{}}
	for _, n := range cfg.Nodes {
		s.states[n] = &nodeState{NodeStatus: NodeStatus{Name: n}}
	}
	return s
}

// SetConnected sets how a node's ARI connection state is read.
func (s *Supervisor) SetConnected(node string, connected func() bool) {
	if st := s.states[node]; st != nil {
		st.update(func(*NodeStatus) { st.connected = connected })
	}
}

// Start runs every node in its own goroutine until Stop.
func (s *Supervisor) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	for _, n := range s.cfg.Nodes {
		st := s.states[n]
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if s.js == nil {
				s.runStatic(ctx, st)
			} else {
				s.runLeased(ctx, st)
			}
		}()
	}
}

// Stop stops every node gracefully and, with NATS, releases its lease, so
// that another instance takes it over at once. Idempotent.
func (s *Supervisor) Stop() {
	s.once.Do(func() {
		if s.cancel != nil {
			s.cancel()
		}
		s.wg.Wait()
	})
}

// Status reports every node, in configuration order.
func (s *Supervisor) Status() []NodeStatus {
	out := make([]NodeStatus, 0, len(s.states))
	for _, n := range s.cfg.Nodes {
		st := s.states[n]
		st.mu.Lock()
		ns := st.NodeStatus
		connected := st.connected
		st.mu.Unlock()
		if a := s.router.Local(n); a != nil {
			ns.Local = true
			ns.Synced = a.Synced()
			ns.Calls = len(a.Calls())
			if connected != nil {
				ns.ARIConnected = connected()
			}
		} else {
			ns.Local, ns.Synced, ns.Calls, ns.ARIConnected, ns.LocalSince = false, false, 0, false, nil
		}
		out = append(out, ns)
	}
	return out
}

// attach makes m serve node here; with NATS, once its calls are
// reconciled, also for the other instances.
func (s *Supervisor) attach(st *nodeState, m *Member) {
	s.router.Attach(st.Name, m.App)
	now := time.Now()
	st.update(func(ns *NodeStatus) { ns.LocalSince = &now; ns.LastError = "" })
}

// detach takes node away from the API and the bus.
func (s *Supervisor) detach(st *nodeState) {
	if s.bus != nil {
		s.bus.Unserve(st.Name)
	}
	s.router.Detach(st.Name)
	st.update(func(ns *NodeStatus) { ns.LocalSince = nil })
}

// runStatic runs a node without NATS: open it, retrying while it cannot be
// opened, until ctx ends or the node is lost to another ARI client.
func (s *Supervisor) runStatic(ctx context.Context, st *nodeState) {
	log := s.log.With(zap.String("node", st.Name))
	for ctx.Err() == nil {
		m, err := s.open(ctx, st.Name)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			st.update(func(ns *NodeStatus) { ns.LastError = err.Error() })
			log.Error("cannot start the node; trying again", zap.Duration("retry_in", openRetry), zap.Error(err))
			select {
			case <-ctx.Done():
				return
			case <-time.After(openRetry):
			}
			continue
		}
		s.attach(st, m)
		log.Info("node running")
		select {
		case <-ctx.Done():
			s.detach(st)
			m.Stop(true)
			return
		case <-m.Lost:
			s.detach(st)
			m.Stop(false)
			st.update(func(ns *NodeStatus) { ns.LastError = "another ARI client took the Stasis application" })
			log.Error("another ARI client took the node's Stasis application; this instance no longer runs the node")
			<-ctx.Done()
			return
		}
	}
}

// bucket returns the lease bucket, creating it if needed.
func (s *Supervisor) bucket(ctx context.Context) (jetstream.KeyValue, error) {
	s.kvMu.Lock()
	defer s.kvMu.Unlock()
	if s.kv != nil {
		return s.kv, nil
	}
	ctx, cancel := context.WithTimeout(ctx, leaseRequestTimeout)
	defer cancel()
	kv, err := s.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      s.cfg.Bucket,
		Description: "ariapp node leases",
		History:     1,
		TTL:         s.cfg.LeaseTTL,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: lease bucket %s: %w", s.cfg.Bucket, err)
	}
	s.kv = kv
	return kv, nil
}

// forgetBucket makes the next request look the bucket up again (it was
// removed, or NATS restarted without its storage).
func (s *Supervisor) forgetBucket(err error) {
	if errors.Is(err, jetstream.ErrBucketNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrNoStreamResponse) {
		s.kvMu.Lock()
		s.kv = nil
		s.kvMu.Unlock()
	}
}

// definitive reports whether err is JetStream's answer (the lease is
// someone else's, or gone) rather than a failure to reach it.
func definitive(err error) bool {
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrBucketNotFound) {
		return true
	}
	var ae interface{ APIError() *jetstream.APIError }
	return errors.As(err, &ae) && ae.APIError() != nil
}

// pollEvery is how often a node without a lease here is tried.
func (s *Supervisor) pollEvery() time.Duration { return max(s.cfg.RenewEvery/4, 20*time.Millisecond) }

// fenceAfter is how long after the start of its last successful renewal
// an owner stops acting on the node: the lease expires LeaseTTL after the
// server stored that renewal, which is later still.
func (s *Supervisor) fenceAfter() time.Duration { return s.cfg.LeaseTTL - s.cfg.RenewEvery }

// runLeased runs a node with NATS: take its lease whenever it is free,
// run the node while the lease is renewed, stop acting on it before the
// lease could expire.
func (s *Supervisor) runLeased(ctx context.Context, st *nodeState) {
	log := s.log.With(zap.String("node", st.Name), zap.String("instance", s.cfg.Instance))
	var rev uint64 // of a lease this instance may still hold (after a fence)
	warned := false
	for ctx.Err() == nil {
		t0 := time.Now()
		newRev, err := s.acquire(ctx, st, rev)
		switch {
		case err == nil:
			warned = false
			rev = s.own(ctx, st, log, newRev, t0)
			continue
		case definitive(err):
			rev = 0
			warned = false
		case ctx.Err() == nil && !warned:
			log.Warn("cannot reach the lease bucket; trying again", zap.Error(err))
			warned = true
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.pollEvery()):
		}
	}
}

// acquire takes node's lease: by renewing rev (a lease this instance
// held when it fenced itself, still its own unless it expired), else by
// creating it if absent. It returns the lease's revision.
func (s *Supervisor) acquire(ctx context.Context, st *nodeState, rev uint64) (uint64, error) {
	kv, err := s.bucket(ctx)
	if err != nil {
		return 0, err
	}
	val, _ := json.Marshal(leaseValue{Instance: s.cfg.Instance, Since: time.Now().UTC()})
	rctx, cancel := context.WithTimeout(ctx, leaseRequestTimeout)
	defer cancel()
	if rev != 0 {
		if n, err := kv.Update(rctx, st.Name, val, rev); err == nil {
			return n, nil
		} else if !definitive(err) {
			return 0, err
		}
	}
	n, err := kv.Create(rctx, st.Name, val)
	if err == nil {
		return n, nil
	}
	s.forgetBucket(err)
	if errors.Is(err, jetstream.ErrKeyExists) {
		if e, gerr := kv.Get(rctx, st.Name); gerr == nil {
			var lv leaseValue
			if json.Unmarshal(e.Value(), &lv) == nil {
				st.update(func(ns *NodeStatus) { ns.Owner = lv.Instance })
			}
		}
	}
	return 0, err
}

// own runs the node while this instance holds its lease (revision rev,
// last renewed at lastOK). It returns when the lease is lost, given up or
// ctx ends, having stopped the node; the revision it returns is that of a
// lease that may still be this instance's (after a fence for a renewal
// that did not get through), else 0.
func (s *Supervisor) own(ctx context.Context, st *nodeState, log *zap.Logger, rev uint64, lastOK time.Time) uint64 {
	st.update(func(ns *NodeStatus) { ns.Owner = s.cfg.Instance; ns.Acquired++ })
	log.Info("node lease acquired; starting the node", zap.Uint64("revision", rev))

	openCtx, cancelOpen := context.WithCancel(ctx)
	defer cancelOpen()
	type opened struct {
		m   *Member
		err error
	}
	openedC := make(chan opened, 1)
	go func() {
		m, err := s.open(openCtx, st.Name)
		openedC <- opened{m, err}
	}()
	var m *Member
	// openWait is openedC until the open's outcome was taken.
	openWait := openedC
	served := false
	var lost <-chan struct{}
	var syncTick <-chan time.Time
	renew := time.NewTicker(s.cfg.RenewEvery)
	defer renew.Stop()
	fence := time.NewTimer(time.Until(lastOK.Add(s.fenceAfter())))
	defer fence.Stop()
	renewFailing := false

	// stop ends the node here; fenced: at once, with no request to
	// Asterisk any more.
	stop := func(fenced bool) {
		cancelOpen()
		if openWait != nil {
			o := <-openedC
			openWait = nil
			if o.err == nil {
				m = o.m
			}
		}
		if m == nil {
			return
		}
		if fenced {
			m.Fence()
		}
		s.detach(st)
		m.Stop(!fenced)
		m = nil
	}
	release := func(why string) {
		kv, err := s.bucket(ctx)
		if err == nil {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), leaseRequestTimeout)
			err = kv.Delete(rctx, st.Name, jetstream.LastRevision(rev))
			cancel()
		}
		st.update(func(ns *NodeStatus) { ns.Released++; ns.Owner = "" })
		if err != nil {
			log.Warn("node lease not released; it expires by itself", zap.String("why", why), zap.Error(err))
			return
		}
		log.Info("node lease released", zap.String("why", why))
	}
	backoff := func() {
		select {
		case <-ctx.Done():
		case <-time.After(2 * s.cfg.LeaseTTL):
		}
	}

	for {
		select {
		case <-ctx.Done():
			stop(false)
			release("ariapp is stopping")
			return 0

		case o := <-openWait:
			openWait = nil
			if o.err != nil {
				st.update(func(ns *NodeStatus) { ns.LastError = o.err.Error() })
				log.Error("cannot start the node; giving its lease up for another instance", zap.Error(o.err))
				release("the node could not be started here")
				backoff()
				return 0
			}
			m = o.m
			lost = m.Lost
			s.attach(st, m)
			t := time.NewTicker(syncPoll)
			defer t.Stop()
			syncTick = t.C

		case <-syncTick:
			if m != nil && !served && m.App.Synced() {
				if err := s.bus.Serve(st.Name, m.App); err != nil {
					log.Warn("cannot answer the other instances for the node", zap.Error(err))
					continue
				}
				served = true
				syncTick = nil
				log.Info("node running; its calls are reconciled with Asterisk")
			}

		case <-lost:
			log.Error("another ARI client took the node's Stasis application; giving the lease up")
			stop(false)
			st.update(func(ns *NodeStatus) { ns.LastError = "another ARI client took the Stasis application" })
			release("another ARI client took the Stasis application")
			backoff()
			return 0

		case <-renew.C:
			t0 := time.Now()
			n, err := s.renew(ctx, st, rev, lastOK.Add(s.fenceAfter()))
			switch {
			case err == nil:
				rev, lastOK = n, t0
				fence.Reset(time.Until(lastOK.Add(s.fenceAfter())))
				if renewFailing {
					log.Info("node lease renewed again", zap.Uint64("revision", rev))
					renewFailing = false
				}
			case definitive(err):
				s.forgetBucket(err)
				log.Error("node lease lost (taken or expired); stopping the node at once", zap.Error(err))
				stop(true)
				st.update(func(ns *NodeStatus) { ns.Lost++; ns.Owner = ""; ns.LastError = "lease lost: " + err.Error() })
				return 0
			case !renewFailing:
				log.Warn("cannot renew the node lease; the node stops here if this lasts",
					zap.Duration("stop_in", time.Until(lastOK.Add(s.fenceAfter()))), zap.Error(err))
				renewFailing = true
			}

		case <-fence.C:
			log.Error("node lease not renewed in time; stopping the node before the lease can expire (fencing)",
				zap.Duration("since_last_renewal", time.Since(lastOK)), zap.Duration("lease_ttl", s.cfg.LeaseTTL))
			stop(true)
			st.update(func(ns *NodeStatus) { ns.Lost++; ns.LastError = "fenced: lease not renewed in time" })
			return rev
		}
	}
}

// renew rewrites the lease if its revision is still rev, giving up at
// deadline (the fence).
func (s *Supervisor) renew(ctx context.Context, st *nodeState, rev uint64, deadline time.Time) (uint64, error) {
	kv, err := s.bucket(ctx)
	if err != nil {
		return 0, err
	}
	val, _ := json.Marshal(leaseValue{Instance: s.cfg.Instance, Since: time.Now().UTC()})
	rctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	return kv.Update(rctx, st.Name, val, rev)
}
