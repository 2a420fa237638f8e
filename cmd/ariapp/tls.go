package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
)

// TLSFiles are ARI's TLS settings as the config names them: files to read
// at start-up, so that a private CA needs no change to the system's trust
// store.
type TLSFiles struct {
	// CAFile holds the PEM certificates of the CAs that may sign Asterisk's
	// certificate; they replace the system's. Empty: the system's CAs.
	CAFile string
	// CertFile and KeyFile are a PEM client certificate and its key, for an
	// Asterisk (or a TLS proxy before it) that asks for one. Both or neither.
	CertFile, KeyFile string
	// ServerName is the name Asterisk's certificate must carry, when it is
	// not the host of the URL (e.g. the URL names an IP address).
	ServerName string
}

// firstSet names the first field of f that is set, or "".
func (f TLSFiles) firstSet() string {
	switch {
	case f.CAFile != "":
		return "CAFile"
	case f.CertFile != "":
		return "CertFile"
	case f.KeyFile != "":
		return "KeyFile"
	case f.ServerName != "":
		return "ServerName"
	}
	return ""
}

// tlsFileError is a TLS file that cannot be used; Field is the TLSFiles
// field that names it.
type tlsFileError struct {
	Field string
	Err   error
}

func (e *tlsFileError) Error() string { return e.Err.Error() }
func (e *tlsFileError) Unwrap() error { return e.Err }

// load reads f's files into the ari client's TLS config: nil when f is
// empty (an https URL then trusts the system's CAs).
func (f TLSFiles) load() (*tls.Config, error) {
	if f.firstSet() == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: f.ServerName}
	var errs []error
	if f.CAFile != "" {
		pool, err := loadCAs(f.CAFile)
		if err != nil {
			errs = append(errs, &tlsFileError{"CAFile", err})
		}
		cfg.RootCAs = pool
	}
	if f.CertFile != "" && f.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
		if err != nil {
			errs = append(errs, &tlsFileError{"CertFile", fmt.Errorf("cannot load the client certificate with key %s: %w", f.KeyFile, err)})
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, errors.Join(errs...)
}

// loadCAs reads every certificate of a PEM file; a file without one, or
// with one that does not parse, is an error rather than an empty trust.
func loadCAs(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s holds no PEM certificate that parses", path)
	}
	return pool, nil
}

// certificateFailure explains why Asterisk's certificate did not verify,
// naming the certificate and what it was checked against, or returns ""
// if err is no certificate verification failure.
func certificateFailure(cfg Config, err error) string {
	var verr *tls.CertificateVerificationError
	if !errors.As(err, &verr) {
		return ""
	}
	cert := "Asterisk's certificate"
	if len(verr.UnverifiedCertificates) > 0 {
		leaf := verr.UnverifiedCertificates[0]
		cert = fmt.Sprintf("Asterisk's certificate %q (issued by %q)", leaf.Subject.String(), leaf.Issuer.String())
	}
	trust := "the system's CAs (set ari.tls.ca_file to trust a private CA)"
	if cfg.ARITLS.CAFile != "" {
		trust = "the CAs of ari.tls.ca_file " + cfg.ARITLS.CAFile
	}
	why := verr.Err.Error()
	var host x509.HostnameError
	if errors.As(verr.Err, &host) {
		return fmt.Sprintf("ARI at %s: %s is not for this server: %s (set ari.tls.server_name to a name it carries)", cfg.ARI.URL, cert, strings.TrimSpace(why))
	}
	return fmt.Sprintf("ARI at %s: %s does not verify against %s: %s", cfg.ARI.URL, cert, trust, why)
}
