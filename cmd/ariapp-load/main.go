// Command ariapp-load is a load and soak test of a running ariapp: N call
// slots each place calls through the control API (POST /v1/calls, Local
// channels by default), wait for call_answered, then hold by a random party,
// resume by a holder, now and then resume by the party that does not hold
// (which must be refused with 409 not_holding) and now and then hang up,
// until the duration is over. Then every live call is hung up and the tool
// waits for every call_ended.
//
//	ariapp-load -api http://127.0.0.1:8090 -calls 50 -duration 60s
//
// lab/load.sh builds and starts a private ariapp against the lab Asterisk
// and runs this tool against it; see the README.
//
// What is checked:
//
//   - The event stream (one GET /v1/events connection, opened before the
//     first call) against SPEC, per call: seq 1, 2, 3…; call_started first;
//     call_answered only while ringing; hold_success only when answered and
//     by a party that does not hold; unhold_success only by a holder;
//     unhold_failed followed by call_ended; call_ended last and once; in
//     every event's call info a party is HOLD exactly when it holds, hears
//     hold music exactly when its peer holds (M1/M2; nobody after
//     call_ended; not checked on unhold_failed), may hang up exactly when it
//     does not hold (H6), and the holders list matches, in order. hold_failed
//     and unhold_failed are allowed but counted. An SSE "event: lost" fails
//     the run.
//   - Every 200 reply of hold, resume and hang-up against the slot's own
//     model, a refused resume by a GET of the call (nothing changed), and,
//     per call, the hold/resume events against the replies (a no-op hold or
//     a refused resume must report no event).
//   - Leaks, from GET /v1/stats sampled every 5 s, after every call ended
//     and a 2 s pause: ariapp has no call left; goroutines <= those of the
//     warm-up sample + 5 (waiting up to -settle while ariapp's idle
//     connections to Asterisk, two goroutines each, close: after 15 s on
//     Asterisk's side, 90 s on Go's); ari.dropped == 0; RSS <= 1.5 × the
//     warm-up RSS + 8 MiB; and ariapp's event counters grew by no more than
//     the events the stream delivered. The warm-up sample is the first one
//     taken at least max(10 s, 10% of -duration) into the run (at most half
//     of it), while the load runs: it already holds the steady state's
//     goroutines (per-call goroutines, HTTP connections to Asterisk and to
//     this tool) and memory, so the rules catch growth, not the load
//     itself.
//   - Leftovers in Asterisk through ARI REST (package ari): no channel and
//     no bridge whose id begins with the id of a call of this run: every
//     call the stream reported from call_started on, including those of
//     failed POST /v1/calls. ariapp names them CALL-caller, CALL-callee,
//     CALL-bridge, and Asterisk names the second half of a Local channel
//     ID;2, so both halves are covered. Playbacks cannot be listed through
//     ARI and their ids (CALL-hold-…) are not in the events; a playback
//     lives on a channel, so no channel left means no playback left.
//   - Media, once the load is warm, through ARI: both legs of up to 5 live
//     calls speak the same codec and Asterisk translates nothing needlessly
//     on them (no read translation, no resampling: a Local channel
//     originated without formats runs in slin192 and resamples every hold
//     tone; a tone encoded at the channel's own rate is allowed).
//
// Shed calls: a POST /v1/calls answered 503 overloaded (admission control)
// or 504 timeout (Asterisk did not answer the originate within ariapp's ARI
// timeout), and a call that ended before its answer because a set-up step
// timed out in Asterisk, are what a system at capacity legitimately does:
// they are counted apart, not as errors, as long as they stay within
// -max-shed of the originates. Their calls are still checked: each must
// end (call_ended in the stream) and leave nothing in Asterisk.
//
// When the run leaves calls in ariapp or channels and bridges in Asterisk,
// the tool reports them, then removes them (DELETE /v1/calls/ID, ARI
// hang-up and bridge destruction), so a failed run does not burden the
// shared lab.
//
// Exit status: 0 when nothing failed; 1 on a SPEC violation, an unexpected
// HTTP error, more shed calls than -max-shed allows, a needless
// transcoding, a leftover or a leak; 2 on bad flags or when ariapp or ARI
// cannot be reached at the start.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// config is the command line.
type config struct {
	api           string
	token         string
	calls         int
	duration      time.Duration
	opInterval    time.Duration
	hangupProb    float64
	badResumeProb float64
	from, to      string
	ariURL        string
	ariUser       string
	ariPassword   string
	seed          uint64
	json          bool
	maxErrors     int
	// maxShed is the largest share of originates that may be shed
	// (refused as overloaded or given up on a slow Asterisk).
	maxShed float64
	settle  time.Duration
	// eventsFile, if set, receives every event of the stream as one JSON
	// line (for investigating a violation).
	eventsFile string
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Getenv, os.Stderr)
	if err != nil {
		if err == flag.ErrHelp {
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "ariapp-load: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, cfg, os.Stdout, os.Stderr))
}

// parseFlags reads the command line; getenv supplies ARIAPP_API_TOKEN and
// ARIAPP_ARI_PASSWORD.
func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("ariapp-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.api, "api", "http://127.0.0.1:8090", "ariapp's control API base URL")
	fs.StringVar(&cfg.token, "token", "", "bearer token of the API (default: $ARIAPP_API_TOKEN)")
	fs.IntVar(&cfg.calls, "calls", 50, "concurrent call slots (each places one call after the other)")
	fs.DurationVar(&cfg.duration, "duration", 60*time.Second, "how long the slots place calls and operate them")
	fs.DurationVar(&cfg.opInterval, "op-interval", 300*time.Millisecond, "mean pause between a call's operations (uniform in [0, 2×mean))")
	fs.Float64Var(&cfg.hangupProb, "hangup-prob", 0.05, "probability that an operation is a hang-up (DELETE); a new call follows")
	fs.Float64Var(&cfg.badResumeProb, "bad-resume-prob", 0.05, "probability that an operation is a resume by a party that does not hold (expected: 409 not_holding)")
	fs.StringVar(&cfg.from, "from", "Local/talk@ariapp-test", "endpoint ariapp dials as the caller")
	fs.StringVar(&cfg.to, "to", "Local/talk@ariapp-test", "endpoint ariapp dials as the callee")
	fs.StringVar(&cfg.ariURL, "ari-url", "http://127.0.0.1:8088/ari", `ARI base URL for the leftover check ("" skips it); password from $ARIAPP_ARI_PASSWORD`)
	fs.StringVar(&cfg.ariUser, "ari-user", "ariapp", "ARI user for the leftover check")
	seed := fs.Int64("seed", 0, "seed of the random choices (0: from the clock; the seed used is printed)")
	fs.IntVar(&cfg.maxErrors, "max-errors", 100, "stop early, hanging every call up, after this many unexpected errors (0: never), so a broken lab is not flooded")
	fs.Float64Var(&cfg.maxShed, "max-shed", 0.1, "largest share of POST /v1/calls that may be shed (503 overloaded, 504 timeout from a slow Asterisk, or a set-up step timed out) before the run fails; shed calls must still end and leave nothing in Asterisk")
	fs.DurationVar(&cfg.settle, "settle", 100*time.Second, "at the end, how long ariapp's goroutines may take to return under the limit while its idle connections to Asterisk close")
	fs.StringVar(&cfg.eventsFile, "events", "", "write every SSE event, as received, to this file (JSON lines) for investigating violations")
	fs.BoolVar(&cfg.json, "json", false, "print the result as JSON on stdout (the table then goes to stderr)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: ariapp-load [flags]\n\nDrives concurrent calls with random hold, resume and hang-up through ariapp's\ncontrol API, checks the events against SPEC and ariapp for leaks.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if cfg.token == "" {
		cfg.token = getenv("ARIAPP_API_TOKEN")
	}
	cfg.ariPassword = getenv("ARIAPP_ARI_PASSWORD")
	switch {
	case cfg.calls < 1:
		return cfg, fmt.Errorf("-calls must be at least 1")
	case cfg.settle < 0:
		return cfg, fmt.Errorf("-settle must not be negative")
	case cfg.maxShed < 0 || cfg.maxShed > 1:
		return cfg, fmt.Errorf("-max-shed must be between 0 and 1")
	case cfg.maxErrors < 0:
		return cfg, fmt.Errorf("-max-errors must not be negative")
	case cfg.duration <= 0:
		return cfg, fmt.Errorf("-duration must be positive")
	case cfg.opInterval < 0:
		return cfg, fmt.Errorf("-op-interval must not be negative")
	case cfg.hangupProb < 0 || cfg.badResumeProb < 0 || cfg.hangupProb+cfg.badResumeProb > 1:
		return cfg, fmt.Errorf("-hangup-prob and -bad-resume-prob must be >= 0 and add up to at most 1")
	case cfg.ariURL != "" && cfg.ariPassword == "":
		return cfg, fmt.Errorf(`ARIAPP_ARI_PASSWORD is not set: the leftover check needs it (or -ari-url "" to skip that check)`)
	}
	cfg.seed = uint64(*seed)
	if cfg.seed == 0 {
		cfg.seed = rand.Uint64N(1<<31) + 1
	}
	return cfg, nil
}

// run is the whole test; it returns the exit status.
func run(ctx context.Context, cfg config, stdout, stderr io.Writer) int {
	res, err := execute(ctx, cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "ariapp-load: %v\n", err)
		return 2
	}
	table := stdout
	if cfg.json {
		table = stderr
	}
	res.writeTable(table)
	if cfg.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(res)
	}
	if !res.Pass {
		return 1
	}
	return 0
}
