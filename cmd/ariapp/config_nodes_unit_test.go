package main

import (
	"strings"
	"testing"
	"time"
)

// TestLoadConfigNodes: the nodes list of the contract, each node's
// password from its own variable or the shared one, and the cluster keys
// from the file and the environment.
func TestLoadConfigNodes(t *testing.T) {
	t.Parallel()
	p := writeFile(t, `
ari:
  application: pbx
  username: shared
nodes:
  - name: ast1
    url: http://10.77.0.11:8088/ari
    username: ariapp
    tls: {ca_file: "", cert_file: "", key_file: "", server_name: ""}
  - name: ast-2
    url: http://10.77.0.12:8088/ari
cluster:
  nats_url: nats://10.77.0.2:4222
  instance: i1
  lease_ttl: 9s
`)
	cfg, err := loadConfig([]string{"--config", p}, env(map[string]string{
		"ARIAPP_NODES_AST1_PASSWORD":  "one",
		"ARIAPP_ARI_PASSWORD":         "shared-pw",
		"ARIAPP_CLUSTER_RENEW_EVERY":  "3s",
		"ARIAPP_NODES_AST_2_PASSWORD": "",
	}))
	if err != nil {
		t.Fatal(err)
	}
	nodes := cfg.nodes()
	if len(nodes) != 2 || !cfg.usesCluster() {
		t.Fatalf("nodes %+v, cluster %v", nodes, cfg.usesCluster())
	}
	for i, want := range []struct{ name, url, user, password string }{
		{"ast1", "http://10.77.0.11:8088/ari", "ariapp", "one"},
		{"ast-2", "http://10.77.0.12:8088/ari", "shared", "shared-pw"},
	} {
		n := nodes[i]
		if n.Name != want.name || n.URL != want.url || n.Username != want.user || n.Password.Reveal() != want.password {
			t.Errorf("node %d: %s %s %s %q, want %+v", i, n.Name, n.URL, n.Username, n.Password.Reveal(), want)
		}
		if ac := cfg.nodeClientConfig(n); ac.Application != "pbx" || ac.URL != want.url {
			t.Errorf("node %d's ARI config: application %q, url %q", i, ac.Application, ac.URL)
		}
	}
	cc := cfg.clusterConfig()
	if cc.NATSURL != "nats://10.77.0.2:4222" || cc.Instance != "i1" || cc.LeaseTTL != 9*time.Second || cc.RenewEvery != 3*time.Second ||
		strings.Join(cc.Nodes, ",") != "ast1,ast-2" || cc.Bucket != "ariapp-leases" {
		t.Errorf("cluster config %+v", cc)
	}
}

// TestLoadConfigNodesDefault: without a list the ari block is the one
// node, named ari.node, and nothing of the cluster is on.
func TestLoadConfigNodesDefault(t *testing.T) {
	t.Parallel()
	cfg, err := loadConfig([]string{"--ari-node", "pbx1"}, env(withPassword(nil)))
	if err != nil {
		t.Fatal(err)
	}
	nodes := cfg.nodes()
	if cfg.usesCluster() || len(nodes) != 1 || nodes[0].Name != "pbx1" || nodes[0].URL != cfg.ARI.URL || nodes[0].Password.Reveal() != testPassword {
		t.Errorf("cluster %v, nodes %+v", cfg.usesCluster(), nodes)
	}
}

// TestLoadConfigNodesErrors: every mistake in the list stops the start
// with a line that names it.
func TestLoadConfigNodesErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, file string
		env        map[string]string
		want       string
	}{
		{"no password", "nodes: [{name: ast1, url: 'http://a:8088/ari'}]", map[string]string{}, "export ARIAPP_NODES_AST1_PASSWORD"},
		{"bad name", "nodes: [{name: Ast_1, url: 'http://a:8088/ari'}]", withPassword(nil), `name "Ast_1"`},
		{"duplicate", "nodes: [{name: a, url: 'http://a:8088/ari'}, {name: a, url: 'http://b:8088/ari'}]", withPassword(nil), `"a" appears twice`},
		{"unknown key", "nodes: [{name: a, url: 'http://a:8088/ari', pasword: x}]", withPassword(nil), `unknown key "pasword"`},
		{"no url", "nodes: [{name: a}]", withPassword(nil), "node a:"},
		{"tls beside http", "nodes: [{name: a, url: 'http://a:8088/ari', tls: {server_name: x}}]", withPassword(nil), "not https://"},
		{"not a list", "nodes: {name: a}", withPassword(nil), "want a list"},
		{"renew too slow", "cluster: {lease_ttl: 4s, renew_every: 2s}", withPassword(nil), "cluster.renew_every"},
		{"bad ari.node", "ari: {node: 'A B'}", withPassword(nil), "ari.node"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := loadConfig([]string{"--config", writeFile(t, tc.file)}, env(tc.env))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
