package cluster_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/ariapp/ariapp/api"
	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/cluster"
	"github.com/ariapp/ariapp/internal/labtest"
)

// labOpener runs each node's App on the lab Asterisk with the node's ARI
// config: every node its own Stasis application (the lab has one Asterisk;
// a real cluster has one per node, all with the same application).
func labOpener(cfgs map[string]ari.Config, order []string) opener {
	return func(in *instance, router *cluster.Router, log *zap.Logger) cluster.Opener {
		return func(ctx context.Context, node string) (*cluster.Member, error) {
			cfg := cfgs[node]
			var a *app.App
			cfg.OnRequest = func(r *ari.Request) {
				if a != nil {
					a.RecordRequest(r)
				}
			}
			client, err := ari.New(cfg)
			if err != nil {
				return nil, err
			}
			a, err = app.New(app.Config{Node: node, CallIDPrefix: cluster.CallIDPrefix(len(order), node), OnEvent: router.OnEvent(node),
				AnswerTimeout: 5 * time.Second}, client, log.With(zap.String("node", node)))
			if err != nil {
				client.Close()
				return nil, err
			}
			if err := client.Connect(ctx); err != nil {
				a.Close()
				client.Close()
				return nil, err
			}
			a.Start(client.Events())
			in.record(in.opened, node)
			return &cluster.Member{
				App:   a,
				Fence: func() { client.Close(); in.record(in.fenced, node) },
				Stop:  func(bool) { a.Close(); client.Close() },
			}, nil
		}
	}
}

// labCall places a call through in's API on node and waits until it is
// answered.
func labCall(t *testing.T, in *instance, node string) app.CallInfo {
	t.Helper()
	var info app.CallInfo
	path := "/v1/calls"
	if node != "" {
		path += "?node=" + node
	}
	if code, _ := in.do("POST", path, `{"from":"Local/talk@`+labtest.TestContext+`","to":"Local/talk@`+labtest.TestContext+`"}`, &info); code != http.StatusCreated {
		t.Fatalf("originate on %q: %d", node, code)
	}
	waitFor(t, 10*time.Second, "call "+info.CallID+" answered", func() bool {
		var ci app.CallInfo
		code, _ := in.do("GET", "/v1/calls/"+info.CallID, "", &ci)
		return code == 200 && ci.State == app.CallAnswered
	})
	return info
}

func labHold(t *testing.T, in *instance, callID, op, party string, want int) app.CallInfo {
	t.Helper()
	var ci app.CallInfo
	if code, _ := in.do("POST", "/v1/calls/"+callID+"/"+op, `{"party":"`+party+`"}`, &ci); code != want {
		t.Fatalf("%s %s by %s: %d, want %d", op, callID, party, code, want)
	}
	return ci
}

