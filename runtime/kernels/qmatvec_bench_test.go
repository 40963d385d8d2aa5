package kernels

import (
	"fmt"
	"testing"
)

// BenchmarkQMatVec compares fused quantised decode products with the fp32
// kernel on the same shapes. SetBytes is the bytes of weights each product
// reads, so MB/s is the effective weight bandwidth.
func BenchmarkQMatVec(b *testing.B) {
	for _, sh := range [][2]int{{768, 288}, {32000, 288}, {4096, 4096}} {
		rows, cols := sh[0], sh[1]
		w := randVec(1, rows*cols, 0.02)
		x := randVec(2, cols, 1)
		out := make([]float32, rows)
		b.Run(fmt.Sprintf("%dx%d/f32", rows, cols), func(b *testing.B) {
			b.SetBytes(int64(rows * cols * 4))
			defer cpuMetric(b)()
			for b.Loop() {
				_ = MatVec(out, w, x, rows, cols)
			}
			b.ReportMetric(float64(2*rows*cols)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		for _, m := range []Method{NF4, FP4, Q8_0} {
			q, err := Quantize(w, rows, cols, m)
			if err != nil {
				b.Fatal(err)
			}
			for _, e := range []struct {
				name string
				e    Exec
			}{{"asm", Exec{}}, {"avx2", Exec{NoAVX512: true}}, {"go", Exec{NoAsm: true}}, {"asm-2threads", Exec{Threads: 2}}} {
				b.Run(fmt.Sprintf("%dx%d/%v/%s", rows, cols, m, e.name), func(b *testing.B) {
					b.SetBytes(int64(q.Bytes()))
					defer cpuMetric(b)()
					for b.Loop() {
						_ = e.e.QMatVec(out, q, x)
					}
					b.ReportMetric(float64(2*rows*cols)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}

func BenchmarkQuantize(b *testing.B) {
	rows, cols := 1024, 1024
	w := randVec(1, rows*cols, 0.02)
	for _, m := range []Method{NF4, FP4, Q8_0} {
		b.Run(m.String(), func(b *testing.B) {
			b.SetBytes(int64(rows * cols * 4))
			defer cpuMetric(b)()
			for b.Loop() {
				_, _ = Quantize(w, rows, cols, m)
			}
		})
	}
}

func BenchmarkQMatMul(b *testing.B) {
	n, rows, cols := 64, 768, 288
	w := randVec(1, rows*cols, 0.02)
	x := randVec(2, n*cols, 1)
	out := make([]float32, n*rows)
	for _, m := range []Method{NF4, Q8_0} {
		q, _ := Quantize(w, rows, cols, m)
		b.Run(m.String(), func(b *testing.B) {
			defer cpuMetric(b)()
			for b.Loop() {
				_ = Exec{}.QMatMul(out, x, q, n)
			}
			b.ReportMetric(float64(2*n*rows*cols)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
