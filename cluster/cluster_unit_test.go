package cluster_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/ariapp/ariapp/api"
	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/cluster"
	"github.com/ariapp/ariapp/internal/fakeasterisk"
	"github.com/ariapp/ariapp/internal/labtest"
)

// Test lease timings: short, but with room for a busy machine.
const (
	testTTL   = 1500 * time.Millisecond
	testRenew = 300 * time.Millisecond
)

// startNATS runs a real NATS server with JetStream in this process, on a
// random port, its storage in a temporary directory.
func startNATS(t *testing.T) *server.Server {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns
}

// instance is one ariapp instance of a test cluster: its router,
// supervisor and control API, over the fake Asterisks of the nodes.
type instance struct {
	t      *testing.T
	name   string
	nc     *nats.Conn
	router *cluster.Router
	bus    *cluster.Bus
	sup    *cluster.Supervisor
	srv    *httptest.Server

	mu      sync.Mutex
	opened  map[string][]time.Time // per node, when the node was opened here
	fenced  map[string][]time.Time // per node, when it was fenced here
	stopped bool
}

// opener makes an instance's cluster.Opener; it records opens and fences
// with in.record.
type opener func(in *instance, router *cluster.Router, log *zap.Logger) cluster.Opener

// newInstance starts an instance; nodes maps a node to its fake Asterisk.
func newInstance(t *testing.T, name, natsURL string, nodes map[string]*fakeasterisk.Asterisk, order []string) *instance {
	return newInstanceWith(t, name, natsURL, order, fakeOpener(nodes, order))
}

// record notes that node was opened or fenced here now.
func (in *instance) record(m map[string][]time.Time, node string) {
	in.mu.Lock()
	m[node] = append(m[node], time.Now())
	in.mu.Unlock()
}

// fakeOpener runs each node's App on its fake Asterisk.
func fakeOpener(nodes map[string]*fakeasterisk.Asterisk, order []string) opener {
	return func(in *instance, router *cluster.Router, log *zap.Logger) cluster.Opener {
		return func(ctx context.Context, node string) (*cluster.Member, error) {
			fa := nodes[node]
			conn := fa.Connect()
			a, err := app.New(app.Config{Node: node, CallIDPrefix: cluster.CallIDPrefix(len(order), node), OnEvent: router.OnEvent(node),
				AnswerTimeout: 5 * time.Second}, conn.Client(), log.With(zap.String("node", node)))
			if err != nil {
				conn.Close()
				return nil, err
			}
			a.Start(conn.Events())
			in.record(in.opened, node)
			return &cluster.Member{
				App: a,
				// Closing the fake's connection cuts the client: every
				// request of this instance to the node fails from now on.
				Fence: func() { conn.Close(); in.record(in.fenced, node) },
				Stop:  func(bool) { a.Close(); conn.Close() },
			}, nil
		}
	}
}

