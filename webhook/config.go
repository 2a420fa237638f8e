package webhook

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/ariapp/ariapp/internal/confcheck"
)

// ErrInvalidConfig is wrapped by every error of Config.Validate.
var ErrInvalidConfig = errors.New("webhook: invalid config")

// Config configures the receivers and how hard ariapp tries to reach them.
type Config struct {
	// URLs are the receivers (http or https, with a host); empty turns
	// webhooks off. Credentials in a URL (https://user:pass@host/) are
	// sent as basic authentication and never logged.
	URLs []string
	// Secret signs every message: "whsec_" followed by the base64 of the
	// key (the Standard Webhooks form, which the receivers' libraries take
	// as it is), or any other text, whose bytes are then the key.
	// Required when URLs are set.
	Secret string
	// Timeout bounds one POST (default 5 s).
	Timeout time.Duration
	// QueueSize is how many events may wait for each receiver (default
	// 1024); beyond it new events are dropped.
	QueueSize int
	// RetryFor is how long one event is retried before it is given up
	// (default 1 min). Events behind it wait meanwhile, to keep the order.
	RetryFor time.Duration

	// backoff is the retry schedule's first and longest wait (0: the
	// defaults, set by New); tests shorten them.
	backoffMin, backoffMax time.Duration
}

// Defaults of the zero Config fields, as New fills them in.
const (
	DefaultTimeout   = 5 * time.Second
	DefaultQueueSize = 1024
	DefaultRetryFor  = time.Minute
	// The first retry waits half a second, each next one twice as long, up
	// to half a minute.
	defaultBackoffMin = 500 * time.Millisecond
	defaultBackoffMax = 30 * time.Second
)

// MaxQueueSize bounds QueueSize: each queued event holds its JSON.
const MaxQueueSize = 1 << 20

// secretPrefix marks a Standard Webhooks secret: the base64 of the key
// follows.
const secretPrefix = "whsec_"

// WithDefaults returns c with every zero field that has a default set to
// it.
func (c Config) WithDefaults() Config {
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	confcheck.Default(&c.QueueSize, DefaultQueueSize)
	if c.RetryFor == 0 {
		c.RetryFor = DefaultRetryFor
	}
	return c
}

// Validate reports every field of c that New cannot work with, each as a
// confcheck.FieldError wrapping ErrInvalidConfig. It checks c as given: a
// zero field that has a default is invalid here.
func (c Config) Validate() error {
	ck := confcheck.New("webhook", ErrInvalidConfig)
	for i, raw := range c.URLs {
		if _, err := parseURL(raw); err != nil {
			ck.Fail("URLs", "item %d: %v", i, err)
		}
	}
	switch _, err := SecretKey(c.Secret); {
	case len(c.URLs) > 0 && c.Secret == "":
		ck.FailPeer("Secret", "URLs", "must be set with {peer} (every message is signed)")
	case err != nil:
		ck.Fail("Secret", "%v", err)
	}
	ck.Positive("Timeout", c.Timeout)
	ck.Between("QueueSize", int64(c.QueueSize), 1, MaxQueueSize)
	ck.Positive("RetryFor", c.RetryFor)
	return ck.Err()
}

// parseURL checks that raw is an absolute http or https URL with a host.
func parseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the URL, which may hold credentials.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("not a URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%s: scheme must be http or https", redact(u))
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("%s: no host", redact(u))
	}
	return u, nil
}

// redact is u without credentials, query or fragment, for logs and errors.
func redact(u *url.URL) string {
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// SecretKey returns the HMAC key of secret: the decoded base64 after
// "whsec_", or else secret's own bytes.
func SecretKey(secret string) ([]byte, error) {
	b64, ok := strings.CutPrefix(secret, secretPrefix)
	if !ok {
		return []byte(secret), nil
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("the part after %q is not standard base64: %w", secretPrefix, err)
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("no key after %q", secretPrefix)
	}
	return key, nil
}
