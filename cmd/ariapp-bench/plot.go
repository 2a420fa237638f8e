package main

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// modeStyle gives each mode one colour; p50 is drawn solid, p99 dashed.
var modeStyle = map[string]color.Color{
	ModeBaseline: color.RGBA{R: 0x55, G: 0x55, B: 0x55, A: 0xff},
	ModeInproc:   color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	ModeAPI:      color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	ModeAPIFloor: color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
}

// writePlot draws hold and resume latency (p50 and p99) against the number
// of concurrent calls, one line per mode and percentile, side by side, and
// writes it as a PNG.
func writePlot(rep *Report, path string) error {
	const cols = 2
	plots := make([]*plot.Plot, cols)
	for i, op := range []string{"hold", "resume"} {
		p, err := opPlot(rep, op)
		if err != nil {
			return err
		}
		plots[i] = p
	}
	img := vgimg.New(12*vg.Inch, 5*vg.Inch)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: cols, PadX: vg.Millimeter * 4, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
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

// opPlot is one panel: one operation's latency percentiles per mode.
func opPlot(rep *Report, op string) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s latency (run %s, %d cycles/call)", op, rep.RunID, rep.Cycles)
	p.X.Label.Text = "concurrent calls"
	p.Y.Label.Text = "latency, ms (log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = oneTwoFive{}
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = levelTicks(rep.Levels)
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	drawn := false
	for _, mode := range rep.Modes {
		for _, pct := range []string{"p50", "p99"} {
			var pts plotter.XYs
			for _, r := range rep.Results {
				if r.Mode != mode || r.Skipped != "" || r.Broken != "" {
					continue // a broken level measured fewer calls than it names
				}
				s := r.Hold
				if op == "resume" {
					s = r.Resume
				}
				v := s.P50
				if pct == "p99" {
					v = s.P99
				}
				if s.Count == 0 || v <= 0 {
					continue
				}
				pts = append(pts, plotter.XY{X: float64(r.Level), Y: v})
			}
			if len(pts) == 0 {
				continue
			}
			line, points, err := plotter.NewLinePoints(pts)
			if err != nil {
				return nil, err
			}
			line.Color = modeStyle[mode]
			line.Width = vg.Points(1.5)
			points.Color = modeStyle[mode]
			points.Shape = draw.CircleGlyph{}
			if pct == "p99" {
				line.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
				points.Shape = draw.TriangleGlyph{}
			}
			p.Add(line, points)
			p.Legend.Add(mode+" "+pct, line, points)
			drawn = true
		}
	}
	if !drawn {
		// An empty log-scale axis cannot be drawn; give it a range.
		p.Y.Min, p.Y.Max = 0.1, 10
		p.X.Min, p.X.Max = 1, 10
	} else {
		// A single level would make an empty log range.
		if p.X.Min == p.X.Max {
			p.X.Min, p.X.Max = p.X.Min/2, p.X.Max*2
		}
		if p.Y.Min == p.Y.Max {
			p.Y.Min, p.Y.Max = p.Y.Min/2, p.Y.Max*2
		}
		p.Y.Max *= 4 // room for the legend above the lines
	}
	return p, nil
}

// oneTwoFive labels 1, 2, 5, 10, 20, ... on a log axis.
type oneTwoFive struct{}

// Ticks implements plot.Ticker.
func (oneTwoFive) Ticks(min, max float64) []plot.Tick {
	var out []plot.Tick
	for d := math.Pow(10, math.Floor(math.Log10(min))); d <= max; d *= 10 {
		for _, m := range []float64{1, 2, 5} {
			if v := d * m; v >= min && v <= max {
				out = append(out, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', 3, 64)})
			}
		}
	}
	return out
}

// levelTicks labels the measured levels on the log x axis.
type levelTicks []int

// Ticks implements plot.Ticker.
func (t levelTicks) Ticks(min, max float64) []plot.Tick {
	var out []plot.Tick
	for _, l := range t {
		v := float64(l)
		if v >= min && v <= max {
			out = append(out, plot.Tick{Value: v, Label: strconv.Itoa(l)})
		}
	}
	if len(out) < 2 {
		// Fall back to decades so the axis still has a scale.
		for d := math.Pow(10, math.Floor(math.Log10(min))); d <= max; d *= 10 {
			if d >= min {
				out = append(out, plot.Tick{Value: d, Label: strconv.FormatFloat(d, 'g', -1, 64)})
			}
		}
	}
	return out
}
