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

// TestSigmoidIsScalar checks Sigmoid bit for bit against its scalar form
// (Gorgonia's _sigmoidf32) on normal inputs of several scales and on the
// edges: the clamps at −88 and 15 and either side of them, ±0, ±Inf,
// NaN and subnormals, at lengths that leave a scalar tail.
func TestSigmoidIsScalar(t *testing.T) {
	edges := []float32{-88, 15, math.Nextafter32(-88, -100), math.Nextafter32(-88, 0), math.Nextafter32(15, 0), math.Nextafter32(15, 100),
		0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 1e-45, -1e-45, 1e-38, -87.99, 14.99, -1e30, 1e30}
	for _, n := range []int{1, 7, 8, 29, 4099} {
		for _, std := range []float64{0.01, 1, 4, 40} {
			x := randVec(uint64(n)*7+uint64(std), n, std)
			for i, v := range edges {
				if i*3 < n {
					x[i*3] = v
				}
			}
			got := make([]float32, n)
			Sigmoid(got, x)
			for i, v := range x {
				want := sigmoid1(v)
				if math.Float32bits(got[i]) != math.Float32bits(want) && !(v != v && got[i] != got[i]) {
					t.Fatalf("n=%d std=%v: σ(%v) = %v (%#x), want %v (%#x)", n, std, v, got[i], math.Float32bits(got[i]), want, math.Float32bits(want))
				}
			}
			Sigmoid(x, x) // in place
			for i := range x {
				if math.Float32bits(x[i]) != math.Float32bits(got[i]) && !(got[i] != got[i] && x[i] != x[i]) {
					t.Fatalf("n=%d std=%v: in place, element %d differs", n, std, i)
				}
			}
		}
	}
}

// TestSigmoidDense checks Sigmoid bit for bit against the scalar form on
// a spread of float32 bit patterns (one in 6,208, either sign) from −90
// to 16: some 360 thousand values.
func TestSigmoidDense(t *testing.T) {
	var x []float32
	for b := uint32(0); b < 0x7f800000; b += 97 * 64 {
		for _, s := range []uint32{0, 0x80000000} {
			v := math.Float32frombits(b | s)
			if v >= -90 && v <= 16 {
				x = append(x, v)
			}
		}
	}
	got := make([]float32, len(x))
	Sigmoid(got, x)
	for i, v := range x {
		if want := sigmoid1(v); math.Float32bits(got[i]) != math.Float32bits(want) {
			t.Fatalf("σ(%v) = %#x, want %#x", v, math.Float32bits(got[i]), math.Float32bits(want))
		}
	}
	t.Logf("%d values", len(x))
}

// TestSigmoidGradIsScalar checks SigmoidGrad bit for bit against
// (y·σ(−x))·g in scalar float32, edges included, in place too.
func TestSigmoidGradIsScalar(t *testing.T) {
	edges := []float32{88, -15, math.Nextafter32(88, 100), math.Nextafter32(-15, -100), 0, float32(math.Inf(1)), float32(math.NaN()), -90, 16}
	for _, n := range []int{1, 9, 64, 1001} {
		x := randVec(uint64(n), n, 8)
		for i, v := range edges {
			if i*2 < n {
				x[i*2] = v
			}
		}
		y, g := randVec(uint64(n)+1, n, 1), randVec(uint64(n)+2, n, 1)
		got := make([]float32, n)
		SigmoidGrad(got, x, y, g)
		for i := range x {
			want := y[i] * sigmoid1(-x[i]) * g[i]
			if math.Float32bits(got[i]) != math.Float32bits(want) && !(want != want && got[i] != got[i]) {
				t.Fatalf("n=%d: x=%v: got %v, want %v", n, x[i], got[i], want)
			}
		}
		SigmoidGrad(g, x, y, g)
		for i := range g {
			if math.Float32bits(g[i]) != math.Float32bits(got[i]) && !(g[i] != g[i] && got[i] != got[i]) {
				t.Fatalf("n=%d: in place, element %d differs", n, i)
			}
		}
	}
}

// TestTrainElementwiseSplits checks the training graph's element-wise ops
// over threads (goroutines and a Pool) bit for bit against one thread, on
// lengths large enough to be split and not multiples of the ranges'
// alignment.
func TestTrainElementwiseSplits(t *testing.T) {
	for _, n := range []int{7, 1000, 300001} {
		a, b, g := randVec(uint64(n)+2, n, 4), randVec(uint64(n)+3, n, 4), randVec(uint64(n)+4, n, 1)
		type res struct{ mul, add, axpy, sig, sigGrad []float32 }
		run := func(e Exec) res {
			r := res{make([]float32, n), make([]float32, n), append([]float32(nil), a...), make([]float32, n), make([]float32, n)}
			e.TrainMul(r.mul, a, b)
			e.TrainAdd(r.add, a, b)
			e.TrainAxpy(r.axpy, b)
			e.TrainSigmoid(r.sig, a)
			e.TrainSigmoidGrad(r.sigGrad, a, r.sig, g)
			return r
		}
		want := run(Exec{Threads: 1})
		for i := range n {
			if want.mul[i] != a[i]*b[i] || want.add[i] != a[i]+b[i] || want.axpy[i] != a[i]+b[i] {
				t.Fatalf("n=%d: element %d is not one rounded product or sum", n, i)
			}
		}
		for _, e := range []Exec{{Threads: 3}, {Threads: 2, Pool: NewPool(2)}} {
			got := run(e)
			for k, pair := range [][2][]float32{{got.mul, want.mul}, {got.add, want.add}, {got.axpy, want.axpy}, {got.sig, want.sig}, {got.sigGrad, want.sigGrad}} {
				for i := range n {
					if math.Float32bits(pair[0][i]) != math.Float32bits(pair[1][i]) {
						t.Fatalf("n=%d, threads %d, pool %t: op %d element %d = %v, one thread %v", n, e.Threads, e.Pool != nil, k, i, pair[0][i], pair[1][i])
					}
				}
			}
		}
	}
}
