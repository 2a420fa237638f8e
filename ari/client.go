package ari

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/ariapp/ariapp/internal/confcheck"
)

// Config is everything the client needs; the zero value of every field but
// URL, Username, Password and Application has a sensible default (see
// WithDefaults), and Validate says what is wrong with a Config.
type Config struct {
	// URL is ARI's base URL, e.g. "http://127.0.0.1:8088/ari".
	URL string
	// Username and Password are the ari.conf user's credentials (basic auth
	// on REST and on the WebSocket handshake).
	Username, Password string
	// Application is the Stasis application name the WebSocket registers.
	Application string
	// SubscribeAll asks Asterisk for every event of the system, not just of
	// the application's own channels and bridges.
	SubscribeAll bool
	// RequestTimeout bounds every REST request (default 5 s). A context with
	// an earlier deadline wins.
	RequestTimeout time.Duration
	// DialTimeout bounds one WebSocket handshake (default 5 s).
	DialTimeout time.Duration
	// ReconnectMin and ReconnectMax bound the jittered exponential backoff
	// between WebSocket reconnect attempts (defaults 100 ms and 5 s).
	ReconnectMin, ReconnectMax time.Duration
	// PingInterval is how often the client pings Asterisk over the WebSocket
	// to notice a dead connection (default 10 s; negative disables).
	PingInterval time.Duration
	// EventQueueSize is how many events may wait for a slow consumer before
	// further events are dropped and counted (default 4096).
	EventQueueSize int
	// MaxConns caps the HTTP connections to Asterisk (default 64), both
	// open and kept alive: Asterisk serves a limited number of HTTP
	// sessions (http.conf sessionlimit, 100 by default) for all its clients;
	// requests beyond the cap wait for a free connection.
	MaxConns int
	// OnEvent, if set, sees every event as it arrives, connection events
	// included, in order and before it is queued (so also an event the full
	// queue then drops): for an event log. It runs on the WebSocket reader
	// and must be quick; a consumer stage of its own would add a goroutine
	// hand-off to every event's way to the application.
	OnEvent func(Event)
	// EventTypes, if set, are the only event types the application wants:
	// on every connect the client asks Asterisk to send only those (an
	// event filter), plus ApplicationReplaced, which it needs itself. A
	// filter Asterisk refuses is logged, and every event comes.
	EventTypes []string
	// OnRequest, if set, sees every REST request once it has finished (or
	// failed), in the goroutine that made it: for a request log and
	// metrics. It must be quick.
	OnRequest func(*Request)
	// Logger receives the client's own logs (connection changes, drops).
	// Default: zap.NewNop().
	Logger *zap.Logger
	// TLS configures an https:// URL: the CAs that may sign Asterisk's
	// certificate (RootCAs; nil: the system's), a client certificate, the
	// name to verify (ServerName; default: the URL's host). REST and the
	// wss:// event WebSocket both use it. Nil with https:// means the
	// system's defaults. Verification cannot be turned off.
	TLS *tls.Config
	// HTTPClient overrides the HTTP client (tests). Leave its Timeout zero:
	// it would also bound REST calls and the WebSocket handshake, on top of
	// RequestTimeout and DialTimeout.
	HTTPClient *http.Client
}

// Defaults of the zero Config fields, as New fills them in.
const (
	DefaultRequestTimeout = 5 * time.Second
	DefaultDialTimeout    = 5 * time.Second
	DefaultReconnectMin   = 100 * time.Millisecond
	DefaultReconnectMax   = 5 * time.Second
	DefaultPingInterval   = 10 * time.Second
	DefaultEventQueueSize = 4096
	DefaultMaxConns       = 64
)

// MaxEventQueueSize bounds EventQueueSize to what a machine can hold.
const MaxEventQueueSize = 1 << 20

