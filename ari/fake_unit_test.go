package ari_test

// A fake ARI server (REST and the event WebSocket) on net/http/httptest, for
// the unit tests of this package. It records every request and lets a test
// script the REST replies and each WebSocket connection.

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ariapp/ariapp/ari"
	"github.com/coder/websocket"
)

// fakeReq is one request as the fake received it.
type fakeReq struct {
	Method      string
	Path        string // decoded path
	EscapedPath string // path as sent on the wire (RawPath when it differs)
	Query       url.Values
	Body        string
	Auth        string // Authorization header
	Accept      string
	ContentType string
}

// wsSession is one accepted WebSocket connection, handed to the session
// script. The connection is closed (CloseNow) when the script returns.
type wsSession struct {
	N    int // 1 for the first accepted-or-refused handshake, 2 for the next, ...
	Conn *websocket.Conn
	// Done is closed when the fake shuts down; scripts that block must
	// return when it is.
	Done <-chan struct{}
}

// Serve reads in the background (answering pings and close frames) and
// returns a context that ends when the client is gone or the fake closes.
func (s *wsSession) Serve() context.Context {
	ctx := s.Conn.CloseRead(context.Background())
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-s.Done:
		case <-ctx.Done():
		}
		cancel()
	}()
	return ctx
}

// Send writes text messages, failing quietly if the client is gone (the
// test then notices what did not arrive).
func (s *wsSession) Send(msgs ...string) error {
	for _, m := range msgs {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := s.Conn.Write(ctx, websocket.MessageText, []byte(m))
		cancel()
		if err != nil {
			return err
		}
	}
	return nil
}

type fakeARI struct {
	t   testing.TB
	srv *httptest.Server

	mu         sync.Mutex
	reqs       []fakeReq // REST requests
	handshakes []fakeReq // WebSocket handshakes, accepted or refused
	// reply answers a REST request (default: 204, no body).
	reply func(r *http.Request) (status int, body string)
	// refuse, if set, is the status that refuses handshake n (1-based); 0
	// accepts.
	refuse func(n int) int
	// session scripts accepted connection n (default: serve until the
	// client goes).
	session func(s *wsSession)

	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

func newFake(t testing.TB) *fakeARI {
	t.Helper()
	f := &fakeARI{t: t, done: make(chan struct{})}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serveHTTP))
	t.Cleanup(f.Close)
	return f
}

// newFakeTLS is newFake over HTTPS; use f.srv.Client() as Config.HTTPClient.
func newFakeTLS(t testing.TB) *fakeARI {
	t.Helper()
	f := &fakeARI{t: t, done: make(chan struct{})}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(f.serveHTTP))
	t.Cleanup(f.Close)
	return f
}

// URL is the fake's ARI base URL.
func (f *fakeARI) URL() string { return f.srv.URL + "/ari" }

// Close stops the server and waits for every handler and session script.
// Idempotent.
func (f *fakeARI) Close() {
	f.closeOnce.Do(func() {
		close(f.done)
		f.srv.Close()
		f.wg.Wait()
	})
}

func (f *fakeARI) setReply(fn func(r *http.Request) (int, string)) {
	f.mu.Lock()
	f.reply = fn
	f.mu.Unlock()
}

func (f *fakeARI) setRefuse(fn func(n int) int) {
	f.mu.Lock()
	f.refuse = fn
	f.mu.Unlock()
}

func (f *fakeARI) setSession(fn func(s *wsSession)) {
	f.mu.Lock()
	f.session = fn
	f.mu.Unlock()
}

// Requests returns the REST requests received so far.
func (f *fakeARI) Requests() []fakeReq {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeReq(nil), f.reqs...)
}

// Handshakes returns the WebSocket handshakes received so far.
func (f *fakeARI) Handshakes() []fakeReq {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeReq(nil), f.handshakes...)
}

