package main

// The plot of cycle cost against backlog depth, drawn with gonum.org/v1/plot
// and written as PNG by its vg/vgimg canvas.

import (
	"image/color"
	"math"
	"os"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

var (
	blue   = color.RGBA{31, 119, 180, 255}
	orange = color.RGBA{255, 127, 14, 255}
	red    = color.RGBA{214, 39, 40, 255}
	green  = color.RGBA{44, 160, 44, 255}
	grey   = color.RGBA{128, 128, 128, 255}
)

// emptyX is where the empty queue sits on the log-scale x axis, one decade
// left of 1,000.
const emptyX = 100

// depth is the x position of a Cycle backlog.
var depth = map[string]float64{
	"queued=0":        emptyX,
	"queued=1000":     1_000,
	"queued=100000":   100_000,
	"queued=1000000":  1_000_000,
	"inflight=100000": 100_000,
}

// points are plotted values with their confidence intervals.
type points struct {
	plotter.XYs
	plotter.YErrors
}

// series is the CPU time per message of mode's cycle at each backlog
// (backlogs in order) that r has, with its confidence interval where it
// has one; x positions are multiplied by dodge.
func series(r results, mode string, backlogs []string, dodge float64) points {
	var ps points
	for _, bl := range backlogs {
		s, ok := r.summary(cpu("Cycle/" + mode + "/" + bl))
		if !ok {
			continue
		}
		ps.XYs = append(ps.XYs, plotter.XY{X: depth[bl] * dodge, Y: s.Center})
		lo, hi := s.Center-s.Lo, s.Hi-s.Center
		if math.IsInf(lo, 0) || math.IsInf(hi, 0) || math.IsNaN(lo) || math.IsNaN(hi) {
			lo, hi = 0, 0 // too few runs for an interval: no bar
		}
		ps.YErrors = append(ps.YErrors, struct{ Low, High float64 }{lo, hi})
	}
	return ps
}

// plot draws CPU ns per message of the single-message and batch cycles
// against backlog depth (log scale; the empty queue one decade left of
// 1,000), with the medians' confidence intervals as error bars, the
// 100,000-in-flight variants as lone crosses, and the channel baseline, 8×
// the channel and 2.5× the single cycle at 1,000 as horizontal lines. What
// r lacks is left out.
func plot(r results, path string) error {
	p := gplot.New()
	p.Title.Text = "send + receive + delete: CPU ns per message (median, 95% CI)"
	p.X.Label.Text = "messages queued (log scale)"
	p.Y.Label.Text = "CPU ns per message"
	p.X.Scale = gplot.LogScale{}
	p.X.Min, p.X.Max = emptyX/1.5, 1_000_000*1.5
	p.X.Tick.Marker = gplot.ConstantTicks{
		{Value: emptyX, Label: "0 (empty)"},
		{Value: 1_000, Label: "1k"},
		{Value: 10_000},
		{Value: 100_000, Label: "100k"},
		{Value: 1_000_000, Label: "1M"},
	}
	p.Y.Min = 0
	p.Title.Padding = vg.Points(8)
	p.Add(plotter.NewGrid())
	// The legend has a column of its own, right of the plot, so that it
	// hides no line.
	legend := gplot.NewLegend()
	legend.Top, legend.Left = true, true

	queued := []string{"queued=0", "queued=1000", "queued=100000", "queued=1000000"}
	for _, s := range []struct {
		mode, label string
		col         color.Color
		dodge       float64 // x factor, so that the error bars of the two do not overlap
	}{{"single", "single message", blue, 1 / 1.06}, {"batch16", "batch of 16", orange, 1.06}} {
		if ps := series(r, s.mode, queued, s.dodge); len(ps.XYs) > 0 {
			line, scatter, err := plotter.NewLinePoints(ps.XYs)
			if err != nil {
				return err
			}
			line.Color, line.Width = s.col, vg.Points(2)
			scatter.Color, scatter.Shape, scatter.Radius = s.col, draw.CircleGlyph{}, vg.Points(3)
			bars, err := plotter.NewYErrorBars(ps)
			if err != nil {
				return err
			}
			bars.Color = s.col
			p.Add(line, scatter, bars)
			legend.Add(s.label, line, scatter)
		}
		if ps := series(r, s.mode, []string{"inflight=100000"}, s.dodge); len(ps.XYs) > 0 {
			cross, err := plotter.NewScatter(ps.XYs)
			if err != nil {
				return err
			}
			cross.Color, cross.Shape, cross.Radius = s.col, draw.CrossGlyph{}, vg.Points(5)
			bars, err := plotter.NewYErrorBars(ps)
			if err != nil {
				return err
			}
			bars.Color = s.col
			p.Add(cross, bars)
			legend.Add(s.label+": 100k in flight", cross)
		}
	}

	hline := func(y float64, label string, col color.Color, dashes ...vg.Length) {
		f := plotter.NewFunction(func(float64) float64 { return y })
		f.XMin, f.XMax = p.X.Min, p.X.Max
		f.Color, f.Width, f.Dashes = col, vg.Points(1.5), dashes
		p.Add(f)
		legend.Add(label, f)
		p.Y.Max = max(p.Y.Max, y)
	}
	if ch, ok := r.median(cpu("Baseline/chan")); ok {
		hline(ch, "buffered chan", green)
		hline(8*ch, "8× chan", red, vg.Points(6), vg.Points(3))
	}
	if at1k, ok := r.median(cpu("Cycle/single/queued=1000")); ok {
		hline(2.5*at1k, "2.5× single at 1k", grey, vg.Points(2), vg.Points(2))
	}
	p.Y.Max *= 1.05

	const w, h, legendW = 27 * vg.Centimeter, 15 * vg.Centimeter, 7 * vg.Centimeter
	c := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(96))
	dc := draw.New(c)
	p.Draw(draw.Crop(dc, 0, -legendW, 0, 0))
	legend.Draw(draw.Crop(dc, w-legendW+vg.Centimeter/4, 0, 0, -vg.Centimeter))
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