// WithDefaults returns c with every zero field that has a default set to
// it (a negative duration or size counts as zero, but a negative
// PingInterval turns the ping off), and URL without its trailing slashes.
// ReconnectMax defaults to at least ReconnectMin.
func (c Config) WithDefaults() Config {
	c.URL = strings.TrimRight(c.URL, "/")
	confcheck.Default(&c.RequestTimeout, DefaultRequestTimeout)
	confcheck.Default(&c.DialTimeout, DefaultDialTimeout)
	confcheck.Default(&c.ReconnectMin, DefaultReconnectMin)
	confcheck.Default(&c.ReconnectMax, max(DefaultReconnectMax, c.ReconnectMin))
	if c.PingInterval == 0 {
		c.PingInterval = DefaultPingInterval
	}
	confcheck.Default(&c.EventQueueSize, DefaultEventQueueSize)
	confcheck.Default(&c.MaxConns, DefaultMaxConns)
	return c
}

// Validate reports every field of c that New cannot work with, each as a
// confcheck.FieldError wrapping ErrInvalidArgument. It checks c as given:
// a zero field that has a default is invalid here, because New applies
// WithDefaults first.
func (c Config) Validate() error {
	ck := confcheck.New("ari", ErrInvalidArgument)
	if u, err := url.Parse(c.URL); c.URL == "" {
		ck.Fail("URL", "must not be empty")
	} else if err != nil {
		ck.Fail("URL", "invalid URL %q", c.URL)
	} else if u.Scheme != "http" && u.Scheme != "https" {
		ck.Fail("URL", "URL %q must start with http:// or https://", c.URL)
	} else if u.Host == "" {
		ck.Fail("URL", "URL %q has no host", c.URL)
	} else if u.User != nil {
		// Credentials in the URL would be logged with it and are not
		// what the client authenticates with.
		ck.Fail("URL", "URL must not contain credentials; set the username and password instead")
	} else if u.RawQuery != "" || u.Fragment != "" {
		// Request paths and queries are appended to URL.
		ck.Fail("URL", "URL %q must not have a query or fragment", c.URL)
	}
	if c.TLS != nil {
		switch {
		case c.URL != "" && !strings.HasPrefix(c.URL, "https://"):
			ck.Fail("TLS", "is set, but URL %q is not https://", c.URL)
		case c.TLS.InsecureSkipVerify:
			ck.Fail("TLS", "must verify Asterisk's certificate (InsecureSkipVerify is set); trust its CA with RootCAs instead")
		case c.HTTPClient != nil:
			// The client's transport has its own TLS settings.
			ck.Fail("TLS", "cannot be used with HTTPClient; configure that client's transport instead")
		}
	}
	if strings.Contains(c.Username, ":") {
		ck.Fail("Username", "must not contain ':' (basic authentication cannot carry it)")
	}
	if c.Application == "" {
		ck.Fail("Application", "must not be empty")
	} else if strings.Contains(c.Application, ",") {
		ck.Fail("Application", "invalid application name %q: Asterisk reads a comma as the separator of several applications", c.Application)
	}
	ck.Positive("RequestTimeout", c.RequestTimeout)
	ck.Positive("DialTimeout", c.DialTimeout)
	ck.Positive("ReconnectMin", c.ReconnectMin)
	ck.Positive("ReconnectMax", c.ReconnectMax)
	if c.ReconnectMin > 0 && c.ReconnectMax > 0 && c.ReconnectMax < c.ReconnectMin {
		ck.FailPeer("ReconnectMax", "ReconnectMin", "%s is less than {peer} %s", c.ReconnectMax, c.ReconnectMin)
	}
	if c.PingInterval == 0 {
		ck.Fail("PingInterval", "must not be 0 (a negative interval turns the ping off)")
	}
	ck.Between("EventQueueSize", int64(c.EventQueueSize), 1, MaxEventQueueSize)
	if c.MaxConns < 1 {
		ck.Fail("MaxConns", "must be at least 1, got %d", c.MaxConns)
	}
	return ck.Err()
}

// Client is an ARI client: REST methods plus, after Connect, the event
// stream. It is safe for concurrent use.
type Client struct {
	cfg  Config
	http *http.Client
	auth string // "Basic ..." header value
	log  *zap.Logger

	events chan Event
	queue  eventQueue
	stats  stats

	mu        sync.Mutex
	started   bool
	closed    bool
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	connected bool
	closeOnce sync.Once
	// isClosed refuses REST calls after Close, whose idle connections are
	// gone by then (a REST call would open new ones that nobody closes).
	isClosed atomic.Bool
}

