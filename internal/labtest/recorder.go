package labtest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ariapp/ariapp/ari"
)

// Recorder collects every event of a client so tests can wait for one and
// assert on the order. Start it before the action whose events you expect:
// events can arrive before the REST reply.
type Recorder struct {
	log  *Log[ari.Event]
	done chan struct{}
}

// Record consumes events from ch until it is closed.
func Record(ch <-chan ari.Event) *Recorder {
	r := newRecorder()
	go func() {
		defer r.finish()
		for ev := range ch {
			r.log.Add(ev)
		}
	}()
	return r
}

func newRecorder() *Recorder {
	return &Recorder{log: NewLog[ari.Event](), done: make(chan struct{})}
}

func (r *Recorder) finish() {
	r.log.Close()
	close(r.done)
}

// Done is closed when the event channel has been closed and drained.
func (r *Recorder) Done() <-chan struct{} { return r.done }

// Events returns a copy of everything recorded so far.
func (r *Recorder) Events() []ari.Event { return r.log.All() }

// Wait returns the first event, after index from, for which match is true,
// and its index; it fails the test after timeout.
func (r *Recorder) Wait(t testing.TB, from int, timeout time.Duration, what string, match func(ari.Event) bool) (ari.Event, int) {
	t.Helper()
	// match may count (see its callers): each event is offered once.
	found, next := -1, from
	_, ok := r.log.Until(timeout, func(evs []ari.Event) bool {
		for ; next < len(evs); next++ {
			if match(evs[next]) {
				found = next
				return true
			}
		}
		return false
	})
	if !ok {
		select {
		case <-r.done:
			t.Fatalf("event stream closed while waiting for %s; got:\n%s", what, r.Dump())
		default:
			t.Fatalf("timed out after %v waiting for %s; got:\n%s", timeout, what, r.Dump())
		}
		return nil, -1
	}
	return r.log.All()[found], found
}

// Dump renders the recorded events one per line, for failure messages.
func (r *Recorder) Dump() string {
	var b strings.Builder
	for i, ev := range r.Events() {
		refs := ari.RefsOf(ev)
		fmt.Fprintf(&b, "  %3d %-22s channel=%s bridge=%s playback=%s", i, ev.GetType(), refs.ChannelID, refs.BridgeID, refs.PlaybackID)
		if pf, ok := ev.(*ari.PlaybackFinished); ok {
			fmt.Fprintf(&b, " state=%s", pf.Playback.State)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// Is matches an event by type and, if id is not empty, by the channel,
// bridge or playback id it refers to.
func Is(typ, id string) func(ari.Event) bool {
	return func(ev ari.Event) bool {
		if ev.GetType() != typ {
			return false
		}
		if id == "" {
			return true
		}
		r := ari.RefsOf(ev)
		return r.ChannelID == id || r.BridgeID == id || r.PlaybackID == id
	}
}

// WaitTimeout is the default time to wait for one event from the lab.
const WaitTimeout = 10 * time.Second

// Within is a convenience for r.Wait with WaitTimeout.
func (r *Recorder) Within(t testing.TB, from int, typ, id string) (ari.Event, int) {
	t.Helper()
	return r.Wait(t, from, WaitTimeout, typ+" "+id, Is(typ, id))
}

// Tee records every event of in and passes it on, in order, on the returned
// channel (closed when in closes), so a test can watch the raw ARI events
// an application consumes. An event is recorded before it is passed on, so
// whatever the application did with it, the test already sees it.
func Tee(in <-chan ari.Event) (<-chan ari.Event, *Recorder) {
	out := make(chan ari.Event, 4096)
	r := newRecorder()
	go func() {
		defer r.finish()
		defer close(out)
		for ev := range in {
			r.log.Add(ev)
			out <- ev
		}
	}()
	return out, r
}
