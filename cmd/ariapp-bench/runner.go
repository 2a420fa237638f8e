package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/internal/mediafmt"
)

// Memory measurement methods, as reported.
const (
	methodHeap = "live heap+stacks after GC (this process)"
	methodRSS  = "VmRSS of the ariapp process"
)

// config is one benchmark run.
type config struct {
	Levels []int    // concurrent calls per level
	Cycles int      // measured hold/resume cycles per call
	MinOps int      // at least this many measured operations per level (more cycles at low levels)
	Rounds int      // the modes of a level run this many times in turn, samples merged (≥ 1)
	Modes  []string // of ModeBaseline, ModeInproc, ModeAPI, in run order
	Out    string   // output directory ("" writes nothing)

	ARI       ari.Config    // the lab's URL and credentials; Application is set per mode
	AriappBin string        // prebuilt ariapp binary ("" builds one)
	Pause     time.Duration // mean pause between a call's operations (0: closed loop)
	SetupPar  int           // calls set up at once
	APIPprof  string        // the binary's debug.pprof_listen (api)
	FloorBin  string        // this command's binary, the apifloor server ("": this process's)
	Wait      time.Duration // longest wait for one event or call set-up
	OpTimeout time.Duration // longest hold or resume
	Quiet     time.Duration // window with calls up and no operation, for Asterisk's idle CPU
	MaxConns  int           // MaxConnsPerHost of the bench's own ARI clients (0: the ari package's default, unlimited)
	Guard     float64       // stop a level when idle Asterisk uses more than this share of all cores (0: no guard)
	MemProf   string        // heap profile prefix: FILE.MODE.N with the calls up, FILE.MODE.N.after after the teardown (not api)
	CPUProf   string        // CPU profile of this process (the in-process mode's ariapp)
	KeepGoing bool          // run a mode at higher levels after it broke
	Logf      func(format string, args ...any)
}

func (c *config) logf(format string, args ...any) {
	if c.Logf != nil {
		c.Logf(format, args...)
	}
}

