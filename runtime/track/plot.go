package track

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"sort"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Series is one metric of one run over its steps.
type Series struct {
	Run   string    `json:"run"`
	Stage string    `json:"stage"`
	Name  string    `json:"name"`
	Steps []int64   `json:"steps"`
	Value []float64 `json:"values"`
}

// Label is how a series is named in a legend: "<run> <stage>/<metric>".
func (s Series) Label() string { return s.Run + " " + tagOf(Point{Stage: s.Stage, Name: s.Name}) }

// SeriesOf groups a run's per-step points (step >= 0) of the named
// metrics by stage and metric, each in step order.
func SeriesOf(run string, pts []Point, metrics []string) []Series {
	want := map[string]bool{}
	for _, m := range metrics {
		want[m] = true
	}
	idx := map[[2]string]int{}
	var out []Series
	for _, p := range pts {
		if p.Step < 0 || !want[p.Name] {
			continue
		}
		k := [2]string{p.Stage, p.Name}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, Series{Run: run, Stage: p.Stage, Name: p.Name})
		}
		out[i].Steps = append(out[i].Steps, p.Step)
		out[i].Value = append(out[i].Value, p.Value)
	}
	for i := range out {
		s := &out[i]
		ord := make([]int, len(s.Steps))
		for j := range ord {
			ord[j] = j
		}
		sort.SliceStable(ord, func(a, b int) bool { return s.Steps[ord[a]] < s.Steps[ord[b]] })
		steps, vals := make([]int64, len(ord)), make([]float64, len(ord))
		for j, o := range ord {
			steps[j], vals[j] = s.Steps[o], s.Value[o]
		}
		s.Steps, s.Value = steps, vals
	}
	return out
}

// plotColors are distinguishable line colours (Okabe–Ito).
var plotColors = []color.RGBA{
	{0, 114, 178, 255}, {213, 94, 0, 255}, {0, 158, 115, 255}, {204, 121, 167, 255},
	{230, 159, 0, 255}, {86, 180, 233, 255}, {0, 0, 0, 255}, {240, 228, 66, 255},
}

// Plot draws the series as lines on one chart and writes it in format
// ("png" or "svg").
func Plot(w io.Writer, format, title string, series []Series) error {
	if format != "png" && format != "svg" {
		return fmt.Errorf("plot format %q: use .png or .svg", format)
	}
	if len(series) == 0 {
		return fmt.Errorf("nothing to plot")
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "step"
	p.Y.Label.Text = "value"
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	for i, s := range series {
		xys := make(plotter.XYs, len(s.Steps))
		for j := range s.Steps {
			xys[j].X, xys[j].Y = float64(s.Steps[j]), s.Value[j]
		}
		l, pts, err := plotter.NewLinePoints(xys)
		if err != nil {
			return fmt.Errorf("series %s: %w", s.Label(), err)
		}
		c := plotColors[i%len(plotColors)]
		l.Color, pts.Color = c, c
		l.Width = vg.Points(1.5)
		if i >= len(plotColors) {
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
		}
		// Markers only where they do not clutter: sparse series such as
		// an evaluation every few hundred steps.
		if len(xys) <= 40 {
			pts.Shape = draw.CircleGlyph{}
			pts.Radius = vg.Points(2.5)
			p.Add(l, pts)
			p.Legend.Add(s.Label(), l, pts)
		} else {
			p.Add(l)
			p.Legend.Add(s.Label(), l)
		}
	}
	p.X.Tick.Marker = integerTicks{}
	p.Legend.Padding = vg.Points(2)
	wt, err := p.WriterTo(6*vg.Inch, 3.5*vg.Inch, format)
	if err != nil {
		return err
	}
	_, err = wt.WriteTo(w)
	return err
}

// integerTicks puts labelled ticks at whole steps: multiples of 1, 2 or
// 5 times a power of ten, about six of them.
type integerTicks struct{}

func (integerTicks) Ticks(lo, hi float64) []plot.Tick {
	span := hi - lo
	step := 1.0
	for _, m := range []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6} {
		step = m
		if span/m <= 7 {
			break
		}
	}
	var ts []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi; v += step {
		ts = append(ts, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', 0, 64)})
	}
	return ts
}
