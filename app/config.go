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
	// Node names the Asterisk this App runs calls on, as every CallInfo
	// reports it (default DefaultNode): lower-case letters, digits and
	// '-'.
	Node string
	// CallIDPrefix starts every call id (default none). With several
	// Asterisk nodes each App has its own ("NODE-"), so call ids stay
	// unique across them; it is part of the ids ariapp gives channels and
	// bridges in Asterisk, so it must stay the same for a node's calls to
	// be adopted after a restart.
	CallIDPrefix string
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
	// HoldTimers remind a holder of its hold and end a hold that lasts too
	// long; both are off by default.
	HoldTimers HoldTimers
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

// HoldTimers are the timers of a hold, counted from its start. A holder
// sits alone in the bridge and hears silence: a reminder tells it that a
// party still waits. A maximum ends a hold that was forgotten.
type HoldTimers struct {
	// ReminderAfter is the interval at which a holder hears ReminderMedia
	// and a hold_reminder event is reported, as long as it holds (0: off).
	ReminderAfter time.Duration
	// ReminderMedia is what the holder hears: "tone:SPEC", whose parts all
	// have a duration (ariapp stops it after their sum, Asterisk would
	// loop it), or "sound:NAME", which ends by itself (default
	// DefaultReminderMedia).
	ReminderMedia string
	// MaxDuration ends a hold that lasts that long (0: off), as MaxAction
	// says.
	MaxDuration time.Duration
	// MaxAction is HoldResume (default: the usual resume, reported as
	// unhold_success with source timer) or HoldHangup (call_ended with
	// cause hold_timeout).
	MaxAction string
}

// The actions of HoldTimers.MaxAction.
const (
	HoldResume = "resume"
	HoldHangup = "hangup"
)

// DefaultReminderMedia is two short 1400 Hz beeps, apart from the 440 Hz
// hold tone and from speech.
const DefaultReminderMedia = "tone:1400/150|0/150|1400/150"

// MinHoldTimer is the shortest ReminderAfter and MaxDuration.
const MinHoldTimer = 100 * time.Millisecond

// on reports whether any hold timer runs: then every hold records its
// start in Asterisk (see VarHoldOrder).
func (h HoldTimers) on() bool { return h.ReminderAfter > 0 || h.MaxDuration > 0 }

// Defaults of the zero Config fields, as New fills them in.
const (
	DefaultNode             = "asterisk"
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
	if c.Node == "" {
		c.Node = DefaultNode
	}
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
	if c.HoldTimers.ReminderMedia == "" {
		c.HoldTimers.ReminderMedia = DefaultReminderMedia
	}
	if c.HoldTimers.MaxAction == "" {
		c.HoldTimers.MaxAction = HoldResume
	}
	return c
}

// Validate reports every field of c that New cannot work with, each as a
// confcheck.FieldError. It checks c as given: a zero field that has a
// default is invalid here, because New applies WithDefaults first.
func (c Config) Validate() error {
	ck := confcheck.New("app", nil)
	if !ValidNodeName(c.Node) {
		ck.Fail("Node", "%q: want lower-case letters, digits and '-'", c.Node)
	}
	if strings.ContainsAny(c.CallIDPrefix, "/?#%&, \t") {
		ck.Fail("CallIDPrefix", "%q: must be safe in URLs and ARI ids", c.CallIDPrefix)
	}
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
	c.HoldTimers.validate(ck)
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

// validate checks the hold timers into ck.
func (h HoldTimers) validate(ck *confcheck.Checker) {
	for _, d := range []struct {
		field string
		v     time.Duration
	}{{"HoldTimers.ReminderAfter", h.ReminderAfter}, {"HoldTimers.MaxDuration", h.MaxDuration}} {
		if d.v < 0 || (d.v > 0 && d.v < MinHoldTimer) {
			ck.Fail(d.field, "must be 0 (off) or at least %v, got %v", MinHoldTimer, d.v)
		}
	}
	length, err := reminderLength(h.ReminderMedia)
	switch {
	case err != nil:
		ck.Fail("HoldTimers.ReminderMedia", "%v", err)
	case h.ReminderAfter > 0 && length >= h.ReminderAfter:
		ck.FailPeer("HoldTimers.ReminderMedia", "HoldTimers.ReminderAfter", "%q lasts %v, not shorter than {peer} %v", h.ReminderMedia, length, h.ReminderAfter)
	}
	if h.MaxAction != HoldResume && h.MaxAction != HoldHangup {
		ck.Fail("HoldTimers.MaxAction", "%q: want %s or %s", h.MaxAction, HoldResume, HoldHangup)
	}
}

// ValidNodeName reports whether name can name a node: non-empty,
// lower-case letters, digits and '-'. It appears in call ids, metric labels
// and environment variable names.
func ValidNodeName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// withDefaults is what New runs the config through.
func (c Config) withDefaults() (Config, error) {
	c = c.WithDefaults()
	return c, c.Validate()
}
