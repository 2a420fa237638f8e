package ari_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: the
// client's Close must wait for everything it started.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// net/http keeps idle connection goroutines of clients the tests did
		// not create (e.g. httptest servers' own); they are not ours.
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}
