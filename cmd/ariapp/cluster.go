package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/ariapp/ariapp/api"
	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/cluster"
	"github.com/ariapp/ariapp/internal/metrics"
	"github.com/ariapp/ariapp/webhook"
)

// natsConnectTimeout bounds the first connection to NATS.
const natsConnectTimeout = 10 * time.Second

// clusterRun is ariapp with a nodes list or NATS: one app.App per node,
// run by a cluster.Supervisor, served by a cluster.Router.
type clusterRun struct {
	cfg     Config
	log     *zap.Logger
	router  *cluster.Router
	sup     *cluster.Supervisor
	nats    bool
	onEvent func(app.Event)  // metrics and webhooks
	mx      *metrics.Metrics // nil without metrics

	// logRequests: the ARI request log is on, at reqLevel; each node
	// writes it with its name.
	logRequests    bool
	reqLevel       zapcore.Level
	observeRequest func(*ari.Request)

	mu      sync.Mutex
	clients map[string]*ari.Client // ARI clients of the nodes running here
}

// runCluster is run for a cluster member; it returns the exit status.
func runCluster(ctx context.Context, cfg Config, log *zap.Logger, lookupEnv func(string) (string, bool), stderr io.Writer) int {
	var ln net.Listener
	var err error
	if cfg.API.Listen != "" {
		if ln, err = net.Listen("tcp", cfg.API.Listen); err != nil {
			fmt.Fprintf(stderr, "ariapp: cannot listen on %s for the control API (is another ariapp running?): %v\n", cfg.API.Listen, err)
			return exitRuntime
		}
		defer ln.Close()
	}
	cc := cfg.clusterConfig()
	router, err := cluster.NewRouter(cc, log.Named("cluster"))
	if err != nil {
		fmt.Fprintf(stderr, "ariapp: %v\n", err)
		return exitConfig
	}
	defer router.Close()
	cr := &clusterRun{cfg: cfg, log: log, router: router, nats: cc.NATSURL != "", clients: map[string]*ari.Client{}}
	reqLevel := zapcore.DebugLevel
	if cfg.Log.ARIRequests == "info" {
		reqLevel = zapcore.InfoLevel
	}
	cr.reqLevel, cr.logRequests = reqLevel, log.Core().Enabled(reqLevel)
	mx := newMetrics(cfg)
	cr.mx = mx
	var observeEvent func(app.Event)
	if mx != nil {
		cr.observeRequest, observeEvent = mx.ObserveARIRequest, mx.ObserveCallEvent
	}
	var hooks *webhook.Sender
	if len(cfg.Webhooks.URLs) > 0 {
		if hooks, err = webhook.New(cfg.webhookConfig(), log.Named("webhook")); err != nil {
			fmt.Fprintf(stderr, "ariapp: %v\n", err)
			return exitConfig
		}
		hooks.Start()
		defer hooks.Close()
	}
	cr.onEvent = onEvents(observeEvent, hooks.Publisher())

	var bus *cluster.Bus
	var js jetstream.JetStream
	var nc *nats.Conn
	if cr.nats {
		nc, err = nats.Connect(cc.NATSURL,
			nats.Name("ariapp "+cc.Instance),
			nats.Timeout(natsConnectTimeout),
			nats.MaxReconnects(-1),
			nats.ReconnectWait(250*time.Millisecond),
			nats.RetryOnFailedConnect(true),
			// While disconnected, a renewal or an event fails at once
			// rather than waiting in a buffer and landing late.
			nats.ReconnectBufSize(-1),
			nats.DisconnectErrHandler(func(c *nats.Conn, err error) {
				if c.IsClosed() {
					return // the stop closed it
				}
				log.Warn("NATS connection lost; the nodes stop here unless it comes back before their leases are due", zap.Error(err))
			}),
			nats.ReconnectHandler(func(c *nats.Conn) {
				log.Info("NATS connection back", zap.String("nats_server", c.ConnectedUrlRedacted()))
			}))
		if err != nil {
			fmt.Fprintf(stderr, "ariapp: NATS at %s: %v\n", cc.NATSURL, err)
			return exitRuntime
		}
		defer nc.Close()
		if js, err = jetstream.New(nc); err != nil {
			fmt.Fprintf(stderr, "ariapp: NATS JetStream: %v\n", err)
			return exitRuntime
		}
		bus = cluster.NewBus(nc, cc, log.Named("cluster"))
		router.SetBus(bus)
		if err := bus.Start(); err != nil {
			fmt.Fprintf(stderr, "ariapp: %v\n", err)
			return exitRuntime
		}
		defer bus.Close()
	}
	cr.sup = cluster.NewSupervisor(cc, router, bus, js, cr.open, log.Named("cluster"))
	if mx != nil {
		if err := cr.watchMetrics(mx, hooks, bus); err != nil {
			fmt.Fprintf(stderr, "ariapp: %v\n", err)
			return exitRuntime
		}
	}

	var server *api.Server
	if ln != nil {
		apiCfg := cfg.apiServerConfig()
		apiCfg.Listener = ln
		apiCfg.Stats = func() any { return cr.stats(bus) }
		apiCfg.Wrap = router.Wrap
		if mx != nil {
			apiCfg.Metrics = mx.Handler()
		}
		server = api.New(apiCfg, router, router.Ready, log.Named("api"))
		if bus != nil {
			bus.SetHandler(server.Handler())
		}
		if err := server.Start(); err != nil {
			fmt.Fprintf(stderr, "ariapp: %v\n", err)
			return exitRuntime
		}
	}
	cr.sup.Start()
	log.Info("ariapp running", zap.String("ari_application", cfg.ARI.Application), zap.String("api_listen", cfg.API.Listen),
		zap.Strings("nodes", cc.Nodes), zap.String("instance", cc.Instance), zap.Bool("nats", cr.nats))

	notify := newNotifier(lookupEnv)
	if err := notify.send("READY=1"); err != nil {
		log.Warn("cannot tell systemd that ariapp is ready", zap.Error(err))
	}
	<-ctx.Done()
	if cfg.Shutdown.HangupCalls {
		log.Info("signal received; hanging up every call of this instance's nodes, then stopping")
	} else if cr.nats {
		log.Info("signal received; stopping and releasing the node leases (another instance adopts the calls)")
	} else {
		log.Info("signal received; stopping (calls stay up in Asterisk; a restarted ariapp adopts them)")
	}
	if err := notify.send("STOPPING=1"); err != nil {
		log.Warn("cannot tell systemd that ariapp is stopping", zap.Error(err))
	}
	plan := stopPlan{HangupCalls: cfg.Shutdown.HangupCalls, HangupTimeout: cfg.Shutdown.HangupTimeout, Timeout: cfg.Shutdown.Timeout}
	var srv stopServer
	if server != nil {
		srv = server
	}
	if !stop(log, plan, srv, clusterStop{cr}, func() {}) {
		fmt.Fprintln(stderr, "ariapp: the graceful stop did not complete (see the log)")
		return exitStopIncomplete
	}
	log.Info("ariapp stopped")
	return exitOK
}

