package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ariapp/ariapp/internal/labtest"
)

// TestLoadConfigTLS: ari.tls.* from the file, the environment or flags
// become the ARI client's TLS config; a file that cannot be used, or TLS
// settings that cannot apply, are named by their key.
func TestLoadConfigTLS(t *testing.T) {
	t.Parallel()
	ca := labtest.NewCA(t, "test CA")
	leaf, leafKey := ca.Issue(t, "asterisk", x509.ExtKeyUsageServerAuth)
	client, clientKey := ca.Issue(t, "ariapp", x509.ExtKeyUsageClientAuth)
	notPEM := filepath.Join(t.TempDir(), "ca.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const https = "https://127.0.0.1:8089/ari"
	tests := []struct {
		name    string
		file    string
		env     map[string]string
		args    []string
		check   func(t *testing.T, c *tls.Config)
		wantErr []string
	}{
		{name: "no TLS keys", env: map[string]string{"ARIAPP_ARI_URL": https}, check: func(t *testing.T, c *tls.Config) {
			if c != nil {
				t.Errorf("TLS = %+v, want nil (the system's CAs)", c)
			}
		}},
		{name: "CA file from the environment",
			env: map[string]string{"ARIAPP_ARI_URL": https, "ARIAPP_ARI_TLS_CA_FILE": ca.File},
			check: func(t *testing.T, c *tls.Config) {
				b, _ := os.ReadFile(leaf)
				blk, _ := pem.Decode(b)
				cert, err := x509.ParseCertificate(blk.Bytes)
				if err != nil {
					t.Fatal(err)
				}
				if c == nil || c.RootCAs == nil {
					t.Fatalf("TLS = %+v, want RootCAs from %s", c, ca.File)
				}
				if _, err := cert.Verify(x509.VerifyOptions{Roots: c.RootCAs}); err != nil {
					t.Errorf("a certificate of the CA does not verify against RootCAs: %v", err)
				}
				if c.MinVersion < tls.VersionTLS12 || c.InsecureSkipVerify {
					t.Errorf("MinVersion %x, InsecureSkipVerify %v", c.MinVersion, c.InsecureSkipVerify)
				}
			}},
		{name: "nested section in the file",
			file: "ari:\n  url: " + https + "\n  tls:\n    ca_file: " + ca.File + "\n    server_name: pbx.example\n",
			check: func(t *testing.T, c *tls.Config) {
				if c == nil || c.ServerName != "pbx.example" || c.RootCAs == nil {
					t.Errorf("TLS = %+v, want ServerName pbx.example and RootCAs", c)
				}
			}},
		{name: "client certificate from flags",
			env:  map[string]string{"ARIAPP_ARI_URL": https},
			args: []string{"--ari-tls-cert-file", client, "--ari-tls-key-file", clientKey},
			check: func(t *testing.T, c *tls.Config) {
				if c == nil || len(c.Certificates) != 1 || c.RootCAs != nil {
					t.Errorf("TLS = %+v, want one client certificate and the system's CAs", c)
				}
			}},
		{name: "TLS with an http URL", env: map[string]string{"ARIAPP_ARI_TLS_CA_FILE": ca.File},
			wantErr: []string{`ari.tls.ca_file: is set, but ari.url "http://127.0.0.1:8088/ari" is not https:// (from environment ARIAPP_ARI_TLS_CA_FILE)`}},
		{name: "missing CA file", env: map[string]string{"ARIAPP_ARI_URL": https, "ARIAPP_ARI_TLS_CA_FILE": "/nonexistent/ca.pem"},
			wantErr: []string{"ari.tls.ca_file: cannot read the CA file: open /nonexistent/ca.pem: no such file or directory"}},
		{name: "CA file without a certificate", env: map[string]string{"ARIAPP_ARI_URL": https, "ARIAPP_ARI_TLS_CA_FILE": notPEM},
			wantErr: []string{"ari.tls.ca_file: " + notPEM + " holds no PEM certificate that parses"}},
		{name: "certificate without key", env: map[string]string{"ARIAPP_ARI_URL": https, "ARIAPP_ARI_TLS_CERT_FILE": client},
			wantErr: []string{"ari.tls.key_file: must be set with ari.tls.cert_file"}},
		{name: "key without certificate", env: map[string]string{"ARIAPP_ARI_URL": https, "ARIAPP_ARI_TLS_KEY_FILE": clientKey},
			wantErr: []string{"ari.tls.cert_file: must be set with ari.tls.key_file"}},
		{name: "key of another certificate",
			env:     map[string]string{"ARIAPP_ARI_URL": https, "ARIAPP_ARI_TLS_CERT_FILE": client, "ARIAPP_ARI_TLS_KEY_FILE": leafKey},
			wantErr: []string{"ari.tls.cert_file: cannot load the client certificate with key " + leafKey + ": tls: private key does not match public key"}},
		{name: "unknown key in the tls section", file: "ari:\n  tls:\n    ca: x\n", wantErr: []string{"ari.tls.ca: unknown key in the config file"}},
		{name: "tls given a scalar", file: "ari:\n  tls: yes\n", wantErr: []string{"ari.tls: must be a section"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := tt.args
			if tt.file != "" {
				args = append([]string{"--config", writeFile(t, tt.file)}, args...)
			}
			c, err := loadConfig(args, env(withPassword(tt.env)))
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("loadConfig succeeded, want an error with %q", tt.wantErr)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c.ARI.TLS)
		})
	}
}

// TestRunRefusesUntrustedCertificate: a certificate that does not verify
// stops ariapp at start-up with exit status 1 and one line that names the
// URL, the certificate, what it was checked against and why.
func TestRunRefusesUntrustedCertificate(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		t.Error("a request reached the server through an unverified connection")
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	srv.StartTLS()
	t.Cleanup(srv.Close)
	own := filepath.Join(t.TempDir(), "server.pem")
	writeCertPEM(t, own, "CERTIFICATE", srv.Certificate().Raw)
	other := labtest.NewCA(t, "another CA")
	url := srv.URL + "/ari"
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"CA that did not sign it", map[string]string{"ARIAPP_ARI_TLS_CA_FILE": other.File},
			[]string{"ariapp: ARI at " + url + ": Asterisk's certificate", `(issued by "O=Acme Co")`,
				"does not verify against the CAs of ari.tls.ca_file " + other.File, "x509: certificate signed by unknown authority"}},
		{"system CAs", nil,
			[]string{"does not verify against the system's CAs (set ari.tls.ca_file to trust a private CA)"}},
		{"name it does not carry", map[string]string{"ARIAPP_ARI_TLS_CA_FILE": own, "ARIAPP_ARI_TLS_SERVER_NAME": "pbx.example"},
			[]string{"is not for this server: x509: certificate is valid for", "not pbx.example (set ari.tls.server_name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := map[string]string{"ARIAPP_ARI_URL": url, "ARIAPP_API_LISTEN": "127.0.0.1:0"}
			for k, v := range tt.env {
				e[k] = v
			}
			var stdout, stderr strings.Builder
			if code := run(context.Background(), nil, env(withPassword(e)), &stdout, &stderr); code != exitRuntime {
				t.Fatalf("exit status %d, want %d: %s", code, exitRuntime, stderr.String())
			}
			line := plainLines(stderr.String())
			if strings.Count(line, "\n") != 1 {
				t.Errorf("start-up failure is not one plain line: %q", line)
			}
			for _, w := range tt.want {
				if !strings.Contains(line, w) {
					t.Errorf("%q lacks %q", line, w)
				}
			}
		})
	}
}

func writeCertPEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
