package app

import (
	"fmt"
	"strings"
	"time"

	"github.com/ariapp/ariapp/holdmusic"
)

// Config is the Stasis application's configuration.
type Config struct {
	// AnswerTimeout is how long the callee may ring before the call ends
	// with cause no_answer (default 30 s).
	AnswerTimeout time.Duration
	// StepTimeout bounds each wait for Asterisk's confirming event of one
	// ARI step (default 5 s). A step that times out fails the operation.
	StepTimeout time.Duration
	// HoldAllowedEndpoints lists the endpoints (e.g. "PJSIP/alice") that may
	// put a call on hold; empty means every endpoint may.
	HoldAllowedEndpoints []string
	// MaxHoldsPerCall limits how many holds one call may take in total
	// (0: no limit), a guard against phones flapping their hold key.
	MaxHoldsPerCall int
	// Music is what a held party hears (default: the hold tone).
	Music holdmusic.Config
	// SubscriberBuffer is each event subscriber's buffer (default 256
	// events; four times that for a subscriber to every call). A subscriber
	// that falls further behind loses events, counted and logged.
	SubscriberBuffer int
	// DTMF feature codes; off unless configured.
	DTMF DTMFConfig
	// OriginateFormats are the codecs offered on an originate that has no
	// originator (the caller of an API call), e.g. "ulaw" or "ulaw,alaw"
	// (default "ulaw"). Without them Asterisk gives such a channel its
	// richest native format: a Local channel runs in slin192 and every
	// 8 kHz hold tone played to it is resampled, at a large CPU cost. A
	// channel originated on behalf of another takes its formats from it.
	OriginateFormats string
}

// DTMFConfig are the keypad codes with which a party holds and resumes.
type DTMFConfig struct {
	// Hold and Resume are digit sequences such as "*7" and "*8" ("" turns
	// that code off). Equal codes toggle: hold if the party does not hold,
	// resume if it does.
	Hold, Resume string
	// Timeout is the longest pause between the digits of one code
	// (default 3 s).
	Timeout time.Duration
}

// DefaultOriginateFormats is Config.OriginateFormats' default: G.711 µ-law,
// which every SIP phone speaks and Asterisk's tones are generated in.
const DefaultOriginateFormats = "ulaw"

func (c Config) withDefaults() (Config, error) {
	if c.AnswerTimeout == 0 {
		c.AnswerTimeout = 30 * time.Second
	}
	if c.StepTimeout == 0 {
		c.StepTimeout = 5 * time.Second
	}
	if c.OriginateFormats == "" {
		c.OriginateFormats = DefaultOriginateFormats
	}
	if strings.ContainsAny(c.OriginateFormats, " \t&?") {
		return c, fmt.Errorf("app: originate formats %q: want codec names separated by commas, e.g. ulaw,alaw", c.OriginateFormats)
	}
	if c.SubscriberBuffer <= 0 {
		c.SubscriberBuffer = 256
	}
	if c.AnswerTimeout < time.Second {
		return c, fmt.Errorf("app: answer timeout %v is below 1s", c.AnswerTimeout)
	}
	if c.StepTimeout < 10*time.Millisecond {
		return c, fmt.Errorf("app: step timeout %v is below 10ms", c.StepTimeout)
	}
	if c.DTMF.Timeout == 0 {
		c.DTMF.Timeout = 3 * time.Second
	}
	if c.DTMF.Timeout < 0 {
		return c, fmt.Errorf("app: DTMF timeout %v is negative", c.DTMF.Timeout)
	}
	if h, r := c.DTMF.Hold, c.DTMF.Resume; h != "" && r != "" && h != r && (strings.HasSuffix(h, r) || strings.HasSuffix(r, h)) {
		return c, fmt.Errorf("app: DTMF codes %q and %q overlap (one ends the other); use distinct codes, or one code to toggle", h, r)
	}
	for _, code := range []string{c.DTMF.Hold, c.DTMF.Resume} {
		for _, r := range code {
			if !strings.ContainsRune("0123456789*#ABCD", r) {
				return c, fmt.Errorf("app: DTMF code %q: %q is not a DTMF digit (0-9, *, #, A-D)", code, r)
			}
		}
	}
	if c.MaxHoldsPerCall < 0 {
		return c, fmt.Errorf("app: max holds per call %d is negative", c.MaxHoldsPerCall)
	}
	return c, nil
}
