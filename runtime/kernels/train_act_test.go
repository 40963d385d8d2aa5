package kernels

import (
	"math"
	"testing"
)

// TestScale checks Scale bit for bit against x[i] *= s.
func TestScale(t *testing.T) {
	for _, n := range []int{0, 5, 16, 33, 1000} {
		x := randVec(uint64(n)+1, n, 3)
		want := append([]float32(nil), x...)
		for i := range want {
			want[i] *= 0.37
		}
		Scale(x, 0.37)
		for i := range x {
			if math.Float32bits(x[i]) != math.Float32bits(want[i]) {
				t.Fatalf("n=%d: x[%d] = %v, want %v", n, i, x[i], want[i])
			}
		}
	}
}
