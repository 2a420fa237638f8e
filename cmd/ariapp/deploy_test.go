package main

// Checks that the files around the binary agree with config.go and with each
// other: the repository's config.yaml, docker-compose.yml, the Dockerfiles,
// the lab's Asterisk configs and the README. There is no Docker engine in
// the lab, so this is what keeps the container files honest.

import (
	"bufio"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// repoFile returns the path of a file at the repository root.
func repoFile(name string) string { return filepath.Join("..", "..", name) }

func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(repoFile(name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRepoConfigYAML: the shipped config.yaml (the lab's) loads, sets every
// key but the secrets, and spells out the defaults, except that it turns the
// DTMF feature codes on (they are off by default).
func TestRepoConfigYAML(t *testing.T) {
	t.Parallel()
	p := repoFile("config.yaml")
	got, err := loadConfig([]string{"--config", p}, env(withPassword(nil)))
	if err != nil {
		t.Fatalf("config.yaml: %v", err)
	}
	want := defaultConfig()
	want.File = p
	want.App.DTMF.Hold, want.App.DTMF.Resume = "*7", "*8"
	if !reflect.DeepEqual(got, want) {
		t.Errorf("config.yaml differs from the defaults:\n got %+v\nwant %+v", got, want)
	}
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(readRepoFile(t, "config.yaml")), &doc); err != nil {
		t.Fatal(err)
	}
	for _, s := range keySpecs {
		m, ok := doc, false
		parts := strings.Split(s.key, ".")
		for i, p := range parts {
			if i == len(parts)-1 {
				_, ok = m[p]
				break
			}
			if m, _ = m[p].(map[string]any); m == nil {
				break
			}
		}
		if s.envOnly && ok {
			t.Errorf("config.yaml sets env-only key %s", s.key)
		}
		if !s.envOnly && !ok {
			t.Errorf("config.yaml does not spell out %s", s.key)
		}
	}
}

// iniValue returns key's value in [section] of an Asterisk .conf file.
func iniValue(t *testing.T, name, section, key string) string {
	t.Helper()
	f, err := os.Open(repoFile(filepath.Join("asterisk", name)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cur := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(strings.SplitN(sc.Text(), ";", 2)[0])
		if strings.HasPrefix(line, "[") {
			cur = strings.SplitN(line[1:], "]", 2)[0]
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if ok && cur == section && strings.TrimSpace(k) == key {
			return strings.TrimSpace(strings.TrimPrefix(v, ">"))
		}
	}
	t.Fatalf("asterisk/%s: no %s in [%s]", name, key, section)
	return ""
}

// TestLabAsteriskMatchesDefaults: the default ARI URL, user and application
// are the ones the lab's Asterisk serves.
func TestLabAsteriskMatchesDefaults(t *testing.T) {
	t.Parallel()
	c := defaultConfig()
	bind := iniValue(t, "http.conf", "general", "bindaddr") + ":" + iniValue(t, "http.conf", "general", "bindport")
	if want := "http://" + bind + "/ari"; c.ARI.URL != want {
		t.Errorf("default ari.url %s, lab serves ARI at %s", c.ARI.URL, want)
	}
	if iniValue(t, "ari.conf", c.ARI.Username, "type") != "user" {
		t.Errorf("asterisk/ari.conf has no ARI user %q", c.ARI.Username)
	}
	dialplan := readRepoFile(t, "asterisk/extensions.conf")
	if !strings.Contains(dialplan, "Stasis("+c.ARI.Application+",") {
		t.Errorf("asterisk/extensions.conf never enters Stasis(%s,...)", c.ARI.Application)
	}
}

func TestDockerCompose(t *testing.T) {
	t.Parallel()
	type service struct {
		Build       map[string]any    `yaml:"build"`
		NetworkMode string            `yaml:"network_mode"`
		Environment map[string]string `yaml:"environment"`
		Command     []string          `yaml:"command"`
		DependsOn   map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
		Healthcheck map[string]any `yaml:"healthcheck"`
	}
	var doc struct {
		Services map[string]service `yaml:"services"`
	}
	dec := yaml.NewDecoder(strings.NewReader(readRepoFile(t, "docker-compose.yml")))
	dec.KnownFields(false)
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	if len(doc.Services) != 2 {
		t.Errorf("services %v, want asterisk and ariapp", reflect.ValueOf(doc.Services).MapKeys())
	}
	ast, app := doc.Services["asterisk"], doc.Services["ariapp"]
	t.Run("own network, beside the chroot lab", func(t *testing.T) {
		for name, s := range doc.Services {
			if s.NetworkMode != "" {
				t.Errorf("%s: network_mode %q, want the project's bridge network (the chroot lab holds the host's 8088, 5060 and 8090)", name, s.NetworkMode)
			}
		}
	})
	t.Run("build contexts", func(t *testing.T) {
		for name, ctx := range map[string]string{"asterisk": "./asterisk", "ariapp": "."} {
			got, _ := doc.Services[name].Build["context"].(string)
			if got != ctx {
				t.Errorf("%s: build context %q, want %q", name, got, ctx)
			}
			if _, err := os.Stat(repoFile(filepath.Join(ctx, "Dockerfile"))); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	})
	t.Run("password from env, default the lab's", func(t *testing.T) {
		want := "${" + passwordEnv + ":-" + iniValue(t, "ari.conf", "ariapp", "password") + "}"
		if got := app.Environment[passwordEnv]; got != want {
			t.Errorf("ariapp %s = %q, want %q", passwordEnv, got, want)
		}
	})
	t.Run("ariapp waits for a healthy asterisk", func(t *testing.T) {
		if app.DependsOn["asterisk"].Condition != "service_healthy" {
			t.Errorf("ariapp depends_on %+v", app.DependsOn)
		}
		if ast.Healthcheck["test"] == nil {
			t.Error("asterisk has no healthcheck")
		}
	})
	t.Run("ariapp config path", func(t *testing.T) {
		if want := []string{"--config", "/etc/ariapp/config.yaml"}; !reflect.DeepEqual(app.Command, want) {
			t.Errorf("ariapp command %q, want %q", app.Command, want)
		}
		flags := newFlagSet()
		if err := flags.Parse(app.Command); err != nil {
			t.Fatalf("command is not valid ariapp flags: %v", err)
		}
		if p, _ := flags.GetString("config"); p != "/etc/ariapp/config.yaml" {
			t.Errorf("--config %q", p)
		}
	})
}

func TestDockerfiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		want []string // regexps, each must match a line
	}{
		{"Dockerfile", []string{
			`^FROM golang:1\.\d+ AS build$`,
			`CGO_ENABLED=0 go build `,
			`-o /out/ariapp \./cmd/ariapp$`,
			`^COPY --from=build /out/ariapp /ariapp$`,
			`^COPY config\.yaml /etc/ariapp/config\.yaml$`,
			`^ENTRYPOINT \["/ariapp"\]$`,
			`^CMD \["--config", "/etc/ariapp/config\.yaml"\]$`,
		}},
		{"asterisk/Dockerfile", []string{
			`^FROM debian:sid$`,
			`asterisk asterisk-core-sounds-en asterisk-moh-opsound-wav`,
			`^COPY \*\.conf /etc/asterisk/$`,
			`^CMD \["asterisk", "-f", "-n"\]$`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			lines := strings.Split(readRepoFile(t, tt.file), "\n")
			for _, w := range tt.want {
				re := regexp.MustCompile(w)
				found := false
				for _, l := range lines {
					if re.MatchString(strings.TrimSpace(l)) {
						found = true
						break
					}
				}
				if !found {
					t.Errorf("no line matches %s", w)
				}
			}
		})
	}
}

// TestReadmeDocumentsConfig: the README's configuration table names every
// key, its environment variable and its flag.
func TestReadmeDocumentsConfig(t *testing.T) {
	t.Parallel()
	readme := readRepoFile(t, "README.md")
	for _, s := range keySpecs {
		t.Run(s.key, func(t *testing.T) {
			t.Parallel()
			for _, want := range []string{"`" + s.key + "`", "`" + envName(s.key) + "`"} {
				if !strings.Contains(readme, want) {
					t.Errorf("README.md lacks %s", want)
				}
			}
			if s.flag != "" && !strings.Contains(readme, "`--"+s.flag+"`") {
				t.Errorf("README.md lacks `--%s`", s.flag)
			}
		})
	}
}
