package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// randVec returns n values drawn from a normal distribution with the given
// standard deviation, reproducibly from seed.
func randVec(seed uint64, n int, std float64) []float32 {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64() * std)
	}
	return v
}

// refMatVec is an fp64 reference product.
func refMatVec(w, x []float32, rows, cols int) []float64 {
	out := make([]float64, rows)
	for r := 0; r < rows; r++ {
		var s float64
		for c := 0; c < cols; c++ {
			s += float64(w[r*cols+c]) * float64(x[c])
		}
		out[r] = s
	}
	return out
}

// assertClose fails unless got and want agree to within tol relative to the
// larger of |want| and scale.
func assertClose(t *testing.T, what string, got []float32, want []float64, tol, scale float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: len %d, want %d", what, len(got), len(want))
	}
	bad := 0
	for i := range got {
		d := math.Abs(float64(got[i]) - want[i])
		if d > tol*math.Max(math.Abs(want[i]), scale) || math.IsNaN(float64(got[i])) {
			if bad < 5 {
				t.Errorf("%s[%d] = %g, want %g (diff %g)", what, i, got[i], want[i], d)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d values out of tolerance", what, bad, len(got))
	}
}

func f64s(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}
