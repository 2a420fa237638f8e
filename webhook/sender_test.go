package webhook

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/ariapp/ariapp/app"
)

const testSecret = "whsec_c2VjcmV0IGtleSBvZiB0aGUgdGVzdHM=" // "secret key of the tests"

// got is one message a receiver accepted.
type got struct {
	id     string
	callID string
	seq    uint64
	name   app.EventName
}

// sink is a real HTTP receiver that verifies every message's signature
// independently (recompute) and records the ones it accepts. fail, if set,
// decides the answer to request n (from 1) before it is accepted.
type sink struct {
	t    *testing.T
	srv  *httptest.Server
	key  []byte
	fail func(n int64, w http.ResponseWriter) bool

	requests atomic.Int64
	mu       sync.Mutex
	got      []got
	badSig   int
}

func newSink(t *testing.T, fail func(n int64, w http.ResponseWriter) bool) *sink {
	t.Helper()
	key, err := SecretKey(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{t: t, key: key, fail: fail}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sink) serve(w http.ResponseWriter, r *http.Request) {
	n := s.requests.Add(1)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	id, ts := r.Header.Get(HeaderID), r.Header.Get(HeaderTimestamp)
	sent, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.Unix(sent, 0)).Abs() > 5*time.Minute ||
		r.Header.Get(HeaderSignature) != recompute(s.key, id, ts, body) ||
		r.Header.Get("Content-Type") != "application/json" || r.Method != http.MethodPost {
		s.mu.Lock()
		s.badSig++
		s.mu.Unlock()
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if s.fail != nil && s.fail(n, w) {
		return
	}
	var ev app.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.got = append(s.got, got{id: id, callID: ev.CallID, seq: ev.Seq, name: ev.Name})
	s.mu.Unlock()
}

func (s *sink) badSignatures() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.badSig
}

func (s *sink) accepted() []got {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]got(nil), s.got...)
}

// waitFor polls cond for up to d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// testConfig is a quick Config for urls.
func testConfig(urls ...string) Config {
	return Config{
		URLs: urls, Secret: testSecret, Timeout: time.Second, QueueSize: 64, RetryFor: 5 * time.Second,
		backoffMin: 10 * time.Millisecond, backoffMax: 50 * time.Millisecond,
	}
}

