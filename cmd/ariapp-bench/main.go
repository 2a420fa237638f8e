// Command ariapp-bench measures ariapp's hold and resume against the lab
// Asterisk and against a baseline that issues the same ARI requests with no
// application logic (issue 6).
//
// At each concurrency level it sets up N two-party calls of Local channels
// per mode, runs hold/resume cycles on all of them at once, and reports
// p50/p90/p99/max latency, throughput, CPU time per operation of ariapp and
// of Asterisk, memory per live call and dropped events:
//
//	go run ./cmd/ariapp-bench -levels 1,50,200,500 -cycles 20 -mode all -out docs/perf
//
// Modes: baseline (the ari client alone), inproc (app.App in this process,
// App.Hold/Resume), api (the ariapp binary, built from ./cmd/ariapp, driven
// over its control API), apifloor (the baseline's requests behind a
// minimal net/http front end in a child process: the api mode's floor).
// -mode all runs the four, the baseline first. -resync N instead times a
// restarted App rebuilding N calls.
//
// -mode sip is the capacity benchmark with real SIP calls: two lab phones
// (internal/sipphone, in this process) carry N calls through the lab
// Asterisk, through the ariapp binary and through a plain Dial() (Asterisk
// alone), with part of them on hold; it writes results.json, results.md
// and capacity.png (sipmode.go, sipreport.go).
//
// It writes results.json, results.md (tables, target checks, method) and
// latency.png (latency percentiles against concurrency) to -out. More than
// 20 concurrent calls load the shared lab: run such levels under
// `flock /tmp/ariapp-lab-heavy.lock`.
//
// The lab's ARI is taken from -ari-url and -ari-user; the password from
// ARIAPP_ARI_PASSWORD, else the lab's default.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/internal/labtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := mainRun(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// mainRun is main without the process; it returns the exit status: 0 when
// the run completed (targets missed or not), 1 when it could not run, 2 on
// bad flags.
func mainRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ariapp-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	levels := fs.String("levels", "1,50,200,500", "concurrent calls per level, comma separated")
	cycles := fs.Int("cycles", 20, "measured hold/resume cycles per call")
	rounds := fs.Int("rounds", 3, "run the modes of a level this many times in turn and pool their samples, so a slow moment of the machine hits every mode alike (the cycles are split among the rounds)")
	minOps := fs.Int("min-ops", 2000, "at least this many measured operations per level: low levels run more cycles, so CPU times (10 ms ticks) mean something")
	mode := fs.String("mode", "all", "api, inproc, baseline, a comma list of them, or all; sip: real SIP calls, ariapp against Asterisk alone (the -sip-* flags)")
	sipSetups := fs.String("sip-setups", "ariapp,asterisk", "-mode sip: set-ups to run at each level: ariapp, asterisk (a plain Dial()) or both")
	sipWindow := fs.Duration("sip-window", 20*time.Second, "-mode sip: the window in which calls hold and resume")
	sipPhase := fs.Duration("sip-phase", 5*time.Second, "-mode sip: the windows with every call bridged and every call held")
	sipShare := fs.Float64("sip-hold-share", 0.5, "-mode sip: share of the calls on hold at any time")
	sipCycle := fs.Duration("sip-cycle", 6*time.Second, "-mode sip: one hold, resume and talk of a call")
	sipAPI := fs.Float64("sip-api-share", 0.5, "-mode sip: share of ariapp's calls held through the control API (the rest by re-INVITE)")
	sipMedia := fs.String("sip-media", "", "-mode sip: ariapp's hold.media (default: ariapp's own)")
	sipServer := fs.String("sip-server", "127.0.0.1:5060", "-mode sip: Asterisk's SIP address")
	sipQuiet := fs.Float64("sip-quiet-below", 25, "-mode sip: before each point wait until the machine is busy less than this percent of all cores (0: do not wait)")
	sipQuietWait := fs.Duration("sip-quiet-wait", 90*time.Second, "-mode sip: longest wait for a quiet machine before a point")
	sipARILog := fs.Bool("sip-ari-log", false, "-mode sip: ariapp logs every ARI request and the report gives their durations (costs ariapp CPU)")
	sipP99 := fs.Duration("sip-max-p99", 60*time.Millisecond, "-mode sip: capacity: hold latency p99 limit")
	out := fs.String("out", "/tmp/bench-out", "directory for results.json, results.md and latency.png (\"\": none)")
	ariURL := fs.String("ari-url", envOr("ARIAPP_ARI_URL", labtest.DefaultURL), "ARI base URL")
	ariUser := fs.String("ari-user", envOr("ARIAPP_ARI_USERNAME", labtest.DefaultUser), "ARI user (password: ARIAPP_ARI_PASSWORD)")
	apiPprof := fs.String("api-pprof", "", "serve the ariapp binary's runtime profiles on this `host:port` (debug.pprof_listen), to profile it during a run")
	bin := fs.String("ariapp-bin", "", "prebuilt ariapp binary for -mode api (default: go build ./cmd/ariapp)")
	pause := fs.Duration("pause", 0, "mean random pause before each operation of a call (0: closed loop)")
	setupPar := fs.Int("setup-parallel", 16, "calls set up at once")
	wait := fs.Duration("wait", 15*time.Second, "longest wait for one ARI event or one call set-up")
	opTimeout := fs.Duration("op-timeout", 30*time.Second, "longest single hold or resume")
	quiet := fs.Duration("quiet", time.Second, "window with all calls up and idle, to measure Asterisk's idle CPU (0: skip)")
	maxConns := fs.Int("max-conns", 0, "limit the baseline's and inproc's ARI connections to Asterisk (0: the ari package's default)")
	cpuProf := fs.String("cpuprofile", "", "write a CPU profile of this process (use with -mode inproc)")
	memProf := fs.String("memprofile", "", "write heap profiles FILE.MODE.N with N calls up and FILE.MODE.N.after after their teardown (baseline, inproc)")
	keepGoing := fs.Bool("keep-going", false, "run a mode at higher levels after it broke")
	guard := fs.Float64("guard", 0.75, "stop setting calls up when Asterisk, idle, uses more than this share of all CPU cores (0: no guard; a saturated Asterisk stalls the shared lab)")
	render := fs.String("render", "", "re-render results.md and latency.png into -out from a saved `results.json`, then exit")
	floorAddr := fs.String("serve-floor", "", "internal: serve the apifloor mode's HTTP front end on this address")
	floorCalls := fs.Int("floor-calls", 0, "internal: calls of -serve-floor")
	floorPrefix := fs.String("floor-prefix", "", "internal: id prefix of -serve-floor's channels and bridges")
	floorApp := fs.String("floor-app", "", "internal: Stasis application of -serve-floor")
	resync := fs.Int("resync", 0, "instead of the levels: set up `N` calls, restart the in-process App and time how long the new one takes to rebuild them (resync.md, resync.json in -out)")
	cleanup := fs.String("cleanup", "", "hang up what run `RUNID` left in Asterisk (after a crash), then exit")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	lv, err := parseLevels(*levels)
	if err != nil {
		fmt.Fprintln(stderr, "ariapp-bench:", err)
		return 2
	}
	if *mode == "sip" {
		setups, err := parseSetups(*sipSetups)
		if err != nil || *sipShare <= 0 || *sipShare >= 1 || *sipAPI < 0 || *sipAPI > 1 || *sipWindow < *sipCycle {
			fmt.Fprintln(stderr, "ariapp-bench: bad -sip-* flags: want set-ups ariapp and/or asterisk, 0 < -sip-hold-share < 1, 0 ≤ -sip-api-share ≤ 1, -sip-window ≥ -sip-cycle")
			return 2
		}
		scfg := sipConfig{
			Levels: lv, Setups: setups, Window: *sipWindow, Phase: *sipPhase, HoldShare: *sipShare, Cycle: *sipCycle,
			APIShare: *sipAPI, Media: *sipMedia, MaxP99: *sipP99, KeepGoing: *keepGoing, QuietBelow: *sipQuiet, QuietWait: *sipQuietWait, ARILog: *sipARILog, Server: *sipServer, Out: *out, AriappBin: *bin,
			ARI: ari.Config{
				URL: *ariURL, Username: *ariUser, Password: envOr("ARIAPP_ARI_PASSWORD", labtest.DefaultPassword),
				Application: "ariapp-bench-probe", RequestTimeout: 10 * time.Second,
			},
			Logf: func(format string, a ...any) {
				fmt.Fprintf(stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, a...)...)
			},
		}
		if *render != "" {
			if err := renderSIPReport(*render, *out); err != nil {
				fmt.Fprintln(stderr, "ariapp-bench:", err)
				return 1
			}
			return 0
		}
		rep, err := runSIP(ctx, scfg)
		if rep != nil && *out != "" {
			fmt.Fprintf(stdout, "results: %s/results.md, results.json, capacity.png\n", *out)
		}
		if err != nil {
			fmt.Fprintln(stderr, "ariapp-bench:", err)
			return 1
		}
		if *out == "" {
			fmt.Fprint(stdout, rep.markdown())
		}
		return 0
	}
	modes, err := parseModes(*mode)
	if err != nil {
		fmt.Fprintln(stderr, "ariapp-bench:", err)
		return 2
	}
	if *cycles < 1 {
		fmt.Fprintln(stderr, "ariapp-bench: -cycles must be at least 1")
		return 2
	}
	if *rounds < 1 {
		fmt.Fprintln(stderr, "ariapp-bench: -rounds must be at least 1")
		return 2
	}
	cfg := config{
		Levels: lv, Cycles: *cycles, MinOps: *minOps, Rounds: *rounds, Modes: modes, Out: *out,
		ARI: ari.Config{
			URL:            *ariURL,
			Username:       *ariUser,
			Password:       envOr("ARIAPP_ARI_PASSWORD", labtest.DefaultPassword),
			Application:    "ariapp-bench-probe",
			RequestTimeout: 10 * time.Second,
		},
		AriappBin: *bin, APIPprof: *apiPprof, Pause: *pause, SetupPar: *setupPar, Wait: *wait, OpTimeout: *opTimeout,
		Quiet: *quiet, MaxConns: *maxConns, CPUProf: *cpuProf, MemProf: *memProf, KeepGoing: *keepGoing, Guard: *guard,
		Logf: func(format string, a ...any) {
			fmt.Fprintf(stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, a...)...)
		},
	}
	if *render != "" {
		if err := renderReport(*render, cfg.Out); err != nil {
			fmt.Fprintln(stderr, "ariapp-bench:", err)
			return 1
		}
		return 0
	}
	if *cleanup != "" {
		if err := cleanupRun(ctx, cfg.ARI, *cleanup, cfg.Logf); err != nil {
			fmt.Fprintln(stderr, "ariapp-bench:", err)
			return 1
		}
		return 0
	}
	if *floorAddr != "" {
		acfg := cfg.ARI
		acfg.Application = *floorApp
		if err := serveFloor(*floorAddr, acfg, *floorPrefix, *floorCalls, cfg.Wait); err != nil {
			fmt.Fprintln(stderr, "ariapp-bench -serve-floor:", err)
			return 1
		}
		return 0
	}
	if *resync > 0 {
		id := runID()
		cfg.logf("run %s: resync with %d calls (if it is killed: ariapp-bench -cleanup %s hangs up what it left)", id, *resync, id)
		r, err := resyncRun(ctx, &cfg, id, *resync)
		if err != nil {
			fmt.Fprintln(stderr, "ariapp-bench:", err)
			return 1
		}
		fmt.Fprint(stdout, r.markdown())
		if cfg.Out != "" {
			if err := writeResync(cfg.Out, r); err != nil {
				fmt.Fprintln(stderr, "ariapp-bench:", err)
				return 1
			}
		}
		return 0
	}
	rep, err := run(ctx, cfg)
	if rep != nil && cfg.Out != "" {
		fmt.Fprintf(stdout, "results: %s/results.md, results.json, latency.png\n", cfg.Out)
	}
	if err != nil {
		fmt.Fprintln(stderr, "ariapp-bench:", err)
		return 1
	}
	if cfg.Out == "" {
		fmt.Fprint(stdout, rep.markdown())
	}
	return 0
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
