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
		{"hold timers", func(c *Config) {
			c.HoldTimers = HoldTimers{ReminderAfter: time.Minute, ReminderMedia: "tone:1400/150|0/150|1400+1800/150", MaxDuration: time.Hour, MaxAction: HoldHangup}
		}, "", ""},
		{"reminder sound", func(c *Config) { c.HoldTimers.ReminderAfter, c.HoldTimers.ReminderMedia = time.Second, "sound:beep" }, "", ""},
		{"short reminder interval", func(c *Config) { c.HoldTimers.ReminderAfter = time.Millisecond }, "HoldTimers.ReminderAfter", "at least 100ms"},
		{"negative maximum", func(c *Config) { c.HoldTimers.MaxDuration = -time.Second }, "HoldTimers.MaxDuration", "must be 0 (off)"},
		{"endless reminder tone", func(c *Config) { c.HoldTimers.ReminderMedia = "tone:1400" }, "HoldTimers.ReminderMedia", "every part needs its length"},
		{"bad tone part", func(c *Config) { c.HoldTimers.ReminderMedia = "tone:14x0/100" }, "HoldTimers.ReminderMedia", `part "14x0/100"`},
		{"three frequencies", func(c *Config) { c.HoldTimers.ReminderMedia = "tone:440+480*620/100" }, "HoldTimers.ReminderMedia", `part "440+480*620/100"`},
		{"signed frequency", func(c *Config) { c.HoldTimers.ReminderMedia = "tone:+440/100" }, "HoldTimers.ReminderMedia", `part "+440/100"`},
		{"modulated tone", func(c *Config) { c.HoldTimers.ReminderMedia = "tone:!1400*20/200" }, "", ""},
		{"reminder list", func(c *Config) { c.HoldTimers.ReminderMedia = "sound:a,sound:b" }, "HoldTimers.ReminderMedia", "one sound"},
		{"reminder scheme", func(c *Config) { c.HoldTimers.ReminderMedia = "moh:default" }, "HoldTimers.ReminderMedia", "want tone:SPEC or sound:NAME"},
		{"reminder longer than its interval", func(c *Config) {
			c.HoldTimers.ReminderAfter, c.HoldTimers.ReminderMedia = 200*time.Millisecond, "tone:1400/150|0/100"
		}, "HoldTimers.ReminderMedia", "lasts 250ms, not shorter than hold timers reminder after 200ms"},
		{"unknown action", func(c *Config) { c.HoldTimers.MaxAction = "park" }, "HoldTimers.MaxAction", `"park": want resume or hangup`},
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
