package kernels

import "math"

// SwiGLU sets dst[i] = silu(g[i])·u[i], the gated feed-forward's
// activation, as llama2.c computes it in float32: g·(1/(1+e⁻ᵍ))·u with
// e⁻ᵍ = float32(math.Exp(float64(−g))). The results are bit for bit those
// of that scalar expression (the fp32 goldens depend on it); on AVX-512
// machines eight are computed at a time by an assembly copy of math.Exp's
// arithmetic, two such blocks interleaved. dst may be g or u; all three have the same length.
func SwiGLU(dst, g, u []float32) {
	n := len(g)
	_, _ = dst[:n], u[:n]
	n8 := 0
	if useAVX512 {
		n8 = n &^ 7
		if n8 > 0 {
			swigluAVX512(&dst[0], &g[0], &u[0], n8)
		}
	}
	for i := n8; i < n; i++ {
		dst[i] = swiglu1(g[i], u[i])
	}
}

// swiglu1 is SwiGLU of one element.
func swiglu1(g, u float32) float32 {
	g *= 1 / (1 + float32(math.Exp(float64(-g))))
	return g * u
}
