package app

// Unit tests that need no Asterisk. Every test here is named TestUnit... so
// `go test -run TestUnit ./app/` selects them and none of the lab tests.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/holdmusic"
)

// within fails the test if done is not closed within d.
func unitWithin(t *testing.T, d time.Duration, what string, done <-chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not finish within %v", what, d)
	}
}

// ---- mailbox ----

// TestUnitMailboxReader: a reader runs only while there is work; put
// starts one when none runs, take ends it when the mailbox is empty, and
// never two run at once; closeIdle stops any more from starting.
func TestUnitMailboxReader(t *testing.T) {
	t.Run("starts on demand", func(t *testing.T) {
		starts := 0
		m := newMailbox[any](func() { starts++ })
		m.put(1)
		m.put(2)
		if starts != 1 {
			t.Fatalf("%d starts for two messages while running, want 1", starts)
		}
		for want := 1; want <= 2; want++ {
			if v, ok := m.take(); !ok || v != want {
				t.Fatalf("take = %v, %v; want %d", v, ok, want)
			}
		}
		if _, ok := m.take(); ok {
			t.Fatal("take on an empty mailbox = ok")
		}
		m.put(3) // the reader ended: a new one starts
		if starts != 2 {
			t.Fatalf("%d starts after the reader ended, want 2", starts)
		}
		if m.closeIdle() {
			t.Fatal("closeIdle closed a mailbox whose reader runs")
		}
		m.take()
		m.take() // empty: reader over
		if !m.closeIdle() {
			t.Fatal("closeIdle on an idle mailbox = false")
		}
		if m.put(4) || starts != 2 {
			t.Fatalf("put after closeIdle accepted or started a reader (%d starts)", starts)
		}
		if m.closeIdle() {
			t.Fatal("second closeIdle = true")
		}
	})

	t.Run("concurrent producers, one reader at a time", func(t *testing.T) {
		const producers, each = 8, 500
		var (
			wg      sync.WaitGroup
			active  atomic.Int32
			overlap atomic.Bool
			mu      sync.Mutex
			got     = map[int]int{}
			m       *mailbox[any]
		)
		m = newMailbox[any](func() {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					v, ok := m.take()
					if !ok {
						return // nothing after this: a new reader may start
					}
					// Between two takes a reader owns the call's state.
					if active.Add(1) > 1 {
						overlap.Store(true)
					}
					mu.Lock()
					got[v.(int)]++
					mu.Unlock()
					active.Add(-1)
				}
			}()
		})
		var pw sync.WaitGroup
		for p := range producers {
			pw.Add(1)
			go func() {
				defer pw.Done()
				for i := range each {
					m.put(p*each + i)
				}
			}()
		}
		pw.Wait()
		wg.Wait()
		if overlap.Load() {
			t.Error("two readers ran at once")
		}
		if len(got) != producers*each {
			t.Fatalf("%d distinct messages read, want %d", len(got), producers*each)
		}
		for v, n := range got {
			if n != 1 {
				t.Fatalf("message %d read %d times", v, n)
			}
		}
	})
}

func TestUnitMailbox(t *testing.T) {
	t.Run("FIFO", func(t *testing.T) {
		m := newMailbox[any](nil)
		for i := range 5 {
			if !m.put(i) {
				t.Fatalf("put(%d) = false on an open mailbox", i)
			}
		}
		for i := range 5 {
			v, ok := m.get(nil, time.Second)
			if !ok || v != i {
				t.Fatalf("get #%d = %v, %v; want %d, true", i, v, ok, i)
			}
		}
		if v, ok := m.get(nil, 10*time.Millisecond); ok {
			t.Fatalf("get on a drained mailbox = %v, true", v)
		}
	})

	t.Run("FIFO with a concurrent producer", func(t *testing.T) {
		m := newMailbox[any](nil)
		const n = 2000
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := range n {
				m.put(i)
			}
		}()
		for i := range n {
			v, ok := m.get(nil, 5*time.Second)
			if !ok {
				t.Fatalf("get #%d timed out", i)
			}
			if v != i {
				t.Fatalf("get #%d = %v, out of order", i, v)
			}
		}
		unitWithin(t, 5*time.Second, "producer", done)
	})

	t.Run("get waits for a later put", func(t *testing.T) {
		m := newMailbox[any](nil)
		got := make(chan any, 1)
		go func() {
			v, _ := m.get(nil, 5*time.Second)
			got <- v
		}()
		time.Sleep(20 * time.Millisecond) // let get block
		m.put("late")
		select {
		case v := <-got:
			if v != "late" {
				t.Fatalf("get = %v, want late", v)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("get did not wake up on put")
		}
	})

	t.Run("get with timeout returns false", func(t *testing.T) {
		m := newMailbox[any](nil)
		const timeout = 30 * time.Millisecond
		start := time.Now()
		v, ok := m.get(nil, timeout)
		if ok || v != nil {
			t.Fatalf("get = %v, %v; want nil, false", v, ok)
		}
		if el := time.Since(start); el < timeout {
			t.Fatalf("get returned after %v, before its timeout %v", el, timeout)
		}
	})

	t.Run("get unblocks on stop", func(t *testing.T) {
		m := newMailbox[any](nil)
		stop := make(chan struct{})
		type res struct {
			v  any
			ok bool
		}
		out := make(chan res, 1)
		go func() {
			v, ok := m.get(stop, 0) // no timeout: only stop can end it
			out <- res{v, ok}
		}()
		time.Sleep(20 * time.Millisecond)
		select {
		case r := <-out:
			t.Fatalf("get returned %v before stop", r)
		default:
		}
		close(stop)
		select {
		case r := <-out:
			if r.ok || r.v != nil {
				t.Fatalf("get = %v, %v; want nil, false", r.v, r.ok)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("get did not return on stop")
		}
	})

	t.Run("a queued item wins over a closed stop", func(t *testing.T) {
		m := newMailbox[any](nil)
		m.put("x")
		stop := make(chan struct{})
		close(stop)
		if v, ok := m.get(stop, 0); !ok || v != "x" {
			t.Fatalf("get = %v, %v; want x, true", v, ok)
		}
		if v, ok := m.get(stop, 0); ok {
			t.Fatalf("get on an empty mailbox with stop closed = %v, true", v)
		}
	})

	t.Run("close returns the rest and refuses puts", func(t *testing.T) {
		m := newMailbox[any](nil)
		for _, v := range []string{"a", "b", "c", "d"} {
			m.put(v)
		}
		if v, ok := m.get(nil, time.Second); !ok || v != "a" {
			t.Fatalf("get = %v, %v; want a", v, ok)
		}
		rest := m.close()
		if want := []any{"b", "c", "d"}; !slices.Equal(rest, want) {
			t.Fatalf("close() = %v, want %v", rest, want)
		}
		if m.put("e") {
			t.Fatal("put after close = true, want false")
		}
		if rest := m.close(); len(rest) != 0 {
			t.Fatalf("second close() = %v, want nothing", rest)
		}
		if v, ok := m.get(nil, 10*time.Millisecond); ok {
			t.Fatalf("get after close = %v, true", v)
		}
	})

	t.Run("close of an empty mailbox", func(t *testing.T) {
		m := newMailbox[any](nil)
		if rest := m.close(); len(rest) != 0 {
			t.Fatalf("close() = %v, want nothing", rest)
		}
		if m.put(1) {
			t.Fatal("put after close = true")
		}
	})
}

// ---- hub and Subscription ----

func unitEvent(name EventName, callID string, seq uint64) Event {
	return Event{Name: name, CallID: callID, Seq: seq, Time: time.Now()}
}

// unitDrain reads what is buffered in s.C without blocking.
func unitDrain(s *Subscription) []Event {
	var out []Event
	for {
		select {
		case e, ok := <-s.C:
			if !ok {
				return out
			}
			out = append(out, e)
		default:
			return out
		}
	}
}

func unitIDs(evs []Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = fmt.Sprintf("%s/%d", e.CallID, e.Seq)
	}
	return out
}

