package track

import (
	"bufio"
	"fmt"
	"html"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"strings"
	"unicode/utf8"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
	"golang.org/x/image/vector"
)

// chart is the layout of a line chart of series, in pixels: the plot
// area runs from left to right and from top to bottom, and maps the data
// range [xlo, xhi] × [ylo, yhi].
type chart struct {
	title                    string
	series                   []Series
	xlo, xhi, ylo, yhi       float64
	xt, yt                   []tick
	w, h                     float64
	left, right, top, bottom float64
}

// newChart lays out the series: the data's range (a flat series is given
// some height, and the values 5% room above and below), the ticks, and a
// left margin that fits the y ticks' labels.
func newChart(title string, series []Series) *chart {
	c := &chart{title: title, series: series, w: 900, h: 525}
	some := false
	for _, s := range series {
		for j := range s.Steps {
			x, y := float64(s.Steps[j]), s.Value[j]
			if math.IsNaN(y) || math.IsInf(y, 0) {
				continue
			}
			if !some {
				c.xlo, c.xhi, c.ylo, c.yhi, some = x, x, y, y, true
				continue
			}
			c.xlo, c.xhi = min(c.xlo, x), max(c.xhi, x)
			c.ylo, c.yhi = min(c.ylo, y), max(c.yhi, y)
		}
	}
	if !some {
		c.xlo, c.xhi, c.ylo, c.yhi = 0, 1, 0, 1
	}
	if c.xhi == c.xlo {
		c.xlo, c.xhi = c.xlo-1, c.xhi+1
	}
	if c.yhi == c.ylo {
		d := max(math.Abs(c.ylo)*0.05, 0.5)
		c.ylo, c.yhi = c.ylo-d, c.yhi+d
	}
	pad := (c.yhi - c.ylo) * 0.05
	c.ylo, c.yhi = c.ylo-pad, c.yhi+pad
	c.xt, c.yt = integerTicks(c.xlo, c.xhi), valueTicks(c.ylo, c.yhi)
	label := 0
	for _, t := range c.yt {
		label = max(label, len(t.Label))
	}
	c.left = 20 + 7.5*float64(label)
	c.right, c.top, c.bottom = c.w-20, 44, c.h-46
	return c
}

func (c *chart) px(x float64) float64 {
	return c.left + (x-c.xlo)/(c.xhi-c.xlo)*(c.right-c.left)
}

func (c *chart) py(y float64) float64 {
	return c.bottom - (y-c.ylo)/(c.yhi-c.ylo)*(c.bottom-c.top)
}

// canvas is what a chart draws on: a PNG image or an SVG document.
type canvas interface {
	// line strokes the polyline pts.
	line(pts [][2]float64, col color.RGBA, width float64, dashed bool)
	circle(x, y, r float64, col color.RGBA)
	// rect fills (unless fill is transparent) and outlines a rectangle.
	rect(x0, y0, x1, y1 float64, fill, stroke color.RGBA)
	// text writes s with its baseline at y, starting at x (anchor -1),
	// centred on it (0) or ending at it (1).
	text(x, y float64, s string, size float64, anchor int)
	// measure returns the width of s at size.
	measure(s string, size float64) float64
}

var (
	black = color.RGBA{0, 0, 0, 255}
	white = color.RGBA{255, 255, 255, 255}
	grid  = color.RGBA{225, 225, 225, 255}
	none  = color.RGBA{}
)

