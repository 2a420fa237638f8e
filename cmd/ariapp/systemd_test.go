package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ariapp/ariapp/internal/labtest"
)

// unitFile is the systemd unit the repository ships.
const unitFile = "deploy/ariapp.service"

// unitSettings returns the unit's settings: section -> key -> values, in
// the order given (a key may repeat).
func unitSettings(t *testing.T) map[string]map[string][]string {
	t.Helper()
	out := map[string]map[string][]string{}
	section := ""
	sc := bufio.NewScanner(strings.NewReader(readRepoFile(t, unitFile)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
			out[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s: line %q is no key=value", unitFile, line)
			}
			out[section][k] = append(out[section][k], v)
		}
	}
	return out
}

// TestSystemdUnit: the unit runs ariapp as a notify service of its own
// user, hardened, restarted on failure, with the password from an
// environment file and none in the unit; its ExecStart is a command line
// this ariapp accepts.
func TestSystemdUnit(t *testing.T) {
	t.Parallel()
	svc := unitSettings(t)["Service"]
	for key, want := range map[string]string{
		"Type": "notify", "DynamicUser": "yes", "Restart": "on-failure", "RestartPreventExitStatus": "2",
		"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
		"PrivateDevices": "yes", "CapabilityBoundingSet": "", "EnvironmentFile": "/etc/ariapp/ariapp.env",
	} {
		if got := svc[key]; len(got) != 1 || got[0] != want {
			t.Errorf("[Service] %s = %q, want %q", key, got, want)
		}
	}
	for _, e := range svc["Environment"] {
		if strings.Contains(e, passwordEnv) || strings.Contains(e, envName("api.token")) {
			t.Errorf("[Service] Environment=%s puts a secret in the unit", e)
		}
	}
	execStart := svc["ExecStart"]
	if len(execStart) != 1 {
		t.Fatalf("ExecStart = %q, want one command", execStart)
	}
	args := strings.Fields(execStart[0])[1:]
	for i, a := range args {
		if a == "/etc/ariapp/config.yaml" {
			args[i] = repoFile("config.yaml") // the file the README installs there
		}
	}
	if _, err := loadConfig(args, env(withPassword(nil))); err != nil {
		t.Errorf("ariapp refuses the unit's command line %q: %v", execStart[0], err)
	}
}

// TestSystemdUnitVerifies: systemd-analyze verify accepts the unit without
// a word. It runs on a root made for it, holding the system's own units,
// the unit and an executable where ExecStart names one. Locally the test
// skips when systemd-analyze is missing; in CI (lab/test.sh installs
// systemd) it fails.
func TestSystemdUnitVerifies(t *testing.T) {
	t.Parallel()
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if labtest.Required() {
			t.Fatalf("systemd-analyze is missing (Debian package systemd; lab/test.sh installs it): %v", err)
		}
		t.Skipf("systemd-analyze is missing (Debian package systemd): %v", err)
	}
	root := t.TempDir()
	units := "/usr/lib/systemd/system"
	if _, err := os.Stat(filepath.Join(units, "sysinit.target")); err != nil {
		units = "/lib/systemd/system"
	}
	if err := os.CopyFS(filepath.Join(root, units), os.DirFS(units)); err != nil {
		t.Fatalf("copying the system's units: %v", err)
	}
	bin := strings.Fields(unitSettings(t)["Service"]["ExecStart"][0])[0]
	for _, f := range []struct {
		path, data string
		mode       os.FileMode
	}{
		{"/etc/systemd/system/ariapp.service", readRepoFile(t, unitFile), 0o644},
		{bin, "#!/bin/sh\n", 0o755},
	} {
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(f.path)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, f.path), []byte(f.data), f.mode); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command(analyze, "verify", "--man=no", "--root="+root, "ariapp.service").CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify %s: %v\n%s", unitFile, err, out)
	}
}
