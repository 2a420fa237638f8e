package ari

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/zap"

	"github.com/ariapp/ariapp/internal/retry"
)

// ConnState is the state of the event WebSocket.
type ConnState int

// Connection states.
const (
	// StateDisconnected: the WebSocket dropped; the client is reconnecting.
	StateDisconnected ConnState = iota
	// StateConnected: the WebSocket is up (first connect or a reconnect).
	StateConnected
	// StateReplaced: another client took the application; no reconnect.
	StateReplaced
)

func (s ConnState) String() string {
	switch s {
	case StateDisconnected:
		return "disconnected"
	case StateConnected:
		return "connected"
	case StateReplaced:
		return "replaced"
	}
	return fmt.Sprintf("ConnState(%d)", int(s))
}

// ConnectionEventType is the GetType of a *ConnectionEvent; no ARI event
// has this name.
const ConnectionEventType = "ClientConnectionState"

// ConnectionEvent is inserted into the event stream by the client at each
// connection transition. After a Connected with Reconnect set, events may
// have been missed while disconnected: the consumer resyncs from REST.
type ConnectionEvent struct {
	EventBase
	State     ConnState
	Reconnect bool  // Connected after an earlier connection
	Err       error // why the connection dropped (Disconnected, Replaced)
}

// Stats are the event stream's counters since New.
type Stats struct {
	Received     uint64 // messages read from the WebSocket
	Delivered    uint64 // events handed to the consumer (ARI and connection events)
	Dropped      uint64 // events dropped because the queue was full
	DecodeErrors uint64 // messages that could not be decoded (still delivered raw when possible)
	Connects     uint64 // successful WebSocket handshakes
	Queued       int    // events waiting for the consumer now
}

type stats struct {
	received, delivered, dropped, decodeErrors, connects atomic.Uint64
}

// Stats returns the event stream's counters.
func (c *Client) Stats() Stats {
	return Stats{
		Received:     c.stats.received.Load(),
		Delivered:    c.stats.delivered.Load(),
		Dropped:      c.stats.dropped.Load(),
		DecodeErrors: c.stats.decodeErrors.Load(),
		Connects:     c.stats.connects.Load(),
		Queued:       c.queue.len(),
	}
}

// Events is the event stream, in Asterisk's order. It is closed after Close.
func (c *Client) Events() <-chan Event { return c.events }

// Connected reports whether the event WebSocket is up now.
func (c *Client) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.connected
}

// Connect opens the event WebSocket and returns the handshake's error
// (ErrUnauthorized for wrong credentials, ErrUnreachable when Asterisk does
// not answer). On success a background loop reads events and reconnects
// after drops until Close. It may be called once.
func (c *Client) Connect(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	if c.started {
		c.mu.Unlock()
		return fmt.Errorf("ari: Connect called twice")
	}
	// Claimed before dialling, so a concurrent Connect cannot start a second
	// run loop (whose cancel func would be lost, hanging Close). Released on
	// a failed handshake, so Connect may be retried.
	c.started = true
	c.mu.Unlock()

	conn, err := c.dial(ctx)
	if err != nil {
		c.mu.Lock()
		c.started = false
		c.mu.Unlock()
		return err
	}

	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		conn.CloseNow()
		return ErrClosed
	}
	runCtx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.wg.Add(2)
	c.mu.Unlock()

	go c.dispatch(runCtx)
	go c.run(runCtx, conn)
	return nil
}

// Close stops the event loop, closes the WebSocket and waits for every
// goroutine, then closes Events(). REST calls fail with ErrClosed from then
// on. Idempotent.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.isClosed.Store(true)
		c.mu.Lock()
		c.closed = true
		cancel := c.cancel
		c.mu.Unlock()
		if cancel != nil {
			cancel()
		}
		c.wg.Wait()
		if n := c.queue.discard(); n > 0 {
			c.log.Info("ari: events still queued at close were discarded", zap.Int("count", n))
		}
		close(c.events)
		c.http.CloseIdleConnections()
	})
	return nil
}

func (c *Client) wsURL() string {
	u := c.cfg.URL
	switch {
	case strings.HasPrefix(u, "https://"):
		u = "wss://" + strings.TrimPrefix(u, "https://")
	case strings.HasPrefix(u, "http://"):
		u = "ws://" + strings.TrimPrefix(u, "http://")
	}
	q := url.Values{"app": {c.cfg.Application}}
	if c.cfg.SubscribeAll {
		q.Set("subscribeAll", "true")
	} else {
		q.Set("subscribeAll", "false")
	}
	return u + "/events?" + q.Encode()
}

