package kernels

import (
	"fmt"
	"testing"
)

// BenchmarkPoolSmallProducts times small products (2^14 to 2^18
// multiply-adds) on one thread and on a held two-thread pool, forced to
// split, to choose minWorkPerPoolThread.
func BenchmarkPoolSmallProducts(b *testing.B) {
	pool := NewPool(2)
	pool.Hold()
	defer pool.Release()
	for _, sz := range [][2]int{{64, 256}, {128, 256}, {256, 256}, {512, 256}, {512, 512}} {
		rows, cols := sz[0], sz[1]
		w := randVec(1, rows*cols, 0.05)
		x := randVec(2, cols, 1)
		q, err := Quantize(w, rows, cols, Q8_0)
		if err != nil {
			b.Fatal(err)
		}
		out := make([]float32, rows)
		for _, f := range []string{"fp32", "q8_0"} {
			for _, th := range []int{1, 2} {
				b.Run(fmt.Sprintf("%s/%dx%d/%dt", f, rows, cols, th), func(b *testing.B) {
					for b.Loop() {
						if th == 1 {
							if f == "fp32" {
								matVecRange(true, useAVX512, out, w, x, cols, 0, rows)
							} else {
								a := intQuant1(q, x)
								intRows1(q, a, out, 0, rows)
								actPool.Put(a)
							}
							continue
						}
						if f == "fp32" {
							pool.run(func(lo, hi int) { matVecRange(true, useAVX512, out, w, x, cols, lo, hi) }, rows, rows/2)
						} else {
							a := intQuant1(q, x)
							pool.run(func(lo, hi int) { intRows1(q, a, out, lo, hi) }, rows, rows/2)
							actPool.Put(a)
						}
					}
				})
			}
		}
	}
}
