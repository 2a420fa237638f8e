package main

import (
	"encoding/json"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// SIPReport is a run of the SIP mode: results.json's content.
type SIPReport struct {
	RunID     string      `json:"run_id"`
	Started   time.Time   `json:"started"`
	GoVersion string      `json:"go_version"`
	CPUs      int         `json:"cpus"`
	Asterisk  string      `json:"asterisk"`
	Config    string      `json:"config"`
	MaxP99    float64     `json:"max_p99_ms"`
	Results   []SIPResult `json:"results"`
	// Capacity is each set-up's largest level within capacity (0: none).
	Capacity map[string]int `json:"capacity"`
	// Repeated: the results merge several runs, each point the least
	// disturbed of its repeats.
	Repeated bool    `json:"repeated,omitempty"`
	Targets  []Check `json:"targets"`
}

func (c sipConfig) summary() string {
	media := c.Media
	if media == "" {
		media = "ariapp's default"
	}
	return fmt.Sprintf("levels %v, set-ups %s; each point: %v all bridged, %v with %.0f%% of the calls on hold at any time (cycle %v), %v all held; ariapp holds %.0f%% of its calls through the control API, the rest by re-INVITE; ariapp's hold.media %s",
		c.Levels, strings.Join(c.Setups, " and "), c.Phase, c.Window, 100*c.HoldShare, c.Cycle, c.Phase, 100*c.APIShare, media)
}

// finish works out each set-up's capacity and checks the targets at it.
func (rep *SIPReport) finish() {
	maxP99 := time.Duration(rep.MaxP99 * float64(time.Millisecond))
	rep.Capacity = map[string]int{}
	at := map[string]SIPResult{}
	for _, r := range rep.Results {
		if ok, _ := r.Capacity(maxP99); ok && r.Level > rep.Capacity[r.Setup] {
			rep.Capacity[r.Setup] = r.Level
			at[r.Setup] = r
		}
	}
	rep.Targets = nil
	ca, cs := rep.Capacity[SetupAriapp], rep.Capacity[SetupAsterisk]
	if cs > 0 {
		v := float64(ca) / float64(cs)
		rep.Targets = append(rep.Targets, Check{Target: "capacity with ariapp / Asterisk alone", Level: ca, Mode: SetupAriapp, Value: v, Limit: 0.9, Met: v >= 0.9})
	}
	if r, ok := at[SetupAriapp]; ok {
		box := r.Mixed.AriappTotal / float64(rep.CPUs)
		rep.Targets = append(rep.Targets,
			Check{Target: "ariapp's share of the box's CPU at capacity, %", Level: r.Level, Mode: SetupAriapp, Value: box, Limit: 10, Met: box < 10},
			Check{Target: "hold latency p50 at capacity, ms (one frame 20 ± 3)", Level: r.Level, Mode: SetupAriapp, Value: r.HoldSwitch.P50, Limit: 23, Met: r.HoldSwitch.P50 <= 23},
			Check{Target: "hold latency p99 at capacity, ms", Level: r.Level, Mode: SetupAriapp, Value: r.HoldSwitch.P99, Limit: rep.MaxP99, Met: r.HoldSwitch.P99 < rep.MaxP99})
	}
}

func (rep *SIPReport) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if rep.Capacity == nil {
		rep.finish()
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
	return writeSIPPlot(rep, filepath.Join(dir, "capacity.png"))
}

// renderSIPReport re-renders results.md and capacity.png from saved
// results.json files (comma-separated). With several, each set-up and
// level keeps the run the machine's other users disturbed least (the
// lowest Others in its mixed window): on a shared box a point is repeated
// rather than trusted once.
func renderSIPReport(paths, dir string) error {
	var rep *SIPReport
	best := map[string]int{} // setup/level → index in rep.Results
	for _, path := range strings.Split(paths, ",") {
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var r SIPReport
		if err := json.Unmarshal(data, &r); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if rep == nil {
			head := r
			head.Results = nil
			rep = &head
		} else {
			rep.RunID += "+" + r.RunID
			rep.Repeated = true
		}
		for _, res := range r.Results {
			key := fmt.Sprintf("%s/%d", res.Setup, res.Level)
			i, ok := best[key]
			switch {
			case !ok:
				best[key] = len(rep.Results)
				rep.Results = append(rep.Results, res)
			case res.Broken == "" && (rep.Results[i].Broken != "" || res.Mixed.Others < rep.Results[i].Mixed.Others):
				rep.Results[i] = res
			}
		}
	}
	if rep == nil {
		return fmt.Errorf("no results.json given")
	}
	slices.SortStableFunc(rep.Results, func(a, b SIPResult) int {
		if a.Level != b.Level {
			return a.Level - b.Level
		}
		return strings.Compare(a.Setup, b.Setup)
	})
	if rep.Repeated {
		var levels []int
		for _, r := range rep.Results {
			if !slices.Contains(levels, r.Level) {
				levels = append(levels, r.Level)
			}
		}
		if _, rest, ok := strings.Cut(rep.Config, "], "); ok && strings.HasPrefix(rep.Config, "levels [") {
			rep.Config = fmt.Sprintf("levels %v (of the merged runs), %s", levels, rest)
		}
	}
	rep.finish()
	return rep.write(dir)
}

func (rep *SIPReport) markdown() string {
	var b strings.Builder
	maxP99 := time.Duration(rep.MaxP99 * float64(time.Millisecond))
	fmt.Fprintf(&b, "# Capacity with real SIP calls: ariapp and Asterisk alone\n\n")
	fmt.Fprintf(&b, "Run `%s`, %s; %s, %d CPUs; Asterisk %s (lab). %s.",
		rep.RunID, rep.Started.Format("2006-01-02 15:04 UTC"), rep.GoVersion, rep.CPUs, rep.Asterisk, rep.Config)
	if rep.Repeated {
		b.WriteString(" The points merge several runs on the shared machine: each set-up and level is the run its other users disturbed least (lowest \"others\" in the mixed window).")
	}
	b.WriteString("\n\n")
	fmt.Fprintf(&b, "Two in-process SIP phones (internal/sipphone) carry every call: the caller sends a 700 Hz tone, the callee 1300 Hz, both in µ-law (no leg transcodes). The caller holds; the callee is the held party and hears the hold medium (440 Hz, 0.5 s every 3 s). Latencies are measured at the callee's phone, from the trigger leaving the caller (the re-INVITE or the API request) to the first packet of the hold medium (hold), the first 440 Hz packet (tone) or the first packet with the caller's tone again (resume). CPU is process CPU time per second of the window, in percent of one core; per call divides it by the calls up. Lost: missing RTP sequence numbers; late: a packet more than %v after the previous one; gaps: pauses over %v while a medium plays (tone gaps: in the hold medium); the switch to and from the hold medium is not counted. A set-up is within capacity at a level when hold p99 < %.0f ms, no packet is lost, there is no gap, every hold is heard and no operation fails.\n\n",
		lateAfter, gapAfter, rep.MaxP99)
	b.WriteString("| calls | set-up | hold p50 | hold p99 | tone p99 | resume p50 | resume p99 | Asterisk, mixed | Asterisk per bridged call | Asterisk per held call | ariapp | ariapp RSS MiB | phones | box busy (others; before) | lost (socket drops) | late | gaps (phone stalls) | tone gaps | holder heard | holds | errors | capacity |\n")
	b.WriteString("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, r := range rep.Results {
		ok, why := r.Capacity(maxP99)
		cap := "yes"
		if !ok {
			cap = "**no**: " + mdEscape(why)
		}
		if r.Broken != "" {
			fmt.Fprintf(&b, "| %d | %s | | | | | | | | | | | | | | | | | | | %d | %s |\n", r.Level, r.Setup, r.OpErrors, cap)
			continue
		}
		app, rss := "–", "–"
		if r.Setup == SetupAriapp {
			app = fmt.Sprintf("%.1f%%", r.Mixed.AriappTotal)
			rss = fmt.Sprintf("%.1f", float64(r.AriappRSS)/(1<<20))
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s | %s | %.0f%% | %.3f%% | %.3f%% | %s | %s | %.0f%% | %.0f%% (%.0f%%; %.0f%%) | %d (%d) | %d | %d (%d) | %d | %d | %d | %d | %s |\n",
			r.Level, r.Setup, f2(r.HoldSwitch.P50), f2(r.HoldSwitch.P99), f2(r.HoldTone.P99), f2(r.Resume.P50), f2(r.Resume.P99),
			r.Mixed.AsteriskTotal, r.Bridged.AsteriskPerCall, r.Held.AsteriskPerCall, app, rss, r.Mixed.PhonesTotal, r.Mixed.BoxBusy, r.Mixed.Others, r.BusyBefore,
			r.Health.Lost, r.Bridged.UDPDrops+r.Mixed.UDPDrops, r.Health.Late, r.Health.Gaps, r.Bridged.PhoneStalls+r.Mixed.PhoneStalls, r.Health.ToneGaps, r.Health.HeldPeer, r.Holds, r.OpErrors, cap)
	}
	b.WriteString("\nholder heard: packets with the holder's own tone that reached the held party while it was held (it must hear only the hold medium).\n")

	b.WriteString("\n## Capacity\n\n| set-up | largest level within capacity |\n|---|---:|\n")
	for _, s := range []string{SetupAriapp, SetupAsterisk} {
		fmt.Fprintf(&b, "| %s | %d |\n", s, rep.Capacity[s])
	}
	if len(rep.Targets) > 0 {
		b.WriteString("\n## Targets\n\n| target | calls | value | limit | met |\n|---|---:|---:|---:|---|\n")
		for _, t := range rep.Targets {
			met := "yes"
			if !t.Met {
				met = "**no**"
			}
			fmt.Fprintf(&b, "| %s | %d | %s | %s | %s |\n", t.Target, t.Level, f2(t.Value), f2(t.Limit), met)
		}
	}
	b.WriteString("\n## By hold method\n\n| calls | set-up | latency | n | p50 | p90 | p99 | max |\n|---:|---|---|---:|---:|---:|---:|---:|\n")
	for _, r := range rep.Results {
		for _, k := range []string{"hold_switch.reinvite", "hold_switch.api", "hold_tone.reinvite", "hold_tone.api", "resume.reinvite", "resume.api"} {
			s, ok := r.ByMethod[k]
			if !ok || s.Count == 0 {
				continue
			}
			fmt.Fprintf(&b, "| %d | %s | %s | %d | %s | %s | %s | %s |\n", r.Level, r.Setup, k, s.Count, f2(s.P50), f2(s.P90), f2(s.P99), f2(s.Max))
		}
		if r.APIReply.Count > 0 {
			s := r.APIReply
			fmt.Fprintf(&b, "| %d | %s | API reply to POST .../hold | %d | %s | %s | %s | %s |\n", r.Level, r.Setup, s.Count, f2(s.P50), f2(s.P90), f2(s.P99), f2(s.Max))
		}
	}
	var reqs []string
	for _, r := range rep.Results {
		for k, st := range r.ARIRequests {
			reqs = append(reqs, fmt.Sprintf("| %d | %s | %d | %s | %s | %s | %s |\n", r.Level, k, st.Count, f2(st.P50), f2(st.P90), f2(st.P99), f2(st.Max)))
		}
	}
	if len(reqs) > 0 {
		slices.Sort(reqs)
		b.WriteString("\n## ariapp's ARI requests (mixed window, ms from sending to Asterisk's reply)\n\n| calls | request | n | p50 | p90 | p99 | max |\n|---:|---|---:|---:|---:|---:|---:|\n")
		for _, l := range reqs {
			b.WriteString(l)
		}
	}
	b.WriteString("\n## Set-up and errors\n\n| calls | set-up | calls up | set-up p50 ms | set-up p99 ms | first error | teardown |\n|---:|---|---:|---:|---:|---|---|\n")
	for _, r := range rep.Results {
		why := r.FirstError
		if r.Broken != "" {
			why = "broke: " + r.Broken
		}
		fmt.Fprintf(&b, "| %d | %s | %d | %s | %s | %s | %s |\n", r.Level, r.Setup, r.Up, f2(r.SetupTime.P50), f2(r.SetupTime.P99), mdEscape(why), mdEscape(r.Teardown))
	}
	return b.String()
}

var setupStyle = map[string]color.Color{
	SetupAriapp:   color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	SetupAsterisk: color.RGBA{R: 0x55, G: 0x55, B: 0x55, A: 0xff},
}

// writeSIPPlot draws hold latency (p50, p99) and CPU against the calls, one
// line per set-up.
func writeSIPPlot(rep *SIPReport, path string) error {
	lat := plot.New()
	lat.Title.Text = fmt.Sprintf("hold latency at the phone (run %s)", rep.RunID)
	lat.X.Label.Text = "concurrent SIP calls"
	lat.Y.Label.Text = "trigger → first hold-medium packet, ms (log)"
	lat.Y.Scale = plot.LogScale{}
	lat.Y.Tick.Marker = oneTwoFive{}
	cpu := plot.New()
	cpu.Title.Text = "CPU with part of the calls on hold"
	cpu.X.Label.Text = "concurrent SIP calls"
	cpu.Y.Label.Text = "% of one core"
	for _, p := range []*plot.Plot{lat, cpu} {
		p.Legend.Top, p.Legend.Left = true, true
		p.Add(plotter.NewGrid())
	}
	drawn := false
	for _, setup := range []string{SetupAriapp, SetupAsterisk} {
		var p50, p99, ast, app, phones plotter.XYs
		for _, r := range rep.Results {
			if r.Setup != setup || r.Broken != "" || r.HoldSwitch.Count == 0 {
				continue
			}
			x := float64(r.Level)
			p50 = append(p50, plotter.XY{X: x, Y: max(r.HoldSwitch.P50, 0.1)})
			p99 = append(p99, plotter.XY{X: x, Y: max(r.HoldSwitch.P99, 0.1)})
			ast = append(ast, plotter.XY{X: x, Y: r.Mixed.AsteriskTotal})
			app = append(app, plotter.XY{X: x, Y: r.Mixed.AriappTotal})
			phones = append(phones, plotter.XY{X: x, Y: r.Mixed.PhonesTotal})
		}
		if len(p50) == 0 {
			continue
		}
		drawn = true
		add := func(p *plot.Plot, pts plotter.XYs, name string, dashed bool, col color.Color) error {
			l, s, err := plotter.NewLinePoints(pts)
			if err != nil {
				return err
			}
			l.Color, s.Color, l.Width = col, col, vg.Points(1.5)
			s.Shape = draw.CircleGlyph{}
			if dashed {
				l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
				s.Shape = draw.TriangleGlyph{}
			}
			p.Add(l, s)
			p.Legend.Add(name, l, s)
			return nil
		}
		col := setupStyle[setup]
		if err := add(lat, p50, setup+" p50", false, col); err != nil {
			return err
		}
		if err := add(lat, p99, setup+" p99", true, col); err != nil {
			return err
		}
		if err := add(cpu, ast, "Asterisk ("+setup+")", false, col); err != nil {
			return err
		}
		if setup == SetupAriapp {
			if err := add(cpu, app, "ariapp", true, color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}); err != nil {
				return err
			}
			if err := add(cpu, phones, "the phones (load generator)", true, color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}); err != nil {
				return err
			}
		}
	}
	if !drawn {
		lat.Y.Min, lat.Y.Max = 0.1, 10
	} else {
		if lat.Y.Min == lat.Y.Max {
			lat.Y.Min, lat.Y.Max = lat.Y.Min/2, lat.Y.Max*2
		}
		lat.Y.Max *= 4
		cpu.Y.Min = 0
		cpu.Y.Max *= 1.3
	}
	img := vgimg.New(12*vg.Inch, 5*vg.Inch)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Millimeter * 4, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	plots := []*plot.Plot{lat, cpu}
	canvases := plot.Align([][]*plot.Plot{plots}, tiles, dc)
	for i := range plots {
		plots[i].Draw(canvases[0][i])
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
