package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/internal/procstat"
)

// sampleEvery is the period of GET /v1/stats.
const sampleEvery = 5 * time.Second

// Sample is one GET /v1/stats during the run.
type Sample struct {
	// T is the time since the load started, in seconds.
	T float64 `json:"t"`
	// Phase is "idle" (before the first call), "load", "deadline" (taken
	// when the slots were told to stop), "drain" (calls being hung up) or
	// "final" (every call ended, 2 s later).
	Phase          string `json:"phase"`
	Calls          int    `json:"calls"`
	Goroutines     int    `json:"goroutines"`
	HeapAllocBytes uint64 `json:"heap_alloc_bytes"`
	HeapObjects    uint64 `json:"heap_objects"`
	RSSBytes       uint64 `json:"rss_bytes"`
	MaxRSSBytes    uint64 `json:"max_rss_bytes"`
	ARIDropped     uint64 `json:"ari_dropped"`
	ARIConnects    uint64 `json:"ari_connects"`
	Events         uint64 `json:"events"`
}

func sampleOf(s stats, t time.Duration, phase string) Sample {
	var n uint64
	for _, k := range s.Events {
		n += k
	}
	return Sample{T: t.Seconds(), Phase: phase, Calls: s.Calls, Goroutines: s.Goroutines,
		HeapAllocBytes: s.HeapAllocBytes, HeapObjects: s.HeapObjects, RSSBytes: s.RSSBytes,
		MaxRSSBytes: s.MaxRSSBytes, ARIDropped: s.ARI.Dropped, ARIConnects: s.ARI.Connects, Events: n}
}

// warmupAt is when the warm-up sample may be taken: max(10 s, 10% of the
// duration), at most half of the duration.
func warmupAt(d time.Duration) time.Duration {
	return min(max(10*time.Second, d/10), d/2)
}

