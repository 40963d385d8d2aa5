//go:build amd64

package kernels

// trainScaleAVX512 multiplies the first n elements of x by s; n must be a
// positive multiple of 16.
//
//go:noescape
func trainScaleAVX512(x *float32, n int, s float32)

// trainSigmoidAVX512 sets dst[i] to Gorgonia's float32 sigmoid of x[i],
// bit for bit, for i < n, eight float64 lanes at a time; n must be a
// positive multiple of 8. Its exponential repeats math.Exp's FMA path,
// which useAVX512 implies (it implies useAsm).
//
//go:noescape
func trainSigmoidAVX512(dst, x *float32, n int)

// trainSigmoidGradAVX512 sets dst[i] = (y[i]·σ(−x[i]))·gy[i], σ as
// trainSigmoidAVX512 computes it, for i < n; n must be a positive multiple
// of 8.
//
//go:noescape
func trainSigmoidGradAVX512(dst, x, y, gy *float32, n int)

// axpyRowsAVX2 adds c[r·cs]·x[r·xs:r·xs+n8] to y[0:n8] for r < rows, in
// order, by the FMAs of axpyAVX2; rows must be positive and n8 a positive
// multiple of 8.
//
//go:noescape
func axpyRowsAVX2(y *float32, c *float32, cs int, x *float32, xs int, rows, n8 int)
