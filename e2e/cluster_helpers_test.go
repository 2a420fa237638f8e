package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/internal/labtest"
	"github.com/ariapp/ariapp/internal/sipphone"
)

// The cluster lab (lab/cluster.sh): what its topology file says, the
// helpers its scenarios (cluster_test.go) share, and the watchers that
// record, from Asterisk's side, which instance acts on which node.

// clusterTopology is the file lab/cluster.sh writes at up
// (ARIAPP_CLUSTER_TOPOLOGY).
type clusterTopology struct {
	Clustered   bool   `json:"clustered"`
	ARIPassword string `json:"ari_password"`
	PhoneHost   string `json:"phone_host"`
	NATS        struct {
		Container string `json:"container"`
		Network   string `json:"network"`
		URL       string `json:"url"`
		Monitor   string `json:"monitor"`
	} `json:"nats"`
	LeaseTTL  string            `json:"lease_ttl"`
	Nodes     []clusterNode     `json:"nodes"`
	Instances []clusterInstance `json:"instances"`
}

type clusterNode struct {
	Name      string `json:"name"`
	Container string `json:"container"`
	IP        string `json:"ip"`
	ARI       string `json:"ari"`
	SIP       string `json:"sip"`
	PhonePort int    `json:"phone_port"`
}

type clusterInstance struct {
	Name      string `json:"name"`
	Container string `json:"container"`
	API       string `json:"api"`
	ARIIP     string `json:"ari_ip"`
	NATSIP    string `json:"nats_ip"`
}

// clusterCall is a call as any instance's API reports it, with the node
// it runs on.
type clusterCall struct {
	app.CallInfo
	Node string `json:"node"`
}

// clusterLab is one scenario's view of the cluster.
type clusterLab struct {
	t    *testing.T
	topo clusterTopology
	ttl  time.Duration
	hc   *http.Client

	mu      sync.Mutex
	events  map[string]*labtest.Log[app.Event] // by instance
	phones  map[string][2]*sipphone.Phone
	created []string // call ids, hung up at the end if still up
}

// newClusterLab skips unless lab/cluster.sh runs the test (ARIAPP_CLUSTER=1).
// It opens an event stream on every instance, kept open (reconnected) for
// the whole test, and checks at the end that no channel is left on any
// node.
func newClusterLab(t *testing.T) *clusterLab {
	t.Helper()
	if os.Getenv("ARIAPP_CLUSTER") != "1" {
		t.Skip("the cluster lab runs from lab/cluster.sh test (ARIAPP_CLUSTER=1)")
	}
	path := os.Getenv("ARIAPP_CLUSTER_TOPOLOGY")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("ARIAPP_CLUSTER=1 needs ARIAPP_CLUSTER_TOPOLOGY, the file lab/cluster.sh up writes: %v", err)
	}
	c := &clusterLab{t: t, hc: &http.Client{Transport: &http.Transport{}},
		events: map[string]*labtest.Log[app.Event]{}, phones: map[string][2]*sipphone.Phone{}}
	if err := json.Unmarshal(data, &c.topo); err != nil {
		t.Fatalf("topology %s: %v", path, err)
	}
	if len(c.topo.Nodes) < 2 || len(c.topo.Instances) < 2 {
		t.Fatalf("topology %s: %d nodes and %d instances, want at least 2 of each", path, len(c.topo.Nodes), len(c.topo.Instances))
	}
	if c.ttl, err = time.ParseDuration(c.topo.LeaseTTL); err != nil {
		t.Fatalf("topology lease_ttl %q: %v", c.topo.LeaseTTL, err)
	}
	t.Cleanup(c.hc.CloseIdleConnections) // last: after the streams end
	t.Cleanup(c.expectNothingLeft)
	t.Cleanup(c.hangupLeftovers)
	for _, in := range c.topo.Instances {
		c.events[in.Name] = labtest.NewLog[app.Event]()
		c.follow(in)
	}
	return c
}

func (c *clusterLab) node(name string) clusterNode {
	for _, n := range c.topo.Nodes {
		if n.Name == name {
			return n
		}
	}
	c.t.Fatalf("no node %q in the topology", name)
	return clusterNode{}
}

