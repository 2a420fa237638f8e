package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/internal/sipphone"
)

// The cluster scenarios (lab/cluster.sh test): two Asterisk nodes, three
// ariapp instances sharing them through NATS leases. Each scenario ends
// with every call hung up through the API and nothing left in any
// Asterisk. The figures they measure are printed at the end of the run.

// clusterFigures collects what the scenarios measure.
var clusterFigures = struct {
	sync.Mutex
	takeoverWS, takeoverAPI []time.Duration // kill -9 -> new owner's WebSocket; -> first answered hold
	ownerHold, otherHold    []time.Duration // a hold's answer through the node's owner, another instance
	toggles, refused        int             // holds and resumes sent during takeovers, refused among them
	delayed, unanswered     int             // answered after more than a second; not within togglerTimeout
	calls, lost             int             // calls that should have lived through a scenario, lost among them
}{}

// clusterSummary prints the figures (TestMain, after the run).
func clusterSummary() {
	f := &clusterFigures
	f.Lock()
	defer f.Unlock()
	if f.calls == 0 && len(f.takeoverWS) == 0 && len(f.ownerHold) == 0 {
		return
	}
	fmt.Printf("cluster: takeover after kill -9 of a node's owner, new owner's WebSocket at Asterisk: %s\n", durations(f.takeoverWS))
	fmt.Printf("cluster: takeover after kill -9, first hold or resume answered by a survivor: %s\n", durations(f.takeoverAPI))
	fmt.Printf("cluster: holds and resumes sent during takeovers: %d; refused %d, answered after >1 s %d, unanswered within %v %d\n",
		f.toggles, f.refused, f.delayed, togglerTimeout, f.unanswered)
	fmt.Printf("cluster: calls that had to survive the scenarios: %d, lost: %d\n", f.calls, f.lost)
	fmt.Printf("cluster: hold through the node's owner: %s; through another instance: %s", durations(f.ownerHold), durations(f.otherHold))
	if len(f.ownerHold) > 0 && len(f.otherHold) > 0 {
		fmt.Printf("; a non-owner adds %v (p50)", (pct(f.otherHold, 50) - pct(f.ownerHold, 50)).Round(100*time.Microsecond))
	}
	fmt.Println()
}

func pct(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[(len(s)-1)*p/100]
}

// requireCluster fails a scenario that needs several instances per node
// when lab/cluster.sh runs an ariapp without cluster support.
func (c *clusterLab) requireCluster() {
	c.t.Helper()
	if !c.topo.Clustered {
		c.t.Fatal("this scenario needs an ariapp with cluster support (cluster.nats_url)")
	}
}

// survivors are the instances other than x.
func (c *clusterLab) survivors(x string) []string {
	var out []string
	for _, in := range c.topo.Instances {
		if in.Name != x {
			out = append(out, in.Name)
		}
	}
	return out
}

