package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// Targets of issue 6.
const (
	maxLatencyRatio = 1.2  // ariapp's p50 and p99 against the baseline's
	maxKiBPerCall   = 20.0 // memory per live call
	maxCPUShare     = 0.1  // ariapp's CPU against Asterisk's
	// minLevelForMemory: below this many calls the per-call memory is
	// noise (one HTTP connection or GC cycle outweighs the calls).
	minLevelForMemory = 50
)

// OpStats are the latencies of one operation (hold or resume), in ms.
type OpStats struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
	Mean  float64 `json:"mean_ms"`
	// RatioP50 and RatioP99 are against the baseline at the same level
	// (0 for the baseline itself or when it has no numbers).
	RatioP50 float64 `json:"ratio_p50,omitempty"`
	RatioP99 float64 `json:"ratio_p99,omitempty"`
}

func newOpStats(d []time.Duration) OpStats {
	if len(d) == 0 {
		return OpStats{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	var sum time.Duration
	for _, v := range s {
		sum += v
	}
	return OpStats{
		Count: len(s),
		P50:   ms(percentile(s, 0.50)),
		P90:   ms(percentile(s, 0.90)),
		P99:   ms(percentile(s, 0.99)),
		Max:   ms(s[len(s)-1]),
		Mean:  ms(sum / time.Duration(len(s))),
	}
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// ModeResult is one mode at one concurrency level.
type ModeResult struct {
	Level  int    `json:"level"`
	Mode   string `json:"mode"`
	Calls  int    `json:"calls"`
	Cycles int    `json:"cycles"`
	// Rounds is how many times the mode ran at this level, taking turns
	// with the other modes (its numbers are of all rounds together).
	Rounds int `json:"rounds,omitempty"`

	samples samples // raw latencies, to merge rounds

	SetupSec  float64 `json:"setup_s"`
	WallSec   float64 `json:"measured_s"`
	Ops       int     `json:"ops"`
	OpsPerSec float64 `json:"ops_per_s"`
	Hold      OpStats `json:"hold"`
	Resume    OpStats `json:"resume"`

	// CPUms is the CPU time of CPUSide over the measured phase.
	CPUms      float64 `json:"cpu_ms"`
	CPUPerOpMs float64 `json:"cpu_ms_per_op"`
	CPUSide    string  `json:"cpu_side"`
	// AstCPUms is Asterisk's CPU time over the same phase (all of
	// Asterisk: media of every call up, and anyone else's load).
	AstCPUms      float64 `json:"asterisk_cpu_ms"`
	AstCPUPerOpMs float64 `json:"asterisk_cpu_ms_per_op"`
	// AstIdleCPUPct is Asterisk's CPU (% of one core) with the calls up
	// and no operation running: the media's share.
	AstIdleCPUPct float64 `json:"asterisk_idle_cpu_pct"`
	// AstBaseCPUPct is Asterisk's CPU (% of one core) just before the
	// set-up, without this mode's calls: the base the guard subtracts.
	AstBaseCPUPct float64 `json:"asterisk_base_cpu_pct,omitempty"`
	// AstHeldCPUPct is the same with every call on hold: the hold tones'
	// share.
	AstHeldCPUPct float64 `json:"asterisk_held_cpu_pct"`

	// RequestsPerOp are the ARI requests per operation by kind, and
	// EventsPerOp the ARI events received (not observable in the api mode).
	RequestsPerOp      map[string]float64 `json:"ari_requests_per_op,omitempty"`
	RequestsPerOpTotal float64            `json:"ari_requests_per_op_total,omitempty"`
	EventsPerOp        float64            `json:"ari_events_per_op,omitempty"`
	// RequestsPerSetup and EventsPerSetup are the same for setting one
	// call up (originates included), and Setup (inproc) is the time from
	// the caller's StasisStart to call_answered inside ariapp.
	RequestsPerSetup      map[string]float64 `json:"ari_requests_per_setup,omitempty"`
	RequestsPerSetupTotal float64            `json:"ari_requests_per_setup_total,omitempty"`
	EventsPerSetup        float64            `json:"ari_events_per_setup,omitempty"`
	Setup                 *OpStats           `json:"setup,omitempty"`

	// InsideHold and InsideResume (api) are the same operations timed
	// inside ariapp (Server-Timing): Hold − InsideHold is the HTTP hop.
	InsideHold   *OpStats `json:"inside_hold,omitempty"`
	InsideResume *OpStats `json:"inside_resume,omitempty"`
	MemIdleKiB   float64  `json:"mem_idle_kib"`   // before any call
	MemSetupKiB  float64  `json:"mem_setup_kib"`  // calls up, before any operation
	MemLoadedKiB float64  `json:"mem_loaded_kib"` // calls up, after the measured cycles
	MemAfterKiB  float64  `json:"mem_after_kib"`  // after the teardown (heap method only)
	// MemPerCallKiB is what one live call holds (see runOne);
	// MemGrowthPerCallKiB is (loaded − idle) ÷ calls, buffers grown by the
	// load included.
	MemPerCallKiB       float64 `json:"mem_per_call_kib"`
	MemGrowthPerCallKiB float64 `json:"mem_growth_per_call_kib"`
	MemMethod           string  `json:"mem_method"`

	Drops      uint64         `json:"drops"`       // ARI events the ARI client dropped
	StreamLost uint64         `json:"stream_lost"` // call events the watching subscriber lost
	ErrorCount int            `json:"errors"`
	Errors     []string       `json:"error_samples,omitempty"`
	Notes      map[string]int `json:"log_warnings,omitempty"`
	Broken     string         `json:"broken,omitempty"`
	Teardown   string         `json:"teardown_error,omitempty"`
	Skipped    string         `json:"skipped,omitempty"`
}

func (r *ModeResult) summary() string {
	if r.Skipped != "" {
		return "skipped: " + r.Skipped
	}
	s := fmt.Sprintf("hold p50 %.2f p99 %.2f ms, resume p50 %.2f p99 %.2f ms, %.0f ops/s, cpu %.3f ms/op, asterisk %.3f ms/op, mem %.1f KiB/call, ARI drops %d, stream lost %d",
		r.Hold.P50, r.Hold.P99, r.Resume.P50, r.Resume.P99, r.OpsPerSec, r.CPUPerOpMs, r.AstCPUPerOpMs, r.MemPerCallKiB, r.Drops, r.StreamLost)
	if r.Broken != "" {
		s += "; BROKEN: " + r.Broken
	}
	return s
}

// Check is one target checked at one level and mode.
type Check struct {
	Target string  `json:"target"`
	Level  int     `json:"level"`
	Mode   string  `json:"mode"`
	Value  float64 `json:"value"`
	Limit  float64 `json:"limit"`
	Met    bool    `json:"met"`
}

// Report is a whole run.
type Report struct {
	RunID           string    `json:"run_id"`
	Started         time.Time `json:"started"`
	GoVersion       string    `json:"go_version"`
	CPUs            int       `json:"cpus"`
	AsteriskVersion string    `json:"asterisk_version"`
	// AsteriskBackgroundPct is Asterisk's CPU (% of one core) in the second
	// before the run: the load of the lab's other users.
	AsteriskBackgroundPct float64      `json:"asterisk_background_cpu_pct"`
	Levels                []int        `json:"levels"`
	Cycles                int          `json:"cycles"`
	Rounds                int          `json:"rounds,omitempty"`
	Modes                 []string     `json:"modes"`
	Pause                 string       `json:"pause"`
	MaxConns              int          `json:"max_conns"`
	Results               []ModeResult `json:"results"`
	Checks                []Check      `json:"checks"`
	Notes                 []string     `json:"notes,omitempty"`
}

func (rep *Report) find(level int, mode string) *ModeResult {
	for i := range rep.Results {
		r := &rep.Results[i]
		if r.Level == level && r.Mode == mode && r.Skipped == "" {
			return r
		}
	}
	return nil
}

// finish computes the ratios to the baseline and checks the targets.
func (rep *Report) finish() {
	rep.Checks = nil
	ratio := func(a, b float64) float64 {
		if a == 0 || b == 0 {
			return 0
		}
		return a / b
	}
	check := func(target string, r *ModeResult, v, limit float64) {
		rep.Checks = append(rep.Checks, Check{Target: target, Level: r.Level, Mode: r.Mode, Value: v, Limit: limit, Met: v <= limit})
	}
	for i := range rep.Results {
		r := &rep.Results[i]
		if r.Skipped != "" || r.Ops == 0 {
			continue
		}
		check("ARI events dropped", r, float64(r.Drops), 0)
		if r.Mode == ModeBaseline || r.Broken != "" {
			// A broken result's latencies are of fewer calls than the
			// level: no target is judged from them.
			continue
		}
		if b := rep.find(r.Level, ModeBaseline); b != nil && b.Ops > 0 && b.Broken == "" {
			r.Hold.RatioP50, r.Hold.RatioP99 = ratio(r.Hold.P50, b.Hold.P50), ratio(r.Hold.P99, b.Hold.P99)
			r.Resume.RatioP50, r.Resume.RatioP99 = ratio(r.Resume.P50, b.Resume.P50), ratio(r.Resume.P99, b.Resume.P99)
			if r.Mode != ModeAPIFloor { // a floor, not held to the baseline
				check("hold p50 / baseline", r, r.Hold.RatioP50, maxLatencyRatio)
				check("hold p99 / baseline", r, r.Hold.RatioP99, maxLatencyRatio)
				check("resume p50 / baseline", r, r.Resume.RatioP50, maxLatencyRatio)
				check("resume p99 / baseline", r, r.Resume.RatioP99, maxLatencyRatio)
			}
		}
		// The control API against the smallest HTTP front end doing the
		// same ARI requests.
		if f := rep.find(r.Level, ModeAPIFloor); r.Mode == ModeAPI && f != nil && f.Ops > 0 && f.Broken == "" {
			check("hold p50 / apifloor", r, ratio(r.Hold.P50, f.Hold.P50), maxLatencyRatio)
			check("hold p99 / apifloor", r, ratio(r.Hold.P99, f.Hold.P99), maxLatencyRatio)
			check("resume p50 / apifloor", r, ratio(r.Resume.P50, f.Resume.P50), maxLatencyRatio)
			check("resume p99 / apifloor", r, ratio(r.Resume.P99, f.Resume.P99), maxLatencyRatio)
		}
		if r.Level >= minLevelForMemory && r.MemLoadedKiB > 0 {
			check("memory KiB per live call ("+memShort(r.MemMethod)+")", r, r.MemPerCallKiB, maxKiBPerCall)
		}
		if r.Mode == ModeAPI && r.AstCPUms > 0 {
			check("ariapp CPU / Asterisk CPU", r, r.CPUms/r.AstCPUms, maxCPUShare)
		}
	}
	// RSS per call at one level carries the binary's fixed growth (first
	// HTTP connections, GC headroom) divided by the calls; the growth from
	// one level to the next, per added call, is the marginal cost alone.
	var prev *ModeResult
	for i := range rep.Results {
		r := &rep.Results[i]
		if r.Mode != ModeAPI || r.Skipped != "" || r.Broken != "" || r.MemSetupKiB == 0 {
			continue
		}
		if prev != nil && prev.Level >= minLevelForMemory && r.Level > prev.Level {
			slope := ((r.MemSetupKiB - r.MemIdleKiB) - (prev.MemSetupKiB - prev.MemIdleKiB)) / float64(r.Level-prev.Level)
			check(fmt.Sprintf("RSS KiB per added live call (%d → %d calls)", prev.Level, r.Level), r, slope, maxKiBPerCall)
		}
		prev = r
	}
}

func memShort(method string) string {
	if method == methodRSS {
		return "RSS"
	}
	return "heap"
}

// renderReport reads a saved results.json and writes the report again
// (checks recomputed) into dir.
func renderReport(path, dir string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var rep Report
	if err := json.Unmarshal(data, &rep); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	rep.finish()
	return rep.write(dir)
}

// write stores results.json, results.md and latency.png in dir.
func (rep *Report) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(data, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.md"), []byte(rep.markdown()), 0o644); err != nil {
		return err
	}
	return writePlot(rep, filepath.Join(dir, "latency.png"))
}

func f2(v float64) string {
	if v == 0 {
		return "–"
	}
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func fratio(v float64) string {
	if v == 0 {
		return "–"
	}
	s := fmt.Sprintf("%.2f×", v)
	if v > maxLatencyRatio {
		s = "**" + s + "**"
	}
	return s
}

// markdown renders the results table, the target checks and the method.
func (rep *Report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# ariapp hold/resume benchmark\n\n")
	fmt.Fprintf(&b, "Run `%s`, %s; %s, %d CPUs; Asterisk %s (lab). At least %d measured hold/resume cycles per call (more at low levels, for at least the minimum number of operations; the cycles/call column has the count), after one warm-up cycle; pause between operations: %s (0s: each call issues its next operation at once). ",
		rep.RunID, rep.Started.Format("2006-01-02 15:04 UTC"), rep.GoVersion, rep.CPUs, rep.AsteriskVersion, rep.Cycles, rep.Pause)
	if rep.Rounds > 1 {
		fmt.Fprintf(&b, "At each level the modes ran %d times in turn (baseline, inproc, api, baseline, ...), each time setting up their calls afresh, and their samples are pooled: a slow moment of the shared machine falls on every mode alike. ", rep.Rounds)
	}
	fmt.Fprintf(&b, "Before the run Asterisk used %.0f%% of a core (the shared lab's other users). ", rep.AsteriskBackgroundPct)
	if rep.MaxConns > 0 {
		fmt.Fprintf(&b, "The baseline's and the in-process App's ARI clients open at most %d connections to Asterisk (the ariapp binary: its default). ", rep.MaxConns)
	} else {
		fmt.Fprintf(&b, "Every ARI client uses the ari package's default HTTP transport. ")
	}
	b.WriteString("Latencies in ms, from the request to Asterisk's confirmation (hold: the peer's ChannelLeftBridge and PlaybackStarted; resume: its ChannelEnteredBridge).\n\n")
	b.WriteString("| calls | mode | op | n | p50 | p90 | p99 | max | ops/s | p50 ÷ base | p99 ÷ base | CPU ms/op | Asterisk CPU ms/op | KiB/call | ARI drops | stream lost | errors |\n")
	b.WriteString("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rep.Results {
		if r.Skipped != "" {
			fmt.Fprintf(&b, "| %d | %s | – | | | | | | | | | | | | | %s |\n", r.Level, r.Mode, r.Skipped)
			continue
		}
		if r.Ops == 0 {
			fmt.Fprintf(&b, "| %d | %s | – | | | | | | | | | | | | %d | %d | broke: %s |\n", r.Level, r.Mode, r.Drops, r.StreamLost, mdEscape(r.Broken))
			continue
		}
		for _, op := range []struct {
			name string
			s    OpStats
		}{{"hold", r.Hold}, {"resume", r.Resume}} {
			errs := fmt.Sprint(r.ErrorCount)
			if r.Broken != "" {
				errs += " (" + mdEscape(r.Broken) + ")"
			}
			// Below minLevelForMemory the per-call figure is a few calls'
			// worth against the noise of a whole process: not shown; nor
			// when no round got as far as measuring it.
			mem := "–"
			if r.Level >= minLevelForMemory && r.MemLoadedKiB > 0 {
				mem = fmt.Sprintf("%.1f", r.MemPerCallKiB)
			}
			fmt.Fprintf(&b, "| %d | %s | %s | %d | %s | %s | %s | %s | %.0f | %s | %s | %.3f | %.3f | %s | %d | %d | %s |\n",
				r.Level, r.Mode, op.name, op.s.Count, f2(op.s.P50), f2(op.s.P90), f2(op.s.P99), f2(op.s.Max), r.OpsPerSec,
				fratio(op.s.RatioP50), fratio(op.s.RatioP99), r.CPUPerOpMs, r.AstCPUPerOpMs, mem, r.Drops, r.StreamLost, errs)
		}
	}
	b.WriteString("\n## Targets\n\n")
	if len(rep.Checks) == 0 {
		b.WriteString("No target could be checked.\n")
	} else {
		b.WriteString("| target | calls | mode | value | limit | met |\n|---|---:|---|---:|---:|---|\n")
		for _, c := range rep.Checks {
			met := "yes"
			if !c.Met {
				met = "**no**"
			}
			fmt.Fprintf(&b, "| %s | %d | %s | %.3g | %.3g | %s |\n", c.Target, c.Level, c.Mode, c.Value, c.Limit, met)
		}
	}
	hop := false
	for _, r := range rep.Results {
		if r.InsideHold != nil && r.InsideHold.Count > 0 {
			if !hop {
				b.WriteString("\n## The control API's hop\n\nThe api mode's operations timed at the client and inside ariapp (its `Server-Timing` reply header: from the decoded request to the call's answer, Asterisk's confirmation included); the difference is the HTTP request and reply between two processes. In-process and baseline p50 beside them.\n\n")
				b.WriteString("| calls | op | client p50 | inside p50 | hop p50 | client p99 | inside p99 | inproc p50 | baseline p50 |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|\n")
				hop = true
			}
			for _, op := range []struct {
				name           string
				client, inside OpStats
				pick           func(*ModeResult) OpStats
			}{
				{"hold", r.Hold, *r.InsideHold, func(m *ModeResult) OpStats { return m.Hold }},
				{"resume", r.Resume, *r.InsideResume, func(m *ModeResult) OpStats { return m.Resume }},
			} {
				other := func(mode string) string {
					if m := rep.find(r.Level, mode); m != nil && m.Ops > 0 {
						return fmt.Sprintf("%.3g", op.pick(m).P50)
					}
					return "–"
				}
				fmt.Fprintf(&b, "| %d | %s | %.3g | %.3g | %.3g | %.3g | %.3g | %s | %s |\n", r.Level, op.name,
					op.client.P50, op.inside.P50, op.client.P50-op.inside.P50, op.client.P99, op.inside.P99, other(ModeInproc), other(ModeBaseline))
			}
		}
	}
	b.WriteString("\n## Call set-up\n\nARI requests and events per call set-up (both originates, answer, bridge, everything up to call_answered, as counted by the mode's ARI client), and (inproc) the time inside ariapp from the caller's StasisStart to call_answered, in ms.\n\n")
	b.WriteString("| calls | mode | ARI requests/set-up | ARI events/set-up | StasisStart → call_answered p50 | p99 | max |\n|---:|---|---|---:|---:|---:|---:|\n")
	for _, r := range rep.Results {
		if r.RequestsPerSetup == nil {
			continue
		}
		p50, p99, mx := "–", "–", "–"
		if r.Setup != nil && r.Setup.Count > 0 {
			p50, p99, mx = fmt.Sprintf("%.3g", r.Setup.P50), fmt.Sprintf("%.3g", r.Setup.P99), fmt.Sprintf("%.3g", r.Setup.Max)
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %.2f | %s | %s | %s |\n", r.Level, r.Mode,
			countsText(r.RequestsPerSetupTotal, r.RequestsPerSetup), r.EventsPerSetup, p50, p99, mx)
	}
	b.WriteString("\n## Phases and resources\n\n")
	b.WriteString("| calls | mode | cycles/call | set-up s | measured s | CPU ms (side) | Asterisk CPU ms | Asterisk CPU %, calls idle / all held | memory KiB: idle → calls up → after load → after teardown; growth per call (method) | ARI requests/op | ARI events/op | log warnings |\n|---:|---|---:|---:|---:|---|---:|---:|---|---|---:|---|\n")
	for _, r := range rep.Results {
		if r.Skipped != "" || r.Ops == 0 {
			continue // nothing measured: the first table says why
		}
		reqs, evs := "not observable", "–"
		if r.RequestsPerOp != nil {
			reqs, evs = requestsText(r), fmt.Sprintf("%.2f", r.EventsPerOp)
		}
		after := "–"
		if r.MemAfterKiB > 0 {
			after = fmt.Sprintf("%.0f", r.MemAfterKiB)
		}
		fmt.Fprintf(&b, "| %d | %s | %d | %.2f | %.2f | %.0f (%s) | %.0f | %.0f / %.0f | %.0f → %.0f → %.0f → %s; %.1f (%s) | %s | %s | %s |\n",
			r.Level, r.Mode, r.Cycles, r.SetupSec, r.WallSec, r.CPUms, r.CPUSide, r.AstCPUms, r.AstIdleCPUPct, r.AstHeldCPUPct,
			r.MemIdleKiB, r.MemSetupKiB, r.MemLoadedKiB, after, r.MemGrowthPerCallKiB, r.MemMethod, reqs, evs, mdEscape(notesText(r.Notes)))
	}
	b.WriteString("\n" + methodText)
	for _, n := range rep.Notes {
		b.WriteString("\n- " + n)
	}
	return b.String()
}

// requestsText is "3.00: 1.00 POST /bridges/{id}/addChannel, ...".
func requestsText(r ModeResult) string { return countsText(r.RequestsPerOpTotal, r.RequestsPerOp) }

// countsText is "TOTAL: N KIND, ..." in kind order.
func countsText(total float64, m map[string]float64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%.2f %s", m[k], k))
	}
	return fmt.Sprintf("%.2f: %s", total, strings.Join(parts, ", "))
}

func notesText(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d× %s", m[k], k))
	}
	return strings.Join(parts, "; ")
}

func mdEscape(s string) string {
	s = strings.ReplaceAll(s, "|", "\\|")
	return strings.ReplaceAll(s, "\n", " ")
}

const methodText = `## Method

- Every mode runs the same calls: two Local/idle@ariapp-test channels (each answers and stays silent), in one mixing bridge, in a Stasis application of its own. At each level the modes take turns (baseline, inproc, api, and again for each round); each turn sets up its calls, runs one warm-up cycle, idles for the quiet window, then runs its share of the measured cycles on every call at once (each cycle: hold by the caller or the callee at random, then resume by the same party; with a pause, each operation waits a random time first), then hangs everything up and checks that no channel or bridge of it is left.
- **baseline**: the ari client alone. Hold = removeChannel, wait ChannelLeftBridge, play tone:440/500|0/2500, wait PlaybackStarted; resume = stop the playback, wait PlaybackFinished, addChannel, wait ChannelEnteredBridge. Events reach each call through a router on the client's event stream.
- **inproc**: app.App in the benchmark's process with ariapp's defaults; calls made with App.Originate; App.Hold and App.Resume timed (they return once Asterisk confirmed the step). Its CPU is the benchmark process's (getrusage), which includes the tiny load generator.
- **api**: the ariapp binary (go build ./cmd/ariapp) as a child process, log level warn, defaults otherwise; calls made with POST /v1/calls, POST /v1/calls/{id}/hold and /unhold timed from the request to the 200 reply. An event stream (GET /v1/events) stays open all the time, as a UI's would. CPU: utime+stime of /proc/PID/stat (10 ms ticks).
- **apifloor**: the control API's floor: the baseline's ARI requests and event waits, each hold and resume one plain net/http handler (POST /hold?call=I&party=P, 204 when Asterisk confirmed), in a child process of the benchmark itself (ariapp-bench -serve-floor), timed like api from the request to the reply. No event stream: the api mode's open GET /v1/events stream is part of what it is measured with. Its CPU is that process's; the api mode's latency is checked against it (≤ 1.2).
- **Set-up** (Call set-up table): ARI requests and events counted by the mode's client while its calls were set up, per call; inproc's time from the caller's StasisStart to call_answered is read from each call's timeline.
- **Asterisk CPU**: utime+stime of the Asterisk server process over the measured phase. It includes the media of every call up (tones, mixing) and any other user's load on the shared lab; "calls idle" is the same with the calls up and no operation, "all held" with every call on hold (each held party hearing its hold tone) and no operation: the media's share, which no ARI client can change.
- **Memory per live call** (KiB/call) = (memory with the calls up − memory of the same process without them) ÷ calls. inproc and baseline: live heap plus goroutine stacks after two forced GCs, with the calls up after the measured cycles less the same after the teardown, so buffers the load grew (HTTP connections to Asterisk, queues) count on neither side. api: VmRSS of the ariapp process right after the set-up less before it (RSS never shrinks back when Go frees memory, so the after-teardown point is unusable; garbage not yet collected counts). The Phases table gives every point and the growth per call under load, (after load − idle) ÷ calls, which includes those buffers. The target is checked from 50 calls up; for api also as the RSS added per added call between two levels (the per-level figure divides the binary's fixed growth by the calls).
- **ARI drops** (the target): the ARI client's drop counter (api: its "event queue full" log lines). **stream lost**: call events the subscriber watching every call (inproc: an App subscription; api: the GET /v1/events stream, which tells its reader with a "lost" event) lost because it fell behind a full buffer; counted and logged by ariapp, never silent.
- Latency ratios are against the baseline at the same level; the target is ≤ 1.2.
`
