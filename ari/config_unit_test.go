package ari_test

import (
	"crypto/tls"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/internal/confcheck/confchecktest"
)

// TestUnitConfigValidate: Validate names the invalid field of a complete
// config, and WithDefaults gives a config Validate accepts.
func TestUnitConfigValidate(t *testing.T) {
	t.Parallel()
	valid := ari.Config{URL: "http://127.0.0.1:8088/ari", Application: "a"}.WithDefaults()
	tests := []struct {
		name      string
		edit      func(*ari.Config)
		field     string
		wantInMsg string
	}{
		{"defaults", func(*ari.Config) {}, "", ""},
		{"trailing slash", func(c *ari.Config) { c.URL += "/" }, "", ""},
		{"ping off", func(c *ari.Config) { c.PingInterval = -1 }, "", ""},
		{"empty URL", func(c *ari.Config) { c.URL = "" }, "URL", "must not be empty"},
		{"ws URL", func(c *ari.Config) { c.URL = "ws://h/ari" }, "URL", "http:// or https://"},
		{"URL with credentials", func(c *ari.Config) { c.URL = "http://u:p@h/ari" }, "URL", "credentials"},
		{"URL with query", func(c *ari.Config) { c.URL = "http://h/ari?x=1" }, "URL", "query or fragment"},
		{"username with colon", func(c *ari.Config) { c.Username = "a:b" }, "Username", "':'"},
		{"application with comma", func(c *ari.Config) { c.Application = "a,b" }, "Application", "invalid application name"},
		{"zero request timeout", func(c *ari.Config) { c.RequestTimeout = 0 }, "RequestTimeout", "greater than 0"},
		{"negative dial timeout", func(c *ari.Config) { c.DialTimeout = -time.Second }, "DialTimeout", "negative"},
		{"reconnect max below min", func(c *ari.Config) { c.ReconnectMin, c.ReconnectMax = 2*time.Second, time.Second },
			"ReconnectMax", "1s is less than reconnect min 2s"},
		{"zero ping interval", func(c *ari.Config) { c.PingInterval = 0 }, "PingInterval", "negative interval turns the ping off"},
		{"huge event queue", func(c *ari.Config) { c.EventQueueSize = ari.MaxEventQueueSize + 1 }, "EventQueueSize", "between 1 and"},
		{"no connections", func(c *ari.Config) { c.MaxConns = 0 }, "MaxConns", "at least 1"},
		{"TLS with https", func(c *ari.Config) { c.URL, c.TLS = "https://h:8089/ari", &tls.Config{ServerName: "h"} }, "", ""},
		{"TLS with http", func(c *ari.Config) { c.TLS = &tls.Config{} }, "TLS", "is not https://"},
		{"TLS without verification", func(c *ari.Config) {
			c.URL, c.TLS = "https://h:8089/ari", &tls.Config{InsecureSkipVerify: true}
		}, "TLS", "must verify"},
		{"TLS and HTTPClient", func(c *ari.Config) { c.URL, c.TLS, c.HTTPClient = "https://h/ari", &tls.Config{}, &http.Client{} },
			"TLS", "cannot be used with HTTPClient"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := valid
			tt.edit(&c)
			err := c.Validate()
			confchecktest.Expect(t, err, "ari", tt.field, tt.wantInMsg)
			if tt.field != "" && !errors.Is(err, ari.ErrInvalidArgument) {
				t.Errorf("Validate = %v, want it to wrap ErrInvalidArgument", err)
			}
		})
	}
}

// TestUnitConfigWithDefaults: the zero fields get the documented defaults,
// set ones are kept, and an unset ReconnectMax is never below ReconnectMin.
func TestUnitConfigWithDefaults(t *testing.T) {
	t.Parallel()
	got := ari.Config{URL: "http://h/ari//"}.WithDefaults()
	want := ari.Config{URL: "http://h/ari", RequestTimeout: 5 * time.Second, DialTimeout: 5 * time.Second,
		ReconnectMin: 100 * time.Millisecond, ReconnectMax: 5 * time.Second, PingInterval: 10 * time.Second,
		EventQueueSize: 4096, MaxConns: 64}
	if got.URL != want.URL || got.RequestTimeout != want.RequestTimeout || got.DialTimeout != want.DialTimeout ||
		got.ReconnectMin != want.ReconnectMin || got.ReconnectMax != want.ReconnectMax || got.PingInterval != want.PingInterval ||
		got.EventQueueSize != want.EventQueueSize || got.MaxConns != want.MaxConns {
		t.Errorf("WithDefaults:\n got %+v\nwant %+v", got, want)
	}
	if c := (ari.Config{ReconnectMin: 8 * time.Second}).WithDefaults(); c.ReconnectMax != 8*time.Second {
		t.Errorf("ReconnectMax = %s with ReconnectMin 8s, want 8s", c.ReconnectMax)
	}
	if c := (ari.Config{PingInterval: -1, MaxConns: 3}).WithDefaults(); c.PingInterval != -1 || c.MaxConns != 3 {
		t.Errorf("set fields changed: PingInterval %s, MaxConns %d", c.PingInterval, c.MaxConns)
	}
}