// waitReady waits until an instance's /readyz answers 200.
func (c *clusterLab) waitReady(inst string, within time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for {
		code, _, _, err := c.api(inst, "GET", "/readyz", "", nil)
		if err == nil && code == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s not ready within %v (%d, %v)", inst, within, code, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// settled waits until every node has one owner, steadily, and returns
// them.
func (c *clusterLab) settled(within time.Duration) map[string]string {
	c.t.Helper()
	owners := map[string]string{}
	for _, n := range c.topo.Nodes {
		owners[n.Name] = c.owner(n.Name, within)
	}
	return owners
}

// stillThere counts the calls that should have survived: every instance
// still serves them (lost otherwise).
func (c *clusterLab) stillThere(insts []string, callIDs ...string) {
	c.t.Helper()
	f := &clusterFigures
	for _, id := range callIDs {
		lost := false
		for _, in := range insts {
			if cc, code := c.call(in, id); code != 200 || cc.State != app.CallAnswered {
				c.t.Errorf("%s: call %s should still be up: %d %+v", in, id, code, cc.CallInfo)
				lost = true
			}
		}
		f.Lock()
		f.calls++
		if lost {
			f.lost++
		}
		f.Unlock()
	}
}

// endPhones waits until the phones' calls have ended.
func (c *clusterLab) endPhones(calls ...*sipphone.Call) {
	c.t.Helper()
	for _, call := range calls {
		select {
		case <-call.Ended():
		case <-time.After(10 * time.Second):
			c.t.Fatal("a phone's call did not end after the API hang-up")
		}
	}
}

// togglerTimeout bounds one hold or resume of the toggler: a request
// through an instance whose node has no owner yet waits for one.
const togglerTimeout = 3 * time.Second

// toggler holds and resumes a call's caller through an instance, every
// interval, until stopped: the requests a takeover may refuse or delay.
type toggler struct {
	c      *clusterLab
	inst   string
	callID string
	stop   chan struct{}
	done   chan struct{}

	mu      sync.Mutex
	results []toggle
}

type toggle struct {
	at   time.Time
	code int // 0: no answer within togglerTimeout
	took time.Duration
}

func (c *clusterLab) toggle(inst, callID string, every time.Duration) *toggler {
	tg := &toggler{c: c, inst: inst, callID: callID, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(tg.done)
		held := false
		for {
			op := "hold"
			if held {
				op = "unhold"
			}
			ctx, cancel := context.WithTimeout(context.Background(), togglerTimeout)
			req, _ := http.NewRequestWithContext(ctx, "POST", c.instance(inst).API+"/v1/calls/"+callID+"/"+op, strings.NewReader(`{"party":"caller"}`))
			req.Header.Set("Content-Type", "application/json")
			t0 := time.Now()
			code := 0
			if resp, err := c.hc.Do(req); err == nil {
				code = resp.StatusCode
				resp.Body.Close()
			}
			cancel()
			tg.mu.Lock()
			tg.results = append(tg.results, toggle{at: t0, code: code, took: time.Since(t0)})
			tg.mu.Unlock()
			switch {
			case code == http.StatusOK:
				held = !held
			case code == http.StatusConflict:
				// Not what the toggler believed (a request it gave up on
				// went through after all): ask.
				if cc, gc := c.call(inst, callID); gc == 200 {
					held = cc.Caller.State == app.Hold
				}
			}
			select {
			case <-tg.stop:
				return
			case <-time.After(every):
			}
		}
	}()
	c.t.Cleanup(tg.Stop)
	return tg
}

// Stop ends the toggling (idempotent) and leaves the caller live.
func (tg *toggler) Stop() {
	select {
	case <-tg.stop:
	default:
		close(tg.stop)
	}
	<-tg.done
}

// firstOK is the first request sent after t that was answered 200.
func (tg *toggler) firstOK(after time.Time) (toggle, bool) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	for _, r := range tg.results {
		if r.at.After(after) && r.code == http.StatusOK {
			return r, true
		}
	}
	return toggle{}, false
}

// account adds the requests sent in [from, to) to the figures.
func (tg *toggler) account(from, to time.Time) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	n, refused, delayed, unanswered := 0, 0, 0, 0
	for _, r := range tg.results {
		if r.at.Before(from) || !r.at.Before(to) {
			continue
		}
		n++
		switch {
		case r.code == 0:
			unanswered++
		case r.code != http.StatusOK:
			refused++
		case r.took > time.Second:
			delayed++
		}
	}
	tg.c.t.Logf("during the takeover: %d holds and resumes through %s, %d refused, %d answered after >1 s, %d unanswered within %v",
		n, tg.inst, refused, delayed, unanswered, togglerTimeout)
	f := &clusterFigures
	f.Lock()
	f.toggles += n
	f.refused += refused
	f.delayed += delayed
	f.unanswered += unanswered
	f.Unlock()
}

// leaveLive resumes a toggled call's caller if the toggler left it held.
func (c *clusterLab) leaveLive(inst, callID string) {
	c.t.Helper()
	if cc, code := c.call(inst, callID); code == 200 && cc.Caller.State == app.Hold {
		c.unhold(inst, callID, app.Caller)
	}
}

