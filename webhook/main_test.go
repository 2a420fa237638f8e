package webhook

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the tests if a goroutine outlives them: Close must wait
// for every worker.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// httptest servers' and clients' idle connections are not ours.
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}
