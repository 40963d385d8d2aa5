package kernels

import (
	"fmt"
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

// TestExpShiftedIsMathExp checks ExpShifted bit for bit against the scalar
// expression it replaces, over a sweep of every float32 bit pattern
// (both signs, infinities, NaNs, subnormals) and a denser sweep of the range
// where the result is neither 0 nor +Inf, with several shifts and slice
// lengths that leave a scalar tail.
func TestExpShiftedIsMathExp(t *testing.T) {
	var xs []float32
	for b := uint64(0); b < 1<<32; b += 1021 {
		xs = append(xs, math.Float32frombits(uint32(b)))
	}
	lo, hi := math.Float32bits(-110), math.Float32bits(90)
	for b := uint32(0x80000000); b <= lo; b += 241 { // negative, down to -110
		xs = append(xs, math.Float32frombits(b))
	}
	for b := uint32(0); b <= hi; b += 241 {
		xs = append(xs, math.Float32frombits(b))
	}
	for _, v := range []float32{-105, -104, -103.97, -103.28, -87.33, 88.72, 88.73, 88.8, 89, -1e-45, 1e-45, 0} {
		xs = append(xs, v, math.Nextafter32(v, -200), math.Nextafter32(v, 200))
	}
	xs = append(xs, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()))
	check := func(name string, p []float32, mx float32) {
		t.Helper()
		got := append([]float32(nil), p...)
		ExpShifted(got, mx)
		bad := 0
		for i, v := range p {
			want := float32(math.Exp(float64(v - mx)))
			if math.Float32bits(got[i]) != math.Float32bits(want) && !(want != want && got[i] != got[i]) {
				if bad < 5 {
					t.Errorf("%s: exp(%g - %g) = %g (%#x), math.Exp gives %g (%#x)", name, v, mx, got[i], math.Float32bits(got[i]), want, math.Float32bits(want))
				}
				bad++
			}
		}
		if bad > 0 {
			t.Errorf("%s: %d of %d differ", name, bad, len(p))
		}
	}
	for _, mx := range []float32{0, 3.25, -7.5, 1e-3} {
		check(fmt.Sprintf("sweep mx=%g", mx), xs, mx)
	}
	for n := 0; n < 11; n++ {
		check(fmt.Sprintf("len %d", n), randVec(uint64(n), n, 20), 1)
	}
}

func BenchmarkExpShifted(b *testing.B) {
	p := randVec(1, 32000, 8)
	for _, e := range []struct {
		name string
		f    func([]float32, float32)
	}{{"kernel", ExpShifted}, {"math.Exp", func(p []float32, mx float32) {
		for i, v := range p {
			p[i] = float32(math.Exp(float64(v - mx)))
		}
	}}} {
		b.Run(e.name, func(b *testing.B) {
			q := make([]float32, len(p))
			for b.Loop() {
				copy(q, p)
				e.f(q, 8)
			}
		})
	}
}

// TestExpScale checks ExpScale against float64 on softmax's range and
// beyond, with a tail, and that NaN propagates.
func TestExpScale(t *testing.T) {
	for _, n := range []int{1, 8, 13, 1000} {
		x := make([]float32, n)
		for i := range x {
			x[i] = -100 + 120*float32(i)/float32(n)
		}
		dst := make([]float32, n)
		const shift, scale = 2.5, 0.75
		s := ExpScale(dst, x, shift, scale)
		var want float64
		for i, v := range x {
			e := math.Exp(float64(v - shift))
			if float64(v-shift) < -87 {
				e = 0
			}
			want += e
			if d := math.Abs(float64(dst[i]) - scale*e); d > 1e-6*scale*e+1e-37 {
				t.Fatalf("n=%d x=%g: %g, want %g", n, v, dst[i], scale*e)
			}
		}
		if math.Abs(float64(s)-want) > 1e-5*want {
			t.Errorf("n=%d: sum %g, want %g", n, s, want)
		}
		x[n/2] = float32(math.NaN())
		if s := ExpScale(dst, x, shift, scale); !math.IsNaN(float64(s)) || !math.IsNaN(float64(dst[n/2])) {
			t.Errorf("n=%d: NaN gives sum %g, element %g", n, s, dst[n/2])
		}
	}
}

// TestExp32ShiftIsExp32 checks Exp32Shift bit for bit against the scalar
// exp32 over a sweep of float32 bit patterns, a dense sweep of [−90, 90],
// the edges of its range, several shifts, and lengths with a tail.
func TestExp32ShiftIsExp32(t *testing.T) {
	var xs []float32
	for b := uint64(0); b < 1<<32; b += 4099 {
		xs = append(xs, math.Float32frombits(uint32(b)))
	}
	for x := float32(-90); x <= 90; x += 0.0007 {
		xs = append(xs, x)
	}
	for _, v := range []float32{-87, 88.7, 0, -1e-45, 1e-45, 88.72, -87.33} {
		xs = append(xs, v, math.Nextafter32(v, -200), math.Nextafter32(v, 200))
	}
	xs = append(xs, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()))
	for _, shift := range []float32{0, 1.5, -3.25, 40} {
		for _, n := range []int{len(xs), len(xs) - 5, 15, 17, 1} {
			x := xs[len(xs)-n:]
			got := make([]float32, n)
			Exp32Shift(got, x, shift)
			for i := range n {
				want := exp32(x[i] - shift)
				if math.Float32bits(got[i]) != math.Float32bits(want) && !(got[i] != got[i] && want != want) {
					t.Fatalf("shift %g, n=%d: exp32(%g−shift) = %g (%#x), scalar %g (%#x)", shift, n, x[i], got[i], math.Float32bits(got[i]), want, math.Float32bits(want))
				}
			}
		}
	}
}
