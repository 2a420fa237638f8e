package api_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ariapp/ariapp/api"
	"github.com/ariapp/ariapp/internal/confcheck/confchecktest"
)

// TestUnitConfigValidate: Validate names the invalid field of a complete
// config, WithDefaults gives a config Validate accepts, and Start refuses
// an invalid config.
func TestUnitConfigValidate(t *testing.T) {
	t.Parallel()
	valid := api.Config{}.WithDefaults()
	if valid.Listen != "127.0.0.1:8090" || valid.OperationTimeout != 30*time.Second || valid.MaxBodyBytes != 16<<10 || valid.Heartbeat != 15*time.Second {
		t.Fatalf("WithDefaults = %+v", valid)
	}
	tests := []struct {
		name      string
		edit      func(*api.Config)
		field     string
		wantInMsg string
	}{
		{"defaults", func(*api.Config) {}, "", ""},
		{"any port", func(c *api.Config) { c.Listen = "[::1]:0" }, "", ""},
		{"no port", func(c *api.Config) { c.Listen = "localhost" }, "Listen", "not host:port"},
		{"no host", func(c *api.Config) { c.Listen = ":8090" }, "Listen", "has no host"},
		{"zero operation timeout", func(c *api.Config) { c.OperationTimeout = 0 }, "OperationTimeout", "greater than 0"},
		{"no body", func(c *api.Config) { c.MaxBodyBytes = 0 }, "MaxBodyBytes", "at least 1"},
		{"negative heartbeat", func(c *api.Config) { c.Heartbeat = -time.Second }, "Heartbeat", "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := valid
			tt.edit(&c)
			err := c.Validate()
			confchecktest.Expect(t, err, "api", tt.field, tt.wantInMsg)
		})
	}
	t.Run("Start refuses", func(t *testing.T) {
		t.Parallel()
		s := api.New(api.Config{Listen: ":0"}, nil, nil, nil)
		if err := s.Start(); err == nil || !strings.Contains(err.Error(), "listen: \":0\" has no host") {
			t.Errorf("Start = %v, want the Listen error", err)
		}
	})
}
