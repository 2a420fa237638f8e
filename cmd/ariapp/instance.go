package main

// One ariapp per Stasis application.
//
// Asterisk gives an application to whichever client opened its WebSocket
// last and tells the previous one "ApplicationReplaced". A second ariapp
// started by mistake would therefore take the application from a healthy
// first one. Before connecting, ariapp finds out whether another instance is
// alive and refuses to start unless told to take over.
//
// Asterisk itself cannot tell: GET /applications/{name} lists an
// application while it has a WebSocket, but also after its socket is gone
// for as long as channels or bridges of it remain, which is exactly the state
// a crashed ariapp leaves its calls in, and ariapp cannot reach Asterisk's
// CLI. So each running ariapp keeps an owner record in an Asterisk global
// variable (ownerVariable) and rewrites it every heartbeat with a new
// sequence number. A starting ariapp that finds a record watches it for
// silentAfter(record's interval): a rewrite proves a live owner and it
// refuses; a record that stays unchanged belongs to an instance that died
// (kill -9 leaves it behind) and is taken over; a record that disappears was
// released by an owner that stopped. Only changes are compared, never clocks,
// so instances on hosts whose clocks differ agree. The record needs nothing
// beyond the ARI user ariapp already has and vanishes when Asterisk restarts,
// together with every application.
//
// Two instances started within the same heartbeat can both find no owner;
// the one that connects last keeps the application and the other stops on
// "application replaced", so one ariapp still runs.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Instance settings (keys instance.takeover and instance.heartbeat).
const (
	// takeoverEnv is instance.takeover's environment variable, named in the
	// refusal so an operator knows how to take over.
	takeoverEnv = "ARIAPP_INSTANCE_TAKEOVER"
	// heartbeatEnv is instance.heartbeat's.
	heartbeatEnv = "ARIAPP_INSTANCE_HEARTBEAT"
	// defaultHeartbeat keeps a restart after a crash waiting at most
	// silentAfter(2 s) = 6 s, at one small ARI request every 2 s.
	defaultHeartbeat = 2 * time.Second
	minHeartbeat     = 10 * time.Millisecond
)

// silentAfter is how long a record must stay unchanged before its owner
// counts as gone: three heartbeats, so one slow or lost rewrite (Asterisk
// busy) does not make a live owner look dead.
func silentAfter(every time.Duration) time.Duration { return 3 * every }

// errInUse: a live instance owns the application.
var errInUse = errors.New("application in use by a running ariapp")

// InUseError names the live owner that made ariapp refuse to start.
type InUseError struct {
	Application string
	Owner       ownerRecord
}

func (e *InUseError) Error() string {
	api := e.Owner.API
	if api == "" {
		api = "none"
	}
	return fmt.Sprintf("application %q is in use by a running ariapp (instance %s, API %s); not starting. "+
		"To take the application over on purpose (the running instance then stops), start with %s=1",
		e.Application, e.Owner.Instance, api, takeoverEnv)
}

func (e *InUseError) Unwrap() error { return errInUse }

// ownerRecord is the value of the owner variable.
type ownerRecord struct {
	Instance string        // who: host:pid:random
	API      string        // its control API address, for the operator
	Every    time.Duration // its heartbeat interval
	Seq      uint64        // incremented by every rewrite
}

func (r ownerRecord) encode() string {
	return url.Values{
		"instance": {r.Instance},
		"api":      {r.API},
		"every":    {r.Every.String()},
		"seq":      {strconv.FormatUint(r.Seq, 10)},
	}.Encode()
}

func parseOwnerRecord(s string) (ownerRecord, error) {
	q, err := url.ParseQuery(s)
	if err != nil {
		return ownerRecord{}, fmt.Errorf("owner record %q: %w", s, err)
	}
	r := ownerRecord{Instance: q.Get("instance"), API: q.Get("api")}
	if r.Instance == "" {
		return ownerRecord{}, fmt.Errorf("owner record %q: no instance", s)
	}
	if r.Every, err = time.ParseDuration(q.Get("every")); err != nil || r.Every <= 0 {
		return ownerRecord{}, fmt.Errorf("owner record %q: bad interval", s)
	}
	if r.Seq, err = strconv.ParseUint(q.Get("seq"), 10, 64); err != nil {
		return ownerRecord{}, fmt.Errorf("owner record %q: bad sequence", s)
	}
	return r, nil
}

// ownerVariable is the global variable holding application app's owner
// record. Characters other than letters, digits, '-' and '.' are escaped as
// _XX: Asterisk reads a name with '(' as a function call, and the escape
// keeps distinct application names distinct.
func ownerVariable(app string) string {
	var b strings.Builder
	b.WriteString("ARIAPP_OWNER_")
	for i := 0; i < len(app); i++ {
		c := app[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '.':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "_%02X", c)
		}
	}
	return b.String()
}

// newInstanceID names this process for the owner record and log lines.
func newInstanceID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// globalVars is the part of the ARI client the owner record needs.
type globalVars interface {
	GlobalVariable(ctx context.Context, name string) (string, error)
	SetGlobalVariable(ctx context.Context, name, value string) error
}

