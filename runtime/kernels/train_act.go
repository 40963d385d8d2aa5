package kernels

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
