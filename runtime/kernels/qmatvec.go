package kernels

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/modelwhisperer/whisperc/runtime/internal/half"
)

// QMatVec computes out = W·x for a quantised W of shape [Rows, Cols],
// decoding the codes block by block inside the dot products so that the
// fp32 matrix never exists: a 4-bit matrix moves an eighth of the bytes an
// fp32 one does. Rows are split over e.Threads goroutines, each quantised
// weight counted as half an fp32 multiply-add of work (its decoding).
func (e Exec) QMatVec(out []float32, q *QMatrix, x []float32) error {
	if err := q.Validate(); err != nil {
		return err
	}
	if err := checkLen("QMatVec", "out", len(out), q.Rows); err != nil {
		return err
	}
	if err := checkLen("QMatVec", "x", len(x), q.Cols); err != nil {
		return err
	}
	if q.Method == BF16 {
		e.bf16MatVec(out, q, x)
		return nil
	}
	if e.vnni() && intDotMethod(q) {
		e.intMatVec(out, q, x)
		return nil
	}
	if blockGGML(q.Method) {
		asm, avx512 := useAsm && !e.NoAsm, e.avx512()
		e.parallelRows(q.Rows, 1, q.Cols/2, func(lo, hi int) {
			q.ggmlMatVec(asm, avx512, out, x, make([]float32, q.Cols), lo, hi)
		})
		return nil
	}
	k := newQKernel(q, !e.NoAsm && useAsm)
	k.avx512 = k.asm && e.avx512()
	if k.avx512 && q.Method != Q8_0 {
		xp := evenOdd(x)
		e.parallelRows(q.Rows, 1, q.Cols/2, func(lo, hi int) {
			k.rows4AVX512(out, xp, lo, hi)
		})
		return nil
	}
	xp := k.prepare(x)
	if k.asm && q.Method != Q8_0 {
		e.parallelRows(q.Rows, 1, q.Cols/2, func(lo, hi int) {
			k.rows4(out, xp, lo, hi)
		})
		return nil
	}
	if k.asm && q.Cols > 0 {
		e.parallelRows(q.Rows, 1, q.Cols/2, func(lo, hi int) {
			k.rowsQ8(out, x, lo, hi)
		})
		return nil
	}
	e.parallelRows(q.Rows, 1, q.Cols/2, func(lo, hi int) {
		scr := k.newScratch()
		for r := lo; r < hi; r++ {
			out[r] = k.rowDot(r, x, xp, scr)
		}
	})
	return nil
}

// QMatMul computes out = X·Wᵀ for X of shape [n, Cols] and out of shape
// [n, Rows] with a quantised W. For n = 1 it is QMatVec; otherwise each
// goroutine decodes one weight row at a time into a Cols-long buffer and
// multiplies it with all n rows of X, so the fp32 matrix is never
// materialised and each code is decoded once.
func (e Exec) QMatMul(out, x []float32, q *QMatrix, n int) error {
	if err := q.Validate(); err != nil {
		return err
	}
	if err := checkDims("QMatMul", n); err != nil {
		return err
	}
	if err := checkLen("QMatMul", "out", len(out), n*q.Rows); err != nil {
		return err
	}
	if err := checkLen("QMatMul", "X", len(x), n*q.Cols); err != nil {
		return err
	}
	if n == 1 {
		return e.QMatVec(out, q, x)
	}
	if e.vnni() && intDotMethod(q) {
		e.intMatMul(out, x, q, n)
		return nil
	}
	rows, cols := q.Rows, q.Cols
	e.parallelRows(rows, 4, n*cols, func(lo, hi int) {
		wt := make([]float32, 4*cols)
		asm := useAsm && !e.NoAsm
		r := lo
		for ; r+4 <= hi; r += 4 {
			q.dequantizeRange(wt, r*cols)
			rowTile4(asm, false, out, wt, x, n, rows, cols, r, nil)
		}
		for ; r < hi; r++ {
			q.dequantizeRange(wt[:cols], r*cols)
			for b := 0; b < n; b++ {
				out[b*rows+r] = dotWith(asm, wt[:cols], x[b*cols:(b+1)*cols])
			}
		}
	})
	return nil
}