// TestClusterHoldResume: a SIP call and a Local call on each node, held
// and resumed through every instance's API, the node's owner or not; the
// held party hears the hold tone, then its holder again. The latency of a
// hold through the owner and through another instance is measured. No
// node has two instances acting on it meanwhile.
func TestClusterHoldResume(t *testing.T) {
	c := newClusterLab(t)
	start := time.Now()
	owners := map[string]string{}
	for _, n := range c.topo.Nodes {
		owners[n.Name] = c.owner(n.Name, 60*time.Second)
	}
	t.Logf("owners: %v", owners)
	w := c.watchOwners(250 * time.Millisecond)
	for _, n := range c.topo.Nodes {
		insts := c.serves(n.Name)
		callID, ac, bc := c.sipCall(n.Name, insts[len(insts)-1])
		for i, holdVia := range insts {
			resumeVia := insts[(i+1)%len(insts)]
			c.hold(holdVia, callID, app.Caller)
			c.hearsWithin(bc, holdHz, n.Name+": bob hears the hold tone")
			c.expectHeldInfo(resumeVia, callID, app.Caller)
			from := time.Now()
			time.Sleep(window)
			c.expectHeldAudio(bc, aliceHz, from, time.Now(), fmt.Sprintf("%s: held through %s", n.Name, holdVia))
			c.unhold(resumeVia, callID, app.Caller)
			c.hearsWithin(bc, aliceHz, n.Name+": bob hears alice again")
			t.Logf("%s: call %s held through %s, resumed through %s", n.Name, callID, holdVia, resumeVia)
		}
		// The callee holds too, and only the holder may resume (R1).
		c.hold(insts[0], callID, app.Callee)
		c.hearsWithin(ac, holdHz, n.Name+": alice hears the hold tone")
		if code, body, _, _ := c.api(insts[len(insts)-1], "POST", "/v1/calls/"+callID+"/unhold", `{"party":"caller"}`, nil); code != http.StatusConflict {
			t.Fatalf("%s: a resume by the party that does not hold: %d %s, want 409", n.Name, code, body)
		}
		c.unhold(insts[len(insts)-1], callID, app.Callee)
		c.hearsWithin(ac, bobHz, n.Name+": alice hears bob again")

		// Latency: a Local call held and resumed through each instance.
		local := c.localCall(insts[0], n.Name)
		for range 5 {
			for _, in := range insts {
				took := c.hold(in, local, app.Caller)
				c.unhold(in, local, app.Caller)
				clusterFigures.Lock()
				if in == owners[n.Name] {
					clusterFigures.ownerHold = append(clusterFigures.ownerHold, took)
				} else {
					clusterFigures.otherHold = append(clusterFigures.otherHold, took)
				}
				clusterFigures.Unlock()
			}
		}
		c.stillThere(insts, callID, local)
		c.hangup(insts[len(insts)-1], callID)
		c.hangup(insts[0], local)
		c.endPhones(ac, bc)
	}
	w.Stop()
	w.expectSingle()
	_, seqs := c.expectOneActor(start)
	for node, seq := range seqs {
		if len(seq) != 1 || seq[0] != owners[node] {
			t.Errorf("node %s: ARI requests from %v, want from its owner %s alone", node, seq, owners[node])
		}
	}
}

