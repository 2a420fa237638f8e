package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ariapp/ariapp/internal/labtest"
)

// requireSolo gates tests that measure Asterisk's load or speed: beside
// the other packages' lab tests (go test runs packages in parallel) they
// would measure their neighbours, so lab/test.sh runs them in a stage of
// their own with ARIAPP_SOLO=1, after the main suite. Their names contain
// "Solo", which that stage selects.
func requireSolo(t *testing.T) {
	t.Helper()
	if os.Getenv("ARIAPP_SOLO") != "1" {
		t.Skip("measures Asterisk's load; run alone with ARIAPP_SOLO=1 (lab/test.sh does, after the main suite)")
	}
}

// TestSoloLabSmallRun runs the benchmark's small version against the lab,
// as CI does to keep the tool working: 1 and 3 calls, 2 cycles each, every
// mode (the api mode builds and runs the ariapp binary). It checks that
// the numbers are sane, that no leg transcodes needlessly and the files
// are written, not how fast anything is.
func TestSoloLabSmallRun(t *testing.T) {
	requireSolo(t)
	acfg := labtest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, err := buildAriapp(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// The apifloor mode's server is this command, not the test binary.
	floorBin := filepath.Join(t.TempDir(), "ariapp-bench")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", floorBin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v: %s", err, out)
	}
	out := t.TempDir()
	cfg := config{
		Levels: []int{1, 3}, Cycles: 2, Rounds: 2, Modes: []string{ModeBaseline, ModeInproc, ModeAPI, ModeAPIFloor}, Out: out,
		ARI: acfg, AriappBin: bin, FloorBin: floorBin, SetupPar: 4, Wait: 15 * time.Second, OpTimeout: 30 * time.Second,
		Quiet: 200 * time.Millisecond, Guard: 0.75, Logf: t.Logf,
	}
	rep, err := run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(rep.Results), 8; got != want {
		t.Fatalf("%d results, want %d", got, want)
	}
	for _, r := range rep.Results {
		name := fmt.Sprintf("%d calls, %s", r.Level, r.Mode)
		if r.Broken != "" || r.Teardown != "" || r.Skipped != "" {
			t.Errorf("%s: broken %q, teardown %q, skipped %q", name, r.Broken, r.Teardown, r.Skipped)
			continue
		}
		for op, s := range map[string]OpStats{"hold": r.Hold, "resume": r.Resume} {
			if s.Count != r.Level*2 {
				t.Errorf("%s %s: %d samples, want %d", name, op, s.Count, r.Level*2)
			}
			if !(s.P50 > 0 && s.P50 <= s.P90 && s.P90 <= s.P99 && s.P99 <= s.Max && s.Max < 5000) {
				t.Errorf("%s %s: implausible latencies %+v", name, op, s)
			}
			if r.Mode != ModeBaseline && (s.RatioP50 <= 0 || s.RatioP99 <= 0) {
				t.Errorf("%s %s: no ratio to the baseline: %+v", name, op, s)
			}
		}
		if r.Rounds != 2 || r.Cycles != 2 {
			t.Errorf("%s: %d rounds, %d cycles; want 2 rounds of 1 cycle", name, r.Rounds, r.Cycles)
		}
		if r.Ops != 4*r.Level || r.OpsPerSec <= 0 || r.WallSec <= 0 {
			t.Errorf("%s: ops %d, %.1f ops/s over %.3f s", name, r.Ops, r.OpsPerSec, r.WallSec)
		}
		if r.Drops != 0 || r.StreamLost != 0 || r.ErrorCount != 0 {
			t.Errorf("%s: %d events dropped, %d lost by the watcher, %d errors %v", name, r.Drops, r.StreamLost, r.ErrorCount, r.Errors)
		}
		if r.CPUms < 0 || r.MemLoadedKiB <= 0 || r.MemIdleKiB <= 0 {
			t.Errorf("%s: cpu %.1f ms, memory %.0f → %.0f KiB", name, r.CPUms, r.MemIdleKiB, r.MemLoadedKiB)
		}
		switch r.Mode {
		case ModeBaseline:
			// remove+play per hold, stop+add per resume: 2 per operation
			// (a stop retried after Asterisk's 500 adds one).
			if r.RequestsPerOpTotal < 2 || r.RequestsPerOpTotal > 2.5 {
				t.Errorf("%s: %.2f ARI requests per operation, want 2: %v", name, r.RequestsPerOpTotal, r.RequestsPerOp)
			}
		case ModeInproc:
			if r.RequestsPerOpTotal < 2 || r.EventsPerOp < 2 {
				t.Errorf("%s: %.2f requests, %.2f events per operation", name, r.RequestsPerOpTotal, r.EventsPerOp)
			}
			// Set-up: both originates, answer, bridge, one bulk variable
			// write, and the time inside ariapp for every call.
			if r.RequestsPerSetup["POST /channels/{id}/variables"] != 1 || r.Setup == nil || r.Setup.Count != r.Level*2 {
				t.Errorf("%s: set-up requests %v, times %+v", name, r.RequestsPerSetup, r.Setup)
			}
		case ModeAPIFloor:
			if r.RequestsPerOpTotal < 2 || r.RequestsPerOpTotal > 2.5 {
				t.Errorf("%s: %.2f ARI requests per operation, want 2: %v", name, r.RequestsPerOpTotal, r.RequestsPerOp)
			}
		case ModeAPI:
			if r.MemMethod != methodRSS {
				t.Errorf("%s: memory method %q", name, r.MemMethod)
			}
			// Server-Timing: every operation timed inside ariapp too, and
			// never longer than at the client.
			if r.InsideHold == nil || r.InsideHold.Count != r.Hold.Count || r.InsideResume.Count != r.Resume.Count ||
				r.InsideHold.P50 <= 0 || r.InsideHold.P50 > r.Hold.P50 || r.InsideResume.Max > r.Resume.Max {
				t.Errorf("%s: inside ariapp %+v %+v; at the client %+v %+v", name, r.InsideHold, r.InsideResume, r.Hold, r.Resume)
			}
		}
	}

	data, err := os.ReadFile(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(data, &back); err != nil || len(back.Results) != 8 || back.RunID != rep.RunID {
		t.Fatalf("results.json does not read back (%v): %d results", err, len(back.Results))
	}
	md, err := os.ReadFile(filepath.Join(out, "results.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| 3 | api | hold | 6 |", "| 1 | baseline | resume | 2 |", "| 3 | apifloor | hold | 6 |", "hold p50 / apifloor", "## Call set-up", "## Targets", "## The control API's hop", "## Method", "ran 2 times in turn"} {
		if !bytes.Contains(md, []byte(want)) {
			t.Errorf("results.md lacks %q:\n%s", want, md)
		}
	}
	checkPNG(t, filepath.Join(out, "latency.png"))
}

func checkPNG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if b := img.Bounds(); b.Dx() < 600 || b.Dy() < 300 {
		t.Fatalf("%s: %v is too small", path, b)
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	s := newOpStats(d)
	if s.Count != 100 || s.P50 != 50 || s.P90 != 90 || s.P99 != 99 || s.Max != 100 || s.Mean != 50.5 {
		t.Fatalf("stats %+v", s)
	}
	if one := newOpStats([]time.Duration{3 * time.Millisecond}); one.P50 != 3 || one.P99 != 3 || one.Max != 3 {
		t.Fatalf("one sample: %+v", one)
	}
	if none := newOpStats(nil); none.Count != 0 {
		t.Fatalf("no sample: %+v", none)
	}
}

func TestPathShape(t *testing.T) {
	for in, want := range map[string]string{
		"/ari/bridges/b1/addChannel":       "/bridges/{id}/addChannel",
		"/ari/channels/c1/play/pb-1":       "/channels/{id}/play/{id}",
		"/ari/playbacks/pb-1":              "/playbacks/{id}",
		"/ari/channels":                    "/channels",
		"/ari/asterisk/info":               "/asterisk/info",
		"/ari/applications/x/subscription": "/applications/{id}/subscription",
	} {
		if got := pathShape(in); got != want {
			t.Errorf("pathShape(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestStatFields(t *testing.T) {
	line := []byte("123 (a b) c) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 1 0 999 0 0")
	f, err := statFields(line)
	if err != nil {
		t.Fatal(err)
	}
	if f[0] != "S" || f[11] != "250" || f[12] != "50" || f[19] != "999" {
		t.Fatalf("fields %q", f)
	}
	if _, err := statFields([]byte("garbage")); err == nil {
		t.Fatal("no error for a line without ')'")
	}
	self, err := procCPU(os.Getpid())
	if err != nil || self < 0 {
		t.Fatalf("procCPU(self) = %v, %v", self, err)
	}
	if rss, err := procRSS(os.Getpid()); err != nil || rss == 0 {
		t.Fatalf("procRSS(self) = %d, %v", rss, err)
	}
}

func TestParseFlags(t *testing.T) {
	if l, err := parseLevels("1, 50,200"); err != nil || fmt.Sprint(l) != "[1 50 200]" {
		t.Fatalf("levels %v %v", l, err)
	}
	for _, bad := range []string{"", "0", "x", "1,,2"} {
		if _, err := parseLevels(bad); err == nil {
			t.Errorf("parseLevels(%q) accepted", bad)
		}
	}
	if m, err := parseModes("apifloor,api,baseline"); err != nil || fmt.Sprint(m) != "[baseline api apifloor]" {
		t.Fatalf("modes %v %v", m, err)
	}
	if m, _ := parseModes("all"); len(m) != 4 {
		t.Fatalf("all = %v", m)
	}
	if _, err := parseModes("api,fast"); err == nil {
		t.Fatal("unknown mode accepted")
	}
	var stderr bytes.Buffer
	if code := mainRun(context.Background(), []string{"-levels", "0"}, &stderr, &stderr); code != 2 {
		t.Fatalf("bad -levels: exit %d", code)
	}
}

// TestReportWithoutLab renders a synthetic report: ratios, target checks,
// a broken and a skipped level, and the plot.
func TestReportWithoutLab(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var d []time.Duration
		for _, x := range v {
			d = append(d, time.Duration(x)*time.Millisecond)
		}
		return d
	}
	rep := &Report{RunID: "test", Levels: []int{1, 50, 200}, Cycles: 2, Modes: []string{ModeBaseline, ModeInproc, ModeAPI}, CPUs: 2}
	rep.Results = []ModeResult{
		{Level: 1, Mode: ModeBaseline, Ops: 4, Hold: newOpStats(ms(1, 1)), Resume: newOpStats(ms(2, 2))},
		{Level: 1, Mode: ModeInproc, Ops: 4, Hold: newOpStats(ms(1, 1)), Resume: newOpStats(ms(3, 3)), MemMethod: methodHeap},
		{Level: 1, Mode: ModeAPI, Ops: 4, Hold: newOpStats(ms(2, 2)), Resume: newOpStats(ms(2, 2)), CPUms: 10, AstCPUms: 200, MemMethod: methodRSS},
		{Level: 50, Mode: ModeBaseline, Ops: 200, Hold: newOpStats(ms(10, 20)), Resume: newOpStats(ms(10, 20))},
		{Level: 50, Mode: ModeAPI, Ops: 200, Hold: newOpStats(ms(11, 22)), Resume: newOpStats(ms(11, 22)), MemPerCallKiB: 30, MemMethod: methodRSS, Drops: 1, StreamLost: 7,
			MemIdleKiB: 10000, MemSetupKiB: 13000, MemLoadedKiB: 15000},
		{Level: 200, Mode: ModeBaseline, Broken: "set-up: Asterisk saturated | by media"},
		// 1500 KiB more for 150 more calls than at 50: 10 KiB per added call.
		{Level: 200, Mode: ModeAPI, Ops: 800, Hold: newOpStats(ms(11, 22)), Resume: newOpStats(ms(11, 22)), MemPerCallKiB: 22.5, MemMethod: methodRSS,
			MemIdleKiB: 10000, MemSetupKiB: 14500, MemLoadedKiB: 20000},
		{Level: 200, Mode: ModeInproc, Skipped: "broke at a lower level"},
	}
	rep.finish()
	if r := rep.find(1, ModeInproc); r.Resume.RatioP50 != 1.5 || r.Hold.RatioP99 != 1 {
		t.Fatalf("ratios %+v %+v", r.Hold, r.Resume)
	}
	met := map[string]bool{}
	for _, c := range rep.Checks {
		met[fmt.Sprintf("%s@%d/%s", c.Target, c.Level, c.Mode)] = c.Met
	}
	for k, want := range map[string]bool{
		"resume p50 / baseline@1/inproc":                       false,
		"hold p50 / baseline@1/inproc":                         true,
		"ariapp CPU / Asterisk CPU@1/api":                      true,
		"memory KiB per live call (RSS)@50/api":                false,
		"ARI events dropped@50/api":                            false,
		"ARI events dropped@50/baseline":                       true,
		"RSS KiB per added live call (50 → 200 calls)@200/api": true,
		"hold p99 / baseline@50/api":                           true,
	} {
		if got, ok := met[k]; !ok || got != want {
			t.Errorf("check %s: met=%v (present %v), want %v", k, got, ok, want)
		}
	}
	md := rep.markdown()
	for _, want := range []string{"**1.50×**", "broke: set-up: Asterisk saturated \\| by media", "broke at a lower level", "| memory KiB per live call (RSS) | 50 | api | 30 | 20 | **no** |", "| RSS KiB per added live call (50 → 200 calls) | 200 | api | 10 | 20 | yes |", "| 30.0 | 1 | 7 | 0 |"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	dir := t.TempDir()
	if err := rep.write(dir); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, filepath.Join(dir, "latency.png"))
	// A report with no numbers at all still plots (empty axes).
	empty := &Report{RunID: "empty", Levels: []int{1}, Modes: []string{ModeAPI}}
	if err := writePlot(empty, filepath.Join(dir, "empty.png")); err != nil {
		t.Fatal(err)
	}
}

func TestMergeRounds(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	round := func(holds, resumes []time.Duration, cpu float64, notes map[string]int, broken string) ModeResult {
		return ModeResult{Level: 2, Mode: ModeInproc, Cycles: 1, Ops: len(holds) + len(resumes), WallSec: 1, CPUms: cpu, AstCPUms: 2 * cpu,
			Hold: newOpStats(holds), Resume: newOpStats(resumes), Notes: notes, Broken: broken,
			RequestsPerOp: map[string]float64{"POST /x": 1}, RequestsPerOpTotal: 1, EventsPerOp: 3,
			samples: samples{holds: holds, resumes: resumes}, MemPerCallKiB: cpu}
	}
	t.Run("pooled", func(t *testing.T) {
		m := mergeRounds([]ModeResult{
			round(ms(1, 2), ms(10, 20), 10, map[string]int{"warn: a": 1}, ""),
			round(ms(3, 4), ms(30, 40), 30, map[string]int{"warn: a": 2, "warn: b": 1}, ""),
		})
		if m.Rounds != 2 || m.Cycles != 2 || m.Ops != 8 || m.WallSec != 2 || m.CPUms != 40 || m.AstCPUms != 80 {
			t.Fatalf("sums: %+v", m)
		}
		if m.Hold.Count != 4 || m.Hold.P50 != 2 || m.Hold.Max != 4 || m.Resume.P50 != 20 || m.Resume.Max != 40 {
			t.Fatalf("pooled latencies: hold %+v resume %+v", m.Hold, m.Resume)
		}
		if m.OpsPerSec != 4 || m.CPUPerOpMs != 5 || m.AstCPUPerOpMs != 10 || m.EventsPerOp != 3 || m.RequestsPerOpTotal != 1 {
			t.Fatalf("rates: %+v", m)
		}
		if m.Notes["warn: a"] != 3 || m.Notes["warn: b"] != 1 {
			t.Fatalf("notes %v", m.Notes)
		}
		if m.MemPerCallKiB != 30 {
			t.Fatalf("memory from the last round: %v", m.MemPerCallKiB)
		}
	})
	t.Run("memory of the last round that measured it", func(t *testing.T) {
		ok := round(ms(1), ms(2), 5, nil, "")
		ok.MemLoadedKiB, ok.MemPerCallKiB = 100, 5
		broken := round(nil, nil, 0, nil, "warm-up: boom")
		broken.MemPerCallKiB = 0
		if m := mergeRounds([]ModeResult{ok, broken}); m.MemLoadedKiB != 100 || m.MemPerCallKiB != 5 || m.Broken == "" {
			t.Fatalf("%+v", m)
		}
	})
	t.Run("first breakage kept", func(t *testing.T) {
		m := mergeRounds([]ModeResult{round(ms(1), ms(2), 1, nil, "boom"), round(ms(1), ms(2), 1, nil, "")})
		if m.Broken != "boom" {
			t.Fatalf("broken %q", m.Broken)
		}
	})
	t.Run("one round unchanged", func(t *testing.T) {
		r := round(ms(1), ms(2), 1, nil, "")
		if m := mergeRounds([]ModeResult{r}); m.Rounds != 0 || m.Hold != r.Hold {
			t.Fatalf("%+v", m)
		}
	})
}

func TestParseServerTiming(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"call;dur=0.312", 312 * time.Microsecond, true},
		{"call;dur=12", 12 * time.Millisecond, true},
		{"", 0, false},
		{"db;dur=1", 0, false},
		{"call;dur=x", 0, false},
	} {
		got, ok := parseServerTiming(tt.in)
		if ok != tt.ok || (ok && (got-tt.want).Abs() > time.Microsecond) {
			t.Errorf("parseServerTiming(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