func (c *Client) dial(ctx context.Context) (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.DialTimeout)
	defer cancel()
	h := http.Header{}
	h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(c.cfg.Username+":"+c.cfg.Password)))
	conn, resp, err := websocket.Dial(ctx, c.wsURL(), &websocket.DialOptions{HTTPClient: c.http, HTTPHeader: h})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return nil, newAPIError("GET", "/events", resp.StatusCode, strings.TrimSpace(err.Error()))
		}
		return nil, newTransportError("GET", "/events", err)
	}
	// Channel snapshots with many variables can be large.
	conn.SetReadLimit(32 << 20)
	c.stats.connects.Add(1)
	return conn, nil
}

// run owns the WebSocket: it reads until the connection fails, then
// reconnects with backoff, until Close or ApplicationReplaced.
func (c *Client) run(ctx context.Context, conn *websocket.Conn) {
	defer c.wg.Done()
	reconnect := false
	for {
		c.applyEventFilter(ctx)
		c.setConnected(true)
		c.log.Info("ari: event websocket connected", zap.Bool("reconnect", reconnect))
		c.enqueue(&ConnectionEvent{EventBase: connBase(), State: StateConnected, Reconnect: reconnect})

		replaced, err := c.readLoop(ctx, conn)
		c.setConnected(false)
		if ctx.Err() != nil {
			conn.Close(websocket.StatusNormalClosure, "ariapp closing")
			return
		}
		conn.CloseNow()
		if replaced {
			c.log.Error("ari: application replaced by another client; not reconnecting")
			c.enqueue(&ConnectionEvent{EventBase: connBase(), State: StateReplaced, Err: ErrReplaced})
			return
		}
		c.log.Warn("ari: event websocket dropped", zap.Error(err))
		c.enqueue(&ConnectionEvent{EventBase: connBase(), State: StateDisconnected, Err: err})

		conn = c.redial(ctx)
		if conn == nil {
			return // closed
		}
		reconnect = true
	}
}

// applyEventFilter sets the application's event filter (Config.EventTypes)
// on a new connection: Asterisk forgets it with the connection.
func (c *Client) applyEventFilter(ctx context.Context) {
	if len(c.cfg.EventTypes) == 0 {
		return
	}
	types := append(slices.Clone(c.cfg.EventTypes), "ApplicationReplaced")
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	if _, err := c.SetEventFilter(ctx, types); err != nil {
		c.log.Warn("ari: the event filter was not applied; every event comes", zap.Strings("event_types", types), zap.Error(err))
	}
}

// redial retries the handshake with jittered, capped exponential backoff,
// waiting before the first attempt too, until it succeeds or ctx ends
// (then it returns nil). Every failure is retried: a refused password may
// be fixed in Asterisk while ariapp runs.
func (c *Client) redial(ctx context.Context) *websocket.Conn {
	var conn *websocket.Conn
	backoff := retry.Policy{
		Schedule:  retry.Exponential{Min: c.cfg.ReconnectMin, Max: c.cfg.ReconnectMax},
		Jitter:    0.5, // equal jitter: each wait in [delay/2, delay]
		WaitFirst: true,
		OnRetry: func(attempt int, err error, next time.Duration) {
			lvl := zap.WarnLevel
			if errors.Is(err, ErrUnauthorized) {
				lvl = zap.ErrorLevel
			}
			c.log.Log(lvl, "ari: event websocket reconnect failed", zap.Int("attempt", attempt), zap.Duration("next_in_max", next), zap.Error(err))
		},
	}
	err := backoff.Do(ctx, func(ctx context.Context) error {
		var err error
		conn, err = c.dial(ctx)
		return err
	})
	if err != nil {
		return nil
	}
	return conn
}

