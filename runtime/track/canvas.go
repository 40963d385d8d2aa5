package track

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
	"golang.org/x/image/vector"
)

// svgCanvas collects a chart as SVG elements.
type svgCanvas struct {
	b strings.Builder
}

func hexColor(c color.RGBA) string { return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B) }

func (s *svgCanvas) polyline(pts [][2]float64, c color.RGBA, width float64, dashed bool) {
	s.b.WriteString(`<polyline fill="none" points="`)
	for i, p := range pts {
		if i > 0 {
			s.b.WriteByte(' ')
		}
		fmt.Fprintf(&s.b, "%.1f,%.1f", p[0], p[1])
	}
	fmt.Fprintf(&s.b, `" stroke="%s" stroke-width="%g"`, hexColor(c), width)
	if dashed {
		s.b.WriteString(` stroke-dasharray="5 3"`)
	}
	s.b.WriteString("/>\n")
}

func (s *svgCanvas) circle(x, y, r float64, c color.RGBA) {
	fmt.Fprintf(&s.b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%g\" fill=\"%s\"/>\n", x, y, r, hexColor(c))
}

func (s *svgCanvas) rect(x0, y0, x1, y1 float64, fill, stroke color.RGBA) {
	fmt.Fprintf(&s.b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"`, x0, y0, x1-x0, y1-y0, hexColor(fill))
	if stroke.A != 0 {
		fmt.Fprintf(&s.b, ` stroke="%s"`, hexColor(stroke))
	}
	s.b.WriteString("/>\n")
}

func (s *svgCanvas) text(x, y float64, t string, anchor int, c color.RGBA) {
	fmt.Fprintf(&s.b, `<text x="%.1f" y="%.1f" text-anchor="%s" fill="%s">`, x, y, []string{"start", "middle", "end"}[anchor], hexColor(c))
	_ = xml.EscapeText(&s.b, []byte(t))
	s.b.WriteString("</text>\n")
}

// write writes the SVG document.
func (s *svgCanvas) write(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"monospace\" font-size=\"12\">\n",
		chartW, chartH, chartW, chartH)
	bw.WriteString(s.b.String())
	bw.WriteString("</svg>\n")
	return bw.Flush()
}

// pngCanvas draws a chart on an RGBA image: anti-aliased strokes and
// discs through golang.org/x/image/vector, text in basicfont's 7×13
// glyphs.
type pngCanvas struct {
	img *image.RGBA
	z   *vector.Rasterizer
}

func newPNGCanvas() *pngCanvas {
	return &pngCanvas{img: image.NewRGBA(image.Rect(0, 0, chartW, chartH)), z: vector.NewRasterizer(chartW, chartH)}
}

// fill paints what has been added to the rasterizer in c, and resets it.
func (p *pngCanvas) fill(c color.RGBA) {
	p.z.DrawOp = draw.Over
	p.z.Draw(p.img, p.img.Bounds(), image.NewUniform(c), image.Point{})
	p.z.Reset(chartW, chartH)
}

// segment adds a quadrilateral of the given width around a→b, wound the
// same way whatever the direction, so that overlapping pieces of one
// line do not cancel.
func (p *pngCanvas) segment(a, b [2]float64, width float64) {
	dx, dy := b[0]-a[0], b[1]-a[1]
	n := math.Hypot(dx, dy)
	if n == 0 {
		return
	}
	nx, ny := -dy/n*width/2, dx/n*width/2
	p.z.MoveTo(float32(a[0]+nx), float32(a[1]+ny))
	p.z.LineTo(float32(b[0]+nx), float32(b[1]+ny))
	p.z.LineTo(float32(b[0]-nx), float32(b[1]-ny))
	p.z.LineTo(float32(a[0]-nx), float32(a[1]-ny))
	p.z.ClosePath()
}

func (p *pngCanvas) polyline(pts [][2]float64, c color.RGBA, width float64, dashed bool) {
	const on, off = 5.0, 3.0
	pos := 0.0 // along the dash pattern
	for i := 1; i < len(pts); i++ {
		a, b := pts[i-1], pts[i]
		if !dashed {
			p.segment(a, b, width)
			continue
		}
		n := math.Hypot(b[0]-a[0], b[1]-a[1])
		for t := 0.0; t < n; {
			phase := math.Mod(pos, on+off)
			step := min(n-t, on-phase)
			if phase >= on {
				step = min(n-t, on+off-phase)
			}
			if phase < on {
				u, v := t/n, (t+step)/n
				p.segment([2]float64{a[0] + u*(b[0]-a[0]), a[1] + u*(b[1]-a[1])}, [2]float64{a[0] + v*(b[0]-a[0]), a[1] + v*(b[1]-a[1])}, width)
			}
			t += step
			pos += step
		}
	}
	p.fill(c)
}

func (p *pngCanvas) circle(x, y, r float64, c color.RGBA) {
	const sides = 16
	p.z.MoveTo(float32(x+r), float32(y))
	for i := 1; i < sides; i++ {
		a := 2 * math.Pi * float64(i) / sides
		p.z.LineTo(float32(x+r*math.Cos(a)), float32(y+r*math.Sin(a)))
	}
	p.z.ClosePath()
	p.fill(c)
}

func (p *pngCanvas) rect(x0, y0, x1, y1 float64, fill, stroke color.RGBA) {
	draw.Draw(p.img, image.Rect(int(x0), int(y0), int(x1), int(y1)), image.NewUniform(fill), image.Point{}, draw.Src)
	if stroke.A != 0 {
		p.polyline([][2]float64{{x0 + .5, y0 + .5}, {x1 - .5, y0 + .5}, {x1 - .5, y1 - .5}, {x0 + .5, y1 - .5}, {x0 + .5, y0 + .5}}, stroke, 1, false)
	}
}

func (p *pngCanvas) text(x, y float64, s string, anchor int, c color.RGBA) {
	x -= float64(anchor*glyphW*len(s)) / 2
	d := font.Drawer{Dst: p.img, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(int(math.Round(x)), int(math.Round(y)))}
	d.DrawString(s)
}

// write encodes the image as PNG.
func (p *pngCanvas) write(w io.Writer) error { return png.Encode(w, p.img) }
