package kernels

import (
	"encoding/binary"
	"math"

	"github.com/modelwhisperer/whisperc/runtime/internal/half"
	"github.com/modelwhisperer/whisperc/stdlib/dtype"
)

// BF16 stores each weight as a bfloat16 (the top 16 bits of its float32,
// rounded to nearest even): half of fp32's bytes, fp32's range, 8 bits of
// mantissa. The kernels widen each weight row back to float32 as they
// multiply, so the arithmetic and its accumulation stay in fp32; the only
// change from fp32 weights is the storage rounding, a relative error of at
// most 2⁻⁹ per weight.
const BF16 = dtype.BF16

// BlockBF16 is the unit in which Quantize spreads a bf16 matrix over
// threads; the format itself has no blocks or scales.
const BlockBF16 = 256

// quantizeBF16 rounds blocks [b0, b1) of w to bfloat16 and returns the
// first block holding a NaN or an infinity, or -1.
func (q *QMatrix) quantizeBF16(w []float32, b0, b1 int) int {
	bad := -1
	for b := b0; b < b1; b++ {
		lo, hi := b*BlockBF16, min((b+1)*BlockBF16, len(w))
		for i := lo; i < hi; i++ {
			v := w[i]
			if !finite(v) && bad < 0 {
				bad = b
			}
			binary.LittleEndian.PutUint16(q.Data[2*i:], half.F32ToBF16(v))
		}
	}
	return bad
}

// dequantizeBF16 widens the len(dst) weights from flat index start.
func (q *QMatrix) dequantizeBF16(dst []float32, start int) {
	src := q.Data[2*start : 2*(start+len(dst))]
	for i := range dst {
		dst[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(src[2*i:])) << 16)
	}
}

// bf16MatVec computes out = W·x one widened row at a time.
func (e Exec) bf16MatVec(out []float32, q *QMatrix, x []float32) {
	asm := useAsm && !e.NoAsm
	e.parallelRows(q.Rows, 1, q.Cols, func(lo, hi int) {
		wt := make([]float32, q.Cols)
		for r := lo; r < hi; r++ {
			q.dequantizeBF16(wt, r*q.Cols)
			out[r] = dotWith(asm, wt, x)
		}
	})
}

// WidenBF16 writes the len(dst) bfloat16 values of src (little-endian, two
// bytes each) into dst as float32: exact, bf16 being the top half of fp32.
func WidenBF16(dst []float32, src []byte) {
	src = src[:2*len(dst)]
	for i := range dst {
		dst[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(src[2*i:])) << 16)
	}
}

// RoundBF16 writes each value of src into dst (little-endian, two bytes
// each) rounded to bfloat16, to nearest with ties to even, as PyTorch's
// float-to-bfloat16 conversion does; a NaN stays a (quiet) NaN.
func RoundBF16(dst []byte, src []float32) {
	dst = dst[:2*len(src)]
	for i, v := range src {
		binary.LittleEndian.PutUint16(dst[2*i:], half.F32ToBF16(v))
	}
}
