package track

import (
	"bytes"
	"encoding/xml"
	"image"
	"image/png"
	"io"
	"math"
	"strings"
	"testing"
)

// TestPlot draws two series, one with a value that is not finite and one
// sparse enough for markers, in both formats, and checks what a reader of
// each gets: an SVG that parses as XML with one line per series piece,
// the title escaped, and a PNG of the chart's size in which each series'
// colour is drawn.
func TestPlot(t *testing.T) {
	series := []Series{
		{Run: "r1", Stage: "train.sft", Name: "loss", Steps: []int64{0, 1, 2, 3, 4, 5, 6}, Value: []float64{3, 2.5, math.NaN(), 1.8, 1.5, 1.4, 1.3}},
		{Run: "r2", Stage: "train.sft", Name: "eval_loss", Steps: []int64{0, 3, 6}, Value: []float64{3.1, 2.0, 1.6}},
	}
	var svg bytes.Buffer
	if err := Plot(&svg, "svg", "loss <of> r1 & r2", series); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(svg.Bytes()))
	lines, circles, title := 0, 0, false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG does not parse: %v\n%s", err, svg.String())
		}
		switch e := tok.(type) {
		case xml.StartElement:
			switch e.Name.Local {
			case "polyline":
				for _, a := range e.Attr {
					if a.Name.Local == "stroke" && (a.Value == "#0072b2" || a.Value == "#d55e00") {
						lines++
					}
				}
			case "circle":
				circles++
			}
		case xml.CharData:
			title = title || string(e) == "loss <of> r1 & r2"
		}
	}
	// r1 breaks at its NaN (two pieces), r2 is one line; each also has a
	// legend sample.
	if lines != 5 || circles != 9 || !title {
		t.Errorf("SVG: %d series lines (want 5), %d markers (want 9), title found %v", lines, circles, title)
	}
	var pngData bytes.Buffer
	if err := Plot(&pngData, "png", "loss", series); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&pngData)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b != image.Rect(0, 0, chartW, chartH) {
		t.Errorf("PNG bounds %v", b)
	}
	for i := range series {
		want := plotColors[i]
		n := 0
		for y := 0; y < chartH; y++ {
			for x := 0; x < chartW; x++ {
				r, g, b, _ := img.At(x, y).RGBA()
				if uint8(r>>8) == want.R && uint8(g>>8) == want.G && uint8(b>>8) == want.B {
					n++
				}
			}
		}
		if n < 100 {
			t.Errorf("series %d: %d pixels of its colour %v", i, n, want)
		}
	}
	for _, c := range []struct {
		format string
		series []Series
		want   string
	}{
		{"pdf", series, "use .png or .svg"},
		{"png", nil, "nothing to plot"},
		{"svg", []Series{{Steps: []int64{1}, Value: []float64{math.Inf(1)}}}, "no finite values"},
	} {
		if err := Plot(io.Discard, c.format, "t", c.series); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.format, err, c.want)
		}
	}
	// One point and one value: a span is made around them.
	if err := Plot(io.Discard, "png", "t", []Series{{Steps: []int64{5}, Value: []float64{2}}}); err != nil {
		t.Errorf("one point: %v", err)
	}
}
