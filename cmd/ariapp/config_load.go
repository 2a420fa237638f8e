package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/ariapp/ariapp/api"
	"github.com/ariapp/ariapp/holdmusic"
	"github.com/ariapp/ariapp/internal/confcheck"
)

// defaultConfigFile is read when --config is not given; unlike an explicit
// --config file, it may be missing.
const defaultConfigFile = "config.yaml"

// errVersion is returned by loadConfig when --version was given: the caller
// prints the version and exits successfully.
var errVersion = errors.New("version requested")

// newFlagSet returns ariapp's command-line flags: one per key but the
// secrets, with the key's default as its default, so usage shows it.
func newFlagSet() *pflag.FlagSet {
	f := pflag.NewFlagSet("ariapp", pflag.ContinueOnError)
	f.SortFlags = false
	f.SetOutput(io.Discard)
	f.String("config", defaultConfigFile, "config file (YAML); a missing default file is ignored")
	for _, s := range keySpecs {
		if s.flag == "" {
			continue
		}
		if b, ok := s.ptr.(*bool); ok {
			f.Bool(s.flag, *b, s.usage)
		} else {
			f.Var(&flagText{text: s.text(), typ: s.kind()}, s.flag, s.usage)
		}
	}
	f.Bool("version", false, "print the version and exit")
	f.BoolP("help", "h", false, "print this help and exit")
	return f
}

// flagText is a flag's raw text, parsed with the other sources' values by
// loader.decode; typ names the value in --help. (Types that viper knows,
// such as "int", would make it convert the text itself, silently.)
type flagText struct{ text, typ string }

func (f *flagText) String() string     { return f.text }
func (f *flagText) Set(v string) error { f.text = v; return nil }
func (f *flagText) Type() string       { return f.typ }

// loadConfig parses args (without the program name), reads the config file
// and the environment through lookupEnv (os.LookupEnv in production) and
// returns the validated config. Precedence: flags > environment > file >
// defaults. An environment variable set to "" counts as unset.
//
// It returns pflag.ErrHelp for -h/--help and errVersion for --version. Every
// other error is a single line that names the offending key and where its
// value came from.
func loadConfig(args []string, lookupEnv func(string) (string, bool)) (Config, error) {
	c := newConfig()
	specs := c.keys()
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
	l := &loader{v: v, flags: flags, specs: specs, lookupEnv: lookupEnv, env: map[string]bool{}, inFile: map[string]bool{}}

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

	// 2. Defaults below everything; 3. the environment over the file; 4.
	// flags above everything.
	envMap := map[string]any{}
	for _, s := range specs {
		if s.envOnly {
			continue
		}
		v.SetDefault(s.key, s.value())
		if val, ok := lookupEnv(envName(s.key)); ok && val != "" {
			l.env[s.key] = true
			setNested(envMap, s.key, val)
		}
		if err := v.BindPFlag(s.key, flags.Lookup(s.flag)); err != nil {
			return Config{}, fmt.Errorf("flags: --%s: %w", s.flag, err)
		}
	}
	if err := v.MergeConfigMap(envMap); err != nil {
		return Config{}, oneLine(fmt.Errorf("environment: %w", err))
	}

	c.File = l.file
	return c, l.build(&c)
}

// setNested sets m's entry for a dotted key ("ari.tls.ca_file") in nested
// maps, the shape of the config file.
func setNested(m map[string]any, key string, val any) {
	parts := strings.Split(key, ".")
	for _, p := range parts[:len(parts)-1] {
		sub, _ := m[p].(map[string]any)
		if sub == nil {
			sub = map[string]any{}
			m[p] = sub
		}
		m = sub
	}
	m[parts[len(parts)-1]] = val
}

// loader builds a Config from a prepared viper instance and remembers where
// each value came from, for error messages.
type loader struct {
	v         *viper.Viper
	flags     *pflag.FlagSet
	specs     []keySpec
	lookupEnv func(string) (string, bool)
	file      string
	env       map[string]bool // keys the environment sets
	inFile    map[string]bool // keys the config file sets
	errs      []keyError
}

