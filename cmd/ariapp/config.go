package main

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/ariapp/ariapp/api"
	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/cluster"
	"github.com/ariapp/ariapp/holdmusic"
	"github.com/ariapp/ariapp/internal/confcheck"
	"github.com/ariapp/ariapp/webhook"
)

// envPrefix starts the name of every environment variable ariapp reads:
// key ari.request_timeout is ARIAPP_ARI_REQUEST_TIMEOUT.
const envPrefix = "ARIAPP_"

// passwordEnv is the only place the ARI password may come from.
const passwordEnv = envPrefix + "ARI_PASSWORD"

// Config is ariapp's whole configuration, loaded by loadConfig from (highest
// precedence first) flags, ARIAPP_* environment variables, the config file
// and defaults. Its library parts are the libraries' own configs, with their
// defaults; keys (below) says which key sets which field.
type Config struct {
	// File is the config file that was read, or "" if none was.
	File string
	// ARI is the client's config without the password and the hooks (see
	// ariClientConfig); ARI.TLS is built from ARITLS's files.
	ARI ari.Config
	// ARITLS names the files of ARI's TLS settings (ari.tls.*).
	ARITLS TLSFiles
	// ARINode names the one node of the ari block (ari.node).
	ARINode string
	// Nodes are the nodes list of the config file (see nodes).
	Nodes []NodeConfig
	// NodesListed: Nodes come from the config file's nodes list.
	NodesListed bool
	// Cluster is the cluster's config, with Nodes' names (see
	// clusterConfig); Cluster.NATSURL "" runs every node here.
	Cluster cluster.Config
	// App is the Stasis application's; its Music is hold.media parsed.
	App app.Config
	// API is the control API's without the token and the stats hook (see
	// apiServerConfig); API.Listen "" turns the API off.
	API api.Config
	// ARIPassword and APIToken come only from the environment and never
	// print.
	ARIPassword, APIToken Secret
	// ARIAllEvents asks Asterisk for every event, not only those ariapp
	// acts on (app.EventTypes): for reading the event log.
	ARIAllEvents bool
	Log          LogConfig
	Hold         HoldConfig
	Shutdown     ShutdownConfig
	Instance     InstanceConfig
	// Metrics serves the Prometheus metrics on GET /metrics of the API
	// listener (README "Metrics").
	Metrics bool
	// Webhooks are the event receivers without the secret (see
	// webhookConfig), which comes only from the environment.
	Webhooks       webhook.Config
	WebhooksSecret Secret
	// PprofListen serves Go's runtime profiles (net/http/pprof) on its
	// own listener for profiling; "" (default) serves none.
	PprofListen string
}

// LogConfig selects the log level and encoding.
type LogConfig struct {
	// Level is one of debug, info, warn, error.
	Level string
	// Format is json or console.
	Format string
	// ARIRequests is the level of the ARI request log (one line per REST
	// request ariapp makes): debug (default, so off at log.level info) or
	// info.
	ARIRequests string
}

// HoldConfig configures what a held party hears.
type HoldConfig struct {
	// Media is the one-string form of app.Config.Music, e.g.
	// "tone:440/500|0/2500" (see holdmusic.ParseMedia).
	Media string
	// AllowedMedia are app.Config.AllowedMusic in the same form: the other
	// music a hold request may choose.
	AllowedMedia []string
}

// ShutdownConfig is what SIGTERM does.
type ShutdownConfig struct {
	// HangupCalls hangs every call up before stopping; by default calls stay
	// up in Asterisk and a restarted ariapp adopts them.
	HangupCalls bool
	// HangupTimeout bounds the hang-up of every call (with HangupCalls),
	// which runs first, on its own budget.
	HangupTimeout time.Duration
	// Timeout bounds the rest of the graceful stop: the API server, the
	// application and the ARI client.
	Timeout time.Duration
}

