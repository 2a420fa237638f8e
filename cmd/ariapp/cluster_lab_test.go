package main

import (
	"context"
	"encoding/json"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/internal/labtest"
)

// clusterStats is what the test reads of GET /v1/stats.
type clusterStats struct {
	Instance string `json:"instance"`
	Nodes    []struct {
		Name   string `json:"name"`
		Local  bool   `json:"local"`
		Synced bool   `json:"synced"`
		Owner  string `json:"owner"`
	} `json:"nodes"`
}

// runsNode reports whether p runs the one node with its calls adopted.
func (p *proc) runsNode() bool {
	var st clusterStats
	if code := p.do("GET", "/v1/stats", "", &st); code != 200 || len(st.Nodes) != 1 {
		return false
	}
	return st.Nodes[0].Local && st.Nodes[0].Synced
}

// TestLabClusterKill: two ariapp processes share the lab Asterisk through
// a NATS server; calls placed and held through the one that does not own
// the node are served by the owner; after kill -9 of the owner the other
// takes the node over within the lease time and adopts the held call, and
// the holder resumes through it.
func TestLabClusterKill(t *testing.T) {
	cfg := labtest.Require(t)
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	clusterEnv := func(name string) []string {
		return []string{"ARIAPP_CLUSTER_NATS_URL=" + ns.ClientURL(), "ARIAPP_CLUSTER_INSTANCE=" + name,
			"ARIAPP_CLUSTER_LEASE_TTL=2s", "ARIAPP_CLUSTER_RENEW_EVERY=500ms"}
	}
	a := startAriapp(t, cfg, freePort(t), clusterEnv("a")...)
	waitUntil(t, 10*time.Second, "a runs the node", a.runsNode)
	b := startAriapp(t, cfg, freePort(t), clusterEnv("b")...)

	var info app.CallInfo
	if code := b.do("POST", "/v1/calls", `{"from":"Local/talk@ariapp-test","to":"Local/talk@ariapp-test"}`, &info); code != 201 {
		t.Fatalf("originate through b: %d\n%s", code, b.stderr.String())
	}
	check, err := ari.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer check.Close()
	defer func() {
		// Whatever failed, nothing stays in Asterisk.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, id := range []string{info.Caller.ChannelID, info.Callee.ChannelID} {
			_ = check.Hangup(ctx, id, ari.HangupNormal)
		}
		_ = check.DestroyBridge(ctx, info.CallID+"-bridge")
		labtest.ExpectNothingLeft(t, check, []string{info.Caller.ChannelID, info.Callee.ChannelID}, []string{info.CallID + "-bridge"})
	}()
	b.waitAnswered(info.CallID)
	if code := b.do("POST", "/v1/calls/"+info.CallID+"/hold", `{"party":"callee"}`, &info); code != 200 {
		t.Fatalf("hold through b: %d", code)
	}

	killed := time.Now()
	_ = a.signal(syscall.SIGKILL, 5*time.Second)
	waitUntil(t, 15*time.Second, "b runs the node", b.runsNode)
	took := time.Since(killed)
	t.Logf("takeover %v after kill -9 (lease 2s)", took)
	// Loose: a busy machine delays the processes, not the lease.
	if took > 2*2*time.Second+5*time.Second {
		t.Errorf("takeover took %v, far more than the lease time", took)
	}
	ci := b.call(info.CallID)
	if len(ci.Holders) != 1 || ci.Holders[0] != app.Callee || !ci.Caller.OnHoldMusic {
		data, _ := json.Marshal(ci)
		t.Fatalf("adopted call %s: want the callee holding, the caller on its music", data)
	}
	if code := b.do("POST", "/v1/calls/"+info.CallID+"/unhold", `{"party":"callee"}`, &ci); code != 200 || len(ci.Holders) != 0 {
		t.Fatalf("resume through b after the takeover: %d, holders %v", code, ci.Holders)
	}
	if code := b.do("DELETE", "/v1/calls/"+info.CallID, "", nil); code != 200 {
		t.Errorf("hangup: %d", code)
	}
	if err := b.signal(syscall.SIGTERM, 15*time.Second); err != nil {
		t.Errorf("b's stop: %v\n%s", err, b.stderr.String())
	}
}

// waitUntil polls cond until it holds or timeout passes.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
