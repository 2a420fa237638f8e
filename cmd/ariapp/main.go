// Command ariapp is an Asterisk ARI (Stasis) application that connects
// two-party calls through a mixing bridge and lets either party hold and
// resume them (see package app).
//
// Configuration comes from flags, ARIAPP_* environment variables, a YAML
// config file and defaults, in that order of precedence; see config.go and
// the README. The ARI password is read only from ARIAPP_ARI_PASSWORD.
//
// This is the only package that knows viper and builds loggers; the
// libraries (ari, app, holdmusic) take typed configs.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/spf13/pflag"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/ariapp/ariapp/api"
	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/webhook"
)

// version is set at build time: go build -ldflags "-X main.version=v1.2.3".
var version = "dev"

// Exit statuses.
const (
	exitOK      = 0
	exitRuntime = 1 // ARI unreachable, wrong credentials, application replaced
	exitConfig  = 2 // bad flags, environment or config file
	// exitStopIncomplete: after a signal, the graceful stop did not
	// complete (calls left up, or a part did not stop in time).
	exitStopIncomplete = 3
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process: it returns the exit status when ctx is
// done (a signal) or ARI fails for good. A config error prints one line to
// stderr and returns 2; an unreachable ARI or wrong credentials print one
// line and return 1.
func run(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "trace" {
		return runTrace(args[1:], stdout, stderr)
	}
	cfg, err := loadConfig(args, lookupEnv)
	switch {
	case errors.Is(err, pflag.ErrHelp):
		usage(stdout)
		return exitOK
	case errors.Is(err, errVersion):
		fmt.Fprintln(stdout, "ariapp", version)
		return exitOK
	case err != nil:
		fmt.Fprintf(stderr, "ariapp: config: %v\n", err)
		return exitConfig
	}
	log, err := newLogger(cfg.Log, zapcore.Lock(zapcore.AddSync(stderr)))
	if err != nil {
		fmt.Fprintf(stderr, "ariapp: %v\n", err)
		return exitConfig
	}
	defer func() { _ = log.Sync() }()
	log.Info("ariapp starting", append([]zap.Field{zap.String("version", version)}, cfg.LogFields()...)...)
	if cfg.usesCluster() {
		return runCluster(ctx, cfg, log, lookupEnv, stderr)
	}
	cfg.App.Node = cfg.ARINode

	// Everything that can fail here without Asterisk comes first: once the
	// WebSocket opens, Asterisk takes the application from whoever had it.
	var ln net.Listener
	if cfg.API.Listen != "" {
		if ln, err = net.Listen("tcp", cfg.API.Listen); err != nil {
			fmt.Fprintf(stderr, "ariapp: cannot listen on %s for the control API (is another ariapp running?): %v\n", cfg.API.Listen, err)
			return exitRuntime
		}
		defer ln.Close() // the server closes it once serving; this covers the exits before
	}
	if cfg.PprofListen != "" {
		prof, err := startPprof(cfg.PprofListen, log.Named("pprof"))
		if err != nil {
			fmt.Fprintf(stderr, "ariapp: cannot listen on %s for the runtime profiles: %v\n", cfg.PprofListen, err)
			return exitRuntime
		}
		defer prof.stop()
	}
	onEvent, replaced := eventLog(log.Named("ari_event"))
	ariCfg := cfg.ariClientConfig()
	ariCfg.OnEvent, ariCfg.Logger = onEvent, log.Named("ari")
	if !cfg.ARIAllEvents {
		ariCfg.EventTypes = app.EventTypes
	}
	reqLevel := zapcore.DebugLevel
	if cfg.Log.ARIRequests == "info" {
		reqLevel = zapcore.InfoLevel
	}
	// Each request goes to the request log (if its level is on), the
	// metrics and its call's timeline; the App exists only once the
	// client does.
	var a *app.App
	var logRequest, observeRequest func(*ari.Request)
	if log.Core().Enabled(reqLevel) {
		logRequest = requestLog(log.Named("ari_request"), reqLevel)
	}
	mx := newMetrics(cfg)
	var observeEvent func(app.Event)
	if mx != nil {
		observeRequest, observeEvent = mx.ObserveARIRequest, mx.ObserveCallEvent
	}
	// The webhooks start now, before any call event, and stop after the
	// application (deferred earlier, run later), so that the events of its
	// stop are queued too.
	var hooks *webhook.Sender
	if len(cfg.Webhooks.URLs) > 0 {
		if hooks, err = webhook.New(cfg.webhookConfig(), log.Named("webhook")); err != nil {
			fmt.Fprintf(stderr, "ariapp: %v\n", err)
			return exitConfig
		}
		hooks.Start()
		defer hooks.Close()
	}
	cfg.App.OnEvent = onEvents(observeEvent, hooks.Publisher())
	ariCfg.OnRequest = onRequests(logRequest, observeRequest, func(r *ari.Request) {
		if a != nil {
			a.RecordRequest(r)
		}
	})
	client, err := ari.New(ariCfg)
	if err != nil {
		fmt.Fprintf(stderr, "ariapp: %v\n", err)
		return exitConfig
	}
	defer client.Close()
	a, err = app.New(cfg.App, client, log.Named("app").With(zap.String("node", cfg.ARINode)))
	if err != nil {
		fmt.Fprintf(stderr, "ariapp: %v\n", err)
		return exitConfig
	}
	defer a.Close()
	if mx != nil {
		if err := watchMetrics(mx, a, client, hooks); err != nil {
			fmt.Fprintf(stderr, "ariapp: %v\n", err)
			return exitRuntime
		}
	}

	// Check reachability and credentials with one request before anything
	// else, so a mistake ends with one clear line.
	info, err := client.Info(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "ariapp: %s\n", ariFailure(cfg, err))
		return exitRuntime
	}
	if mx != nil {
		mx.SetAsteriskVersion(info.System.Version)
	}
	log.Info("connected to Asterisk", zap.String("asterisk_version", info.System.Version),
		zap.String("asterisk_entity_id", info.System.EntityID), zap.String("ari_url", cfg.ARI.URL))

	// The owner record has a client of its own: it must outlive the main
	// client, which the stop closes before the record is released.
	guardCfg := cfg.ariClientConfig()
	guardCfg.MaxConns = 2
	guardCfg.OnRequest = observeRequest // its heartbeats are ARI traffic too
	guardClient, err := ari.New(guardCfg)
	if err != nil {
		fmt.Fprintf(stderr, "ariapp: %v\n", err)
		return exitConfig
	}
	defer guardClient.Close()
	guard := newInstanceGuard(guardClient, cfg.ARI.Application, cfg.API.Listen, cfg.Instance.Heartbeat, cfg.ARI.RequestTimeout, log.Named("instance"))
	if err := guard.Check(ctx, cfg.Instance.Takeover); err != nil {
		var inUse *InUseError
		if errors.As(err, &inUse) {
			fmt.Fprintf(stderr, "ariapp: %v\n", err)
		} else {
			fmt.Fprintf(stderr, "ariapp: checking for another ariapp: %s\n", ariFailure(cfg, err))
		}
		return exitRuntime
	}
	if err := guard.Claim(ctx, replaced); err != nil {
		fmt.Fprintf(stderr, "ariapp: recording this instance as owner: %s\n", ariFailure(cfg, err))
		return exitRuntime
	}
	defer func() {
		releaseCtx, cancel := context.WithTimeout(context.Background(), cfg.ARI.RequestTimeout)
		defer cancel()
		guard.Release(releaseCtx)
	}()

	if err := client.Connect(ctx); err != nil {
		fmt.Fprintf(stderr, "ariapp: %s\n", ariFailure(cfg, err))
		return exitRuntime
	}
	if err := guard.Beat(ctx); err != nil {
		log.Warn("cannot refresh the owner record", zap.Error(err))
	}
	a.Start(client.Events())

	var server *api.Server
	if ln != nil {
		apiCfg := cfg.apiServerConfig()
		apiCfg.Listener = ln
		apiCfg.Stats = func() any { return processStats(a, client) }
		if mx != nil {
			apiCfg.Metrics = mx.Handler()
		}
		server = api.New(apiCfg, a, func() error {
			if !client.Connected() {
				return errors.New("the ARI event connection to Asterisk is down")
			}
			if !a.Synced() {
				return errors.New("reconciling calls with Asterisk")
			}
			return nil
		}, log.Named("api"))
		if err := server.Start(); err != nil {
			fmt.Fprintf(stderr, "ariapp: %v\n", err)
			return exitRuntime
		}
	}
	log.Info("ariapp running", zap.String("ari_application", cfg.ARI.Application), zap.String("api_listen", cfg.API.Listen))

	// Under systemd (Type=notify): ready once the first resync is done.
	notify := newNotifier(lookupEnv)
	readyCtx, cancelReady := context.WithCancel(ctx)
	readyDone := make(chan struct{})
	go func() {
		defer close(readyDone)
		if sent, err := notify.readyWhen(readyCtx, a.Synced, notifyPoll); err != nil {
			log.Warn("cannot tell systemd that ariapp is ready", zap.Error(err))
		} else if sent {
			log.Info("told systemd that ariapp is ready")
		}
	}()
	defer func() { cancelReady(); <-readyDone }()

	code := exitOK
	select {
	case <-ctx.Done():
		if cfg.Shutdown.HangupCalls {
			log.Info("signal received; hanging up every call, then stopping")
		} else {
			log.Info("signal received; stopping (calls stay up in Asterisk; a restarted ariapp adopts them)")
		}
	case <-replaced:
		fmt.Fprintf(stderr, "ariapp: another ARI client registered application %q; stopping\n", cfg.ARI.Application)
		code = exitRuntime
	}
	cancelReady()
	<-readyDone
	if err := notify.send("STOPPING=1"); err != nil {
		log.Warn("cannot tell systemd that ariapp is stopping", zap.Error(err))
	}
	plan := stopPlan{
		HangupCalls:   cfg.Shutdown.HangupCalls && code == exitOK,
		HangupTimeout: cfg.Shutdown.HangupTimeout,
		Timeout:       cfg.Shutdown.Timeout,
	}
	var srv stopServer
	if server != nil {
		srv = server
	}
	if !stop(log, plan, srv, a, func() { _ = client.Close() }) {
		fmt.Fprintln(stderr, "ariapp: the graceful stop did not complete (see the log)")
		if code == exitOK {
			code = exitStopIncomplete
		}
		return code
	}
	log.Info("ariapp stopped")
	return code
}