func unitClosed(c <-chan Event) bool {
	select {
	case _, ok := <-c:
		return !ok
	default:
		return false
	}
}

func TestUnitHub(t *testing.T) {
	t.Run("per-call and all-calls subscriptions", func(t *testing.T) {
		h := newHub(zap.NewNop())
		s1, s2, all := h.subscribe("c1", 16), h.subscribe("c2", 16), h.subscribe("", 16)
		defer s1.Close()
		defer s2.Close()
		defer all.Close()
		h.publish(unitEvent(EventCallStarted, "c1", 1))
		h.publish(unitEvent(EventCallStarted, "c2", 1))
		h.publish(unitEvent(EventCallAnswered, "c1", 2))
		h.publish(unitEvent(EventCallStarted, "c3", 1))
		h.publish(unitEvent(EventCallEnded, "c1", 3))

		for _, tc := range []struct {
			name string
			sub  *Subscription
			want []string
		}{
			{"c1", s1, []string{"c1/1", "c1/2", "c1/3"}},
			{"c2", s2, []string{"c2/1"}},
			{"all", all, []string{"c1/1", "c2/1", "c1/2", "c3/1", "c1/3"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if got := unitIDs(unitDrain(tc.sub)); !slices.Equal(got, tc.want) {
					t.Errorf("got %v, want %v", got, tc.want)
				}
				if tc.sub.Dropped() != 0 {
					t.Errorf("Dropped() = %d, want 0", tc.sub.Dropped())
				}
			})
		}
	})

	t.Run("full buffer drops without blocking", func(t *testing.T) {
		core, logs := observer.New(zapcore.DebugLevel)
		h := newHub(zap.New(core))
		slow := h.subscribe("", 2) // never read until publishing is over
		fast := h.subscribe("", 1000)
		other := h.subscribe("other-call", 1) // filtered out: never full
		// No deferred Close: if publish blocked, it would hold the hub's
		// lock and a deferred Close would hang the test instead of failing it.

		const n = 250
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := 1; i <= n; i++ {
				h.publish(unitEvent(EventHoldSuccess, "c1", uint64(i)))
			}
		}()
		unitWithin(t, 5*time.Second, "publish to a subscriber that never reads", done)

		if got := slow.Dropped(); got != n-2 {
			t.Errorf("slow.Dropped() = %d, want %d", got, n-2)
		}
		if got := unitIDs(unitDrain(slow)); !slices.Equal(got, []string{"c1/1", "c1/2"}) {
			t.Errorf("slow kept %v, want the first two events", got)
		}
		if got := unitIDs(unitRecv(t, fast, n)); len(got) != n || got[n-1] != fmt.Sprintf("c1/%d", n) || fast.Dropped() != 0 {
			t.Errorf("fast got %d events (last %v), dropped %d; want %d, 0", len(got), got[len(got)-1:], fast.Dropped(), n)
		}
		if other.Dropped() != 0 || len(unitDrain(other)) != 0 {
			t.Errorf("a subscriber of another call got or dropped events")
		}
		if got := h.counts[EventHoldSuccess].Load(); got != n {
			t.Errorf("count of hold_success = %d, want %d", got, n)
		}
		// A drop is logged once per subscriber, at the first.
		warns := logs.FilterMessage("event subscriber too slow; its events are dropped until it catches up").All()
		if len(warns) != 1 || warns[0].Level != zapcore.WarnLevel || warns[0].ContextMap()["subscriber"] != slow.ID() {
			t.Errorf("drop warnings %v, want one warning naming subscriber %d", warns, slow.ID())
		}
		// After reading, the slow subscriber receives again.
		h.publish(unitEvent(EventCallEnded, "c1", n+1))
		if got := unitIDs(unitDrain(slow)); !slices.Equal(got, []string{fmt.Sprintf("c1/%d", n+1)}) {
			t.Errorf("slow after catching up got %v", got)
		}
		slow.Close()
		fast.Close()
		other.Close()
	})

	t.Run("unbuffered subscriber never blocks publish", func(t *testing.T) {
		h := newHub(zap.NewNop())
		s := h.subscribe("", 0)
		done := make(chan struct{})
		go func() {
			defer close(done)
			h.publish(unitEvent(EventCallStarted, "c1", 1))
		}()
		unitWithin(t, 5*time.Second, "publish", done)
		if s.Dropped() != 1 {
			t.Errorf("Dropped() = %d, want 1", s.Dropped())
		}
		s.Close()
	})

	t.Run("counts without subscribers", func(t *testing.T) {
		h := newHub(zap.NewNop())
		for _, n := range EventNames {
			h.publish(unitEvent(n, "c1", 1))
		}
		h.publish(unitEvent(EventCallEnded, "c2", 1))
		for _, n := range EventNames {
			want := uint64(1)
			if n == EventCallEnded {
				want = 2
			}
			if got := h.counts[n].Load(); got != want {
				t.Errorf("count[%s] = %d, want %d", n, got, want)
			}
		}
	})

	t.Run("Close is idempotent and closes C", func(t *testing.T) {
		h := newHub(zap.NewNop())
		s := h.subscribe("c1", 4)
		h.publish(unitEvent(EventCallStarted, "c1", 1))
		s.Close()
		s.Close()
		// A buffered event is still readable, then C reports closed.
		if e, ok := <-s.C; !ok || e.Seq != 1 {
			t.Fatalf("first receive after Close = %v, %v; want the buffered event", e, ok)
		}
		if _, ok := <-s.C; ok {
			t.Fatal("C is not closed after Close")
		}
		// Publishing after Close must not send on the closed channel.
		h.publish(unitEvent(EventCallAnswered, "c1", 2))
		if s.Dropped() != 0 {
			t.Errorf("a closed subscription counted drops: %d", s.Dropped())
		}
		h.close()
		s.Close()
	})

	t.Run("Close concurrent with publish", func(t *testing.T) {
		h := newHub(zap.NewNop())
		var wg sync.WaitGroup
		stop := make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := uint64(1); ; i++ {
				select {
				case <-stop:
					return
				default:
					h.publish(unitEvent(EventHoldSuccess, "c1", i))
				}
			}
		}()
		for range 200 {
			s := h.subscribe("", 1)
			wg.Add(2)
			go func() { defer wg.Done(); s.Close() }()
			go func() { defer wg.Done(); s.Close() }()
		}
		close(stop)
		wg.Wait()
		h.close()
	})

	t.Run("hub close closes every subscription", func(t *testing.T) {
		h := newHub(zap.NewNop())
		a, b := h.subscribe("", 1), h.subscribe("c1", 1)
		h.close()
		if !unitClosed(a.C) || !unitClosed(b.C) {
			t.Fatal("hub.close left a subscription open")
		}
		a.Close() // no double close
		b.Close()
		h.publish(unitEvent(EventCallStarted, "c1", 1)) // no send on a closed channel
		h.close()                                       // idempotent
	})

	t.Run("subscribe after hub close", func(t *testing.T) {
		h := newHub(zap.NewNop())
		h.close()
		s := h.subscribe("", 8)
		if !unitClosed(s.C) {
			t.Fatal("a subscription made after close is not closed")
		}
		h.publish(unitEvent(EventCallStarted, "c1", 1))
		s.Close()
		s.Close()
		if s.Dropped() != 0 {
			t.Errorf("Dropped() = %d", s.Dropped())
		}
	})
}

