package kernels

import (
	"fmt"
	"math"
	"testing"
)

// TestTrainGradientProducts checks TrainMatMulNN and TrainMatMulTransA
// bit for bit against MatMulNN and MatMulTransA (their AVX2 kernel sums
// in the same blocks) on shapes with tails (rows short of eight, columns
// short of 32, sums longer than one block), on one and three threads,
// writing over NaNs and accumulating.
func TestTrainGradientProducts(t *testing.T) {
	if !(Exec{}).avx512() {
		t.Skip("no AVX-512: the training products are MatMulNN and MatMulTransA")
	}
	for _, sh := range [][3]int{{8, 16, 32}, {3, 5, 33}, {9, 300, 64}, {17, 70, 100}, {128, 288, 288}, {24, 768, 288}, {13, 1000, 172}, {40, 64, 32}, {300, 96, 288}, {600, 45, 40}} {
		n, m, k := sh[0], sh[1], sh[2]
		a := randVec(1, n*m, 1)
		bnn := randVec(2, m*k, 1)
		bta := randVec(3, n*k, 1)
		for _, threads := range []int{1, 3} {
			e := Exec{Threads: threads}
			if threads > 1 {
				e.Pool = NewPool(threads)
			}
			t.Run(fmt.Sprintf("%dx%dx%d/threads=%d", n, m, k, threads), func(t *testing.T) {
				same := func(what string, got, want []float32) {
					t.Helper()
					for i := range want {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("%s: out[%d] = %v, want %v", what, i, got[i], want[i])
						}
					}
				}
				want := make([]float32, n*k)
				if err := e.MatMulNN(want, a, bnn, n, m, k); err != nil {
					t.Fatal(err)
				}
				got := make([]float32, n*k)
				for i := range got {
					got[i] = float32(math.NaN())
				}
				if err := e.TrainMatMulNN(got, a, bnn, n, m, k); err != nil {
					t.Fatal(err)
				}
				same("NN", got, want)
				for _, acc := range []bool{false, true} {
					want := randVec(4, m*k, 1)
					got := append([]float32(nil), want...)
					if !acc {
						for i := range got {
							got[i] = float32(math.NaN())
						}
					}
					if err := e.MatMulTransA(want, a, bta, n, m, k, acc); err != nil {
						t.Fatal(err)
					}
					if err := e.TrainMatMulTransA(got, a, bta, n, m, k, acc); err != nil {
						t.Fatal(err)
					}
					same(fmt.Sprintf("TransA accumulate=%v", acc), got, want)
				}
			})
		}
	}
}
