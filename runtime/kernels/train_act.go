package kernels

import "math"

// Scale multiplies every element of x by s, sixteen at a time with
// AVX-512: each product is rounded once, as x[i] *= s rounds it.
func Scale(x []float32, s float32) {
	n16 := 0
	if (Exec{}).avx512() {
		n16 = len(x) &^ 15
		if n16 > 0 {
			trainScaleAVX512(&x[0], n16, s)
		}
	}
	for i := n16; i < len(x); i++ {
		x[i] *= s
	}
}

// Sigmoid sets dst[i] = σ(x[i]) as Gorgonia's float32 Sigmoid computes it
// (0 below −88, 1 above 15, else float32(1/(1+math.Exp(float64(−x))))),
// bit for bit: the training graph's sigmoid, eight float64 lanes at a time
// on AVX-512 machines. dst may be x; both have the same length.
func Sigmoid(dst, x []float32) {
	n := len(x)
	_ = dst[:n]
	n8 := 0
	if useAVX512 {
		n8 = n &^ 7
		if n8 > 0 {
			trainSigmoidAVX512(&dst[0], &x[0], n8)
		}
	}
	for i := n8; i < n; i++ {
		dst[i] = sigmoid1(x[i])
	}
}

// sigmoid1 is Sigmoid of one element.
func sigmoid1(x float32) float32 {
	switch {
	case x < -88:
		return 0
	case x > 15:
		return 1
	}
	return float32(1 / (1 + math.Exp(float64(-x))))
}

// SigmoidGrad sets dst[i] = (y[i]·σ(−x[i]))·g[i], σ as Sigmoid computes
// it: the sigmoid's input gradient for y = σ(x) and the output's gradient
// g, in the operations and order of the nodes Gorgonia's Sigmoid adds
// (it rewrites 1−σ(x) as σ(−x)), bit for bit, eight at a time on AVX-512
// machines. dst may be any of the inputs; all have the same length.
func SigmoidGrad(dst, x, y, g []float32) {
	n := len(x)
	_, _, _ = dst[:n], y[:n], g[:n]
	n8 := 0
	if useAVX512 {
		n8 = n &^ 7
		if n8 > 0 {
			trainSigmoidGradAVX512(&dst[0], &x[0], &y[0], &g[0], n8)
		}
	}
	for i := n8; i < n; i++ {
		dst[i] = y[i] * sigmoid1(-x[i]) * g[i]
	}
}

// axpyRows adds c[r·cs]·x[r·xs : r·xs+len(y)] to y for r < rows, in that
// order: bit for bit the rows calls Axpy(y, c[r·cs], x[r·xs:]) would
// make, with y kept in registers between rows.
func axpyRows(y, c []float32, cs int, x []float32, xs, rows int) {
	if rows <= 0 {
		return
	}
	d := len(y)
	_, _ = c[(rows-1)*cs], x[(rows-1)*xs+d-1]
	n8 := 0
	if useAsm && d >= 8 {
		n8 = d &^ 7
		axpyRowsAVX2(&y[0], &c[0], cs, &x[0], xs, rows, n8)
	}
	if n8 == d {
		return
	}
	for r := range rows {
		axpyGeneric(y[n8:], c[r*cs], x[r*xs+n8:r*xs+d])
	}
}

// TrainSplit calls fn on disjoint ranges [lo, hi) covering [0, n), each
// starting at a multiple of align, on e's threads (its Pool's workers when
// it has one) as the training products share theirs; cost is the work of
// one element in multiply-adds of a product, which decides whether the
// work is worth splitting. The training graph's element-wise and per-row
// ops run on it: each element's arithmetic is the same whatever the
// ranges, so their results do not depend on the number of threads.
func (e Exec) TrainSplit(n, align, cost int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	e.parallelRows(n, max(align, 1), cost, fn)
}

// trainElemCost is TrainSplit's cost of one element of a float32
// element-wise op: a scalar loop handles about one element per cycle,
// where a product's kernel retires some sixteen multiply-adds.
const trainElemCost = 16

// TrainMul sets dst[i] = a[i]·b[i] (each product rounded once, as
// Gorgonia's HadamardProd rounds it) over e's threads. dst may be a or b.
func (e Exec) TrainMul(dst, a, b []float32) {
	n := len(dst)
	_, _ = a[:n], b[:n]
	e.TrainSplit(n, 64, trainElemCost, func(lo, hi int) {
		d, x, y := dst[lo:hi], a[lo:hi], b[lo:hi]
		for i := range d {
			d[i] = x[i] * y[i]
		}
	})
}

// TrainAdd sets dst[i] = a[i] + b[i] over e's threads, each sum rounded
// once. dst may be a or b.
func (e Exec) TrainAdd(dst, a, b []float32) {
	n := len(dst)
	_, _ = a[:n], b[:n]
	e.TrainSplit(n, 64, trainElemCost, func(lo, hi int) {
		d, x, y := dst[lo:hi], a[lo:hi], b[lo:hi]
		for i := range d {
			d[i] = x[i] + y[i]
		}
	})
}

// TrainAxpy adds x to y over e's threads: y[i] += x[i], each sum rounded
// once, as Axpy(y, 1, x) rounds it.
func (e Exec) TrainAxpy(y, x []float32) {
	n := len(y)
	_ = x[:n]
	e.TrainSplit(n, 64, trainElemCost/4, func(lo, hi int) { Axpy(y[lo:hi], 1, x[lo:hi]) })
}

// TrainSigmoid is Sigmoid over e's threads.
func (e Exec) TrainSigmoid(dst, x []float32) {
	n := len(x)
	_ = dst[:n]
	e.TrainSplit(n, 64, trainElemCost, func(lo, hi int) { Sigmoid(dst[lo:hi], x[lo:hi]) })
}

// TrainSigmoidGrad is SigmoidGrad over e's threads.
func (e Exec) TrainSigmoidGrad(dst, x, y, g []float32) {
	n := len(x)
	_, _, _ = dst[:n], y[:n], g[:n]
	e.TrainSplit(n, 64, trainElemCost, func(lo, hi int) { SigmoidGrad(dst[lo:hi], x[lo:hi], y[lo:hi], g[lo:hi]) })
}
