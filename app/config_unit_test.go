package app

import (
	"errors"
	"testing"
	"time"

	"github.com/ariapp/ariapp/holdmusic"
	"github.com/ariapp/ariapp/internal/confcheck/confchecktest"
)

// TestUnitConfigValidate: Validate names the invalid field of a complete
// config, and WithDefaults gives a config Validate accepts.
func TestUnitConfigValidate(t *testing.T) {
	t.Parallel()
	valid := Config{}.WithDefaults()
	tests := []struct {
		name      string
		edit      func(*Config)
		field     string
		wantInMsg string
	}{
		{"defaults", func(*Config) {}, "", ""},
		{"toggle code", func(c *Config) { c.DTMF.Hold, c.DTMF.Resume = "*7", "*7" }, "", ""},
		{"zero answer timeout", func(c *Config) { c.AnswerTimeout = 0 }, "AnswerTimeout", "greater than 0"},
		{"short step timeout", func(c *Config) { c.StepTimeout = time.Millisecond }, "StepTimeout", "at least 10ms"},
		{"empty endpoint", func(c *Config) { c.HoldAllowedEndpoints = []string{"PJSIP/a", " "} }, "HoldAllowedEndpoints", "item 1 is empty"},
		{"bad music", func(c *Config) { c.Music = holdmusic.Config{Mode: "radio"} }, "Music", "unknown mode"},
		{"no subscriber buffer", func(c *Config) { c.SubscriberBuffer = 0 }, "SubscriberBuffer", "at least 1"},
		{"bad resume digit", func(c *Config) { c.DTMF.Resume = "*é" }, "DTMF.Resume", `'é' is not a DTMF digit`},
		{"overlapping codes", func(c *Config) { c.DTMF.Hold, c.DTMF.Resume = "*7", "7" }, "DTMF.Resume", `"7" and DTMF hold "*7" overlap`},
		{"zero DTMF timeout", func(c *Config) { c.DTMF.Timeout = 0 }, "DTMF.Timeout", "greater than 0"},
		{"formats with a space", func(c *Config) { c.OriginateFormats = "ulaw, alaw" }, "OriginateFormats", "separated by commas"},
		{"no formats", func(c *Config) { c.OriginateFormats = "" }, "OriginateFormats", "must not be empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := valid
			tt.edit(&c)
			err := c.Validate()
			confchecktest.Expect(t, err, "app", tt.field, tt.wantInMsg)
			if tt.field == "Music" && !errors.Is(err, holdmusic.ErrConfig) {
				t.Errorf("Validate = %v, want it to wrap holdmusic.ErrConfig", err)
			}
		})
	}
}
