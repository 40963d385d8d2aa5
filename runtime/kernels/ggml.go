package kernels

import (
	"encoding/binary"
	"fmt"

	"github.com/modelwhisperer/whisperc/runtime/format/quant"
	"github.com/modelwhisperer/whisperc/runtime/internal/half"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// blockGGML reports whether m is a GGML block format other than Q8_0, held
// as the file stores it and decoded inside the kernels by package quant's
// decoders (checked bit for bit against ggml).
func blockGGML(m Method) bool { return m.GGML() && m != Q8_0 }

// MethodOf returns the method that executes tensors stored as d directly:
// Q8_0 or one of the other GGML block formats. ok is false for unquantised
// dtypes.
func MethodOf(d weights.DType) (m Method, ok bool) {
	if d.GGML() {
		return d, true
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
	d := q.Method
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
	d := q.Method
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
// [lo, hi). Q4_0, Q5_0, Q4_K and Q6_K have assembly kernels that decode inside
// the dot product; the other formats decode each row into row (Cols
// values, kept in cache) and multiply it by the SIMD dot product.
func (q *QMatrix) ggmlMatVec(asm, avx512 bool, out, x, row []float32, lo, hi int) {
	if asm && hi > lo {
		switch q.Method {
		case Q4_0:
			nb := q.Cols / 32
			data := q.Data[lo*nb*18 : hi*nb*18]
			dot := dotQ4_0AVX2
			if avx512 {
				dot = dotQ4_0AVX512
			}
			for r := lo; r < hi; r++ {
				out[r] = dot(&data[(r-lo)*nb*18], nb, &x[0])
			}
			return
		case Q5_0:
			nb := q.Cols / 32
			data := q.Data[lo*nb*22 : hi*nb*22]
			for r := lo; r < hi; r++ {
				out[r] = dotQ5_0AVX2(&data[(r-lo)*nb*22], nb, &x[0])
			}
			return
		case Q4_K:
			dot := dotQ4KAVX2
			if avx512 {
				dot = dotQ4KAVX512
			}
			q.q4kRows(dot, out, x, lo, hi)
			return
		case Q6_K:
			dot := dotQ6KAVX2
			if avx512 {
				dot = dotQ6KAVX512
			}
			q.q6kRows(dot, out, x, lo, hi)
			return
		}
	}
	d := q.Method
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

// q4kRows sets out[r] for r in [lo, hi) with dot (dotQ4KAVX2 or 512): each row's
// sub-block scales d·sc are decoded into a small buffer, and the mins
// (Σ dmin·m·Σx over each sub-block) are subtracted from the kernel's sum
// using the sub-block sums of x, computed once.
func (q *QMatrix) q4kRows(dot func(*byte, int, *float32, *float32) float32, out, x []float32, lo, hi int) {
	nb := q.Cols / 256
	xs := subSums(x, 32)
	sc := make([]float32, 8*nb)
	for r := lo; r < hi; r++ {
		data := q.Data[r*nb*144 : (r+1)*nb*144]
		var mins float32
		for b := 0; b < nb; b++ {
			blk := data[b*144 : b*144+16]
			d := half.F16ToF32(binary.LittleEndian.Uint16(blk))
			dmin := half.F16ToF32(binary.LittleEndian.Uint16(blk[2:]))
			q := (*[12]byte)(blk[4:16])
			s := (*[8]float32)(sc[8*b : 8*b+8])
			xb := (*[8]float32)(xs[8*b : 8*b+8])
			// scaleMinK4 unrolled: sub-blocks 0-3 keep six bits of bytes
			// 0-7; 4-7 take four bits of bytes 8-11 and the top two bits
			// of bytes 0-7.
			var m float32
			for j := 0; j < 4; j++ {
				s[j] = d * float32(q[j]&63)
				m += float32(q[j+4]&63) * xb[j]
				s[j+4] = d * float32(q[j+8]&0xF|(q[j]>>6)<<4)
				m += float32(q[j+8]>>4|(q[j+4]>>6)<<4) * xb[j+4]
			}
			mins += dmin * m
		}
		out[r] = dot(&data[0], nb, &sc[0], &x[0]) - mins
	}
}

// q6kRows sets out[r] for r in [lo, hi) with dot (dotQ6KAVX2 or 512).
func (q *QMatrix) q6kRows(dot func(*byte, int, *float32, *float32) float32, out, x []float32, lo, hi int) {
	nb := q.Cols / 256
	sc := make([]float32, 16*nb)
	for r := lo; r < hi; r++ {
		data := q.Data[r*nb*210 : (r+1)*nb*210]
		for b := 0; b < nb; b++ {
			blk := data[b*210:]
			d := half.F16ToF32(binary.LittleEndian.Uint16(blk[208:]))
			for s := 0; s < 16; s++ {
				sc[16*b+s] = d * float32(int8(blk[192+s]))
			}
		}
		out[r] = dot(&data[0], nb, &sc[0], &x[0])
	}
}

// subSums returns the sums of x over consecutive runs of n values.
func subSums(x []float32, n int) []float32 {
	s := make([]float32, len(x)/n)
	for i := range s {
		var a float32
		for _, v := range x[i*n : (i+1)*n] {
			a += v
		}
		s[i] = a
	}
	return s
}
