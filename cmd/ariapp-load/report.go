package main

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/ariapp/ariapp/app"
)

// RunConfig is the command line as the result reports it.
type RunConfig struct {
	API           string  `json:"api"`
	Calls         int     `json:"calls"`
	Duration      string  `json:"duration"`
	OpInterval    string  `json:"op_interval"`
	HangupProb    float64 `json:"hangup_prob"`
	BadResumeProb float64 `json:"bad_resume_prob"`
	From          string  `json:"from"`
	To            string  `json:"to"`
	Seed          uint64  `json:"seed"`
}

func (c config) summary() RunConfig {
	return RunConfig{API: c.api, Calls: c.calls, Duration: c.duration.String(), OpInterval: c.opInterval.String(),
		HangupProb: c.hangupProb, BadResumeProb: c.badResumeProb, From: c.from, To: c.to, Seed: c.seed}
}

// Latency summarises client-side latencies in milliseconds.
type Latency struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

func latencyOf(d []time.Duration) Latency {
	if len(d) == 0 {
		return Latency{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	ms := func(x time.Duration) float64 { return float64(x.Microseconds()) / 1000 }
	return Latency{N: len(s), P50: ms(percentile(s, 0.50)), P99: ms(percentile(s, 0.99)), Max: ms(s[len(s)-1])}
}

// percentile is the nearest-rank percentile of sorted s.
func percentile(s []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// Check is one pass/fail verdict of the end of the run.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// Result is everything the run found.
type Result struct {
	Config RunConfig `json:"config"`
	// Elapsed is the load phase in seconds, from the first call to the last
	// call_ended.
	Elapsed       float64        `json:"elapsed_s"`
	CallsPlaced   int            `json:"calls_placed"`
	CallsAnswered int            `json:"calls_answered"`
	EndCauses     map[string]int `json:"end_causes"`
	// Ops counts requests by kind (see the op* constants).
	Ops       map[string]int `json:"ops"`
	OpsTotal  int            `json:"ops_total"`
	OpsPerSec float64        `json:"ops_per_s"`
	// RefusedAsExpected counts resumes by a non-holder refused with 409
	// not_holding.
	RefusedAsExpected int `json:"refused_as_expected"`
	// Shed counts the calls that could not be set up for want of capacity,
	// by kind: overloaded (503 from admission control), ari_timeout (504:
	// Asterisk did not answer the originate within ariapp's ARI timeout),
	// setup_timed_out (a later set-up step timed out in Asterisk).
	Shed map[string]int `json:"shed"`
	// MissedSamples counts periodic GET /v1/stats samples that failed.
	MissedSamples   int      `json:"missed_samples"`
	ShedFirst       []string `json:"shed_first,omitempty"`
	Unexpected      int      `json:"unexpected_errors"`
	UnexpectedFirst []string `json:"unexpected_first,omitempty"`
	// Events counts the SPEC events the stream delivered, by name.
	Events          map[app.EventName]int `json:"events"`
	EventsTotal     int                   `json:"events_total"`
	EventsLost      uint64                `json:"events_lost"`
	Violations      int                   `json:"violations"`
	ViolationsFirst []Violation           `json:"violations_first,omitempty"`
	HoldLatency     Latency               `json:"hold_latency"`
	ResumeLatency   Latency               `json:"resume_latency"`
	PeakRSSBytes    uint64                `json:"peak_rss_bytes"`
	VmHWMBytes      uint64                `json:"vm_hwm_bytes"`
	PeakGoroutines  int                   `json:"peak_goroutines"`
	// AsteriskCPUPct is Asterisk's CPU over the load phase in % of one
	// core (0: not measured, Asterisk not on this machine).
	AsteriskCPUPct float64 `json:"asterisk_cpu_pct"`
	// Warmup is when (seconds into the run) the warm-up sample could be
	// taken at the earliest.
	Warmup float64 `json:"warmup_s"`
	// Settled is how long the final sample waited for ariapp's goroutines
	// to come back under the limit (0: no wait was needed).
	Settled float64  `json:"settled_s"`
	Samples []Sample `json:"samples"`
	// CallsLeft describes the calls ariapp still had at the end.
	CallsLeft []string `json:"calls_left,omitempty"`
	// CleanedUp lists what the tool removed after a failed check (calls
	// left in ariapp, channels and bridges left in Asterisk).
	CleanedUp []string `json:"cleaned_up,omitempty"`
	// CallsUnplaced counts calls seen in the stream that no slot placed
	// (failed POST /v1/calls, or channels ariapp adopted by itself).
	CallsUnplaced int      `json:"calls_unplaced"`
	Leftovers     []string `json:"leftovers,omitempty"`
	// Media is the media check (nil: not run).
	Media  *mediaCheck `json:"media,omitempty"`
	Checks []Check     `json:"checks"`
	Pass   bool        `json:"pass"`
}

func (r *Result) addCheck(name string, ok bool, detail string) {
	r.Checks = append(r.Checks, Check{Name: name, OK: ok, Detail: detail})
}

// fill computes the result and the leak checks.
func (r *Result) fill(cfg config, elapsed time.Duration, ta *tally, sum Summary, samples []Sample, idle, final stats, left []leftover, ariChecked bool, nCalls int) {
	ta.mu.Lock()
	r.Elapsed = elapsed.Seconds()
	r.CallsPlaced = len(ta.placed)
	r.CallsAnswered = ta.answered
	r.EndCauses = maps.Clone(ta.endedBy)
	r.Ops = maps.Clone(ta.ops)
	for k, n := range ta.ops {
		if k != opCheck {
			r.OpsTotal += n
		}
	}
	r.OpsPerSec = float64(r.OpsTotal) / max(elapsed.Seconds(), 1e-9)
	r.RefusedAsExpected = ta.refused
	r.Unexpected = ta.unexp
	r.Shed = maps.Clone(ta.shed)
	r.MissedSamples = ta.missedSamples
	r.ShedFirst = slices.Clone(ta.shedList)
	r.UnexpectedFirst = slices.Clone(ta.unexpList)
	r.HoldLatency = latencyOf(ta.holdLat)
	r.ResumeLatency = latencyOf(ta.resumeLat)
	ta.mu.Unlock()

	r.Events = sum.Events
	r.CallsUnplaced = sum.Unplaced
	r.EventsTotal = sum.Total
	r.EventsLost = sum.Lost
	r.Violations = len(sum.Violations)
	r.ViolationsFirst = sum.Violations[:min(len(sum.Violations), 10)]
	r.Samples = samples
	for _, l := range left {
		r.Leftovers = append(r.Leftovers, l.String())
	}
	for _, s := range samples {
		r.PeakRSSBytes = max(r.PeakRSSBytes, s.RSSBytes)
		r.VmHWMBytes = max(r.VmHWMBytes, s.MaxRSSBytes)
		r.PeakGoroutines = max(r.PeakGoroutines, s.Goroutines)
	}

	r.addCheck("SPEC events and replies", r.Violations == 0, fmt.Sprintf("%d violation(s) in %d events of %d calls", r.Violations, r.EventsTotal, sum.Calls))
	r.addCheck("no events lost", r.EventsLost == 0, fmt.Sprintf("SSE \"event: lost\" total %d", r.EventsLost))
	shed := 0
	for _, n := range r.Shed {
		shed += n
	}
	r.addCheck("shed calls within bound", float64(shed) <= cfg.maxShed*float64(r.Ops[opOriginate]),
		fmt.Sprintf("%d of %d originates shed (%s), at most %.0f%% allowed (-max-shed)", shed, r.Ops[opOriginate], kv(r.Shed), 100*cfg.maxShed))
	r.addCheck("no unexpected errors", r.Unexpected == 0, fmt.Sprintf("%d unexpected HTTP error(s) or call outcome(s)", r.Unexpected))
	var delta uint64
	for n, k := range final.Events {
		delta += k - idle.Events[n]
	}
	r.addCheck("stream complete", uint64(r.EventsTotal) >= delta,
		fmt.Sprintf("ariapp counted %d events during the run, the stream delivered %d", delta, r.EventsTotal))
	r.addCheck("ariapp calls == 0", final.Calls == 0, fmt.Sprintf("%d call(s) left in ariapp (%d before the run)%s", final.Calls, idle.Calls, firstFew(r.CallsLeft, 3)))

	warm, ok := warmSample(samples, r.Warmup)
	fin := samples[len(samples)-1]
	if !ok {
		r.addCheck("goroutines", false, "no sample taken during the load")
		r.addCheck("RSS flat", false, "no sample taken during the load")
	} else {
		settled := ""
		if r.Settled > 0 {
			settled = fmt.Sprintf(", after waiting %.0fs for idle connections", r.Settled)
		}
		r.addCheck("goroutines", fin.Goroutines <= warm.Goroutines+5,
			fmt.Sprintf("end %d <= warm-up (t=%.0fs) %d + 5 (idle before the run: %d%s)", fin.Goroutines, warm.T, warm.Goroutines, samples[0].Goroutines, settled))
		limit := warm.RSSBytes*3/2 + 8<<20
		r.addCheck("RSS flat", fin.RSSBytes <= limit,
			fmt.Sprintf("end %s <= 1.5 × warm-up %s + 8 MiB = %s (heap end %s, warm-up %s)",
				mib(fin.RSSBytes), mib(warm.RSSBytes), mib(limit), mib(fin.HeapAllocBytes), mib(warm.HeapAllocBytes)))
	}
	r.addCheck("ari.dropped == 0", final.ARI.Dropped == 0,
		fmt.Sprintf("%d ARI event(s) dropped; WebSocket connects %d, connected %v", final.ARI.Dropped, final.ARI.Connects, final.ARIConnected))
	if ariChecked {
		r.addCheck("no leftovers in Asterisk", len(left) == 0,
			fmt.Sprintf("%d channel(s)/bridge(s) of the run's %d calls left%s", len(left), nCalls, firstFew(r.Leftovers, 3)))
	} else {
		r.addCheck("no leftovers in Asterisk", true, "skipped (-ari-url \"\")")
	}
}

// warmSample is the first load sample taken at least warmup seconds into
// the run, else the sample taken at the deadline.
func warmSample(samples []Sample, warmup float64) (Sample, bool) {
	for _, s := range samples {
		if s.Phase == "load" && s.T >= warmup {
			return s, true
		}
	}
	for _, s := range samples {
		if s.Phase == "deadline" {
			return s, true
		}
	}
	return Sample{}, false
}

func firstFew(l []string, n int) string {
	if len(l) == 0 {
		return ""
	}
	more := ""
	if len(l) > n {
		more = fmt.Sprintf(", … %d more", len(l)-n)
	}
	return ": " + strings.Join(l[:min(n, len(l))], ", ") + more
}

// decide sets Pass: every check passed.
func (r *Result) decide() {
	r.Pass = true
	for _, c := range r.Checks {
		r.Pass = r.Pass && c.OK
	}
}

// writeTable prints the summary table.
func (r *Result) writeTable(w io.Writer) {
	c := r.Config
	fmt.Fprintf(w, "\nariapp-load: %d call slots, %s, op interval %s, hang-up p=%.2f, bad resume p=%.2f, seed %d\n",
		c.Calls, c.Duration, c.OpInterval, c.HangupProb, c.BadResumeProb, c.Seed)
	row := func(k, format string, args ...any) { fmt.Fprintf(w, "  %-28s %s\n", k, fmt.Sprintf(format, args...)) }
	row("load phase", "%.1f s (to the last call_ended)", r.Elapsed)
	row("calls placed / answered", "%d / %d", r.CallsPlaced, r.CallsAnswered)
	row("calls ended by cause", "%s", kv(r.EndCauses))
	if r.CallsUnplaced > 0 {
		row("calls not placed by a slot", "%d (seen in the stream: failed POST /v1/calls, or channels ariapp adopted)", r.CallsUnplaced)
	}
	row("ops", "hold %d, hold no-op %d, resume %d, bad resume %d, hangup %d, originate %d",
		r.Ops[opHold], r.Ops[opHoldNoop], r.Ops[opResume], r.Ops[opBadResume], r.Ops[opHangup], r.Ops[opOriginate])
	row("ops/s", "%.1f (%d requests; plus %d GETs after refused resumes)", r.OpsPerSec, r.OpsTotal, r.Ops[opCheck])
	row("refused as expected", "%d (409 not_holding)", r.RefusedAsExpected)
	row("hold_failed / unhold_failed", "%d / %d (allowed, counted)", r.Events[app.EventHoldFailed], r.Events[app.EventUnholdFailed])
	row("shed (at capacity)", "%s (expected under load; not errors)", kv(r.Shed))
	for _, s := range r.ShedFirst[:min(len(r.ShedFirst), 3)] {
		row("", "- %s", s)
	}
	row("unexpected HTTP errors", "%d", r.Unexpected)
	for _, u := range r.UnexpectedFirst[:min(len(r.UnexpectedFirst), 5)] {
		row("", "- %s", u)
	}
	row("SPEC violations", "%d", r.Violations)
	for _, v := range r.ViolationsFirst[:min(len(r.ViolationsFirst), 5)] {
		row("", "- %s", v)
	}
	row("events (stream)", "%d: %s; lost %d", r.EventsTotal, kv(r.Events), r.EventsLost)
	row("hold latency", "%s", r.HoldLatency)
	row("resume latency", "%s", r.ResumeLatency)
	row("peak RSS", "%s sampled (VmHWM %s)", mib(r.PeakRSSBytes), mib(r.VmHWMBytes))
	row("peak goroutines", "%d", r.PeakGoroutines)
	if r.MissedSamples > 0 {
		row("stats samples missed", "%d (GET /v1/stats failed; see the progress lines)", r.MissedSamples)
	}
	if r.AsteriskCPUPct > 0 {
		row("Asterisk CPU (load phase)", "%.1f%% of a core", r.AsteriskCPUPct)
	}
	if r.Media != nil && len(r.Media.Formats) > 0 {
		row("leg formats (first call)", "%s", strings.Join(r.Media.Formats[:min(2, len(r.Media.Formats))], "; "))
	}
	if len(r.CleanedUp) > 0 {
		row("cleaned up afterwards", "%d item(s)", len(r.CleanedUp))
		for _, c := range r.CleanedUp[:min(len(r.CleanedUp), 5)] {
			row("", "- %s", c)
		}
	}
	fmt.Fprintln(w, "  checks:")
	for _, ck := range r.Checks {
		v := "PASS"
		if !ck.OK {
			v = "FAIL"
		}
		fmt.Fprintf(w, "    %s  %-25s %s\n", v, ck.Name, ck.Detail)
	}
	if r.Pass {
		fmt.Fprintln(w, "  result: PASS")
	} else {
		fmt.Fprintln(w, "  result: FAIL")
	}
}

func (l Latency) String() string {
	if l.N == 0 {
		return "n/a"
	}
	return fmt.Sprintf("p50 %.1f ms, p99 %.1f ms, max %.1f ms (n=%d)", l.P50, l.P99, l.Max, l.N)
}

// kv prints a map as "k=v, …" sorted by key.
func kv[K ~string, V any](m map[K]V) string {
	if len(m) == 0 {
		return "none"
	}
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%v", k, m[k])
	}
	return strings.Join(parts, ", ")
}
