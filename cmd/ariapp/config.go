package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"go.uber.org/zap"

	"github.com/ariapp/ariapp/holdmusic"
)

// envPrefix starts the name of every environment variable ariapp reads:
// key ari.request_timeout is ARIAPP_ARI_REQUEST_TIMEOUT.
const envPrefix = "ARIAPP_"

// passwordEnv is the only place the ARI password may come from.
const passwordEnv = envPrefix + "ARI_PASSWORD"

// defaultConfigFile is read when --config is not given; unlike an explicit
// --config file, it may be missing.
const defaultConfigFile = "config.yaml"

// errVersion is returned by loadConfig when --version was given: the caller
// prints the version and exits successfully.
var errVersion = errors.New("version requested")

// Config is ariapp's whole configuration, loaded by loadConfig from (highest
// precedence first) flags, ARIAPP_* environment variables, the config file
// and built-in defaults. All values are validated.
type Config struct {
	// File is the config file that was read, or "" if none was.
	File     string
	ARI      ARIConfig
	Log      LogConfig
	Hold     HoldConfig
	Call     CallConfig
	Policy   PolicyConfig
	DTMF     DTMFConfig
	API      APIConfig
	Shutdown ShutdownConfig
}

// ShutdownConfig is what SIGTERM does.
type ShutdownConfig struct {
	// HangupCalls hangs every call up before stopping; by default calls stay
	// up in Asterisk and a restarted ariapp adopts them.
	HangupCalls bool
	// Timeout bounds the whole graceful stop.
	Timeout time.Duration
}

// DTMFConfig are the keypad feature codes; empty codes are off.
type DTMFConfig struct {
	// Hold and Resume are digit sequences such as "*7"; equal codes toggle.
	Hold, Resume string
	// Timeout is the longest pause between the digits of one code.
	Timeout time.Duration
}

// APIConfig is the control API's.
type APIConfig struct {
	// Listen is host:port; "" turns the API off.
	Listen string
	// Token, from ARIAPP_API_TOKEN only, is then required as a bearer token.
	Token Secret
}

// ARIConfig is how ariapp reaches Asterisk's REST Interface.
type ARIConfig struct {
	// URL is the ARI base URL (http or https, no credentials, no trailing
	// slash), e.g. http://127.0.0.1:8088/ari.
	URL string
	// Username is the ari.conf user ariapp logs in as.
	Username string
	// Password comes only from ARIAPP_ARI_PASSWORD. It prints as
	// "[redacted]"; use Password.Reveal() to get the value.
	Password Secret
	// Application is the Stasis application name the dialplan sends calls to.
	Application string
	// RequestTimeout bounds one REST request.
	RequestTimeout time.Duration
	// ReconnectMin and ReconnectMax bound the back-off between event
	// WebSocket reconnection attempts.
	ReconnectMin time.Duration
	ReconnectMax time.Duration
	// EventQueue is how many ARI events may wait to be handled.
	EventQueue int
}

// LogConfig selects the log level and encoding.
type LogConfig struct {
	// Level is one of debug, info, warn, error.
	Level string
	// Format is json or console.
	Format string
}

// HoldConfig configures what a held party hears.
type HoldConfig struct {
	// Media is the ARI media URI played to a held party, e.g.
	// "tone:440/500|0/2500". It is validated by the package that plays it,
	// not here.
	Media string
	// Music is Media parsed and validated by holdmusic.ParseMedia.
	Music holdmusic.Config
}

// CallConfig configures the life cycle of a call.
type CallConfig struct {
	// AnswerTimeout is how long a callee may ring before the call ends.
	AnswerTimeout time.Duration
	// StepTimeout bounds the wait for Asterisk's confirming event of one
	// step of a hold, resume or call set-up.
	StepTimeout time.Duration
}

