package kernels

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/modelwhisperer/whisperc/runtime/format/quant"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// randGGML returns random blocks of dtype d for a [rows, cols] matrix:
// random codes, with every f16 scale and min set to a small finite value so
// that the decoded matrix is finite.
func randGGML(t testing.TB, seed uint64, d weights.DType, rows, cols int) []byte {
	t.Helper()
	n, err := quant.ByteSize(d, []int{rows, cols})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, 7))
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	_, size, _ := quant.BlockSize(d)
	var halves []int // byte offsets of f16 fields in a block
	switch d {
	case weights.Q8_0, weights.Q4_0, weights.Q5_0:
		halves = []int{0}
	case weights.Q4_1, weights.Q5_1, weights.Q4_K, weights.Q5_K:
		halves = []int{0, 2}
	case weights.Q6_K:
		halves = []int{208}
	}
	for b := 0; b < len(data)/size; b++ {
		for _, at := range halves {
			v := float32(r.NormFloat64()) * 0.01
			binary.LittleEndian.PutUint16(data[b*size+at:], quant.F32ToF16(v))
		}
	}
	return data
}

var ggmlKernelTypes = []weights.DType{weights.Q8_0, weights.Q4_0, weights.Q4_1, weights.Q5_0, weights.Q5_1, weights.Q4_K, weights.Q5_K, weights.Q6_K}

// TestGGMLKernels checks QMatVec and QMatMul on every GGML block format
// against the fp32 product of the dequantised matrix, with and without
// assembly and with several threads.
func TestGGMLKernels(t *testing.T) {
	const rows, cols, n = 37, 512, 3
	for i, d := range ggmlKernelTypes {
		data := randGGML(t, uint64(i+1), d, rows, cols)
		q, err := FromGGML(d, rows, cols, data)
		if err != nil {
			t.Fatal(err)
		}
		w, err := quant.Dequantize(&weights.Tensor{Name: "w", Shape: []int{rows, cols}, DType: d, Data: data})
		if err != nil {
			t.Fatal(err)
		}
		qw, err := q.Dequantize()
		if err != nil {
			t.Fatal(err)
		}
		assertClose(t, d.String()+" Dequantize", qw, f64s(w), 0, 0)
		x := randVec(uint64(100+i), n*cols, 1)
		for _, e := range []Exec{{NoVNNI: true}, {NoAVX512: true}, {NoAsm: true}, {Threads: 3, NoVNNI: true}} {
			out := make([]float32, rows)
			if err := e.QMatVec(out, q, x[:cols]); err != nil {
				t.Fatal(err)
			}
			assertClose(t, d.String()+" QMatVec", out, refMatVec(w, x[:cols], rows, cols), 1e-4, 1e-2)
			outN := make([]float32, n*rows)
			if err := e.QMatMul(outN, x, q, n); err != nil {
				t.Fatal(err)
			}
			for b := 0; b < n; b++ {
				assertClose(t, d.String()+" QMatMul", outN[b*rows:(b+1)*rows], refMatVec(w, x[b*cols:(b+1)*cols], rows, cols), 1e-4, 1e-2)
			}
		}
		row := make([]float32, cols)
		if err := q.DequantizeRow(row, rows-1); err != nil {
			t.Fatal(err)
		}
		assertClose(t, d.String()+" DequantizeRow", row, f64s(w[(rows-1)*cols:]), 0, 0)
	}
}

func TestFromGGMLRefuses(t *testing.T) {
	if _, err := FromGGML(weights.F32, 1, 32, make([]byte, 128)); err == nil {
		t.Error("F32 accepted")
	}
	if _, err := FromGGML(weights.Q4_K, 1, 32, make([]byte, 144)); err == nil {
		t.Error("a 32-value row of Q4_K accepted")
	}
	if _, err := FromGGML(weights.Q4_0, 2, 32, make([]byte, 18)); err == nil {
		t.Error("short data accepted")
	}
}

// BenchmarkGGMLMatVec times QMatVec on a 2048×768 matrix (the 110M shape's
// feed-forward) of each GGML block format, single-threaded.
func BenchmarkGGMLMatVec(b *testing.B) {
	const rows, cols = 2048, 768
	x := randVec(1, cols, 1)
	out := make([]float32, rows)
	for i, d := range ggmlKernelTypes {
		q, err := FromGGML(d, rows, cols, randGGML(b, uint64(i+1), d, rows, cols))
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range []struct {
			name string
			e    Exec
		}{{"vnni", Exec{}}, {"avx512", Exec{NoVNNI: true}}, {"avx2", Exec{NoAVX512: true}}} {
			b.Run(d.String()+"/"+e.name, func(b *testing.B) {
				b.SetBytes(int64(len(q.Data)))
				defer cpuMetric(b)()
				for b.Loop() {
					e.e.QMatVec(out, q, x)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(rows*cols), "ns/weight")
			})
		}
	}
}
