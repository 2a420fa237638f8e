package sipphone

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: a
// phone's Close must end everything it (and sipgo under it) started.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// net/http keeps idle keep-alive connections of the ARI client's
		// transport; they are not the phone's.
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}
