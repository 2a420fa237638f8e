package e2e

import (
	"slices"
	"testing"
	"time"
)

// The cluster scenarios' own checks (cluster_helpers_test.go) on made-up
// input, without a cluster: each can fail.

func TestSessionsParsedByInstanceAddress(t *testing.T) {
	c := &clusterLab{topo: clusterTopology{Instances: []clusterInstance{
		{Name: "a1", ARIIP: "10.214.14.21", NATSIP: "10.214.15.21"},
		{Name: "a2", ARIIP: "10.214.14.22", NATSIP: "10.214.15.22"},
	}}}
	const head = "Connection ID                         Type            RemoteAddr                       State Apps\n" +
		"------------------------------------- --------------- -------------------------------- ----- ----------------\n"
	for _, tc := range []struct {
		name, out string
		want      []string
	}{
		{"none", head, nil},
		{"one", head + "fbc1fbd1-fc74-43d2-b168-3e369f95d6b6  inbound         10.214.14.21:50650               Up    ariapp\n", []string{"a1"}},
		{"two", head + "x  inbound  10.214.14.22:40000  Up  ariapp\ny  inbound  10.214.14.21:50650  Up  ariapp\n", []string{"a1", "a2"}},
		{"not an instance", head + "x  inbound  10.214.14.1:40000  Up  ariapp\n", nil},
		{"a prefix of an address", head + "x  inbound  10.214.14.211:40000  Up  ariapp\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.parseSessions(tc.out); !slices.Equal(got, tc.want) {
				t.Fatalf("parseSessions: %v, want %v", got, tc.want)
			}
		})
	}
}

func TestActorTurnsRefuseTwoInstancesAtOnce(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	req := func(ms int, inst, node string) ariRequest {
		return ariRequest{at: at(ms), instance: inst, node: node, method: "GET", route: "/channels"}
	}
	const ttl = 6 * time.Second
	for _, tc := range []struct {
		name    string
		reqs    []ariRequest
		turns   []string // of ast1
		badRule int
	}{
		{"one owner", []ariRequest{req(0, "a1", "ast1"), req(100, "a1", "ast1")}, []string{"a1"}, 0},
		{"a handover", []ariRequest{req(0, "a1", "ast1"), req(7000, "a2", "ast1"), req(7100, "a2", "ast1")}, []string{"a1", "a2"}, 0},
		{"two at once", []ariRequest{req(0, "a1", "ast1"), req(100, "a2", "ast1"), req(200, "a1", "ast1"), req(300, "a2", "ast1")}, []string{"a1", "a2", "a1", "a2"}, 2},
		{"back after a lease time", []ariRequest{req(0, "a1", "ast1"), req(7000, "a2", "ast1"), req(14000, "a1", "ast1")}, []string{"a1", "a2", "a1"}, 0},
		{"nodes apart", []ariRequest{req(0, "a1", "ast1"), req(50, "a2", "ast2"), req(100, "a1", "ast1")}, []string{"a1"}, 0},
		{"no node", []ariRequest{req(0, "a1", "")}, nil, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seq, bad := actorTurns(tc.reqs, ttl)
			if !slices.Equal(seq["ast1"], tc.turns) || len(bad) != tc.badRule {
				t.Fatalf("turns %v and %d broken rules %q; want %v and %d", seq["ast1"], len(bad), bad, tc.turns, tc.badRule)
			}
		})
	}
}