// newInstanceWith starts an instance whose nodes mk opens; natsURL ""
// runs every node here.
func newInstanceWith(t *testing.T, name, natsURL string, order []string, mk opener) *instance {
	t.Helper()
	log := zaptest.NewLogger(t).With(zap.String("test_instance", name))
	cfg := cluster.Config{Nodes: order, Instance: name, NATSURL: natsURL, LeaseTTL: testTTL, RenewEvery: testRenew, ForwardTimeout: 10 * time.Second}
	router, err := cluster.NewRouter(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	in := &instance{t: t, name: name, router: router, opened: map[string][]time.Time{}, fenced: map[string][]time.Time{}}
	var js jetstream.JetStream
	if natsURL != "" {
		nc, err := nats.Connect(natsURL, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		in.nc = nc
		if js, err = jetstream.New(nc); err != nil {
			t.Fatal(err)
		}
		in.bus = cluster.NewBus(nc, cfg, log)
		router.SetBus(in.bus)
		if err := in.bus.Start(); err != nil {
			t.Fatal(err)
		}
	}
	open := mk(in, router, log)
	in.sup = cluster.NewSupervisor(cfg, router, in.bus, js, open, log)
	s := api.New(api.Config{Heartbeat: 100 * time.Millisecond, Wrap: router.Wrap}, router, router.Ready, log)
	if in.bus != nil {
		in.bus.SetHandler(s.Handler())
	}
	in.srv = httptest.NewServer(s.Handler())
	in.sup.Start()
	t.Cleanup(in.stop)
	return in
}

// stop stops the instance gracefully (releasing its leases).
func (in *instance) stop() {
	in.mu.Lock()
	done := in.stopped
	in.stopped = true
	in.mu.Unlock()
	if done {
		return
	}
	in.sup.Stop()
	in.srv.Close()
	if in.bus != nil {
		in.bus.Close()
		in.nc.Close()
	}
	in.router.Close()
}

// owns reports whether node runs here, reconciled.
func (in *instance) owns(node string) bool {
	for _, st := range in.sup.Status() {
		if st.Name == node {
			return st.Local && st.Synced
		}
	}
	return false
}

func (in *instance) do(method, path, body string, out any) (int, http.Header) {
	in.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, in.srv.URL+path, rd)
	if err != nil {
		in.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		in.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			in.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, data, err)
		}
	}
	return resp.StatusCode, resp.Header
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func fakes(t *testing.T, names ...string) map[string]*fakeasterisk.Asterisk {
	m := map[string]*fakeasterisk.Asterisk{}
	for _, n := range names {
		fa := fakeasterisk.New(fakeasterisk.Config{Application: "ariapp-fake-" + labtest.ID()})
		t.Cleanup(fa.Close)
		m[n] = fa
	}
	return m
}

// TestLeaseOneOwner: of two instances, exactly one runs a node; it
// keeps it over many lease periods; when it stops gracefully, the other
// takes the node over at once (the lease was released).
func TestLeaseOneOwner(t *testing.T) {
	ns := startNATS(t)
	nodes := fakes(t, "n1")
	a := newInstance(t, "a", ns.ClientURL(), nodes, []string{"n1"})
	waitFor(t, 10*time.Second, "a runs n1", func() bool { return a.owns("n1") })
	b := newInstance(t, "b", ns.ClientURL(), nodes, []string{"n1"})
	// Several lease periods: the renewals keep the lease with a.
	time.Sleep(3 * testTTL)
	if !a.owns("n1") || b.owns("n1") {
		t.Fatalf("after 3 lease periods: a owns %v, b owns %v; want a alone", a.owns("n1"), b.owns("n1"))
	}
	st := b.sup.Status()[0]
	if st.Owner != "a" {
		t.Errorf("b sees owner %q, want a", st.Owner)
	}
	t0 := time.Now()
	a.stop()
	waitFor(t, 10*time.Second, "b runs n1", func() bool { return b.owns("n1") })
	// Released, not expired: well within one lease period.
	if took := time.Since(t0); took > testTTL {
		t.Errorf("takeover after a graceful stop took %v, want below the lease TTL %v", took, testTTL)
	}
}