func (c *clusterLab) instance(name string) clusterInstance {
	for _, in := range c.topo.Instances {
		if in.Name == name {
			return in
		}
	}
	c.t.Fatalf("no instance %q in the topology", name)
	return clusterInstance{}
}

// instanceAt names the instance with an address, "" for none (the test
// itself, on the gateway).
func (c *clusterLab) instanceAt(ip string) string {
	for _, in := range c.topo.Instances {
		if in.ARIIP == ip || in.NATSIP == ip {
			return in.Name
		}
	}
	return ""
}

// serves lists the instances whose API answers for a node's calls: every
// instance in a cluster; in the one-node configuration lab/cluster.sh
// writes for an ariapp without cluster support, the one pointed at it.
func (c *clusterLab) serves(node string) []string {
	var out []string
	for i, in := range c.topo.Instances {
		if c.topo.Clustered || c.topo.Nodes[min(i, len(c.topo.Nodes)-1)].Name == node {
			out = append(out, in.Name)
		}
	}
	return out
}

// --- docker and Asterisk's CLI ---------------------------------------------

func (c *clusterLab) docker(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

func (c *clusterLab) mustDocker(args ...string) string {
	c.t.Helper()
	out, err := c.docker(60*time.Second, args...)
	if err != nil {
		c.t.Fatal(err)
	}
	return out
}

// cli runs one Asterisk CLI command in a node's container.
func (c *clusterLab) cli(node, command string) (string, error) {
	return c.docker(10*time.Second, "exec", c.node(node).Container, "asterisk", "-rx", command)
}

// wsClients is Asterisk's own view of who acts on it: the instances with
// an ARI event WebSocket open to the node (ari show websocket sessions).
// The test's own ARI requests are plain HTTP and never show here.
func (c *clusterLab) wsClients(node string) ([]string, error) {
	out, err := c.cli(node, "ari show websocket sessions")
	if err != nil {
		return nil, err
	}
	return c.parseSessions(out), nil
}

// parseSessions picks the instances out of the CLI's session table: a row
// with an instance's address (ip:port) is that instance's session.
func (c *clusterLab) parseSessions(out string) []string {
	var who []string
	for _, line := range strings.Split(out, "\n") {
		for _, f := range strings.Fields(line) {
			host := f
			if i := strings.LastIndexByte(f, ':'); i > 0 {
				host = f[:i]
			}
			if in := c.instanceAt(host); in != "" {
				who = append(who, in)
				break
			}
		}
	}
	sort.Strings(who)
	return who
}

// owner waits until exactly one instance holds a WebSocket to node, and
// the same one for a few samples in a row, and names it.
func (c *clusterLab) owner(node string, within time.Duration) string {
	c.t.Helper()
	deadline := time.Now().Add(within)
	last, same := "", 0
	var seen []string
	for {
		who, err := c.wsClients(node)
		if err == nil && len(who) == 1 {
			if who[0] == last {
				same++
			} else {
				last, same = who[0], 1
			}
			if same >= 3 {
				return last
			}
		} else {
			last, same = "", 0
		}
		seen = who
		if time.Now().After(deadline) {
			c.t.Fatalf("node %s: no single owner within %v (last seen: %v, err %v)", node, within, seen, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// channels lists a node's channel ids over its ARI, from the host.
func (c *clusterLab) channels(node string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", c.node(node).ARI+"/channels", nil)
	req.SetBasicAuth("ariapp", c.topo.ARIPassword)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var chans []struct {
		ID string `json:"id"`
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /channels: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&chans); err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(chans))
	for _, ch := range chans {
		ids = append(ids, ch.ID)
	}
	return ids, nil
}

// expectNothingLeft: every node that runs has no channel and no bridge
// once the scenario is over (the calls were hung up through the API).
func (c *clusterLab) expectNothingLeft() {
	for _, n := range c.topo.Nodes {
		var left []string
		var err error
		for range 100 {
			if left, err = c.channels(n.Name); err == nil && len(left) == 0 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			c.t.Errorf("node %s: %v", n.Name, err)
		} else if len(left) > 0 {
			out, _ := c.cli(n.Name, "core show channels concise")
			c.t.Errorf("node %s: channels left at the end: %v\n%s", n.Name, left, out)
		}
		if out, err := c.cli(n.Name, "bridge show all"); err == nil && strings.Contains(out, "simple_bridge") {
			c.t.Errorf("node %s: bridges left at the end:\n%s", n.Name, out)
		}
	}
}

// --- the control API -----------------------------------------------------------

// api sends one request to an instance's API; it returns the status, the
// body and how long the answer took. Status 0: no answer (err set).
func (c *clusterLab) api(inst, method, path, body string, out any) (int, string, time.Duration, error) {
	return c.apiWithin(20*time.Second, inst, method, path, body, out)
}

// apiWithin is api with another bound than api's 20 s.
func (c *clusterLab) apiWithin(within time.Duration, inst, method, path, body string, out any) (int, string, time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequestWithContext(ctx, method, c.instance(inst).API+path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	t0 := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, "", time.Since(t0), err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	took := time.Since(t0)
	if out != nil && err == nil {
		_ = json.Unmarshal(data, out)
	}
	return resp.StatusCode, string(data), took, err
}

// mustAPI is api that fails the test unless the status is want.
func (c *clusterLab) mustAPI(inst, method, path, body string, want int, out any) time.Duration {
	c.t.Helper()
	code, text, took, err := c.api(inst, method, path, body, out)
	if err != nil || code != want {
		c.t.Fatalf("%s: %s %s %s: %d %s (err %v), want %d", inst, method, path, body, code, text, err, want)
	}
	return took
}

// call asks an instance for one call.
func (c *clusterLab) call(inst, callID string) (clusterCall, int) {
	var cc clusterCall
	code, _, _, _ := c.api(inst, "GET", "/v1/calls/"+callID, "", &cc)
	return cc, code
}

// nodeOf is the node a call runs on, as the instance inst reports it. In
// a cluster the API says (node); with one node per instance it is inst's.
// A channel id that Asterisk chose (an incoming SIP call's caller) starts
// with the node's systemname and must agree.
func (c *clusterLab) nodeOf(inst string, cc clusterCall) string {
	c.t.Helper()
	node := cc.Node
	if !c.topo.Clustered {
		for _, n := range c.topo.Nodes {
			if slices.Contains(c.serves(n.Name), inst) {
				node = n.Name
			}
		}
	}
	if node == "" {
		c.t.Fatalf("%s: call %s without a node: %+v", inst, cc.CallID, cc)
	}
	if prefix, _, ok := strings.Cut(cc.Caller.ChannelID, "-"); ok && strings.HasPrefix(prefix, "ast") && prefix != node {
		c.t.Fatalf("%s: call %s is on node %q, its caller channel %s is %s's", inst, cc.CallID, node, cc.Caller.ChannelID, prefix)
	}
	return node
}

// hangupLeftovers ends, through the API, every call a failed scenario
// left up.
func (c *clusterLab) hangupLeftovers() {
	c.mu.Lock()
	ids := slices.Clone(c.created)
	c.mu.Unlock()
	for _, id := range ids {
		for _, in := range c.topo.Instances {
			if code, _, _, err := c.api(in.Name, "DELETE", "/v1/calls/"+id, "", nil); err == nil && (code == 200 || code == 404) {
				break
			}
		}
	}
}

// follow keeps an event stream of an instance open until the test ends,
// reconnecting (the instance may be killed and started again).
func (c *clusterLab) follow(in clusterInstance) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			c.streamOnce(ctx, in)
			select {
			case <-ctx.Done():
			case <-time.After(300 * time.Millisecond):
			}
		}
	}()
	c.t.Cleanup(func() { cancel(); <-done })
}

func (c *clusterLab) streamOnce(ctx context.Context, in clusterInstance) {
	req, _ := http.NewRequestWithContext(ctx, "GET", in.API+"/v1/events", nil)
	resp, err := c.hc.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			var ev app.Event
			if json.Unmarshal([]byte(data), &ev) == nil {
				c.events[in.Name].Add(ev)
			}
		}
	}
}