func start(t *testing.T, cfg Config, log *zap.Logger) *Sender {
	t.Helper()
	s, err := New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// callEvents are one call's life with a hold and a resume.
func callEvents(callID string) []app.Event {
	names := []app.EventName{app.EventCallStarted, app.EventCallAnswered, app.EventHoldSuccess, app.EventUnholdSuccess, app.EventCallEnded}
	evs := make([]app.Event, len(names))
	for i, n := range names {
		evs[i] = app.Event{Name: n, CallID: callID, Seq: uint64(i + 1), Time: time.Now()}
	}
	return evs
}

// publishInterleaved publishes the calls' events alternating between the
// calls, each call's in order.
func publishInterleaved(s *Sender, calls ...string) int {
	var all [][]app.Event
	for _, c := range calls {
		all = append(all, callEvents(c))
	}
	n := 0
	for i := range all[0] {
		for _, evs := range all {
			s.Publish(evs[i])
			n++
		}
	}
	return n
}

// checkOrder fails unless gs hold each call's events 1..want in order,
// each once.
func checkOrder(t *testing.T, gs []got, want int, calls ...string) {
	t.Helper()
	next := map[string]uint64{}
	for _, g := range gs {
		if g.seq != next[g.callID]+1 {
			t.Fatalf("call %s: event %d after %d: %+v", g.callID, g.seq, next[g.callID], gs)
		}
		if wantID := fmt.Sprintf("msg_%s_%d", g.callID, g.seq); g.id != wantID {
			t.Errorf("webhook-id %q, want %q", g.id, wantID)
		}
		next[g.callID] = g.seq
	}
	for _, c := range calls {
		if next[c] != uint64(want) {
			t.Errorf("call %s: %d events arrived, want %d", c, next[c], want)
		}
	}
}

func TestDeliversSignedInOrder(t *testing.T) {
	t.Parallel()
	a, b := newSink(t, nil), newSink(t, nil)
	s := start(t, testConfig(a.srv.URL+"/a", b.srv.URL+"/b"), nil)
	n := publishInterleaved(s, "c1", "c2")
	for _, k := range []*sink{a, b} {
		waitFor(t, 5*time.Second, "every event", func() bool { return len(k.accepted()) == n })
		checkOrder(t, k.accepted(), 5, "c1", "c2")
		if bad := k.badSignatures(); bad != 0 {
			t.Errorf("%d messages with a bad signature", bad)
		}
	}
	// The sink records an event before its answer reaches the Sender.
	waitFor(t, 5*time.Second, "the counts", func() bool { return s.Stats().Delivered == uint64(2*n) })
	if st := s.Stats(); st.Delivered != uint64(2*n) || st.Retries != 0 || st.Dropped != 0 {
		t.Errorf("Stats %+v, want %d delivered, nothing else", st, 2*n)
	}
}

// TestWrongSecretFails: the sink's check is real, a message signed with
// another key is refused.
func TestWrongSecretFails(t *testing.T) {
	t.Parallel()
	k := newSink(t, nil)
	cfg := testConfig(k.srv.URL)
	cfg.Secret = "whsec_b3RoZXIga2V5"
	s := start(t, cfg, nil)
	s.Publish(callEvents("c1")[0])
	waitFor(t, 5*time.Second, "a rejection", func() bool { return s.Stats().Rejected == 1 })
	if len(k.accepted()) != 0 || k.badSignatures() != 1 || s.Stats().Retries != 0 {
		t.Errorf("accepted %v, %d bad signatures, stats %+v", k.accepted(), k.badSignatures(), s.Stats())
	}
}

// TestRetriesUntilBack: a receiver fails its first requests with 500 and
// 503, then comes back; every event arrives, in order, and the failures
// are counted as retries.
func TestRetriesUntilBack(t *testing.T) {
	t.Parallel()
	const failures = 4
	k := newSink(t, func(n int64, w http.ResponseWriter) bool {
		switch {
		case n <= failures/2:
			w.WriteHeader(http.StatusInternalServerError)
		case n <= failures:
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			return false
		}
		return true
	})
	core, logs := observer.New(zap.InfoLevel)
	s := start(t, testConfig(k.srv.URL), zap.New(core))
	n := publishInterleaved(s, "c1", "c2")
	waitFor(t, 5*time.Second, "every event", func() bool { return len(k.accepted()) == n })
	checkOrder(t, k.accepted(), 5, "c1", "c2")
	waitFor(t, 5*time.Second, "the counts", func() bool { return s.Stats().Delivered == uint64(n) })
	if st := s.Stats(); st.Retries != failures || st.Delivered != uint64(n) || st.GivenUp != 0 {
		t.Errorf("Stats %+v, want %d retries, %d delivered", st, failures, n)
	}
	retried := logs.FilterMessage("webhook delivery failed; retrying").All()
	if len(retried) != failures {
		t.Fatalf("%d retry log lines, want %d", len(retried), failures)
	}
	f := retried[failures-1].ContextMap()
	if f["call_id"] != "c1" || f["event"] != "call_started" || f["attempt"] != int64(failures) || f["url"] != k.srv.URL {
		t.Errorf("retry log fields %v", f)
	}
}

// TestSlowReceiverTimesOut: a POST that outlasts the timeout is retried;
// another receiver is not held up meanwhile.
func TestSlowReceiverTimesOut(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	slow := newSink(t, func(n int64, w http.ResponseWriter) bool {
		if n == 1 {
			<-release
		}
		return false
	})
	t.Cleanup(func() { close(release) })
	fast := newSink(t, nil)
	cfg := testConfig(slow.srv.URL, fast.srv.URL)
	cfg.Timeout = 200 * time.Millisecond
	s := start(t, cfg, nil)
	begin := time.Now()
	n := publishInterleaved(s, "c1")
	waitFor(t, 5*time.Second, "the fast receiver", func() bool { return len(fast.accepted()) == n })
	if took := time.Since(begin); took > cfg.Timeout {
		t.Errorf("the fast receiver took %s, more than the slow one's timeout", took)
	}
	waitFor(t, 5*time.Second, "the slow receiver", func() bool { return len(slow.accepted()) == n })
	checkOrder(t, slow.accepted(), 5, "c1")
	waitFor(t, 5*time.Second, "the counts", func() bool { return s.Stats().Delivered == uint64(2*n) })
	if st := s.Stats(); st.Retries != 1 || st.Delivered != uint64(2*n) {
		t.Errorf("Stats %+v, want 1 retry and %d delivered", st, 2*n)
	}
}

// deadURL is the URL of a port nobody listens on: connection refused.
func deadURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/hooks"
}

