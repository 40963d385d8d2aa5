package kernels

// RotateHeads applies the rotary embedding to one row of heads: src holds
// whole heads of 2·len(cos) values, each a run of pairs (x₂ⱼ, x₂ⱼ₊₁), and
// dst receives, for every head and pair j,
//
//	x₂ⱼ·cos[j] − x₂ⱼ₊₁·sin[j],  x₂ⱼ·sin[j] + x₂ⱼ₊₁·cos[j]
//
// (sin negated when inverse is set), each product and sum rounded to
// float32 on its own, as llama2.c computes it, bit for bit. dst may be
// src. On AVX-512 machines, heads of a multiple of 16 values take eight
// pairs a step (ropeAVX512).
func RotateHeads(dst, src, cos, sin []float32, inverse bool) {
	half := len(cos)
	if half == 0 {
		return
	}
	n := len(src) / (2 * half) * 2 * half
	_, _, _ = dst[:n], src[:n], sin[:half]
	if useAVX512 && half%8 == 0 && n > 0 {
		// The sign flips of the even lanes' sine (odd lanes' when
		// inverse): x·c + (x'·(−s)) is x·c − x'·s exactly.
		flip := uint64(1) << 31
		if inverse {
			flip <<= 32
		}
		ropeAVX512(&dst[0], &src[0], &cos[0], &sin[0], n/(2*half), half, flip)
		return
	}
	for h := 0; h < n; h += 2 * half {
		row, out := src[h:h+2*half], dst[h:h+2*half]
		for j := range half {
			c, s := cos[j], sin[j]
			if inverse {
				s = -s
			}
			v0, v1 := row[2*j], row[2*j+1]
			out[2*j] = v0*c - v1*s
			out[2*j+1] = v0*s + v1*c
		}
	}
}