// InstanceConfig is how ariapp keeps a second instance from taking a
// running one's application by mistake (see instanceGuard).
type InstanceConfig struct {
	// Takeover takes the application from a live instance on purpose (that
	// instance then stops).
	Takeover bool
	// Heartbeat is how often the owner record is rewritten; an owner whose
	// record stays unchanged for three heartbeats counts as gone.
	Heartbeat time.Duration
}

// NodeConfig is one Asterisk node: an entry of the nodes list, or the ari
// block.
type NodeConfig struct {
	Name     string
	URL      string
	Username string
	TLS      TLSFiles
	// Password comes from ARIAPP_NODES_<NAME>_PASSWORD, else
	// ARIAPP_ARI_PASSWORD.
	Password Secret
	// tls is TLS's files loaded (https URLs).
	tls *tls.Config
}

// nodePasswordEnv is the environment variable of node's password.
func nodePasswordEnv(node string) string {
	return envPrefix + "NODES_" + strings.ToUpper(strings.ReplaceAll(node, "-", "_")) + "_PASSWORD"
}

// newConfig returns the defaults: the libraries' own, and ariapp's where a
// library has none (where Asterisk is, what ariapp calls itself).
func newConfig() Config {
	return Config{
		ARI:      ari.Config{URL: "http://127.0.0.1:8088/ari", Username: "ariapp", Application: "ariapp"}.WithDefaults(),
		ARINode:  app.DefaultNode,
		Cluster:  cluster.Config{}.WithDefaults(),
		App:      app.Config{}.WithDefaults(),
		API:      api.Config{}.WithDefaults(),
		Log:      LogConfig{Level: "info", Format: "json", ARIRequests: "debug"},
		Hold:     HoldConfig{Media: "tone:" + holdmusic.DefaultTone},
		Shutdown: ShutdownConfig{HangupTimeout: 10 * time.Second, Timeout: 10 * time.Second},
		Instance: InstanceConfig{Heartbeat: defaultHeartbeat},
		Metrics:  true,
		Webhooks: webhook.Config{}.WithDefaults(),
	}
}

// keySpec is one config key, bound to the Config field it sets. The key's
// environment variable, flag, default, usage line, log field and error
// messages all derive from it.
type keySpec struct {
	key   string
	usage string
	// ptr is the field: *string, *Secret, *time.Duration, *int, *int64,
	// *bool or *[]string.
	ptr any
	// envOnly marks a secret: it is read only from the environment, never
	// from the file or a flag, and logged only as <key>_set.
	envOnly bool
	// required: an empty value is an error.
	required bool
	// flag is the key with '.' and '_' spelled '-' (none for a secret).
	flag string
}