// PolicyConfig restricts who may use which feature.
type PolicyConfig struct {
	// HoldAllowedEndpoints lists the endpoints allowed to hold a call;
	// empty means every endpoint may.
	HoldAllowedEndpoints []string
	// MaxHoldsPerCall limits the holds one call may take (0: no limit).
	MaxHoldsPerCall int
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

// kind is the type of a config key's value.
type kind int

const (
	kindString kind = iota
	kindDuration
	kindInt
	kindStringList
	kindBool
)

// String names the kind in usage text.
func (k kind) String() string {
	switch k {
	case kindDuration:
		return "duration"
	case kindInt:
		return "integer"
	case kindStringList:
		return "comma-separated list"
	case kindBool:
		return "true or false"
	default:
		return "string"
	}
}

// keySpec describes one config key: its default, the flag that can set it
// (if any) and the flag's help text.
type keySpec struct {
	key     string
	kind    kind
	def     any
	flag    string
	usage   string
	envOnly bool // may be set only through the environment
}

// keySpecs lists every key ariapp knows. A config file key not listed here
// is an error.
var keySpecs = []keySpec{
	{key: "ari.url", kind: kindString, def: "http://127.0.0.1:8088/ari", flag: "ari-url", usage: "ARI base URL"},
	{key: "ari.username", kind: kindString, def: "ariapp", flag: "ari-username", usage: "ARI user (ari.conf)"},
	{key: "ari.password", kind: kindString, def: "", envOnly: true},
	{key: "ari.application", kind: kindString, def: "ariapp", flag: "ari-application", usage: "Stasis application name"},
	{key: "ari.request_timeout", kind: kindDuration, def: 5 * time.Second},
	{key: "ari.reconnect_min", kind: kindDuration, def: 100 * time.Millisecond},
	{key: "ari.reconnect_max", kind: kindDuration, def: 5 * time.Second},
	{key: "ari.event_queue", kind: kindInt, def: 4096},
	{key: "log.level", kind: kindString, def: "info", flag: "log-level", usage: "log level: debug, info, warn or error"},
	{key: "log.format", kind: kindString, def: "json", flag: "log-format", usage: "log format: json or console"},
	{key: "hold.media", kind: kindString, def: "tone:440/500|0/2500"},
	{key: "call.answer_timeout", kind: kindDuration, def: 30 * time.Second},
	{key: "call.step_timeout", kind: kindDuration, def: 5 * time.Second},
	{key: "policy.hold_allowed_endpoints", kind: kindStringList, def: []string{}},
	{key: "policy.max_holds_per_call", kind: kindInt, def: 0},
	{key: "dtmf.hold", kind: kindString, def: ""},
	{key: "dtmf.resume", kind: kindString, def: ""},
	{key: "dtmf.timeout", kind: kindDuration, def: 3 * time.Second},
	{key: "api.listen", kind: kindString, def: "127.0.0.1:8090", flag: "api-listen", usage: "control API address (host:port; empty: no API)"},
	{key: "api.token", kind: kindString, def: "", envOnly: true},
	{key: "shutdown.hangup_calls", kind: kindBool, def: false},
	{key: "shutdown.timeout", kind: kindDuration, def: 10 * time.Second},
}

// envOnlyKeys are the secrets, which may come only from the environment.
var envOnlyKeys = func() map[string]bool {
	m := map[string]bool{}
	for _, s := range keySpecs {
		if s.envOnly {
			m[s.key] = true
		}
	}
	return m
}()

// maxEventQueue bounds ari.event_queue to something a machine can hold.
const maxEventQueue = 1 << 20

// envName returns the environment variable for a config key.
func envName(key string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// newFlagSet returns ariapp's command-line flags. Flags that set config keys
// have the keys' defaults as their defaults, so usage shows them.
func newFlagSet() *pflag.FlagSet {
	f := pflag.NewFlagSet("ariapp", pflag.ContinueOnError)
	f.SortFlags = false
	f.SetOutput(io.Discard)
	f.String("config", defaultConfigFile, "config file (YAML); a missing default file is ignored")
	for _, s := range keySpecs {
		if s.flag != "" {
			f.String(s.flag, fmt.Sprint(s.def), s.usage)
		}
	}
	f.Bool("version", false, "print the version and exit")
	f.BoolP("help", "h", false, "print this help and exit")
	return f
}

// usage writes ariapp's command-line help, including the environment
// variables, to w.
func usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: ariapp [flags]\n\nFlags:\n%s\n", newFlagSet().FlagUsages())
	fmt.Fprintf(w, "Environment (overrides the config file, overridden by flags):\n")
	for _, s := range keySpecs {
		detail := fmt.Sprintf("%s, default %q", s.kind, fmt.Sprint(s.def))
		if list, ok := s.def.([]string); ok {
			detail = fmt.Sprintf("%s, default %q", s.kind, strings.Join(list, ","))
		}
		if s.envOnly {
			detail = "environment only"
			if s.key == "ari.password" {
				detail = "required; environment only"
			}
		}
		fmt.Fprintf(w, "  %-37s %s (%s)\n", envName(s.key), s.key, detail)
	}
}

// loadConfig parses args (without the program name), reads the config file
// and the environment through lookupEnv (os.LookupEnv in production) and
// returns the validated config. Precedence: flags > environment > file >
// defaults. An environment variable set to "" counts as unset.
//
// It returns pflag.ErrHelp for -h/--help and errVersion for --version. Every
// other error is a single line that names the offending key.
func loadConfig(args []string, lookupEnv func(string) (string, bool)) (Config, error) {
	flags := newFlagSet()
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return Config{}, err
		}
		return Config{}, oneLine(fmt.Errorf("flags: %w", err))
	}
	if help, _ := flags.GetBool("help"); help {
		return Config{}, pflag.ErrHelp
	}
	if v, _ := flags.GetBool("version"); v {
		return Config{}, errVersion
	}
	if flags.NArg() > 0 {
		return Config{}, fmt.Errorf("flags: unexpected argument %q (ariapp takes flags only)", flags.Arg(0))
	}

	v := viper.New()
	l := &loader{v: v, flags: flags, lookupEnv: lookupEnv, env: map[string]string{}, inFile: map[string]bool{}}

	// 1. The config file, alone in v, so its keys can be checked.
	path, _ := flags.GetString("config")
	explicit := flags.Changed("config")
	if path == "" {
		return Config{}, errors.New("flags: --config must not be empty")
	}
	v.SetConfigType("yaml")
	v.SetConfigFile(path)
	switch err := v.ReadInConfig(); {
	case err == nil:
		l.file = path
		if err := l.checkFileKeys(); err != nil {
			return Config{}, err
		}
	case errors.Is(err, fs.ErrNotExist) && !explicit:
		// No default config file: defaults, environment and flags only.
	default:
		return Config{}, oneLine(fmt.Errorf("config file %s: %w", path, err))
	}

	// 2. Defaults below everything.
	for _, s := range keySpecs {
		if !s.envOnly {
			v.SetDefault(s.key, s.def)
		}
	}

	// 3. The environment, merged over the file's values.
	envMap := map[string]any{}
	for _, s := range keySpecs {
		if s.envOnly {
			continue
		}
		if val, ok := lookupEnv(envName(s.key)); ok && val != "" {
			l.env[s.key] = val
			section, leaf, _ := strings.Cut(s.key, ".")
			m, _ := envMap[section].(map[string]any)
			if m == nil {
				m = map[string]any{}
				envMap[section] = m
			}
			m[leaf] = val
		}
	}
	if err := v.MergeConfigMap(envMap); err != nil {
		return Config{}, oneLine(fmt.Errorf("environment: %w", err))
	}

	// 4. Flags above everything.
	for _, s := range keySpecs {
		if s.flag != "" {
			if err := v.BindPFlag(s.key, flags.Lookup(s.flag)); err != nil {
				return Config{}, fmt.Errorf("flags: --%s: %w", s.flag, err)
			}
		}
	}

	return l.build()
}

