package kernels

import (
	"math"
	"testing"
)

// TestAdamWAsmMatchesGo holds the AVX2 update to the Go loop bit for bit,
// with and without weight decay, on lengths with and without a tail.
func TestAdamWAsmMatchesGo(t *testing.T) {
	for _, n := range []int{1, 8, 13, 64, 1001} {
		for _, decay := range []float32{1, 0.999} {
			p, g := randVec(uint64(n), n, 1), randVec(uint64(n)+1, n, 0.01)
			m, v := randVec(uint64(n)+2, n, 0.01), randVec(uint64(n)+3, n, 0.001)
			for i := range v {
				v[i] = float32(math.Abs(float64(v[i])))
			}
			g[0] = 0
			s := AdamWScalars{Decay: decay, Beta1: 0.9, Beta2: 0.999, BC2Sqrt: float32(math.Sqrt(1 - 0.999*0.999)), Eps: 1e-8, Step: 3e-4 / (1 - 0.81)}
			k := [8]float32{s.Decay, s.Beta1, 1 - s.Beta1, s.Beta2, 1 - s.Beta2, s.BC2Sqrt, s.Eps, -s.Step}
			wp, wm, wv := append([]float32(nil), p...), append([]float32(nil), m...), append([]float32(nil), v...)
			adamwGeneric(wp, g, wm, wv, &k)
			AdamW(p, g, m, v, &s)
			for i := range p {
				if math.Float32bits(p[i]) != math.Float32bits(wp[i]) || math.Float32bits(m[i]) != math.Float32bits(wm[i]) || math.Float32bits(v[i]) != math.Float32bits(wv[i]) {
					t.Fatalf("n=%d decay=%g [%d]: p %g m %g v %g, want %g %g %g", n, decay, i, p[i], m[i], v[i], wp[i], wm[i], wv[i])
				}
			}
			if p[0] == wp[0] && n > 0 && p[0] == randVec(uint64(n), n, 1)[0] && decay == 1 {
				t.Fatalf("n=%d: the update did not move p[0]", n)
			}
		}
	}
}

// TestSumSquares checks the AVX2 sum of squares against float64 on lengths
// around its 32-float step, and that a NaN or Inf shows in the sum.
func TestSumSquares(t *testing.T) {
	for _, n := range []int{0, 1, 31, 32, 33, 100, 4097} {
		x := randVec(uint64(n)+7, n, 1)
		var want float64
		for _, v := range x {
			want += float64(v) * float64(v)
		}
		assertClose(t, "sumsq", []float32{SumSquares(x)}, []float64{want}, 1e-6, 1)
		if n > 0 {
			x[n/2] = float32(math.NaN())
			if s := SumSquares(x); !math.IsNaN(float64(s)) {
				t.Errorf("n=%d: NaN gives %g", n, s)
			}
			x[n/2] = float32(math.Inf(-1))
			if s := SumSquares(x); !math.IsInf(float64(s), 1) {
				t.Errorf("n=%d: -Inf gives %g", n, s)
			}
		}
	}
}
