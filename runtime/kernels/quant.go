package kernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/modelwhisperer/whisperc/runtime/internal/half"
	"github.com/modelwhisperer/whisperc/stdlib/dtype"
)

// Method is a weight quantisation format: the one enum of number formats,
// dtype.DType, of which the kernels execute NF4, FP4 and the GGML block
// formats. The zero value is invalid.
type Method = dtype.DType

// The quantisation formats the kernels execute.
const (
	MethodInvalid = dtype.Invalid
	// NF4 is QLoRA's 4-bit NormalFloat: blocks of 64 scaled by their
	// absolute maximum, each value the nearest of NF4Code().
	NF4 = dtype.NF4
	// FP4 is bitsandbytes' 4-bit float, blocked like NF4 with FP4Code().
	FP4 = dtype.FP4
	// Q8_0 is GGML's 8-bit format: blocks of 32 int8 values round(x/d) with
	// d = absmax/127 stored as float16, 34 bytes a block.
	Q8_0 = dtype.Q8_0
	// The other GGML block formats, executed directly from a GGUF file's
	// bytes (see FromGGML); they are never produced by Quantize.
	Q4_0 = dtype.Q4_0
	Q4_1 = dtype.Q4_1
	Q5_0 = dtype.Q5_0
	Q5_1 = dtype.Q5_1
	Q4_K = dtype.Q4_K
	Q5_K = dtype.Q5_K
	Q6_K = dtype.Q6_K
)

// Block sizes of the formats, as bitsandbytes and GGML define them.
const (
	Block4Bit    = 64  // bitsandbytes quantize_4bit default blocksize
	BlockDQ      = 256 // blocksize of the second (absmax) quantisation
	BlockQ8_0    = 32  // GGML QK8_0
	bytesQ8Block = 2 + BlockQ8_0
)

// NonFiniteError reports a weight that is NaN or infinite, which no block
// scale can represent; the runtime reports it as E520.
type NonFiniteError struct {
	Row, Col int
	Value    float32
}

// Error implements error.
func (e *NonFiniteError) Error() string {
	return fmt.Sprintf("weight at row %d, column %d is %v; only finite weights can be quantised", e.Row, e.Col, e.Value)
}

// QuantConfig selects a format and its options.
type QuantConfig struct {
	Method Method
	// DoubleQuant quantises the 4-bit formats' per-block fp32 absmax values
	// again, to 8 bits with BlockDQ-sized blocks after subtracting their
	// mean (QLoRA §3 "Double Quantization"; bitsandbytes quantize_4bit with
	// compress_statistics=True). It is ignored for Q8_0.
	DoubleQuant bool
	// Data, when it has room, receives the result's codes (Q8_0 blocks,
	// 4-bit codes, bf16 values) instead of a new buffer: a caller
	// quantising a matrix a slab of rows at a time writes every slab into
	// one buffer, and the engine writes straight into its HugeArena.
	Data []byte
}

// QMatrix is a quantised row-major matrix of shape [Rows, Cols]. Blocks run
// over the flattened matrix, as in bitsandbytes, so a block may span two
// rows when Cols is not a multiple of the block size; the last block may be
// short.
//
// For NF4 and FP4, Data holds two 4-bit codes per byte, the earlier element
// in the high nibble (bitsandbytes kQuantizeBlockwise's packing), and block
// b's scale is Absmax[b], or, when double-quantised,
// DynamicCode()[QAbsmax[b]]·Absmax2[b/BlockDQ] + Offset. For Q8_0, Data holds
// GGML block_q8_0 records (a little-endian float16 scale, then 32 int8), the
// same bytes as a GGUF Q8_0 tensor when Cols is a multiple of 32.
type QMatrix struct {
	Method      Method
	Rows, Cols  int
	BlockSize   int
	Data        []byte
	Absmax      []float32 // 4-bit without double quantisation
	DoubleQuant bool
	QAbsmax     []uint8   // 4-bit with double quantisation: 8-bit absmax codes
	Absmax2     []float32 // their per-BlockDQ scales
	Offset      float32   // the mean subtracted before the second quantisation
}

// Quantize quantises the row-major matrix w of shape [rows, cols] with the
// given method; NF4 and FP4 use double quantisation, as QLoRA does.
func Quantize(w []float32, rows, cols int, m Method) (*QMatrix, error) {
	return QuantizeConfig(w, rows, cols, QuantConfig{Method: m, DoubleQuant: m == NF4 || m == FP4})
}

