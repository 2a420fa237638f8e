package webhook

import (
	"errors"
	"strings"
	"testing"

	"github.com/ariapp/ariapp/internal/confcheck"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	ok := Config{URLs: []string{"https://hooks.example/ariapp"}, Secret: "s"}.WithDefaults()
	tests := []struct {
		name   string
		mutate func(*Config)
		field  string // "" for valid
		text   string
	}{
		{"valid", func(*Config) {}, "", ""},
		{"no urls needs no secret", func(c *Config) { c.URLs, c.Secret = nil, "" }, "", ""},
		{"ftp url", func(c *Config) { c.URLs = []string{"ftp://h/x"} }, "URLs", "scheme must be http or https"},
		{"no host", func(c *Config) { c.URLs = []string{"http:///x"} }, "URLs", "no host"},
		{"relative", func(c *Config) { c.URLs = []string{"/hooks"} }, "URLs", "scheme"},
		{"credentials not echoed", func(c *Config) { c.URLs = []string{"gopher://u:hunter2@h/x"} }, "URLs", "gopher://h/x"},
		{"secret missing", func(c *Config) { c.Secret = "" }, "Secret", "must be set"},
		{"secret bad base64", func(c *Config) { c.Secret = "whsec_%%" }, "Secret", "base64"},
		{"zero timeout", func(c *Config) { c.Timeout = 0 }, "Timeout", "greater than 0"},
		{"queue too small", func(c *Config) { c.QueueSize = 0 }, "QueueSize", "between"},
		{"queue too big", func(c *Config) { c.QueueSize = MaxQueueSize + 1 }, "QueueSize", "between"},
		{"negative retry_for", func(c *Config) { c.RetryFor = -1 }, "RetryFor", "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := ok
			c.URLs = append([]string(nil), ok.URLs...)
			tt.mutate(&c)
			err := c.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var fes confcheck.Errors
			if !errors.As(err, &fes) || len(fes) != 1 || fes[0].Field != tt.field {
				t.Fatalf("Validate = %v, want one error of field %s", err, tt.field)
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("error %v does not wrap ErrInvalidConfig", err)
			}
			if !strings.Contains(err.Error(), tt.text) || strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q: want it to contain %q and no password", err, tt.text)
			}
		})
	}
}
