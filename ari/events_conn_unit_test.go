package ari_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ariapp/ariapp/ari"
	"github.com/coder/websocket"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// seqEvent is event number i of a test sequence.
func seqEvent(i int) string {
	return evJSON("ChannelVarset", `"variable":"SEQ","value":"`+strconv.Itoa(i)+`","channel":{"id":"c1","name":"PJSIP/c1","state":"Up"}`)
}

// seqOf returns the sequence number of a seqEvent, or fails.
func seqOf(t testing.TB, ev ari.Event) int {
	t.Helper()
	v, ok := ev.(*ari.ChannelVarset)
	if !ok || v.Variable != "SEQ" {
		t.Fatalf("event %T %s, want a sequence event", ev, ev.GetType())
	}
	n, err := strconv.Atoi(v.Value)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// sendThenServe is a session script that sends msgs and then serves until
// the client goes.
func sendThenServe(msgs ...string) func(s *wsSession) {
	return func(s *wsSession) {
		ctx := s.Serve()
		_ = s.Send(msgs...)
		<-ctx.Done()
	}
}

func observed(level zapcore.Level) (*zap.Logger, *observer.ObservedLogs) {
	core, logs := observer.New(level)
	return zap.New(core), logs
}

// TestUnitEventStream: events arrive in order, after the initial
// ConnectionEvent; unknown types are delivered raw, messages that are not
// events are counted and skipped.
func TestUnitEventStream(t *testing.T) {
	t.Run("in order, raw and malformed", func(t *testing.T) {
		f := newFake(t)
		unknown := evJSON("ChannelTalkingStarted", `"channel":{"id":"c1"}`)
		wrongField := evJSON("ChannelDestroyed", `"cause":"sixteen","channel":{"id":"c1"}`)
		msgs := []string{
			evJSON("StasisStart", `"args":["inbound"],"channel":`+chanAlice),
			unknown,
			`this is not JSON`,
			evJSON("ChannelDtmfReceived", `"digit":"5","duration_ms":100,"channel":`+chanAlice),
			`{"no":"type"}`,
			wrongField,
			evJSON("StasisEnd", `"channel":`+chanAlice),
		}
		f.setSession(sendThenServe(msgs...))
		log, logs := observed(zap.DebugLevel)
		cfg := unitConfig(f)
		cfg.Logger = log
		c := newUnitClient(t, cfg)
		if c.Connected() {
			t.Error("Connected() before Connect")
		}
		connect(t, c)
		if !c.Connected() {
			t.Error("Connected() false after the Connected event")
		}
		if ev := next(t, c).(*ari.StasisStart); ev.Args[0] != "inbound" || ev.Channel.ID != "1764112117.12" || string(ev.Raw) != msgs[0] {
			t.Errorf("StasisStart %+v", ev)
		}
		if ev, ok := next(t, c).(*ari.RawEvent); !ok || ev.GetType() != "ChannelTalkingStarted" || string(ev.Raw) != unknown {
			t.Errorf("unknown event delivered as %+v", ev)
		}
		if ev := next(t, c).(*ari.ChannelDtmfReceived); ev.Digit != "5" {
			t.Errorf("DTMF %+v", ev)
		}
		if ev, ok := next(t, c).(*ari.RawEvent); !ok || ev.GetType() != "ChannelDestroyed" || string(ev.Raw) != wrongField {
			t.Errorf("undecodable ChannelDestroyed delivered as %+v", ev)
		}
		if ev := next(t, c).(*ari.StasisEnd); ev.Channel.ID != "1764112117.12" {
			t.Errorf("StasisEnd %+v", ev)
		}
		noEvent(t, c, 50*time.Millisecond)
		eventually(t, "delivered count", func() bool { return c.Stats().Delivered == 6 })
		st := c.Stats()
		if st.Received != 7 || st.DecodeErrors != 3 || st.Dropped != 0 || st.Connects != 1 || st.Queued != 0 {
			t.Errorf("stats %+v, want Received 7, DecodeErrors 3 (two not events, one undecodable), Delivered 6", st)
		}
		if n := logs.FilterMessage("ari: malformed event").Len(); n != 3 {
			t.Errorf("%d malformed-event logs, want 3", n)
		}
	})

	t.Run("many events in order", func(t *testing.T) {
		const n = 500
		f := newFake(t)
		msgs := make([]string, n)
		for i := range msgs {
			msgs[i] = seqEvent(i)
		}
		f.setSession(sendThenServe(msgs...))
		c := newUnitClient(t, unitConfig(f))
		connect(t, c)
		for i := 0; i < n; i++ {
			if got := seqOf(t, next(t, c)); got != i {
				t.Fatalf("event %d has sequence %d", i, got)
			}
		}
	})

	// A backlog larger than the queue's internal compaction threshold keeps
	// its order.
	t.Run("large backlog keeps order", func(t *testing.T) {
		const n = 3000
		f := newFake(t)
		msgs := make([]string, n)
		for i := range msgs {
			msgs[i] = seqEvent(i)
		}
		f.setSession(sendThenServe(msgs...))
		cfg := unitConfig(f)
		cfg.EventQueueSize = 2 * n
		c := newUnitClient(t, cfg)
		if err := c.Connect(bg(t)); err != nil {
			t.Fatal(err)
		}
		eventually(t, "all received and queued", func() bool { st := c.Stats(); return st.Received == n && st.Queued == n })
		nextConn(t, c)
		for i := 0; i < n; i++ {
			if got := seqOf(t, next(t, c)); got != i {
				t.Fatalf("event %d has sequence %d", i, got)
			}
		}
		if st := c.Stats(); st.Dropped != 0 {
			t.Errorf("dropped %d", st.Dropped)
		}
	})

	t.Run("https base URL uses wss", func(t *testing.T) {
		f := newFakeTLS(t)
		f.setSession(sendThenServe(seqEvent(1)))
		cfg := unitConfig(f)
		cfg.HTTPClient = f.srv.Client()
		c := newUnitClient(t, cfg)
		connect(t, c)
		if got := seqOf(t, next(t, c)); got != 1 {
			t.Errorf("sequence %d", got)
		}
		if err := c.Answer(bg(t), "c1"); err != nil {
			t.Errorf("REST over https: %v", err)
		}
	})

	t.Run("Config.TLS trusts the server's CA for wss and https", func(t *testing.T) {
		f := newFakeTLS(t)
		f.setSession(sendThenServe(seqEvent(1)))
		roots := x509.NewCertPool()
		roots.AddCert(f.srv.Certificate())
		cfg := unitConfig(f)
		cfg.TLS = &tls.Config{RootCAs: roots}
		c := newUnitClient(t, cfg)
		connect(t, c)
		if got := seqOf(t, next(t, c)); got != 1 {
			t.Errorf("sequence %d", got)
		}
		if err := c.Answer(bg(t), "c1"); err != nil {
			t.Errorf("REST over https: %v", err)
		}
	})

	t.Run("Config.TLS without the server's CA refuses both", func(t *testing.T) {
		f := newFakeTLS(t)
		cfg := unitConfig(f)
		cfg.TLS = &tls.Config{RootCAs: x509.NewCertPool()}
		c := newUnitClient(t, cfg)
		for name, err := range map[string]error{"Connect": c.Connect(bg(t)), "Answer": c.Answer(bg(t), "c1")} {
			var verr *tls.CertificateVerificationError
			if !errors.As(err, &verr) || !errors.Is(err, ari.ErrUnreachable) {
				t.Errorf("%s = %v, want a certificate verification error classified ErrUnreachable", name, err)
			}
		}
		if n := len(f.Requests()) + len(f.Handshakes()); n != 0 {
			t.Errorf("the server saw %d requests through an unverified connection", n)
		}
	})
}

// TestUnitSlowConsumer: a consumer that does not read makes the bounded
// queue drop events; the drops are counted and logged, the rest is
// delivered in order.
func TestUnitSlowConsumer(t *testing.T) {
	const n = 50
	f := newFake(t)
	msgs := make([]string, n)
	for i := range msgs {
		msgs[i] = seqEvent(i)
	}
	f.setSession(sendThenServe(msgs...))
	log, logs := observed(zap.DebugLevel)
	cfg := unitConfig(f)
	cfg.EventQueueSize = 4
	cfg.Logger = log
	var (
		seenMu sync.Mutex
		seen   []ari.Event
	)
	cfg.OnEvent = func(ev ari.Event) {
		seenMu.Lock()
		seen = append(seen, ev)
		seenMu.Unlock()
	}
	c := newUnitClient(t, cfg)
	if err := c.Connect(bg(t)); err != nil {
		t.Fatal(err)
	}
	// Do not read until the reader has seen everything.
	eventually(t, "all received", func() bool { return c.Stats().Received == n })

	// Read until every event is accounted for as delivered or dropped.
	// (Dropped is re-read: the reader may still be handling the last one.)
	var got []ari.Event
	for uint64(len(got))+c.Stats().Dropped < n+1 {
		got = append(got, next(t, c))
	}
	noEvent(t, c, 50*time.Millisecond)
	eventually(t, "delivered count", func() bool { return c.Stats().Delivered == uint64(len(got)) })

	st := c.Stats()
	if st.Dropped == 0 {
		t.Fatalf("nothing dropped with a queue of 4 and %d unread events: %+v", n, st)
	}
	if st.Received != n || st.Delivered+st.Dropped != n+1 || st.Queued != 0 || st.DecodeErrors != 0 {
		t.Errorf("stats %+v: want Received %d and Delivered+Dropped = %d events + 1 connection event", st, n, n)
	}
	if ce, ok := got[0].(*ari.ConnectionEvent); !ok || ce.State != ari.StateConnected {
		t.Errorf("first event %T %+v", got[0], got[0])
	}
	last := -1
	for _, ev := range got[1:] {
		s := seqOf(t, ev)
		if s <= last {
			t.Errorf("order broken: %d after %d", s, last)
		}
		last = s
	}
	if s := seqOf(t, got[1]); s != 0 {
		t.Errorf("first delivered event is %d; the queue drops the newest, so 0 should be kept", s)
	}

	// OnEvent saw everything as it arrived, the dropped events too, in
	// order.
	seenMu.Lock()
	if len(seen) != n+1 {
		t.Errorf("OnEvent saw %d events, want %d + the connection event", len(seen), n)
	} else {
		if ce, ok := seen[0].(*ari.ConnectionEvent); !ok || ce.State != ari.StateConnected {
			t.Errorf("OnEvent's first event %T", seen[0])
		}
		for i, ev := range seen[1:] {
			if s := seqOf(t, ev); s != i {
				t.Errorf("OnEvent's event %d is %d", i, s)
			}
		}
	}
	seenMu.Unlock()

	drops := logs.FilterMessage("ari: event queue full, event dropped (consumer too slow)").AllUntimed()
	if len(drops) == 0 {
		t.Fatal("drop not logged")
	}
	fields := drops[0].ContextMap()
	if drops[0].Level != zap.ErrorLevel || fields["event_type"] != "ChannelVarset" || fields["dropped_total"] != uint64(1) ||
		fields["channel_id"] != "c1" || fields["ari_app"] != unitApp || fields["queue_size"] != int64(4) {
		t.Errorf("drop log %v %v", drops[0].Level, fields)
	}
	// Not every drop is logged (first, then every 100th).
	if len(drops) != 1 {
		t.Errorf("%d drop logs for %d drops", len(drops), st.Dropped)
	}
}

// TestUnitReconnect: after the server drops the connection the client
// reports Disconnected, reconnects with backoff, reports Connected with
// Reconnect set, then delivers the new connection's events.
func TestUnitReconnect(t *testing.T) {
	for _, tt := range []struct {
		name  string
		drop  func(s *wsSession)
		check func(t *testing.T, err error)
	}{
		{"close frame", func(s *wsSession) { s.Conn.Close(websocket.StatusGoingAway, "restarting") }, func(t *testing.T, err error) {
			if websocket.CloseStatus(err) != websocket.StatusGoingAway {
				t.Errorf("Disconnected.Err = %v, want close status going away", err)
			}
		}},
		{"TCP drop", func(s *wsSession) { s.Conn.CloseNow() }, func(t *testing.T, err error) {
			if err == nil {
				t.Error("Disconnected without Err")
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.setSession(func(s *wsSession) {
				switch s.N {
				case 1:
					s.Serve()
					_ = s.Send(seqEvent(1), seqEvent(2))
					tt.drop(s)
				default:
					sendThenServe(seqEvent(3))(s)
				}
			})
			c := newUnitClient(t, unitConfig(f))
			connect(t, c)
			if seqOf(t, next(t, c)) != 1 || seqOf(t, next(t, c)) != 2 {
				t.Fatal("events of the first connection")
			}
			ce := nextConn(t, c)
			if ce.State != ari.StateDisconnected {
				t.Fatalf("after the drop: %+v", ce)
			}
			tt.check(t, ce.Err)
			ce = nextConn(t, c)
			if ce.State != ari.StateConnected || !ce.Reconnect || ce.Err != nil {
				t.Fatalf("after the reconnect: %+v", ce)
			}
			if !c.Connected() {
				t.Error("Connected() false after reconnect")
			}
			if seqOf(t, next(t, c)) != 3 {
				t.Fatal("event of the second connection")
			}
			if st := c.Stats(); st.Connects != 2 {
				t.Errorf("Connects = %d, want 2", st.Connects)
			}
			if n := len(f.Handshakes()); n != 2 {
				t.Errorf("%d handshakes, want 2", n)
			}
		})
	}
}

// TestUnitReconnectBackoff: while Asterisk refuses the handshake the client
// keeps retrying, with delays capped at ReconnectMax, and resumes when it is
// accepted again.
func TestUnitReconnectBackoff(t *testing.T) {
	f := newFake(t)
	var refusing atomic.Bool
	refusing.Store(true)
	f.setRefuse(func(n int) int {
		if n > 1 && refusing.Load() {
			return http.StatusServiceUnavailable
		}
		return 0
	})
	f.setSession(func(s *wsSession) {
		if s.N == 1 {
			return // drop at once
		}
		sendThenServe(seqEvent(7))(s)
	})
	log, logs := observed(zap.DebugLevel)
	cfg := unitConfig(f) // ReconnectMin 10ms, ReconnectMax 50ms
	cfg.Logger = log
	c := newUnitClient(t, cfg)
	connect(t, c)
	if ce := nextConn(t, c); ce.State != ari.StateDisconnected {
		t.Fatalf("%+v", ce)
	}
	eventually(t, "a refused attempt", func() bool { return len(f.Handshakes()) >= 2 })
	start, from := time.Now(), len(f.Handshakes())
	time.Sleep(1500 * time.Millisecond)
	attempts, elapsed := len(f.Handshakes())-from, time.Since(start)

	// Capped at 50ms (jittered down to no less than 25ms), the attempts
	// are at most ~elapsed/25ms apart; without the cap the delays would
	// double to 1.28s within this window, giving under 10 attempts. The
	// lower bound allows 125ms per attempt, so a slow machine passes.
	lo, hi := int(elapsed/(125*time.Millisecond)), int(elapsed/(25*time.Millisecond))+5
	t.Logf("%d attempts in %v (bounds %d..%d)", attempts, elapsed, lo, hi)
	if attempts < lo || attempts > hi {
		t.Errorf("%d attempts in %v, want between %d and %d", attempts, elapsed, lo, hi)
	}
	// The delay the client announces never exceeds ReconnectMax.
	failed := logs.FilterMessage("ari: event websocket reconnect failed").AllUntimed()
	if len(failed) < 3 {
		t.Fatalf("%d reconnect-failed logs", len(failed))
	}
	for i, e := range failed {
		m := e.ContextMap()
		if d, _ := m["next_in_max"].(time.Duration); d <= 0 || d > cfg.ReconnectMax {
			t.Errorf("attempt %v: next_in_max %v outside (0, %v]", m["attempt"], m["next_in_max"], cfg.ReconnectMax)
		}
		if m["attempt"] != int64(i+1) {
			t.Errorf("log %d has attempt %v", i, m["attempt"])
		}
		if e.Level != zap.WarnLevel {
			t.Errorf("503 logged at %v, want warn", e.Level)
		}
	}
	if c.Connected() {
		t.Error("Connected() true while refused")
	}
	// Nothing is delivered while reconnecting.
	select {
	case ev := <-c.Events():
		t.Fatalf("event while refused: %T %+v", ev, ev)
	default:
	}

	refusing.Store(false)
	ce := nextConn(t, c)
	if ce.State != ari.StateConnected || !ce.Reconnect {
		t.Fatalf("%+v", ce)
	}
	if seqOf(t, next(t, c)) != 7 {
		t.Fatal("event after reconnect")
	}
	if st := c.Stats(); st.Connects != 2 {
		t.Errorf("Connects = %d, want 2 (refused handshakes do not count)", st.Connects)
	}
}

// TestUnitReconnectUnauthorizedLogsError: a 401 during reconnect (password
// changed) is retried but logged as an error.
func TestUnitReconnectUnauthorizedLogsError(t *testing.T) {
	f := newFake(t)
	f.setRefuse(func(n int) int {
		if n > 1 {
			return http.StatusUnauthorized
		}
		return 0
	})
	f.setSession(func(s *wsSession) {})
	log, logs := observed(zap.DebugLevel)
	cfg := unitConfig(f)
	cfg.Logger = log
	c := newUnitClient(t, cfg)
	connect(t, c)
	nextConn(t, c) // disconnected
	eventually(t, "two refused attempts", func() bool { return len(f.Handshakes()) >= 3 })
	eventually(t, "the failures logged", func() bool {
		return logs.FilterMessage("ari: event websocket reconnect failed").Len() >= 2
	})
	for _, e := range logs.FilterMessage("ari: event websocket reconnect failed").AllUntimed() {
		if e.Level != zap.ErrorLevel {
			t.Errorf("401 logged at %v, want error", e.Level)
		}
	}
}

// TestUnitApplicationReplaced: ApplicationReplaced is delivered, followed by
// a Replaced ConnectionEvent, and the client does not reconnect.
func TestUnitApplicationReplaced(t *testing.T) {
	f := newFake(t)
	f.setSession(sendThenServe(
		seqEvent(1),
		evJSON("ApplicationReplaced", ""),
		seqEvent(2), // after the replacement: not for us any more
	))
	c := newUnitClient(t, unitConfig(f))
	connect(t, c)
	seqOf(t, next(t, c))
	if ev, ok := next(t, c).(*ari.ApplicationReplaced); !ok || ev.Application != "ariapp" {
		t.Fatalf("want *ApplicationReplaced, got %T %+v", ev, ev)
	}
	ce := nextConn(t, c)
	if ce.State != ari.StateReplaced || !errors.Is(ce.Err, ari.ErrReplaced) {
		t.Fatalf("after ApplicationReplaced: %+v", ce)
	}
	// Ten times ReconnectMax: a reconnect would have happened by now.
	noEvent(t, c, 500*time.Millisecond)
	if n := len(f.Handshakes()); n != 1 {
		t.Errorf("%d handshakes, want 1 (no reconnect after replacement)", n)
	}
	if st := c.Stats(); st.Connects != 1 {
		t.Errorf("Connects = %d", st.Connects)
	}
	if c.Connected() {
		t.Error("Connected() true after replacement")
	}
}

// TestUnitConnectErrors: Connect returns the handshake's error and may be
// called once.
func TestUnitConnectErrors(t *testing.T) {
	for _, tt := range []struct {
		status int
		want   error
	}{
		{http.StatusUnauthorized, ari.ErrUnauthorized},
		{http.StatusForbidden, ari.ErrUnauthorized},
		{http.StatusServiceUnavailable, ari.ErrServer},
		{http.StatusNotFound, ari.ErrNotFound},
	} {
		t.Run(strconv.Itoa(tt.status), func(t *testing.T) {
			f := newFake(t)
			f.setRefuse(func(int) int { return tt.status })
			c := newUnitClient(t, unitConfig(f))
			err := c.Connect(bg(t))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Connect = %v, want %v", err, tt.want)
			}
			var e *ari.APIError
			if !errors.As(err, &e) || e.Status != tt.status || e.Method != "GET" || e.Path != "/events" {
				t.Errorf("APIError %+v", e)
			}
			if c.Connected() {
				t.Error("Connected() after a failed Connect")
			}
		})
	}

	t.Run("closed port", func(t *testing.T) {
		f := newFake(t)
		cfg := unitConfig(f)
		f.Close()
		c := newUnitClient(t, cfg)
		if err := c.Connect(bg(t)); !errors.Is(err, ari.ErrUnreachable) {
			t.Fatalf("Connect = %v, want ErrUnreachable", err)
		}
	})

	t.Run("DialTimeout", func(t *testing.T) {
		f := newFake(t)
		f.setRefuse(func(int) int { <-f.done; return 0 }) // never answers
		cfg := unitConfig(f)
		cfg.DialTimeout = 50 * time.Millisecond
		c := newUnitClient(t, cfg)
		err := c.Connect(context.Background())
		if !errors.Is(err, ari.ErrUnreachable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Connect = %v, want ErrUnreachable and DeadlineExceeded", err)
		}
		f.Close()
	})

	t.Run("twice", func(t *testing.T) {
		f := newFake(t)
		c := newUnitClient(t, unitConfig(f))
		connect(t, c)
		err := c.Connect(bg(t))
		if err == nil || errors.Is(err, ari.ErrClosed) {
			t.Fatalf("second Connect = %v, want an error", err)
		}
		if n := len(f.Handshakes()); n != 1 {
			t.Errorf("%d handshakes", n)
		}
	})

	t.Run("after Close", func(t *testing.T) {
		f := newFake(t)
		c := newUnitClient(t, unitConfig(f))
		c.Close()
		if err := c.Connect(bg(t)); !errors.Is(err, ari.ErrClosed) {
			t.Fatalf("Connect after Close = %v, want ErrClosed", err)
		}
		if n := len(f.Handshakes()); n != 0 {
			t.Errorf("%d handshakes", n)
		}
	})

	t.Run("retry after a failed Connect", func(t *testing.T) {
		f := newFake(t)
		f.setRefuse(func(n int) int {
			if n == 1 {
				return http.StatusUnauthorized
			}
			return 0
		})
		c := newUnitClient(t, unitConfig(f))
		if err := c.Connect(bg(t)); !errors.Is(err, ari.ErrUnauthorized) {
			t.Fatalf("first Connect = %v", err)
		}
		connect(t, c)
	})

	// Two Connects at once: exactly one wins, and Close still ends every
	// goroutine.
	t.Run("concurrent", func(t *testing.T) {
		f := newFake(t)
		release := make(chan struct{})
		f.setRefuse(func(int) int {
			select {
			case <-release:
			case <-f.done:
			}
			return 0
		})
		c := newUnitClient(t, unitConfig(f))
		errs := make(chan error, 2)
		for range 2 {
			go func() { errs <- c.Connect(bg(t)) }()
		}
		// Let both reach the handshake if the client allows it.
		time.Sleep(50 * time.Millisecond)
		close(release)
		var ok int
		for range 2 {
			if err := <-errs; err == nil {
				ok++
			}
		}
		if ok != 1 {
			t.Errorf("%d Connects succeeded, want 1", ok)
		}
		closeWithin(t, c, waitLimit)
	})

	// Close during the handshake: Connect returns ErrClosed and leaves
	// nothing running.
	t.Run("Close during handshake", func(t *testing.T) {
		f := newFake(t)
		release := make(chan struct{})
		f.setRefuse(func(int) int {
			select {
			case <-release:
			case <-f.done:
			}
			return 0
		})
		c := newUnitClient(t, unitConfig(f))
		errc := make(chan error, 1)
		go func() { errc <- c.Connect(bg(t)) }()
		eventually(t, "the handshake", func() bool { return len(f.Handshakes()) == 1 })
		closeWithin(t, c, waitLimit)
		close(release)
		if err := <-errc; !errors.Is(err, ari.ErrClosed) {
			t.Fatalf("Connect = %v, want ErrClosed", err)
		}
		if _, ok := <-c.Events(); ok {
			t.Error("event after Close")
		}
	})
}

// closeWithin closes c and fails if Close does not return in time.
func closeWithin(t *testing.T, c *ari.Client, d time.Duration) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- c.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Close = %v", err)
		}
	case <-time.After(d):
		t.Fatalf("Close did not return within %v", d)
	}
}

