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

// The chart's size in pixels (SVG user units), and the glyph cell of
// the PNG's font (golang.org/x/image/font/basicfont.Face7x13), by which
// text is measured in both formats.
const (
	chartW, chartH = 600, 350
	glyphW         = 7
)

var (
	gridColor  = color.RGBA{221, 221, 221, 255}
	inkColor   = color.RGBA{0, 0, 0, 255}
	whiteColor = color.RGBA{255, 255, 255, 255}
)

// Plot draws the series as lines on one chart (steps across, values up,
// a legend of the series' labels) and writes it in format ("png" or
// "svg"). Values that are not finite are left out of their line.
//
// The chart is drawn here rather than by a plotting library: gonum's
// plot package parses its twelve embedded fonts when the program starts,
// which every whisperc process paid for (3.7 MiB of resident memory in
// a 15M generation, 8 MB of executable).
func Plot(w io.Writer, format, title string, series []Series) error {
	if format != "png" && format != "svg" {
		return fmt.Errorf("plot format %q: use .png or .svg", format)
	}
	if len(series) == 0 {
		return fmt.Errorf("nothing to plot")
	}
	c, err := newChart(title, series)
	if err != nil {
		return err
	}
	if format == "svg" {
		cv := &svgCanvas{}
		c.draw(cv)
		return cv.write(w)
	}
	cv := newPNGCanvas()
	c.draw(cv)
	return cv.write(w)
}

// tick is a labelled position on an axis.
type tick struct {
	v     float64
	label string
}

// chart is a laid-out line chart: the data's ranges, the ticks and the
// plot area's edges in pixels.
type chart struct {
	title                    string
	series                   []Series
	x0, x1, y0, y1           float64
	xt, yt                   []tick
	left, right, top, bottom float64
}

// newChart lays out the series: their finite points' ranges (a single
// value widened to a span), integer steps across and round values up.
func newChart(title string, series []Series) (*chart, error) {
	c := &chart{title: title, series: series, x0: math.Inf(1), x1: math.Inf(-1), y0: math.Inf(1), y1: math.Inf(-1)}
	for _, s := range series {
		for i, v := range s.Value {
			if i >= len(s.Steps) || math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			x := float64(s.Steps[i])
			c.x0, c.x1 = min(c.x0, x), max(c.x1, x)
			c.y0, c.y1 = min(c.y0, v), max(c.y1, v)
		}
	}
	if c.x0 > c.x1 {
		return nil, fmt.Errorf("nothing to plot: no finite values")
	}
	if c.x0 == c.x1 {
		c.x0, c.x1 = c.x0-1, c.x1+1
	}
	if c.y0 == c.y1 {
		d := max(math.Abs(c.y0)/10, 1)
		c.y0, c.y1 = c.y0-d, c.y1+d
	}
	pad := (c.y1 - c.y0) / 20
	c.y0, c.y1 = c.y0-pad, c.y1+pad
	c.xt = integerTicks(c.x0, c.x1)
	c.yt = niceTicks(c.y0, c.y1)
	widest := 0
	for _, t := range c.yt {
		widest = max(widest, len(t.label))
	}
	c.left, c.right = float64(16+glyphW*widest), chartW-16
	c.top, c.bottom = 36, chartH-40
	return c, nil
}

// px and py map a step and a value to pixels.
func (c *chart) px(x float64) float64 {
	return c.left + (x-c.x0)/(c.x1-c.x0)*(c.right-c.left)
}

func (c *chart) py(y float64) float64 {
	return c.bottom - (y-c.y0)/(c.y1-c.y0)*(c.bottom-c.top)
}

// canvas is what a chart draws on: an SVG document or a PNG image.
type canvas interface {
	// polyline strokes the points; dashed lines are drawn 5 pixels on, 3
	// off.
	polyline(pts [][2]float64, c color.RGBA, width float64, dashed bool)
	circle(x, y, r float64, c color.RGBA)
	// rect fills the rectangle and outlines it in stroke (none when its
	// alpha is 0).
	rect(x0, y0, x1, y1 float64, fill, stroke color.RGBA)
	// text writes s with its baseline at y, starting at x (anchor 0),
	// centred on it (1) or ending at it (2).
	text(x, y float64, s string, anchor int, c color.RGBA)
}