// QuantizeConfig quantises the row-major matrix w of shape [rows, cols] as
// cfg says, single-threaded. It is Exec{}.QuantizeConfig.
func QuantizeConfig(w []float32, rows, cols int, cfg QuantConfig) (*QMatrix, error) {
	return Exec{}.QuantizeConfig(w, rows, cols, cfg)
}

// QuantizeConfig quantises the row-major matrix w of shape [rows, cols] as
// cfg says, spreading the blocks over e's threads. A NaN or infinite
// weight is reported as a *NonFiniteError: each block's absolute maximum,
// which quantisation needs anyway, is NaN or infinite exactly when the
// block holds one, so the check costs no pass of its own.
func (e Exec) QuantizeConfig(w []float32, rows, cols int, cfg QuantConfig) (*QMatrix, error) {
	if err := checkDims("Quantize", rows, cols); err != nil {
		return nil, err
	}
	if err := checkLen("Quantize", "W", len(w), rows*cols); err != nil {
		return nil, err
	}
	q := &QMatrix{Method: cfg.Method, Rows: rows, Cols: cols}
	n := len(w)
	var quantizeBlocks func(b0, b1 int) int // returns the first non-finite block, or -1
	switch cfg.Method {
	case NF4, FP4:
		q.BlockSize = Block4Bit
		q.Data = into(cfg.Data, (n+1)/2)
		clear(q.Data) // the codes are or-ed in, two to a byte
		q.Absmax = make([]float32, q.Blocks())
		quantizeBlocks = func(b0, b1 int) int { return q.quantize4(w, b0, b1) }
	case Q8_0:
		q.BlockSize = BlockQ8_0
		q.Data = into(cfg.Data, q.Blocks()*bytesQ8Block)
		quantizeBlocks = func(b0, b1 int) int { return q.quantizeQ8(w, b0, b1) }
	case BF16:
		q.BlockSize = BlockBF16
		q.Data = into(cfg.Data, 2*n)
		quantizeBlocks = func(b0, b1 int) int { return q.quantizeBF16(w, b0, b1) }
	default:
		return nil, fmt.Errorf("kernels.Quantize: invalid method %v", cfg.Method)
	}
	nb := q.Blocks()
	// Two blocks' worth of 4-bit codes share no byte when the split is
	// even, so shares start at even blocks.
	bad := make([]int, 0, max(e.threads(), 1))
	var mu sync.Mutex
	e.parallelRows(nb, 2, q.BlockSize, func(lo, hi int) {
		if b := quantizeBlocks(lo, hi); b >= 0 {
			mu.Lock()
			bad = append(bad, b)
			mu.Unlock()
		}
	})
	if len(bad) > 0 {
		b := slices.Min(bad)
		for i := b * q.BlockSize; i < min((b+1)*q.BlockSize, n); i++ {
			if v := w[i]; math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, &NonFiniteError{Row: i / max(cols, 1), Col: i % max(cols, 1), Value: v}
			}
		}
	}
	if cfg.DoubleQuant && (cfg.Method == NF4 || cfg.Method == FP4) {
		q.doubleQuantize()
	}
	return q, nil
}

// into returns size bytes of buf when it has room, else a new buffer.
func into(buf []byte, size int) []byte {
	if cap(buf) >= size {
		return buf[:size:size]
	}
	return make([]byte, size)
}

// finite reports whether v is neither NaN nor infinite.
func finite(v float32) bool { return v-v == 0 }

// Len returns the number of elements, Rows·Cols.
func (q *QMatrix) Len() int { return q.Rows * q.Cols }

// Blocks returns the number of first-level blocks.
func (q *QMatrix) Blocks() int { return (q.Len() + q.BlockSize - 1) / q.BlockSize }

// Bytes returns the storage the quantised matrix needs: codes, scales and,
// for double quantisation, the second-level scales and the offset.
func (q *QMatrix) Bytes() int {
	n := len(q.Data) + 4*len(q.Absmax)
	if q.DoubleQuant {
		n += len(q.QAbsmax) + 4*len(q.Absmax2) + 4
	}
	return n
}

// FP32Bytes returns the storage the matrix needs unquantised.
func (q *QMatrix) FP32Bytes() int { return 4 * q.Len() }