// TestDeadReceiverGivesUp: each event to a dead receiver is retried for
// RetryFor, then given up, and the next one is tried; a live receiver
// beside it gets everything at once.
func TestDeadReceiverGivesUp(t *testing.T) {
	t.Parallel()
	live := newSink(t, nil)
	cfg := testConfig(deadURL(t), live.srv.URL)
	cfg.RetryFor = 150 * time.Millisecond
	core, logs := observer.New(zap.InfoLevel)
	s := start(t, cfg, zap.New(core))
	begin := time.Now()
	s.Publish(callEvents("c1")[0])
	s.Publish(callEvents("c1")[1])
	waitFor(t, 5*time.Second, "the live receiver", func() bool { return len(live.accepted()) == 2 })
	if took := time.Since(begin); took > cfg.RetryFor {
		t.Errorf("the live receiver took %s", took)
	}
	waitFor(t, 5*time.Second, "two give-ups", func() bool { st := s.Stats(); return st.GivenUp == 2 && st.Delivered == 2 })
	took := time.Since(begin)
	if took < 2*cfg.RetryFor || took > 2*cfg.RetryFor+time.Second {
		t.Errorf("two events given up after %s, want about %s", took, 2*cfg.RetryFor)
	}
	st := s.Stats()
	if st.Retries < 4 || st.Delivered != 2 || st.Queued != 0 {
		t.Errorf("Stats %+v, want several retries, 2 delivered", st)
	}
	given := logs.FilterMessage("webhook delivery given up").All()
	if len(given) != 2 || given[0].ContextMap()["event"] != "call_started" || given[1].ContextMap()["event"] != "call_answered" {
		t.Errorf("give-up log lines %v", given)
	}
}

// TestRejectedNotRetried: a 4xx other than 408 and 429 is final.
func TestRejectedNotRetried(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code   int
		reject bool
	}{{400, true}, {404, true}, {301, true}, {408, false}, {429, false}, {502, false}}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.code), func(t *testing.T) {
			t.Parallel()
			k := newSink(t, func(n int64, w http.ResponseWriter) bool {
				if n > 1 {
					return false
				}
				if tt.code == 301 {
					w.Header().Set("Location", "/elsewhere")
				}
				w.WriteHeader(tt.code)
				return true
			})
			s := start(t, testConfig(k.srv.URL), nil)
			s.Publish(callEvents("c1")[0])
			waitFor(t, 5*time.Second, "an outcome", func() bool { st := s.Stats(); return st.Rejected+st.Delivered == 1 })
			st := s.Stats()
			if tt.reject && (st.Rejected != 1 || st.Retries != 0 || k.requests.Load() != 1) {
				t.Errorf("Stats %+v after %d requests, want a rejection without retry", st, k.requests.Load())
			}
			if !tt.reject && (st.Delivered != 1 || st.Retries != 1) {
				t.Errorf("Stats %+v, want one retry and delivered", st)
			}
		})
	}
}