// readLoop reads and enqueues events until the connection fails or ctx ends.
func (c *Client) readLoop(ctx context.Context, conn *websocket.Conn) (replaced bool, err error) {
	connCtx, stop := context.WithCancel(ctx)
	var pingWG sync.WaitGroup
	if c.cfg.PingInterval > 0 {
		pingWG.Add(1)
		go func() {
			defer pingWG.Done()
			c.pinger(connCtx, conn)
		}()
	}
	// Stop the pinger before waiting for it (one deferred call, so the
	// order cannot be swapped): the read loop ends at once on a drop.
	defer func() {
		stop()
		pingWG.Wait()
	}()
	// Messages are read into one reused buffer (DecodeEvent keeps no
	// reference to it), and the connection is watched for the end of
	// connCtx once, not per message: with a cancellable context the
	// websocket library registers a context.AfterFunc for every message.
	unwatch := context.AfterFunc(connCtx, func() { conn.CloseNow() })
	defer unwatch()
	var buf bytes.Buffer
	for {
		_, r, err := conn.Reader(context.Background())
		if err == nil {
			buf.Reset()
			_, err = buf.ReadFrom(r)
		}
		if err != nil {
			if connCtx.Err() != nil {
				return false, connCtx.Err()
			}
			return false, err
		}
		data := buf.Bytes()
		c.stats.received.Add(1)
		ev, derr := DecodeEvent(data)
		if derr != nil {
			c.stats.decodeErrors.Add(1)
			c.log.Warn("ari: malformed event", zap.Error(derr), zap.ByteString("raw", bytes.Clone(truncate(data, 512))))
			if ev == nil {
				continue // not even JSON with a type: counted and logged above
			}
		}
		c.enqueue(ev)
		if _, ok := ev.(*ApplicationReplaced); ok {
			return true, ErrReplaced
		}
	}
}

// pinger pings Asterisk so a connection that died without a FIN (e.g. a
// frozen Asterisk) is noticed; a failed ping closes the connection, which
// ends the read loop and triggers a reconnect.
func (c *Client) pinger(ctx context.Context, conn *websocket.Conn) {
	t := time.NewTicker(c.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, c.cfg.PingInterval)
		err := conn.Ping(pctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			c.log.Warn("ari: websocket ping failed; closing connection", zap.Error(err))
			conn.CloseNow()
			return
		}
	}
}

func (c *Client) setConnected(v bool) {
	c.mu.Lock()
	c.connected = v
	c.mu.Unlock()
}

func connBase() EventBase {
	return EventBase{Type: ConnectionEventType, Timestamp: Time{time.Now()}}
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// enqueue hands an event to the dispatcher without ever blocking the reader.
// Connection events bypass the bound (there are at most two per reconnect):
// a consumer that misses one would never resync or learn it was replaced.
func (c *Client) enqueue(ev Event) {
	if c.cfg.OnEvent != nil {
		c.cfg.OnEvent(ev)
	}
	_, isConn := ev.(*ConnectionEvent)
	if c.queue.push(ev, isConn) {
		return
	}
	n := c.stats.dropped.Add(1)
	// Log the first drop and then every 100th, so a flood stays readable;
	// Stats().Dropped has the exact count.
	if n == 1 || n%100 == 0 {
		r := RefsOf(ev)
		c.log.Error("ari: event queue full, event dropped (consumer too slow)",
			zap.String("event_type", ev.GetType()), zap.String("channel_id", r.ChannelID),
			zap.String("bridge_id", r.BridgeID), zap.Uint64("dropped_total", n),
			zap.Int("queue_size", c.cfg.EventQueueSize))
	}
}

// dispatch moves events from the queue to the consumer, in order.
func (c *Client) dispatch(ctx context.Context) {
	defer c.wg.Done()
	for {
		ev, ok := c.queue.pop(ctx)
		if !ok {
			return
		}
		select {
		case c.events <- ev:
			c.stats.delivered.Add(1)
		case <-ctx.Done():
			return
		}
	}
}

// eventQueue is a bounded FIFO between the reader and the dispatcher.
type eventQueue struct {
	mu    sync.Mutex
	items []Event
	head  int
	max   int
	ready chan struct{} // signalled (non-blocking) on push
}

func (q *eventQueue) init(max int) {
	q.max = max
	q.ready = make(chan struct{}, 1)
}

func (q *eventQueue) push(ev Event, force bool) bool {
	q.mu.Lock()
	if !force && len(q.items)-q.head >= q.max {
		q.mu.Unlock()
		return false
	}
	q.items = append(q.items, ev)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return true
}

func (q *eventQueue) pop(ctx context.Context) (Event, bool) {
	for {
		q.mu.Lock()
		if q.head < len(q.items) {
			ev := q.items[q.head]
			q.items[q.head] = nil
			q.head++
			if q.head == len(q.items) {
				q.items, q.head = q.items[:0], 0
			} else if q.head > 1024 && q.head*2 > len(q.items) {
				n := copy(q.items, q.items[q.head:])
				q.items, q.head = q.items[:n], 0
			}
			q.mu.Unlock()
			return ev, true
		}
		q.mu.Unlock()
		select {
		case <-q.ready:
		case <-ctx.Done():
			return nil, false
		}
	}
}

func (q *eventQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) - q.head
}

func (q *eventQueue) discard() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := len(q.items) - q.head
	q.items, q.head = nil, 0
	return n
}