// TestLabTwoNodes: two nodes in one instance without NATS, on the
// lab Asterisk: call ids carry the node, the list covers both nodes, and a
// node whose ARI connection is cut affects only its own calls.
func TestLabTwoNodes(t *testing.T) {
	cfg1 := labtest.Require(t)
	cfg2 := labtest.Config(t)
	proxy := labtest.NewProxy(t, strings.TrimSuffix(strings.TrimPrefix(cfg2.URL, "http://"), "/ari"))
	cfg2.URL = "http://" + proxy.Addr() + "/ari"
	cfg2.ReconnectMax = 200 * time.Millisecond
	order := []string{"n1", "n2"}
	in := newInstanceWith(t, "solo", "", order, labOpener(map[string]ari.Config{"n1": cfg1, "n2": cfg2}, order))
	waitFor(t, 15*time.Second, "both nodes run", func() bool { return in.owns("n1") && in.owns("n2") })

	c1 := labCall(t, in, "n1")
	c2 := labCall(t, in, "n2")
	defer func() {
		for _, id := range []string{c1.CallID, c2.CallID} {
			_, _ = in.router.Hangup(context.Background(), id)
		}
		check, err := ari.New(cfg1)
		if err != nil {
			t.Fatal(err)
		}
		defer check.Close()
		labtest.ExpectNothingLeft(t, check, []string{c1.Caller.ChannelID, c1.Callee.ChannelID, c2.Caller.ChannelID, c2.Callee.ChannelID},
			[]string{c1.CallID + "-bridge", c2.CallID + "-bridge"})
	}()
	for _, c := range []struct {
		info app.CallInfo
		node string
	}{{c1, "n1"}, {c2, "n2"}} {
		if c.info.Node != c.node || !strings.HasPrefix(c.info.CallID, c.node+"-") {
			t.Errorf("call %q on node %q, want an id of and on %s", c.info.CallID, c.info.Node, c.node)
		}
	}
	var list struct{ Calls []app.CallInfo }
	if in.do("GET", "/v1/calls", "", &list); len(list.Calls) != 2 {
		t.Fatalf("listed %d calls, want 2", len(list.Calls))
	}
	labHold(t, in, c1.CallID, "hold", "caller", 200)
	labHold(t, in, c2.CallID, "hold", "caller", 200)

	// n2 goes away: its calls cannot be operated, n1's go on.
	proxy.Cut(true)
	waitFor(t, 10*time.Second, "n2 noticed the cut", func() bool { return !in.router.Local("n2").Synced() })
	var e api.ErrorBody
	if code, _ := in.do("POST", "/v1/calls/"+c2.CallID+"/unhold", `{"party":"caller"}`, &e); code != http.StatusServiceUnavailable {
		t.Errorf("resume on the cut node: %d, want 503", code)
	}
	labHold(t, in, c1.CallID, "unhold", "caller", 200)
	labHold(t, in, c1.CallID, "hold", "callee", 200)

	// n2 comes back: its held call is still held, and resumes.
	proxy.Restore()
	waitFor(t, 15*time.Second, "n2 reconciled again", func() bool { return in.router.Local("n2").Synced() })
	ci, err := in.router.Call(c2.CallID)
	if err != nil || len(ci.Holders) != 1 || ci.Holders[0] != app.Caller || !ci.Callee.OnHoldMusic {
		t.Fatalf("n2's call after its reconnect: %+v, %v; want the caller holding, the callee hearing music", ci, err)
	}
	labHold(t, in, c2.CallID, "unhold", "caller", 200)
	labHold(t, in, c1.CallID, "unhold", "callee", 200)
}

// TestLabTakeover: two instances on NATS share one lab node; a call
// placed and held through the instance that does not own the node is
// adopted, still held with its music playing in Asterisk, by that instance
// when the owner is cut off from NATS, and the holder resumes through it.
func TestLabTakeover(t *testing.T) {
	cfg := labtest.Require(t)
	ns := startNATS(t)
	order := []string{"ast"}
	mk := labOpener(map[string]ari.Config{"ast": cfg}, order)
	a := newInstanceWith(t, "a", ns.ClientURL(), order, mk)
	waitFor(t, 15*time.Second, "a runs the node", func() bool { return a.owns("ast") })
	b := newInstanceWith(t, "b", ns.ClientURL(), order, mk)

	c := labCall(t, b, "")
	check, err := ari.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer check.Close()
	defer func() {
		_, _ = b.router.Hangup(context.Background(), c.CallID)
		labtest.ExpectNothingLeft(t, check, []string{c.Caller.ChannelID, c.Callee.ChannelID}, []string{c.CallID + "-bridge"})
	}()
	labHold(t, b, c.CallID, "hold", "callee", 200)

	cut := time.Now()
	a.nc.Close()
	waitFor(t, 15*time.Second, "b runs the node", func() bool { return b.owns("ast") })
	t.Logf("b took the node over %v after the owner was cut off", time.Since(cut))
	// Adopted from what Asterisk has: the caller's hold music kept playing.
	ci, err := b.router.Call(c.CallID)
	if err != nil || len(ci.Holders) != 1 || ci.Holders[0] != app.Callee || !ci.Caller.OnHoldMusic {
		t.Fatalf("adopted call: %+v, %v; want the callee holding, the caller hearing music", ci, err)
	}
	if ci = labHold(t, b, c.CallID, "unhold", "callee", 200); len(ci.Holders) != 0 {
		t.Fatalf("after the resume: holders %v", ci.Holders)
	}
	a.mu.Lock()
	fenced := append([]time.Time(nil), a.fenced["ast"]...)
	a.mu.Unlock()
	b.mu.Lock()
	opened := append([]time.Time(nil), b.opened["ast"]...)
	b.mu.Unlock()
	if len(fenced) != 1 || len(opened) != 1 || !fenced[0].Before(opened[0]) {
		t.Fatalf("a fenced at %v, b opened at %v: want a to stop first", fenced, opened)
	}
	labHold(t, b, c.CallID, "hold", "caller", 200)
	labHold(t, b, c.CallID, "unhold", "caller", 200)
}
