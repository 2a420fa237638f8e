package fakeasterisk

import (
	"context"
	"sync"
	"time"

	"github.com/ariapp/ariapp/ari"
)

// Conn is one event connection of the application, the fake's WebSocket.
// Events queue without bound and reach Events in order.
type Conn struct {
	a         *Asterisk
	mu        sync.Mutex
	queue     []ari.Event
	connected bool
	connects  int
	wake      chan struct{}
	out       chan ari.Event
	done      chan struct{}
	finished  chan struct{}
	closeOnce sync.Once
}

func newConn(a *Asterisk) *Conn {
	c := &Conn{a: a, wake: make(chan struct{}, 1), out: make(chan ari.Event), done: make(chan struct{}), finished: make(chan struct{})}
	go c.pump()
	return c
}

// Events is the event stream to feed to App.Start; it is closed by Close.
func (c *Conn) Events() <-chan ari.Event { return c.out }

// Connected reports whether the connection is up (false between the
// fake's Disconnect and Reconnect).
func (c *Conn) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.connected
}

// Connects counts the connection's handshakes, reconnects included.
func (c *Conn) Connects() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.connects
}

func (c *Conn) setConnected(v bool) {
	c.mu.Lock()
	c.connected = v
	c.mu.Unlock()
}

// Close ends the connection, like a process that goes away: queued
// events are discarded, Events is closed, and events from now on are lost
// until the next Connect.
func (c *Conn) Close() {
	c.a.mu.Lock()
	if c.a.conn == c {
		c.a.conn = nil
	}
	c.a.mu.Unlock()
	c.closeOnce.Do(func() { close(c.done) })
	<-c.finished
}

func (c *Conn) push(ev ari.Event) {
	c.mu.Lock()
	c.queue = append(c.queue, ev)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *Conn) pump() {
	defer close(c.finished)
	defer close(c.out)
	for {
		c.mu.Lock()
		var ev ari.Event
		if len(c.queue) > 0 {
			ev = c.queue[0]
			c.queue[0] = nil
			c.queue = c.queue[1:]
		}
		c.mu.Unlock()
		if ev == nil {
			select {
			case <-c.wake:
				continue
			case <-c.done:
				return
			}
		}
		select {
		case c.out <- ev:
		case <-c.done:
			return
		}
	}
}

// Fault changes how the fake answers the requests it matches.
type Fault struct {
	// Op is the request, named like the ari.Client method that makes it:
	// "Play", "StopPlayback", "AddChannel", "RemoveChannel", "Originate",
	// "Hangup", "Answer", "Ring", "CreateBridge", "DestroyBridge",
	// "SetVar", "SetVars", "GetVar", "GetVars", "Subscribe", "Channels", "Bridges", "Playback",
	// "StartMOH", "StopMOH", "Mute", "Unmute", "GlobalVariable",
	// "SetGlobalVariable".
	Op string
	// Target is the id the request names (the channel of Play, SetVar,
	// Hangup, Mute..., the bridge of AddChannel/RemoveChannel, the playback
	// of StopPlayback, the endpoint of Originate, the name of a global
	// variable); "" matches any.
	Target string
	// Status and Message, if Status is set, are Asterisk's reply: the
	// request fails with it and changes nothing.
	Status  int
	Message string
	// Unreachable fails the request as if no reply came (ErrUnreachable).
	Unreachable bool
	// Delay holds the request this long before it is carried out.
	Delay time.Duration
	// ReplyDelay holds the reply this long after the request was carried
	// out: its events certainly reach the application first.
	ReplyDelay time.Duration
	// LoseEvents carries the request out but loses the events it causes.
	LoseEvents bool
	// Times is how many matching requests the fault applies to; 0 means
	// every one until Remove.
	Times int
}

// Injected is a fault in force.
type Injected struct {
	f    Fault
	a    *Asterisk
	hits int
}

// Hits is how many requests the fault applied to so far.
func (in *Injected) Hits() int {
	in.a.mu.Lock()
	defer in.a.mu.Unlock()
	return in.hits
}

// Remove takes the fault away.
func (in *Injected) Remove() {
	in.a.mu.Lock()
	defer in.a.mu.Unlock()
	for i, f := range in.a.faults {
		if f == in {
			in.a.faults = append(in.a.faults[:i], in.a.faults[i+1:]...)
			return
		}
	}
}

// Inject puts a fault in force; the first matching fault applies.
func (a *Asterisk) Inject(f Fault) *Injected {
	in := &Injected{f: f, a: a}
	a.mu.Lock()
	a.faults = append(a.faults, in)
	a.mu.Unlock()
	return in
}

// request is one request in progress.
type request struct {
	method, path string
	loseEvents   bool
	replyDelay   time.Duration
	ctx          context.Context
	cancel       context.CancelFunc
}

// begin starts a request: it bounds ctx like the client does and applies
// the first matching fault. It returns with a.mu held on success (end
// releases it) and without on failure.
func (a *Asterisk) begin(ctx context.Context, op, target, method, path string) (*request, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, a.cfg.RequestTimeout)
	r := &request{method: method, path: path, ctx: ctx, cancel: cancel}
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		cancel()
		return nil, ari.ErrClosed
	}
	var f *Fault
	for i, in := range a.faults {
		if in.f.Op == op && (in.f.Target == "" || in.f.Target == target) {
			in.hits++
			ff := in.f
			f = &ff
			if in.f.Times > 0 && in.hits >= in.f.Times {
				a.faults = append(a.faults[:i], a.faults[i+1:]...)
			}
			break
		}
	}
	if f == nil {
		return r, nil
	}
	if f.Delay > 0 {
		a.mu.Unlock()
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			cancel()
			return nil, ari.NewTransportError(method, path, ctx.Err())
		}
		a.mu.Lock()
		if a.closed {
			a.mu.Unlock()
			cancel()
			return nil, ari.ErrClosed
		}
	}
	switch {
	case f.Unreachable:
		a.mu.Unlock()
		cancel()
		return nil, ari.NewTransportError(method, path, errConnRefused)
	case f.Status != 0:
		a.mu.Unlock()
		cancel()
		return nil, ari.NewAPIError(method, path, f.Status, f.Message)
	}
	r.loseEvents, r.replyDelay = f.LoseEvents, f.ReplyDelay
	a.dropping = r.loseEvents
	return r, nil
}

// end finishes a request begun with begin and releases a.mu.
func (a *Asterisk) end(r *request) {
	a.dropping = false
	a.mu.Unlock()
	if r.replyDelay > 0 {
		t := time.NewTimer(r.replyDelay)
		select {
		case <-t.C:
		case <-r.ctx.Done():
			t.Stop()
		}
	}
	r.cancel()
}

// fail is end with Asterisk's error reply.
func (a *Asterisk) fail(r *request, status int, message string) error {
	a.end(r)
	return ari.NewAPIError(r.method, r.path, status, message)
}

// hold waits, with a.mu released, until ready reports true; it fails with
// the client's timeout error when the request's context ends first.
func (a *Asterisk) hold(r *request, ready func() bool) error {
	for !ready() {
		a.dropping = false
		err := a.wait(r.ctx)
		a.dropping = r.loseEvents
		if a.closed {
			return ari.ErrClosed
		}
		if err != nil {
			return ari.NewTransportError(r.method, r.path, err)
		}
	}
	return nil
}

type connRefused struct{}

func (connRefused) Error() string { return "fakeasterisk: connection refused" }

var errConnRefused error = connRefused{}