// TestLeaseFencing: an owner cut off from NATS stops acting on its
// node before its lease can expire; another instance takes the node over
// only after that.
func TestLeaseFencing(t *testing.T) {
	ns := startNATS(t)
	nodes := fakes(t, "n1")
	a := newInstance(t, "a", ns.ClientURL(), nodes, []string{"n1"})
	waitFor(t, 10*time.Second, "a runs n1", func() bool { return a.owns("n1") })
	b := newInstance(t, "b", ns.ClientURL(), nodes, []string{"n1"})
	time.Sleep(2 * testRenew)

	// Cut a off: its connection closes, its renewals fail.
	cut := time.Now()
	a.nc.Close()
	waitFor(t, 10*time.Second, "b runs n1", func() bool { return b.owns("n1") })

	a.mu.Lock()
	fenced := append([]time.Time(nil), a.fenced["n1"]...)
	a.mu.Unlock()
	b.mu.Lock()
	opened := append([]time.Time(nil), b.opened["n1"]...)
	b.mu.Unlock()
	if len(fenced) != 1 || len(opened) != 1 {
		t.Fatalf("a fenced n1 %d times, b opened it %d times; want 1 and 1", len(fenced), len(opened))
	}
	if !fenced[0].Before(opened[0]) {
		t.Fatalf("b opened n1 at %v, before a stopped acting on it at %v", opened[0], fenced[0])
	}
	if d := fenced[0].Sub(cut); d > testTTL {
		t.Errorf("a stopped %v after the cut, later than the lease TTL %v", d, testTTL)
	}
	if a.router.Local("n1") != nil {
		t.Error("a still serves n1 after fencing")
	}
	t.Logf("cut → a fenced %v, → b took over %v", fenced[0].Sub(cut), opened[0].Sub(cut))
}

// sseEvents reads event names and call ids of an event stream until n
// events arrived or timeout.
func sseEvents(t *testing.T, url string, n int, timeout time.Duration, ready chan<- struct{}) []app.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("events: %v", err)
		close(ready)
		return nil
	}
	defer resp.Body.Close()
	close(ready)
	var out []app.Event
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		var ev app.Event
		if json.Unmarshal([]byte(data), &ev) == nil && ev.Name != "" {
			out = append(out, ev)
			if len(out) == n {
				return out
			}
		}
	}
	return out
}

// TestForwardAndRelay: an instance that runs no node serves every call
// through the owner: originate, hold, resume, the call list and the event
// stream, with the owner's answers.
func TestForwardAndRelay(t *testing.T) {
	ns := startNATS(t)
	order := []string{"n1", "n2"}
	nodes := fakes(t, order...)
	a := newInstance(t, "a", ns.ClientURL(), nodes, order)
	waitFor(t, 10*time.Second, "a runs both nodes", func() bool { return a.owns("n1") && a.owns("n2") })
	b := newInstance(t, "b", ns.ClientURL(), nodes, order)
	waitFor(t, 5*time.Second, "b sees a as owner", func() bool {
		for _, st := range b.sup.Status() {
			if st.Owner != "a" {
				return false
			}
		}
		return true
	})

	// b's event stream: the relayed events of a's node.
	ready := make(chan struct{})
	evC := make(chan []app.Event, 1)
	go func() { evC <- sseEvents(t, b.srv.URL+"/v1/events", 4, 20*time.Second, ready) }()
	<-ready
	time.Sleep(100 * time.Millisecond) // the subscription is in place

	var info app.CallInfo
	code, hdr := b.do("POST", "/v1/calls?node=n2", `{"from":"Local/talk@ariapp-test","to":"Local/talk@ariapp-test"}`, &info)
	if code != http.StatusCreated {
		t.Fatalf("originate through b: %d", code)
	}
	if got := hdr.Get("Ariapp-Served-By"); got != "a" {
		t.Errorf("originate served by %q, want a", got)
	}
	if info.Node != "n2" || !strings.HasPrefix(info.CallID, "n2-") {
		t.Fatalf("call %q on node %q, want an n2- id on n2", info.CallID, info.Node)
	}
	waitFor(t, 10*time.Second, "the call answered", func() bool {
		var ci app.CallInfo
		code, _ := b.do("GET", "/v1/calls/"+info.CallID, "", &ci)
		return code == 200 && ci.State == app.CallAnswered
	})
	if code, _ := b.do("POST", "/v1/calls/"+info.CallID+"/hold", `{"party":"caller"}`, &info); code != 200 || len(info.Holders) != 1 {
		t.Fatalf("hold through b: %d, holders %v", code, info.Holders)
	}
	var list struct{ Calls []app.CallInfo }
	if b.do("GET", "/v1/calls", "", &list); len(list.Calls) != 1 || list.Calls[0].CallID != info.CallID {
		t.Fatalf("b lists %+v, want the one call", list.Calls)
	}
	var e api.ErrorBody
	if code, _ := b.do("POST", "/v1/calls/"+info.CallID+"/unhold", `{"party":"callee"}`, &e); code != http.StatusConflict || e.Error.Code != api.CodeNotHolding {
		t.Fatalf("unhold by the non-holder through b: %d %q, want the owner's 409 not_holding", code, e.Error.Code)
	}
	if code, _ := b.do("POST", "/v1/calls/"+info.CallID+"/unhold", `{"party":"caller"}`, &info); code != 200 || len(info.Holders) != 0 {
		t.Fatalf("resume through b: %d, holders %v", code, info.Holders)
	}
	if code, _ := b.do("POST", "/v1/calls?node=nope", `{"from":"Local/talk@ariapp-test","to":"Local/talk@ariapp-test"}`, &e); code != http.StatusBadRequest {
		t.Errorf("originate on an unknown node: %d, want 400", code)
	}

	evs := <-evC
	var names []string
	for _, ev := range evs {
		if ev.CallID != info.CallID {
			t.Errorf("event of call %q, want %q", ev.CallID, info.CallID)
		}
		names = append(names, string(ev.Name))
	}
	if want := "call_started call_answered hold_success unhold_success"; strings.Join(names, " ") != want {
		t.Errorf("b's stream: %v, want %s (in order)", names, want)
	}
	for i, ev := range evs {
		if ev.Seq != evs[0].Seq+uint64(i) {
			t.Errorf("event %d has seq %d: the call's order is broken", i, ev.Seq)
		}
	}
	if _, err := a.router.Hangup(context.Background(), info.CallID); err != nil {
		t.Error(err)
	}
}

