package kernels

import (
	"math"
	"testing"
)

// TestRotateHeadsIsScalar checks RotateHeads bit for bit against the
// scalar rotation, forward and inverse, in place and not, for heads of 8
// to 128 values (the vector form from 16), with signed zeros, infinities,
// NaNs and subnormals among the values and the angles.
func TestRotateHeadsIsScalar(t *testing.T) {
	special := []float32{0, float32(math.Copysign(0, -1)), 1e-40, -1e-40, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 3e38, -3e38}
	for _, half := range []int{4, 8, 12, 16, 24, 32, 64} {
		for _, heads := range []int{1, 2, 3, 6} {
			src := randVec(uint64(half*heads), 2*half*heads, 3)
			cos := randVec(uint64(half+1), half, 1)
			sin := randVec(uint64(half+2), half, 1)
			for i, v := range special {
				src[(i*7)%len(src)] = v
				if i%3 == 0 {
					cos[(i*5)%half] = v
				} else {
					sin[(i*5)%half] = v
				}
			}
			for _, inverse := range []bool{false, true} {
				want := make([]float32, len(src))
				for h := 0; h < len(src); h += 2 * half {
					for j := range half {
						c, s := cos[j], sin[j]
						if inverse {
							s = -s
						}
						v0, v1 := src[h+2*j], src[h+2*j+1]
						want[h+2*j] = v0*c - v1*s
						want[h+2*j+1] = v0*s + v1*c
					}
				}
				got := make([]float32, len(src))
				RotateHeads(got, src, cos, sin, inverse)
				inPlace := append([]float32(nil), src...)
				RotateHeads(inPlace, inPlace, cos, sin, inverse)
				for i := range want {
					for _, g := range []float32{got[i], inPlace[i]} {
						if math.Float32bits(g) != math.Float32bits(want[i]) && !(g != g && want[i] != want[i]) {
							t.Fatalf("half %d heads %d inverse %v: value %d is %g (%#x), want %g (%#x)", half, heads, inverse, i, g, math.Float32bits(g), want[i], math.Float32bits(want[i]))
						}
					}
				}
			}
		}
	}
}

// BenchmarkRotateHeads times one 128-token prefill's rotation of the 15M
// shape's queries (6 heads of 48).
func BenchmarkRotateHeads(b *testing.B) {
	const half, heads, rows = 24, 6, 128
	x := randVec(1, rows*heads*2*half, 1)
	cos := randVec(2, half, 1)
	sin := randVec(3, half, 1)
	for b.Loop() {
		for r := range rows {
			row := x[r*heads*2*half : (r+1)*heads*2*half]
			RotateHeads(row, row, cos, sin, false)
		}
	}
}