// draw draws the chart on cv: grid, axes and their ticks, the lines (and
// markers on sparse series, which an evaluation every few hundred steps
// is), the title and the legend.
func (c *chart) draw(cv canvas) {
	cv.rect(0, 0, chartW, chartH, whiteColor, color.RGBA{})
	for _, t := range c.xt {
		x := c.px(t.v)
		cv.polyline([][2]float64{{x, c.top}, {x, c.bottom}}, gridColor, 1, false)
		cv.polyline([][2]float64{{x, c.bottom}, {x, c.bottom + 4}}, inkColor, 1, false)
		cv.text(x, c.bottom+17, t.label, 1, inkColor)
	}
	for _, t := range c.yt {
		y := c.py(t.v)
		cv.polyline([][2]float64{{c.left, y}, {c.right, y}}, gridColor, 1, false)
		cv.polyline([][2]float64{{c.left - 4, y}, {c.left, y}}, inkColor, 1, false)
		cv.text(c.left-7, y+4, t.label, 2, inkColor)
	}
	cv.polyline([][2]float64{{c.left, c.top}, {c.left, c.bottom}, {c.right, c.bottom}}, inkColor, 1, false)
	cv.text((c.left+c.right)/2, chartH-6, "step", 1, inkColor)
	cv.text(c.left, c.top-8, "value", 0, inkColor)
	cv.text(chartW/2, 18, c.title, 1, inkColor)
	for i, s := range c.series {
		col := plotColors[i%len(plotColors)]
		var line [][2]float64
		flush := func() {
			if len(line) > 1 {
				cv.polyline(line, col, 1.5, i >= len(plotColors))
			}
			line = line[:0]
		}
		for j, v := range s.Value {
			if j >= len(s.Steps) || math.IsNaN(v) || math.IsInf(v, 0) {
				flush()
				continue
			}
			line = append(line, [2]float64{c.px(float64(s.Steps[j])), c.py(v)})
			if len(s.Steps) <= 40 {
				cv.circle(line[len(line)-1][0], line[len(line)-1][1], 2.5, col)
			}
		}
		flush()
	}
	// The legend, in the plot area's top right corner.
	widest := 0
	for _, s := range c.series {
		widest = max(widest, len(s.Label()))
	}
	w := float64(34 + glyphW*widest)
	x0, y0 := c.right-w-6, c.top+6
	cv.rect(x0, y0, x0+w, y0+float64(16*len(c.series))+6, whiteColor, gridColor)
	for i, s := range c.series {
		col := plotColors[i%len(plotColors)]
		y := y0 + 12 + float64(16*i)
		cv.polyline([][2]float64{{x0 + 6, y - 4}, {x0 + 26, y - 4}}, col, 1.5, i >= len(plotColors))
		cv.text(x0+30, y, s.Label(), 0, inkColor)
	}
}

// integerTicks puts labelled ticks at whole steps: multiples of 1, 2 or
// 5 times a power of ten, about six of them.
func integerTicks(lo, hi float64) []tick {
	span := hi - lo
	step := 1.0
	for _, m := range []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6} {
		step = m
		if span/m <= 7 {
			break
		}
	}
	var ts []tick
	for v := math.Ceil(lo/step) * step; v <= hi; v += step {
		ts = append(ts, tick{v, strconv.FormatFloat(v, 'f', 0, 64)})
	}
	return ts
}

// niceTicks puts labelled ticks at multiples of 1, 2 or 5 times a power
// of ten, about five of them, between lo and hi.
func niceTicks(lo, hi float64) []tick {
	raw := (hi - lo) / 5
	step := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*step >= raw {
			step *= m
			break
		}
	}
	var ts []tick
	for k := math.Ceil(lo / step); k*step <= hi; k++ {
		v := k * step
		if math.Abs(v) < step/1e6 {
			v = 0
		}
		ts = append(ts, tick{v, strconv.FormatFloat(v, 'g', 4, 64)})
	}
	return ts
}
