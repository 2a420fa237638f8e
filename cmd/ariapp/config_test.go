package main

import (
	"github.com/ariapp/ariapp/holdmusic"

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

// defaultConfig is the config with every default and the test password.
func defaultConfig() Config {
	return Config{
		ARI: ARIConfig{
			URL:            "http://127.0.0.1:8088/ari",
			Username:       "ariapp",
			Password:       testPassword,
			Application:    "ariapp",
			RequestTimeout: 5 * time.Second,
			ReconnectMin:   100 * time.Millisecond,
			ReconnectMax:   5 * time.Second,
			EventQueue:     4096,
		},
		Log:      LogConfig{Level: "info", Format: "json"},
		Hold:     HoldConfig{Media: "tone:440/500|0/2500", Music: holdmusic.Config{Mode: holdmusic.ModeTone, Tone: "440/500|0/2500"}},
		Call:     CallConfig{AnswerTimeout: 30 * time.Second, StepTimeout: 5 * time.Second},
		Policy:   PolicyConfig{HoldAllowedEndpoints: []string{}},
		DTMF:     DTMFConfig{Timeout: 3 * time.Second},
		API:      APIConfig{Listen: "127.0.0.1:8090"},
		Shutdown: ShutdownConfig{Timeout: 10 * time.Second},
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
log:
  level: DEBUG
  format: console
hold:
  media: sound:hold-music
call:
  answer_timeout: 45s
policy:
  hold_allowed_endpoints: [PJSIP/alice, " PJSIP/bob "]
`)
	got, err := loadConfig([]string{"--config", p}, env(withPassword(nil)))
	if err != nil {
		t.Fatalf("loadConfig: %v", err)
	}
	want := Config{
		File: p,
		ARI: ARIConfig{
			URL: "https://pbx.example.test:8089/ari", Username: "ops", Password: testPassword,
			Application: "myapp", RequestTimeout: 2 * time.Second, ReconnectMin: 250 * time.Millisecond,
			ReconnectMax: time.Minute, EventQueue: 64,
		},
		Log:      LogConfig{Level: "debug", Format: "console"},
		Hold:     HoldConfig{Media: "sound:hold-music", Music: holdmusic.Config{Mode: holdmusic.ModeSounds, Sounds: []string{"sound:hold-music"}}},
		Call:     CallConfig{AnswerTimeout: 45 * time.Second, StepTimeout: 5 * time.Second},
		Policy:   PolicyConfig{HoldAllowedEndpoints: []string{"PJSIP/alice", "PJSIP/bob"}},
		DTMF:     DTMFConfig{Timeout: 3 * time.Second},
		API:      APIConfig{Listen: "127.0.0.1:8090"},
		Shutdown: ShutdownConfig{Timeout: 10 * time.Second},
	}
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
			pick: func(c Config) any { return c.ARI.EventQueue }, want: 12},
		{name: "env list is comma separated", env: map[string]string{"ARIAPP_POLICY_HOLD_ALLOWED_ENDPOINTS": "PJSIP/alice, PJSIP/bob,,"},
			pick: func(c Config) any { return c.Policy.HoldAllowedEndpoints }, want: []string{"PJSIP/alice", "PJSIP/bob"}},
		{name: "env section without flag", env: map[string]string{"ARIAPP_HOLD_MEDIA": "sound:beep", "ARIAPP_CALL_ANSWER_TIMEOUT": "5s"},
			pick: func(c Config) any { return []any{c.Hold.Media, c.Call.AnswerTimeout} }, want: []any{"sound:beep", 5 * time.Second}},
		{name: "flag application and username", args: []string{"--ari-application", "app2", "--ari-username", "u2"},
			pick: func(c Config) any { return c.ARI.Application + "/" + c.ARI.Username }, want: "app2/u2"},
		{name: "format flag", args: []string{"--log-format", "Console"}, pick: func(c Config) any { return c.Log.Format }, want: "console"},
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
		{name: "unknown top-level scalar", file: "debug: true\n", want: []string{"debug: unknown key"}},
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
			want: []string{"call.answer_timeout: must be greater than 0"}},
		{name: "reconnect max below min", file: "ari:\n  reconnect_min: 2s\n  reconnect_max: 1s\n",
			want: []string{"ari.reconnect_max: 1s is less than ari.reconnect_min 2s"}},
		{name: "bad level", args: []string{"--log-level", "trace"},
			want: []string{`log.level: invalid level "trace"`, "from flag --log-level"}},
		{name: "bad format", file: "log:\n  format: xml\n", want: []string{`log.format: invalid format "xml"`}},
		{name: "overlapping dtmf codes", file: "dtmf:\n  hold: \"*7\"\n  resume: \"7\"\n", want: []string{"dtmf.resume", "overlap"}},
		{name: "bad dtmf digit", file: "dtmf:\n  hold: \"*x\"\n", want: []string{"dtmf.hold", "only DTMF digits"}},
		{name: "bad hold media", file: "hold:\n  media: \"tone:440,0/2500\"\n", want: []string{"hold.media", "'|'"}},
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
		{name: "empty mapping section", file: "policy: {}\n", pick: func(c Config) any { return c.Policy.HoldAllowedEndpoints }, want: []string{}},
		{name: "keys are case-insensitive", file: "ARI:\n  URL: http://upper.test/ari\n", pick: pickURL, want: "http://upper.test/ari"},
		{name: "trailing slash removed", file: "ari:\n  url: http://x.test/ari//\n", pick: pickURL, want: "http://x.test/ari"},
		{name: "numeric username", file: "ari:\n  username: 1001\n", pick: func(c Config) any { return c.ARI.Username }, want: "1001"},
		{name: "empty list", file: "policy:\n  hold_allowed_endpoints: []\n", pick: func(c Config) any { return c.Policy.HoldAllowedEndpoints }, want: []string{}},
		{name: "media with pipes kept verbatim", file: "hold:\n  media: \"tone:480+620/500|0/500\"\n", pick: func(c Config) any { return c.Hold.Media }, want: "tone:480+620/500|0/500"},
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
	if c.ARI.Password.Reveal() != testPassword {
		t.Fatalf("Reveal() = %q", c.ARI.Password.Reveal())
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
	if !strings.Contains(c.String(), "password_set=true") {
		t.Errorf("String() lacks password_set=true: %s", c.String())
	}
	if !strings.Contains(logged.String(), `"password_set":true`) {
		t.Errorf("log lacks password_set:true: %s", logged.String())
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