// BitsPerParam returns the storage cost per element in bits: about 4.127 for
// NF4 with double quantisation, 4.5 without, 8.5 for Q8_0.
func (q *QMatrix) BitsPerParam() float64 {
	if q.Len() == 0 {
		return 0
	}
	return 8 * float64(q.Bytes()) / float64(q.Len())
}

// Validate reports whether the matrix's buffers are consistent with its
// method and shape, so that a QMatrix built outside Quantize (from a file)
// can be used safely.
func (q *QMatrix) Validate() error {
	if q.Rows < 0 || q.Cols < 0 {
		return fmt.Errorf("kernels.QMatrix: negative shape [%d, %d]", q.Rows, q.Cols)
	}
	if q.Cols > 0 && q.Rows > math.MaxInt32/q.Cols {
		return fmt.Errorf("kernels.QMatrix: shape [%d, %d] is too large", q.Rows, q.Cols)
	}
	n := q.Len()
	switch q.Method {
	case NF4, FP4:
		if q.BlockSize != Block4Bit {
			return fmt.Errorf("kernels.QMatrix: %v block size %d, want %d", q.Method, q.BlockSize, Block4Bit)
		}
		if len(q.Data) != (n+1)/2 {
			return fmt.Errorf("kernels.QMatrix: %v data has %d bytes, want %d", q.Method, len(q.Data), (n+1)/2)
		}
		nb := q.Blocks()
		if q.DoubleQuant {
			if len(q.QAbsmax) != nb || len(q.Absmax2) != (nb+BlockDQ-1)/BlockDQ || len(q.Absmax) != 0 {
				return fmt.Errorf("kernels.QMatrix: double-quantised scales have %d codes and %d second-level scales, want %d and %d", len(q.QAbsmax), len(q.Absmax2), nb, (nb+BlockDQ-1)/BlockDQ)
			}
		} else if len(q.Absmax) != nb {
			return fmt.Errorf("kernels.QMatrix: %d absmax values, want %d", len(q.Absmax), nb)
		}
	case BF16:
		if q.BlockSize != BlockBF16 || len(q.Data) != 2*n {
			return fmt.Errorf("kernels.QMatrix: bf16 data has %d bytes in blocks of %d, want %d in blocks of %d", len(q.Data), q.BlockSize, 2*n, BlockBF16)
		}
	case Q8_0:
		if q.BlockSize != BlockQ8_0 {
			return fmt.Errorf("kernels.QMatrix: q8_0 block size %d, want %d", q.BlockSize, BlockQ8_0)
		}
		if len(q.Data) != q.Blocks()*bytesQ8Block {
			return fmt.Errorf("kernels.QMatrix: q8_0 data has %d bytes, want %d", len(q.Data), q.Blocks()*bytesQ8Block)
		}
	default:
		if !blockGGML(q.Method) {
			return fmt.Errorf("kernels.QMatrix: invalid method %v", q.Method)
		}
		return q.validateGGML()
	}
	return nil
}

// code returns the 16-entry code table of a 4-bit method.
func (q *QMatrix) code() *[16]float32 {
	if q.Method == FP4 {
		return &fp4Code
	}
	return &nf4Code
}

