package kernels

import (
	"fmt"

	"github.com/modelwhisperer/whisperc/runtime/format/quant"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// ggmlDTypes maps the GGML block methods to their stored dtypes, whose
// decoders package quant provides (checked bit for bit against ggml).
var ggmlDTypes = map[Method]weights.DType{
	Q4_0: weights.Q4_0, Q4_1: weights.Q4_1, Q5_0: weights.Q5_0, Q5_1: weights.Q5_1,
	Q4_K: weights.Q4_K, Q5_K: weights.Q5_K, Q6_K: weights.Q6_K,
}

// ggml reports whether m is a GGML block format other than Q8_0, held as
// the file stores it and decoded inside the kernels.
func (m Method) ggml() bool { _, ok := ggmlDTypes[m]; return ok }

// MethodOf returns the method that executes tensors stored as d directly:
// Q8_0 or one of the other GGML block formats. ok is false for unquantised
// dtypes.
func MethodOf(d weights.DType) (m Method, ok bool) {
	if d == weights.Q8_0 {
		return Q8_0, true
	}
	for m, dd := range ggmlDTypes {
		if dd == d {
			return m, true
		}
	}
	return MethodInvalid, false
}

// FromGGML wraps the bytes of a GGML block-quantised matrix of shape
// [rows, cols] (a GGUF tensor's data, Q8_0 included) as a QMatrix without
// copying them: the kernels decode the blocks as they multiply, so the
// matrix costs exactly its stored size. data must stay valid and unchanged
// while the matrix is used. Rows must be whole blocks, as GGUF requires.
func FromGGML(d weights.DType, rows, cols int, data []byte) (*QMatrix, error) {
	m, ok := MethodOf(d)
	if !ok {
		return nil, fmt.Errorf("kernels.FromGGML: %v is not a GGML block format", d)
	}
	vals, _, _ := quant.BlockSize(d)
	if cols%vals != 0 {
		return nil, fmt.Errorf("kernels.FromGGML: rows of %d values are not whole %v blocks of %d", cols, d, vals)
	}
	q := &QMatrix{Method: m, Rows: rows, Cols: cols, BlockSize: vals, Data: data}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	return q, nil
}

// validateGGML checks a GGML block matrix: whole blocks per row and exactly
// the bytes they take.
func (q *QMatrix) validateGGML() error {
	d := ggmlDTypes[q.Method]
	vals, size, _ := quant.BlockSize(d)
	if q.BlockSize != vals {
		return fmt.Errorf("kernels.QMatrix: %v block size %d, want %d", q.Method, q.BlockSize, vals)
	}
	if q.Cols%vals != 0 {
		return fmt.Errorf("kernels.QMatrix: %v rows of %d values are not whole blocks of %d", q.Method, q.Cols, vals)
	}
	if want := q.Rows * (q.Cols / vals) * size; len(q.Data) != want {
		return fmt.Errorf("kernels.QMatrix: %v data has %d bytes, want %d", q.Method, len(q.Data), want)
	}
	return nil
}

// dequantizeGGML writes the len(dst) elements from flat index start of a
// GGML block matrix, decoding whole blocks (into a scratch block at either
// end when the range starts or ends mid-block).
func (q *QMatrix) dequantizeGGML(dst []float32, start int) {
	d := ggmlDTypes[q.Method]
	vals, size, _ := quant.BlockSize(d)
	dec := quant.BlockDecoder(d)
	end := start + len(dst)
	var tmp [256]float32
	for b := start / vals; b*vals < end; b++ {
		blk := q.Data[b*size : (b+1)*size]
		lo, hi := max(b*vals, start), min((b+1)*vals, end)
		if lo == b*vals && hi == (b+1)*vals {
			dec(dst[lo-start:hi-start], blk)
			continue
		}
		dec(tmp[:vals], blk)
		copy(dst[lo-start:hi-start], tmp[lo-b*vals:hi-b*vals])
	}
}

// ggmlMatVec sets out[r] to row r of a GGML block matrix times x for r in
// [lo, hi): each row is decoded into row (Cols values, kept in cache) and
// multiplied by the SIMD dot product.
func (q *QMatrix) ggmlMatVec(asm bool, out, x, row []float32, lo, hi int) {
	d := ggmlDTypes[q.Method]
	vals, size, _ := quant.BlockSize(d)
	dec := quant.BlockDecoder(d)
	rec := q.Cols / vals * size
	for r := lo; r < hi; r++ {
		data := q.Data[r*rec : (r+1)*rec]
		for b := 0; b < q.Cols/vals; b++ {
			dec(row[b*vals:(b+1)*vals], data[b*size:(b+1)*size])
		}
		out[r] = dotWith(asm, row, x)
	}
}