// keyError is one problem with one key.
type keyError struct {
	key string
	msg string
}

// checkFileKeys rejects unknown keys, secrets and empty values in the
// config file. It runs while v holds only the file's values.
func (l *loader) checkFileKeys() error {
	known := map[string]keySpec{}
	sections := map[string]bool{}
	for _, s := range l.specs {
		known[s.key] = s
		// Every prefix of a key is a section: "ari" and "ari.tls".
		for i, r := range s.key {
			if r == '.' {
				sections[s.key[:i]] = true
			}
		}
	}
	keys := l.v.AllKeys()
	sort.Strings(keys)
	var errs []string
	for _, k := range keys {
		val := l.v.Get(k)
		s, ok := known[k]
		switch {
		case k == nodesKey || strings.HasPrefix(k, nodesKey+"."):
			// Read and checked by loadNodes.
		case ok && s.envOnly:
			errs = append(errs, fmt.Sprintf("%s: must not be set in the config file %s; pass it in the %s environment variable", k, l.file, envName(k)))
		case sections[k] && val == nil:
			// An empty section ("hold:" with only comments below): fine.
		case sections[k]:
			errs = append(errs, fmt.Sprintf("%s: must be a section (a YAML mapping) in the config file %s", k, l.file))
		case !ok:
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
	for _, s := range l.specs {
		if s.key == key && s.flag != "" && l.flags.Changed(s.flag) {
			return "flag --" + s.flag
		}
	}
	if l.env[key] {
		return "environment " + envName(key)
	}
	if l.inFile[key] {
		return "config file " + l.file
	}
	return "default"
}

// fail records a problem with key's value.
func (l *loader) fail(key, format string, args ...any) {
	l.errs = append(l.errs, keyError{key, fmt.Sprintf("%s: %s (from %s)", key, fmt.Sprintf(format, args...), l.source(key))})
}

// failed reports whether a problem with key was already recorded.
func (l *loader) failed(key string) bool {
	for _, e := range l.errs {
		if e.key == key {
			return true
		}
	}
	return false
}

// build decodes every key into c and validates c: the libraries' configs
// with their own Validate, ariapp's settings with c.validate. A value that
// cannot be decoded leaves the field at its default, so it is reported
// once. All problems are reported together, in the order of the keys,
// joined into one line.
func (l *loader) build(c *Config) error {
	for _, s := range l.specs {
		l.decode(s)
	}
	listed := l.v.IsSet(nodesKey)
	for _, s := range l.specs {
		switch {
		case !s.required || l.failed(s.key) || !s.empty():
		case s.key == "ari.password" && listed:
			// Each node's password is checked with the node (loadNodes).
		case s.envOnly:
			l.errs = append(l.errs, keyError{s.key, fmt.Sprintf("%s: not set; export %s (%s)", s.key, envName(s.key), s.usage)})
		default:
			l.fail(s.key, "must not be empty")
		}
	}
	c.Log.Level = strings.ToLower(c.Log.Level)
	c.Log.Format = strings.ToLower(c.Log.Format)
	if err := (holdmusic.Config{Announcement: c.App.Music.Announcement}).Validate(); err != nil {
		l.fail("hold.announcement", "%v", err)
		c.App.Music.Announcement = "" // reported once, not again as hold.media's
	}
	if music, err := holdmusic.ParseMedia(c.Hold.Media); err != nil {
		l.fail("hold.media", "%v", err)
	} else {
		music.Announcement = c.App.Music.Announcement
		c.App.Music = music
	}
	c.App.AllowedMusic = nil
	for i, media := range c.Hold.AllowedMedia {
		if music, err := holdmusic.ParseMedia(media); err != nil {
			l.fail("hold.allowed_media", "item %d %q: %v", i, media, err)
		} else {
			c.App.AllowedMusic = append(c.App.AllowedMusic, music)
		}
	}

	paths := fieldPaths(c)
	l.loadTLS(paths, c)
	l.loadNodes(c)
	l.loadCluster(paths, c)
	l.fieldErrors(paths, "ARI.", c.ARI.Validate())
	l.fieldErrors(paths, "App.", c.App.Validate())
	apiCfg := c.API
	if apiCfg.Listen == "" {
		// No API; its other settings are still checked, so that a bad value
		// does not wait for the day the API is turned on.
		apiCfg.Listen = api.DefaultListen
	}
	l.fieldErrors(paths, "API.", apiCfg.Validate())
	l.fieldErrors(paths, "Webhooks.", c.webhookConfig().Validate())
	l.fieldErrors(paths, "", c.validate())

	if len(l.errs) == 0 {
		return nil
	}
	order := map[string]int{}
	for i, s := range l.specs {
		order[s.key] = i + 1
	}
	sort.SliceStable(l.errs, func(i, j int) bool { return order[l.errs[i].key] < order[l.errs[j].key] })
	msgs := make([]string, len(l.errs))
	for i, e := range l.errs {
		msgs[i] = e.msg
	}
	return oneLine(errors.New(strings.Join(msgs, "; ")))
}

// loadTLS reads the files of ari.tls.* into c.ARI.TLS, for an https URL
// (c.validate reports TLS settings beside an http URL), recording each file
// that cannot be used under its key.
func (l *loader) loadTLS(paths map[string]string, c *Config) {
	tlsCfg, err := c.ARITLS.load()
	if err == nil {
		if strings.HasPrefix(c.ARI.URL, "https://") {
			c.ARI.TLS = tlsCfg
		}
		return
	}
	errs := []error{err}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		errs = joined.Unwrap()
	}
	for _, e := range errs {
		var fe *tlsFileError
		if errors.As(e, &fe) {
			l.fail(paths["ARITLS."+fe.Field], "%v", fe.Err)
		} else {
			l.errs = append(l.errs, keyError{"", e.Error()})
		}
	}
}

// fieldErrors records the problems err (from a Validate) reports, each
// under the key of its field; prefix is where that Config sits in Config.
func (l *loader) fieldErrors(paths map[string]string, prefix string, err error) {
	if err == nil {
		return
	}
	var fes confcheck.Errors
	if !errors.As(err, &fes) {
		l.errs = append(l.errs, keyError{"", err.Error()})
		return
	}
	keyOf := func(field string) string {
		if k, ok := paths[prefix+field]; ok {
			return k
		}
		return prefix + field // a field no key sets: name it as Go does
	}
	for _, fe := range fes {
		key := keyOf(fe.Field)
		if !l.failed(key) {
			l.fail(key, "%s", fe.Explain(keyOf))
		}
	}
}

// fieldPaths maps the Go path of each of c's fields that a key sets
// ("ARI.RequestTimeout", "App.DTMF.Timeout") to the key.
func fieldPaths(c *Config) map[string]string {
	byAddr := map[uintptr]string{}
	var walk func(v reflect.Value, prefix string)
	walk = func(v reflect.Value, prefix string) {
		for i := 0; i < v.NumField(); i++ {
			f, sf := v.Field(i), v.Type().Field(i)
			if !sf.IsExported() {
				continue
			}
			if f.Kind() == reflect.Struct {
				walk(f, prefix+sf.Name+".")
				continue
			}
			byAddr[f.Addr().Pointer()] = prefix + sf.Name
		}
	}
	walk(reflect.ValueOf(c).Elem(), "")
	paths := map[string]string{}
	for path, key := range fieldKeys {
		paths[path] = key
	}
	for _, s := range c.keys() {
		paths[byAddr[reflect.ValueOf(s.ptr).Pointer()]] = s.key
	}
	return paths
}

// decode sets s's field from the merged value of its key; a value that
// does not parse is recorded and leaves the field as it is.
func (l *loader) decode(s keySpec) {
	if s.envOnly {
		if val, ok := l.lookupEnv(envName(s.key)); ok {
			*s.ptr.(*Secret) = Secret(val)
		}
		return
	}
	raw := l.v.Get(s.key)
	switch p := s.ptr.(type) {
	case *string:
		if v, ok := l.str(s.key, raw); ok {
			*p = v
		}
	case *time.Duration:
		if v, ok := l.duration(s.key, raw); ok {
			*p = v
		}
	case *int:
		if v, ok := l.integer(s.key, raw, strconv.IntSize); ok {
			*p = int(v)
		}
	case *int64:
		if v, ok := l.integer(s.key, raw, 64); ok {
			*p = v
		}
	case *bool:
		if v, ok := l.boolean(s.key, raw); ok {
			*p = v
		}
	case *[]string:
		if v, ok := l.stringList(s.key, raw); ok {
			*p = v
		}
	default:
		panic(fmt.Sprintf("key %s: unsupported field type %T", s.key, s.ptr))
	}
}

// str reads a trimmed string. YAML numbers and booleans are accepted as
// their text.
func (l *loader) str(key string, raw any) (string, bool) {
	switch x := raw.(type) {
	case string:
		return strings.TrimSpace(x), true
	case int, int64, uint64, float64, bool:
		return fmt.Sprint(x), true
	default:
		l.fail(key, "want a string, got %T", x)
		return "", false
	}
}

// duration reads a Go duration string with a unit ("5s", "100ms"): a bare
// number is rejected rather than read as nanoseconds.
func (l *loader) duration(key string, raw any) (time.Duration, bool) {
	switch x := raw.(type) {
	case time.Duration:
		return x, true
	case string:
		d, err := time.ParseDuration(strings.TrimSpace(x))
		if err != nil {
			l.fail(key, "invalid duration %q (want e.g. 5s, 250ms, 1m30s)", x)
			return 0, false
		}
		return d, true
	default:
		l.fail(key, "invalid duration %v (want a string with a unit, e.g. 5s)", x)
		return 0, false
	}
}

// integer reads an integer that fits in bits bits.
func (l *loader) integer(key string, raw any, bits int) (int64, bool) {
	var s string
	switch x := raw.(type) {
	case int, int64, uint64:
		s = fmt.Sprint(x)
	case string:
		s = strings.TrimSpace(x)
	default:
		l.fail(key, "invalid integer %v", x)
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, bits)
	if err != nil {
		l.fail(key, "invalid integer %q", s)
		return 0, false
	}
	return n, true
}

// boolean reads a bool ("true"/"false" from the environment or a flag).
func (l *loader) boolean(key string, raw any) (bool, bool) {
	switch x := raw.(type) {
	case bool:
		return x, true
	case string:
		b, err := strconv.ParseBool(strings.TrimSpace(x))
		if err != nil {
			l.fail(key, "invalid boolean %q (want true or false)", x)
			return false, false
		}
		return b, true
	default:
		l.fail(key, "invalid boolean %v (want true or false)", x)
		return false, false
	}
}

// stringList reads a list of trimmed, non-empty strings. From the
// environment or a flag (or any string) it is a comma-separated list.
func (l *loader) stringList(key string, raw any) ([]string, bool) {
	out := []string{}
	switch x := raw.(type) {
	case nil:
	case []string:
		for _, s := range x {
			out = append(out, strings.TrimSpace(s))
		}
	case []any:
		for i, it := range x {
			s, ok := it.(string)
			if !ok {
				l.fail(key, "item %d: want a string, got %v", i, it)
				return nil, false
			}
			out = append(out, strings.TrimSpace(s))
		}
	case string:
		for _, s := range strings.Split(x, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	default:
		l.fail(key, "want a list of strings, got %T", x)
		return nil, false
	}
	return out, true
}

// oneLine makes sure err's message is a single line.
func oneLine(err error) error {
	msg := err.Error()
	if !strings.ContainsAny(msg, "\r\n") {
		return err
	}
	return errors.New(strings.Join(strings.Fields(strings.NewReplacer("\r", " ", "\n", " ").Replace(msg)), " "))
}
