package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/ariapp/ariapp/api"
	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/internal/labtest"
)

// inFlight counts the originates in flight to Asterisk, and their most.
type inFlight struct {
	app.ARI
	now, max atomic.Int32
}

func (f *inFlight) Originate(ctx context.Context, p ari.OriginateParams) (*ari.Channel, error) {
	n := f.now.Add(1)
	defer f.now.Add(-1)
	for m := f.max.Load(); n > m && !f.max.CompareAndSwap(m, n); m = f.max.Load() {
	}
	// Asterisk's answer takes a moment under a burst; the window makes the
	// bound visible even when it answers fast.
	time.Sleep(20 * time.Millisecond)
	return f.ARI.Originate(ctx, p)
}

// TestLabOriginateBurst: 200 POST /v1/calls at once (Local channels). No
// more originates than call.max_originates are in flight to Asterisk; each
// request is answered 201 or 503 overloaded with Retry-After, never a 504 or 500 that
// leaves a call nobody owns; every 201 is a call ariapp tracks; after the
// calls are hung up nothing of them is left in Asterisk, and nothing turns
// up later either (a channel Asterisk created after ariapp gave it up).
func TestLabOriginateBurst(t *testing.T) {
	const burst = 200
	cfg := labtest.Require(t)
	client, err := ari.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	counted := &inFlight{ARI: client}
	a, err := app.New(app.Config{AnswerTimeout: 10 * time.Second, SweepInterval: time.Second}, counted, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	// Every call the App starts, including those that fail, to look for
	// what they might leave.
	sub := a.Subscribe("")
	defer sub.Close()
	var (
		mu      sync.Mutex
		started = map[string]bool{}
	)
	subDone := make(chan struct{})
	go func() {
		defer close(subDone)
		for ev := range sub.C {
			if ev.Name == app.EventCallStarted {
				mu.Lock()
				started[ev.CallID] = true
				mu.Unlock()
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := client.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	a.Start(client.Events())
	s := api.New(api.Config{}, a, func() error { return nil }, zaptest.NewLogger(t))
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	type answer struct {
		status     int
		code, id   string
		retryAfter string
	}
	answers := make([]answer, burst)
	var wg sync.WaitGroup
	body := `{"from":"Local/idle@ariapp-test","to":"Local/idle@ariapp-test"}`
	for i := range burst {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post(srv.URL+"/v1/calls", "application/json", strings.NewReader(body))
			if err != nil {
				answers[i] = answer{code: err.Error()}
				return
			}
			defer resp.Body.Close()
			data, _ := io.ReadAll(resp.Body)
			var reply struct {
				CallID string          `json:"call_id"`
				Error  api.ErrorDetail `json:"error"`
			}
			_ = json.Unmarshal(data, &reply)
			answers[i] = answer{status: resp.StatusCode, code: reply.Error.Code, id: reply.CallID, retryAfter: resp.Header.Get("Retry-After")}
		}()
	}
	wg.Wait()

	byStatus := map[int]int{}
	var tracked []string
	for _, an := range answers {
		byStatus[an.status]++
		switch an.status {
		case http.StatusCreated:
			if _, err := a.Call(an.id); err != nil {
				t.Errorf("201 for call %s, which ariapp does not track: %v", an.id, err)
			}
			tracked = append(tracked, an.id)
		case http.StatusServiceUnavailable:
			if an.code != api.CodeOverloaded || an.retryAfter == "" {
				t.Errorf("503 with code %q, Retry-After %q; want overloaded with Retry-After", an.code, an.retryAfter)
			}
		default:
			t.Errorf("answer %d %q: want 201 or 503", an.status, an.code)
		}
	}
	t.Logf("burst of %d: answers by status %v; %d calls tracked; at most %d originates in flight", burst, byStatus, len(tracked), counted.max.Load())
	if m := counted.max.Load(); m > app.DefaultMaxOriginates {
		t.Errorf("%d originates in flight to Asterisk at once, want at most %d (call.max_originates)", m, app.DefaultMaxOriginates)
	}
	if byStatus[http.StatusCreated] == 0 {
		t.Fatal("no call was accepted")
	}

	hctx, hcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer hcancel()
	a.HangupAll(hctx)

	// Nothing of any call the App started may be in Asterisk, now or a few
	// sweeps later.
	mu.Lock()
	ids := make([]string, 0, len(started))
	for id := range started {
		ids = append(ids, id)
	}
	mu.Unlock()
	leftover := func() []string {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		chans, err := client.Channels(ctx)
		if err != nil {
			return []string{err.Error()}
		}
		var left []string
		for _, ch := range chans {
			for _, id := range ids {
				if strings.HasPrefix(ch.ID, id) {
					left = append(left, fmt.Sprintf("%s (%s, %s)", ch.ID, ch.Name, ch.State))
				}
			}
			if ch.Dialplan.AppName == "Stasis" && strings.HasPrefix(ch.Dialplan.AppData, cfg.Application) {
				left = append(left, fmt.Sprintf("%s (%s) in Stasis", ch.ID, ch.Name))
			}
		}
		return left
	}
	deadline := time.Now().Add(30 * time.Second)
	for left := leftover(); len(left) > 0; left = leftover() {
		if time.Now().After(deadline) {
			t.Fatalf("%d channels left in Asterisk 30 s after the burst's calls were hung up: %v", len(left), left)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Three more sweeps: nothing turns up late.
	time.Sleep(3 * time.Second)
	if left := leftover(); len(left) > 0 {
		t.Fatalf("channels turned up after the clean-up: %v", left)
	}
	t.Logf("%d calls started in all, nothing left; sweeps removed %d", len(ids), a.Swept())
}
