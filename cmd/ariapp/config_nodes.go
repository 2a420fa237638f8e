package main

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/ariapp/ariapp/app"
)

// nodesKey is the config file's list of Asterisk nodes. It is the one key
// that is not in the key table: a list of entries has no environment
// variable or flag. Each entry's password comes from the environment
// (nodePasswordEnv).
const nodesKey = "nodes"

// nodeFields are the keys of one entry of the nodes list.
var nodeFields = map[string]bool{"name": true, "url": true, "username": true, "tls": true}

// tlsFields are the keys of an entry's tls section.
var tlsFields = map[string]bool{"ca_file": true, "cert_file": true, "key_file": true, "server_name": true}

// loadNodes fills c.Nodes: from the nodes list of the config file, or
// else the ari block as the one node named ari.node.
func (l *loader) loadNodes(c *Config) {
	raw := l.v.Get(nodesKey)
	if raw == nil || !l.inFileList() {
		if !app.ValidNodeName(c.ARINode) {
			l.fail("ari.node", "%q: want lower-case letters, digits and '-'", c.ARINode)
		}
		return
	}
	c.NodesListed = true
	list, ok := raw.([]any)
	if !ok || len(list) == 0 {
		l.failNodes("want a list of nodes (name, url, username, tls), got %T", raw)
		return
	}
	seen := map[string]bool{}
	for i, it := range list {
		m, ok := it.(map[string]any)
		if !ok {
			l.failNodes("entry %d: want a mapping (name, url, username, tls), got %T", i+1, it)
			continue
		}
		n, err := l.node(c, m)
		switch {
		case err != nil:
			l.failNodes("entry %d: %v", i+1, err)
			continue
		case seen[n.Name]:
			l.failNodes("entry %d: name %q appears twice", i+1, n.Name)
			continue
		}
		seen[n.Name] = true
		c.Nodes = append(c.Nodes, n)
	}
}

// inFileList reports whether the nodes list came from the config file
// (the only place it may come from).
func (l *loader) inFileList() bool { return l.file != "" && l.v.InConfig(nodesKey) }

func (l *loader) failNodes(format string, args ...any) {
	l.errs = append(l.errs, keyError{nodesKey, fmt.Sprintf("%s: %s (from config file %s)", nodesKey, fmt.Sprintf(format, args...), l.file)})
}

// node reads one entry of the nodes list.
func (l *loader) node(c *Config, m map[string]any) (NodeConfig, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !nodeFields[strings.ToLower(k)] {
			return NodeConfig{}, fmt.Errorf("unknown key %q (want name, url, username, tls)", k)
		}
	}
	str := func(m map[string]any, k string) (string, error) {
		switch v := m[k].(type) {
		case nil:
			return "", nil
		case string:
			return strings.TrimSpace(v), nil
		default:
			return "", fmt.Errorf("%s: want a string, got %T", k, v)
		}
	}
	var n NodeConfig
	var err error
	if n.Name, err = str(m, "name"); err != nil {
		return n, err
	}
	if !app.ValidNodeName(n.Name) {
		return n, fmt.Errorf("name %q: want lower-case letters, digits and '-'", n.Name)
	}
	if n.URL, err = str(m, "url"); err != nil {
		return n, fmt.Errorf("node %s: %w", n.Name, err)
	}
	if n.Username, err = str(m, "username"); err != nil {
		return n, fmt.Errorf("node %s: %w", n.Name, err)
	}
	if n.Username == "" {
		n.Username = c.ARI.Username
	}
	if t, ok := m["tls"]; ok && t != nil {
		tm, ok := t.(map[string]any)
		if !ok {
			return n, fmt.Errorf("node %s: tls: want a mapping, got %T", n.Name, t)
		}
		for k := range tm {
			if !tlsFields[strings.ToLower(k)] {
				return n, fmt.Errorf("node %s: tls: unknown key %q (want ca_file, cert_file, key_file, server_name)", n.Name, k)
			}
		}
		for _, f := range []struct {
			k string
			p *string
		}{{"ca_file", &n.TLS.CAFile}, {"cert_file", &n.TLS.CertFile}, {"key_file", &n.TLS.KeyFile}, {"server_name", &n.TLS.ServerName}} {
			if *f.p, err = str(tm, f.k); err != nil {
				return n, fmt.Errorf("node %s: tls: %w", n.Name, err)
			}
		}
	}
	env := nodePasswordEnv(n.Name)
	if v, ok := l.lookupEnv(env); ok && v != "" {
		n.Password = Secret(v)
	} else {
		n.Password = c.ARIPassword
	}
	if !n.Password.IsSet() {
		return n, fmt.Errorf("node %s: no password; export %s (or %s for every node)", n.Name, env, passwordEnv)
	}
	https := strings.HasPrefix(n.URL, "https://")
	if field := n.TLS.firstSet(); field != "" && !https {
		return n, fmt.Errorf("node %s: tls is set, but url %q is not https://", n.Name, n.URL)
	}
	if (n.TLS.CertFile == "") != (n.TLS.KeyFile == "") {
		return n, fmt.Errorf("node %s: tls: cert_file and key_file go together", n.Name)
	}
	if https {
		if n.tls, err = n.TLS.load(); err != nil {
			return n, fmt.Errorf("node %s: tls: %v", n.Name, err)
		}
	}
	if err := c.nodeClientConfig(n).Validate(); err != nil {
		return n, fmt.Errorf("node %s: %v", n.Name, err)
	}
	return n, nil
}

// loadCluster checks the cluster's settings.
func (l *loader) loadCluster(paths map[string]string, c *Config) {
	if c.NodesListed && len(c.Nodes) == 0 {
		return // reported by loadNodes
	}
	cc := c.clusterConfig()
	err := cc.Validate()
	if err == nil {
		return
	}
	l.fieldErrors(paths, "Cluster.", err)
}

// usesCluster reports whether ariapp runs as a cluster member (a nodes
// list or NATS) rather than the single node of the ari block.
func (c Config) usesCluster() bool { return c.NodesListed || c.Cluster.NATSURL != "" }

// nodes are the Asterisk nodes: the nodes list, or the ari block as the
// one node named ari.node.
func (c Config) nodes() []NodeConfig {
	if c.NodesListed {
		return c.Nodes
	}
	return []NodeConfig{{Name: c.ARINode, URL: c.ARI.URL, Username: c.ARI.Username, TLS: c.ARITLS, Password: c.ARIPassword, tls: c.ARI.TLS}}
}

// instanceName is cluster.instance, or the host name.
func (c Config) instanceName() string {
	if c.Cluster.Instance != "" {
		return c.Cluster.Instance
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		return "ariapp"
	}
	return host
}

// nodeByName returns the node named name.
func (c Config) nodeByName(name string) (NodeConfig, bool) {
	for _, n := range c.nodes() {
		if n.Name == name {
			return n, true
		}
	}
	return NodeConfig{}, false
}