// TestPublishNeverBlocks: with the receiver stuck, Publish returns at
// once; what does not fit in the queue is dropped, counted, and logged
// once per burst.
func TestPublishNeverBlocks(t *testing.T) {
	t.Parallel()
	stuck := make(chan struct{})
	entered := make(chan struct{}, 1)
	k := newSink(t, func(n int64, w http.ResponseWriter) bool {
		if n == 1 {
			entered <- struct{}{}
			<-stuck
		}
		return false
	})
	cfg := testConfig(k.srv.URL)
	cfg.QueueSize, cfg.Timeout = 3, 10*time.Second
	core, logs := observer.New(zap.InfoLevel)
	s := start(t, cfg, zap.New(core))
	s.Publish(app.Event{Name: app.EventCallStarted, CallID: "c0", Seq: 1})
	<-entered // the worker holds the first event
	const n = 1000
	begin := time.Now()
	for i := range n {
		s.Publish(app.Event{Name: app.EventCallStarted, CallID: fmt.Sprintf("c%d", i+1), Seq: 1})
	}
	if took := time.Since(begin); took > 500*time.Millisecond {
		t.Errorf("%d publishes took %s", n, took)
	}
	if st := s.Stats(); st.Dropped != n-3 || st.Queued != 3 {
		t.Errorf("Stats %+v, want %d dropped and 3 queued", st, n-3)
	}
	if full := logs.FilterMessage("webhook queue full; dropping events until the receiver catches up").Len(); full != 1 {
		t.Errorf("%d queue-full log lines, want 1", full)
	}
	close(stuck)
	waitFor(t, 5*time.Second, "the queue", func() bool { return len(k.accepted()) == 4 })
	s.Publish(app.Event{Name: app.EventCallEnded, CallID: "c1", Seq: 2})
	room := logs.FilterMessage("webhook queue has room again").All()
	if len(room) != 1 || room[0].ContextMap()["dropped"] != uint64(n-3) {
		t.Errorf("room-again log lines %v, want one with dropped %d", room, n-3)
	}
	waitFor(t, 5*time.Second, "the last event", func() bool { return len(k.accepted()) == 5 })
}

// TestCloseWaits: Close lets a queued event go out, returns within its
// grace although the receiver hangs, counts what it left, and may be
// called again.
func TestCloseWaits(t *testing.T) {
	t.Parallel()
	hang := make(chan struct{})
	k := newSink(t, func(n int64, w http.ResponseWriter) bool {
		if n >= 2 {
			<-hang
		}
		return false
	})
	t.Cleanup(func() { close(hang) }) // before the server's Close, which waits for its handlers
	cfg := testConfig(k.srv.URL)
	cfg.Timeout = 300 * time.Millisecond
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	evs := callEvents("c1")
	for _, ev := range evs[:3] {
		s.Publish(ev) // queued before Start
	}
	s.Start()
	waitFor(t, 5*time.Second, "the first event", func() bool { return len(k.accepted()) == 1 })
	begin := time.Now()
	s.Close()
	if took := time.Since(begin); took > cfg.Timeout+time.Second {
		t.Errorf("Close took %s, grace %s", took, cfg.Timeout)
	}
	s.Close()
	s.Publish(evs[3]) // after Close: ignored
	st := s.Stats()
	if st.Delivered != 1 || st.GivenUp+st.Dropped != 2 || st.Queued != 0 {
		t.Errorf("Stats %+v, want 1 delivered and 2 given up or dropped", st)
	}
}

// TestCloseUnstarted: a Sender closed before Start counts its queue as
// dropped and sends nothing.
func TestCloseUnstarted(t *testing.T) {
	t.Parallel()
	k := newSink(t, nil)
	s, err := New(testConfig(k.srv.URL), nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Publish(callEvents("c1")[0])
	s.Close()
	s.Start()
	if st := s.Stats(); st.Dropped != 1 || k.requests.Load() != 0 {
		t.Errorf("Stats %+v after %d requests", st, k.requests.Load())
	}
}

// TestURLCredentialsNotLogged: a URL's user and password go to the
// receiver as basic authentication, and neither they nor the query reach
// the log.
func TestURLCredentialsNotLogged(t *testing.T) {
	t.Parallel()
	var user, pass atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, _ := r.BasicAuth()
		user.Store(u)
		pass.Store(p)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(srv.Close)
	cfg := testConfig(strings.Replace(srv.URL, "http://", "http://hookuser:hunter2@", 1) + "/h?token=tok3n")
	cfg.RetryFor = 100 * time.Millisecond
	core, logs := observer.New(zap.DebugLevel)
	s := start(t, cfg, zap.New(core))
	s.Publish(callEvents("c1")[0])
	waitFor(t, 5*time.Second, "the give-up", func() bool { return s.Stats().GivenUp == 1 })
	if user.Load() != "hookuser" || pass.Load() != "hunter2" {
		t.Errorf("basic auth %v:%v", user.Load(), pass.Load())
	}
	for _, e := range logs.All() {
		line := fmt.Sprint(e.Message, e.ContextMap())
		if strings.Contains(line, "hunter2") || strings.Contains(line, "tok3n") || strings.Contains(line, "hookuser") {
			t.Errorf("log line reveals the URL's secrets: %s", line)
		}
	}
	if logs.Len() == 0 {
		t.Error("nothing logged")
	}
}