// keys lists every key ariapp knows, bound to c's fields. A config file key
// not listed here is an error.
func (c *Config) keys() []keySpec {
	specs := []keySpec{
		{key: "ari.url", ptr: &c.ARI.URL, usage: "ARI base URL: Asterisk's HTTP server (http.conf) plus /ari"},
		{key: "ari.node", ptr: &c.ARINode, usage: "name of the Asterisk of the ari block in call info, events, logs and metrics (without a nodes list)"},
		{key: "ari.username", ptr: &c.ARI.Username, required: true, usage: "ARI user (ari.conf)"},
		{key: "ari.password", ptr: &c.ARIPassword, required: true, envOnly: true, usage: "the password of the ARI user in Asterisk's ari.conf"},
		{key: "ari.application", ptr: &c.ARI.Application, usage: "Stasis application name"},
		{key: "ari.request_timeout", ptr: &c.ARI.RequestTimeout, usage: "limit for one REST request"},
		{key: "ari.dial_timeout", ptr: &c.ARI.DialTimeout, usage: "limit for one event WebSocket handshake"},
		{key: "ari.reconnect_min", ptr: &c.ARI.ReconnectMin, usage: "shortest wait before reconnecting the event WebSocket"},
		{key: "ari.reconnect_max", ptr: &c.ARI.ReconnectMax, usage: "longest wait before reconnecting the event WebSocket"},
		{key: "ari.ping_interval", ptr: &c.ARI.PingInterval, usage: "how often a WebSocket ping checks the event connection (negative: no ping)"},
		{key: "ari.event_queue", ptr: &c.ARI.EventQueueSize, usage: "ARI events that may wait to be handled"},
		{key: "ari.all_events", ptr: &c.ARIAllEvents, usage: "receive (and log) every ARI event, not only those ariapp acts on"},
		{key: "ari.max_connections", ptr: &c.ARI.MaxConns, usage: "most HTTP connections to Asterisk (shared http.conf sessionlimit)"},
		{key: "ari.tls.ca_file", ptr: &c.ARITLS.CAFile, usage: "PEM file of the CAs trusted to sign Asterisk's certificate, in place of the system's (https URL)"},
		{key: "ari.tls.cert_file", ptr: &c.ARITLS.CertFile, usage: "PEM client certificate ariapp shows Asterisk (with ari.tls.key_file; empty: none)"},
		{key: "ari.tls.key_file", ptr: &c.ARITLS.KeyFile, usage: "PEM private key of ari.tls.cert_file"},
		{key: "ari.tls.server_name", ptr: &c.ARITLS.ServerName, usage: "name Asterisk's certificate must carry (empty: the host of ari.url)"},
		{key: "log.level", ptr: &c.Log.Level, usage: "log level: debug, info, warn or error"},
		{key: "log.format", ptr: &c.Log.Format, usage: "log format: json or console"},
		{key: "log.ari_requests", ptr: &c.Log.ARIRequests, usage: "level of the one line per ARI request ariapp makes: debug or info"},
		{key: "hold.media", ptr: &c.Hold.Media, usage: "what a held party hears: tone:SPEC, moh[:CLASS] or sound:A|sound:B"},
		{key: "hold.reminder_after", ptr: &c.App.HoldTimers.ReminderAfter, usage: "interval at which a holder hears hold.reminder_media and hold_reminder is reported (0: off)"},
		{key: "hold.reminder_media", ptr: &c.App.HoldTimers.ReminderMedia, usage: "what a holder hears as the reminder: tone:SPEC (every part with its length) or sound:NAME"},
		{key: "hold.max_duration", ptr: &c.App.HoldTimers.MaxDuration, usage: "a hold that lasts this long is ended as hold.max_action says (0: off)"},
		{key: "hold.max_action", ptr: &c.App.HoldTimers.MaxAction, usage: "how a hold at hold.max_duration ends: resume or hangup"},
		{key: "hold.allowed_media", ptr: &c.Hold.AllowedMedia, usage: "other music a hold request may choose (\"media\"), in hold.media's form; http(s) sounds only as listed here (empty: only hold.media)"},
		{key: "hold.announcement", ptr: &c.App.Music.Announcement, usage: "sound the held party hears once before the music, e.g. sound:pls-hold-while-try (empty: none)"},
		{key: "call.answer_timeout", ptr: &c.App.AnswerTimeout, usage: "how long a callee may ring"},
		{key: "call.step_timeout", ptr: &c.App.StepTimeout, usage: "wait for Asterisk to confirm one step of a hold, resume or set-up"},
		{key: "call.originate_formats", ptr: &c.App.OriginateFormats, usage: "codecs offered on an API-originated call, e.g. ulaw,alaw"},
		{key: "call.max_originates", ptr: &c.App.MaxOriginates, usage: "originates in flight to Asterisk at once; an API call beyond it gets 503 overloaded"},
		{key: "call.timeline_size", ptr: &c.App.TimelineSize, usage: "entries of each call's recent story kept for GET /v1/calls/{id}/timeline"},
		{key: "call.sweep_interval", ptr: &c.App.SweepInterval, usage: "how often channels and bridges of ariapp's that no call owns are looked for (and removed)"},
		{key: "policy.hold_allowed_endpoints", ptr: &c.App.HoldAllowedEndpoints, usage: "endpoints allowed to hold (empty: all)"},
		{key: "policy.max_holds_per_call", ptr: &c.App.MaxHoldsPerCall, usage: "most holds one call may take (0: no limit)"},
		{key: "dtmf.hold", ptr: &c.App.DTMF.Hold, usage: "keypad code to hold (empty: off)"},
		{key: "dtmf.resume", ptr: &c.App.DTMF.Resume, usage: "keypad code to resume (empty: off; equal to dtmf.hold: toggle)"},
		{key: "dtmf.timeout", ptr: &c.App.DTMF.Timeout, usage: "longest pause between the digits of one code"},
		{key: "api.listen", ptr: &c.API.Listen, usage: "control API address (host:port; empty: no API)"},
		{key: "api.token", ptr: &c.APIToken, envOnly: true, usage: "bearer token every /v1 request must carry (unset: none)"},
		{key: "api.operation_timeout", ptr: &c.API.OperationTimeout, usage: "limit for one hold, resume, hangup or originate request"},
		{key: "api.max_body_bytes", ptr: &c.API.MaxBodyBytes, usage: "largest request body"},
		{key: "api.sse_heartbeat", ptr: &c.API.Heartbeat, usage: "interval of keep-alive comments on /v1/events"},
		{key: "api.max_streams", ptr: &c.API.MaxStreams, usage: "most /v1/events streams at once; beyond it 503 overloaded"},
		{key: "api.stream_stall_timeout", ptr: &c.API.StreamStallTimeout, usage: "how long a /v1/events client may stall (or keep losing events) before its stream is dropped"},
		{key: "api.metrics", ptr: &c.Metrics, usage: "serve the Prometheus metrics on GET /metrics (behind api.token when set)"},
		{key: "api.subscriber_buffer", ptr: &c.App.SubscriberBuffer, usage: "events a /v1/events client may lag behind before it loses some (4x for all calls)"},
		{key: "shutdown.hangup_calls", ptr: &c.Shutdown.HangupCalls, usage: "on SIGTERM, hang every call up first"},
		{key: "shutdown.hangup_timeout", ptr: &c.Shutdown.HangupTimeout, usage: "limit for hanging every call up on a stop (with shutdown.hangup_calls)"},
		{key: "shutdown.timeout", ptr: &c.Shutdown.Timeout, usage: "limit for the rest of the graceful stop (API server, application, ARI client)"},
		{key: "instance.takeover", ptr: &c.Instance.Takeover, usage: "take the Stasis application from a running ariapp on purpose (it then stops)"},
		{key: "instance.heartbeat", ptr: &c.Instance.Heartbeat, usage: "how often the owner record is rewritten; three missed make a dead owner"},
		{key: "webhooks.urls", ptr: &c.Webhooks.URLs, usage: "http(s) URLs that receive every call event as a signed POST (empty: none)"},
		{key: "webhooks.secret", ptr: &c.WebhooksSecret, envOnly: true, usage: "key that signs the webhooks: whsec_ and base64 (Standard Webhooks), or plain text; required with webhooks.urls"},
		{key: "webhooks.timeout", ptr: &c.Webhooks.Timeout, usage: "limit for one webhook POST"},
		{key: "webhooks.queue_size", ptr: &c.Webhooks.QueueSize, usage: "events that may wait for each webhook receiver; beyond it new ones are dropped"},
		{key: "webhooks.retry_for", ptr: &c.Webhooks.RetryFor, usage: "how long one event is retried to a failing receiver before it is given up"},
		{key: "debug.pprof_listen", ptr: &c.PprofListen, usage: "address (host:port) of Go's runtime profiles, /debug/pprof/, for profiling; no token (empty: off)"},
		{key: "cluster.nats_url", ptr: &c.Cluster.NATSURL, usage: "NATS server of a cluster of ariapp instances sharing the nodes (empty: no NATS, this instance runs every node)"},
		{key: "cluster.instance", ptr: &c.Cluster.Instance, usage: "this instance's name in the cluster (empty: the host name)"},
		{key: "cluster.bucket", ptr: &c.Cluster.Bucket, usage: "JetStream key-value bucket of the node leases (also scopes the NATS subjects)"},
		{key: "cluster.lease_ttl", ptr: &c.Cluster.LeaseTTL, usage: "a node lease not renewed within this expires, and another instance takes the node over"},
		{key: "cluster.renew_every", ptr: &c.Cluster.RenewEvery, usage: "node lease renewal interval, below half of cluster.lease_ttl; an owner that cannot renew stops cluster.lease_ttl minus this after its last renewal"},
	}
	for i := range specs {
		if !specs[i].envOnly {
			specs[i].flag = strings.NewReplacer(".", "-", "_", "-").Replace(specs[i].key)
		}
	}
	return specs
}

