// Package confchecktest checks, in the libraries' tests, what their
// Config.Validate reports.
package confchecktest

import (
	"errors"
	"strings"
	"testing"

	"github.com/ariapp/ariapp/internal/confcheck"
)

// Expect fails t unless err, from package pkg's Validate, is nil when field
// is "", and otherwise holds a FieldError for field whose text starts with
// "pkg config: " and contains want.
func Expect(t testing.TB, err error, pkg, field, want string) {
	t.Helper()
	if field == "" {
		if err != nil {
			t.Fatalf("Validate: %v", err)
		}
		return
	}
	var fe *confcheck.FieldError
	if !errors.As(err, &fe) || fe.Field != field {
		t.Fatalf("Validate = %v, want a FieldError for %s", err, field)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, pkg+" config: ") || !strings.Contains(msg, want) {
		t.Errorf("Validate = %q, want it to start with %q and contain %q", msg, pkg+" config: ", want)
	}
}
