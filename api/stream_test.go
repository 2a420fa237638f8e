package api_test

// Unit tests of the event stream under clients that stall, lag or come in
// numbers: a real App (stub ARI) produces events, fed with StasisStart
// events of calls whose originate fails at once (call_started, call_ended).

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/ariapp/ariapp/api"
	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/internal/labtest"
)

// streamRig is an API server on a real listener in front of a started App.
type streamRig struct {
	t      *testing.T
	srv    *api.Server
	app    *app.App
	events chan ari.Event
	logs   *observer.ObservedLogs
	base   string
	mu     sync.Mutex
	fed    int
}

func newStreamRig(t *testing.T, cfg api.Config, appCfg app.Config) *streamRig {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	log := zap.New(core)
	a, err := app.New(appCfg, stubARI{}, log.Named("app"))
	if err != nil {
		t.Fatal(err)
	}
	r := &streamRig{t: t, app: a, events: make(chan ari.Event, 64), logs: logs}
	a.Start(r.events)
	cfg.Listen = "127.0.0.1:0"
	r.srv = api.New(cfg, a, nil, log.Named("api"))
	if err := r.srv.Start(); err != nil {
		t.Fatal(err)
	}
	r.base = "http://" + r.srv.Addr()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = r.srv.Close(ctx)
		a.Close()
	})
	return r
}

// feed starts n calls; each reports call_started and call_ended.
func (r *streamRig) feed(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for range n {
		r.fed++
		r.events <- &ari.StasisStart{Args: []string{app.ArgDial, "PJSIP/bob"},
			Channel: ari.Channel{ID: fmt.Sprintf("in-%d", r.fed), Name: "PJSIP/alice-1", State: "Ring"}}
	}
}

