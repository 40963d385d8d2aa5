package kernels

import (
	"fmt"
	"math"
	"testing"
)

// trainMatMulRef is TrainMatMul's sums in Go, in the same order: over the
// columns in runs of trainRun(cols), each run summed in order with fused
// multiply-adds and then added to the total.
func trainMatMulRef(out, x, w []float32, n, rows, cols int) {
	kc := trainRun(cols)
	for i := range n {
		for r := range rows {
			var total float32
			for p0 := 0; p0 < cols; p0 += kc {
				var s float32
				for p := p0; p < min(p0+kc, cols); p++ {
					s = float32(math.FMA(float64(x[i*cols+p]), float64(w[r*cols+p]), float64(s)))
				}
				if p0 == 0 {
					total = s
				} else {
					total += s
				}
			}
			out[i*rows+r] = total
		}
	}
}

// TestTrainMatMul checks the AVX-512 training product bit for bit against
// its Go reference on shapes with every kind of tail (input rows short of
// eight, weight rows short of 32, columns short of a block), on one and
// three threads, and against float64 sums within fp32 rounding.
func TestTrainMatMul(t *testing.T) {
	if !(Exec{}).avx512() {
		t.Skip("no AVX-512: TrainMatMul is MatMul, tested there")
	}
	for _, sh := range [][3]int{{1, 1, 1}, {8, 32, 16}, {3, 5, 7}, {9, 33, 129}, {16, 64, 128}, {17, 70, 300}, {128, 288, 288}, {24, 96, 768}, {7, 31, 257}} {
		n, rows, cols := sh[0], sh[1], sh[2]
		x := randVec(1, n*cols, 1)
		w := randVec(2, rows*cols, 1)
		want := make([]float32, n*rows)
		trainMatMulRef(want, x, w, n, rows, cols)
		for _, threads := range []int{1, 3} {
			t.Run(fmt.Sprintf("%dx%dx%d/threads=%d", n, rows, cols, threads), func(t *testing.T) {
				got := make([]float32, n*rows)
				for i := range got {
					got[i] = float32(math.NaN()) // every element must be written
				}
				e := Exec{Threads: threads}
				if threads > 1 {
					e.Pool = NewPool(threads)
				}
				if err := e.TrainMatMul(got, x, w, n, rows, cols); err != nil {
					t.Fatal(err)
				}
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("out[%d] = %v, want %v (Go reference, same order)", i, got[i], want[i])
					}
				}
				for i := range n {
					for r := range rows {
						var s, mag float64
						for p := range cols {
							s += float64(x[i*cols+p]) * float64(w[r*cols+p])
							mag += math.Abs(float64(x[i*cols+p]) * float64(w[r*cols+p]))
						}
						if d := math.Abs(float64(got[i*rows+r]) - s); d > float64(cols)*6e-8*mag+1e-30 {
							t.Fatalf("out[%d][%d] = %v, float64 sum %v", i, r, got[i*rows+r], s)
						}
					}
				}
			})
		}
	}
}

func TestTrainMatMulShapes(t *testing.T) {
	out := make([]float32, 4)
	if err := (Exec{}).TrainMatMul(out, make([]float32, 6), make([]float32, 6), 2, 2, 3); err != nil {
		t.Fatal(err)
	}
	if err := (Exec{}).TrainMatMul(out, make([]float32, 5), make([]float32, 6), 2, 2, 3); err == nil {
		t.Fatal("a short X was accepted")
	}
}

// TestTrainMatMulAccuracy holds TrainMatMul's rounding error (against
// float64 sums, relative to Σ|x·w|, root mean square over the outputs) to
// within 25% of MatMul's, from the tiny model's widths to the 15M
// model's: the PyTorch comparison of runtime/train is sensitive to it.
// Measured on an AMD EPYC (Zen 4): 1.1–1.22× MatMul's below 256 columns,
// 0.8–0.95× above.
func TestTrainMatMulAccuracy(t *testing.T) {
	if !(Exec{}).avx512() {
		t.Skip("no AVX-512: TrainMatMul is MatMul")
	}
	for _, sh := range [][3]int{{24, 64, 4}, {24, 64, 64}, {24, 172, 64}, {24, 64, 172}, {24, 512, 64}, {128, 288, 288}, {128, 288, 768}} {
		n, rows, cols := sh[0], sh[1], sh[2]
		x := randVec(1, n*cols, 1)
		w := randVec(2, rows*cols, 1)
		old := make([]float32, n*rows)
		got := make([]float32, n*rows)
		if err := (Exec{}).MatMul(old, x, w, n, rows, cols); err != nil {
			t.Fatal(err)
		}
		if err := (Exec{}).TrainMatMul(got, x, w, n, rows, cols); err != nil {
			t.Fatal(err)
		}
		var sOld, sGot float64
		for i := range n {
			for r := range rows {
				var s, mag float64
				for p := range cols {
					s += float64(x[i*cols+p]) * float64(w[r*cols+p])
					mag += math.Abs(float64(x[i*cols+p]) * float64(w[r*cols+p]))
				}
				sOld += math.Pow((float64(old[i*rows+r])-s)/mag, 2)
				sGot += math.Pow((float64(got[i*rows+r])-s)/mag, 2)
			}
		}
		rmsOld, rmsGot := math.Sqrt(sOld/float64(n*rows)), math.Sqrt(sGot/float64(n*rows))
		if rmsGot > 1.25*rmsOld {
			t.Errorf("%dx%dx%d: rms relative error %.3g, MatMul's %.3g", n, rows, cols, rmsGot, rmsOld)
		}
		t.Logf("%dx%dx%d: rms relative error %.3g, MatMul's %.3g", n, rows, cols, rmsGot, rmsOld)
	}
}