// QMatMuls sets outs[i] = X·qs[i]ᵀ for n activation rows X that the
// matrices share (a layer's query, key and value projections, or its gate
// and up projections, in a prefill): with the eight-activation kernels, X
// is quantised and grouped once for all of them, and the threads share
// all their rows. Each element is the one QMatMul gives. Matrices that
// differ in format or width, or with fewer than eight rows of X, are
// multiplied one after another by QMatMul.
func (e Exec) QMatMuls(outs [][]float32, x []float32, qs []*QMatrix, n int) error {
	if len(outs) != len(qs) {
		return fmt.Errorf("kernels: QMatMuls: %d outputs for %d matrices", len(outs), len(qs))
	}
	if len(qs) == 0 {
		return nil
	}
	together := n >= 8 && e.vnni() && len(qs) <= 8
	for i, q := range qs {
		if err := q.Validate(); err != nil {
			return err
		}
		if err := checkDims("QMatMuls", n); err != nil {
			return err
		}
		if err := checkLen("QMatMuls", "out", len(outs[i]), n*q.Rows); err != nil {
			return err
		}
		if err := checkLen("QMatMuls", "X", len(x), n*q.Cols); err != nil {
			return err
		}
		q0 := qs[0]
		together = together && intDotMethod(q) && q.Method == q0.Method && q.DoubleQuant == q0.DoubleQuant && q.Cols == q0.Cols
	}
	var ks []intKernel
	if together {
		ks = make([]intKernel, len(qs))
		for i, q := range qs {
			ks[i] = newIntKernel(q)
			together = together && ks[i].rows8 != nil
		}
	}
	if !together {
		for i, q := range qs {
			if err := e.QMatMul(outs[i], x, q, n); err != nil {
				return err
			}
		}
		return nil
	}
	e.intMatMulsG8(outs, x, qs, n, ks)
	return nil
}

// QMatMulGradInput computes dX = dY·W for dY of shape [n, Rows] and dX of
// shape [n, Cols]: the gradient of y = x·Wᵀ with respect to x when W is
// quantised and frozen, as in QLoRA. Like QMatMul it decodes one weight row
// at a time. It uses one goroutine per column-independent slice of the
// batch.
func (e Exec) QMatMulGradInput(dx, dy []float32, q *QMatrix, n int) error {
	if err := q.Validate(); err != nil {
		return err
	}
	if err := checkDims("QMatMulGradInput", n); err != nil {
		return err
	}
	if err := checkLen("QMatMulGradInput", "dX", len(dx), n*q.Cols); err != nil {
		return err
	}
	if err := checkLen("QMatMulGradInput", "dY", len(dy), n*q.Rows); err != nil {
		return err
	}
	rows, cols := q.Rows, q.Cols
	clear(dx)
	e.parallelRows(n, 1, rows*cols, func(lo, hi int) {
		wt := make([]float32, cols)
		for r := 0; r < rows; r++ {
			q.dequantizeRange(wt, r*cols)
			for b := lo; b < hi; b++ {
				Axpy(dx[b*cols:(b+1)*cols], dy[b*rows+r], wt)
			}
		}
	})
	return nil
}

// qKernel is the per-call state of a fused quantised dot product.
type qKernel struct {
	q      *QMatrix
	asm    bool
	avx512 bool // Q8_0: the AVX-512 kernel
	tab    *[16]float32
	pair   *[256][2]float32 // 4-bit: the two decoded values of each byte
	planes *[64]byte        // 4-bit: byte k of code value c's float32 bits at 16k+c
}

