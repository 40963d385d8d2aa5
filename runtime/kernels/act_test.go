package kernels

import (
	"math"
	"testing"
)

// TestSwiGLUIsScalar checks SwiGLU bit for bit against the scalar
// expression over a sweep of float32 bit patterns (both signs, infinities,
// NaNs, subnormals), a dense sweep of the range where the exponential is
// neither 0 nor +Inf, the clamps' edges, and lengths that leave a tail.
func TestSwiGLUIsScalar(t *testing.T) {
	var gs []float32
	for b := uint64(0); b < 1<<32; b += 4099 {
		gs = append(gs, math.Float32frombits(uint32(b)))
	}
	for b := uint32(0x80000000); b <= math.Float32bits(-110); b += 997 {
		gs = append(gs, math.Float32frombits(b))
	}
	for b := uint32(0); b <= math.Float32bits(110); b += 997 {
		gs = append(gs, math.Float32frombits(b))
	}
	for _, v := range []float32{105, 104, 103.97, 103.28, 87.33, -88.72, -88.73, -88.8, -89, -1e-45, 1e-45, 0} {
		gs = append(gs, v, math.Nextafter32(v, -200), math.Nextafter32(v, 200))
	}
	gs = append(gs, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()))
	us := randVec(5, len(gs), 2)
	us[0], us[1] = float32(math.Inf(1)), 0
	for _, n := range []int{len(gs), len(gs) - 3, len(gs) - 9, 7, 9, 1, 16, 17, 24, 33} {
		g, u := gs[len(gs)-n:], us[:n]
		got := make([]float32, n)
		SwiGLU(got, g, u)
		for i := range n {
			want := swiglu1(g[i], u[i])
			if math.Float32bits(got[i]) != math.Float32bits(want) && !(got[i] != got[i] && want != want) {
				t.Fatalf("n=%d: SwiGLU(%g, %g) = %g (%#x), scalar %g (%#x)", n, g[i], u[i], got[i], math.Float32bits(got[i]), want, math.Float32bits(want))
			}
		}
	}
	// In place, into g.
	g := randVec(9, 100, 4)
	u := randVec(10, 100, 1)
	want := make([]float32, len(g))
	for i := range g {
		want[i] = swiglu1(g[i], u[i])
	}
	SwiGLU(g, g, u)
	for i := range g {
		if g[i] != want[i] {
			t.Fatalf("in place: element %d is %g, want %g", i, g[i], want[i])
		}
	}
}

// BenchmarkSwiGLU times the activation over a 128-row block of the 42M
// shape's hidden width, against the scalar loop it replaces.
func BenchmarkSwiGLU(b *testing.B) {
	g := randVec(1, 128*1376, 2)
	u := randVec(2, 128*1376, 1)
	dst := make([]float32, len(g))
	b.Run("scalar", func(b *testing.B) {
		for b.Loop() {
			for i := range g {
				dst[i] = swiglu1(g[i], u[i])
			}
		}
	})
	b.Run("kernel", func(b *testing.B) {
		for b.Loop() {
			SwiGLU(dst, g, u)
		}
	})
}