// quantize4 fills Data and Absmax of blocks [b0, b1) for NF4 or FP4 and
// returns the first block holding a non-finite value, or -1.
func (q *QMatrix) quantize4(w []float32, b0, b1 int) int {
	n := len(w)
	enc := encodeNF4
	if q.Method == FP4 {
		enc = encodeFP4
	}
	bad := -1
	for b := b0; b < b1; b++ {
		lo, hi := b*Block4Bit, min((b+1)*Block4Bit, n)
		var amax float32
		for _, v := range w[lo:hi] {
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		if !finite(amax) {
			if bad < 0 {
				bad = b
			}
			continue
		}
		q.Absmax[b] = amax
		// bitsandbytes multiplies by the reciprocal rather than dividing.
		var inv float32
		if amax > 0 {
			inv = 1 / amax
		}
		for i := lo; i < hi; i++ {
			c := enc(w[i] * inv)
			if i&1 == 0 {
				q.Data[i>>1] |= c << 4
			} else {
				q.Data[i>>1] |= c
			}
		}
	}
	return bad
}

// nf4Thresholds are the midpoints between consecutive NF4 values.
var nf4Thresholds = thresholds(nf4Code)

// encodeNF4 returns the code of the NF4 value nearest x (x in [-1, 1]); a
// value exactly on a midpoint takes the lower code, as bitsandbytes'
// dQuantizeNF4 (comparisons with ">") does. The code is the number of
// midpoints below x: a table over a fine grid of [-1, 1] gives it up to
// the one midpoint that may share x's grid cell, and two comparisons
// settle that (and any rounding in the cell index).
func encodeNF4(x float32) byte {
	i := int((x + 1) * nf4Cells / 2)
	i = min(max(i, 0), nf4Cells-1)
	c := int(nf4Cell[i])
	if c > 0 && !(x > nf4Thresholds[c-1]) {
		c--
	}
	if c < 15 && x > nf4Thresholds[c] {
		c++
	}
	return byte(c)
}

// nf4Cells is the number of grid cells of [-1, 1] in nf4Cell; the cells
// are narrower than the closest two NF4 midpoints, so at most one midpoint
// falls in a cell.
const nf4Cells = 4096

// nf4Cell[i] is the number of NF4 midpoints below cell i's lower edge.
var nf4Cell = func() (t [nf4Cells]uint8) {
	for i := range t {
		edge := -1 + 2*float32(i)/nf4Cells
		for _, m := range nf4Thresholds {
			if m < edge {
				t[i]++
			}
		}
	}
	return t
}()

// fp4Magnitudes are FP4's eight magnitudes in ascending order with their
// 3-bit patterns.
var (
	fp4Magnitudes = [8]float32{0, 0.0625 / 12, 2.0 / 12, 3.0 / 12, 4.0 / 12, 6.0 / 12, 8.0 / 12, 1}
	fp4Patterns   = [8]byte{0b000, 0b001, 0b110, 0b111, 0b100, 0b101, 0b010, 0b011}
)

// encodeFP4 returns the FP4 code nearest x: the sign in bit 3 (set for
// x < 0) and the nearest magnitude, as bitsandbytes' dQuantizeFP4 does.
func encodeFP4(x float32) byte {
	var sign byte
	if x < 0 {
		sign = 0b1000
		x = -x
	}
	i := 0
	for i < 7 && x > (fp4Magnitudes[i]+fp4Magnitudes[i+1])/2 {
		i++
	}
	return sign | fp4Patterns[i]
}

// doubleQuantize replaces Absmax by its 8-bit blockwise quantisation, as
// bitsandbytes quantize_4bit(compress_statistics=True) does: subtract the
// mean, then quantize_blockwise with the dynamic code and blocksize 256,
// each value mapped to the nearest code entry after dividing by its block's
// absolute maximum.
func (q *QMatrix) doubleQuantize() {
	a := q.Absmax
	var sum float64
	for _, v := range a {
		sum += float64(v)
	}
	var offset float32
	if len(a) > 0 {
		offset = float32(sum / float64(len(a)))
	}
	code := &dynamicCode
	nb2 := (len(a) + BlockDQ - 1) / BlockDQ
	q.QAbsmax = make([]uint8, len(a))
	q.Absmax2 = make([]float32, nb2)
	for b := 0; b < nb2; b++ {
		lo, hi := b*BlockDQ, min((b+1)*BlockDQ, len(a))
		var amax float32
		for _, v := range a[lo:hi] {
			amax = max(amax, float32(math.Abs(float64(v-offset))))
		}
		q.Absmax2[b] = amax
		// Like kQuantizeBlockwise, multiply by the reciprocal.
		var inv float32
		if amax > 0 {
			inv = 1 / amax
		}
		for i := lo; i < hi; i++ {
			q.QAbsmax[i] = nearestCode(code, (a[i]-offset)*inv)
		}
	}
	q.Offset = offset
	q.Absmax = nil
	q.DoubleQuant = true
}

// nearestCode returns the index of the entry of the ascending code nearest
// x, ties going to the lower entry. bitsandbytes' dQuantize reaches the same
// entry by a seven-step binary search followed by a comparison with the
// midpoints to the neighbours; the two can differ only for x exactly on a
// midpoint.
func nearestCode(code *[256]float32, x float32) uint8 {
	lo, hi := 0, 255
	for lo < hi {
		mid := (lo + hi) / 2
		if code[mid] < x {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	// code[lo] is the first entry >= x; its predecessor may be nearer.
	if lo > 0 && x-code[lo-1] <= code[lo]-x {
		lo--
	}
	return uint8(lo)
}

// scales returns the fp32 scales of blocks [b0, b1) into dst.
func (q *QMatrix) scales(dst []float32, b0, b1 int, code *[256]float32) []float32 {
	dst = dst[:0]
	if !q.DoubleQuant {
		return append(dst, q.Absmax[b0:b1]...)
	}
	for b := b0; b < b1; b++ {
		dst = append(dst, code[q.QAbsmax[b]]*q.Absmax2[b/BlockDQ]+q.Offset)
	}
	return dst
}

// Scales returns every first-level block's fp32 scale: the absmax of a
// 4-bit block (after undoing double quantisation) or the Q8_0 d; nil for
// the other GGML formats, whose blocks have several scales.
func (q *QMatrix) Scales() []float32 {
	switch {
	case blockGGML(q.Method):
		return nil
	case q.Method == Q8_0:
		out := make([]float32, q.Blocks())
		for b := range out {
			out[b] = half.F16ToF32(binary.LittleEndian.Uint16(q.Data[b*bytesQ8Block:]))
		}
		return out
	default:
		return q.scales(nil, 0, q.Blocks(), &dynamicCode)
	}
}

// quantizeQ8 fills the GGML block_q8_0 records of blocks [b0, b1)
// (quantize_row_q8_0_ref: d = amax/127, q = round(x/d) via multiplication
// by 1/d) and returns the first block holding a non-finite value, or -1.
func (q *QMatrix) quantizeQ8(w []float32, b0, b1 int) int {
	n := len(w)
	bad := -1
	for b := b0; b < b1; b++ {
		lo, hi := b*BlockQ8_0, min((b+1)*BlockQ8_0, n)
		var amax float32
		for _, v := range w[lo:hi] {
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		if !finite(amax) {
			if bad < 0 {
				bad = b
			}
			continue
		}
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		rec := q.Data[b*bytesQ8Block : (b+1)*bytesQ8Block]
		binary.LittleEndian.PutUint16(rec, half.F32ToF16(d))
		for i := lo; i < hi; i++ {
			rec[2+i-lo] = byte(int8(math.Round(float64(w[i] * id))))
		}
	}
	return bad
}

// Dequantize returns the fp32 matrix the quantised one stands for.
func (q *QMatrix) Dequantize() ([]float32, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	out := make([]float32, q.Len())
	q.dequantizeRange(out, 0)
	return out, nil
}

// DequantizeRow writes row r into dst, which must have Cols elements.
func (q *QMatrix) DequantizeRow(dst []float32, r int) error {
	if r < 0 || r >= q.Rows {
		return fmt.Errorf("kernels.QMatrix: row %d out of range [0, %d)", r, q.Rows)
	}
	if err := checkLen("DequantizeRow", "dst", len(dst), q.Cols); err != nil {
		return err
	}
	q.dequantizeRange(dst, r*q.Cols)
	return nil
}

// dequantizeRange writes the len(dst) elements starting at flat index start.
func (q *QMatrix) dequantizeRange(dst []float32, start int) {
	if len(dst) == 0 {
		return
	}
	end := start + len(dst)
	if blockGGML(q.Method) {
		q.dequantizeGGML(dst, start)
		return
	}
	switch q.Method {
	case BF16:
		q.dequantizeBF16(dst, start)
	case Q8_0:
		for b := start / BlockQ8_0; b*BlockQ8_0 < end; b++ {
			rec := q.Data[b*bytesQ8Block : (b+1)*bytesQ8Block]
			d := half.F16ToF32(binary.LittleEndian.Uint16(rec))
			lo, hi := max(b*BlockQ8_0, start), min((b+1)*BlockQ8_0, end)
			qs := rec[2+lo-b*BlockQ8_0 : 2+hi-b*BlockQ8_0]
			out := dst[lo-start : hi-start]
			for i, c := range qs {
				out[i] = float32(int8(c)) * d
			}
		}
	default:
		tab := q.code()
		for b := start / Block4Bit; b*Block4Bit < end; b++ {
			sc := q.blockScale(b)
			g, hi := max(b*Block4Bit, start), min((b+1)*Block4Bit, end)
			if g&1 == 1 {
				dst[g-start] = tab[q.Data[g>>1]&15] * sc
				g++
			}
			for ; g+2 <= hi; g += 2 {
				c := q.Data[g>>1]
				dst[g-start] = tab[c>>4] * sc
				dst[g+1-start] = tab[c&15] * sc
			}
			if g < hi {
				dst[g-start] = tab[q.Data[g>>1]>>4] * sc
			}
		}
	}
}
