package track

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"sort"
	"strconv"
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
// ("png" or "svg"): a title, a grid at the ticks, whole-step ticks on the
// x axis, about five round values on the y axis, one colour per series
// (dashed after the eighth), markers on sparse series, and a legend.
//
// whisperc draws the chart itself (chart.go) rather than with gonum/plot,
// whose embedded Liberation fonts and drawing back ends were 6.8 MB of
// every whisperc process's resident memory, plotting or not: an
// executable's mapped segments are resident as a whole on this project's
// Linux (large folios), so a run of stories260K peaked at 49.5 MiB
// instead of 43.4 MiB.
func Plot(w io.Writer, format, title string, series []Series) error {
	if format != "png" && format != "svg" {
		return fmt.Errorf("plot format %q: use .png or .svg", format)
	}
	if len(series) == 0 {
		return fmt.Errorf("nothing to plot")
	}
	c := newChart(title, series)
	if format == "svg" {
		return c.svg(w)
	}
	return c.png(w)
}

// tick is a labelled position on an axis.
type tick struct {
	Value float64
	Label string
}

// integerTicks puts labelled ticks at whole steps: multiples of 1, 2 or
// 5 times a power of ten, about six of them.
func integerTicks(lo, hi float64) []tick {
	span := hi - lo
	step := 1.0
	for _, m := range []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7} {
		step = m
		if span/m <= 7 {
			break
		}
	}
	var ts []tick
	for v := math.Ceil(lo/step) * step; v <= hi; v += step {
		ts = append(ts, tick{Value: v, Label: strconv.FormatFloat(v, 'f', 0, 64)})
	}
	return ts
}

// valueTicks puts about five ticks at multiples of 1, 2 or 5 times a power
// of ten within [lo, hi], labelled with as few digits as tell them apart.
func valueTicks(lo, hi float64) []tick {
	span := hi - lo
	if !(span > 0) {
		return []tick{{Value: lo, Label: strconv.FormatFloat(lo, 'g', 4, 64)}}
	}
	raw := span / 5
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	step := p
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			step = m * p
			break
		}
	}
	digits := max(0, -int(math.Floor(math.Log10(step))))
	var ts []tick
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
		if math.Abs(v) < step*1e-9 {
			v = 0
		}
		ts = append(ts, tick{Value: v, Label: strconv.FormatFloat(v, 'f', digits, 64)})
	}
	return ts
}