func (r *streamRig) stats() api.StreamStats {
	r.t.Helper()
	resp, err := http.Get(r.base + "/v1/stats")
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Streams api.StreamStats `json:"streams"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		r.t.Fatal(err)
	}
	return out.Streams
}

// waitStats polls GET /v1/stats until ok holds.
func (r *streamRig) waitStats(what string, ok func(api.StreamStats) bool) api.StreamStats {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := r.stats()
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%s: stream stats %+v", what, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestUnitStreamStalledClient: a client that stops reading loses its
// stream once a write blocks for the stall timeout; that is counted and
// logged once, however many events it missed, and other streams go on.
func TestUnitStreamStalledClient(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	r := newStreamRig(t, api.Config{StreamStallTimeout: 300 * time.Millisecond}, app.Config{})
	labtest.StalledHTTPClient(t, r.srv.Addr(), "/v1/events")
	r.waitStats("the stalled stream opens", func(s api.StreamStats) bool { return s.Open == 1 })

	resp, br := sse(t, context.Background(), http.DefaultClient, r.base+"/v1/events")
	defer resp.Body.Close()
	readUntilBlank(t, br) // the opening comment
	var seen atomic.Int64 // call events the reading client got
	go func() {
		for {
			lines := readUntilBlankOrEOF(br)
			if lines == nil {
				return
			}
			if strings.HasPrefix(lines[0], "event: call_") {
				seen.Add(1)
			}
		}
	}()

	// 1,000 calls: 2,000 events, about 1.5 MB for each stream, far beyond
	// what the stalled client's socket takes. Fed in steps the reading
	// client keeps up with.
	for i := 1; i <= 10; i++ {
		r.feed(100)
		deadline := time.Now().Add(5 * time.Second)
		for seen.Load() < int64(200*i) {
			if time.Now().After(deadline) {
				t.Fatalf("the reading client got %d of %d events", seen.Load(), 200*i)
			}
			time.Sleep(time.Millisecond)
		}
	}
	st := r.waitStats("the stalled stream is dropped", func(s api.StreamStats) bool { return s.Stalled == 1 && s.Open == 1 })
	// The stream's warnings: the hub's at its first lost event, the
	// API's at its end. (The stub's failed calls log warnings of their own.)
	warns := r.logs.FilterLevelExact(zapcore.WarnLevel).Filter(func(e observer.LoggedEntry) bool {
		return strings.HasPrefix(e.Message, "event stream") || strings.HasPrefix(e.Message, "event subscriber")
	})
	stalls := warns.FilterMessage("event stream client stalled; stream closed").All()
	if len(stalls) != 1 {
		t.Fatalf("%d stall lines, want 1: %v", len(stalls), stalls)
	}
	f := stalls[0].ContextMap()
	if f["remote"] == "" || f["subscriber"] == nil {
		t.Errorf("the stall line does not name the stream: %v", f)
	}
	t.Logf("stalled stream: %d warning lines %q, %d events lost; stats %+v", warns.Len(), messages(warns.All()), f["events_lost"], st)
	if warns.Len() > 2 {
		t.Errorf("%d warnings for one stalled stream, want at most 2 (its first lost event, its end)", warns.Len())
	}
	resp.Body.Close()
	r.waitStats("the reading stream ends", func(s api.StreamStats) bool { return s.Open == 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.srv.Close(ctx); err != nil {
		t.Fatal(err)
	}
	r.app.Close()
	goleak.VerifyNone(t, ignore)
}

func messages(es []observer.LoggedEntry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Message
	}
	return out
}

// readUntilBlankOrEOF reads one SSE frame; nil at the end of the stream.
func readUntilBlankOrEOF(br *bufio.Reader) []string {
	var lines []string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			if lines == nil {
				continue
			}
			return lines
		}
		lines = append(lines, line)
	}
}

// slowReader hands out at most n bytes every period.
type slowReader struct {
	r      io.Reader
	n      int
	period time.Duration
}

func (s slowReader) Read(p []byte) (int, error) {
	time.Sleep(s.period)
	return s.r.Read(p[:min(len(p), s.n)])
}

// TestUnitStreamLaggingClient: a client that reads, but more slowly than
// events come, so that it loses events at every step, loses its stream
// after the stall timeout, though no single write blocked that long.
func TestUnitStreamLaggingClient(t *testing.T) {
	r := newStreamRig(t, api.Config{StreamStallTimeout: time.Second}, app.Config{SubscriberBuffer: 4})
	resp, err := http.Get(r.base + "/v1/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(io.Discard, slowReader{r: resp.Body, n: 4096, period: 2 * time.Millisecond})
	}()
	stop := make(chan struct{})
	var fed sync.WaitGroup
	fed.Add(1)
	go func() {
		defer fed.Done()
		for {
			select {
			case <-stop:
				return
			default:
				r.feed(10)
				time.Sleep(2 * time.Millisecond)
			}
		}
	}()
	st := r.waitStats("the lagging stream is dropped", func(s api.StreamStats) bool { return s.Stalled == 1 })
	close(stop)
	fed.Wait()
	<-done
	if st.LostEvents == 0 {
		t.Errorf("no lost events counted: %+v", st)
	}
	stalls := r.logs.FilterMessage("event stream client stalled; stream closed").All()
	if len(stalls) != 1 || !strings.Contains(fmt.Sprint(stalls[0].ContextMap()["error"]), "losing events") {
		t.Fatalf("want one stall line for a client losing events, got %v", stalls)
	}
}

// TestUnitStreamLimit: beyond MaxStreams a new stream is refused with 503
// "overloaded" and Retry-After; once one ends, a new one is served.
func TestUnitStreamLimit(t *testing.T) {
	r := newStreamRig(t, api.Config{MaxStreams: 2}, app.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first, br := sse(t, ctx, http.DefaultClient, r.base+"/v1/events")
	readUntilBlank(t, br)
	second, br2 := sse(t, context.Background(), http.DefaultClient, r.base+"/v1/events?call_id=")
	readUntilBlank(t, br2)
	defer second.Body.Close()

	resp, err := http.Get(r.base + "/v1/events")
	if err != nil {
		t.Fatal(err)
	}
	var body api.ErrorBody
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || body.Error.Code != api.CodeOverloaded || resp.Header.Get("Retry-After") == "" ||
		resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("third stream: %d %q, Retry-After %q, body %+v; want 503 overloaded with Retry-After",
			resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Retry-After"), body)
	}
	if st := r.stats(); st.Open != 2 || st.Max != 2 || st.Rejected != 1 || st.Opened != 2 {
		t.Errorf("stats %+v, want 2 open of 2, 1 rejected", st)
	}
	cancel()
	first.Body.Close()
	r.waitStats("the first stream ends", func(s api.StreamStats) bool { return s.Open == 1 })
	again, br3 := sse(t, context.Background(), http.DefaultClient, r.base+"/v1/events")
	defer again.Body.Close()
	if again.StatusCode != http.StatusOK {
		t.Fatalf("a stream after one ended: %d", again.StatusCode)
	}
	readUntilBlank(t, br3)
}

// TestUnitStreamCloseWithStalledClient: stopping the server ends every
// stream at once, even one whose write is blocked on a client that does
// not read; a stall timeout longer than the stop's does not hold it.
func TestUnitStreamCloseWithStalledClient(t *testing.T) {
	r := newStreamRig(t, api.Config{StreamStallTimeout: time.Minute}, app.Config{})
	labtest.StalledHTTPClient(t, r.srv.Addr(), "/v1/events")
	r.waitStats("the stalled stream opens", func(s api.StreamStats) bool { return s.Open == 1 })
	r.feed(200) // 400 events: the stream's writes block
	time.Sleep(200 * time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	t0 := time.Now()
	if err := r.srv.Close(ctx); err != nil {
		t.Fatalf("Close with a stalled stream: %v after %v", err, time.Since(t0))
	}
	if took := time.Since(t0); took > 2*time.Second {
		t.Errorf("Close took %v with a stalled stream", took)
	}
	if got := r.logs.FilterMessage("event stream client stalled; stream closed").Len(); got != 0 {
		t.Errorf("a stream ended by the stop was logged as stalled")
	}
}

// TestUnitDrain: after Drain, requests that change calls answer 503
// "unavailable"; reads still answer.
func TestUnitDrain(t *testing.T) {
	u := newUnit(t, api.Config{}, nil, "c1")
	u.srv.Drain()
	for _, rq := range []req{
		{method: http.MethodPost, target: "/v1/calls", body: `{"from":"PJSIP/a","to":"PJSIP/b"}`},
		{method: http.MethodPost, target: "/v1/calls/c1/hold", body: `{"party":"caller"}`},
		{method: http.MethodDelete, target: "/v1/calls/c1"},
	} {
		t.Run(rq.method+" "+rq.target, func(t *testing.T) {
			wantError(t, u.do(rq), http.StatusServiceUnavailable, api.CodeUnavailable)
		})
	}
	wantNoOps(t, u.fake)
	if rec := u.do(req{method: http.MethodGet, target: "/v1/calls/c1"}); rec.Code != http.StatusOK {
		t.Errorf("GET after Drain: %d", rec.Code)
	}
}

// TestUnitStatsStreams: /v1/stats carries Config.Stats and the streams.
func TestUnitStatsStreams(t *testing.T) {
	r := newStreamRig(t, api.Config{Stats: func() any { return map[string]int{"calls": 7} }, MaxStreams: 9}, app.Config{})
	resp, err := http.Get(r.base + "/v1/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Calls   int             `json:"calls"`
		Streams api.StreamStats `json:"streams"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if out.Calls != 7 || out.Streams.Max != 9 {
		t.Errorf("stats %+v, want calls 7 and streams.max 9", out)
	}
}