func TestUnitAppSubscribeAndClose(t *testing.T) {
	a, err := New(Config{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := a.Subscribe("")
	for _, tc := range []struct {
		name string
		sub  *Subscription
		want int
	}{
		{"default, every call", s, 4 * 256},
		{"default, one call", a.Subscribe("c1"), 256},
	} {
		if tc.sub.max != tc.want {
			t.Errorf("%s: buffer = %d, want %d", tc.name, tc.sub.max, tc.want)
		}
	}
	a2, err := New(Config{SubscriberBuffer: 3}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s2 := a2.Subscribe("c1"); s2.max != 3 {
		t.Errorf("subscriber buffer = %d, want 3", s2.max)
	}
	if s2 := a2.Subscribe(""); s2.max != 12 {
		t.Errorf("all-calls subscriber buffer = %d, want 12", s2.max)
	}
	// Close without Start: nothing to wait for, subscriptions end.
	done := make(chan struct{})
	go func() { defer close(done); a.Close(); a.Close(); a2.Close() }()
	unitWithin(t, 5*time.Second, "Close", done)
	if !unitClosed(s.C) {
		t.Error("Close left a subscription open")
	}
	if !unitClosed(a.Subscribe("").C) {
		t.Error("Subscribe after Close returned an open subscription")
	}
	s.Close()
	if _, err := a.Call("nope"); !errors.Is(err, ErrCallNotFound) {
		t.Errorf("Call(unknown) = %v, want ErrCallNotFound", err)
	}
	if _, err := a.Hold(context.Background(), "nope", "caller", SourceAPI); !errors.Is(err, ErrCallNotFound) {
		t.Errorf("Hold(unknown) = %v, want ErrCallNotFound", err)
	}
	if got := a.Calls(); len(got) != 0 {
		t.Errorf("Calls() = %v, want none", got)
	}
	counts := a.EventCounts()
	if len(counts) != len(EventNames) {
		t.Errorf("EventCounts has %d names, want %d", len(counts), len(EventNames))
	}
}

// ---- small helpers ----

func TestUnitEndpointOf(t *testing.T) {
	tests := []struct{ name, want string }{
		{"PJSIP/alice-0000002a", "PJSIP/alice"},
		{"PJSIP/my-phone-00000001", "PJSIP/my-phone"},
		{"Local/x@ctx-00000001;2", "Local/x@ctx"},
		{"Local/x@ctx-00000001;1", "Local/x@ctx"},
		{"Local/dial-talk@ariapp-test-0000000a;2", "Local/dial-talk@ariapp-test"},
		{"SIP/100-00000003", "SIP/100"},
		{"PJSIP/alice", "PJSIP/alice"},
		{"Local/x@ctx", "Local/x@ctx"},
		{"alice-0001", "alice"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := endpointOf(tt.name); got != tt.want {
				t.Errorf("endpointOf(%q) = %q, want %q", tt.name, got, tt.want)
			}
		})
	}
}

func TestUnitHangupReasonFor(t *testing.T) {
	tests := []struct {
		cause string
		want  ari.HangupReason
	}{
		{"busy", ari.HangupBusy},
		{"no_answer", ari.HangupNoAnswer},
		{"congestion", ari.HangupCongestion},
		{"unavailable", ari.HangupCongestion},
		{"rejected", ari.HangupRejected},
		{"no_target", ari.HangupUnallocated},
		{"caller_hangup", ari.HangupNormal},
		{"callee_hangup", ari.HangupNormal},
		{"hangup_requested", ari.HangupNormal},
		{"unhold_failed", ari.HangupNormal},
		{"setup_failed", ari.HangupNormal},
		{"bridge_destroyed", ari.HangupNormal},
		{"hold_rollback_failed", ari.HangupNormal},
		{"caller_busy", ari.HangupNormal},
		{"caller_unavailable", ari.HangupNormal},
		{"", ari.HangupNormal},
	}
	for _, tt := range tests {
		name := tt.cause
		if name == "" {
			name = "empty"
		}
		t.Run(name, func(t *testing.T) {
			if got := hangupReasonFor(tt.cause); got != tt.want {
				t.Errorf("hangupReasonFor(%q) = %q, want %q", tt.cause, got, tt.want)
			}
		})
	}
}

// ---- configuration ----

func TestUnitConfigWithDefaults(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
		check   func(t *testing.T, c Config)
	}{
		{
			name: "zero config gets the defaults",
			cfg:  Config{},
			check: func(t *testing.T, c Config) {
				if c.AnswerTimeout != 30*time.Second || c.StepTimeout != 5*time.Second || c.SubscriberBuffer != 256 {
					t.Errorf("defaults: answer %v, step %v, buffer %d", c.AnswerTimeout, c.StepTimeout, c.SubscriberBuffer)
				}
				if c.MaxHoldsPerCall != 0 || c.HoldAllowedEndpoints != nil {
					t.Errorf("policy defaults changed: %+v", c)
				}
			},
		},
		{
			name: "set values are kept",
			cfg:  Config{AnswerTimeout: time.Second, StepTimeout: 10 * time.Millisecond, MaxHoldsPerCall: 3, SubscriberBuffer: 7, HoldAllowedEndpoints: []string{"PJSIP/alice"}},
			check: func(t *testing.T, c Config) {
				if c.AnswerTimeout != time.Second || c.StepTimeout != 10*time.Millisecond || c.MaxHoldsPerCall != 3 || c.SubscriberBuffer != 7 || !slices.Equal(c.HoldAllowedEndpoints, []string{"PJSIP/alice"}) {
					t.Errorf("values changed: %+v", c)
				}
			},
		},
		{
			name:  "negative subscriber buffer gets the default",
			cfg:   Config{SubscriberBuffer: -1},
			check: func(t *testing.T, c Config) { unitEq(t, "SubscriberBuffer", c.SubscriberBuffer, 256) },
		},
		{name: "answer timeout below 1s", cfg: Config{AnswerTimeout: 999 * time.Millisecond}, wantErr: "answer timeout"},
		{name: "negative answer timeout", cfg: Config{AnswerTimeout: -time.Second}, wantErr: "answer timeout"},
		{name: "step timeout below 10ms", cfg: Config{StepTimeout: 9 * time.Millisecond}, wantErr: "step timeout"},
		{name: "negative step timeout", cfg: Config{StepTimeout: -time.Second}, wantErr: "step timeout"},
		{name: "negative max holds", cfg: Config{MaxHoldsPerCall: -1}, wantErr: "max holds"},
		{
			name:  "DTMF defaults",
			cfg:   Config{DTMF: DTMFConfig{Hold: "*7", Resume: "*8"}},
			check: func(t *testing.T, c Config) { unitEq(t, "DTMF timeout", c.DTMF.Timeout, 3*time.Second) },
		},
		{
			name:  "DTMF codes with every digit",
			cfg:   Config{DTMF: DTMFConfig{Hold: "0123456789", Resume: "*#ABCD", Timeout: time.Second}},
			check: func(t *testing.T, c Config) { unitEq(t, "DTMF timeout", c.DTMF.Timeout, time.Second) },
		},
		{name: "DTMF hold code with a letter", cfg: Config{DTMF: DTMFConfig{Hold: "*x"}}, wantErr: "not a DTMF digit"},
		{name: "DTMF resume code with lower case", cfg: Config{DTMF: DTMFConfig{Resume: "a"}}, wantErr: "not a DTMF digit"},
		{name: "DTMF code with a space", cfg: Config{DTMF: DTMFConfig{Hold: "* 7"}}, wantErr: "not a DTMF digit"},
		{name: "DTMF negative timeout", cfg: Config{DTMF: DTMFConfig{Hold: "*7", Timeout: -time.Second}}, wantErr: "negative"},
		{name: "DTMF resume ends the hold code", cfg: Config{DTMF: DTMFConfig{Hold: "*7", Resume: "7"}}, wantErr: "overlap"},
		{name: "DTMF hold ends the resume code", cfg: Config{DTMF: DTMFConfig{Hold: "77", Resume: "*77"}}, wantErr: "overlap"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.cfg.withDefaults()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("withDefaults() error = %v, want one mentioning %q", err, tt.wantErr)
				}
				if _, err := New(tt.cfg, nil, nil); err == nil {
					t.Fatal("New accepted a config withDefaults rejects")
				}
				return
			}
			if err != nil {
				t.Fatalf("withDefaults(): %v", err)
			}
			tt.check(t, c)
		})
	}
}