// keySpecs are the keys of the defaults, for what needs only their names.
var keySpecs = func() []keySpec { c := newConfig(); return c.keys() }()

// fieldKeys names, for the errors of the libraries' Validate, the key of
// a field that no key sets directly.
var fieldKeys = map[string]string{"App.Music": "hold.media", "App.AllowedMusic": "hold.allowed_media", "Webhooks.Secret": "webhooks.secret"}

// envName returns the environment variable for a config key.
func envName(key string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// kind names the type of s's value in usage text and the flags' help.
func (s keySpec) kind() string {
	switch s.ptr.(type) {
	case *time.Duration:
		return "duration"
	case *int, *int64:
		return "integer"
	case *[]string:
		return "list"
	case *bool:
		return "bool"
	}
	return "string"
}

// value is s's field's value; a secret's is only whether it is set.
func (s keySpec) value() any {
	if p, ok := s.ptr.(*Secret); ok {
		return p.IsSet()
	}
	return reflect.ValueOf(s.ptr).Elem().Interface()
}

// empty reports whether s's field has its type's zero value.
func (s keySpec) empty() bool { return reflect.ValueOf(s.ptr).Elem().IsZero() }

// text is s's value as a flag, an environment variable or usage spells it.
func (s keySpec) text() string {
	if l, ok := s.value().([]string); ok {
		return strings.Join(l, ",")
	}
	return fmt.Sprint(s.value())
}

// logName is s's field name in logs and String: a secret's says only
// whether it is set.
func (s keySpec) logName(sep string) string {
	name := strings.ReplaceAll(s.key, ".", sep)
	if s.envOnly {
		name += "_set"
	}
	return name
}

// validate checks the settings that are ariapp's own, not a library's.
func (c Config) validate() error {
	ck := confcheck.New("ariapp", nil)
	if _, ok := logLevels[c.Log.Level]; !ok {
		ck.Fail("Log.Level", "invalid level %q (want debug, info, warn or error)", c.Log.Level)
	}
	if c.Log.ARIRequests != "debug" && c.Log.ARIRequests != "info" {
		ck.Fail("Log.ARIRequests", "invalid level %q (want debug or info)", c.Log.ARIRequests)
	}
	if c.Log.Format != "json" && c.Log.Format != "console" {
		ck.Fail("Log.Format", "invalid format %q (want json or console)", c.Log.Format)
	}
	ck.Positive("Shutdown.Timeout", c.Shutdown.Timeout)
	ck.Positive("Shutdown.HangupTimeout", c.Shutdown.HangupTimeout)
	ck.AtLeast("Instance.Heartbeat", c.Instance.Heartbeat, minHeartbeat)
	if field := c.ARITLS.firstSet(); field != "" && !strings.HasPrefix(c.ARI.URL, "https://") {
		ck.FailPeer("ARITLS."+field, "ARI.URL", "is set, but {peer} %q is not https://", c.ARI.URL)
	}
	switch {
	case c.ARITLS.CertFile != "" && c.ARITLS.KeyFile == "":
		ck.FailPeer("ARITLS.KeyFile", "ARITLS.CertFile", "must be set with {peer} (the client certificate's private key)")
	case c.ARITLS.CertFile == "" && c.ARITLS.KeyFile != "":
		ck.FailPeer("ARITLS.CertFile", "ARITLS.KeyFile", "must be set with {peer} (the certificate of that key)")
	}
	return ck.Err()
}

// nodeClientConfig is the ARI client's config of node n: the ari block's
// settings with n's address, user, password and TLS.
func (c Config) nodeClientConfig(n NodeConfig) ari.Config {
	a := c.ARI
	a.URL, a.Username, a.Password, a.TLS = n.URL, n.Username, n.Password.Reveal(), n.tls
	return a
}

// clusterConfig is the cluster's config with the nodes' names.
func (c Config) clusterConfig() cluster.Config {
	cc := c.Cluster
	cc.Instance = c.instanceName()
	cc.Nodes = nil
	for _, n := range c.nodes() {
		cc.Nodes = append(cc.Nodes, n.Name)
	}
	cc.SubscriberBuffer = c.App.SubscriberBuffer
	cc.ForwardTimeout = c.API.OperationTimeout + 5*time.Second
	return cc
}

// ariClientConfig is the ARI client's config with the password.
func (c Config) ariClientConfig() ari.Config {
	a := c.ARI
	a.Password = c.ARIPassword.Reveal()
	return a
}

// apiServerConfig is the control API's config with the token.
func (c Config) apiServerConfig() api.Config {
	a := c.API
	a.Token = c.APIToken.Reveal()
	return a
}

// webhookConfig is the webhooks' config with the secret.
func (c Config) webhookConfig() webhook.Config {
	w := c.Webhooks
	w.Secret = c.WebhooksSecret.Reveal()
	return w
}

// usage writes ariapp's command-line help, including the environment
// variables, to w.
func usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: ariapp [flags]\n\nFlags:\n%s\n", newFlagSet().FlagUsages())
	fmt.Fprintf(w, "Environment (overrides the config file, overridden by flags):\n")
	for _, s := range keySpecs {
		detail := fmt.Sprintf("%s, default %q", s.kind(), s.text())
		if s.envOnly {
			detail = "environment only"
			if s.required {
				detail = "required; environment only"
			}
		}
		fmt.Fprintf(w, "  %-37s %s (%s)\n", envName(s.key), s.key, detail)
	}
}

