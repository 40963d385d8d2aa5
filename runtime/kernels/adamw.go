package kernels

import "math"

// AdamWScalars are the per-step constants of one AdamW update, in float32
// as the update uses them.
type AdamWScalars struct {
	Decay   float32 // 1 − lr·weight_decay (1 without weight decay)
	Beta1   float32
	Beta2   float32
	BC2Sqrt float32 // √(1 − β2ᵗ)
	Eps     float32
	Step    float32 // lr / (1 − β1ᵗ)
}

// AdamW applies one AdamW update to the parameters p from their gradients
// g, with first and second moments m and v (all the same length), as
// torch.optim.AdamW (foreach=False) does in float32:
// p ← p·decay; m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g·g;
// p ← p − step·m/(√v/bc2Sqrt + eps). The AVX2 path computes each element
// with the same float32 operations in the same order (no fused
// multiply-add), so it gives the same bits as the Go loop.
func AdamW(p, g, m, v []float32, s *AdamWScalars) {
	n := len(p)
	_, _, _ = g[:n], m[:n], v[:n]
	k := [8]float32{s.Decay, s.Beta1, 1 - s.Beta1, s.Beta2, 1 - s.Beta2, s.BC2Sqrt, s.Eps, -s.Step}
	n8 := 0
	if useAsm {
		n8 = n &^ 7
		if n8 > 0 {
			adamwAVX2(&p[0], &g[0], &m[0], &v[0], n8, &k)
		}
	}
	adamwGeneric(p[n8:n], g[n8:n], m[n8:n], v[n8:n], &k)
}

// adamwGeneric is AdamW in Go; k holds decay, β1, 1−β1, β2, 1−β2, bc2Sqrt,
// eps and −step.
func adamwGeneric(p, g, m, v []float32, k *[8]float32) {
	for j, gj := range g {
		pj := p[j] * k[0]
		mj := m[j]*k[1] + gj*k[2]
		vj := v[j]*k[3] + k[4]*gj*gj
		m[j], v[j] = mj, vj
		denom := float32(math.Sqrt(float64(vj)))/k[5] + k[6]
		p[j] = pj + k[7]*(mj/denom)
	}
}

// SumSquares returns Σ x[i]² in float32, in 32 interleaved partial sums
// on AVX2 (an order fixed by len(x) alone, so the same input always gives
// the same bits).
func SumSquares(x []float32) float32 {
	var s float32
	n32 := 0
	if useAsm {
		n32 = len(x) &^ 31
		if n32 > 0 {
			s = sumSquaresAVX2(&x[0], n32)
		}
	}
	for _, v := range x[n32:] {
		s += v * v
	}
	return s
}
