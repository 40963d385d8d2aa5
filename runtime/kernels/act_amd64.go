//go:build amd64

package kernels

// swigluAVX512 sets dst[i] = (g[i]·(1/(1+e)))·u[i], e being
// float32(math.Exp(float64(-g[i]))), for i < n, bit for bit, eight lanes
// at a time; n must be a positive multiple of 8. Its exponential repeats
// math.Exp's FMA path, which useAVX512 implies (it implies useAsm).
//
//go:noescape
func swigluAVX512(dst, gate, u *float32, n int)

// exp32ShiftAVX512 sets dst[i] = exp32(x[i]−shift) for i < n, bit for bit,
// sixteen lanes at a time; n must be a positive multiple of 16.
//
//go:noescape
func exp32ShiftAVX512(dst, x *float32, n int, shift float32)