// String returns the config on one line as key=value pairs. Secrets are
// never included, only whether they are set.
func (c Config) String() string {
	parts := []string{fmt.Sprintf("config_file=%q", c.File)}
	for _, s := range c.keys() {
		v := s.value()
		switch v.(type) {
		case string, []string:
			parts = append(parts, fmt.Sprintf("%s=%q", s.logName("."), v))
		default:
			parts = append(parts, fmt.Sprintf("%s=%v", s.logName("."), v))
		}
	}
	return strings.Join(parts, " ")
}

// LogFields returns the config as zap fields, for one start-up log line:
// key ari.url is field ari_url. Secrets are never included, only
// <key>_set.
func (c Config) LogFields() []zap.Field {
	fields := []zap.Field{zap.String("config_file", c.File)}
	for _, s := range c.keys() {
		fields = append(fields, zap.Any(s.logName("_"), s.value()))
	}
	return fields
}

// MarshalJSON writes the config as one object of its keys, durations as
// text, secrets only as <key>_set.
func (c Config) MarshalJSON() ([]byte, error) {
	m := map[string]any{"config_file": c.File}
	for _, s := range c.keys() {
		v := s.value()
		if d, ok := v.(time.Duration); ok {
			v = d.String()
		}
		m[s.logName(".")] = v
	}
	return json.Marshal(m)
}

// Secret is a string that never prints: fmt, %v, %#v and zap's reflection
// all see "[redacted]".
type Secret string

// String implements fmt.Stringer without revealing the secret.
func (s Secret) String() string { return "[redacted]" }

// GoString implements fmt.GoStringer without revealing the secret.
func (s Secret) GoString() string { return `"[redacted]"` }

// MarshalText keeps the secret out of JSON and other text encodings.
func (s Secret) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }

// Reveal returns the secret's value, for the code that must send it.
func (s Secret) Reveal() string { return string(s) }

// IsSet reports whether the secret is non-empty.
func (s Secret) IsSet() bool { return s != "" }