// drained fails unless Events() is closed (after at most a few buffered
// events) within the wait limit.
func drained(t *testing.T, c *ari.Client) {
	t.Helper()
	timeout := time.After(waitLimit)
	for {
		select {
		case _, ok := <-c.Events():
			if !ok {
				return
			}
		case <-timeout:
			t.Fatal("Events() not closed")
		}
	}
}

// TestUnitClose: Close is idempotent, prompt even with an unread stream,
// closes Events() and leaves no goroutine behind.
func TestUnitClose(t *testing.T) {
	t.Run("never connected", func(t *testing.T) {
		c, err := ari.New(ari.Config{URL: "http://127.0.0.1:1/ari", Application: "a"})
		if err != nil {
			t.Fatal(err)
		}
		closeWithin(t, c, waitLimit)
		drained(t, c)
		closeWithin(t, c, waitLimit)
	})

	t.Run("three times", func(t *testing.T) {
		f := newFake(t)
		c := newUnitClient(t, unitConfig(f))
		connect(t, c)
		for range 3 {
			closeWithin(t, c, waitLimit)
		}
		drained(t, c)
		if c.Connected() {
			t.Error("Connected() after Close")
		}
	})

	t.Run("concurrently", func(t *testing.T) {
		f := newFake(t)
		c := newUnitClient(t, unitConfig(f))
		connect(t, c)
		var wg sync.WaitGroup
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := c.Close(); err != nil {
					t.Errorf("Close = %v", err)
				}
			}()
		}
		wg.Wait()
		drained(t, c)
	})

	t.Run("consumer never read", func(t *testing.T) {
		const n = 100
		f := newFake(t)
		msgs := make([]string, n)
		for i := range msgs {
			msgs[i] = seqEvent(i)
		}
		f.setSession(sendThenServe(msgs...))
		log, logs := observed(zap.DebugLevel)
		cfg := unitConfig(f)
		cfg.Logger = log
		cfg.PingInterval = 20 * time.Millisecond // the pinger must end too
		c := newUnitClient(t, cfg)
		if err := c.Connect(bg(t)); err != nil {
			t.Fatal(err)
		}
		// The dispatcher is blocked sending the first event; the rest waits.
		eventually(t, "all queued", func() bool { st := c.Stats(); return st.Received == n && st.Queued == n })
		start := time.Now()
		closeWithin(t, c, waitLimit)
		if d := time.Since(start); d > time.Second {
			t.Errorf("Close took %v", d)
		}
		drained(t, c)
		if st := c.Stats(); st.Queued != 0 || st.Delivered != 0 {
			t.Errorf("stats after Close %+v", st)
		}
		if e := logs.FilterMessage("ari: events still queued at close were discarded").AllUntimed(); len(e) != 1 || e[0].ContextMap()["count"] != int64(n) {
			t.Errorf("discard log %v", e)
		}
	})

	t.Run("while reconnecting", func(t *testing.T) {
		f := newFake(t)
		f.setRefuse(func(n int) int {
			if n > 1 {
				return http.StatusServiceUnavailable
			}
			return 0
		})
		f.setSession(func(s *wsSession) {})
		cfg := unitConfig(f)
		cfg.ReconnectMin, cfg.ReconnectMax = time.Second, time.Second // Close lands in the backoff wait
		c := newUnitClient(t, cfg)
		connect(t, c)
		nextConn(t, c) // disconnected
		closeWithin(t, c, 500*time.Millisecond)
		drained(t, c)
	})

	t.Run("no goroutine leak", func(t *testing.T) {
		f := newFake(t)
		f.setSession(sendThenServe(seqEvent(1), seqEvent(2)))
		cfg := unitConfig(f)
		cfg.PingInterval = 20 * time.Millisecond
		c := newUnitClient(t, cfg)
		connect(t, c)
		if err := c.Answer(bg(t), "c1"); err != nil {
			t.Fatal(err)
		}
		seqOf(t, next(t, c))
		closeWithin(t, c, waitLimit)
		f.Close()
		goleak.VerifyNone(t, goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
	})
}