func unitEq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func TestUnitNewRejectsBadMusic(t *testing.T) {
	tests := []struct {
		name  string
		music holdmusic.Config
	}{
		{"tone with comma", holdmusic.Config{Tone: "440,0/2500"}},
		{"bad moh class", holdmusic.Config{Mode: holdmusic.ModeMOH, Class: "a b"}},
		{"sounds empty", holdmusic.Config{Mode: holdmusic.ModeSounds}},
		{"unknown mode", holdmusic.Config{Mode: "radio"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := New(Config{Music: tt.music}, nil, nil)
			if !errors.Is(err, holdmusic.ErrConfig) {
				t.Fatalf("New = %v, %v; want an error matching holdmusic.ErrConfig", a, err)
			}
			if a != nil {
				t.Error("New returned an App with an error")
			}
		})
	}
	t.Run("good music", func(t *testing.T) {
		a, err := New(Config{Music: holdmusic.Config{Mode: holdmusic.ModeMOH, Class: "jazz"}}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		unitEq(t, "music", a.music.Describe(), "moh:jazz")
		a.Close()
	})
}

// ---- call internals ----

// unitCall builds a call as the dispatcher does for a channel entering
// Stasis with "dial,TARGET", without starting its goroutine.
func unitCall(t *testing.T, a *App, target string) *call {
	t.Helper()
	if a == nil {
		var err error
		a, err = New(Config{}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	args := []string{ArgDial}
	if target != "" {
		args = append(args, target)
	}
	return newDialledCall(a, "c1", &ari.StasisStart{
		EventBase: ari.EventBase{Type: "StasisStart"},
		Args:      args,
		Channel:   ari.Channel{ID: "caller-ch", Name: "PJSIP/alice-0000002a", Caller: ari.CallerID{Name: "Alice", Number: "100"}},
	})
}

func TestUnitNewCall(t *testing.T) {
	c := unitCall(t, nil, "PJSIP/bob")
	unitEq(t, "caller channel", c.caller.channelID, "caller-ch")
	unitEq(t, "caller endpoint", c.caller.endpoint, "PJSIP/alice")
	unitEq(t, "caller channel state", c.caller.channel, channelDialled)
	unitEq(t, "callee channel", c.callee.channelID, "c1-callee")
	unitEq(t, "callee endpoint", c.callee.endpoint, "PJSIP/bob")
	unitEq(t, "callee channel state", c.callee.channel, channelAbsent)
	unitEq(t, "bridge", c.bridgeID, "c1-bridge")
	unitEq(t, "target", c.target, "PJSIP/bob")
	unitEq(t, "state", c.state, CallRinging)
	snap := c.snapshot()
	unitEq(t, "snapshot call id", snap.CallID, "c1")
	unitEq(t, "snapshot state", snap.State, CallRinging)
	unitEq(t, "snapshot bridge (not created yet)", snap.BridgeID, "")
	unitEq(t, "snapshot caller state", snap.Caller.State, Live)
	unitEq(t, "snapshot callee state", snap.Callee.State, Live)
	unitEq(t, "snapshot caller hangup allowed", snap.Caller.HangupAllowed, true)
	if snap.Holders == nil || len(snap.Holders) != 0 {
		t.Errorf("snapshot holders = %#v, want an empty non-nil list", snap.Holders)
	}

	noTarget := unitCall(t, nil, "")
	unitEq(t, "target without argument", noTarget.target, "")
}

func TestUnitPartyByRef(t *testing.T) {
	c := unitCall(t, nil, "PJSIP/bob")
	tests := []struct {
		ref  string
		want *party
	}{
		{"caller", c.caller},
		{"callee", c.callee},
		{"caller-ch", c.caller},
		{"c1-callee", c.callee},
		{"", nil},
		{"Caller", nil},
		{"someone-else", nil},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			p, err := c.partyByRef(tt.ref)
			if tt.want == nil {
				if !errors.Is(err, ErrUnknownParty) {
					t.Fatalf("partyByRef(%q) = %v, %v; want ErrUnknownParty", tt.ref, p, err)
				}
				return
			}
			if err != nil || p != tt.want {
				t.Fatalf("partyByRef(%q) = %v, %v", tt.ref, p, err)
			}
		})
	}
	if c.peer(c.caller) != c.callee || c.peer(c.callee) != c.caller {
		t.Error("peer is not the other party")
	}
}

func TestUnitPolicy(t *testing.T) {
	tests := []struct {
		name      string
		allowed   []string
		max       int
		holdCount int
		party     Role
		want      string // substring of the refusal; "" allowed
	}{
		{name: "no policy", party: Caller},
		{name: "allowed endpoint", allowed: []string{"PJSIP/alice"}, party: Caller},
		{name: "endpoint not allowed", allowed: []string{"PJSIP/alice"}, party: Callee, want: "endpoint PJSIP/bob is not allowed"},
		{name: "below the limit", max: 2, holdCount: 1, party: Callee},
		{name: "limit reached", max: 2, holdCount: 2, party: Caller, want: "used its 2 holds"},
		{name: "no limit", max: 0, holdCount: 100, party: Caller},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := New(Config{HoldAllowedEndpoints: tt.allowed, MaxHoldsPerCall: tt.max}, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			c := unitCall(t, a, "PJSIP/bob")
			c.holdCount = tt.holdCount
			p := c.caller
			if tt.party == Callee {
				p = c.callee
			}
			got := c.policy(p)
			if tt.want == "" && got != "" || tt.want != "" && !strings.Contains(got, tt.want) {
				t.Errorf("policy = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestUnitDialOutcome(t *testing.T) {
	tests := []struct {
		name       string
		dialStatus string
		cause      int
		causeTx    string
		wantCause  string
	}{
		{name: "busy status", dialStatus: "BUSY", wantCause: "busy"},
		{name: "busy cause", cause: 17, causeTx: "User busy", wantCause: "busy"},
		{name: "no answer status", dialStatus: "NOANSWER", wantCause: "no_answer"},
		{name: "no user responding", cause: 18, wantCause: "no_answer"},
		{name: "no answer cause", cause: 19, wantCause: "no_answer"},
		{name: "congestion status", dialStatus: "CONGESTION", wantCause: "congestion"},
		{name: "no circuit", cause: 34, wantCause: "congestion"},
		{name: "network out of order", cause: 38, wantCause: "congestion"},
		{name: "switching equipment congestion", cause: 42, wantCause: "congestion"},
		{name: "chanunavail status", dialStatus: "CHANUNAVAIL", wantCause: "unavailable"},
		{name: "unallocated", cause: 1, wantCause: "unavailable"},
		{name: "no route", cause: 3, wantCause: "unavailable"},
		{name: "subscriber absent", cause: 20, wantCause: "unavailable"},
		{name: "destination out of order", cause: 27, wantCause: "unavailable"},
		{name: "rejected", cause: 21, causeTx: "Call Rejected", wantCause: "rejected"},
		{name: "nothing known", wantCause: "unavailable"},
		{name: "normal clearing while ringing", cause: 16, wantCause: "unavailable"},
		{name: "cancel status", dialStatus: "CANCEL", wantCause: "unavailable"},
		{name: "Local busy: cause 0 with BUSY", dialStatus: "BUSY", cause: 0, wantCause: "busy"},
		{name: "status wins over cause", dialStatus: "BUSY", cause: 21, wantCause: "busy"},
		{name: "rejected cause with ringing status", dialStatus: "RINGING", cause: 21, wantCause: "rejected"},
	}
	for _, tt := range tests {
		// The same mapping serves a ringing callee and a caller that ariapp
		// originated (App.Originate); each reads only its own party's cause.
		for _, role := range []Role{Callee, Caller} {
			t.Run(string(role)+"/"+tt.name, func(t *testing.T) {
				c := unitCall(t, nil, "PJSIP/bob")
				p, other, target := c.callee, c.caller, c.target
				if role == Caller {
					p, other, target = c.caller, c.callee, c.caller.endpoint
				}
				p.cause, p.causeTx = tt.cause, tt.causeTx
				other.cause, other.causeTx = 17, "the other party's cause must not count"
				cause, reason := c.dialOutcome(p, target, tt.dialStatus)
				if cause != tt.wantCause {
					t.Errorf("cause = %q, want %q", cause, tt.wantCause)
				}
				wantReason := fmt.Sprintf("%s %s: dial status %q, cause %d", role, target, tt.dialStatus, tt.cause)
				if tt.causeTx != "" {
					wantReason += " " + tt.causeTx
				}
				if reason != wantReason {
					t.Errorf("reason = %q, want %q", reason, wantReason)
				}
			})
		}
	}
}

// TestUnitDialOutcomeFromEvents feeds observe the events Asterisk sends for
// a failing callee and checks the outcome they lead to.
func TestUnitDialOutcomeFromEvents(t *testing.T) {
	callee := ari.Channel{ID: "c1-callee", Name: "PJSIP/bob-00000002"}
	tests := []struct {
		name      string
		events    []ari.Event
		wantCause string
		wantQ850  int
		wantTx    string
	}{
		{
			name: "busy via Dial",
			events: []ari.Event{
				&ari.Dial{Peer: callee, Dialstatus: "RINGING"},
				&ari.Dial{Peer: callee, Dialstatus: "BUSY"},
				&ari.Dial{Peer: callee}, // an empty status does not erase it
				&ari.ChannelDestroyed{Channel: callee},
			},
			wantCause: "busy",
		},
		{
			name: "Dial of another peer is ignored",
			events: []ari.Event{
				&ari.Dial{Peer: ari.Channel{ID: "someone-else"}, Dialstatus: "BUSY"},
				&ari.ChannelDestroyed{Channel: callee, Cause: 21, CauseTxt: "Call Rejected"},
			},
			wantCause: "rejected", wantQ850: 21, wantTx: "Call Rejected",
		},
		{
			name: "cause from the hangup request",
			events: []ari.Event{
				&ari.ChannelHangupRequest{Channel: callee, Cause: 17},
				&ari.ChannelDestroyed{Channel: callee}, // cause 0 keeps 17
			},
			wantCause: "busy", wantQ850: 17,
		},
		{
			name: "caller's cause is not the callee's",
			events: []ari.Event{
				&ari.ChannelHangupRequest{Channel: ari.Channel{ID: "caller-ch"}, Cause: 17},
				&ari.StasisEnd{Channel: callee},
			},
			wantCause: "unavailable",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := unitCall(t, nil, "PJSIP/bob")
			for _, e := range tt.events {
				c.observe(e)
				c.observe(e) // observe is idempotent
			}
			if c.callee.channel != channelGone {
				t.Error("callee not marked gone")
			}
			if c.caller.channel == channelGone {
				t.Error("caller marked gone")
			}
			cause, _ := c.dialOutcome(c.callee, c.target, c.dialStatus)
			unitEq(t, "cause", cause, tt.wantCause)
			unitEq(t, "caller dial status", c.callerDialStatus, "")
			unitEq(t, "callee q850", c.callee.cause, tt.wantQ850)
			unitEq(t, "callee cause text", c.callee.causeTx, tt.wantTx)
		})
	}
}

// unitARI is an app.ARI that records requests and fails the named ones.
type unitARI struct {
	mu    sync.Mutex
	calls []string
	fail  map[string]error
	// failN, where it has the request, limits its failures to that many.
	failN map[string]int
	// bridged are the channels Bridge reports in the bridge.
	bridged []string
}

func (f *unitARI) rec(format string, args ...any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := fmt.Sprintf(format, args...)
	f.calls = append(f.calls, s)
	name := strings.SplitN(s, " ", 2)[0]
	if n, ok := f.failN[name]; ok {
		if n == 0 {
			return nil
		}
		f.failN[name] = n - 1
	}
	return f.fail[name]
}

func (f *unitARI) recorded() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *unitARI) Play(_ context.Context, ch, pb string, media ...string) (*ari.Playback, error) {
	return &ari.Playback{ID: pb}, f.rec("Play %s %s %v", ch, pb, media)
}
func (f *unitARI) StopPlayback(_ context.Context, pb string) error {
	return f.rec("StopPlayback %s", pb)
}
func (f *unitARI) StartMOH(_ context.Context, ch, class string) error {
	return f.rec("StartMOH %s %s", ch, class)
}
func (f *unitARI) StopMOH(_ context.Context, ch string) error { return f.rec("StopMOH %s", ch) }
func (f *unitARI) Answer(_ context.Context, ch string) error  { return f.rec("Answer %s", ch) }
func (f *unitARI) Ring(_ context.Context, ch string) error    { return f.rec("Ring %s", ch) }
func (f *unitARI) Hangup(_ context.Context, ch string, r ari.HangupReason) error {
	return f.rec("Hangup %s %s", ch, r)
}
func (f *unitARI) Originate(_ context.Context, p ari.OriginateParams) (*ari.Channel, error) {
	return &ari.Channel{ID: p.ChannelID}, f.rec("Originate %s %s", p.Endpoint, p.ChannelID)
}
func (f *unitARI) CreateBridge(_ context.Context, id, types, name string) (*ari.Bridge, error) {
	return &ari.Bridge{ID: id}, f.rec("CreateBridge %s %s", id, types)
}
func (f *unitARI) DestroyBridge(_ context.Context, id string) error {
	return f.rec("DestroyBridge %s", id)
}
func (f *unitARI) AddChannel(_ context.Context, b string, chs ...string) error {
	return f.rec("AddChannel %s %v", b, chs)
}
func (f *unitARI) RemoveChannel(_ context.Context, b string, chs ...string) error {
	return f.rec("RemoveChannel %s %v", b, chs)
}
func (f *unitARI) SetVar(_ context.Context, ch, name, value string) error {
	return f.rec("SetVar %s %s=%s", ch, name, value)
}
func (f *unitARI) SetVars(_ context.Context, ch string, vars map[string]string, report bool) error {
	names := slices.Sorted(maps.Keys(vars))
	return f.rec("SetVars %s %v report=%v", ch, names, report)
}
func (f *unitARI) GetVars(_ context.Context, ch string, names ...string) (map[string]string, error) {
	return nil, f.rec("GetVars %s %v", ch, names)
}
func (f *unitARI) Info(context.Context) (*ari.AsteriskInfo, error) {
	return &ari.AsteriskInfo{}, f.rec("Info")
}
func (f *unitARI) Subscribe(_ context.Context, src string) (*ari.Application, error) {
	return &ari.Application{}, f.rec("Subscribe %s", src)
}
func (f *unitARI) Application() string { return "ariapp-unit" }
func (f *unitARI) Channels(context.Context) ([]ari.Channel, error) {
	return nil, f.rec("Channels")
}
func (f *unitARI) Bridges(context.Context) ([]ari.Bridge, error) {
	return nil, f.rec("Bridges")
}
func (f *unitARI) Bridge(_ context.Context, id string) (*ari.Bridge, error) {
	err := f.rec("Bridge %s", id)
	f.mu.Lock()
	defer f.mu.Unlock()
	return &ari.Bridge{ID: id, Channels: slices.Clone(f.bridged)}, err
}
func (f *unitARI) Playback(_ context.Context, id string) (*ari.Playback, error) {
	return &ari.Playback{ID: id}, f.rec("Playback %s", id)
}
func (f *unitARI) GetVar(_ context.Context, ch, name string) (string, error) {
	return "", f.rec("GetVar %s %s", ch, name)
}

func (f *unitARI) Mute(_ context.Context, ch string, dir ari.MuteDirection) error {
	return f.rec("Mute %s %s", ch, dir)
}
func (f *unitARI) Unmute(_ context.Context, ch string, dir ari.MuteDirection) error {
	return f.rec("Unmute %s %s", ch, dir)
}
func (f *unitARI) GlobalVariable(_ context.Context, name string) (string, error) {
	return "", f.rec("GlobalVariable %s", name)
}
func (f *unitARI) SetGlobalVariable(_ context.Context, name, value string) error {
	return f.rec("SetGlobalVariable %s=%s", name, value)
}

var _ ARI = (*unitARI)(nil)

// TestUnitPartyLeft: a channel of the call going away ends the call with the
// right cause, hangs up exactly what is still up (with the reason matching
// the cause, so the caller's phone shows busy, no answer...) and reports one
// call_ended.
func TestUnitPartyLeft(t *testing.T) {
	callee := ari.Channel{ID: "c1-callee"}
	caller := ari.Channel{ID: "caller-ch"}
	tests := []struct {
		name         string
		setup        func(c *call)
		events       []ari.Event
		wantRequests []string
		wantCause    string
		wantParty    Role
		wantReason   string // prefix
	}{
		{
			name:         "ringing callee busy",
			setup:        func(c *call) { c.caller.channel, c.callee.channel = channelInStasis, channelDialled },
			events:       []ari.Event{&ari.Dial{Peer: callee, Dialstatus: "BUSY"}, &ari.StasisEnd{Channel: callee}},
			wantRequests: []string{"Hangup caller-ch busy"},
			wantCause:    "busy",
			wantReason:   `callee PJSIP/bob: dial status "BUSY", cause 0`,
		},
		{
			name:         "ringing callee rejects",
			setup:        func(c *call) { c.caller.channel, c.callee.channel = channelInStasis, channelDialled },
			events:       []ari.Event{&ari.ChannelDestroyed{Channel: callee, Cause: 21, CauseTxt: "Call Rejected"}},
			wantRequests: []string{"Hangup caller-ch rejected"},
			wantCause:    "rejected",
			wantReason:   `callee PJSIP/bob: dial status "", cause 21 Call Rejected`,
		},
		{
			name:         "ringing callee unreachable",
			setup:        func(c *call) { c.caller.channel, c.callee.channel = channelInStasis, channelDialled },
			events:       []ari.Event{&ari.ChannelDestroyed{Channel: callee, Cause: 3}},
			wantRequests: []string{"Hangup caller-ch congestion"},
			wantCause:    "unavailable",
			wantReason:   `callee PJSIP/bob: dial status "", cause 3`,
		},
		{
			name:         "caller hangs up while the callee rings",
			setup:        func(c *call) { c.caller.channel, c.callee.channel = channelInStasis, channelDialled },
			events:       []ari.Event{&ari.ChannelHangupRequest{Channel: caller, Cause: 16}, &ari.ChannelDestroyed{Channel: caller, Cause: 16, CauseTxt: "Normal Clearing"}},
			wantRequests: []string{"Hangup c1-callee normal"},
			wantCause:    "caller_hangup",
			wantParty:    Caller,
			wantReason:   "caller hung up (cause 16 Normal Clearing)",
		},
		{
			name: "callee hangs up an answered call",
			setup: func(c *call) {
				c.caller.channel, c.callee.channel = channelInStasis, channelInStasis
				c.state, c.bridge = CallAnswered, bridgeCreated
			},
			events:       []ari.Event{&ari.StasisEnd{Channel: callee}},
			wantRequests: []string{"Hangup caller-ch normal", "DestroyBridge c1-bridge"},
			wantCause:    "callee_hangup",
			wantParty:    Callee,
			wantReason:   "callee hung up",
		},
		{
			name:         "API-originated caller busy",
			setup:        func(c *call) { c.originated = true },
			events:       []ari.Event{&ari.Dial{Peer: caller, Dialstatus: "BUSY"}, &ari.ChannelDestroyed{Channel: caller, Cause: 17, CauseTxt: "User busy"}},
			wantRequests: nil, // the caller is gone, nothing else exists yet
			wantCause:    "caller_busy",
			wantReason:   `caller PJSIP/alice: dial status "BUSY", cause 17 User busy`,
		},
		{
			name:         "API-originated caller does not answer",
			setup:        func(c *call) { c.originated = true },
			events:       []ari.Event{&ari.Dial{Peer: caller, Dialstatus: "NOANSWER"}, &ari.StasisEnd{Channel: caller}},
			wantRequests: nil,
			wantCause:    "caller_no_answer",
			wantReason:   `caller PJSIP/alice: dial status "NOANSWER", cause 0`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &unitARI{}
			a, err := New(Config{}, f, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			sub := a.Subscribe("c1")
			c := unitCall(t, a, "PJSIP/bob")
			tt.setup(c)
			ctx := context.Background()
			for _, e := range tt.events {
				c.ariEvent(ctx, e)
			}
			if c.state != CallEnded {
				t.Fatal("call not ended")
			}
			if got := f.recorded(); !slices.Equal(got, tt.wantRequests) {
				t.Errorf("ARI requests %q, want %q", got, tt.wantRequests)
			}
			evs := unitDrain(sub)
			if len(evs) != 1 || evs[0].Name != EventCallEnded {
				t.Fatalf("events %+v, want one call_ended", evs)
			}
			e := evs[0]
			unitEq(t, "end cause", e.Call.EndCause, tt.wantCause)
			unitEq(t, "call state", e.Call.State, CallEnded)
			unitEq(t, "party", e.Party, tt.wantParty)
			if !strings.HasPrefix(e.Reason, tt.wantReason) {
				t.Errorf("reason %q, want it to start with %q", e.Reason, tt.wantReason)
			}
			if e.Call.EndedAt == nil {
				t.Error("EndedAt not set")
			}
			// Another hang-up event changes nothing.
			n := len(f.recorded())
			c.ariEvent(ctx, &ari.StasisEnd{Channel: caller})
			c.ariEvent(ctx, &ari.StasisEnd{Channel: callee})
			if got := len(f.recorded()); got != n {
				t.Errorf("%d ARI requests after further hang-ups, want %d", got, n)
			}
			if evs := unitDrain(sub); len(evs) != 0 {
				t.Errorf("events after the end: %+v", evs)
			}
		})
	}
}

func TestUnitCheckEndpoint(t *testing.T) {
	tests := []struct {
		ep   string
		want bool
	}{
		{"PJSIP/bob", true},
		{"PJSIP/bob/sip:bob@example.com", true},
		{"Local/100@from-internal", true},
		{"SIP/100", true},
		{"", false},
		{"bob", false},
		{"PJSIP/", false},
		{"/bob", false},
		{"PJSIP/bob,PJSIP/alice", false},
		{"PJSIP/bob&PJSIP/alice", false},
		{"PJSIP/bob alice", false},
		{"PJSIP/bob\tx", false},
		{"PJSIP/bob\r\n", false},
		{"PJSIP/" + strings.Repeat("a", maxEndpointLen-6), true},
		{"PJSIP/" + strings.Repeat("a", maxEndpointLen-5), false},
		{"PJSIP/b\xffob", false},
		{"PJSIP/b\u0000ob", false},
		{"PJSIP/b\u200bob", false},
		{"PJSIP/zoë", true},
	}
	for _, tt := range tests {
		t.Run(quoteShort(tt.ep), func(t *testing.T) {
			err := checkEndpoint(tt.ep)
			if (err == nil) != tt.want || (err != nil && !errors.Is(err, ErrInvalidEndpoint)) {
				t.Errorf("checkEndpoint(%q) = %v, want ok %v", tt.ep, err, tt.want)
			}
			if err != nil && len(err.Error()) > 200 {
				t.Errorf("error message of %d bytes: an endpoint is quoted short", len(err.Error()))
			}
		})
	}
}

func TestUnitOriginateWithoutDispatcher(t *testing.T) {
	a, err := New(Config{}, &unitARI{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct{ from, to string }{{"bob", "PJSIP/alice"}, {"PJSIP/alice", "PJSIP/bob,x"}} {
		if _, err := a.Originate(ctx, tc.from, tc.to); !errors.Is(err, ErrInvalidEndpoint) {
			t.Errorf("Originate(%q, %q) = %v, want ErrInvalidEndpoint", tc.from, tc.to, err)
		}
	}
	// Not connected to Asterisk: refused after the step timeout.
	a.cfg.StepTimeout = 20 * time.Millisecond
	if _, err := a.Originate(ctx, "PJSIP/alice", "PJSIP/bob"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Originate before the ARI connection is up = %v, want ErrUnavailable", err)
	}
	// Connected, but no dispatcher takes the request: ctx ends the wait.
	a.setSynced(true)
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := a.Originate(cctx, "PJSIP/alice", "PJSIP/bob"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Originate without a dispatcher = %v, want the context's error", err)
	}
	if n := len(a.originates); n != 0 {
		t.Errorf("%d originate tokens held after a request nobody took, want 0", n)
	}
	a.Close()
	if _, err := a.Originate(ctx, "PJSIP/alice", "PJSIP/bob"); !errors.Is(err, ErrClosed) {
		t.Errorf("Originate after Close = %v, want ErrClosed", err)
	}
}

// TestUnitDTMF drives the feature-code matcher. The call is still ringing,
// so a matched hold is refused with a hold_failed event (source dtmf) and a
// matched resume with ErrNotEstablished, logged but reported as no event:
// this shows which code matched without any ARI request.
func TestUnitDTMF(t *testing.T) {
	type press struct {
		digits string
		pause  time.Duration // before these digits
	}
	tests := []struct {
		name        string
		cfg         DTMFConfig
		holds       bool // the pressing party holds
		presses     []press
		wantHolds   int // hold requests (hold_failed events)
		wantResumes int // resume requests (log lines minus holds)
	}{
		{name: "off by default", cfg: DTMFConfig{}, presses: []press{{digits: "*7*8#"}}},
		{name: "hold code", cfg: DTMFConfig{Hold: "*7", Resume: "*8"}, presses: []press{{digits: "*7"}}, wantHolds: 1},
		{name: "resume code", cfg: DTMFConfig{Hold: "*7", Resume: "*8"}, presses: []press{{digits: "*8"}}, wantResumes: 1},
		{name: "stray digits before the code", cfg: DTMFConfig{Hold: "*7", Resume: "*8"}, presses: []press{{digits: "1234*7"}}, wantHolds: 1},
		{name: "both codes in a row", cfg: DTMFConfig{Hold: "*7", Resume: "*8"}, presses: []press{{digits: "*7*8*7"}}, wantHolds: 2, wantResumes: 1},
		{name: "digits are consumed by a match", cfg: DTMFConfig{Hold: "77", Resume: "88"}, presses: []press{{digits: "777"}}, wantHolds: 1},
		{name: "no match", cfg: DTMFConfig{Hold: "*7", Resume: "*8"}, presses: []press{{digits: "7*9#*"}}},
		{name: "hold only", cfg: DTMFConfig{Hold: "#1"}, presses: []press{{digits: "#1#2"}}, wantHolds: 1},
		{name: "toggle while not holding holds", cfg: DTMFConfig{Hold: "#9", Resume: "#9"}, presses: []press{{digits: "#9"}}, wantHolds: 1},
		{name: "toggle while holding resumes", cfg: DTMFConfig{Hold: "#9", Resume: "#9"}, holds: true, presses: []press{{digits: "#9"}}, wantResumes: 1},
		{
			name:    "a pause longer than the timeout breaks a code",
			cfg:     DTMFConfig{Hold: "*7", Resume: "*8", Timeout: 30 * time.Millisecond},
			presses: []press{{digits: "*"}, {digits: "7", pause: 80 * time.Millisecond}},
		},
		{
			name:      "a pause within the timeout keeps a code",
			cfg:       DTMFConfig{Hold: "*7", Resume: "*8", Timeout: time.Minute},
			presses:   []press{{digits: "*"}, {digits: "7", pause: 20 * time.Millisecond}},
			wantHolds: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			core, logs := observer.New(zapcore.DebugLevel)
			f := &unitARI{}
			a, err := New(Config{DTMF: tt.cfg}, f, zap.New(core))
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			sub := a.Subscribe("c1")
			c := unitCall(t, a, "PJSIP/bob")
			if tt.holds {
				c.caller.holdSince = time.Now()
			}
			ctx := context.Background()
			for _, p := range tt.presses {
				time.Sleep(p.pause)
				for _, d := range p.digits {
					c.ariEvent(ctx, &ari.ChannelDtmfReceived{Digit: string(d), Channel: ari.Channel{ID: "caller-ch"}})
				}
			}
			// Digits of a channel that is not the call's are ignored.
			c.ariEvent(ctx, &ari.ChannelDtmfReceived{Digit: "7", Channel: ari.Channel{ID: "elsewhere"}})

			var holds int
			for _, e := range unitDrain(sub) {
				if e.Name != EventHoldFailed || e.Source != SourceDTMF || e.Party != Caller {
					t.Errorf("unexpected event %s source %s party %s", e.Name, e.Source, e.Party)
					continue
				}
				holds++
			}
			requests := 0
			for _, l := range logs.FilterMessage("request from the phone not carried out").All() {
				m := l.ContextMap()
				if m["source"] != "dtmf" || m["party"] != "caller" || !strings.Contains(fmt.Sprint(m["error"]), "not established") {
					t.Errorf("log line %v", m)
				}
				requests++
			}
			if holds != tt.wantHolds || requests-holds != tt.wantResumes {
				t.Errorf("%d hold and %d resume requests, want %d and %d", holds, requests-holds, tt.wantHolds, tt.wantResumes)
			}
			if got := f.recorded(); len(got) != 0 {
				t.Errorf("ARI requests %v, want none", got)
			}
		})
	}
}

// TestUnitPhoneHoldEvents: ChannelHold and ChannelUnhold of a party become
// hold and resume requests with source phone.
func TestUnitPhoneHoldEvents(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	a, err := New(Config{}, &unitARI{}, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	sub := a.Subscribe("c1")
	c := unitCall(t, a, "PJSIP/bob")
	ctx := context.Background()
	c.ariEvent(ctx, &ari.ChannelHold{Channel: ari.Channel{ID: "c1-callee"}})
	c.ariEvent(ctx, &ari.ChannelUnhold{Channel: ari.Channel{ID: "c1-callee"}})
	c.ariEvent(ctx, &ari.ChannelHold{Channel: ari.Channel{ID: "elsewhere"}})

	evs := unitDrain(sub)
	if len(evs) != 1 || evs[0].Name != EventHoldFailed || evs[0].Party != Callee || evs[0].Source != SourcePhone {
		t.Fatalf("events %+v, want one hold_failed of the callee from the phone", evs)
	}
	lines := logs.FilterMessage("request from the phone not carried out").All()
	if len(lines) != 2 {
		t.Fatalf("%d log lines for refused phone requests, want 2 (hold, resume)", len(lines))
	}
	for _, l := range lines {
		if m := l.ContextMap(); m["source"] != "phone" || m["party"] != "callee" {
			t.Errorf("log line %v", m)
		}
	}
}