// loader builds a Config from a prepared viper instance and remembers where
// each value came from, for error messages.
type loader struct {
	v         *viper.Viper
	flags     *pflag.FlagSet
	lookupEnv func(string) (string, bool)
	file      string
	env       map[string]string // key -> raw environment value
	inFile    map[string]bool   // keys the config file sets
	errs      []string
}

// checkFileKeys rejects unknown keys, the password and empty values in the
// config file. It runs while v holds only the file's values.
func (l *loader) checkFileKeys() error {
	known := map[string]bool{}
	sections := map[string]bool{}
	for _, s := range keySpecs {
		known[s.key] = true
		section, _, _ := strings.Cut(s.key, ".")
		sections[section] = true
	}
	keys := l.v.AllKeys()
	sort.Strings(keys)
	var errs []string
	for _, k := range keys {
		val := l.v.Get(k)
		switch {
		case envOnlyKeys[k]:
			errs = append(errs, fmt.Sprintf("%s: must not be set in the config file %s; pass it in the %s environment variable", k, l.file, envName(k)))
		case sections[k] && val == nil:
			// An empty section ("hold:" with only comments below): fine.
		case sections[k]:
			errs = append(errs, fmt.Sprintf("%s: must be a section (a YAML mapping) in the config file %s", k, l.file))
		case !known[k]:
			errs = append(errs, fmt.Sprintf("%s: unknown key in the config file %s", k, l.file))
		case val == nil:
			errs = append(errs, fmt.Sprintf("%s: has no value in the config file %s (give one, or remove the line for the default)", k, l.file))
		default:
			l.inFile[k] = true
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// source says where key's value came from: a flag, the environment, the
// config file or the default.
func (l *loader) source(key string) string {
	for _, s := range keySpecs {
		if s.key == key && s.flag != "" && l.flags.Changed(s.flag) {
			return "flag --" + s.flag
		}
	}
	if _, ok := l.env[key]; ok {
		return "environment " + envName(key)
	}
	if l.inFile[key] {
		return "config file " + l.file
	}
	return "default"
}

// fail records a validation error for key.
func (l *loader) fail(key, format string, args ...any) {
	l.errs = append(l.errs, fmt.Sprintf("%s: %s (from %s)", key, fmt.Sprintf(format, args...), l.source(key)))
}

// str returns key's value as a trimmed string. YAML numbers and booleans
// are accepted as their text.
func (l *loader) str(key string) string {
	switch x := l.v.Get(key).(type) {
	case string:
		return strings.TrimSpace(x)
	case int, int64, uint64, float64, bool:
		return fmt.Sprint(x)
	default:
		l.fail(key, "want a string, got %T", x)
		return ""
	}
}

// duration returns key's value, which must be a Go duration string with a
// unit ("5s", "100ms"): a bare number is rejected rather than read as
// nanoseconds.
func (l *loader) duration(key string) time.Duration {
	switch x := l.v.Get(key).(type) {
	case time.Duration:
		return x
	case string:
		d, err := time.ParseDuration(strings.TrimSpace(x))
		if err != nil {
			l.fail(key, "invalid duration %q (want e.g. 5s, 250ms, 1m30s)", x)
			return 0
		}
		return d
	default:
		l.fail(key, "invalid duration %v (want a string with a unit, e.g. 5s)", x)
		return 0
	}
}

// positiveDuration is duration that must also be > 0.
func (l *loader) positiveDuration(key string) time.Duration {
	d := l.duration(key)
	if d <= 0 && !l.failed(key) {
		l.fail(key, "must be greater than 0, got %s", d)
	}
	return d
}

// failed reports whether an error for key was already recorded.
func (l *loader) failed(key string) bool {
	for _, e := range l.errs {
		if strings.HasPrefix(e, key+": ") {
			return true
		}
	}
	return false
}

// integer returns key's value as an int.
func (l *loader) integer(key string) int {
	switch x := l.v.Get(key).(type) {
	case int:
		return x
	case int64:
		return int(x)
	case uint64:
		return int(x)
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(x))
		if err != nil {
			l.fail(key, "invalid integer %q", x)
			return 0
		}
		return n
	default:
		l.fail(key, "invalid integer %v", x)
		return 0
	}
}

// boolean returns key's value as a bool ("true"/"false" from the
// environment or a flag).
func (l *loader) boolean(key string) bool {
	switch x := l.v.Get(key).(type) {
	case bool:
		return x
	case string:
		b, err := strconv.ParseBool(strings.TrimSpace(x))
		if err != nil {
			l.fail(key, "invalid boolean %q (want true or false)", x)
		}
		return b
	default:
		l.fail(key, "invalid boolean %v (want true or false)", x)
		return false
	}
}

// stringList returns key's value as a list of non-empty strings. From the
// environment (or any string) it is a comma-separated list.
func (l *loader) stringList(key string) []string {
	var items []string
	switch x := l.v.Get(key).(type) {
	case []string:
		items = x
	case []any:
		for i, it := range x {
			s, ok := it.(string)
			if !ok {
				l.fail(key, "item %d: want a string, got %v", i, it)
				return nil
			}
			if strings.TrimSpace(s) == "" {
				l.fail(key, "item %d is empty", i)
				return nil
			}
			items = append(items, s)
		}
	case string:
		for _, s := range strings.Split(x, ",") {
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
		}
	default:
		l.fail(key, "want a list of strings, got %T", x)
		return nil
	}
	out := make([]string, 0, len(items))
	for _, s := range items {
		out = append(out, strings.TrimSpace(s))
	}
	return out
}

// build reads and validates every key. All problems are reported together,
// joined into one line.
func (l *loader) build() (Config, error) {
	c := Config{File: l.file}

	c.ARI.URL = l.ariURL("ari.url")
	c.ARI.Username = l.str("ari.username")
	if c.ARI.Username == "" && !l.failed("ari.username") {
		l.fail("ari.username", "must not be empty")
	} else if strings.Contains(c.ARI.Username, ":") {
		l.fail("ari.username", "must not contain ':'")
	}
	if pw, ok := l.lookupEnv(passwordEnv); ok {
		c.ARI.Password = Secret(pw)
	}
	if !c.ARI.Password.IsSet() {
		l.errs = append(l.errs, fmt.Sprintf("ari.password: not set; export %s (the password of the ARI user in Asterisk's ari.conf)", passwordEnv))
	}
	c.ARI.Application = l.str("ari.application")
	if c.ARI.Application == "" && !l.failed("ari.application") {
		l.fail("ari.application", "must not be empty")
	} else if strings.ContainsAny(c.ARI.Application, ", \t/?&#") {
		l.fail("ari.application", "invalid application name %q (no commas, spaces, '/', '?', '&' or '#')", c.ARI.Application)
	}
	c.ARI.RequestTimeout = l.positiveDuration("ari.request_timeout")
	c.ARI.ReconnectMin = l.positiveDuration("ari.reconnect_min")
	c.ARI.ReconnectMax = l.positiveDuration("ari.reconnect_max")
	if c.ARI.ReconnectMin > 0 && c.ARI.ReconnectMax > 0 && c.ARI.ReconnectMax < c.ARI.ReconnectMin {
		l.fail("ari.reconnect_max", "%s is less than ari.reconnect_min %s", c.ARI.ReconnectMax, c.ARI.ReconnectMin)
	}
	c.ARI.EventQueue = l.integer("ari.event_queue")
	if (c.ARI.EventQueue < 1 || c.ARI.EventQueue > maxEventQueue) && !l.failed("ari.event_queue") {
		l.fail("ari.event_queue", "must be between 1 and %d, got %d", maxEventQueue, c.ARI.EventQueue)
	}

	c.Log.Level = strings.ToLower(l.str("log.level"))
	if _, ok := logLevels[c.Log.Level]; !ok && !l.failed("log.level") {
		l.fail("log.level", "invalid level %q (want debug, info, warn or error)", c.Log.Level)
	}
	c.Log.Format = strings.ToLower(l.str("log.format"))
	if c.Log.Format != "json" && c.Log.Format != "console" && !l.failed("log.format") {
		l.fail("log.format", "invalid format %q (want json or console)", c.Log.Format)
	}

	c.Hold.Media = l.str("hold.media")
	if !l.failed("hold.media") {
		music, err := holdmusic.ParseMedia(c.Hold.Media)
		if err != nil {
			l.fail("hold.media", "%v", err)
		}
		c.Hold.Music = music
	}
	c.Call.AnswerTimeout = l.positiveDuration("call.answer_timeout")
	if c.Call.AnswerTimeout > 0 && c.Call.AnswerTimeout < time.Second {
		l.fail("call.answer_timeout", "must be at least 1s, got %s", c.Call.AnswerTimeout)
	}
	c.Call.StepTimeout = l.positiveDuration("call.step_timeout")
	if c.Call.StepTimeout > 0 && c.Call.StepTimeout < 10*time.Millisecond {
		l.fail("call.step_timeout", "must be at least 10ms, got %s", c.Call.StepTimeout)
	}
	c.Policy.HoldAllowedEndpoints = l.stringList("policy.hold_allowed_endpoints")
	c.Policy.MaxHoldsPerCall = l.integer("policy.max_holds_per_call")
	if c.Policy.MaxHoldsPerCall < 0 && !l.failed("policy.max_holds_per_call") {
		l.fail("policy.max_holds_per_call", "must not be negative, got %d", c.Policy.MaxHoldsPerCall)
	}

	c.DTMF.Hold = l.str("dtmf.hold")
	c.DTMF.Resume = l.str("dtmf.resume")
	for _, k := range []string{"dtmf.hold", "dtmf.resume"} {
		code := l.str(k)
		if strings.Trim(code, "0123456789*#ABCD") != "" && !l.failed(k) {
			l.fail(k, "%q: only DTMF digits 0-9, *, #, A-D", code)
		}
	}
	if h, r := c.DTMF.Hold, c.DTMF.Resume; h != "" && r != "" && h != r && (strings.HasSuffix(h, r) || strings.HasSuffix(r, h)) {
		l.fail("dtmf.resume", "%q and dtmf.hold %q overlap (one ends the other); use distinct codes, or the same code to toggle", r, h)
	}
	c.DTMF.Timeout = l.positiveDuration("dtmf.timeout")
	c.API.Listen = l.str("api.listen")
	if c.API.Listen != "" && !l.failed("api.listen") {
		if host, port, err := net.SplitHostPort(c.API.Listen); err != nil || port == "" {
			l.fail("api.listen", "%q is not host:port", c.API.Listen)
		} else if host == "" {
			l.fail("api.listen", "%q has no host: name the interface (127.0.0.1 for loopback only)", c.API.Listen)
		}
	}
	if tok, ok := l.lookupEnv(envName("api.token")); ok {
		c.API.Token = Secret(tok)
	}
	c.Shutdown.HangupCalls = l.boolean("shutdown.hangup_calls")
	c.Shutdown.Timeout = l.positiveDuration("shutdown.timeout")

	if len(l.errs) > 0 {
		return Config{}, oneLine(errors.New(strings.Join(l.errs, "; ")))
	}
	return c, nil
}

// ariURL returns key's value as an http(s) URL without credentials, query or
// fragment, with any trailing slash removed.
func (l *loader) ariURL(key string) string {
	raw := l.str(key)
	if l.failed(key) {
		return ""
	}
	if raw == "" {
		l.fail(key, "must not be empty")
		return ""
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		l.fail(key, "invalid URL %q", raw)
	case u.Scheme != "http" && u.Scheme != "https":
		l.fail(key, "URL %q must start with http:// or https://", raw)
	case u.Host == "":
		l.fail(key, "URL %q has no host", raw)
	case u.User != nil:
		l.fail(key, "URL must not contain credentials; set ari.username and %s", passwordEnv)
	case u.RawQuery != "" || u.Fragment != "":
		l.fail(key, "URL %q must not have a query or fragment", raw)
	default:
		return strings.TrimRight(raw, "/")
	}
	return ""
}

// oneLine makes sure err's message is a single line.
func oneLine(err error) error {
	msg := err.Error()
	if !strings.ContainsAny(msg, "\r\n") {
		return err
	}
	return errors.New(strings.Join(strings.Fields(strings.NewReplacer("\r", " ", "\n", " ").Replace(msg)), " "))
}

// String returns the config on one line as key=value pairs. The password
// is never included, only whether it is set.
func (c Config) String() string {
	return fmt.Sprintf("config_file=%q ari.url=%q ari.username=%q password_set=%t ari.application=%q "+
		"ari.request_timeout=%s ari.reconnect_min=%s ari.reconnect_max=%s ari.event_queue=%d "+
		"log.level=%s log.format=%s hold.media=%q call.answer_timeout=%s call.step_timeout=%s "+
		"policy.hold_allowed_endpoints=%q policy.max_holds_per_call=%d dtmf.hold=%q dtmf.resume=%q dtmf.timeout=%s "+
		"api.listen=%q token_set=%t shutdown.hangup_calls=%t shutdown.timeout=%s",
		c.File, c.ARI.URL, c.ARI.Username, c.ARI.Password.IsSet(), c.ARI.Application,
		c.ARI.RequestTimeout, c.ARI.ReconnectMin, c.ARI.ReconnectMax, c.ARI.EventQueue,
		c.Log.Level, c.Log.Format, c.Hold.Media, c.Call.AnswerTimeout, c.Call.StepTimeout,
		c.Policy.HoldAllowedEndpoints, c.Policy.MaxHoldsPerCall, c.DTMF.Hold, c.DTMF.Resume, c.DTMF.Timeout,
		c.API.Listen, c.API.Token.IsSet(), c.Shutdown.HangupCalls, c.Shutdown.Timeout)
}

// LogFields returns the config as zap fields, for one start-up log line.
// The password is never included, only password_set.
func (c Config) LogFields() []zap.Field {
	return []zap.Field{
		zap.String("config_file", c.File),
		zap.String("ari_url", c.ARI.URL),
		zap.String("ari_username", c.ARI.Username),
		zap.Bool("password_set", c.ARI.Password.IsSet()),
		zap.String("ari_application", c.ARI.Application),
		zap.Duration("ari_request_timeout", c.ARI.RequestTimeout),
		zap.Duration("ari_reconnect_min", c.ARI.ReconnectMin),
		zap.Duration("ari_reconnect_max", c.ARI.ReconnectMax),
		zap.Int("ari_event_queue", c.ARI.EventQueue),
		zap.String("log_level", c.Log.Level),
		zap.String("log_format", c.Log.Format),
		zap.String("hold_media", c.Hold.Media),
		zap.Duration("call_answer_timeout", c.Call.AnswerTimeout),
		zap.Duration("call_step_timeout", c.Call.StepTimeout),
		zap.Strings("policy_hold_allowed_endpoints", c.Policy.HoldAllowedEndpoints),
		zap.Int("policy_max_holds_per_call", c.Policy.MaxHoldsPerCall),
		zap.String("dtmf_hold", c.DTMF.Hold),
		zap.String("dtmf_resume", c.DTMF.Resume),
		zap.Duration("dtmf_timeout", c.DTMF.Timeout),
		zap.String("api_listen", c.API.Listen),
		zap.Bool("api_token_set", c.API.Token.IsSet()),
		zap.Bool("shutdown_hangup_calls", c.Shutdown.HangupCalls),
		zap.Duration("shutdown_timeout", c.Shutdown.Timeout),
	}
}