// TestUnitPingDetectsDeadConnection: a server that stops answering pings
// (it stops reading, as a frozen Asterisk would) is detected and the client
// reconnects; a server that answers keeps the connection.
func TestUnitPingDetectsDeadConnection(t *testing.T) {
	f := newFake(t)
	f.setSession(func(s *wsSession) {
		if s.N == 1 {
			<-s.Done // accept, then never read: pings go unanswered
			return
		}
		sendThenServe(seqEvent(1))(s)
	})
	log, logs := observed(zap.DebugLevel)
	cfg := unitConfig(f)
	cfg.PingInterval = 100 * time.Millisecond
	cfg.Logger = log
	c := newUnitClient(t, cfg)
	connect(t, c)
	ce := nextConn(t, c)
	if ce.State != ari.StateDisconnected {
		t.Fatalf("%+v", ce)
	}
	ce = nextConn(t, c)
	if ce.State != ari.StateConnected || !ce.Reconnect {
		t.Fatalf("%+v", ce)
	}
	if seqOf(t, next(t, c)) != 1 {
		t.Fatal("event after reconnect")
	}
	if logs.FilterMessage("ari: websocket ping failed; closing connection").Len() != 1 {
		t.Errorf("ping failure not logged once: %v", logs.All())
	}
	// The second server answers pings: several intervals pass without a drop.
	noEvent(t, c, 5*cfg.PingInterval)
	if st := c.Stats(); st.Connects != 2 {
		t.Errorf("Connects = %d, want 2", st.Connects)
	}
}