// waitEvent waits until an instance's stream carries an event of a call
// matching cond.
func (c *clusterLab) waitEvent(inst, callID string, within time.Duration, cond func(app.Event) bool) app.Event {
	c.t.Helper()
	var found app.Event
	evs, ok := c.events[inst].Until(within, func(evs []app.Event) bool {
		for _, ev := range evs {
			if ev.CallID == callID && cond(ev) {
				found = ev
				return true
			}
		}
		return false
	})
	if !ok {
		var names []app.EventName
		for _, ev := range evs {
			if ev.CallID == callID {
				names = append(names, ev.Name)
			}
		}
		c.t.Fatalf("%s's event stream: no such event of call %s within %v (it has %v)", inst, callID, within, names)
	}
	return found
}

// --- calls -------------------------------------------------------------------

// nodePhones are alice and bob, registered nowhere: each node's pjsip.conf
// has their static contacts on the host (the gateway), at the node's own
// phone ports.
func (c *clusterLab) nodePhones(node string) (alice, bob *sipphone.Phone) {
	c.t.Helper()
	c.mu.Lock()
	p, ok := c.phones[node]
	c.mu.Unlock()
	if ok {
		return p[0], p[1]
	}
	n := c.node(node)
	mk := func(user string, port int, hz float64) *sipphone.Phone {
		ph, err := sipphone.New(context.Background(), sipphone.Config{User: user,
			SIPAddr: fmt.Sprintf("%s:%d", c.topo.PhoneHost, port), Server: n.SIP, ToneHz: hz})
		if err != nil {
			c.t.Fatalf("phone %s of %s: %v", user, node, err)
		}
		c.t.Cleanup(func() { _ = ph.Close() })
		return ph
	}
	alice, bob = mk("alice", n.PhonePort, aliceHz), mk("bob", n.PhonePort+1, bobHz)
	c.mu.Lock()
	c.phones[node] = [2]*sipphone.Phone{alice, bob}
	c.mu.Unlock()
	return alice, bob
}

