package metrics

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// NodeState is one Asterisk node as this instance sees it.
type NodeState struct {
	Name string
	// Local: the node runs on this instance.
	Local, ARIConnected, Synced bool
	// Calls are its live calls, when it runs here.
	Calls int
	// Lease counters of this instance for the node.
	LeasesAcquired, LeasesLost, LeasesReleased uint64
}

// ForwardState counts the requests forwarded between instances.
type ForwardState struct {
	Answered, NoOwner, Failed, Served  uint64
	EventsRelayed, EventsPublishFailed uint64
}

// ClusterSources are the cluster's figures, read at every scrape; a nil
// field leaves its families out.
type ClusterSources struct {
	Nodes         func() []NodeState
	NATSConnected func() bool
	Forwarding    func() ForwardState
}

var (
	descNodeLocal     = desc("node_local", "1 while the node runs on this instance (without NATS: always once started; with NATS: while this instance holds its lease), else 0.", "node")
	descNodeUp        = desc("node_ari_websocket_up", "1 while the node runs here and its ARI event WebSocket is connected, else 0.", "node")
	descNodeSynced    = desc("node_synced", "1 while the node runs here and its calls are reconciled with Asterisk, else 0.", "node")
	descNodeCalls     = desc("node_calls_active", "Live calls of the node, when it runs here.", "node")
	descNodeLeases    = desc("node_lease_changes_total", "Changes of this instance's hold on a node's lease, by change (acquired; lost: not renewed in time or taken, the node stopped here at once; released: given up).", "node", "change")
	descNATSUp        = desc("nats_connected", "1 while the NATS connection is up, else 0.")
	descForwarded     = desc("forwarded_requests_total", "API requests for another instance's node, by result (answered: the owner answered; no_owner: no instance ran the node within the timeout; failed: lost on the way).", "result")
	descServed        = desc("forwarded_requests_served_total", "API requests other instances forwarded to this one.")
	descRelayed       = desc("relayed_events_total", "Call events of other instances' nodes received for this instance's event streams.")
	descRelayFailed   = desc("relay_publish_failed_total", "Call events of this instance's nodes that NATS did not take for the other instances.")
	errClusterWatched = errors.New("metrics: cluster sources are already watched")
)

// WatchCluster adds the cluster's families. It may be called once.
func (m *Metrics) WatchCluster(src ClusterSources) error {
	err := errClusterWatched
	m.clusterOnce.Do(func() { err = m.reg.Register(&clusterCollector{src: src}) })
	return err
}

type clusterCollector struct{ src ClusterSources }

func (c *clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	if c.src.Nodes != nil {
		for _, d := range []*prometheus.Desc{descNodeLocal, descNodeUp, descNodeSynced, descNodeCalls, descNodeLeases} {
			ch <- d
		}
	}
	if c.src.NATSConnected != nil {
		ch <- descNATSUp
	}
	if c.src.Forwarding != nil {
		for _, d := range []*prometheus.Desc{descForwarded, descServed, descRelayed, descRelayFailed} {
			ch <- d
		}
	}
}

func (c *clusterCollector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	if c.src.Nodes != nil {
		for _, n := range c.src.Nodes() {
			gauge(descNodeLocal, boolValue(n.Local), n.Name)
			gauge(descNodeUp, boolValue(n.Local && n.ARIConnected), n.Name)
			gauge(descNodeSynced, boolValue(n.Local && n.Synced), n.Name)
			gauge(descNodeCalls, float64(n.Calls), n.Name)
			counter(descNodeLeases, n.LeasesAcquired, n.Name, "acquired")
			counter(descNodeLeases, n.LeasesLost, n.Name, "lost")
			counter(descNodeLeases, n.LeasesReleased, n.Name, "released")
		}
	}
	if c.src.NATSConnected != nil {
		gauge(descNATSUp, boolValue(c.src.NATSConnected()))
	}
	if c.src.Forwarding != nil {
		f := c.src.Forwarding()
		counter(descForwarded, f.Answered, "answered")
		counter(descForwarded, f.NoOwner, "no_owner")
		counter(descForwarded, f.Failed, "failed")
		counter(descServed, f.Served)
		counter(descRelayed, f.EventsRelayed)
		counter(descRelayFailed, f.EventsPublishFailed)
	}
}