func (f *fakeARI) serveHTTP(w http.ResponseWriter, r *http.Request) {
	// Counted before any hijack, so Close (srv.Close, then wg.Wait) never
	// misses a session.
	f.wg.Add(1)
	defer f.wg.Done()

	body, _ := io.ReadAll(r.Body)
	rec := fakeReq{
		Method:      r.Method,
		Path:        r.URL.Path,
		EscapedPath: r.URL.EscapedPath(),
		Query:       r.URL.Query(),
		Body:        string(body),
		Auth:        r.Header.Get("Authorization"),
		Accept:      r.Header.Get("Accept"),
		ContentType: r.Header.Get("Content-Type"),
	}
	if strings.HasSuffix(r.URL.Path, "/events") && r.Header.Get("Upgrade") != "" {
		f.serveWS(w, r, rec)
		return
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, rec)
	reply := f.reply
	f.mu.Unlock()
	status, out := http.StatusNoContent, ""
	if reply != nil {
		status, out = reply(r)
	}
	if out != "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, out)
}

func (f *fakeARI) serveWS(w http.ResponseWriter, r *http.Request, rec fakeReq) {
	f.mu.Lock()
	f.handshakes = append(f.handshakes, rec)
	n := len(f.handshakes)
	refuse, session := f.refuse, f.session
	f.mu.Unlock()
	if refuse != nil {
		if status := refuse(n); status != 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = io.WriteString(w, `{"message":"refused by the fake"}`)
			return
		}
	}
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer conn.CloseNow()
	s := &wsSession{N: n, Conn: conn, Done: f.done}
	if session == nil {
		<-s.Serve().Done()
		return
	}
	session(s)
}

// ---- client helpers ----

const (
	unitUser = "ariapp"
	unitPass = "s3cret:with:colons"
	unitApp  = "ariapp-unit"
	// waitLimit bounds every wait for something that must happen; it is
	// generous because it only costs time when a test fails.
	waitLimit = 5 * time.Second
)

// unitConfig is a config for the fake: short backoff, no pings.
func unitConfig(f *fakeARI) ari.Config {
	return ari.Config{
		URL:            f.URL(),
		Username:       unitUser,
		Password:       unitPass,
		Application:    unitApp,
		RequestTimeout: 3 * time.Second,
		DialTimeout:    3 * time.Second,
		ReconnectMin:   10 * time.Millisecond,
		ReconnectMax:   50 * time.Millisecond,
		PingInterval:   -1,
	}
}

// newUnitClient returns a client of the fake, closed at the end of the test
// (before the fake, since cleanups run last-in first-out).
func newUnitClient(t testing.TB, cfg ari.Config) *ari.Client {
	t.Helper()
	c, err := ari.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func bg(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	t.Cleanup(cancel)
	return ctx
}

// connect connects c and returns the first event, which must be the
// initial ConnectionEvent.
func connect(t testing.TB, c *ari.Client) {
	t.Helper()
	if err := c.Connect(bg(t)); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	ce := nextConn(t, c)
	if ce.State != ari.StateConnected || ce.Reconnect || ce.Err != nil {
		t.Fatalf("first event = %+v, want Connected without Reconnect", ce)
	}
}

// next returns the next event, failing the test if none comes in time or
// the stream is closed.
func next(t testing.TB, c *ari.Client) ari.Event {
	t.Helper()
	select {
	case ev, ok := <-c.Events():
		if !ok {
			t.Fatalf("event stream closed")
		}
		return ev
	case <-time.After(waitLimit):
		t.Fatalf("no event within %v (stats %+v)", waitLimit, c.Stats())
	}
	return nil
}

func nextConn(t testing.TB, c *ari.Client) *ari.ConnectionEvent {
	t.Helper()
	ev := next(t, c)
	ce, ok := ev.(*ari.ConnectionEvent)
	if !ok {
		t.Fatalf("event %T %s, want *ari.ConnectionEvent", ev, ev.GetType())
	}
	if ce.GetType() != ari.ConnectionEventType {
		t.Fatalf("ConnectionEvent type %q", ce.GetType())
	}
	return ce
}

// noEvent asserts that no event arrives within d. Used only where an event
// would be a bug, so a slow machine cannot make it fail.
func noEvent(t testing.TB, c *ari.Client, d time.Duration) {
	t.Helper()
	select {
	case ev, ok := <-c.Events():
		if ok {
			t.Fatalf("unexpected event %T %s", ev, ev.GetType())
		}
	case <-time.After(d):
	}
}

// eventually polls cond until it holds.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