// execute runs the load and the checks. An error means the run could not
// start (ariapp or ARI unreachable).
func execute(ctx context.Context, cfg config, logw io.Writer) (*Result, error) {
	cl := newAPIClient(cfg.api, cfg.token, cfg.calls)
	// Reachable at all? (The idle sample is taken once the stream is up.)
	if _, err := cl.stats(ctx); err != nil {
		return nil, fmt.Errorf("ariapp's API at %s: %v", cfg.api, err)
	}
	var (
		ariC *ari.Client
		err  error
	)
	if cfg.ariURL != "" {
		ariC, err = ari.New(ari.Config{URL: cfg.ariURL, Username: cfg.ariUser, Password: cfg.ariPassword,
			Application: "ariapp-load-check", RequestTimeout: 10 * time.Second})
		if err != nil {
			return nil, err
		}
		defer ariC.Close()
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := ariC.Info(pctx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("ARI at %s (leftover check): %v", cfg.ariURL, err)
		}
	}

	var evLog *json.Encoder
	if cfg.eventsFile != "" {
		f, err := os.Create(cfg.eventsFile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		bw := bufio.NewWriter(f)
		defer bw.Flush()
		evLog = json.NewEncoder(bw)
	}
	chk := NewChecker()
	tr := newTracker()
	streamCtx, cancelStream := context.WithCancel(context.Background())
	defer cancelStream()
	ready := make(chan struct{})
	streamDone := make(chan struct{})
	var streamErr error
	go func() {
		defer close(streamDone)
		streamErr = cl.events(streamCtx, ready, func(ev app.Event) {
			if evLog != nil {
				_ = evLog.Encode(ev)
			}
			chk.Event(ev)
			tr.event(ev)
		}, func(n uint64) {
			if evLog != nil {
				_ = evLog.Encode(map[string]uint64{"lost": n})
			}
			chk.Lost(n)
		})
	}()
	defer func() { cancelStream(); <-streamDone }() // before the event file is flushed
	select {
	case <-ready:
	case <-streamDone:
		return nil, fmt.Errorf("event stream: %v", streamErr)
	case <-time.After(10 * time.Second):
		return nil, fmt.Errorf("event stream: no reply from GET /v1/events within 10s")
	}
	// The idle sample, taken with the stream subscribed: the event counters
	// from here on must match what the stream delivers.
	idle, err := cl.stats(ctx)
	if err != nil {
		return nil, fmt.Errorf("ariapp's API at %s: %v", cfg.api, err)
	}

	res := &Result{Config: cfg.summary(), Warmup: warmupAt(cfg.duration).Seconds()}
	fmt.Fprintf(logw, "ariapp-load: %d call slots for %v against %s, seed %d (from %s to %s)\n",
		cfg.calls, cfg.duration, cfg.api, cfg.seed, cfg.from, cfg.to)

	// Asterisk's CPU over the load phase, when it runs on this machine
	// (the lab): what the calls' media and requests cost it.
	astPID, astErr := procstat.AsteriskPID()
	var ast0 time.Duration
	if astErr == nil {
		ast0, astErr = procstat.CPU(astPID)
	}
	var astPct float64
	start := time.Now()
	stop := make(chan struct{})
	ta := newTally()
	ta.maxErrors, ta.tooMany = cfg.maxErrors, make(chan struct{})
	var interrupted, streamBroke, aborted bool
	go func() {
		t := time.NewTimer(cfg.duration)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			interrupted = true
			fmt.Fprintln(logw, "ariapp-load: interrupted; hanging up every call")
		case <-streamDone:
			streamBroke = true
			fmt.Fprintf(logw, "ariapp-load: the event stream failed (%v); hanging up every call\n", streamErr)
		case <-ta.tooMany:
			aborted = true
			fmt.Fprintf(logw, "ariapp-load: %d unexpected errors (-max-errors); stopping early, hanging up every call\n", cfg.maxErrors)
		}
		if astErr == nil {
			if ast1, err := procstat.CPU(astPID); err == nil {
				astPct = 100 * float64(ast1-ast0) / float64(time.Since(start))
			}
		}
		close(stop)
	}()

	r := &runner{cfg: cfg, api: cl, chk: chk, tr: tr, tally: ta, stop: stop}

	// Sampler: every 5 s, one sample at the stop, until every call ended.
	var samplesMu sync.Mutex
	samples := []Sample{sampleOf(idle, 0, "idle")}
	sampDone := make(chan struct{})
	sampStopped := make(chan struct{})
	go func() {
		defer close(sampStopped)
		tick := time.NewTicker(sampleEvery)
		defer tick.Stop()
		phase, stopCh := "load", (<-chan struct{})(stop)
		var last time.Time
		for {
			select {
			case <-tick.C:
				if time.Since(last) < sampleEvery/2 {
					continue // the stop's sample was just taken
				}
			case <-stopCh:
				phase, stopCh = "deadline", nil
			case <-sampDone:
				return
			}
			last = time.Now()
			s, err := cl.stats(context.Background())
			if err != nil {
				// A sample is the tool's own probe, not an operation: on a
				// starved machine it may time out. The leak checks need the
				// warm-up and final samples, which fail the run if missing.
				ta.mu.Lock()
				ta.missedSamples++
				ta.mu.Unlock()
				fmt.Fprintf(logw, "  t=%4.0fs sample missed: GET /v1/stats: %v\n", time.Since(start).Seconds(), err)
				continue
			}
			el := time.Since(start)
			smp := sampleOf(s, el, phase)
			samplesMu.Lock()
			samples = append(samples, smp)
			samplesMu.Unlock()
			if phase == "deadline" {
				phase = "drain"
			}
			ta.mu.Lock()
			nOps, nUnexp := 0, ta.unexp
			for _, n := range ta.ops {
				nOps += n
			}
			ta.mu.Unlock()
			fmt.Fprintf(logw, "  t=%4.0fs %-8s ariapp calls=%-4d goroutines=%-5d heap=%s rss=%s  ops=%d unexpected=%d violations=%d\n",
				el.Seconds(), smp.Phase, s.Calls, s.Goroutines, mib(s.HeapAllocBytes), mib(s.RSSBytes), nOps, nUnexp, chk.violationCount())
		}
	}()

	// The media check, once the load is warm: every slot has a call up.
	mediaDone := make(chan *mediaCheck, 1)
	if ariC != nil {
		go func() {
			if !r.pause(warmupAt(cfg.duration)) {
				mediaDone <- nil
				return
			}
			mc := checkMedia(ariC, tr, ta)
			mediaDone <- &mc
		}()
	}

	// The slots start spread over a second (or a tenth of a short run), not
	// in one burst.
	var wg sync.WaitGroup
	spread := min(time.Second, cfg.duration/10)
	for i := range cfg.calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !r.pause(spread * time.Duration(i) / time.Duration(cfg.calls)) {
				return
			}
			r.slot(i)
		}()
	}
	wg.Wait()
	loadEnd := time.Since(start)
	close(sampDone)
	<-sampStopped

	// Every call ended: close this tool's idle connections (each holds a
	// goroutine in ariapp), let ariapp settle 2 s, take the final sample.
	cl.hc.CloseIdleConnections()
	time.Sleep(2 * time.Second)
	final, err := cl.stats(context.Background())
	if err != nil {
		ta.unexpected("final GET /v1/stats: %v", err)
	}
	// ariapp keeps idle HTTP connections to Asterisk (two goroutines each)
	// until Asterisk (15 s) or Go (90 s) closes them: give the goroutines
	// up to -settle to come back under the limit before judging them. A
	// leak does not settle.
	if warm, ok := warmSample(samples, res.Warmup); ok && err == nil && final.Goroutines > warm.Goroutines+5 && cfg.settle > 0 {
		fmt.Fprintf(logw, "ariapp-load: %d goroutines, more than warm-up %d + 5; waiting up to %v for idle connections to close\n",
			final.Goroutines, warm.Goroutines, cfg.settle)
		t0 := time.Now()
		for time.Since(t0) < cfg.settle && final.Goroutines > warm.Goroutines+5 {
			time.Sleep(2 * time.Second)
			s, err := cl.stats(context.Background())
			if err != nil {
				ta.unexpected("final GET /v1/stats: %v", err)
				break
			}
			final = s
		}
		res.Settled = time.Since(t0).Seconds()
	}
	samples = append(samples, sampleOf(final, time.Since(start), "final"))
	var callsLeft []app.CallInfo
	if final.Calls > 0 {
		if callsLeft, err = ariappCalls(cl); err != nil {
			ta.unexpected("%v", err)
		}
		for _, c := range callsLeft {
			res.CallsLeft = append(res.CallsLeft, describeCall(c))
		}
	}

	// The stream may lag behind ariapp's counters by a moment.
	var delta uint64
	for n, k := range final.Events {
		delta += k - idle.Events[n]
	}
	for wait := time.Now().Add(3 * time.Second); time.Now().Before(wait) && uint64(chk.total()) < delta; {
		time.Sleep(50 * time.Millisecond)
	}

	ta.mu.Lock()
	ours := make(map[string]bool, len(ta.placed))
	for _, id := range ta.placed {
		ours[id] = true
	}
	ta.mu.Unlock()
	// Every call that began during the run: the slots' and those of failed
	// POST /v1/calls or adopted by ariapp, whose ids only the stream told.
	calls := chk.started()
	maps.Copy(calls, ours)

	var left []leftover
	if ariC != nil {
		left, err = leftovers(ariC, calls)
		if err != nil {
			ta.unexpected("leftover check through ARI: %v", err)
		}
	}
	if len(callsLeft) > 0 || len(left) > 0 {
		res.CleanedUp = cleanUp(cl, ariC, calls, callsLeft, left)
	}
	cancelStream()
	<-streamDone

	res.AsteriskCPUPct = astPct
	res.fill(cfg, loadEnd, ta, chk.Finish(ours), samples, idle, final, left, ariC != nil, len(calls))
	if ariC != nil {
		res.Media = <-mediaDone
		switch mc := res.Media; {
		case mc == nil:
			res.addCheck("no needless transcoding", false, "not checked: the run stopped before the warm-up")
		case mc.Calls == 0:
			res.addCheck("no needless transcoding", false, fmt.Sprintf("no answered call to check%s", firstFew(mc.Problems, 3)))
		default:
			res.addCheck("no needless transcoding", len(mc.Problems) == 0,
				fmt.Sprintf("both legs of %d calls read through ARI: %d problem(s)%s", mc.Calls, len(mc.Problems), firstFew(mc.Problems, 2)))
		}
	}
	if interrupted {
		res.addCheck("run completed", false, "interrupted by a signal before the duration was over")
	}
	if aborted {
		res.addCheck("run completed", false, fmt.Sprintf("stopped early after %d unexpected errors (-max-errors)", cfg.maxErrors))
	}
	if streamBroke {
		res.addCheck("event stream", false, fmt.Sprintf("failed during the run: %v", streamErr))
	}
	res.decide()
	return res, nil
}