// clusterStop is the stop's view of the nodes running here.
type clusterStop struct{ cr *clusterRun }

func (s clusterStop) HangupAll(ctx context.Context) {
	var wg sync.WaitGroup
	for _, a := range s.cr.router.Locals() {
		wg.Add(1)
		go func() { defer wg.Done(); a.HangupAll(ctx) }()
	}
	wg.Wait()
}

func (s clusterStop) Calls() []app.CallInfo { return s.cr.router.LocalCalls() }

// Close stops every node and releases its lease.
func (s clusterStop) Close() { s.cr.sup.Stop() }

// open is the cluster.Opener: it starts one node as run starts the ari
// block's, with the node's name in its logs and call ids.
func (cr *clusterRun) open(ctx context.Context, name string) (*cluster.Member, error) {
	cfg := cr.cfg
	n, ok := cfg.nodeByName(name)
	if !ok {
		return nil, fmt.Errorf("no node %q", name)
	}
	log := cr.log.With(zap.String("node", name))
	onEvent, replaced := eventLog(log.Named("ari_event"))
	ariCfg := cfg.nodeClientConfig(n)
	ariCfg.OnEvent, ariCfg.Logger = onEvent, log.Named("ari")
	if !cfg.ARIAllEvents {
		ariCfg.EventTypes = app.EventTypes
	}
	var a *app.App
	var logRequest func(*ari.Request)
	if cr.logRequests {
		logRequest = requestLog(log.Named("ari_request"), cr.reqLevel)
	}
	ariCfg.OnRequest = onRequests(logRequest, cr.observeRequest, func(r *ari.Request) {
		if a != nil {
			a.RecordRequest(r)
		}
	})
	client, err := ari.New(ariCfg)
	if err != nil {
		return nil, err
	}
	appCfg := cfg.App
	appCfg.Node = name
	appCfg.CallIDPrefix = cluster.CallIDPrefix(len(cfg.nodes()), name)
	appCfg.OnEvent = onEvents(cr.onEvent, cr.router.OnEvent(name))
	if a, err = app.New(appCfg, client, log.Named("app")); err != nil {
		client.Close()
		return nil, err
	}
	fail := func(err error) (*cluster.Member, error) {
		a.Close()
		client.Close()
		return nil, err
	}
	nodeFailure := func(err error) error {
		c := cfg
		c.ARI.URL, c.ARI.Username = n.URL, n.Username
		return errors.New(ariFailure(c, err))
	}
	info, err := client.Info(ctx)
	if err != nil {
		return fail(nodeFailure(err))
	}
	log.Info("connected to Asterisk", zap.String("asterisk_version", info.System.Version),
		zap.String("asterisk_entity_id", info.System.EntityID), zap.String("ari_url", n.URL))
	if cr.mx != nil {
		cr.mx.SetAsteriskVersion(info.System.Version) // the nodes run one version
	}

	guardCfg := cfg.nodeClientConfig(n)
	guardCfg.MaxConns = 2
	guardCfg.OnRequest = cr.observeRequest
	guardClient, err := ari.New(guardCfg)
	if err != nil {
		return fail(err)
	}
	guard := newInstanceGuard(guardClient, cfg.ARI.Application, cfg.API.Listen, cfg.Instance.Heartbeat, cfg.ARI.RequestTimeout, log.Named("instance"))
	// With NATS the lease decides who runs the node: the owner record is
	// written for whoever looks (a second ariapp without the cluster sees
	// a live owner), but not waited on, which would delay a takeover past
	// the lease.
	if err := guard.Check(ctx, cfg.Instance.Takeover || cr.nats); err != nil {
		guardClient.Close()
		var inUse *InUseError
		if errors.As(err, &inUse) {
			return fail(err)
		}
		return fail(fmt.Errorf("checking for another ariapp: %w", nodeFailure(err)))
	}
	if err := guard.Claim(ctx, replaced); err != nil {
		guardClient.Close()
		return fail(fmt.Errorf("recording this instance as owner: %w", nodeFailure(err)))
	}
	if err := client.Connect(ctx); err != nil {
		guard.Stop()
		guardClient.Close()
		return fail(nodeFailure(err))
	}
	if err := guard.Beat(ctx); err != nil {
		log.Warn("cannot refresh the owner record", zap.Error(err))
	}
	a.Start(client.Events())
	cr.mu.Lock()
	cr.clients[name] = client
	cr.mu.Unlock()
	cr.sup.SetConnected(name, client.Connected)
	forget := func() {
		cr.mu.Lock()
		if cr.clients[name] == client {
			delete(cr.clients, name)
		}
		cr.mu.Unlock()
	}
	return &cluster.Member{
		App:  a,
		Lost: replaced,
		Fence: func() {
			client.Close()
			guard.Stop()
			guardClient.Close()
		},
		Stop: func(graceful bool) {
			a.Close()
			client.Close()
			if graceful {
				rctx, cancel := context.WithTimeout(context.Background(), cfg.ARI.RequestTimeout)
				guard.Release(rctx)
				cancel()
			} else {
				guard.Stop()
			}
			guardClient.Close()
			forget()
		},
	}, nil
}

