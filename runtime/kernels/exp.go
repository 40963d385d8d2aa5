package kernels

import "math"

// exp32 returns eˣ in float32 with a relative error below 3e-7 (2.5 ulp) over the
// range softmax uses (x ≤ 0), faster than math.Exp: x = k·ln2 + r with
// |r| ≤ ln2/2, eʳ by a degree-6 Taylor polynomial (its truncation error is
// under 2e-8 there), and 2ᵏ built in the exponent bits. It returns 0 below
// −87 (where float32 underflows to subnormals) and +Inf above 88.7.
func exp32(x float32) float32 {
	switch {
	case x < -87:
		return 0
	case x > 88.7:
		return float32(math.Inf(1))
	case x != x:
		return x
	}
	const (
		log2e = 1.4426950408889634
		ln2hi = 0.693145751953125 // ln2 split so k·ln2hi is exact
		ln2lo = 1.4286068203094173e-06
	)
	// Adding and subtracting 1.5·2²³ rounds to the nearest integer in
	// float32 arithmetic, which Go does not reassociate.
	const round = 12582912
	k := (x*log2e + round) - round
	r := x - k*ln2hi - k*ln2lo
	p := 1 + r*(1+r*(0.5+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720))))))
	return p * math.Float32frombits(uint32(int32(k)+127)<<23)
}

// ExpShifted sets p[i] = float32(math.Exp(float64(p[i] - mx))) for every i,
// with the difference taken in float32: a softmax's exponentials. The
// results are bit for bit those of that expression (llama2.c-exact
// sampling depends on it); on AVX2+FMA machines four are computed at a
// time by an assembly copy of math.Exp's own arithmetic.
func ExpShifted(p []float32, mx float32) {
	n4 := 0
	if useAsm {
		n4 = len(p) &^ 3
		if n4 > 0 {
			expShiftedAVX2(&p[0], mx, n4)
		}
	}
	for i := n4; i < len(p); i++ {
		p[i] = float32(math.Exp(float64(p[i] - mx)))
	}
}

// ExpScale sets dst[i] = scale·e^(x[i]−shift) (dst and x the same length)
// and returns Σ e^(x[i]−shift), with exp32's accuracy (2.5 ulp for
// arguments ≤ 0, softmax's range), eight at a time on AVX2. A NaN in x
// gives NaN in dst and in the sum.
func ExpScale(dst, x []float32, shift, scale float32) float32 {
	n := len(x)
	_ = dst[:n]
	var s float32
	n8 := 0
	if useAsm {
		n8 = n &^ 7
		if n8 > 0 {
			s = expScaleAVX2(&dst[0], &x[0], n8, shift, scale)
		}
	}
	for i := n8; i < n; i++ {
		e := exp32(x[i] - shift)
		s += e
		dst[i] = scale * e
	}
	return s
}

// Exp32Shift sets dst[i] = exp32(x[i]−shift) (dst and x the same length;
// dst may be x), bit for bit the scalar exp32: the same float32
// operations in the same order, sixteen at a time on AVX-512 machines.
// Softmax's exponentials go through it, so vectorising them changes no
// result.
func Exp32Shift(dst, x []float32, shift float32) {
	n := len(x)
	_ = dst[:n]
	n16 := 0
	if useAVX512 {
		n16 = n &^ 15
		if n16 > 0 {
			exp32ShiftAVX512(&dst[0], &x[0], n16, shift)
		}
	}
	for i := n16; i < n; i++ {
		dst[i] = exp32(x[i] - shift)
	}
}
