package kernels

import (
	"encoding/binary"
	"fmt"
)

// QMatVec computes out = W·x for a quantised W of shape [Rows, Cols],
// decoding the codes block by block inside the dot products so that the
// fp32 matrix never exists: a 4-bit matrix moves an eighth of the bytes an
// fp32 one does. Rows are split over e.Threads goroutines.
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
	k := newQKernel(q, !e.NoAsm && useAsm)
	xp := k.prepare(x)
	e.parallelRows(q.Rows, 1, q.Cols/4, func(lo, hi int) {
		scratch := make([]float32, q.Cols/16+2)
		for r := lo; r < hi; r++ {
			out[r] = k.rowDot(r, x, xp, scratch)
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
	rows, cols := q.Rows, q.Cols
	e.parallelRows(rows, 4, n*cols, func(lo, hi int) {
		wt := make([]float32, 4*cols)
		asm := useAsm && !e.NoAsm
		r := lo
		for ; r+4 <= hi; r += 4 {
			q.dequantizeRange(wt, r*cols)
			rowTile4(asm, out, wt, x, n, rows, cols, r)
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
	q    *QMatrix
	asm  bool
	tab  *[16]float32
	pair *[256][2]float32 // 4-bit: the two decoded values of each byte
}

func newQKernel(q *QMatrix, asm bool) *qKernel {
	k := &qKernel{q: q}
	switch q.Method {
	case NF4, FP4:
		k.tab = q.code()
		k.pair = new([256][2]float32)
		for b := range k.pair {
			k.pair[b] = [2]float32{k.tab[b>>4], k.tab[b&15]}
		}
		// Rows then start on a 16-element group, and groups never straddle
		// blocks.
		k.asm = asm && q.Cols%16 == 0
	case Q8_0:
		k.asm = asm && q.Cols%BlockQ8_0 == 0
	}
	return k
}

// prepare returns x rearranged for the 4-bit assembly kernel, or nil. Each
// group of 16 elements becomes its 8 even-indexed elements followed by its
// 8 odd-indexed ones, the order in which the kernel unpacks high and low
// nibbles of 8 bytes.
func (k *qKernel) prepare(x []float32) []float32 {
	if !k.asm || k.q.Method == Q8_0 {
		return nil
	}
	xp := make([]float32, len(x))
	for g := 0; g+16 <= len(x); g += 16 {
		for j := 0; j < 8; j++ {
			xp[g+j] = x[g+2*j]
			xp[g+8+j] = x[g+2*j+1]
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

// rowDot returns row r of W times x.
func (k *qKernel) rowDot(r int, x, xp, scratch []float32) float32 {
	q := k.q
	start := r * q.Cols
	switch q.Method {
	case Q8_0:
		if k.asm {
			nb := q.Cols / BlockQ8_0
			b0 := start / BlockQ8_0
			sc := scratch[:nb]
			for i := range sc {
				sc[i] = f16ToF32(binary.LittleEndian.Uint16(q.Data[(b0+i)*bytesQ8Block:]))
			}
			if nb == 0 {
				return 0
			}
			return dotQ8AVX2(&q.Data[b0*bytesQ8Block], &sc[0], nb, &x[0])
		}
		return k.rowDotQ8(start, x)
	default:
		if k.asm && q.Cols%Block4Bit == 0 {
			nb := q.Cols / Block4Bit
			if nb == 0 {
				return 0
			}
			b0 := start / Block4Bit
			sc := scratch[:nb]
			for i := range sc {
				sc[i] = q.blockScale(b0 + i)
			}
			return dot4bitBlocksAVX2(&q.Data[start/2], &sc[0], nb, &xp[0], k.tab)
		}
		if k.asm {
			ng := q.Cols / 16
			if ng == 0 {
				return 0
			}
			sc := scratch[:ng]
			end := start + q.Cols
			for b := start / Block4Bit; b*Block4Bit < end; b++ {
				s := q.blockScale(b)
				g0 := (max(b*Block4Bit, start) - start) >> 4
				g1 := (min((b+1)*Block4Bit, end) - start) >> 4
				for g := g0; g < g1; g++ {
					sc[g] = s
				}
			}
			return dot4bitAVX2(&q.Data[start/2], &sc[0], ng, &xp[0], k.tab)
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
		d := f16ToF32(binary.LittleEndian.Uint16(rec))
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
