package kernels

// maxAVX512 returns the largest of the n floats at x (n ≥ 1; AVX-512 F),
// passing over NaNs.
//
//go:noescape
func maxAVX512(x *float32, n int) float32

// scaleAVX512 multiplies the n floats at x by s (n ≥ 1; AVX-512 F).
//
//go:noescape
func scaleAVX512(x *float32, n int, s float32)

// sumAVX512 returns the sum of the n floats at x (n ≥ 1; AVX-512 F) in
// sixteen lanes, not in order.
//
//go:noescape
func sumAVX512(x *float32, n int) float32
