// Package confcheck is how the libraries' Config.Validate methods report
// what is wrong: one FieldError per invalid field, naming the field by its Go
// name, so that a caller that maps its own settings onto a Config (ariapp's
// command maps config keys) can say which of its settings is at fault.
package confcheck

import (
	"fmt"
	"strings"
	"time"
	"unicode"
)

// FieldError is one invalid field of a Config.
type FieldError struct {
	// Pkg is the package whose Config it is, e.g. "ari".
	Pkg string
	// Field is the field's Go name within the Config, with a dot for a
	// nested struct: "RequestTimeout", "DTMF.Timeout".
	Field string
	// Peer is a second field the reason compares Field with, or "".
	Peer string
	// Reason says what is wrong, without the field's name; "{peer}" in it
	// stands for Peer's name.
	Reason string
	// Err is the package's sentinel or the underlying cause, or nil.
	Err error
}

// Error reads "ari config: request timeout: must be greater than 0, got 0s".
func (e *FieldError) Error() string {
	return e.Pkg + " config: " + Name(e.Field) + ": " + e.Explain(Name)
}

// Unwrap returns the sentinel or cause.
func (e *FieldError) Unwrap() error { return e.Err }

// Explain returns the reason with the peer field named by name.
func (e *FieldError) Explain(name func(field string) string) string {
	if e.Peer == "" {
		return e.Reason
	}
	return strings.ReplaceAll(e.Reason, "{peer}", name(e.Peer))
}

// Errors are all the invalid fields of one Config, in the order checked.
type Errors []*FieldError

// Error joins the fields' errors on one line.
func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// Unwrap lets errors.Is and errors.As see every field's error.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// Name spells a Go field name in words: "AnswerTimeout" is "answer
// timeout", "DTMF.Timeout" is "DTMF timeout", "URL" stays "URL".
func Name(field string) string {
	var words []string
	for _, part := range strings.Split(field, ".") {
		rs := []rune(part)
		start := 0
		for i := 1; i <= len(rs); i++ {
			boundary := i == len(rs) ||
				(unicode.IsUpper(rs[i]) && (unicode.IsLower(rs[i-1]) ||
					(i+1 < len(rs) && unicode.IsUpper(rs[i-1]) && unicode.IsLower(rs[i+1]))))
			if !boundary {
				continue
			}
			w := string(rs[start:i])
			if w != strings.ToUpper(w) || len(rs[start:i]) == 1 {
				w = strings.ToLower(w)
			}
			words = append(words, w)
			start = i
		}
	}
	return strings.Join(words, " ")
}

// Default sets *p to d if *p is zero or negative: how the libraries fill
// in a duration or size left unset.
func Default[T ~int | ~int64](p *T, d T) {
	if *p <= 0 {
		*p = d
	}
}

// Checker collects the FieldErrors of one Validate call.
type Checker struct {
	pkg  string
	kind error
	errs Errors
}

// New returns a Checker for package pkg's Config; kind, if not nil, is the
// sentinel every FieldError wraps.
func New(pkg string, kind error) *Checker { return &Checker{pkg: pkg, kind: kind} }

// Fail records that field is invalid.
func (c *Checker) Fail(field, format string, args ...any) {
	c.errs = append(c.errs, &FieldError{Pkg: c.pkg, Field: field, Reason: fmt.Sprintf(format, args...), Err: c.kind})
}

// FailPeer records that field is invalid in relation to peer; "{peer}" in
// format stands for peer's name.
func (c *Checker) FailPeer(field, peer, format string, args ...any) {
	c.errs = append(c.errs, &FieldError{Pkg: c.pkg, Field: field, Peer: peer, Reason: fmt.Sprintf(format, args...), Err: c.kind})
}

// Cause records that field is invalid because of err, which the
// FieldError wraps instead of the package's sentinel.
func (c *Checker) Cause(field string, err error) {
	c.errs = append(c.errs, &FieldError{Pkg: c.pkg, Field: field, Reason: err.Error(), Err: err})
}

// AtLeast checks that duration d is at least min (and, whatever min, that
// it is greater than 0).
func (c *Checker) AtLeast(field string, d, min time.Duration) {
	switch {
	case d < 0:
		c.Fail(field, "must not be negative, got %s", d)
	case d == 0:
		c.Fail(field, "must be greater than 0, got %s", d)
	case d < min:
		c.Fail(field, "must be at least %s, got %s", min, d)
	}
}

// Positive checks that duration d is greater than 0.
func (c *Checker) Positive(field string, d time.Duration) { c.AtLeast(field, d, 0) }

// Between checks that n lies in [lo, hi].
func (c *Checker) Between(field string, n, lo, hi int64) {
	if n < lo || n > hi {
		c.Fail(field, "must be between %d and %d, got %d", lo, hi, n)
	}
}

// Err returns the recorded errors as Errors, or nil if there are none.
func (c *Checker) Err() error {
	if len(c.errs) == 0 {
		return nil
	}
	return c.errs
}