// instanceGuard keeps this instance's owner record of one application.
type instanceGuard struct {
	vars    globalVars
	app     string
	name    string // ownerVariable(app)
	self    ownerRecord
	log     *zap.Logger
	timeout time.Duration // one request to Asterisk

	mu     sync.Mutex // guards self.Seq
	cancel context.CancelFunc
	done   chan struct{}
}

func newInstanceGuard(vars globalVars, app, apiAddr string, every, timeout time.Duration, log *zap.Logger) *instanceGuard {
	return &instanceGuard{
		vars: vars, app: app, name: ownerVariable(app), log: log, timeout: timeout,
		self: ownerRecord{Instance: newInstanceID(), API: apiAddr, Every: every},
	}
}

// Check returns nil when no other instance is alive, an *InUseError when one
// is. It waits up to silentAfter(owner's interval) when it finds a record
// that is neither released nor rewritten yet. With takeover, it only logs
// whom it takes the application from.
func (g *instanceGuard) Check(ctx context.Context, takeover bool) error {
	first, err := g.read(ctx)
	if err != nil || first == "" {
		return err
	}
	owner, perr := parseOwnerRecord(first)
	if perr != nil {
		g.log.Warn("ignoring an unreadable owner record", zap.String("variable", g.name), zap.Error(perr))
		return nil
	}
	if takeover {
		g.log.Warn("taking over the application on purpose", zap.String("ari_application", g.app),
			zap.String("previous_instance", owner.Instance), zap.String("previous_api", owner.API))
		return nil
	}
	wait := silentAfter(owner.Every)
	g.log.Info("another ariapp recorded itself as owner; waiting for its heartbeat",
		zap.String("ari_application", g.app), zap.String("owner_instance", owner.Instance),
		zap.Duration("heartbeat", owner.Every), zap.Duration("max_wait", wait))
	poll := min(max(owner.Every/4, minHeartbeat), 500*time.Millisecond)
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
		now, err := g.read(ctx)
		if err != nil {
			return err
		}
		switch {
		case now == "":
			g.log.Info("the previous owner released the application", zap.String("owner_instance", owner.Instance))
			return nil
		case now != first:
			if live, perr := parseOwnerRecord(now); perr == nil {
				owner = live
			}
			return &InUseError{Application: g.app, Owner: owner}
		}
	}
	g.log.Warn("the previous owner's heartbeat stopped; taking over its application and calls",
		zap.String("ari_application", g.app), zap.String("owner_instance", owner.Instance),
		zap.Duration("silent_for", wait))
	return nil
}

// Claim writes this instance's record and keeps rewriting it every heartbeat
// until ctx is done, lost is closed (Asterisk gave the application to
// another client) or Release is called. Call it once, before connecting, so
// an instance starting meanwhile sees this one.
func (g *instanceGuard) Claim(ctx context.Context, lost <-chan struct{}) error {
	if err := g.Beat(ctx); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	g.mu.Lock()
	g.cancel, g.done = cancel, make(chan struct{})
	g.mu.Unlock()
	go g.heartbeat(ctx, lost)
	return nil
}

// Beat rewrites the record now. Claim's loop calls it; run calls it once
// more right after connecting, so that a rewrite by the instance this one
// took over, made between Claim and the connection, does not stand.
func (g *instanceGuard) Beat(ctx context.Context) error {
	g.mu.Lock()
	g.self.Seq++
	value := g.self.encode()
	g.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	return g.vars.SetGlobalVariable(ctx, g.name, value)
}

func (g *instanceGuard) heartbeat(ctx context.Context, lost <-chan struct{}) {
	defer close(g.done)
	t := time.NewTicker(g.self.Every)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-lost:
			return
		case <-t.C:
		}
		err := g.Beat(ctx)
		switch {
		case err != nil && !failing && ctx.Err() == nil:
			g.log.Warn("cannot refresh the owner record; a second ariapp may take this one for dead",
				zap.String("variable", g.name), zap.Error(err))
			failing = true
		case err == nil && failing:
			g.log.Info("owner record refreshed again", zap.String("variable", g.name))
			failing = false
		}
	}
}

// Stop stops the heartbeat and leaves the record as it is (a node that
// must not talk to Asterisk any more). Idempotent.
func (g *instanceGuard) Stop() {
	g.mu.Lock()
	cancel, done := g.cancel, g.done
	g.cancel = nil
	g.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// Release stops the heartbeat and removes the record if it is still this
// instance's, so the next ariapp starts without waiting; a record another
// instance wrote after taking over stays.
func (g *instanceGuard) Release(ctx context.Context) {
	g.Stop()
	cur, err := g.read(ctx)
	if err != nil {
		g.log.Warn("cannot release the owner record", zap.String("variable", g.name), zap.Error(err))
		return
	}
	if r, perr := parseOwnerRecord(cur); perr != nil || r.Instance != g.self.Instance {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	if err := g.vars.SetGlobalVariable(ctx, g.name, ""); err != nil {
		g.log.Warn("cannot release the owner record", zap.String("variable", g.name), zap.Error(err))
	}
}

func (g *instanceGuard) read(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	return g.vars.GlobalVariable(ctx, g.name)
}
