package kernels

import (
	"math"
	"testing"
)

func TestExp32Accuracy(t *testing.T) {
	var worst float64
	for x := float32(-87); x <= 88; x += 0.001 {
		got, want := float64(exp32(x)), math.Exp(float64(x))
		worst = math.Max(worst, math.Abs(got-want)/want)
	}
	if worst > 3e-7 {
		t.Errorf("largest relative error %g, want < 3e-7 (2.5 ulp)", worst)
	}
	if exp32(-100) != 0 || !math.IsInf(float64(exp32(100)), 1) || exp32(0) != 1 {
		t.Errorf("edges: %v %v %v", exp32(-100), exp32(100), exp32(0))
	}
	if x := exp32(float32(math.NaN())); x == x {
		t.Errorf("exp32(NaN) = %v", x)
	}
	if exp32(negInf) != 0 {
		t.Errorf("exp32(-Inf) = %v", exp32(negInf))
	}
}

func BenchmarkExp32(b *testing.B) {
	xs := randVec(1, 1024, 3)
	var s float32
	for b.Loop() {
		for _, x := range xs {
			s += exp32(-x * x)
		}
	}
	_ = s
}
