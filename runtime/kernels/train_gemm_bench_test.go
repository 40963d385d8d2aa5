package kernels

import (
	"fmt"
	"testing"
)

// trainShapes are the products of training the 15M shape on 128-token
// sequences: the q/k/v/o projection, the feed-forward's two shapes and the
// classifier, as [tokens, out, in].
var trainShapes = [][3]int{{128, 288, 288}, {128, 768, 288}, {128, 288, 768}, {128, 32000, 288}}

// BenchmarkTrainProducts times a training step's three products of each
// linear layer of the 15M shape, each beside the training kernel that
// replaces it: the forward product (MatMul, TrainMatMul), the input
// gradient (MatMulNN, TrainMatMulNN) and the weight gradient
// (MatMulTransA, TrainMatMulTransA).
func BenchmarkTrainProducts(b *testing.B) {
	for _, sh := range trainShapes {
		n, rows, cols := sh[0], sh[1], sh[2]
		w := randVec(1, rows*cols, 1)
		x := randVec(2, n*cols, 1)
		dy := randVec(3, n*rows, 1)
		y := make([]float32, n*rows)
		dx := make([]float32, n*cols)
		dw := make([]float32, rows*cols)
		flops := float64(2 * n * rows * cols)
		run := func(name string, f func()) {
			b.Run(fmt.Sprintf("%dx%dx%d/%s", n, rows, cols, name), func(b *testing.B) {
				defer cpuMetric(b)()
				for b.Loop() {
					f()
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
		run("fwd-matmul", func() { _ = Exec{}.MatMul(y, x, w, n, rows, cols) })
		run("fwd-train", func() { _ = Exec{}.TrainMatMul(y, x, w, n, rows, cols) })
		run("dx-nn", func() { _ = Exec{}.MatMulNN(dx, dy, w, n, rows, cols) })
		run("dx-train", func() { _ = Exec{}.TrainMatMulNN(dx, dy, w, n, rows, cols) })
		run("dw-transa", func() { _ = Exec{}.MatMulTransA(dw, dy, x, n, rows, cols, false) })
		run("dw-train", func() { _ = Exec{}.TrainMatMulTransA(dw, dy, x, n, rows, cols, false) })
	}
}