// ariappCalls lists the calls ariapp still has (GET /v1/calls).
func ariappCalls(cl *apiClient) ([]app.CallInfo, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var list struct {
		Calls []app.CallInfo `json:"calls"`
	}
	rep, err := cl.do(ctx, http.MethodGet, "/v1/calls", nil, &list)
	if err == nil && rep.Status != http.StatusOK {
		err = fmt.Errorf("GET /v1/calls: %v", rep)
	}
	return list.Calls, err
}

func describeCall(c app.CallInfo) string {
	return fmt.Sprintf("%s (%s, caller %s %s, callee %s %s, started %s)", c.CallID, c.State,
		c.Caller.ChannelID, c.Caller.State, c.Callee.ChannelID, c.Callee.State, c.StartedAt.Format(time.TimeOnly))
}

// leftover is a channel or bridge of the run found in Asterisk.
type leftover struct {
	bridge bool
	id     string
	what   string
}

func (l leftover) String() string { return l.what }

// leftovers lists channels and bridges in Asterisk whose id begins with
// the id of a call of the run, retrying for 5 s while Asterisk finishes
// hang-ups. Both halves of a Local channel match: Asterisk names the second
// half ID;2.
func leftovers(c *ari.Client, calls map[string]bool) ([]leftover, error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		chans, err := c.Channels(ctx)
		if err != nil {
			cancel()
			return nil, err
		}
		bridges, err := c.Bridges(ctx)
		cancel()
		if err != nil {
			return nil, err
		}
		var left []leftover
		for _, b := range bridges {
			if calls[callIDOf(b.ID)] {
				left = append(left, leftover{bridge: true, id: b.ID, what: fmt.Sprintf("bridge %s (channels %v)", b.ID, b.Channels)})
			}
		}
		for _, ch := range chans {
			if calls[callIDOf(ch.ID)] {
				left = append(left, leftover{id: ch.ID, what: fmt.Sprintf("channel %s (%s, %s, in %s(%s))", ch.ID, ch.Name, ch.State, ch.Dialplan.AppName, ch.Dialplan.AppData)})
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return left, nil
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// cleanUp removes what a failed run left behind, after the checks recorded
// it, so the shared lab stays clean: it hangs up the calls ariapp still has
// that began during the run, then destroys leftover bridges and hangs up
// leftover channels through ARI, four at a time. An overloaded Asterisk
// may still carry out originates that timed out, so it scans again every
// 3 s until two scans in a row find nothing, for at most 45 s. It returns
// what it did.
func cleanUp(cl *apiClient, ariC *ari.Client, calls map[string]bool, callsLeft []app.CallInfo, left []leftover) []string {
	var (
		mu   sync.Mutex
		done []string
	)
	note := func(format string, args ...any) {
		mu.Lock()
		done = append(done, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	for _, c := range callsLeft {
		if !calls[c.CallID] {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), reqTimeout)
		rep, err := cl.do(ctx, http.MethodDelete, "/v1/calls/"+c.CallID, nil, nil)
		cancel()
		note("DELETE /v1/calls/%s: %v", c.CallID, errOr(err, rep))
	}
	if ariC == nil {
		return done
	}
	deadline := time.Now().Add(45 * time.Second)
	for round, empty := 0, 0; empty < 2 && time.Now().Before(deadline); round++ {
		if round > 0 || len(callsLeft) > 0 {
			time.Sleep(3 * time.Second)
			l, err := leftovers(ariC, calls)
			if err != nil {
				note("scanning Asterisk: %v", err)
				break
			}
			left = l
		}
		if len(left) == 0 {
			empty++
			continue
		}
		empty = 0
		work := make(chan leftover)
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for l := range work {
					err := removeLeftover(ariC, l)
					if !errors.Is(err, ari.ErrNotFound) { // else: the other half of a Local channel, gone with it
						note("removed %s: %v", l.id, errOr(err, reply{Status: 204}))
					}
				}
			}()
		}
		for _, l := range left {
			work <- l
		}
		close(work)
		wg.Wait()
		left = nil
	}
	return done
}

// removeLeftover destroys a bridge or hangs up a channel, trying three
// times: an overloaded Asterisk refuses connections beyond its HTTP session
// limit (the request fails with EOF before Asterisk saw it).
func removeLeftover(c *ari.Client, l leftover) error {
	var err error
	for try := range 3 {
		if try > 0 {
			time.Sleep(time.Duration(try) * time.Second)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if l.bridge {
			err = c.DestroyBridge(ctx, l.id)
		} else {
			err = c.Hangup(ctx, l.id, ari.HangupNormal)
		}
		cancel()
		if err == nil || errors.Is(err, ari.ErrNotFound) {
			return err
		}
	}
	return err
}

// callIDOf is the call id an ariapp resource id begins with: CALL-caller,
// CALL-callee, CALL-bridge, CALL-hold-….
func callIDOf(id string) string {
	c, _, _ := strings.Cut(id, "-")
	return c
}

func mib(b uint64) string { return fmt.Sprintf("%.1fMiB", float64(b)/(1<<20)) }
