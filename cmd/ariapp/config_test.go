package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/ariapp/ariapp/api"
	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/cluster"
	"github.com/ariapp/ariapp/holdmusic"
	"github.com/ariapp/ariapp/webhook"
)

const testPassword = "s3cret-Pa55"

// env returns a lookupEnv over m, so tests never touch the process
// environment and can run in parallel.
func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// withPassword returns m plus ARIAPP_ARI_PASSWORD.
func withPassword(m map[string]string) map[string]string {
	out := map[string]string{passwordEnv: testPassword}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// writeFile writes a config file into a fresh temp dir and returns its path.
func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// defaultConfig is the config with every default and the test password,
// spelled out here so that a changed default shows.
func defaultConfig() Config {
	return Config{
		ARI: ari.Config{
			URL:            "http://127.0.0.1:8088/ari",
			Username:       "ariapp",
			Application:    "ariapp",
			RequestTimeout: 5 * time.Second,
			DialTimeout:    5 * time.Second,
			ReconnectMin:   100 * time.Millisecond,
			ReconnectMax:   5 * time.Second,
			PingInterval:   10 * time.Second,
			EventQueueSize: 4096,
			MaxConns:       64,
		},
		App: app.Config{
			Node:                 "asterisk",
			AnswerTimeout:        30 * time.Second,
			StepTimeout:          5 * time.Second,
			HoldAllowedEndpoints: []string{},
			Music:                holdmusic.Config{Mode: holdmusic.ModeTone, Tone: "440/500|0/2500"},
			HoldTimers:           app.HoldTimers{ReminderMedia: "tone:1400/150|0/150|1400/150", MaxAction: "resume"},
			SubscriberBuffer:     256,
			DTMF:                 app.DTMFConfig{Timeout: 3 * time.Second},
			OriginateFormats:     "ulaw",
			MaxOriginates:        16,
			SweepInterval:        10 * time.Second,
			TimelineSize:         32,
		},
		API: api.Config{
			Listen:             "127.0.0.1:8090",
			OperationTimeout:   30 * time.Second,
			MaxBodyBytes:       16 << 10,
			Heartbeat:          15 * time.Second,
			MaxStreams:         256,
			StreamStallTimeout: 10 * time.Second,
		},
		ARIPassword: testPassword,
		Log:         LogConfig{Level: "info", Format: "json", ARIRequests: "debug"},
		Hold:        HoldConfig{Media: "tone:440/500|0/2500", AllowedMedia: []string{}},
		Shutdown:    ShutdownConfig{HangupTimeout: 10 * time.Second, Timeout: 10 * time.Second},
		Instance:    InstanceConfig{Heartbeat: 2 * time.Second},
		Webhooks:    webhook.Config{URLs: []string{}, Timeout: 5 * time.Second, QueueSize: 1024, RetryFor: time.Minute},
		Metrics:     true,
		ARINode:     "asterisk",
		Cluster: cluster.Config{Bucket: "ariapp-leases", LeaseTTL: 6 * time.Second, RenewEvery: 2 * time.Second,
			ForwardTimeout: 35 * time.Second, SubscriberBuffer: 256},
	}
}

func TestLoadConfigDefaults(t *testing.T) {
	t.Parallel()
	// The package directory has no config.yaml, so the default file is
	// missing, which is fine.
	got, err := loadConfig(nil, env(withPassword(nil)))
	if err != nil {
		t.Fatalf("loadConfig: %v", err)
	}
	if want := defaultConfig(); !reflect.DeepEqual(got, want) {
		t.Errorf("config:\n got %+v\nwant %+v", got, want)
	}
}

func TestLoadConfigFullFile(t *testing.T) {
	t.Parallel()
	p := writeFile(t, `
ari:
  url: https://pbx.example.test:8089/ari/
  username: ops
  application: myapp
  request_timeout: 2s
  reconnect_min: 250ms
  reconnect_max: 1m
  event_queue: 64
  dial_timeout: 3s
  ping_interval: -1ns
  max_connections: 8
log:
  level: DEBUG
  format: console
hold:
  media: sound:hold-music
  reminder_after: 1m
  reminder_media: sound:beep
  max_duration: 10m
  max_action: hangup
call:
  answer_timeout: 45s
  originate_formats: alaw,ulaw
policy:
  hold_allowed_endpoints: [PJSIP/alice, " PJSIP/bob "]
api:
  operation_timeout: 10s
  max_body_bytes: 4096
  sse_heartbeat: 1s
  subscriber_buffer: 32
`)
	got, err := loadConfig([]string{"--config", p}, env(withPassword(nil)))
	if err != nil {
		t.Fatalf("loadConfig: %v", err)
	}
	want := defaultConfig()
	want.File = p
	want.ARI.URL, want.ARI.Username, want.ARI.Application = "https://pbx.example.test:8089/ari/", "ops", "myapp"
	want.ARI.RequestTimeout, want.ARI.DialTimeout = 2*time.Second, 3*time.Second
	want.ARI.ReconnectMin, want.ARI.ReconnectMax = 250*time.Millisecond, time.Minute
	want.ARI.PingInterval, want.ARI.EventQueueSize, want.ARI.MaxConns = -1, 64, 8
	want.Log = LogConfig{Level: "debug", Format: "console", ARIRequests: "debug"}
	want.Hold.Media = "sound:hold-music"
	want.App.Music = holdmusic.Config{Mode: holdmusic.ModeSounds, Sounds: []string{"sound:hold-music"}}
	want.App.HoldTimers = app.HoldTimers{ReminderAfter: time.Minute, ReminderMedia: "sound:beep", MaxDuration: 10 * time.Minute, MaxAction: "hangup"}
	want.App.AnswerTimeout, want.App.OriginateFormats = 45*time.Second, "alaw,ulaw"
	want.App.HoldAllowedEndpoints = []string{"PJSIP/alice", "PJSIP/bob"}
	want.App.SubscriberBuffer = 32
	want.API.OperationTimeout, want.API.MaxBodyBytes, want.API.Heartbeat = 10*time.Second, 4096, time.Second
	if !reflect.DeepEqual(got, want) {
		t.Errorf("config:\n got %+v\nwant %+v", got, want)
	}
}

func TestLoadConfigPrecedence(t *testing.T) {
	t.Parallel()
	const file = `
ari:
  url: http://file.test/ari
  request_timeout: 1s
log:
  level: warn
`
	tests := []struct {
		name     string
		file     bool
		env      map[string]string
		args     []string
		pick     func(Config) any
		want     any
		wantFrom string
	}{
		{name: "default", pick: pickURL, want: "http://127.0.0.1:8088/ari"},
		{name: "file over default", file: true, pick: pickURL, want: "http://file.test/ari"},
		{name: "env over file", file: true, env: map[string]string{"ARIAPP_ARI_URL": "http://env.test/ari"},
			pick: pickURL, want: "http://env.test/ari"},
		{name: "flag over env and file", file: true, env: map[string]string{"ARIAPP_ARI_URL": "http://env.test/ari"},
			args: []string{"--ari-url", "http://flag.test/ari"}, pick: pickURL, want: "http://flag.test/ari"},
		{name: "flag over default", args: []string{"--ari-url=http://flag.test/ari"}, pick: pickURL, want: "http://flag.test/ari"},
		{name: "empty env counts as unset", file: true, env: map[string]string{"ARIAPP_ARI_URL": ""},
			pick: pickURL, want: "http://file.test/ari"},
		{name: "duration from file", file: true, pick: func(c Config) any { return c.ARI.RequestTimeout }, want: time.Second},
		{name: "duration env over file", file: true, env: map[string]string{"ARIAPP_ARI_REQUEST_TIMEOUT": "750ms"},
			pick: func(c Config) any { return c.ARI.RequestTimeout }, want: 750 * time.Millisecond},
		{name: "level flag over env over file", file: true, env: map[string]string{"ARIAPP_LOG_LEVEL": "error"},
			args: []string{"--log-level", "debug"}, pick: func(c Config) any { return c.Log.Level }, want: "debug"},
		{name: "level env over file", file: true, env: map[string]string{"ARIAPP_LOG_LEVEL": "error"},
			pick: func(c Config) any { return c.Log.Level }, want: "error"},
		{name: "key absent from file keeps default", file: true,
			pick: func(c Config) any { return c.ARI.ReconnectMax }, want: 5 * time.Second},
		{name: "env int", env: map[string]string{"ARIAPP_ARI_EVENT_QUEUE": "12"},
			pick: func(c Config) any { return c.ARI.EventQueueSize }, want: 12},
		{name: "env list is comma separated", env: map[string]string{"ARIAPP_POLICY_HOLD_ALLOWED_ENDPOINTS": "PJSIP/alice, PJSIP/bob,,"},
			pick: func(c Config) any { return c.App.HoldAllowedEndpoints }, want: []string{"PJSIP/alice", "PJSIP/bob"}},
		{name: "env section without flag", env: map[string]string{"ARIAPP_HOLD_MEDIA": "sound:beep", "ARIAPP_CALL_ANSWER_TIMEOUT": "5s"},
			pick: func(c Config) any { return []any{c.Hold.Media, c.App.AnswerTimeout} }, want: []any{"sound:beep", 5 * time.Second}},
		{name: "flag application and username", args: []string{"--ari-application", "app2", "--ari-username", "u2"},
			pick: func(c Config) any { return c.ARI.Application + "/" + c.ARI.Username }, want: "app2/u2"},
		{name: "format flag", args: []string{"--log-format", "Console"}, pick: func(c Config) any { return c.Log.Format }, want: "console"},
		{name: "bool flag without a value", args: []string{"--shutdown-hangup-calls"}, pick: func(c Config) any { return c.Shutdown.HangupCalls }, want: true},
		{name: "bool env", env: map[string]string{"ARIAPP_SHUTDOWN_HANGUP_CALLS": "true"}, pick: func(c Config) any { return c.Shutdown.HangupCalls }, want: true},
		{name: "negative ping interval turns the ping off", env: map[string]string{"ARIAPP_ARI_PING_INTERVAL": "-1s"},
			pick: func(c Config) any { return c.ARI.PingInterval }, want: -time.Second},
		{name: "new keys from flags", args: []string{"--api-sse-heartbeat=2s", "--ari-max-connections=9", "--api-subscriber-buffer", "17",
			"--call-originate-formats", "alaw", "--api-operation-timeout", "1m", "--ari-dial-timeout", "1s", "--api-max-body-bytes", "100"},
			pick: func(c Config) any {
				return []any{c.API.Heartbeat, c.ARI.MaxConns, c.App.SubscriberBuffer, c.App.OriginateFormats, c.API.OperationTimeout, c.ARI.DialTimeout, c.API.MaxBodyBytes}
			},
			want: []any{2 * time.Second, 9, 17, "alaw", time.Minute, time.Second, int64(100)}},
		{name: "list flag", args: []string{"--policy-hold-allowed-endpoints", "PJSIP/a,PJSIP/b"},
			pick: func(c Config) any { return c.App.HoldAllowedEndpoints }, want: []string{"PJSIP/a", "PJSIP/b"}},
		{name: "empty api.listen: no API", env: map[string]string{"ARIAPP_API_LISTEN": " "},
			pick: func(c Config) any { return c.API.Listen }, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := tt.args
			if tt.file {
				args = append([]string{"--config", writeFile(t, file)}, args...)
			}
			c, err := loadConfig(args, env(withPassword(tt.env)))
			if err != nil {
				t.Fatalf("loadConfig: %v", err)
			}
			if got := tt.pick(c); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func pickURL(c Config) any { return c.ARI.URL }

func TestLoadConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		file   string // config file content; "" means no --config
		env    map[string]string
		args   []string
		noPass bool
		want   []string // substrings of the error
	}{
		{name: "unknown key", file: "ari:\n  urll: http://x/ari\n", want: []string{"ari.urll: unknown key in the config file"}},
		{name: "unknown section", file: "metrics:\n  port: 9090\n", want: []string{"metrics.port: unknown key"}},
		{name: "unknown top-level scalar", file: "verbose: true\n", want: []string{"verbose: unknown key"}},
		{name: "section given a scalar", file: "ari: http://x/ari\n", want: []string{"ari: must be a section"}},
		{name: "password in file", file: "ari:\n  password: hunter2\n",
			want: []string{"ari.password: must not be set in the config file", "ARIAPP_ARI_PASSWORD environment variable"}},
		{name: "key without value", file: "ari:\n  url:\n", want: []string{"ari.url: has no value in the config file"}},
		{name: "bad duration in file", file: "ari:\n  request_timeout: 5x\n",
			want: []string{`ari.request_timeout: invalid duration "5x"`, "from config file"}},
		{name: "duration without unit", file: "call:\n  answer_timeout: 30\n", want: []string{"call.answer_timeout: invalid duration 30"}},
		{name: "bad duration in env", env: map[string]string{"ARIAPP_ARI_RECONNECT_MIN": "soon"},
			want: []string{`ari.reconnect_min: invalid duration "soon"`, "from environment ARIAPP_ARI_RECONNECT_MIN"}},
		{name: "zero duration", file: "ari:\n  request_timeout: 0s\n", want: []string{"ari.request_timeout: must be greater than 0"}},
		{name: "negative duration", env: map[string]string{"ARIAPP_CALL_ANSWER_TIMEOUT": "-1s"},
			want: []string{"call.answer_timeout: must not be negative, got -1s (from environment ARIAPP_CALL_ANSWER_TIMEOUT)"}},
		{name: "answer timeout below its minimum", file: "call:\n  answer_timeout: 500ms\n",
			want: []string{"call.answer_timeout: must be at least 1s, got 500ms (from config file "}},
		{name: "zero ping interval", args: []string{"--ari-ping-interval", "0s"},
			want: []string{"ari.ping_interval: must not be 0 (a negative interval turns the ping off) (from flag --ari-ping-interval)"}},
		{name: "dial timeout zero", env: map[string]string{"ARIAPP_ARI_DIAL_TIMEOUT": "0s"}, want: []string{"ari.dial_timeout: must be greater than 0"}},
		{name: "no connections", file: "ari:\n  max_connections: 0\n", want: []string{"ari.max_connections: must be at least 1, got 0 (from config file "}},
		{name: "originate formats with a space", env: map[string]string{"ARIAPP_CALL_ORIGINATE_FORMATS": "ulaw, alaw"},
			want: []string{`call.originate_formats: "ulaw, alaw": want codec names separated by commas`, "(from environment ARIAPP_CALL_ORIGINATE_FORMATS)"}},
		{name: "body limit not a number", args: []string{"--api-max-body-bytes", "16k"}, want: []string{`api.max_body_bytes: invalid integer "16k" (from flag --api-max-body-bytes)`}},
		{name: "body limit zero", file: "api:\n  max_body_bytes: 0\n", want: []string{"api.max_body_bytes: must be at least 1, got 0"}},
		{name: "heartbeat zero", file: "api:\n  sse_heartbeat: 0s\n", want: []string{"api.sse_heartbeat: must be greater than 0"}},
		{name: "api settings checked without the api", file: "api:\n  listen: \"\"\n  sse_heartbeat: 0s\n", want: []string{"api.sse_heartbeat: must be greater than 0"}},
		{name: "operation timeout without unit", file: "api:\n  operation_timeout: 30\n", want: []string{"api.operation_timeout: invalid duration 30"}},
		{name: "subscriber buffer zero", env: map[string]string{"ARIAPP_API_SUBSCRIBER_BUFFER": "0"}, want: []string{"api.subscriber_buffer: must be at least 1, got 0"}},
		{name: "shutdown timeout zero", args: []string{"--shutdown-timeout=0s"}, want: []string{"shutdown.timeout: must be greater than 0, got 0s (from flag --shutdown-timeout)"}},
		{name: "bad boolean flag", args: []string{"--shutdown-hangup-calls=maybe"}, want: []string{"flags: ", "shutdown-hangup-calls"}},
		{name: "reconnect max below min", file: "ari:\n  reconnect_min: 2s\n  reconnect_max: 1s\n",
			want: []string{"ari.reconnect_max: 1s is less than ari.reconnect_min 2s"}},
		{name: "bad level", args: []string{"--log-level", "trace"},
			want: []string{`log.level: invalid level "trace"`, "from flag --log-level"}},
		{name: "bad format", file: "log:\n  format: xml\n", want: []string{`log.format: invalid format "xml"`}},
		{name: "overlapping dtmf codes", file: "dtmf:\n  hold: \"*7\"\n  resume: \"7\"\n", want: []string{"dtmf.resume", "overlap"}},
		{name: "bad dtmf digit", file: "dtmf:\n  hold: \"*x\"\n", want: []string{`dtmf.hold: "*x": 'x' is not a DTMF digit`}},
		{name: "bad hold media", file: "hold:\n  media: \"tone:440,0/2500\"\n", want: []string{"hold.media", "'|'"}},
		{name: "bad hold max action", env: map[string]string{"ARIAPP_HOLD_MAX_ACTION": "park"}, want: []string{`hold.max_action: "park": want resume or hangup`}},
		{name: "reminder longer than its interval", file: "hold:\n  reminder_after: 200ms\n  reminder_media: tone:1400/300\n",
			want: []string{"hold.reminder_media", "not shorter than hold.reminder_after 200ms"}},
		{name: "bad allowed media", file: "hold:\n  allowed_media: [\"moh:jazz\", \"tone:abc\"]\n", want: []string{`hold.allowed_media: item 1 "tone:abc"`, "FREQ"}},
		{name: "allowed media not a sound URL", env: map[string]string{"ARIAPP_HOLD_ALLOWED_MEDIA": "sound:ftp://x.test/a.wav"}, want: []string{"hold.allowed_media: item 0", "http(s) URL"}},
		{name: "bad announcement", file: "hold:\n  announcement: \"tone:440\"\n", want: []string{"hold.announcement", `"tone:440"`}},
		{name: "api listen without port", env: map[string]string{"ARIAPP_API_LISTEN": "localhost"}, want: []string{"api.listen", "not host:port"}},
		{name: "api token in the file", file: "api:\n  token: abc\n", want: []string{"api.token: must not be set in the config file"}},
		{name: "bad boolean", env: map[string]string{"ARIAPP_SHUTDOWN_HANGUP_CALLS": "maybe"}, want: []string{"shutdown.hangup_calls", "invalid boolean"}},
		{name: "empty url in file", file: "ari:\n  url: \"\"\n", want: []string{"ari.url: must not be empty"}},
		{name: "non-http url", args: []string{"--ari-url", "ws://127.0.0.1:8088/ari"}, want: []string{"ari.url: URL", "must start with http:// or https://"}},
		{name: "url without scheme", env: map[string]string{"ARIAPP_ARI_URL": "127.0.0.1:8088/ari"}, want: []string{"ari.url: "}},
		{name: "url without host", args: []string{"--ari-url", "http:///ari"}, want: []string{"ari.url: URL", "has no host"}},
		{name: "url with credentials", args: []string{"--ari-url", "http://u:pw@127.0.0.1:8088/ari"},
			want: []string{"ari.url: URL must not contain credentials"}},
		{name: "url with query", args: []string{"--ari-url", "http://127.0.0.1:8088/ari?x=1"}, want: []string{"ari.url: ", "query or fragment"}},
		{name: "empty application", args: []string{"--ari-application", ""}, want: []string{"ari.application: must not be empty"}},
		{name: "application with comma", file: "ari:\n  application: a,b\n", want: []string{`ari.application: invalid application name "a,b"`}},
		{name: "empty username", args: []string{"--ari-username", " "}, want: []string{"ari.username: must not be empty"}},
		{name: "username with colon", args: []string{"--ari-username", "a:b"}, want: []string{"ari.username: must not contain ':'"}},
		{name: "event queue zero", file: "ari:\n  event_queue: 0\n", want: []string{"ari.event_queue: must be between 1 and"}},
		{name: "event queue not a number", env: map[string]string{"ARIAPP_ARI_EVENT_QUEUE": "lots"},
			want: []string{`ari.event_queue: invalid integer "lots"`}},
		{name: "list item not a string", file: "policy:\n  hold_allowed_endpoints: [alice, [bob]]\n",
			want: []string{"policy.hold_allowed_endpoints: item 1: want a string"}},
		{name: "list item empty", file: "policy:\n  hold_allowed_endpoints: [alice, \"\"]\n",
			want: []string{"policy.hold_allowed_endpoints: item 1 is empty"}},
		{name: "string key given a list", file: "hold:\n  media: [a, b]\n", want: []string{"hold.media: want a string"}},
		{name: "yaml syntax error", file: "ari:\n  url: [\n  x: y\n", want: []string{"config file ", ".yaml: "}},
		{name: "explicit config missing", args: []string{"--config", "/nonexistent/ariapp.yaml"},
			want: []string{"config file /nonexistent/ariapp.yaml", "no such file"}},
		{name: "empty config path", args: []string{"--config="}, want: []string{"--config must not be empty"}},
		{name: "unknown flag", args: []string{"--ari-pasword", "x"}, want: []string{"flags: unknown flag: --ari-pasword"}},
		{name: "positional argument", args: []string{"run"}, want: []string{`flags: unexpected argument "run"`}},
		{name: "no password", noPass: true, want: []string{"ari.password: not set; export ARIAPP_ARI_PASSWORD"}},
		{name: "empty password", noPass: true, env: map[string]string{passwordEnv: ""}, want: []string{"ari.password: not set"}},
		{name: "webhook urls without secret", file: "webhooks:\n  urls: [https://hooks.example/a]\n",
			want: []string{"webhooks.secret: must be set with webhooks.urls"}},
		{name: "webhook url not http", env: map[string]string{"ARIAPP_WEBHOOKS_URLS": "ftp://h/x", "ARIAPP_WEBHOOKS_SECRET": "s"},
			want: []string{"webhooks.urls: item 0: ftp://h/x: scheme must be http or https"}},
		{name: "webhook secret bad base64", env: map[string]string{"ARIAPP_WEBHOOKS_URLS": "http://h/x", "ARIAPP_WEBHOOKS_SECRET": "whsec_%"},
			want: []string{"webhooks.secret: ", "base64"}},
		{name: "webhook secret in the file", file: "webhooks:\n  secret: abc\n", want: []string{"webhooks.secret: must not be set in the config file"}},
		{name: "webhook queue zero", args: []string{"--webhooks-queue-size", "0"}, want: []string{"webhooks.queue_size: must be between 1 and"}},
		{name: "all problems in one line", file: "ari:\n  request_timeout: x\nlog:\n  level: loud\n  format: xml\n",
			want: []string{"ari.request_timeout: ", "; log.level: ", "; log.format: "}},
		{name: "several bad file keys in one line", file: "ari:\n  password: p\n  foo: 1\n",
			want: []string{"ari.foo: unknown key", "; ari.password: must not be set"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := tt.args
			if tt.file != "" {
				args = append([]string{"--config", writeFile(t, tt.file)}, args...)
			}
			e := tt.env
			if !tt.noPass {
				e = withPassword(e)
			}
			_, err := loadConfig(args, env(e))
			if err == nil {
				t.Fatal("loadConfig succeeded, want an error")
			}
			msg := err.Error()
			if strings.ContainsAny(msg, "\r\n") {
				t.Errorf("error is not a single line: %q", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
			if strings.Contains(msg, testPassword) || strings.Contains(msg, "hunter2") {
				t.Errorf("error reveals a password: %q", msg)
			}
		})
	}
}

func TestLoadConfigHelpAndVersion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want error
	}{
		{[]string{"--help"}, pflag.ErrHelp},
		{[]string{"-h"}, pflag.ErrHelp},
		{[]string{"--version"}, errVersion},
		// --version works without a password or a valid config.
		{[]string{"--version", "--config", "/nonexistent.yaml"}, errVersion},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			if _, err := loadConfig(tt.args, env(nil)); !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestLoadConfigFileShapes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		file string
		env  map[string]string
		pick func(Config) any
		want any
	}{
		{name: "empty file", file: "", pick: pickURL, want: "http://127.0.0.1:8088/ari"},
		{name: "env fills an empty section", file: "hold:\nari:\n",
			env:  map[string]string{"ARIAPP_HOLD_MEDIA": "sound:x", "ARIAPP_ARI_URL": "http://env.test/ari"},
			pick: func(c Config) any { return c.Hold.Media + " " + c.ARI.URL }, want: "sound:x http://env.test/ari"},
		{name: "only comments", file: "# nothing here\n", pick: pickURL, want: "http://127.0.0.1:8088/ari"},
		{name: "empty section", file: "hold:\n  # media: sound:x\nari:\n  url: http://x.test/ari\n", pick: pickURL, want: "http://x.test/ari"},
		{name: "empty mapping section", file: "policy: {}\n", pick: func(c Config) any { return c.App.HoldAllowedEndpoints }, want: []string{}},
		{name: "keys are case-insensitive", file: "ARI:\n  URL: http://upper.test/ari\n", pick: pickURL, want: "http://upper.test/ari"},
		{name: "trailing slash kept for the ari client to drop", file: "ari:\n  url: http://x.test/ari//\n", pick: pickURL, want: "http://x.test/ari//"},
		{name: "numeric username", file: "ari:\n  username: 1001\n", pick: func(c Config) any { return c.ARI.Username }, want: "1001"},
		{name: "empty list", file: "policy:\n  hold_allowed_endpoints: []\n", pick: func(c Config) any { return c.App.HoldAllowedEndpoints }, want: []string{}},
		{name: "media with pipes kept verbatim", file: "hold:\n  media: \"tone:480+620/500|0/500\"\n", pick: func(c Config) any { return c.Hold.Media }, want: "tone:480+620/500|0/500"},
		{name: "allowed media and announcement", file: "hold:\n  media: moh\n  allowed_media: [\"tone:620/500|0/2500\", \"sound:https://x.test/a.wav\"]\n  announcement: sound:pls-hold-while-try\n",
			pick: func(c Config) any {
				return []any{c.App.Music.Mode, c.App.Music.Announcement, len(c.App.AllowedMusic), c.App.AllowedMusic[0].Tone, c.App.AllowedMusic[1].Sounds}
			},
			want: []any{holdmusic.ModeMOH, "sound:pls-hold-while-try", 2, "620/500|0/2500", []string{"sound:https://x.test/a.wav"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := loadConfig([]string{"--config", writeFile(t, tt.file)}, env(withPassword(tt.env)))
			if err != nil {
				t.Fatalf("loadConfig: %v", err)
			}
			if got := tt.pick(c); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

// TestLoadConfigDefaultFile changes directory, so it cannot run in parallel.
func TestLoadConfigDefaultFile(t *testing.T) {
	t.Run("present", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("ari:\n  application: fromdefault\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Chdir(dir)
		c, err := loadConfig(nil, env(withPassword(nil)))
		if err != nil {
			t.Fatalf("loadConfig: %v", err)
		}
		if c.ARI.Application != "fromdefault" || c.File != "config.yaml" {
			t.Errorf("application %q from file %q, want fromdefault from config.yaml", c.ARI.Application, c.File)
		}
	})
	t.Run("invalid", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("bogus: 1\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Chdir(dir)
		if _, err := loadConfig(nil, env(withPassword(nil))); err == nil || !strings.Contains(err.Error(), "bogus: unknown key") {
			t.Errorf("err = %v, want bogus: unknown key", err)
		}
	})
	t.Run("missing", func(t *testing.T) {
		t.Chdir(t.TempDir())
		c, err := loadConfig(nil, env(withPassword(nil)))
		if err != nil {
			t.Fatalf("loadConfig: %v", err)
		}
		if c.File != "" {
			t.Errorf("File = %q, want none", c.File)
		}
	})
}

func TestConfigNeverShowsPassword(t *testing.T) {
	t.Parallel()
	c, err := loadConfig(nil, env(withPassword(nil)))
	if err != nil {
		t.Fatal(err)
	}
	if c.ARIPassword.Reveal() != testPassword {
		t.Fatalf("Reveal() = %q", c.ARIPassword.Reveal())
	}
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var logged strings.Builder
	log, err := newLogger(LogConfig{Level: "info", Format: "json"}, zapcore.AddSync(&logged))
	if err != nil {
		t.Fatal(err)
	}
	log.Info("fields", c.LogFields()...)
	log.Info("reflected", zap.Any("config", c))
	renderings := map[string]string{
		"String":     c.String(),
		"%v":         fmt.Sprintf("%v", c),
		"%+v ARI":    fmt.Sprintf("%+v", c.ARI),
		"%#v":        fmt.Sprintf("%#v", c),
		"json":       string(js),
		"zap fields": logged.String(),
	}
	for name, s := range renderings {
		if strings.Contains(s, testPassword) {
			t.Errorf("%s reveals the password: %s", name, s)
		}
	}
	if !strings.Contains(c.String(), "ari.password_set=true") {
		t.Errorf("String() lacks ari.password_set=true: %s", c.String())
	}
	if !strings.Contains(logged.String(), `"ari_password_set":true`) {
		t.Errorf("log lacks ari_password_set:true: %s", logged.String())
	}
	if !strings.Contains(string(js), `"ari.password_set":true`) {
		t.Errorf("JSON lacks ari.password_set:true: %s", js)
	}
	if strings.ContainsAny(c.String(), "\n") {
		t.Errorf("String() is not one line: %q", c.String())
	}
}

func TestUsageListsEveryKey(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	usage(&b)
	for _, s := range keySpecs {
		if !strings.Contains(b.String(), envName(s.key)) {
			t.Errorf("usage lacks %s", envName(s.key))
		}
		if s.flag != "" && !strings.Contains(b.String(), "--"+s.flag) {
			t.Errorf("usage lacks --%s", s.flag)
		}
	}
}

func TestEnvName(t *testing.T) {
	t.Parallel()
	for key, want := range map[string]string{
		"ari.url":                       "ARIAPP_ARI_URL",
		"ari.request_timeout":           "ARIAPP_ARI_REQUEST_TIMEOUT",
		"policy.hold_allowed_endpoints": "ARIAPP_POLICY_HOLD_ALLOWED_ENDPOINTS",
	} {
		t.Run(key, func(t *testing.T) {
			t.Parallel()
			if got := envName(key); got != want {
				t.Errorf("envName(%q) = %q, want %q", key, got, want)
			}
		})
	}
}

// TestKeysBindDistinctFields: every key sets its own field of Config, so
// that a library's field error finds its key.
func TestKeysBindDistinctFields(t *testing.T) {
	t.Parallel()
	c := newConfig()
	paths := fieldPaths(&c)
	seen := map[string]string{}
	for _, s := range c.keys() {
		var path string
		for p, k := range paths {
			if k == s.key {
				path = p
			}
		}
		if path == "" {
			t.Errorf("%s: its field is not in Config", s.key)
			continue
		}
		if other, dup := seen[path]; dup {
			t.Errorf("%s and %s both set %s", other, s.key, path)
		}
		seen[path] = s.key
	}
	for path, key := range fieldKeys {
		if paths[path] != key {
			t.Errorf("field %s: key %q, want %q", path, paths[path], key)
		}
	}
}

// TestReadmeShowsDefaults: the README's row of each key shows the key's
// default.
func TestReadmeShowsDefaults(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "| `"); ok {
			if key, _, ok := strings.Cut(rest, "`"); ok {
				rows[key] = line
			}
		}
	}
	for _, s := range keySpecs {
		if s.envOnly || s.text() == "" {
			continue
		}
		t.Run(s.key, func(t *testing.T) {
			t.Parallel()
			want := "`" + strings.ReplaceAll(s.text(), "|", `\|`) + "`"
			if !strings.Contains(rows[s.key], want) {
				t.Errorf("README row %q lacks the default %s", rows[s.key], want)
			}
		})
	}
}

// TestUsageShowsDefaults: --help gives each key's flag with its default.
func TestUsageShowsDefaults(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	usage(&b)
	for _, s := range keySpecs {
		if s.flag == "" || s.text() == "" || s.text() == "false" || s.text() == "0" { // pflag omits zero defaults
			continue
		}
		if !strings.Contains(b.String(), fmt.Sprintf("(default %q)", s.text())) && !strings.Contains(b.String(), fmt.Sprintf("(default %s)", s.text())) {
			t.Errorf("usage lacks --%s's default %s", s.flag, s.text())
		}
	}
}