// sipCall: alice dials bob through a node, bob answers, both hear each
// other; the call is found through an instance's API.
func (c *clusterLab) sipCall(node, inst string) (callID string, ac, bc *sipphone.Call) {
	c.t.Helper()
	alice, bob := c.nodePhones(node)
	type res struct {
		c   *sipphone.Call
		err error
	}
	dialed := make(chan res, 1)
	go func() {
		call, err := alice.Dial(ctxT(c.t), "bob")
		dialed <- res{call, err}
	}()
	bc, err := bob.Incoming(ctxT(c.t))
	if err != nil {
		c.t.Fatalf("%s: bob: no incoming call: %v", node, err)
	}
	if err := bc.Answer(ctxT(c.t)); err != nil {
		c.t.Fatalf("%s: bob answers: %v", node, err)
	}
	r := <-dialed
	if r.err != nil {
		c.t.Fatalf("%s: alice dials bob: %v", node, r.err)
	}
	ac = r.c
	cc := c.findCall(inst, node, "PJSIP/alice")
	c.hearsWithin(ac, bobHz, node+": alice hears bob")
	c.hearsWithin(bc, aliceHz, node+": bob hears alice")
	return cc.CallID, ac, bc
}

// findCall waits until an instance lists an answered call on node whose
// caller is endpoint.
func (c *clusterLab) findCall(inst, node, endpoint string) clusterCall {
	c.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var list struct {
			Calls []clusterCall `json:"calls"`
		}
		code, _, _, err := c.api(inst, "GET", "/v1/calls", "", &list)
		if err == nil && code == 200 {
			for _, cc := range list.Calls {
				if cc.Caller.Endpoint == endpoint && cc.State == app.CallAnswered &&
					strings.HasPrefix(cc.Caller.ChannelID, node+"-") {
					c.nodeOf(inst, cc)
					c.mu.Lock()
					c.created = append(c.created, cc.CallID)
					c.mu.Unlock()
					return cc
				}
			}
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s lists no answered call on %s from %s (last answer %d, %v)", inst, node, endpoint, code, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// localCall originates a call between two talking Local channels on node
// through an instance's API and waits until it is answered.
func (c *clusterLab) localCall(inst, node string) string {
	c.t.Helper()
	path := "/v1/calls"
	if c.topo.Clustered {
		path += "?node=" + node
	}
	var cc clusterCall
	c.mustAPI(inst, "POST", path, `{"from":"Local/talk@ariapp-test","to":"Local/talk@ariapp-test"}`, 201, &cc)
	c.mu.Lock()
	c.created = append(c.created, cc.CallID)
	c.mu.Unlock()
	deadline := time.Now().Add(15 * time.Second)
	for cc.State != app.CallAnswered {
		if time.Now().After(deadline) {
			c.t.Fatalf("call %s on %s not answered within 15 s: %+v", cc.CallID, node, cc)
		}
		time.Sleep(100 * time.Millisecond)
		cc, _ = c.call(inst, cc.CallID)
	}
	if got := c.nodeOf(inst, cc); got != node {
		c.t.Fatalf("call %s placed on %s runs on %s", cc.CallID, node, got)
	}
	return cc.CallID
}

// hold and unhold through an instance's API; they return the answer's
// delay.
func (c *clusterLab) hold(inst, callID string, party app.Role) time.Duration {
	c.t.Helper()
	var cc clusterCall
	took := c.mustAPI(inst, "POST", "/v1/calls/"+callID+"/hold", `{"party":"`+string(party)+`"}`, 200, &cc)
	if cc.Party(party).State != app.Hold {
		c.t.Fatalf("%s: hold of %s by %s answered %+v", inst, callID, party, cc.CallInfo)
	}
	return took
}

func (c *clusterLab) unhold(inst, callID string, party app.Role) time.Duration {
	c.t.Helper()
	var cc clusterCall
	took := c.mustAPI(inst, "POST", "/v1/calls/"+callID+"/unhold", `{"party":"`+string(party)+`"}`, 200, &cc)
	if cc.Party(party).State != app.Live {
		c.t.Fatalf("%s: resume of %s by %s answered %+v", inst, callID, party, cc.CallInfo)
	}
	return took
}

// hangup ends a call through an instance's API and waits until no
// instance lists it.
func (c *clusterLab) hangup(inst, callID string) {
	c.t.Helper()
	c.mustAPI(inst, "DELETE", "/v1/calls/"+callID, "", 200, nil)
}

// held checks what an instance says of a held call: who holds, and that
// the peer is on the hold music.
func (c *clusterLab) expectHeldInfo(inst, callID string, holder app.Role) {
	c.t.Helper()
	cc, code := c.call(inst, callID)
	peer := app.Callee
	if holder == app.Callee {
		peer = app.Caller
	}
	if code != 200 || cc.Party(holder).State != app.Hold || !cc.Party(peer).OnHoldMusic ||
		!slices.Equal(cc.Holders, []app.Role{holder}) {
		c.t.Fatalf("%s: call %s should be held by %s with the %s on the hold music: %d %+v", inst, callID, holder, peer, code, cc.CallInfo)
	}
}

func (c *clusterLab) hearsWithin(call *sipphone.Call, hz float64, what string) time.Time {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	at, err := call.Audio().WaitHeard(ctx, time.Now().Add(-20*time.Millisecond), hz)
	if err != nil {
		c.t.Fatalf("%s (%v Hz): %v", what, hz, err)
	}
	return at
}

// expectHeldAudio: over [from, to) the held party heard the hold tone and
// never its holder, with no gap in the RTP longer than maxGap.
func (c *clusterLab) expectHeldAudio(held *sipphone.Call, holderHz float64, from, to time.Time, what string) {
	c.t.Helper()
	r := held.Audio()
	pk := r.Packets(from, to)
	if f := r.Hears(from, to, holdHz); f < 0.2 {
		c.t.Errorf("%s: the held party hears the hold tone in only %.0f%% of %d packets", what, 100*f, len(pk))
	}
	if f := r.Hears(from, to, holderHz); f > 0.02 {
		c.t.Errorf("%s: the held party hears its holder in %.0f%% of %d packets", what, 100*f, len(pk))
	}
	gap, prev := time.Duration(0), from
	for _, p := range pk {
		gap = max(gap, p.At.Sub(prev))
		prev = p.At
	}
	gap = max(gap, to.Sub(prev))
	if gap > 500*time.Millisecond {
		c.t.Errorf("%s: the held party's RTP stopped for %v", what, gap.Round(time.Millisecond))
	}
	c.t.Logf("%s: %d RTP packets in %v, hold tone in %.0f%%, longest gap %v", what, len(pk),
		to.Sub(from).Round(time.Millisecond), 100*r.Hears(from, to, holdHz), gap.Round(time.Millisecond))
}

// --- who acts on a node, seen from Asterisk and from the request logs ---------

// wsSample is one look at a node's WebSocket sessions.
type wsSample struct {
	at   time.Time
	node string
	who  []string
	err  error
}

// wsWatch samples every node's WebSocket sessions until stopped, each node
// on its own (one docker exec takes about 75 ms); a sample with two
// instances on one node is a double owner.
type wsWatch struct {
	c       *clusterLab
	mu      sync.Mutex
	samples []wsSample
	stop    chan struct{}
	done    chan struct{}
}

func (c *clusterLab) watchOwners(every time.Duration) *wsWatch {
	w := &wsWatch{c: c, stop: make(chan struct{}), done: make(chan struct{})}
	var wg sync.WaitGroup
	for _, n := range c.topo.Nodes {
		wg.Go(func() {
			tick := time.NewTicker(every)
			defer tick.Stop()
			for {
				who, err := c.wsClients(n.Name)
				w.mu.Lock()
				w.samples = append(w.samples, wsSample{at: time.Now(), node: n.Name, who: who, err: err})
				w.mu.Unlock()
				select {
				case <-w.stop:
					return
				case <-tick.C:
				}
			}
		})
	}
	go func() { wg.Wait(); close(w.done) }()
	c.t.Cleanup(w.Stop)
	return w
}

// Stop ends the sampling (idempotent).
func (w *wsWatch) Stop() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

// firstOwner is when, after t, an instance other than not was first seen
// alone on node.
func (w *wsWatch) firstOwner(node, not string, after time.Time) (string, time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.samples {
		if s.node == node && s.at.After(after) && len(s.who) == 1 && s.who[0] != not {
			return s.who[0], s.at, true
		}
	}
	return "", time.Time{}, false
}

// lastSeen is the last sample at which inst had a session on node.
func (w *wsWatch) lastSeen(node, inst string) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	var at time.Time
	for _, s := range w.samples {
		if s.node == node && slices.Contains(s.who, inst) {
			at = s.at
		}
	}
	return at
}

// expectSingle fails for every sample in which two instances had a
// session on one node at once.
func (w *wsWatch) expectSingle() {
	w.c.t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	n, bad := 0, 0
	for _, s := range w.samples {
		if s.err != nil {
			continue
		}
		n++
		if len(s.who) > 1 {
			if bad++; bad <= 5 {
				w.c.t.Errorf("Asterisk %s at %s: WebSocket sessions of %v at once", s.node, s.at.Format("15:04:05.000"), s.who)
			}
		}
	}
	if n == 0 {
		w.c.t.Errorf("no usable sample of the WebSocket sessions")
	}
	w.c.t.Logf("Asterisk's view: %d samples of the nodes' WebSocket sessions, %d with two instances on one node", n, bad)
}

// ariRequest is one line of an instance's ARI request log.
type ariRequest struct {
	at       time.Time
	instance string
	node     string
	method   string
	route    string
}

// ariRequests reads the ARI request log of every instance since a time
// (docker logs with the engine's timestamps, one clock for all
// containers), and fails on an ApplicationReplaced event there: Asterisk
// sends it to a client whose Stasis application another client took, the
// sign of two instances on one node that a sample of the WebSocket
// sessions can miss (Asterisk keeps only the newest). A line without a node field in the one-node configuration
// belongs to the instance's only node.
func (c *clusterLab) ariRequests(since time.Time) []ariRequest {
	c.t.Helper()
	var out []ariRequest
	for i, in := range c.topo.Instances {
		logs, err := c.docker(60*time.Second, "logs", "--timestamps", "--since", since.UTC().Format(time.RFC3339Nano), in.Container)
		if err != nil {
			c.t.Fatalf("logs of %s: %v", in.Name, err)
		}
		for _, line := range strings.Split(logs, "\n") {
			ts, rest, ok := strings.Cut(line, " ")
			if ok && strings.Contains(rest, `"type":"ApplicationReplaced"`) {
				// Asterisk's word that another client registered the
				// Stasis application on that node: two at once.
				c.t.Errorf("%s: Asterisk replaced its application: %s", in.Name, rest)
				continue
			}
			if !ok || !strings.Contains(rest, `"ari request"`) {
				continue
			}
			at, err := time.Parse(time.RFC3339Nano, ts)
			if err != nil {
				continue
			}
			var f struct {
				Msg    string `json:"msg"`
				Node   string `json:"node"`
				Method string `json:"method"`
				Route  string `json:"route"`
			}
			if json.Unmarshal([]byte(rest), &f) != nil || f.Msg != "ari request" {
				continue
			}
			if f.Node == "" && !c.topo.Clustered {
				f.Node = c.topo.Nodes[min(i, len(c.topo.Nodes)-1)].Name
			}
			out = append(out, ariRequest{at: at, instance: in.Name, node: f.Node, method: f.Method, route: f.Route})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].at.Before(out[j].at) })
	return out
}