// localClients returns the ARI clients of the nodes running here.
func (cr *clusterRun) localClients() []*ari.Client {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	out := make([]*ari.Client, 0, len(cr.clients))
	for _, c := range cr.clients {
		out = append(out, c)
	}
	return out
}

// watchMetrics points the metrics at the nodes running here: the
// families of one node summed over them, and the per-node families.
func (cr *clusterRun) watchMetrics(m *metrics.Metrics, hooks *webhook.Sender, bus *cluster.Bus) error {
	src := metrics.Sources{
		Calls: cr.router.LocalCalls,
		ARI:   cr.ariStats,
		Connected: func() bool {
			cs := cr.localClients()
			for _, c := range cs {
				if !c.Connected() {
					return false
				}
			}
			return len(cs) > 0
		},
		Synced: func() bool {
			ls := cr.router.Locals()
			for _, a := range ls {
				if !a.Synced() {
					return false
				}
			}
			return len(ls) > 0
		},
		Resync: func() app.ResyncStats {
			var sum app.ResyncStats
			for _, a := range cr.router.Locals() {
				r := a.ResyncStats()
				sum.Done += r.Done
				sum.Failed += r.Failed
				sum.CallsChecked += r.CallsChecked
				sum.CallsAdopted += r.CallsAdopted
				sum.RingingAdopted += r.RingingAdopted
				sum.CallsStarted += r.CallsStarted
				sum.StraysHungUp += r.StraysHungUp
			}
			return sum
		},
		Swept: func() uint64 {
			var sum uint64
			for _, a := range cr.router.Locals() {
				sum += a.Swept()
			}
			return sum
		},
	}
	if hooks != nil {
		src.Webhooks = hooks.Stats
	}
	if err := m.Watch(src); err != nil {
		return err
	}
	cs := metrics.ClusterSources{Nodes: func() []metrics.NodeState {
		var out []metrics.NodeState
		for _, n := range cr.sup.Status() {
			out = append(out, metrics.NodeState{Name: n.Name, Local: n.Local, ARIConnected: n.ARIConnected, Synced: n.Synced,
				Calls: n.Calls, LeasesAcquired: n.Acquired, LeasesLost: n.Lost, LeasesReleased: n.Released})
		}
		return out
	}}
	if bus != nil {
		cs.NATSConnected = bus.Connected
		cs.Forwarding = func() metrics.ForwardState {
			s := bus.Stats()
			return metrics.ForwardState{Answered: s.Forwarded, NoOwner: s.NoOwner, Failed: s.Failed, Served: s.Served,
				EventsRelayed: s.EventsRelayed, EventsPublishFailed: s.EventsPublishFailed}
		}
	}
	return m.WatchCluster(cs)
}

