// Package labtest connects tests to the real lab Asterisk (lab/lab.sh up).
//
// Integration tests call Require: when the lab does not answer they skip on a
// developer machine, but fail when ARIAPP_REQUIRE_LAB=1 or CI=true, because a
// skipped integration test in CI hides a broken lab.
package labtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ariapp/ariapp/ari"
)

// Defaults of the lab (asterisk/ari.conf, asterisk/http.conf); override with
// ARIAPP_TEST_ARI_URL, ARIAPP_TEST_ARI_USER, ARIAPP_TEST_ARI_PASSWORD.
const (
	DefaultURL      = "http://127.0.0.1:8088/ari"
	DefaultUser     = "ariapp"
	DefaultPassword = "ariapp-lab-secret"
	// TestContext is the lab dialplan context with test far ends
	// (talk, noanswer, busy, congestion, dial-X).
	TestContext = "ariapp-test"
)

func env(k, def string) string {
	if v, ok := os.LookupEnv(k); ok && v != "" {
		return v
	}
	return def
}

// Required reports whether a missing lab is a failure rather than a skip.
func Required() bool {
	return os.Getenv("ARIAPP_REQUIRE_LAB") == "1" || os.Getenv("CI") == "true"
}

// Config returns an ari.Config for the lab with a fresh, unique application
// name, so tests never receive each other's events.
func Config(t testing.TB) ari.Config {
	return ari.Config{
		URL:            env("ARIAPP_TEST_ARI_URL", DefaultURL),
		Username:       env("ARIAPP_TEST_ARI_USER", DefaultUser),
		Password:       env("ARIAPP_TEST_ARI_PASSWORD", DefaultPassword),
		Application:    "ariapp-test-" + ID(),
		RequestTimeout: 10 * time.Second,
	}
}

// Require skips (or, in CI, fails) the test when the lab Asterisk does not
// answer, and returns a config for it.
func Require(t testing.TB) ari.Config {
	t.Helper()
	cfg := Config(t)
	c, err := ari.New(cfg)
	if err != nil {
		t.Fatalf("labtest: %v", err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := c.Ping(ctx); err != nil {
		if Required() {
			t.Fatalf("lab Asterisk is required (CI or ARIAPP_REQUIRE_LAB=1) but does not answer at %s: %v; start it with lab/lab.sh up", cfg.URL, err)
		}
		t.Skipf("lab Asterisk not running at %s (%v); start it with lab/lab.sh up", cfg.URL, err)
	}
	return cfg
}

// ID returns a short random id for channels, bridges and playbacks.
func ID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// LockPhones serialises tests that use the lab phones' fixed SIP ports
// (5071-5073) or the lab dialplan's application name "ariapp": go test runs
// packages in parallel, and two such tests at once would take each other's
// calls. It blocks until the lock is free and releases it when the test ends.
func LockPhones(t testing.TB) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "ariapp-lab-phones.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatalf("labtest: lock file: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatalf("labtest: lock: %v", err)
	}
	t.Cleanup(func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	})
}