// TestUnitIdleStreamsMemory measures what 1,000 idle streams to every call
// cost the process (server and client sides together, one heap) and bounds
// it well below what one reserved all-calls buffer each (400 KiB) costs.
func TestUnitIdleStreamsMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 1,000 connections")
	}
	r := newStreamRig(t, api.Config{MaxStreams: 2000}, app.Config{})
	const n = 1000
	before := heapNow()
	tr := &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: n}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	bodies := make([]io.Closer, 0, n)
	for range n {
		resp, br := sse(t, context.Background(), client, r.base+"/v1/events")
		readUntilBlank(t, br)
		bodies = append(bodies, resp.Body)
	}
	r.waitStats("all streams open", func(s api.StreamStats) bool { return s.Open == n })
	grown := heapNow() - before
	t.Logf("%d idle all-calls streams: heap +%.1f MiB (%d bytes per stream, client side included), %d goroutines",
		n, float64(grown)/(1<<20), grown/n, runtime.NumGoroutine())
	if grown/n > 64<<10 {
		t.Errorf("an idle stream costs %d bytes, want under 64 KiB", grown/n)
	}
	for _, b := range bodies {
		b.Close()
	}
	r.waitStats("all streams end", func(s api.StreamStats) bool { return s.Open == 0 })
}

func heapNow() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}
