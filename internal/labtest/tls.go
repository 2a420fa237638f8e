package labtest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/ariapp/ariapp/ari"
)

// Defaults of the lab's ARI over TLS (asterisk/http.conf tlsbindaddr, the
// CA lab/lab.sh makes beside its chroot and prints with lab/lab.sh tls-ca);
// override with ARIAPP_TEST_ARI_TLS_URL and ARIAPP_TEST_ARI_TLS_CA.
const (
	DefaultTLSURL    = "https://127.0.0.1:8089/ari"
	DefaultTLSCAFile = "/var/lib/ariapp-lab/tls/ca.pem"
)

// TLSURL is the lab's ARI base URL over TLS.
func TLSURL() string { return env("ARIAPP_TEST_ARI_TLS_URL", DefaultTLSURL) }

// TLSAddr is the host:port of TLSURL, for a Proxy in front of it.
func TLSAddr(t testing.TB) string {
	t.Helper()
	u, err := url.Parse(TLSURL())
	if err != nil || u.Host == "" {
		t.Fatalf("labtest: TLS URL %q: %v", TLSURL(), err)
	}
	return u.Host
}

// TLSCAFile is the path of the lab CA's certificate, which signed the
// certificate Asterisk serves at TLSURL.
func TLSCAFile() string { return env("ARIAPP_TEST_ARI_TLS_CA", DefaultTLSCAFile) }

// RequireTLS is Require for the lab's ARI over TLS: it skips (or, in CI,
// fails) the test when the lab does not answer, on http first (so that a
// unit run that points ARIAPP_TEST_ARI_URL nowhere skips it too) and then
// on https with the lab CA. The config it returns has URL TLSURL and TLS
// trusting only the lab CA.
func RequireTLS(t testing.TB) ari.Config {
	t.Helper()
	cfg := Require(t)
	fail := t.Skipf
	if Required() {
		fail = t.Fatalf
	}
	pem, err := os.ReadFile(TLSCAFile())
	if err != nil {
		fail("lab CA certificate: %v; lab/lab.sh up makes it", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatalf("labtest: %s holds no PEM certificate", TLSCAFile())
	}
	cfg.URL, cfg.TLS = TLSURL(), &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	c, err := ari.New(cfg)
	if err != nil {
		t.Fatalf("labtest: %v", err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := c.Ping(ctx); err != nil {
		fail("lab ARI over TLS does not answer at %s: %v; lab/lab.sh up starts it (or reloads Asterisk's HTTP server)", cfg.URL, err)
	}
	return cfg
}