// ClusterStats is GET /v1/stats of a cluster member: Stats summed over
// the nodes running here, and each node.
type ClusterStats struct {
	Stats
	Instance string               `json:"instance"`
	NATS     *NATSStats           `json:"nats,omitempty"`
	Nodes    []cluster.NodeStatus `json:"nodes"`
}

// NATSStats is the NATS side of ClusterStats.
type NATSStats struct {
	Connected  bool                 `json:"connected"`
	Forwarding cluster.ForwardStats `json:"forwarding"`
}

// ariStats sums the event streams of the nodes running here.
func (cr *clusterRun) ariStats() ari.Stats {
	var sum ari.Stats
	for _, c := range cr.localClients() {
		s := c.Stats()
		sum.Received += s.Received
		sum.Delivered += s.Delivered
		sum.Dropped += s.Dropped
		sum.DecodeErrors += s.DecodeErrors
		sum.Connects += s.Connects
		sum.Queued += s.Queued
	}
	return sum
}

func (cr *clusterRun) stats(bus *cluster.Bus) ClusterStats {
	st := ClusterStats{Instance: cr.cfg.instanceName(), Nodes: cr.sup.Status()}
	st.Stats = processStatsOf(cr.router.LocalCalls(), nil, ari.Stats{}, false)
	events := map[app.EventName]uint64{}
	for _, a := range cr.router.Locals() {
		for n, c := range a.EventCounts() {
			events[n] += c
		}
	}
	st.Events = events
	st.ARI = cr.ariStats()
	st.ARIConnected = len(st.Nodes) > 0
	for _, n := range st.Nodes {
		if n.Local && !n.ARIConnected {
			st.ARIConnected = false
		}
	}
	if bus != nil {
		st.NATS = &NATSStats{Connected: bus.Connected(), Forwarding: bus.Stats()}
	}
	return st
}
