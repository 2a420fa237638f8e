package app

import (
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// unitRecv reads n events from s.C, failing the test if they do not come
// within a few seconds (events beyond the channel arrive through the pump).
func unitRecv(t *testing.T, s *Subscription, n int) []Event {
	t.Helper()
	out := make([]Event, 0, n)
	timeout := time.After(5 * time.Second)
	for len(out) < n {
		select {
		case e, ok := <-s.C:
			if !ok {
				t.Fatalf("C closed after %d of %d events", len(out), n)
			}
			out = append(out, e)
		case <-timeout:
			t.Fatalf("got %d of %d events", len(out), n)
		}
	}
	return out
}

// unitQueue reports the subscriber's queued events and whether a pump runs.
func unitQueue(s *Subscription) (queued, queueCap int, pumping bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue), cap(s.queue), s.pumping
}

func unitSeqs(evs []Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, e := range evs {
		out[i] = e.Seq
	}
	return out
}

func unitPublishN(h *hub, from, n int) {
	for i := from; i < from+n; i++ {
		h.publish(unitEvent(EventHoldSuccess, "c1", uint64(i)))
	}
}

func TestUnitHubBufferOnDemand(t *testing.T) {
	t.Run("an idle subscriber holds only its channel", func(t *testing.T) {
		h := newHub(zap.NewNop())
		s := h.subscribe("", 1024)
		defer s.Close()
		if cap(s.C) != subscriberChanCap {
			t.Errorf("cap(C) = %d, want %d", cap(s.C), subscriberChanCap)
		}
		if q, qc, p := unitQueue(s); q != 0 || qc != 0 || p {
			t.Errorf("idle subscriber: queue %d (cap %d), pumping %v; want nothing", q, qc, p)
		}
		small := h.subscribe("c1", 3)
		defer small.Close()
		if cap(small.C) != 3 {
			t.Errorf("cap(C) of a 3-event subscriber = %d, want 3", cap(small.C))
		}
	})

	t.Run("the queue grows, keeps order and is released once read", func(t *testing.T) {
		h := newHub(zap.NewNop())
		s := h.subscribe("", 1024)
		defer s.Close()
		const n = 500
		unitPublishN(h, 1, n)
		if q, _, _ := unitQueue(s); q < n-subscriberChanCap-1 {
			// The pump may already have moved one into C.
			t.Errorf("queued %d, want about %d", q, n-subscriberChanCap)
		}
		got := unitSeqs(unitRecv(t, s, n))
		want := make([]uint64, n)
		for i := range want {
			want[i] = uint64(i + 1)
		}
		if !slices.Equal(got, want) || s.Dropped() != 0 {
			t.Fatalf("got %d events out of order or dropped %d", len(got), s.Dropped())
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			q, qc, p := unitQueue(s)
			if q == 0 && qc == 0 && !p {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after catching up: queue %d (cap %d), pumping %v; want released", q, qc, p)
			}
			time.Sleep(time.Millisecond)
		}
		// Events published after the pump ended come straight through C.
		unitPublishN(h, n+1, 2)
		if got := unitSeqs(unitRecv(t, s, 2)); !slices.Equal(got, []uint64{n + 1, n + 2}) {
			t.Errorf("after the pump ended got %v", got)
		}
	})

	t.Run("beyond the buffer events drop without blocking, logged once", func(t *testing.T) {
		core, logs := observer.New(zapcore.DebugLevel)
		h := newHub(zap.New(core))
		s := h.subscribe("", 40)
		done := make(chan struct{})
		go func() { defer close(done); unitPublishN(h, 1, 1000) }()
		unitWithin(t, 5*time.Second, "publish to a subscriber that never reads", done)
		if got := s.Dropped(); got != 960 {
			t.Errorf("Dropped() = %d, want 960", got)
		}
		got := unitSeqs(unitRecv(t, s, 40))
		if got[0] != 1 || got[39] != 40 {
			t.Errorf("kept %v, want the first 40", got)
		}
		s.Close()
		if n := logs.FilterLevelExact(zapcore.WarnLevel).Len(); n != 1 {
			t.Errorf("%d warnings for one slow subscriber, want 1: %v", n, logs.All())
		}
		sum := logs.FilterMessage("event subscriber closed; it lost events").All()
		if len(sum) != 1 || sum[0].ContextMap()["dropped_total"] != uint64(960) || sum[0].ContextMap()["subscriber"] != s.ID() {
			t.Errorf("closing summary %v, want one line with dropped_total 960", sum)
		}
	})

	t.Run("Close while the pump waits for the reader", func(t *testing.T) {
		h := newHub(zap.NewNop())
		s := h.subscribe("", 1000)
		unitPublishN(h, 1, 200)
		done := make(chan struct{})
		go func() { defer close(done); s.Close() }()
		unitWithin(t, 5*time.Second, "Close of a subscriber with queued events", done)
		n := 0
		for range s.C {
			n++
		}
		if n > subscriberChanCap {
			t.Errorf("read %d events after Close, want at most the %d in C", n, subscriberChanCap)
		}
		if _, _, p := unitQueue(s); p {
			t.Error("the pump still runs after Close")
		}
		unitPublishN(h, 201, 1) // no send on the closed channel
	})

	t.Run("hub close delivers what waits, then closes C", func(t *testing.T) {
		h := newHub(zap.NewNop())
		s := h.subscribe("", 1000)
		defer s.Close()
		unitPublishN(h, 1, 100)
		h.close()
		unitPublishN(h, 101, 1)
		var got []uint64
		for e := range s.C {
			got = append(got, e.Seq)
		}
		if len(got) != 100 || got[99] != 100 {
			t.Errorf("after hub close read %d events (last %v), want 1..100", len(got), got[len(got)-1:])
		}
	})

	t.Run("concurrent publish and read lose nothing and keep order", func(t *testing.T) {
		h := newHub(zap.NewNop())
		s := h.subscribe("", 10000)
		defer s.Close()
		const n = 5000
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; i <= n; i++ {
				h.publish(unitEvent(EventHoldSuccess, "c1", uint64(i)))
				if i%500 == 0 {
					runtime.Gosched()
				}
			}
		}()
		got := unitSeqs(unitRecv(t, s, n))
		wg.Wait()
		for i, seq := range got {
			if seq != uint64(i+1) {
				t.Fatalf("event %d has seq %d", i, seq)
			}
		}
	})
}

// TestUnitIdleSubscriberMemory measures the heap that 1,000 idle
// subscribers to every call hold (the default buffer: 1,024 events each)
// and bounds it: an idle subscriber must not reserve its buffer.
func TestUnitIdleSubscriberMemory(t *testing.T) {
	a, err := New(Config{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	const n = 1000
	before := unitHeap()
	subs := make([]*Subscription, n)
	for i := range subs {
		subs[i] = a.Subscribe("")
	}
	grown := unitHeap() - before
	perSub := grown / n
	t.Logf("%d idle all-calls subscribers: heap +%.1f MiB (%d bytes each)", n, float64(grown)/(1<<20), perSub)
	if perSub > 16<<10 {
		t.Errorf("an idle subscriber holds %d bytes, want under 16 KiB", perSub)
	}
	for _, s := range subs {
		s.Close()
	}
}

func unitHeap() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}