// TestTakeoverAdoptsHeldCall: the owner of a node with a held call is
// cut off; the other instance takes the node over, adopts the call as
// held, and the holder resumes through it.
func TestTakeoverAdoptsHeldCall(t *testing.T) {
	ns := startNATS(t)
	nodes := fakes(t, "n1")
	a := newInstance(t, "a", ns.ClientURL(), nodes, []string{"n1"})
	waitFor(t, 10*time.Second, "a runs n1", func() bool { return a.owns("n1") })
	b := newInstance(t, "b", ns.ClientURL(), nodes, []string{"n1"})

	var info app.CallInfo
	if code, _ := b.do("POST", "/v1/calls", `{"from":"Local/talk@ariapp-test","to":"Local/talk@ariapp-test"}`, &info); code != http.StatusCreated {
		t.Fatalf("originate: %d", code)
	}
	waitFor(t, 10*time.Second, "the call answered", func() bool {
		ci, err := a.router.Call(info.CallID)
		return err == nil && ci.State == app.CallAnswered
	})
	if code, _ := b.do("POST", "/v1/calls/"+info.CallID+"/hold", `{"party":"callee"}`, &info); code != 200 {
		t.Fatalf("hold: %d", code)
	}
	a.nc.Close()
	waitFor(t, 15*time.Second, "b runs n1", func() bool { return b.owns("n1") })
	ci, err := b.router.Call(info.CallID)
	if err != nil {
		t.Fatalf("b after the takeover: %v", err)
	}
	if len(ci.Holders) != 1 || ci.Holders[0] != app.Callee || !ci.Caller.OnHoldMusic {
		t.Fatalf("adopted call: holders %v, caller on hold music %v; want the callee holding, the caller hearing music", ci.Holders, ci.Caller.OnHoldMusic)
	}
	if code, _ := b.do("POST", "/v1/calls/"+info.CallID+"/unhold", `{"party":"callee"}`, &ci); code != 200 || len(ci.Holders) != 0 {
		t.Fatalf("resume after the takeover: %d, holders %v", code, ci.Holders)
	}
	if _, err := b.router.Hangup(context.Background(), info.CallID); err != nil {
		t.Error(err)
	}
}