// expectOneActor checks the ARI request logs since a time (actorTurns)
// and returns the requests and, per node, the instances in turn, e.g.
// ast1: [a1 a2].
func (c *clusterLab) expectOneActor(since time.Time) ([]ariRequest, map[string][]string) {
	c.t.Helper()
	reqs := c.ariRequests(since)
	seq, bad := actorTurns(reqs, c.ttl)
	for i, b := range bad {
		if i < 10 {
			c.t.Error(b)
		}
	}
	c.t.Logf("ARI request logs since %s: %d requests, %d out of turn; per node, the instances in turn: %v",
		since.Format("15:04:05.000"), len(reqs), len(bad), seq)
	return reqs, seq
}

// actorTurns reads requests in time order: per node, the instances that
// issued requests take turns (runs of one instance), and an instance that
// handed a node over issues nothing to it within ttl of the next
// instance's first request (it could only come back after that instance
// lost or left the lease). It returns the turns per node and what broke
// the rule.
func actorTurns(reqs []ariRequest, ttl time.Duration) (map[string][]string, []string) {
	seq := map[string][]string{}
	var bad []string
	displaced := map[string]map[string]time.Time{} // node -> instance -> when the next turn began
	for _, r := range reqs {
		if r.node == "" {
			bad = append(bad, fmt.Sprintf("%s: an ARI request log line without a node: %s %s", r.instance, r.method, r.route))
			continue
		}
		s := seq[r.node]
		if len(s) > 0 && s[len(s)-1] == r.instance {
			continue
		}
		if displaced[r.node] == nil {
			displaced[r.node] = map[string]time.Time{}
		}
		if at, ok := displaced[r.node][r.instance]; ok && r.at.Sub(at) < ttl {
			bad = append(bad, fmt.Sprintf("node %s: %s issued %s %s at %s, %v after another instance began on the node (turns %v)",
				r.node, r.instance, r.method, r.route, r.at.Format("15:04:05.000"), r.at.Sub(at).Round(time.Millisecond), append(slices.Clone(s), r.instance)))
		}
		if len(s) > 0 {
			displaced[r.node][s[len(s)-1]] = r.at
		}
		seq[r.node] = append(s, r.instance)
	}
	return seq, bad
}

// expectOneActorSeq is expectOneActor's turns alone.
func (c *clusterLab) expectOneActorSeq(since time.Time) map[string][]string {
	c.t.Helper()
	_, seq := c.expectOneActor(since)
	return seq
}

// lastRequest is the time of inst's last request to node in reqs before a
// time.
func lastRequest(reqs []ariRequest, node, inst string, before time.Time) time.Time {
	var at time.Time
	for _, r := range reqs {
		if r.node == node && r.instance == inst && r.at.Before(before) {
			at = r.at
		}
	}
	return at
}

// durations summarises a sample of delays.
func durations(d []time.Duration) string {
	if len(d) == 0 {
		return "none"
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return fmt.Sprintf("p50 %v, max %v over %d", s[len(s)/2].Round(time.Millisecond), s[len(s)-1].Round(time.Millisecond), len(s))
}