// draw draws the chart on cv.
func (c *chart) draw(cv canvas) {
	for _, t := range c.xt {
		x := c.px(t.Value)
		cv.line([][2]float64{{x, c.top}, {x, c.bottom}}, grid, 1, false)
		cv.text(x, c.bottom+18, t.Label, 12, 0)
	}
	for _, t := range c.yt {
		y := c.py(t.Value)
		cv.line([][2]float64{{c.left, y}, {c.right, y}}, grid, 1, false)
		cv.text(c.left-6, y+4, t.Label, 12, 1)
	}
	cv.rect(c.left, c.top, c.right, c.bottom, none, black)
	cv.text(c.w/2, 26, c.title, 15, 0)
	cv.text((c.left+c.right)/2, c.h-10, "step", 12, 0)
	cv.text(c.left, c.top-8, "value", 12, -1)
	for i, s := range c.series {
		col := plotColors[i%len(plotColors)]
		var run [][2]float64
		flush := func() {
			if len(run) > 0 {
				cv.line(run, col, 2, i >= len(plotColors))
			}
			run = nil
		}
		for j := range s.Steps {
			y := s.Value[j]
			if math.IsNaN(y) || math.IsInf(y, 0) {
				flush() // a gap where the value was not finite
				continue
			}
			p := [2]float64{c.px(float64(s.Steps[j])), c.py(y)}
			run = append(run, p)
			// Markers only where they do not clutter: sparse series such
			// as an evaluation every few hundred steps.
			if len(s.Steps) <= 40 {
				cv.circle(p[0], p[1], 3.5, col)
			}
		}
		flush()
	}
	// The legend, in the plot area's top right corner.
	lw := 0.0
	for _, s := range c.series {
		lw = max(lw, cv.measure(s.Label(), 12))
	}
	lw += 46
	x0, y0 := c.right-lw-8, c.top+8
	cv.rect(x0, y0, x0+lw, y0+18*float64(len(c.series))+8, white, grid)
	for i, s := range c.series {
		col := plotColors[i%len(plotColors)]
		y := y0 + 13 + 18*float64(i)
		cv.line([][2]float64{{x0 + 6, y}, {x0 + 32, y}}, col, 2, i >= len(plotColors))
		if len(s.Steps) <= 40 {
			cv.circle(x0+19, y, 3.5, col)
		}
		cv.text(x0+38, y+4, s.Label(), 12, -1)
	}
}

// png draws the chart as a PNG image, its text in the Go font.
func (c *chart) png(w io.Writer) error {
	f, err := opentype.Parse(goregular.TTF)
	if err != nil {
		return err
	}
	img := image.NewRGBA(image.Rect(0, 0, int(c.w), int(c.h)))
	draw.Draw(img, img.Bounds(), image.NewUniform(white), image.Point{}, draw.Src)
	cv := &pngCanvas{img: img, font: f, faces: map[float64]font.Face{}, r: vector.NewRasterizer(int(c.w), int(c.h))}
	c.draw(cv)
	if cv.err != nil {
		return cv.err
	}
	return png.Encode(w, img)
}

// pngCanvas draws with golang.org/x/image's anti-aliasing rasterizer.
type pngCanvas struct {
	img   *image.RGBA
	font  *opentype.Font
	faces map[float64]font.Face
	r     *vector.Rasterizer
	err   error
}

func (p *pngCanvas) face(size float64) font.Face {
	if f, ok := p.faces[size]; ok {
		return f
	}
	f, err := opentype.NewFace(p.font, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		p.err = err
		return nil
	}
	p.faces[size] = f
	return f
}

// fill draws what the rasterizer holds in col and resets it.
func (p *pngCanvas) fill(col color.RGBA) {
	p.r.Draw(p.img, p.img.Bounds(), image.NewUniform(col), image.Point{})
	p.r.Reset(p.img.Bounds().Dx(), p.img.Bounds().Dy())
}

// quad adds the rectangle of width w around the segment a-b, always wound
// the same way, so that overlapping segments add up instead of cancelling.
func (p *pngCanvas) quad(a, b [2]float64, w float64) {
	dx, dy := b[0]-a[0], b[1]-a[1]
	n := math.Hypot(dx, dy)
	if n == 0 {
		return
	}
	nx, ny := -dy/n*w/2, dx/n*w/2
	p.r.MoveTo(float32(a[0]+nx), float32(a[1]+ny))
	p.r.LineTo(float32(b[0]+nx), float32(b[1]+ny))
	p.r.LineTo(float32(b[0]-nx), float32(b[1]-ny))
	p.r.LineTo(float32(a[0]-nx), float32(a[1]-ny))
	p.r.ClosePath()
}

func (p *pngCanvas) line(pts [][2]float64, col color.RGBA, width float64, dashed bool) {
	const on, off = 8.0, 4.0
	at := 0.0 // distance along the dash pattern
	for i := 1; i < len(pts); i++ {
		a, b := pts[i-1], pts[i]
		if !dashed {
			p.quad(a, b, width)
			continue
		}
		l := math.Hypot(b[0]-a[0], b[1]-a[1])
		for s := 0.0; s < l; {
			phase := math.Mod(at, on+off)
			step := min(l-s, on+off-phase)
			if phase < on {
				step = min(l-s, on-phase)
				t0, t1 := s/l, (s+step)/l
				p.quad([2]float64{a[0] + t0*(b[0]-a[0]), a[1] + t0*(b[1]-a[1])}, [2]float64{a[0] + t1*(b[0]-a[0]), a[1] + t1*(b[1]-a[1])}, width)
			}
			s += step
			at += step
		}
	}
	if len(pts) == 1 {
		p.circle(pts[0][0], pts[0][1], width/2, col)
		return
	}
	p.fill(col)
}