// killOwner kills a node's owner with held calls on the node, and
// measures the takeover. It returns the killed instance, started again
// and ready.
func (c *clusterLab) killOwner(node string, phone bool) string {
	c.t.Helper()
	x := c.owner(node, 60*time.Second)
	surv := c.survivors(x)
	// A held call whose holder must be preserved, and one the toggler holds
	// and resumes through a survivor while the takeover runs.
	held := c.localCall(surv[0], node)
	c.hold(surv[0], held, app.Callee)
	var callID string
	var ac, bc *sipphone.Call
	if phone {
		callID, ac, bc = c.sipCall(node, surv[0])
		c.hold(surv[len(surv)-1], callID, app.Caller)
		c.hearsWithin(bc, holdHz, node+": bob hears the hold tone")
	}
	toggled := c.localCall(surv[0], node)
	w := c.watchOwners(100 * time.Millisecond)
	tg := c.toggle(surv[len(surv)-1], toggled, 200*time.Millisecond)
	time.Sleep(time.Second)

	// From when docker kill returns, the signal delivered: a request
	// answered before that may have been the dying owner's.
	c.mustDocker("kill", "-s", "KILL", c.instance(x).Container)
	killed := time.Now()
	deadline := killed.Add(c.ttl + 30*time.Second)
	var y string
	var wsAt time.Time
	for {
		var ok bool
		if y, wsAt, ok = w.firstOwner(node, x, killed); ok {
			break
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("node %s: no instance took over within %v of killing its owner %s", node, deadline.Sub(killed), x)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var first toggle
	for {
		var ok bool
		if first, ok = tg.firstOK(killed); ok {
			break
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("node %s: no hold or resume answered through %s within %v of the kill", node, tg.inst, deadline.Sub(killed))
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second)
	tg.Stop()
	w.Stop()
	tg.account(killed, time.Now())
	wsTook, apiTook := wsAt.Sub(killed), first.at.Add(first.took).Sub(killed)
	c.t.Logf("node %s: owner %s killed; %s took over: its WebSocket after %v, a hold answered after %v (lease ttl %v)",
		node, x, y, wsTook.Round(time.Millisecond), apiTook.Round(time.Millisecond), c.ttl)
	clusterFigures.Lock()
	clusterFigures.takeoverWS = append(clusterFigures.takeoverWS, wsTook)
	clusterFigures.takeoverAPI = append(clusterFigures.takeoverAPI, apiTook)
	clusterFigures.Unlock()
	w.expectSingle()
	if s := c.expectOneActorSeq(killed.Add(-time.Second))[node]; len(s) < 2 || s[len(s)-2] != x || s[len(s)-1] != y {
		c.t.Errorf("node %s: ARI requests from %v in turn, want %s, then %s", node, s, x, y)
	}

	// The held calls are adopted as they were; the holders resume.
	c.expectHeldInfo(y, held, app.Callee)
	if phone {
		c.expectHeldInfo(y, callID, app.Caller)
		c.expectHeldAudio(bc, aliceHz, killed.Add(-500*time.Millisecond), time.Now(), node+": bob, held while its owner was killed")
	}
	c.stillThere(surv, held, toggled)
	c.unhold(surv[len(surv)-1], held, app.Callee)
	c.leaveLive(surv[0], toggled)
	if phone {
		c.unhold(surv[0], callID, app.Caller)
		c.hearsWithin(bc, aliceHz, node+": bob hears alice after the takeover")
		c.stillThere(surv, callID)
		c.hangup(surv[0], callID)
		c.endPhones(ac, bc)
	}
	c.hangup(surv[0], held)
	c.hangup(surv[len(surv)-1], toggled)

	c.mustDocker("start", c.instance(x).Container)
	c.waitReady(x, 60*time.Second)
	return x
}

// TestClusterKillOwner: kill -9 of the instance that owns a node with held
// calls: another takes the node over within the lease time, the held
// party keeps hearing the hold tone, who holds is preserved, and the
// holders resume through the survivors.
func TestClusterKillOwner(t *testing.T) {
	c := newClusterLab(t)
	c.requireCluster()
	c.settled(60 * time.Second)
	c.killOwner(c.topo.Nodes[0].Name, true)
	c.settled(c.ttl + 30*time.Second)
}

// TestClusterBench: ARIAPP_CLUSTER_BENCH kills of a node's owner in a row,
// alternating the nodes (lab/cluster.sh test: 10; lab/cluster.sh bench N):
// the takeover time's distribution.
func TestClusterBench(t *testing.T) {
	n, err := strconv.Atoi(os.Getenv("ARIAPP_CLUSTER_BENCH"))
	if err != nil || n < 1 {
		t.Skip("ARIAPP_CLUSTER_BENCH=N (lab/cluster.sh bench) runs N kills")
	}
	c := newClusterLab(t)
	c.requireCluster()
	c.settled(60 * time.Second)
	for i := range n {
		node := c.topo.Nodes[i%len(c.topo.Nodes)].Name
		c.killOwner(node, i%4 == 0)
		c.settled(c.ttl + 30*time.Second)
	}
	clusterFigures.Lock()
	defer clusterFigures.Unlock()
	t.Logf("%d kills here, %d in the run: takeover (WebSocket) %s; first answered hold %s", n, len(clusterFigures.takeoverWS),
		durations(clusterFigures.takeoverWS), durations(clusterFigures.takeoverAPI))
}

// TestClusterNATSCut: an owner cut off from NATS (its network
// disconnected, its ARI link intact) stops acting on its nodes before its
// lease expires; another instance takes over; at no sample do two
// instances hold a WebSocket to one node, and in the ARI request logs the
// old owner's last request comes before the new owner's first. Its held
// call is untouched throughout and resumes through the new owner.
func TestClusterNATSCut(t *testing.T) {
	c := newClusterLab(t)
	c.requireCluster()
	owners := c.settled(60 * time.Second)
	node := c.topo.Nodes[0].Name
	x := owners[node]
	callID, ac, bc := c.sipCall(node, x)
	c.hold(x, callID, app.Caller)
	c.hearsWithin(bc, holdHz, "bob hears the hold tone")

	w := c.watchOwners(100 * time.Millisecond)
	cut := time.Now()
	c.mustDocker("network", "disconnect", c.topo.NATS.Network, c.instance(x).Container)
	var reconnected time.Time
	reconnect := func() {
		if reconnected.IsZero() {
			reconnected = time.Now()
			c.mustDocker("network", "connect", "--ip", c.instance(x).NATSIP, c.topo.NATS.Network, c.instance(x).Container)
		}
	}
	t.Cleanup(reconnect)
	deadline := cut.Add(c.ttl + 30*time.Second)
	var y string
	var took time.Time
	for {
		var ok bool
		if y, took, ok = w.firstOwner(node, x, cut); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s: no instance took over within %v of cutting %s off NATS", node, deadline.Sub(cut), x)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second)
	gone := w.lastSeen(node, x)
	t.Logf("node %s: %s cut off NATS; its WebSocket last seen %v after the cut, %s's first seen %v after it (lease ttl %v)",
		node, x, gone.Sub(cut).Round(time.Millisecond), y, took.Sub(cut).Round(time.Millisecond), c.ttl)
	if gone.Sub(cut) >= c.ttl {
		t.Errorf("%s still had its WebSocket on %s %v after losing NATS: past the lease time %v", x, node, gone.Sub(cut), c.ttl)
	}
	if code, body, _, err := c.apiWithin(5*time.Second, x, "POST", "/v1/calls/"+callID+"/unhold", `{"party":"caller"}`, nil); code == http.StatusOK {
		t.Errorf("%s, cut off NATS, still resumed a call on %s: %s", x, node, body)
	} else {
		t.Logf("%s, cut off NATS, answers a resume on %s with %d %s (err %v)", x, node, code, strings.TrimSpace(body), err)
	}
	c.expectHeldInfo(y, callID, app.Caller)
	c.expectHeldAudio(bc, aliceHz, cut, time.Now(), "bob, held while the owner was cut off NATS")
	c.unhold(y, callID, app.Caller)
	c.hearsWithin(bc, aliceHz, "bob hears alice after the takeover")

	reconnect()
	c.waitReady(x, c.ttl+30*time.Second)
	time.Sleep(c.ttl)
	after := c.settled(c.ttl + 30*time.Second)
	w.Stop()
	w.expectSingle()
	t.Logf("after %s rejoined: owners %v", x, after)
	reqs, seq := c.expectOneActor(cut.Add(-time.Second))
	if s := seq[node]; len(s) < 2 || s[0] != x || s[1] != y {
		t.Errorf("node %s: ARI requests from %v in turn, want %s, then %s", node, s, x, y)
	}
	last := lastRequest(reqs, node, x, reconnected)
	t.Logf("%s's last ARI request to %s while cut off: %v after the cut", x, node, last.Sub(cut).Round(time.Millisecond))
	if last.Sub(cut) >= c.ttl {
		t.Errorf("%s, cut off NATS, issued a request to %s %v after the cut: past the lease time %v", x, node, last.Sub(cut), c.ttl)
	}
	c.stillThere(c.survivors(""), callID)
	c.hangup(x, callID)
	c.endPhones(ac, bc)
}

// TestClusterNATSRestart: NATS restarts while calls are held on both
// nodes: no call is lost, the holds stay, and ownership settles again to
// one instance per node.
func TestClusterNATSRestart(t *testing.T) {
	c := newClusterLab(t)
	c.requireCluster()
	c.settled(60 * time.Second)
	n1, n2 := c.topo.Nodes[0].Name, c.topo.Nodes[1].Name
	insts := c.survivors("")
	callID, ac, bc := c.sipCall(n1, insts[0])
	c.hold(insts[1], callID, app.Caller)
	c.hearsWithin(bc, holdHz, "bob hears the hold tone")
	local := c.localCall(insts[2%len(insts)], n2)
	c.hold(insts[0], local, app.Callee)

	w := c.watchOwners(250 * time.Millisecond)
	restarted := time.Now()
	c.mustDocker("restart", "-t", "5", c.topo.NATS.Container)
	for deadline := time.Now().Add(60 * time.Second); ; {
		if resp, err := c.hc.Get(c.topo.NATS.Monitor + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("NATS not healthy within 60 s of its restart")
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("NATS back after %v", time.Since(restarted).Round(time.Millisecond))
	time.Sleep(c.ttl)
	owners := c.settled(c.ttl + 60*time.Second)
	t.Logf("ownership settled %v after the restart: %v", time.Since(restarted).Round(time.Millisecond), owners)
	for _, in := range insts {
		c.waitReady(in, 30*time.Second)
		c.expectHeldInfo(in, callID, app.Caller)
		c.expectHeldInfo(in, local, app.Callee)
	}
	c.expectHeldAudio(bc, aliceHz, restarted, time.Now(), "bob, held while NATS restarted")
	c.stillThere(insts, callID, local)
	c.unhold(insts[2%len(insts)], callID, app.Caller)
	c.hearsWithin(bc, aliceHz, "bob hears alice after NATS restarted")
	c.unhold(insts[1], local, app.Callee)
	w.Stop()
	w.expectSingle()
	c.expectOneActorSeq(restarted)
	c.hangup(insts[0], callID)
	c.hangup(insts[1], local)
	c.endPhones(ac, bc)
}

// TestClusterNodeStopped: an Asterisk node is killed while calls run on
// both: only its calls end, each reported with a cause; the other node's
// calls go on (talking and holding, through any instance). The node comes
// back and takes calls again.
func TestClusterNodeStopped(t *testing.T) {
	c := newClusterLab(t)
	owners := c.settled(60 * time.Second)
	n1, n2 := c.topo.Nodes[0].Name, c.topo.Nodes[1].Name
	i1, i2 := c.serves(n1), c.serves(n2)
	callID, ac, bc := c.sipCall(n1, i1[0])
	held1 := c.localCall(i1[len(i1)-1], n1)
	c.hold(i1[0], held1, app.Caller)
	doomed := []string{c.localCall(i2[0], n2), c.localCall(i2[len(i2)-1], n2)}
	c.hold(i2[0], doomed[0], app.Caller)

	stopped := time.Now()
	c.mustDocker("kill", "-s", "KILL", c.node(n2).Container)
	// The other node's calls go on.
	time.Sleep(time.Second)
	from := time.Now()
	time.Sleep(window)
	c.expectTalking(ac, bc, from, time.Now())
	c.hold(i1[len(i1)-1], callID, app.Callee)
	c.hearsWithin(ac, holdHz, "alice hears the hold tone while the other node is down")
	c.unhold(i1[0], callID, app.Callee)
	c.hearsWithin(ac, bobHz, "alice hears bob again")
	c.expectHeldInfo(i1[0], held1, app.Caller)

	c.mustDocker("start", c.node(n2).Container)
	// Only the stopped node's calls end, each with a cause.
	watcher := i2[0]
	for _, id := range doomed {
		ev := c.waitEvent(watcher, id, 90*time.Second, func(ev app.Event) bool { return ev.Name == app.EventCallEnded })
		if ev.Reason == "" {
			t.Errorf("call %s on the stopped node ended without a cause", id)
		}
		t.Logf("call %s on %s ended %v after the node was killed: %q", id, n2, ev.Time.Sub(stopped).Round(time.Millisecond), ev.Reason)
	}
	for _, ev := range c.events[watcher].All() {
		if ev.Name == app.EventCallEnded && (ev.CallID == callID || ev.CallID == held1) {
			t.Errorf("call %s on %s ended when %s stopped: %q", ev.CallID, n1, n2, ev.Reason)
		}
	}
	c.stillThere(i1, callID, held1)

	// The node is back: its owner takes calls on it again.
	c.owner(n2, c.ttl+60*time.Second)
	again := c.localCall(i2[len(i2)-1], n2)
	c.hold(i2[0], again, app.Caller)
	c.unhold(i2[len(i2)-1], again, app.Caller)
	c.hangup(i2[0], again)
	c.unhold(i1[len(i1)-1], held1, app.Caller)
	c.hangup(i1[0], held1)
	c.hangup(i1[len(i1)-1], callID)
	c.endPhones(ac, bc)
	t.Logf("owners before: %v", owners)
}

// expectTalking checks that alice and bob hear each other in a window.
func (c *clusterLab) expectTalking(ac, bc *sipphone.Call, from, to time.Time) {
	c.t.Helper()
	if f := ac.Audio().Hears(from, to, bobHz); f < 0.8 {
		c.t.Errorf("alice hears bob in only %.0f%% of packets (%s)", 100*f, audio(ac, from, to))
	}
	if f := bc.Audio().Hears(from, to, aliceHz); f < 0.8 {
		c.t.Errorf("bob hears alice in only %.0f%% of packets (%s)", 100*f, audio(bc, from, to))
	}
}