func newQKernel(q *QMatrix, asm bool) *qKernel {
	k := &qKernel{q: q}
	switch q.Method {
	case NF4, FP4:
		k.tab = q.code()
		// Rows then start on a 32-value boundary, and 32-value halves never
		// straddle a 64-value block, so each half has one scale.
		k.asm = asm && q.Cols > 0 && q.Cols%32 == 0
		if k.asm {
			k.planes = &nf4Planes
			if q.Method == FP4 {
				k.planes = &fp4Planes
			}
			break
		}
		k.pair = new([256][2]float32)
		for b := range k.pair {
			k.pair[b] = [2]float32{k.tab[b>>4], k.tab[b&15]}
		}
	case Q8_0:
		k.asm = asm && q.Cols%BlockQ8_0 == 0
	}
	return k
}

// nf4Planes and fp4Planes are the byte planes of nf4Code and fp4Code for
// dot4bitAVX2, computed once; they are never written.
var (
	nf4Planes = bytePlanes(&nf4Code)
	fp4Planes = bytePlanes(&fp4Code)
)

// bytePlanes returns byte k of code value c's float32 bits at 16k+c.
func bytePlanes(tab *[16]float32) [64]byte {
	var p [64]byte
	for c, v := range tab {
		bits := math.Float32bits(v)
		for b := 0; b < 4; b++ {
			p[16*b+c] = byte(bits >> (8 * b))
		}
	}
	return p
}

// rowsQ8 sets out[r] = row r of W times x for r in [lo, hi) with the Q8_0
// assembly kernel: rowDot's sums without its per-row dispatch. Cols is a
// positive multiple of BlockQ8_0.
func (k *qKernel) rowsQ8(out, x []float32, lo, hi int) {
	if hi <= lo {
		return
	}
	nb := k.q.Cols / BlockQ8_0
	rec := nb * bytesQ8Block
	data := k.q.Data[lo*rec : hi*rec]
	xx := &x[0]
	dot := dotQ8AVX2
	if k.avx512 {
		dot = dotQ8AVX512
	}
	for r := lo; r < hi; r++ {
		out[r] = dot(&data[(r-lo)*rec], nb, xx)
	}
}

// rowChunk is how many rows rows4 decodes the scales of in one pass.
const rowChunk = 16

// rows4 sets out[r] = row r of W times x for r in [lo, hi) with the 4-bit
// assembly kernel. The half-block scales of rowChunk rows are decoded in
// one pass (rows are contiguous in the flat index, so their halves are
// too) and laid out one row per 2·n64 slots, the slot past an odd number
// of halves staying zero for the zero padding of xp's last run: the same
// sums as rowDot, without its per-row setup.
func (k *qKernel) rows4(out, xp []float32, lo, hi int) {
	q := k.q
	cols := q.Cols
	halves := cols / 32
	n64 := (cols + 63) / 64
	stride := 2 * n64
	sc := make([]float32, rowChunk*stride)
	var tmp []float32
	if stride != halves {
		tmp = make([]float32, rowChunk*halves)
	}
	var pad []byte
	for r0 := lo; r0 < hi; r0 += rowChunk {
		r1 := min(r0+rowChunk, hi)
		if tmp == nil {
			q.halfScales(sc[:(r1-r0)*halves], r0*halves)
		} else {
			t := tmp[:(r1-r0)*halves]
			q.halfScales(t, r0*halves)
			for i := 0; i < r1-r0; i++ {
				copy(sc[i*stride:i*stride+halves], t[i*halves:(i+1)*halves])
			}
		}
		for r := r0; r < r1; r++ {
			codes := q.Data[r*cols/2:]
			if len(codes) < 32*n64 {
				// The last row of a matrix whose rows end mid-run: the
				// kernel reads whole runs, so give it a padded copy.
				if pad == nil {
					pad = make([]byte, 32*n64)
				}
				clear(pad)
				copy(pad, codes)
				codes = pad
			}
			out[r] = dot4bitAVX2(&codes[0], &sc[(r-r0)*stride], n64, &xp[0], k.planes)
		}
	}
}

// qScratch is one goroutine's scratch space for rowDot.
type qScratch struct {
	scales []float32
	codes  []byte
}