func (p *pngCanvas) circle(x, y, r float64, col color.RGBA) {
	const n = 20
	p.r.MoveTo(float32(x+r), float32(y))
	for i := 1; i < n; i++ {
		a := 2 * math.Pi * float64(i) / n
		p.r.LineTo(float32(x+r*math.Cos(a)), float32(y+r*math.Sin(a)))
	}
	p.r.ClosePath()
	p.fill(col)
}

func (p *pngCanvas) rect(x0, y0, x1, y1 float64, fill, stroke color.RGBA) {
	if fill.A != 0 {
		draw.Draw(p.img, image.Rect(int(x0), int(y0), int(x1), int(y1)), image.NewUniform(fill), image.Point{}, draw.Src)
	}
	p.line([][2]float64{{x0, y0}, {x1, y0}}, stroke, 1, false)
	p.line([][2]float64{{x1, y0}, {x1, y1}}, stroke, 1, false)
	p.line([][2]float64{{x1, y1}, {x0, y1}}, stroke, 1, false)
	p.line([][2]float64{{x0, y1}, {x0, y0}}, stroke, 1, false)
}

func (p *pngCanvas) text(x, y float64, s string, size float64, anchor int) {
	f := p.face(size)
	if f == nil {
		return
	}
	w := p.measure(s, size)
	x -= float64(anchor+1) * w / 2
	d := font.Drawer{Dst: p.img, Src: image.NewUniform(black), Face: f, Dot: fixed.P(int(math.Round(x)), int(math.Round(y)))}
	d.DrawString(s)
}

func (p *pngCanvas) measure(s string, size float64) float64 {
	f := p.face(size)
	if f == nil {
		return 0
	}
	return float64(font.MeasureString(f, s)) / 64
}

// svg writes the chart as an SVG document.
func (c *chart) svg(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" font-family="Go, Helvetica, Arial, sans-serif">`+"\n", c.w, c.h, c.w, c.h)
	fmt.Fprintf(bw, `<rect width="%g" height="%g" fill="white"/>`+"\n", c.w, c.h)
	c.draw(&svgCanvas{w: bw})
	fmt.Fprintln(bw, "</svg>")
	return bw.Flush()
}

// svgCanvas writes SVG elements.
type svgCanvas struct{ w io.Writer }

func rgbHex(c color.RGBA) string { return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B) }

func (s *svgCanvas) line(pts [][2]float64, col color.RGBA, width float64, dashed bool) {
	var b strings.Builder
	for i, p := range pts {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%.2f,%.2f", p[0], p[1])
	}
	dash := ""
	if dashed {
		dash = ` stroke-dasharray="8 4"`
	}
	fmt.Fprintf(s.w, `<polyline points="%s" fill="none" stroke="%s" stroke-width="%g" stroke-linejoin="round"%s/>`+"\n", b.String(), rgbHex(col), width, dash)
}

func (s *svgCanvas) circle(x, y, r float64, col color.RGBA) {
	fmt.Fprintf(s.w, `<circle cx="%.2f" cy="%.2f" r="%g" fill="%s"/>`+"\n", x, y, r, rgbHex(col))
}

func (s *svgCanvas) rect(x0, y0, x1, y1 float64, fill, stroke color.RGBA) {
	f := "none"
	if fill.A != 0 {
		f = rgbHex(fill)
	}
	fmt.Fprintf(s.w, `<rect x="%.2f" y="%.2f" width="%.2f" height="%.2f" fill="%s" stroke="%s"/>`+"\n", x0, y0, x1-x0, y1-y0, f, rgbHex(stroke))
}

func (s *svgCanvas) text(x, y float64, t string, size float64, anchor int) {
	a := [...]string{"start", "middle", "end"}[anchor+1]
	fmt.Fprintf(s.w, `<text x="%.2f" y="%.2f" font-size="%g" text-anchor="%s">%s</text>`+"\n", x, y, size, a, html.EscapeString(t))
}

// measure estimates the width of t: about 0.55 em a character in a
// sans-serif font.
func (s *svgCanvas) measure(t string, size float64) float64 {
	return 0.55 * size * float64(utf8.RuneCountInString(t))
}
