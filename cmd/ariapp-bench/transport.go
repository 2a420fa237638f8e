package main

import (
	"net/http"
	"strings"
	"sync"
)

// countingTransport counts the ARI requests a client sends, by method and
// resource kind (e.g. "POST /channels/{id}/variable"), so a report can show
// how many requests a hold or a resume costs Asterisk in each mode.
type countingTransport struct {
	next http.RoundTripper
	mu   sync.Mutex
	n    map[string]int
}

func newCountingTransport(next http.RoundTripper) *countingTransport {
	return &countingTransport{next: next, n: map[string]int{}}
}

// RoundTrip implements http.RoundTripper.
func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	key := r.Method + " " + pathShape(r.URL.Path)
	t.mu.Lock()
	t.n[key]++
	t.mu.Unlock()
	return t.next.RoundTrip(r)
}

// CloseIdleConnections closes the wrapped transport's idle connections: a
// driver that stops must not leave its connections (and their goroutines
// and buffers) to the memory figures of the next mode.
func (t *countingTransport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// snapshot returns the counts so far.
func (t *countingTransport) snapshot() map[string]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]int, len(t.n))
	for k, v := range t.n {
		out[k] = v
	}
	return out
}

// pathShape replaces the ids of an ARI path by {id}:
// /ari/bridges/X/addChannel becomes /bridges/{id}/addChannel.
func pathShape(p string) string {
	if i := strings.Index(p, "/ari/"); i >= 0 {
		p = p[i+len("/ari"):]
	}
	parts := strings.Split(strings.Trim(p, "/"), "/")
	for i := range parts {
		if i%2 == 1 && parts[0] != "asterisk" {
			parts[i] = "{id}"
		}
	}
	return "/" + strings.Join(parts, "/")
}

// diffCounts returns b − a per key, without zero entries.
func diffCounts(a, b map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range b {
		if d := v - a[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}