// New validates cfg and returns a client. It does no I/O: REST calls work at
// once, events flow after Connect.
func New(cfg Config) (*Client, error) {
	c := cfg.WithDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	hc := c.HTTPClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConns = c.MaxConns
		tr.MaxIdleConnsPerHost = c.MaxConns
		tr.MaxConnsPerHost = c.MaxConns
		tr.IdleConnTimeout = 90 * time.Second
		if c.TLS != nil {
			tr.TLSClientConfig = c.TLS.Clone()
		}
		hc = &http.Client{Transport: tr}
	}
	req, _ := http.NewRequest(http.MethodGet, c.URL, nil)
	req.SetBasicAuth(c.Username, c.Password)
	cl := &Client{
		cfg:    c,
		http:   hc,
		auth:   req.Header.Get("Authorization"),
		log:    c.Logger.With(zap.String("ari_app", c.Application)),
		events: make(chan Event),
	}
	cl.queue.init(c.EventQueueSize)
	return cl, nil
}

// Application is the Stasis application name this client registers.
func (c *Client) Application() string { return c.cfg.Application }

// call performs one REST request. query may be nil; body, if not nil, is
// sent as JSON; out, if not nil, receives the JSON reply.
func (c *Client) call(ctx context.Context, method, path string, query url.Values, body, out any) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if c.cfg.OnRequest == nil {
		_, err := c.do(ctx, method, path, query, body, out)
		return err
	}
	t0 := time.Now()
	status, err := c.do(ctx, method, path, query, body, out)
	r := &Request{Method: method, Tag: TagOf(ctx), Status: status, Duration: time.Since(t0), Err: err}
	r.routeOf(path, query)
	c.cfg.OnRequest(r)
	return err
}

// do makes one REST request and returns the reply's status (0 without one).
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body, out any) (int, error) {
	if c.isClosed.Load() {
		return 0, ErrClosed
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()

	target := c.cfg.URL + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, fmt.Errorf("ari: encoding %s %s body: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return 0, newTransportError(method, path, err)
	}
	req.Header.Set("Authorization", c.auth)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, newTransportError(method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return resp.StatusCode, newTransportError(method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, newAPIError(method, path, resp.StatusCode, errorMessage(data))
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("ari: decoding reply of %s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// errorMessage extracts ARI's {"message": "..."}; any other body is kept as
// text so nothing Asterisk said is lost.
func errorMessage(body []byte) string {
	var m struct {
		Message string `json:"message"`
		Error   string `json:"error"`
	}
	if json.Unmarshal(body, &m) == nil {
		if m.Message != "" {
			return m.Message
		}
		if m.Error != "" {
			return m.Error
		}
	}
	return strings.TrimSpace(string(body))
}

// seg escapes one path segment and refuses an empty one, which would
// silently address a different resource (e.g. DELETE /channels/).
func seg(kind, v string) (string, error) {
	if v == "" {
		return "", invalidArg("%s id is empty", kind)
	}
	return url.PathEscape(v), nil
}

func path(kind, id string, rest ...string) (string, error) {
	s, err := seg(kind, id)
	if err != nil {
		return "", err
	}
	p := "/" + kind + "s/" + s
	for _, r := range rest {
		p += "/" + r
	}
	return p, nil
}

// mediaList joins media URIs the way ARI expects (comma separated) and
// refuses items that contain a comma: Asterisk would split them into two
// items (e.g. "tone:440/500,0/2500"); join tone parts with '|' instead.
func mediaList(media []string) (string, error) {
	if len(media) == 0 {
		return "", invalidArg("no media to play")
	}
	for _, m := range media {
		if m == "" {
			return "", invalidArg("empty media item")
		}
		if strings.Contains(m, ",") {
			return "", invalidArg("media %q contains ',', which ARI splits into two items; join tone parts with '|'", m)
		}
	}
	return strings.Join(media, ","), nil
}