// TestUnitConnectionEventsNeverDropped: with the queue full of unread ARI
// events, a connection drop and the reconnect are still delivered, because a
// consumer that missed them would never resync.
func TestUnitConnectionEventsNeverDropped(t *testing.T) {
	f := newFake(t)
	f.setSession(func(s *wsSession) {
		if s.N == 1 {
			_ = s.Send(seqEvent(0), seqEvent(1), seqEvent(2), seqEvent(3), seqEvent(4))
			s.Conn.CloseNow() // drop the connection with the queue full
			return
		}
		<-s.Serve().Done()
	})
	cfg := unitConfig(f)
	cfg.EventQueueSize = 2
	cfg.ReconnectMin, cfg.ReconnectMax = 10*time.Millisecond, 20*time.Millisecond
	c := newUnitClient(t, cfg)
	if err := c.Connect(bg(t)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "reconnected", func() bool { return c.Stats().Connects == 2 })
	var states []ari.ConnState
	for len(states) < 3 {
		if ce, ok := next(t, c).(*ari.ConnectionEvent); ok {
			states = append(states, ce.State)
		}
	}
	want := []ari.ConnState{ari.StateConnected, ari.StateDisconnected, ari.StateConnected}
	if !slices.Equal(states, want) {
		t.Fatalf("connection events %v, want %v", states, want)
	}
	if c.Stats().Dropped == 0 {
		t.Fatalf("no ARI event was dropped; the test did not fill the queue: %+v", c.Stats())
	}
}

// TestUnitDropNoticedWithPinger: with pings on (a long interval), a dropped
// connection is still noticed at once, not at the next ping.
func TestUnitDropNoticedWithPinger(t *testing.T) {
	f := newFake(t)
	f.setSession(func(s *wsSession) {
		if s.N == 1 {
			time.Sleep(50 * time.Millisecond)
			s.Conn.CloseNow()
			return
		}
		<-s.Serve().Done()
	})
	cfg := unitConfig(f)
	cfg.PingInterval = time.Hour
	c := newUnitClient(t, cfg)
	if err := c.Connect(bg(t)); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if ce := nextConn(t, c); ce.State != ari.StateConnected {
		t.Fatalf("first: %v", ce.State)
	}
	if ce := nextConn(t, c); ce.State != ari.StateDisconnected {
		t.Fatalf("second: %v", ce.State)
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Fatalf("the drop took %v to notice", d)
	}
	if ce := nextConn(t, c); ce.State != ari.StateConnected || !ce.Reconnect {
		t.Fatalf("third: %+v", ce)
	}
}
