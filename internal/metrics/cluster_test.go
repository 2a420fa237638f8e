package metrics_test

import (
	"strings"
	"testing"

	"github.com/ariapp/ariapp/internal/metrics"
)

// TestWatchCluster: the per-node and forwarding families read their
// sources at each scrape, one series per node.
func TestWatchCluster(t *testing.T) {
	m := metrics.New("test")
	nodes := []metrics.NodeState{
		{Name: "ast1", Local: true, ARIConnected: true, Synced: true, Calls: 3, LeasesAcquired: 2, LeasesLost: 1},
		{Name: "ast2", ARIConnected: true, Calls: 7, LeasesReleased: 4},
	}
	err := m.WatchCluster(metrics.ClusterSources{
		Nodes:         func() []metrics.NodeState { return nodes },
		NATSConnected: func() bool { return true },
		Forwarding:    func() metrics.ForwardState { return metrics.ForwardState{Answered: 5, NoOwner: 1, Served: 9} },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.WatchCluster(metrics.ClusterSources{}); err == nil {
		t.Error("a second WatchCluster was accepted")
	}
	out := string(scrape(t, m))
	for _, want := range []string{
		`ariapp_node_local{node="ast1"} 1`,
		`ariapp_node_local{node="ast2"} 0`,
		`ariapp_node_ari_websocket_up{node="ast2"} 0`, // not local: its connection is not this instance's
		`ariapp_node_synced{node="ast1"} 1`,
		`ariapp_node_calls_active{node="ast2"} 7`,
		`ariapp_node_lease_changes_total{change="lost",node="ast1"} 1`,
		`ariapp_node_lease_changes_total{change="released",node="ast2"} 4`,
		`ariapp_nats_connected 1`,
		`ariapp_forwarded_requests_total{result="answered"} 5`,
		`ariapp_forwarded_requests_total{result="no_owner"} 1`,
		`ariapp_forwarded_requests_served_total 9`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("scrape lacks %s", want)
		}
	}
}
