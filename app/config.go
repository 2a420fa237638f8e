package app

import (
	"fmt"
	"strings"
	"time"

	"github.com/ariapp/ariapp/holdmusic"
	"github.com/ariapp/ariapp/internal/confcheck"
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
	// Music is what a held party hears (default: the hold tone), and its
	// Announcement what it hears once before (default: none).
	Music holdmusic.Config
	// AllowedMusic is the other music a hold request may choose
	// (HoldOptions.Media) besides Music; empty: only Music. Each plays
	// after Music's Announcement (their own Announcement is ignored). A
	// sound fetched from an http(s) URL is thus only ever played when the
	// operator lists it here.
	AllowedMusic []holdmusic.Config
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
	// MaxOriginates bounds the originate requests in flight to Asterisk
	// (default 16). An API call beyond it is refused at once with
	// ErrOverloaded, and a dialplan call's callee waits up to StepTimeout
	// for a slot: a burst of originates that a busy Asterisk answers late
	// would otherwise time out, be given up, and be created by Asterisk
	// anyway.
	MaxOriginates int
	// SweepInterval is how often ariapp looks in Asterisk for channels and
	// bridges of its own that no call owns (default 10 s): a channel of a
	// call that was given up and created late, a hang-up that failed. One
	// seen unowned in two sweeps in a row is hung up.
	SweepInterval time.Duration
	// TimelineSize is how many entries (ARI requests, ARI events, call
	// events) of each call's recent story ariapp keeps for Timeline
	// (default 32; each costs about 150 bytes).
	TimelineSize int
	// OnEvent, if set, observes every call event (metrics). It runs in the
	// call's goroutine before the event goes to subscribers, so it must be
	// quick and never block.
	OnEvent func(Event)
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

// Defaults of the zero Config fields, as New fills them in.
const (
	DefaultAnswerTimeout    = 30 * time.Second
	DefaultStepTimeout      = 5 * time.Second
	DefaultSubscriberBuffer = 256
	DefaultDTMFTimeout      = 3 * time.Second
	DefaultMaxOriginates    = 16
	DefaultSweepInterval    = 10 * time.Second
	DefaultTimelineSize     = 32
	// DefaultOriginateFormats is G.711 µ-law, which every SIP phone speaks
	// and Asterisk's tones are generated in.
	DefaultOriginateFormats = "ulaw"
)

// Lower bounds of the timeouts: below them a call could not be set up
// (AnswerTimeout) or Asterisk could not confirm a step in time even when
// idle (StepTimeout).
const (
	MinAnswerTimeout = time.Second
	MinStepTimeout   = 10 * time.Millisecond
)

// dtmfDigits are the DTMF events Asterisk reports.
const dtmfDigits = "0123456789*#ABCD"

// WithDefaults returns c with every zero field that has a default set to
// it; a SubscriberBuffer below 1 also gets the default.
func (c Config) WithDefaults() Config {
	if c.AnswerTimeout == 0 {
		c.AnswerTimeout = DefaultAnswerTimeout
	}
	if c.StepTimeout == 0 {
		c.StepTimeout = DefaultStepTimeout
	}
	if c.OriginateFormats == "" {
		c.OriginateFormats = DefaultOriginateFormats
	}
	confcheck.Default(&c.SubscriberBuffer, DefaultSubscriberBuffer)
	confcheck.Default(&c.MaxOriginates, DefaultMaxOriginates)
	confcheck.Default(&c.TimelineSize, DefaultTimelineSize)
	if c.SweepInterval == 0 {
		c.SweepInterval = DefaultSweepInterval
	}
	if c.DTMF.Timeout == 0 {
		c.DTMF.Timeout = DefaultDTMFTimeout
	}
	return c
}

// Validate reports every field of c that New cannot work with, each as a
// confcheck.FieldError. It checks c as given: a zero field that has a
// default is invalid here, because New applies WithDefaults first.
func (c Config) Validate() error {
	ck := confcheck.New("app", nil)
	ck.AtLeast("AnswerTimeout", c.AnswerTimeout, MinAnswerTimeout)
	ck.AtLeast("StepTimeout", c.StepTimeout, MinStepTimeout)
	for i, ep := range c.HoldAllowedEndpoints {
		if strings.TrimSpace(ep) == "" {
			ck.Fail("HoldAllowedEndpoints", "item %d is empty", i)
		}
	}
	if c.MaxHoldsPerCall < 0 {
		ck.Fail("MaxHoldsPerCall", "must not be negative, got %d", c.MaxHoldsPerCall)
	}
	if err := c.Music.WithDefaults().Validate(); err != nil {
		ck.Cause("Music", err)
	}
	for i, m := range c.AllowedMusic {
		if err := m.WithDefaults().Validate(); err != nil {
			ck.Cause(fmt.Sprintf("AllowedMusic[%d]", i), err)
		}
	}
	if c.SubscriberBuffer < 1 {
		ck.Fail("SubscriberBuffer", "must be at least 1, got %d", c.SubscriberBuffer)
	}
	for _, d := range []struct{ field, code string }{{"DTMF.Hold", c.DTMF.Hold}, {"DTMF.Resume", c.DTMF.Resume}} {
		for _, r := range d.code {
			if !strings.ContainsRune(dtmfDigits, r) {
				ck.Fail(d.field, "%q: %q is not a DTMF digit (0-9, *, #, A-D)", d.code, r)
				break
			}
		}
	}
	if h, r := c.DTMF.Hold, c.DTMF.Resume; h != "" && r != "" && h != r && (strings.HasSuffix(h, r) || strings.HasSuffix(r, h)) {
		ck.FailPeer("DTMF.Resume", "DTMF.Hold", "%q and {peer} %q overlap (one ends the other); use distinct codes, or the same code to toggle", r, h)
	}
	ck.Positive("DTMF.Timeout", c.DTMF.Timeout)
	if c.MaxOriginates < 1 {
		ck.Fail("MaxOriginates", "must be at least 1, got %d", c.MaxOriginates)
	}
	ck.AtLeast("SweepInterval", c.SweepInterval, time.Second)
	if c.TimelineSize < 1 {
		ck.Fail("TimelineSize", "must be at least 1, got %d", c.TimelineSize)
	}
	if c.OriginateFormats == "" {
		ck.Fail("OriginateFormats", "must not be empty")
	} else if strings.ContainsAny(c.OriginateFormats, " \t&?") {
		// The list goes into the originate request's query.
		ck.Fail("OriginateFormats", "%q: want codec names separated by commas, e.g. ulaw,alaw", c.OriginateFormats)
	}
	return ck.Err()
}

// withDefaults is what New runs the config through.
func (c Config) withDefaults() (Config, error) {
	c = c.WithDefaults()
	return c, c.Validate()
}