// ariFailure turns an ARI error into the one line an operator needs.
func ariFailure(cfg Config, err error) string {
	if msg := certificateFailure(cfg, err); msg != "" {
		return msg
	}
	switch {
	case errors.Is(err, ari.ErrUnauthorized):
		return fmt.Sprintf("ARI at %s rejected user %q: wrong username or %s (%v)", cfg.ARI.URL, cfg.ARI.Username, passwordEnv, err)
	case errors.Is(err, ari.ErrUnreachable):
		return fmt.Sprintf("cannot reach ARI at %s: %v", cfg.ARI.URL, err)
	case errors.Is(err, ari.ErrNotFound):
		return fmt.Sprintf("no ARI at %s (is res_ari loaded and the URL's path /ari?): %v", cfg.ARI.URL, err)
	}
	return fmt.Sprintf("ARI at %s: %v", cfg.ARI.URL, err)
}

// eventLog returns the ARI client's OnEvent hook: it logs every ARI event
// as one structured line — the event log operators read when debugging —
// as it arrives, in order, with no goroutine hand-off on the events' way
// to the application. replaced is closed when Asterisk gave the
// application to another client.
func eventLog(log *zap.Logger) (onEvent func(ari.Event), replaced <-chan struct{}) {
	ch := make(chan struct{})
	var once sync.Once
	return func(ev ari.Event) {
		logARIEvent(log, ev)
		if ce, ok := ev.(*ari.ConnectionEvent); ok && ce.State == ari.StateReplaced {
			once.Do(func() { close(ch) })
		}
	}, ch
}
