//go:build amd64

package kernels

// ropeAVX512 is RotateHeads for heads heads of 2·half values (half a
// positive multiple of 8), eight pairs a step: the products by the cosine
// and by the sine of the swapped pair, the sine's sign flipped by the
// 64-bit pattern flip in every lane pair, and their sum (AVX-512 F).
//
//go:noescape
func ropeAVX512(dst, src, cos, sin *float32, heads, half int, flip uint64)