func (k *qKernel) newScratch() *qScratch {
	n64 := (k.q.Cols + 63) / 64
	return &qScratch{scales: make([]float32, max(2*n64, k.q.Cols/BlockQ8_0)), codes: make([]byte, 32*n64)}
}

// prepare returns x rearranged for the 4-bit assembly kernel, or nil. Each
// run of 64 values becomes dot4bitAVX2's order: the high nibbles (even
// values) then the low ones (odd); within each, four groups of 8 floats,
// each the values of code bytes 4k..4k+3 followed by those of bytes
// 16+4k..16+4k+3. A row whose length is not a multiple of 64 is padded
// with zeros to whole runs.
func (k *qKernel) prepare(x []float32) []float32 {
	if !k.asm || k.q.Method == Q8_0 {
		return nil
	}
	xp := make([]float32, (len(x)+63)/64*64)
	for b := 0; b < len(x); b += 64 {
		for p := 0; p < 64; p++ {
			half, g, lane, t := p/32, (p%32)/8, (p%8)/4, p%4
			j := 16*lane + 4*g + t
			if e := b + 2*j + half; e < len(x) {
				xp[b+p] = x[e]
			}
		}
	}
	return xp
}

// blockScale returns the fp32 scale of 4-bit block b.
func (q *QMatrix) blockScale(b int) float32 {
	if q.DoubleQuant {
		return dynamicCode[q.QAbsmax[b]]*q.Absmax2[b/BlockDQ] + q.Offset
	}
	return q.Absmax[b]
}

// halfScales sets dst[i] to the scale of the 32-value half-block h0+i.
func (q *QMatrix) halfScales(dst []float32, h0 int) {
	if len(dst) == 0 {
		return
	}
	if !q.DoubleQuant {
		for i := range dst {
			dst[i] = q.Absmax[(h0+i)>>1]
		}
		return
	}
	code, qa, a2, off := &dynamicCode, q.QAbsmax, q.Absmax2, q.Offset
	i := 0
	if h0&1 == 1 { // starts on the second half of a block
		b := h0 >> 1
		dst[0] = code[qa[b]]*a2[b/BlockDQ] + off
		i = 1
	}
	for ; i+1 < len(dst); i += 2 {
		b := (h0 + i) >> 1
		s := code[qa[b]]*a2[b/BlockDQ] + off
		dst[i], dst[i+1] = s, s
	}
	if i < len(dst) {
		b := (h0 + i) >> 1
		dst[i] = code[qa[b]]*a2[b/BlockDQ] + off
	}
}

// rowDot returns row r of W times x.
func (k *qKernel) rowDot(r int, x, xp []float32, scr *qScratch) float32 {
	q := k.q
	start := r * q.Cols
	switch q.Method {
	case Q8_0:
		if k.asm {
			nb := q.Cols / BlockQ8_0
			if nb == 0 {
				return 0
			}
			b0 := start / BlockQ8_0
			_ = q.Data[(b0+nb)*bytesQ8Block-1]
			return dotQ8AVX2(&q.Data[b0*bytesQ8Block], nb, &x[0])
		}
		return k.rowDotQ8(start, x)
	default:
		if k.asm {
			n64 := (q.Cols + 63) / 64
			halves := q.Cols / 32
			sc := scr.scales[:2*n64]
			q.halfScales(sc[:halves], start>>5)
			clear(sc[halves:]) // the zero padding of xp's last run
			codes := q.Data[start/2:]
			if len(codes) < 32*n64 {
				// The last row of a matrix whose rows end mid-run: the kernel
				// reads whole runs, so give it a padded copy.
				codes = scr.codes[:32*n64]
				clear(codes)
				copy(codes, q.Data[start/2:])
			}
			return dot4bitAVX2(&codes[0], &sc[0], n64, &xp[0], k.planes)
		}
		return k.rowDot4(start, x)
	}
}

