package kernels

import (
	"fmt"
	"testing"
)

// matVecShapes are the products of one decode step of llama2.c's 15M model
// (dim 288, hidden 768, vocab 32000) and one large square layer.
var matVecShapes = [][2]int{{288, 288}, {768, 288}, {288, 768}, {32000, 288}, {4096, 4096}}

func BenchmarkMatVec(b *testing.B) {
	for _, sh := range matVecShapes {
		rows, cols := sh[0], sh[1]
		w := randVec(1, rows*cols, 1)
		x := randVec(2, cols, 1)
		out := make([]float32, rows)
		for _, e := range []struct {
			name string
			e    Exec
		}{{"asm", Exec{}}, {"avx2", Exec{NoAVX512: true}}, {"go", Exec{NoAsm: true}}, {"asm-2threads", Exec{Threads: 2}}} {
			b.Run(fmt.Sprintf("%dx%d/%s", rows, cols, e.name), func(b *testing.B) {
				b.SetBytes(int64(rows*cols) * 4)
				defer cpuMetric(b)()
				for b.Loop() {
					_ = e.e.MatVec(out, w, x, rows, cols)
				}
				b.ReportMetric(float64(2*rows*cols)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

func BenchmarkMatMul(b *testing.B) {
	// The n = 8 shapes are a server's decode step on the 15M model: the
	// small-batch path.
	for _, sh := range [][3]int{{8, 768, 288}, {8, 32000, 288}, {64, 288, 288}, {64, 768, 288}, {256, 512, 512}} {
		n, rows, cols := sh[0], sh[1], sh[2]
		w := randVec(1, rows*cols, 1)
		x := randVec(2, n*cols, 1)
		out := make([]float32, n*rows)
		for _, e := range []struct {
			name string
			e    Exec
		}{{"asm", Exec{}}, {"avx2", Exec{NoAVX512: true}}, {"go", Exec{NoAsm: true}}, {"asm-2threads", Exec{Threads: 2}}, {"asm-tile64", Exec{TileRows: 64}}} {
			b.Run(fmt.Sprintf("%dx%dx%d/%s", n, rows, cols, e.name), func(b *testing.B) {
				b.SetBytes(int64(rows*cols) * 4)
				defer cpuMetric(b)()
				for b.Loop() {
					_ = e.e.MatMul(out, x, w, n, rows, cols)
				}
				b.ReportMetric(float64(2*n*rows*cols)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkLinearGradients times the two gradient products of a linear
// layer y = x·Wᵀ with x [64, 288] and W [768, 288]: dX = dY·W and
// dW = dYᵀ·X.
func BenchmarkLinearGradients(b *testing.B) {
	n, out, in := 64, 768, 288
	dy := randVec(1, n*out, 1)
	x := randVec(2, n*in, 1)
	w := randVec(3, out*in, 1)
	dx := make([]float32, n*in)
	dw := make([]float32, out*in)
	b.Run("dX=dY·W", func(b *testing.B) {
		defer cpuMetric(b)()
		for b.Loop() {
			_ = Exec{}.MatMulNN(dx, dy, w, n, out, in)
		}
		b.ReportMetric(float64(2*n*in*out)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
	b.Run("dW=dYᵀ·X", func(b *testing.B) {
		defer cpuMetric(b)()
		for b.Loop() {
			_ = Exec{}.MatMulTransA(dw, dy, x, n, out, in, false)
		}
		b.ReportMetric(float64(2*n*in*out)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
}
