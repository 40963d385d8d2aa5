package engine

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestRMSScale4 checks that the four-row RMS scales of a prefill are bit
// for bit the one-row ones (llama2.c's order of summation), for widths
// that are and are not multiples of the vector widths, and for rows of
// zeros, tiny and huge values.
func TestRMSScale4(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, d := range []int{1, 3, 8, 17, 64, 288, 513} {
		for _, mag := range []float64{1e-20, 1e-3, 1, 1e3, 1e18} {
			x := make([]float32, 4*d)
			for i := range x {
				x[i] = float32(rng.NormFloat64() * mag)
			}
			if d > 3 {
				clear(x[d : 2*d]) // a row of zeros: the scale is 1/sqrt(eps)
			}
			got := rmsScale4(x, d, 1e-5)
			for r := range 4 {
				want := rmsScale(x[r*d:(r+1)*d], 1e-5)
				if math.Float32bits(got[r]) != math.Float32bits(want) {
					t.Fatalf("d=%d mag=%g row %d: %g, want %g", d, mag, r, got[r], want)
				}
			}
		}
	}
}