// rowDot4 is the pure-Go fused 4-bit dot product of the Cols elements from
// flat index start with x, using a byte→value-pair table.
func (k *qKernel) rowDot4(start int, x []float32) float32 {
	q := k.q
	end := start + q.Cols
	data := q.Data
	var total float32
	for g := start; g < end; {
		b := g / Block4Bit
		bend := min((b+1)*Block4Bit, end)
		var a0, a1, a2, a3 float32
		i := g
		if i&1 == 1 {
			a0 += k.tab[data[i>>1]&15] * x[i-start]
			i++
		}
		for ; i+4 <= bend; i += 4 {
			p := k.pair[data[i>>1]]
			p2 := k.pair[data[i>>1+1]]
			xx := x[i-start : i-start+4 : i-start+4]
			a0 += p[0] * xx[0]
			a1 += p[1] * xx[1]
			a2 += p2[0] * xx[2]
			a3 += p2[1] * xx[3]
		}
		for ; i < bend; i++ {
			c := data[i>>1]
			if i&1 == 0 {
				c >>= 4
			}
			a0 += k.tab[c&15] * x[i-start]
		}
		total += ((a0 + a1) + (a2 + a3)) * q.blockScale(b)
		g = bend
	}
	return total
}

// rowDotQ8 is the pure-Go fused Q8_0 dot product.
func (k *qKernel) rowDotQ8(start int, x []float32) float32 {
	q := k.q
	end := start + q.Cols
	var total float32
	for g := start; g < end; {
		b := g / BlockQ8_0
		bend := min((b+1)*BlockQ8_0, end)
		rec := q.Data[b*bytesQ8Block : (b+1)*bytesQ8Block]
		d := half.F16ToF32(binary.LittleEndian.Uint16(rec))
		qs := rec[2:]
		var a0, a1 float32
		i := g
		for ; i+2 <= bend; i += 2 {
			a0 += float32(int8(qs[i-b*BlockQ8_0])) * x[i-start]
			a1 += float32(int8(qs[i+1-b*BlockQ8_0])) * x[i+1-start]
		}
		for ; i < bend; i++ {
			a0 += float32(int8(qs[i-b*BlockQ8_0])) * x[i-start]
		}
		total += (a0 + a1) * d
		g = bend
	}
	return total
}

// String describes the matrix for messages.
func (q *QMatrix) String() string {
	return fmt.Sprintf("%v[%d×%d] %.3f bits/param", q.Method, q.Rows, q.Cols, q.BitsPerParam())
}

// evenOdd returns x rearranged for dot4bitAVX512: per run of 32 values, the
// 16 even ones, then the 16 odd ones. len(x) is a multiple of 32.
func evenOdd(x []float32) []float32 {
	xp := make([]float32, len(x))
	for h := 0; h < len(x); h += 32 {
		for b := 0; b < 16; b++ {
			xp[h+b] = x[h+2*b]
			xp[h+16+b] = x[h+2*b+1]
		}
	}
	return xp
}

// rows4AVX512 sets out[r] = row r of W times x for r in [lo, hi) with the
// AVX-512 4-bit kernel. Cols is a multiple of 32, so each row is whole
// 32-value halves; their scales are decoded rowChunk rows at a time.
func (k *qKernel) rows4AVX512(out, xp []float32, lo, hi int) {
	q := k.q
	cols := q.Cols
	halves := cols / 32
	if hi <= lo || halves == 0 {
		for r := lo; r < hi; r++ {
			out[r] = 0
		}
		return
	}
	sc := make([]float32, rowChunk*halves)
	for r0 := lo; r0 < hi; r0 += rowChunk {
		r1 := min(r0+rowChunk, hi)
		q.halfScales(sc[:(r1-r0)*halves], r0*halves)
		for r := r0; r < r1; r++ {
			codes := q.Data[r*cols/2 : (r+1)*cols/2]
			out[r] = dot4bitAVX512(&codes[0], &sc[(r-r0)*halves], halves, &xp[0], k.tab)
		}
	}
}