// runID is a short random id that prefixes this run's application names
// and ids, so concurrent runs and other engineers' applications never mix.
func runID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// run runs every level and mode and returns the report (also written to
// cfg.Out when set).
func run(ctx context.Context, cfg config) (*Report, error) {
	rep := &Report{
		RunID:     runID(),
		Started:   time.Now().UTC(),
		GoVersion: runtime.Version(),
		CPUs:      runtime.NumCPU(),
		Levels:    cfg.Levels,
		Cycles:    cfg.Cycles,
		Rounds:    max(1, cfg.Rounds),
		Modes:     cfg.Modes,
		Pause:     cfg.Pause.String(),
		MaxConns:  cfg.MaxConns,
	}
	cfg.logf("run %s (if it is killed: ariapp-bench -cleanup %s hangs up what it left)", rep.RunID, rep.RunID)
	probe, err := ari.New(cfg.ARI)
	if err != nil {
		return nil, err
	}
	info, err := probe.Info(ctx)
	probe.Close()
	if err != nil {
		return nil, fmt.Errorf("ARI at %s: %w", cfg.ARI.URL, err)
	}
	rep.AsteriskVersion = info.System.Version
	astPID, err := asteriskPID()
	if err != nil {
		rep.Notes = append(rep.Notes, "Asterisk CPU not measured: "+err.Error())
		cfg.logf("warning: %v", err)
	}
	if astPID > 0 {
		rep.AsteriskBackgroundPct = cpuPct(astPID, time.Second)
		cfg.logf("Asterisk uses %.0f%% of a core before the run (other users of the lab)", rep.AsteriskBackgroundPct)
	}
	if slices.Contains(cfg.Modes, ModeAPI) && cfg.AriappBin == "" {
		dir, err := os.MkdirTemp("", "ariapp-bench-bin-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		cfg.logf("building ./cmd/ariapp")
		if cfg.AriappBin, err = buildAriapp(ctx, dir); err != nil {
			return nil, err
		}
	}
	if cfg.MemProf != "" {
		runtime.MemProfileRate = 512 // fine enough to attribute a few KiB per call
	}
	if cfg.CPUProf != "" {
		f, err := os.Create(cfg.CPUProf)
		if err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, err
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	broken := map[string]string{}
	for _, n := range cfg.Levels {
		for _, mode := range cfg.Modes {
			if why, ok := broken[mode]; ok && !cfg.KeepGoing {
				rep.Results = append(rep.Results, ModeResult{Level: n, Mode: mode, Calls: n, Cycles: cfg.Cycles,
					Skipped: "broke at a lower level: " + why})
			}
		}
		// The modes take turns, round after round, so a slow moment of the
		// shared machine falls on every mode alike rather than on whichever
		// ran then: their percentiles compare fairly.
		rounds := map[string][]ModeResult{}
		for round := 1; round <= max(1, cfg.Rounds); round++ {
			for _, mode := range cfg.Modes {
				if _, ok := broken[mode]; ok && !cfg.KeepGoing {
					continue
				}
				if prev := rounds[mode]; len(prev) > 0 && prev[len(prev)-1].Broken != "" {
					continue
				}
				if ctx.Err() != nil {
					return rep, ctx.Err()
				}
				cfg.logf("level %d, mode %s, round %d: setting up %d calls", n, mode, round, n)
				res := runOne(ctx, &cfg, rep.RunID, astPID, n, mode)
				cfg.logf("level %d, mode %s, round %d: %s", n, mode, round, res.summary())
				rounds[mode] = append(rounds[mode], res)
			}
		}
		for _, mode := range cfg.Modes {
			rs := rounds[mode]
			if len(rs) == 0 {
				continue
			}
			res := mergeRounds(rs)
			rep.Results = append(rep.Results, res)
			if res.Broken != "" {
				broken[mode] = fmt.Sprintf("%d calls: %s", n, res.Broken)
			}
		}
	}
	rep.finish()
	if cfg.Out != "" {
		if err := rep.write(cfg.Out); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// appName is the Stasis application of one mode at one level.
func appName(id, mode string, n int) string { return fmt.Sprintf("ariapp-bench-%s-%s-%d", id, mode, n) }

// mediaProblem reads the audio formats of up to eight channels in the
// Stasis application app, with every call held (half of them play the
// hold tone): a needless translation (a Local channel in slin192
// resamples every hold tone) would make the run measure the channel
// format, not the application. It returns the problems found, or "".
func mediaProblem(ctx context.Context, acfg ari.Config, app string) string {
	acfg.Application = app + "-probe"
	c, err := ari.New(acfg)
	if err != nil {
		return err.Error()
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	chans, err := c.Channels(ctx)
	if err != nil {
		return "listing channels: " + err.Error()
	}
	var problems []string
	checked := 0
	for _, ch := range chans {
		if checked == 8 {
			break
		}
		if ch.Dialplan.AppName != "Stasis" || (ch.Dialplan.AppData != app && !strings.HasPrefix(ch.Dialplan.AppData, app+",")) {
			continue
		}
		f, err := mediafmt.Of(ctx, c, ch.ID)
		if errors.Is(err, ari.ErrNotFound) {
			continue
		}
		checked++
		if err != nil {
			problems = append(problems, err.Error())
		} else if p := f.Problem(); p != "" {
			problems = append(problems, p)
		}
	}
	if checked == 0 {
		return "no channel of " + app + " found in Asterisk"
	}
	return strings.Join(problems, "; ")
}

// newDriver makes the driver of one mode at one level.
func newDriver(cfg *config, id string, n int, mode string) driver {
	acfg := cfg.ARI
	acfg.Application = appName(id, mode, n)
	if mode == ModeAPI {
		d := newAPIMode(cfg.AriappBin, acfg, cfg.Wait)
		d.pprof = cfg.APIPprof
		return d
	}
	// The transport ari.New builds by default, wrapped to count requests.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 64, 64
	tr.IdleConnTimeout = 90 * time.Second
	if cfg.MaxConns > 0 {
		tr.MaxConnsPerHost = cfg.MaxConns
		tr.MaxIdleConns, tr.MaxIdleConnsPerHost = cfg.MaxConns, cfg.MaxConns
	}
	reqs := newCountingTransport(tr)
	acfg.HTTPClient = &http.Client{Transport: reqs}
	if mode == ModeBaseline {
		return newBaseline(acfg, reqs, fmt.Sprintf("bb-%s-%d-", id, n), cfg.Wait)
	}
	if mode == ModeAPIFloor {
		return newFloorMode(cfg.FloorBin, acfg, fmt.Sprintf("bb-%s-%d-f", id, n), cfg.Wait)
	}
	return newInproc(acfg, reqs, cfg.Wait)
}

// runOne measures one mode at one level: set up n calls, one warm-up
// cycle, a quiet window, cfg.Cycles measured cycles per call, teardown.
func runOne(ctx context.Context, cfg *config, id string, astPID, n int, mode string) (res ModeResult) {
	cycles := max(cfg.Cycles, (cfg.MinOps+2*n-1)/(2*n))
	if r := max(1, cfg.Rounds); r > 1 {
		cycles = (cycles + r - 1) / r
	}
	res = ModeResult{Level: n, Mode: mode, Calls: n, Cycles: cycles, CPUSide: cpuSide(mode)}
	d := newDriver(cfg, id, n, mode)
	defer d.stop()
	defer func() {
		res.Drops, res.StreamLost = d.drops()
		res.Notes = d.notes()
	}()
	if err := d.start(ctx, n); err != nil {
		res.Broken = "start: " + err.Error()
		return res
	}
	// Teardown runs whatever happened after start: nothing may be left.
	tornDown := false
	teardown := func() {
		if tornDown {
			return
		}
		tornDown = true
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if err := d.teardown(tctx); err != nil {
			res.Teardown = err.Error()
			if res.Broken == "" {
				res.Broken = "teardown: " + err.Error()
			}
		}
	}
	defer teardown()
	memIdle, method := d.memory()
	res.MemMethod = method

	// What Asterisk spends without this mode's calls (other users of the
	// lab, a previous mode's hang-ups finishing): the guard judges only
	// what the calls add to it.
	if astPID > 0 && cfg.Guard > 0 {
		res.AstBaseCPUPct = cpuPct(astPID, 300*time.Millisecond)
	}
	sreqs0, sevs0, _ := d.ariCounts()
	t0 := time.Now()
	if err := setUp(ctx, cfg, d, n, astPID, res.AstBaseCPUPct); err != nil {
		res.Broken = "set-up: " + err.Error()
		return res
	}
	res.SetupSec = time.Since(t0).Seconds()
	if sreqs1, sevs1, counted := d.ariCounts(); counted {
		res.EventsPerSetup = float64(sevs1-sevs0) / float64(n)
		res.RequestsPerSetup = map[string]float64{}
		for k, v := range diffCounts(sreqs0, sreqs1) {
			res.RequestsPerSetup[k] = float64(v) / float64(n)
			res.RequestsPerSetupTotal += float64(v) / float64(n)
		}
	}
	if st, ok := d.(setupTimer); ok {
		res.samples.setups = st.setupTimes()
		s := newOpStats(res.samples.setups)
		res.Setup = &s
	}
	memSetup, _ := d.memory()

	// Warm-up: one cycle per call, not measured.
	warm := runCycles(ctx, d, n, 1, cfg.Pause, cfg.OpTimeout, 1)
	if len(warm.errs) > 0 {
		res.Broken = fmt.Sprintf("warm-up: %d operations failed, first: %s", warm.errCount, warm.errs[0])
		return res
	}

	measure := cfg.Quiet > 0 && astPID > 0
	if measure {
		res.AstIdleCPUPct = cpuPct(astPID, cfg.Quiet)
		if err := guardErr(cfg, res.AstIdleCPUPct, res.AstBaseCPUPct, n); err != nil {
			res.Broken = err.Error()
			return res
		}
	}
	// Every call held: Asterisk's CPU then is what the hold tones
	// themselves cost, which bounds how many calls can be on hold at once;
	// and the legs' formats, tones playing, show whether Asterisk
	// translates needlessly (then the run would measure that).
	var media string
	if err := holdAll(ctx, d, n, cfg.OpTimeout, func() {
		if measure {
			res.AstHeldCPUPct = cpuPct(astPID, cfg.Quiet)
		}
		media = mediaProblem(ctx, cfg.ARI, appName(id, mode, n))
	}); err != nil {
		res.Broken = "all calls on hold: " + err.Error()
		return res
	}
	if media != "" {
		res.Broken = "media: " + media
		return res
	}

	if in, ok := d.(insider); ok {
		in.insideTimes() // forget the warm-up's
	}
	cpu0 := d.cpu()
	reqs0, evs0, counted := d.ariCounts()
	var ast0 time.Duration
	if astPID > 0 {
		ast0, _ = procCPU(astPID)
	}
	start := time.Now()
	out := runCycles(ctx, d, n, cycles, cfg.Pause, cfg.OpTimeout, 2)
	wall := time.Since(start)
	cpu1 := d.cpu()
	reqs1, evs1, _ := d.ariCounts()
	if astPID > 0 {
		ast1, _ := procCPU(astPID)
		res.AstCPUms = ms(ast1 - ast0)
	}
	settle(d)
	memLoaded, _ := d.memory()
	if cfg.MemProf != "" && mode != ModeAPI {
		// Right after memory()'s GC, with every call still up.
		if err := writeHeapProfile(fmt.Sprintf("%s.%s.%d", cfg.MemProf, mode, n)); err != nil {
			cfg.logf("heap profile: %v", err)
		}
	}

	res.WallSec = wall.Seconds()
	res.samples.holds, res.samples.resumes = out.holds, out.resumes
	res.Hold = newOpStats(out.holds)
	res.Resume = newOpStats(out.resumes)
	if in, ok := d.(insider); ok {
		holds, resumes := in.insideTimes()
		res.samples.insideHolds, res.samples.insideResumes = holds, resumes
		inHold, inResume := newOpStats(holds), newOpStats(resumes)
		res.InsideHold, res.InsideResume = &inHold, &inResume
	}
	res.Ops = len(out.holds) + len(out.resumes)
	res.ErrorCount = out.errCount
	res.Errors = out.errs
	if res.Ops > 0 {
		res.OpsPerSec = float64(res.Ops) / wall.Seconds()
		res.CPUms = ms(cpu1 - cpu0)
		res.CPUPerOpMs = res.CPUms / float64(res.Ops)
		res.AstCPUPerOpMs = res.AstCPUms / float64(res.Ops)
		if counted {
			res.EventsPerOp = float64(evs1-evs0) / float64(res.Ops)
			res.RequestsPerOp = map[string]float64{}
			for k, v := range diffCounts(reqs0, reqs1) {
				res.RequestsPerOp[k] = float64(v) / float64(res.Ops)
				res.RequestsPerOpTotal += float64(v) / float64(res.Ops)
			}
		}
	}
	teardown()
	res.MemIdleKiB = float64(memIdle) / 1024
	res.MemSetupKiB = float64(memSetup) / 1024
	res.MemLoadedKiB = float64(memLoaded) / 1024
	res.MemGrowthPerCallKiB = (res.MemLoadedKiB - res.MemIdleKiB) / float64(n)
	// What a live call holds: memory with the calls up less memory without
	// them in the same process. Heap and stacks are exact after a GC, so
	// "without" is after the teardown, with the buffers the load grew
	// (HTTP connections, queues) still there on both sides. RSS does not
	// shrink when Go frees memory, so there "without" is before the
	// set-up and "with" right after it, before the load grows buffers.
	if method == methodRSS {
		res.MemPerCallKiB = (res.MemSetupKiB - res.MemIdleKiB) / float64(n)
	} else if res.Teardown == "" {
		settle(d)
		memAfter, _ := d.memory()
		res.MemAfterKiB = float64(memAfter) / 1024
		if cfg.MemProf != "" {
			if err := writeHeapProfile(fmt.Sprintf("%s.%s.%d.after", cfg.MemProf, mode, n)); err != nil {
				cfg.logf("heap profile: %v", err)
			}
		}
		res.MemPerCallKiB = (res.MemLoadedKiB - res.MemAfterKiB) / float64(n)
	}
	if out.errCount > 0 {
		res.Broken = fmt.Sprintf("%d of %d operations failed, first: %s", out.errCount, res.Ops+out.errCount, out.errs[0])
	}
	return res
}

// setUp establishes the n calls in steps of about n/20 (at least 8). After each step it
// lets Asterisk idle for a moment and stops when the CPU the calls up add
// to Asterisk's base (their media: tones, Local channels, bridges) passes
// the guard: a saturated Asterisk starves its HTTP threads, and the lab,
// shared with other engineers, becomes unusable until the calls are gone.
func setUp(ctx context.Context, cfg *config, d driver, n, astPID int, base float64) error {
	step := max(8, (n+19)/20)
	for done := 0; done < n; done += step {
		k := min(step, n-done)
		if err := parallel(ctx, k, cfg.SetupPar, func(ctx context.Context, i int) error {
			return d.establish(ctx, done+i)
		}); err != nil {
			return err
		}
		if astPID > 0 && cfg.Guard > 0 && done+k < n {
			if err := guardErr(cfg, cpuPct(astPID, 300*time.Millisecond), base, done+k); err != nil {
				return err
			}
		}
	}
	return nil
}

// guardErr reports an Asterisk saturated by the calls' media: what the up
// calls, idle, add to Asterisk's base CPU (both % of one core, base
// measured before the set-up) above the guard's share of all cores. A
// neighbour's load is in the base and does not count: it would fail a
// mode whose own calls cost next to nothing.
func guardErr(cfg *config, pct, base float64, up int) error {
	limit := cfg.Guard * 100 * float64(runtime.NumCPU())
	own := pct - base
	if cfg.Guard <= 0 || own <= limit {
		return nil
	}
	return fmt.Errorf("asterisk saturated by the calls' media alone: %.0f%% CPU (of %d cores; guard %.0f%%) with %d calls up and idle (%.0f%% before the set-up), about %.1f%% of a core per call",
		own, runtime.NumCPU(), limit, up, base, own/float64(up))
}

// holdAll puts every call on hold (by its caller), runs during, and
// resumes them all.
func holdAll(ctx context.Context, d driver, n int, opTimeout time.Duration, during func()) error {
	calls := make([]int, n)
	for i := range calls {
		calls[i] = i
	}
	each := func(op func(context.Context, int, int) error) error {
		errs := forEach(calls, 16, func(i int) error {
			octx, cancel := context.WithTimeout(ctx, opTimeout)
			defer cancel()
			return op(octx, i, 0)
		})
		if len(errs) > 0 {
			return fmt.Errorf("%d of %d calls failed, first: %w", len(errs), n, errs[0])
		}
		return nil
	}
	if err := each(d.hold); err != nil {
		return err
	}
	during()
	return each(d.resume)
}

// cpuPct is a process's CPU over a window, in % of one core.
func cpuPct(pid int, window time.Duration) float64 {
	a0, _ := procCPU(pid)
	t0 := time.Now()
	time.Sleep(window)
	a1, _ := procCPU(pid)
	return 100 * float64(a1-a0) / float64(time.Since(t0))
}

func cpuSide(mode string) string {
	switch mode {
	case ModeAPI:
		return "ariapp process"
	case ModeInproc:
		return "bench process: ariapp App + load generator"
	case ModeAPIFloor:
		return "floor process: net/http + ari client"
	}
	return "bench process: ari client + event router"
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// parallel runs f(0..n-1) with at most par at once and returns the first
// error (the others still finish).
func parallel(ctx context.Context, n, par int, f func(context.Context, int) error) error {
	if par <= 0 {
		par = 1
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		sem   = make(chan struct{}, par)
	)
	for i := range n {
		mu.Lock()
		failed := first != nil
		mu.Unlock()
		if failed || ctx.Err() != nil {
			break
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := f(ctx, i); err != nil {
				mu.Lock()
				if first == nil {
					first = fmt.Errorf("call %d: %w", i, err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// cycleResult is what one batch of cycles measured.
type cycleResult struct {
	holds, resumes []time.Duration
	errCount       int
	errs           []string // the first few
}

// runCycles runs cycles hold/resume cycles on each of n calls, all calls
// at once; each cycle's holder is caller or callee at random. A call whose
// operation fails stops (a failed resume ends an ariapp call).
func runCycles(ctx context.Context, d driver, n, cycles int, pause, opTimeout time.Duration, seed uint64) cycleResult {
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		out = cycleResult{
			holds:   make([]time.Duration, 0, n*cycles),
			resumes: make([]time.Duration, 0, n*cycles),
		}
	)
	fail := func(i int, what string, err error) {
		mu.Lock()
		defer mu.Unlock()
		out.errCount++
		if len(out.errs) < 5 {
			out.errs = append(out.errs, fmt.Sprintf("call %d %s: %v", i, what, err))
		}
	}
	op := func(f func(context.Context, int, int) error, i, party int) (time.Duration, error) {
		octx, cancel := context.WithTimeout(ctx, opTimeout)
		defer cancel()
		t0 := time.Now()
		err := f(octx, i, party)
		return time.Since(t0), err
	}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := mrand.New(mrand.NewPCG(seed, uint64(i)))
			holds := make([]time.Duration, 0, cycles)
			resumes := make([]time.Duration, 0, cycles)
			defer func() {
				mu.Lock()
				out.holds = append(out.holds, holds...)
				out.resumes = append(out.resumes, resumes...)
				mu.Unlock()
			}()
			for range cycles {
				party := rng.IntN(2)
				sleep(ctx, rng, pause)
				lat, err := op(d.hold, i, party)
				if err != nil {
					fail(i, "hold by "+partyNames[party], err)
					return
				}
				holds = append(holds, lat)
				sleep(ctx, rng, pause)
				lat, err = op(d.resume, i, party)
				if err != nil {
					fail(i, "resume by "+partyNames[party], err)
					return
				}
				resumes = append(resumes, lat)
			}
		}()
	}
	wg.Wait()
	return out
}

// sleep pauses for a random time in [0, 2*mean) (mean 0: no pause).
func sleep(ctx context.Context, rng *mrand.Rand, mean time.Duration) {
	if mean <= 0 {
		return
	}
	t := time.NewTimer(time.Duration(rng.Int64N(int64(2 * mean))))
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// parseLevels reads "1,50,200,500".
func parseLevels(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		var n int
		if _, err := fmt.Sscanf(strings.TrimSpace(f), "%d", &n); err != nil || n < 1 {
			return nil, fmt.Errorf("bad level %q: want positive call counts, e.g. 1,50,200,500", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// parseModes reads "all" or a comma list of baseline, inproc, api; the
// baseline always runs first at each level, as the reference.
func parseModes(s string) ([]string, error) {
	all := []string{ModeBaseline, ModeInproc, ModeAPI, ModeAPIFloor}
	if s == "all" {
		return all, nil
	}
	var out []string
	for _, m := range all {
		if slices.Contains(strings.Split(s, ","), m) {
			out = append(out, m)
		}
	}
	for _, m := range strings.Split(s, ",") {
		if !slices.Contains(all, m) {
			return nil, errors.New("bad mode " + m + ": want api, apifloor, inproc, baseline or all")
		}
	}
	return out, nil
}

// samples are one mode's raw latencies at one level, kept to merge rounds.
type samples struct {
	holds, resumes, insideHolds, insideResumes, setups []time.Duration
}

// mergeRounds makes one result of a mode's rounds at one level: latencies
// pooled, times, operations, CPU, drops and errors added up; memory from
// the last round that measured it (the same calls each time); the first
// breakage reported.
func mergeRounds(rs []ModeResult) ModeResult {
	if len(rs) == 1 {
		return rs[0]
	}
	m := rs[len(rs)-1]
	// Memory from the last round that got as far as measuring it.
	for i := len(rs) - 1; i >= 0; i-- {
		if r := rs[i]; r.MemLoadedKiB > 0 {
			m.MemIdleKiB, m.MemSetupKiB, m.MemLoadedKiB, m.MemAfterKiB = r.MemIdleKiB, r.MemSetupKiB, r.MemLoadedKiB, r.MemAfterKiB
			m.MemPerCallKiB, m.MemGrowthPerCallKiB = r.MemPerCallKiB, r.MemGrowthPerCallKiB
			break
		}
	}
	m.Rounds = len(rs)
	m.Cycles, m.SetupSec, m.WallSec, m.Ops, m.CPUms, m.AstCPUms, m.Drops, m.StreamLost, m.ErrorCount = 0, 0, 0, 0, 0, 0, 0, 0, 0
	m.Broken, m.Teardown, m.Errors = "", "", nil
	var all samples
	idle, held, reqOps := 0.0, 0.0, 0
	reqs := map[string]float64{}
	notes := map[string]int{}
	events := 0.0
	setupReqs := map[string]float64{}
	setupEvents, setupCalls := 0.0, 0
	for _, r := range rs {
		m.Cycles += r.Cycles
		m.SetupSec += r.SetupSec
		m.WallSec += r.WallSec
		m.Ops += r.Ops
		m.CPUms += r.CPUms
		m.AstCPUms += r.AstCPUms
		m.Drops += r.Drops
		m.StreamLost += r.StreamLost
		m.ErrorCount += r.ErrorCount
		m.Errors = append(m.Errors, r.Errors...)
		idle += r.AstIdleCPUPct
		held += r.AstHeldCPUPct
		if m.Broken == "" && r.Broken != "" {
			m.Broken = r.Broken
		}
		if m.Teardown == "" {
			m.Teardown = r.Teardown
		}
		for k, v := range r.RequestsPerOp {
			reqs[k] += v * float64(r.Ops)
		}
		events += r.EventsPerOp * float64(r.Ops)
		reqOps += r.Ops
		if r.RequestsPerSetup != nil {
			for k, v := range r.RequestsPerSetup {
				setupReqs[k] += v * float64(r.Calls)
			}
			setupEvents += r.EventsPerSetup * float64(r.Calls)
			setupCalls += r.Calls
		}
		all.setups = append(all.setups, r.samples.setups...)
		all.holds = append(all.holds, r.samples.holds...)
		all.resumes = append(all.resumes, r.samples.resumes...)
		all.insideHolds = append(all.insideHolds, r.samples.insideHolds...)
		all.insideResumes = append(all.insideResumes, r.samples.insideResumes...)
		for k, v := range r.Notes {
			notes[k] += v
		}
	}
	m.Notes = nil
	if len(notes) > 0 {
		m.Notes = notes
	}
	m.AstIdleCPUPct = idle / float64(len(rs))
	m.AstHeldCPUPct = held / float64(len(rs))
	m.samples = all
	m.Hold, m.Resume = newOpStats(all.holds), newOpStats(all.resumes)
	if m.InsideHold != nil {
		inHold, inResume := newOpStats(all.insideHolds), newOpStats(all.insideResumes)
		m.InsideHold, m.InsideResume = &inHold, &inResume
	}
	if m.Ops > 0 && m.WallSec > 0 {
		m.OpsPerSec = float64(m.Ops) / m.WallSec
		m.CPUPerOpMs = m.CPUms / float64(m.Ops)
		m.AstCPUPerOpMs = m.AstCPUms / float64(m.Ops)
	}
	if setupCalls > 0 {
		m.RequestsPerSetup, m.RequestsPerSetupTotal = map[string]float64{}, 0
		for k, v := range setupReqs {
			m.RequestsPerSetup[k] = v / float64(setupCalls)
			m.RequestsPerSetupTotal += v / float64(setupCalls)
		}
		m.EventsPerSetup = setupEvents / float64(setupCalls)
	}
	if m.Setup != nil {
		s := newOpStats(all.setups)
		m.Setup = &s
	}
	if m.RequestsPerOp != nil && reqOps > 0 {
		m.RequestsPerOp, m.RequestsPerOpTotal = map[string]float64{}, 0
		for k, v := range reqs {
			m.RequestsPerOp[k] = v / float64(reqOps)
			m.RequestsPerOpTotal += v / float64(reqOps)
		}
		m.EventsPerOp = events / float64(reqOps)
	}
	return m
}
