package kernels

import (
	"fmt"
	"math"
	"testing"
)

// TestPoolMatchesGoroutines checks that products run on a Pool give the
// same bits as with goroutines per call (the row split is the same), for
// fp32, quantised and batched products.
func TestPoolMatchesGoroutines(t *testing.T) {
	pool := NewPool(3)
	for _, sz := range [][2]int{{512, 512}, {37, 768}, {2048, 256}} {
		rows, cols := sz[0], sz[1]
		w := randVec(1, rows*cols, 0.05)
		x := randVec(2, 3*cols, 1)
		q, err := Quantize(w, rows, cols, NF4)
		if err != nil {
			t.Fatal(err)
		}
		for _, threads := range []int{2, 3, 5} {
			plain, pooled := Exec{Threads: threads}, Exec{Threads: threads, Pool: pool}
			for _, f := range []struct {
				name string
				n    int
				run  func(e Exec, out []float32) error
			}{
				{"MatVec", 1, func(e Exec, out []float32) error { return e.MatVec(out, w, x[:cols], rows, cols) }},
				{"MatMul", 3, func(e Exec, out []float32) error { return e.MatMul(out, x, w, 3, rows, cols) }},
				{"QMatVec", 1, func(e Exec, out []float32) error { return e.QMatVec(out, q, x[:cols]) }},
				{"QMatMul", 3, func(e Exec, out []float32) error { return e.QMatMul(out, x, q, 3) }},
			} {
				a, b := make([]float32, f.n*rows), make([]float32, f.n*rows)
				if err := f.run(plain, a); err != nil {
					t.Fatal(err)
				}
				if err := f.run(pooled, b); err != nil {
					t.Fatal(err)
				}
				for i := range a {
					if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
						t.Fatalf("%s %dx%d, %d threads: element %d = %v on the pool, %v with goroutines", f.name, rows, cols, threads, i, b[i], a[i])
					}
				}
			}
		}
	}
}

// BenchmarkPoolMatVec compares two-thread products on a Pool with
// goroutines started per call, at the 42M and 110M models' shapes.
func BenchmarkPoolMatVec(b *testing.B) {
	pool := NewPool(2)
	for _, sz := range [][2]int{{512, 512}, {1376, 512}, {768, 768}, {2048, 768}} {
		rows, cols := sz[0], sz[1]
		w := randVec(1, rows*cols, 0.05)
		x := randVec(2, cols, 1)
		out := make([]float32, rows)
		for _, c := range []struct {
			name string
			e    Exec
		}{{"1thread", Exec{}}, {"2goroutines", Exec{Threads: 2}}, {"2pool", Exec{Threads: 2, Pool: pool}}} {
			b.Run(fmt.Sprintf("%dx%d/%s", rows, cols, c.name), func(b *testing.B) {
				for b.Loop() {
					c.e.MatVec(out, w, x, rows, cols)
				}
			})
		}
	}
}

// BenchmarkPoolHandoff times a parallel product that does almost nothing,
// so that the time per call is the cost of handing a share to the worker
// and waiting for it.
func BenchmarkPoolHandoff(b *testing.B) {
	pool := NewPool(2)
	var sink [64]float32
	e := Exec{Threads: 2, Pool: pool}
	for b.Loop() {
		e.parallelRows(64, 1, 1<<20, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				sink[i]++
			}
		})
	}
}
