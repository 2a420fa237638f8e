package cluster

import (
	"time"

	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/internal/confcheck"
)

// Config configures a cluster; see WithDefaults and Validate.
type Config struct {
	// Nodes names the Asterisk nodes, each app.ValidNodeName, at least one.
	Nodes []string
	// Instance names this instance (in leases, forwarded requests, logs).
	Instance string
	// NATSURL is the NATS server ("" = no NATS: this instance runs every
	// node).
	NATSURL string
	// Bucket is the JetStream key-value bucket of the leases (default
	// DefaultBucket); it also scopes the NATS subjects, so that two
	// clusters may share one NATS.
	Bucket string
	// LeaseTTL is how long a lease lasts without renewal (default 6 s).
	LeaseTTL time.Duration
	// RenewEvery is the renewal interval (default 2 s), below LeaseTTL/2.
	// An owner whose last successful renewal is LeaseTTL-RenewEvery old
	// stops acting on the node: RenewEvery is the fencing margin.
	RenewEvery time.Duration
	// ForwardTimeout bounds a request forwarded to another instance,
	// including the wait for a node whose lease is moving (default 35 s:
	// the API's operation timeout and some).
	ForwardTimeout time.Duration
	// SubscriberBuffer is each event subscriber's buffer
	// (app.Config.SubscriberBuffer).
	SubscriberBuffer int
}

// Defaults of the zero Config fields, as WithDefaults fills them in.
const (
	DefaultBucket         = "ariapp-leases"
	DefaultLeaseTTL       = 6 * time.Second
	DefaultRenewEvery     = 2 * time.Second
	DefaultForwardTimeout = 35 * time.Second
)

// MinLeaseTTL is the shortest lease: below it a busy machine could not
// renew in time.
const MinLeaseTTL = 500 * time.Millisecond

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Bucket == "" {
		c.Bucket = DefaultBucket
	}
	confcheck.Default(&c.LeaseTTL, DefaultLeaseTTL)
	confcheck.Default(&c.RenewEvery, DefaultRenewEvery)
	confcheck.Default(&c.ForwardTimeout, DefaultForwardTimeout)
	confcheck.Default(&c.SubscriberBuffer, app.DefaultSubscriberBuffer)
	return c
}

// Validate reports every field of c that a cluster cannot work with, each
// as a confcheck.FieldError.
func (c Config) Validate() error {
	ck := confcheck.New("cluster", nil)
	if len(c.Nodes) == 0 {
		ck.Fail("Nodes", "at least one node is required")
	}
	seen := map[string]bool{}
	for _, n := range c.Nodes {
		switch {
		case !app.ValidNodeName(n):
			ck.Fail("Nodes", "%q: want lower-case letters, digits and '-'", n)
		case seen[n]:
			ck.Fail("Nodes", "%q appears twice", n)
		}
		seen[n] = true
	}
	if c.Instance == "" {
		ck.Fail("Instance", "must not be empty")
	}
	if !validToken(c.Bucket) {
		ck.Fail("Bucket", "%q: want letters, digits, '-' and '_'", c.Bucket)
	}
	ck.AtLeast("LeaseTTL", c.LeaseTTL, MinLeaseTTL)
	ck.Positive("RenewEvery", c.RenewEvery)
	if c.RenewEvery > 0 && 2*c.RenewEvery >= c.LeaseTTL {
		ck.FailPeer("RenewEvery", "LeaseTTL", "%v must be below half of {peer} %v (the margin within which an owner that cannot renew stops)", c.RenewEvery, c.LeaseTTL)
	}
	ck.Positive("ForwardTimeout", c.ForwardTimeout)
	return ck.Err()
}

// validToken reports whether s is usable as a bucket name and NATS subject
// token.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
