package kernels

import "fmt"

// ShapeError reports operands whose lengths do not match the dimensions a
// kernel was given.
type ShapeError struct {
	Kernel string // "MatVec"
	Detail string // which operand is wrong and how
}

// Error implements error.
func (e *ShapeError) Error() string { return "kernels." + e.Kernel + ": " + e.Detail }

func shapeErr(kernel, format string, args ...any) error {
	return &ShapeError{Kernel: kernel, Detail: fmt.Sprintf(format, args...)}
}

// checkLen reports an error unless len(s) is exactly want.
func checkLen(kernel, name string, got, want int) error {
	if got != want {
		return shapeErr(kernel, "%s has %d elements, want %d", name, got, want)
	}
	return nil
}

func checkDims(kernel string, dims ...int) error {
	for _, d := range dims {
		if d < 0 {
			return shapeErr(kernel, "negative dimension %d", d)
		}
	}
	return nil
}

// MatVec computes out = W·x for a row-major W of shape [rows, cols],
// single-threaded. It is Exec{}.MatVec.
func MatVec(out, w, x []float32, rows, cols int) error {
	return Exec{}.MatVec(out, w, x, rows, cols)
}

// MatVec computes out = W·x for a row-major W of shape [rows, cols], x of
// length cols and out of length rows, splitting the rows over e.Threads
// goroutines.
func (e Exec) MatVec(out, w, x []float32, rows, cols int) error {
	if err := checkDims("MatVec", rows, cols); err != nil {
		return err
	}
	if err := checkLen("MatVec", "out", len(out), rows); err != nil {
		return err
	}
	if err := checkLen("MatVec", "W", len(w), rows*cols); err != nil {
		return err
	}
	if err := checkLen("MatVec", "x", len(x), cols); err != nil {
		return err
	}
	asm, avx512 := useAsm && !e.NoAsm, e.avx512()
	e.parallelRows(rows, 4, cols, func(lo, hi int) {
		matVecRange(asm, avx512, out, w, x, cols, lo, hi)
	})
	return nil
}

// MatMul computes out = X·Wᵀ for X of shape [n, cols], W of shape
// [rows, cols] and out of shape [n, rows], all row-major: each row of out is
// W times the matching row of X. This is the batched (prefill) form of
// MatVec. Weight rows are processed in tiles of e.TileRows so that a tile
// stays in cache while all n rows of X stream past it, and tiles are spread
// over e.Threads goroutines.
func (e Exec) MatMul(out, x, w []float32, n, rows, cols int) error {
	if err := checkDims("MatMul", n, rows, cols); err != nil {
		return err
	}
	if err := checkLen("MatMul", "out", len(out), n*rows); err != nil {
		return err
	}
	if err := checkLen("MatMul", "X", len(x), n*cols); err != nil {
		return err
	}
	if err := checkLen("MatMul", "W", len(w), rows*cols); err != nil {
		return err
	}
	if n == 1 {
		return e.MatVec(out, w, x, rows, cols)
	}
	asm := useAsm && !e.NoAsm
	avx512 := e.avx512()
	tile := e.tileRows()
	if n*cols <= smallBatchFloats {
		// A small batch (a server's decode step) stays in L1 while the
		// weights stream past it once, four rows at a time, each meeting
		// every input row before the next four are read: the weights are
		// read in order, as MatVec reads them, and the prefetcher keeps up.
		// With AVX-512 the four rows prefetchRows ahead are prefetched
		// into L2 while these four compute, so that memory streams while
		// the tiles compute instead of in turn, and every sum is the one
		// MatVec gives (rowTile4).
		e.parallelRows(rows, 4, n*cols, func(lo, hi int) {
			r := lo
			for ; r+4 <= hi; r += 4 {
				var next *float32
				if r+prefetchRows+4 <= rows {
					next = &w[(r+prefetchRows)*cols]
				}
				rowTile4(asm, avx512, out, w[r*cols:(r+4)*cols], x, n, rows, cols, r, next)
			}
			for ; r < hi; r++ {
				for i := range n {
					if avx512 && cols > 0 {
						dotRowsSeq(true, out[i*rows+r:i*rows+r+1], w[r*cols:(r+1)*cols], x[i*cols:(i+1)*cols], cols)
					} else {
						out[i*rows+r] = dotWith(asm, w[r*cols:(r+1)*cols], x[i*cols:(i+1)*cols])
					}
				}
			}
		})
		return nil
	}
	// The tile's weight rows stay in cache while the input rows stream
	// past them: with AVX-512 four at a time through the 4×4 tile, each
	// sum MatVec's (rowTile4), so that a long prompt's logits are those of
	// feeding it token by token, as llama2.c does; otherwise two at a time
	// through the 4×2 AVX2 tile. (Training with AVX-512 multiplies through
	// TrainMatMul; without it, through this 4×2 tile, whose order the
	// PyTorch comparisons of runtime/train were tuned on.)
	step := 2
	if avx512 {
		step = 4
	}
	e.parallelRows(rows, tile, n*cols, func(lo, hi int) {
		for t0 := lo; t0 < hi; t0 += tile {
			t1 := min(t0+tile, hi)
			for b := 0; b < n; b += step {
				nb := min(step, n-b)
				xb := x[b*cols : (b+nb)*cols]
				r := t0
				for ; r+4 <= t1; r += 4 {
					rowTile4(asm, avx512, out[b*rows:], w[r*cols:(r+4)*cols], xb, nb, rows, cols, r, nil)
				}
				for ; r < t1; r++ {
					for i := 0; i < nb; i++ {
						if avx512 && cols > 0 {
							dotRowsSeq(true, out[(b+i)*rows+r:(b+i)*rows+r+1], w[r*cols:(r+1)*cols], xb[i*cols:(i+1)*cols], cols)
						} else {
							out[(b+i)*rows+r] = dotWith(asm, w[r*cols:(r+1)*cols], xb[i*cols:(i+1)*cols])
						}
					}
				}
			}
		}
	})
	return nil
}

// MatMulTransA computes out = Aᵀ·B for A of shape [n, m], B of shape [n, k]
// and out of shape [m, k], adding into out when accumulate is true. It is
// the weight gradient of a linear layer (dW = dYᵀ·X): each output row is a
// sum of rows of B, added four at a time so that the output row is read and
// written a quarter as often. Output rows are spread over e.Threads
// goroutines.
func (e Exec) MatMulTransA(out, a, b []float32, n, m, k int, accumulate bool) error {
	if err := checkDims("MatMulTransA", n, m, k); err != nil {
		return err
	}
	if err := checkLen("MatMulTransA", "out", len(out), m*k); err != nil {
		return err
	}
	if err := checkLen("MatMulTransA", "A", len(a), n*m); err != nil {
		return err
	}
	if err := checkLen("MatMulTransA", "B", len(b), n*k); err != nil {
		return err
	}
	asm := useAsm && !e.NoAsm
	if asm && k >= 16 && n > 0 {
		e.parallelRows(m, 6, n*k, func(lo, hi int) {
			if !accumulate {
				clear(out[lo*k : hi*k])
			}
			gemmRange(out, a, 1, m, b, k, lo, hi, n, k)
		})
		return nil
	}
	e.parallelRows(m, 1, n*k, func(lo, hi int) {
		var p [4]float32
		for r := lo; r < hi; r++ {
			orow := out[r*k : (r+1)*k]
			if !accumulate {
				clear(orow)
			}
			i := 0
			for ; i+4 <= n; i += 4 {
				p = [4]float32{a[i*m+r], a[(i+1)*m+r], a[(i+2)*m+r], a[(i+3)*m+r]}
				axpyRows4(asm, orow, &p, b[i*k:(i+4)*k], k)
			}
			for ; i < n; i++ {
				axpyWith(asm, orow, a[i*m+r], b[i*k:(i+1)*k])
			}
		}
	})
	return nil
}

// MatMulNN computes out = A·B for A of shape [n, m], B of shape [m, k] and
// out of shape [n, k]; it is the input gradient of a linear layer
// (dX = dY·W). Each output row is a sum of rows of B, added four at a time.
func (e Exec) MatMulNN(out, a, b []float32, n, m, k int) error {
	if err := checkDims("MatMulNN", n, m, k); err != nil {
		return err
	}
	if err := checkLen("MatMulNN", "out", len(out), n*k); err != nil {
		return err
	}
	if err := checkLen("MatMulNN", "A", len(a), n*m); err != nil {
		return err
	}
	if err := checkLen("MatMulNN", "B", len(b), m*k); err != nil {
		return err
	}
	asm := useAsm && !e.NoAsm
	if asm && k >= 16 && m > 0 {
		e.parallelRows(n, 6, m*k, func(lo, hi int) {
			clear(out[lo*k : hi*k])
			gemmRange(out, a, m, 1, b, k, lo, hi, m, k)
		})
		return nil
	}
	e.parallelRows(n, 1, m*k, func(lo, hi int) {
		var p [4]float32
		for i := lo; i < hi; i++ {
			orow := out[i*k : (i+1)*k]
			clear(orow)
			j := 0
			for ; j+4 <= m; j += 4 {
				copy(p[:], a[i*m+j:i*m+j+4])
				axpyRows4(asm, orow, &p, b[j*k:(j+4)*k], k)
			}
			for ; j < m; j++ {
				axpyWith(asm, orow, a[i*m+j], b[j*k:(j+1)*k])
			}
		}
	})
	return nil
}

// gemmRange adds to rows [lo, hi) of out, a row-major [·, n] matrix, the
// product of A and B over kdim: out[i][c] += Σ_p A[i·as + p·ak]·B[p·bs + c].
// Six rows by sixteen columns at a time run through the register-tiled
// gemm6x16AVX2, over blocks of kdim small enough that the block of B stays
// in the L2 cache while the rows of A pass. The last rows short of six go
// through the same kernel, from a zero-padded copy of their part of A into
// a copy of their rows of out; the columns past the last sixteen are
// summed in Go. Every element's sum runs in the same order whatever lo and
// hi are, as long as lo is a multiple of six (parallelRows' alignment), so
// the result does not depend on the number of threads.
func gemmRange(out, a []float32, as, ak int, b []float32, bs, lo, hi, kdim, n int) {
	kc := min(max(65536/n, 32), 512)
	n16 := n &^ 15
	full := lo + (hi-lo)/6*6
	var pa, pc, pk []float32
	if ak != 1 {
		pk = make([]float32, 6*kc)
	}
	if rem := hi - full; rem > 0 {
		pa = make([]float32, 6*kc)
		pc = make([]float32, 6*n)
		copy(pc, out[full*n:hi*n])
	}
	for p0 := 0; p0 < kdim; p0 += kc {
		kb := min(kc, kdim-p0)
		for i := lo; i < full; i += 6 {
			_ = a[(i+5)*as+(p0+kb-1)*ak]
			_ = out[(i+5)*n+n16-1]
			pa6, s6, k6 := a[i*as+p0*ak:], as, ak
			if ak != 1 {
				// A's six values for one p lie a whole row of A apart
				// (dW = Gᵀ·X): gather them once into [kb][6], contiguous
				// for every column block, instead of touching kb cache
				// lines, which often share a cache set, per block.
				for p := range kb {
					for r := range 6 {
						pk[p*6+r] = a[(i+r)*as+(p0+p)*ak]
					}
				}
				pa6, s6, k6 = pk, 1, 6
			}
			for j := 0; j < n16; j += 16 {
				_ = b[(p0+kb-1)*bs+j+15]
				gemm6x16AVX2(&pa6[0], s6, k6, &b[p0*bs+j], bs, kb, &out[i*n+j], n)
			}
			gemmTail(out, a, as, ak, b, bs, i, i+6, p0, kb, n16, n)
		}
		if pa == nil {
			continue
		}
		for r := range hi - full {
			for p := range kb {
				pa[r*kb+p] = a[(full+r)*as+(p0+p)*ak]
			}
		}
		_ = b[(p0+kb-1)*bs+n16-1]
		for j := 0; j < n16; j += 16 {
			gemm6x16AVX2(&pa[0], kb, 1, &b[p0*bs+j], bs, kb, &pc[j], n)
		}
		gemmTail(out, a, as, ak, b, bs, full, hi, p0, kb, n16, n)
	}
	if pc != nil {
		for r := range hi - full {
			copy(out[(full+r)*n:(full+r)*n+n16], pc[r*n:r*n+n16])
		}
	}
}

// gemmTail is gemmRange's Go form for rows [lo, hi) and columns [c0, n)
// of the block of kb sums from p0.
func gemmTail(out, a []float32, as, ak int, b []float32, bs, lo, hi, p0, kb, c0, n int) {
	for i := lo; i < hi; i++ {
		for c := c0; c < n; c++ {
			var s float32
			for p := p0; p < p0+kb; p++ {
				s += a[i*as+p*ak] * b[p*bs+c]
			}
			out[i*n+c] += s
		}
	}
}

// axpyRows4 adds Σᵢ p[i]·v_i to y for the four consecutive rows v_i of
// length k in v4.
func axpyRows4(asm bool, y []float32, p *[4]float32, v4 []float32, k int) {
	k8 := k &^ 7
	if asm && k8 > 0 {
		_ = v4[4*k-1]
		axpy4AVX2(&y[0], p, &v4[0], k, k8)
	} else {
		k8 = 0
	}
	for i := 0; i < 4; i++ {
		if p[i] != 0 {
			axpyGeneric(y[k8:k], p[i], v4[i*k+k8:(i+1)*k])
		}
	}
}

// axpyWith is Axpy, or its pure-Go form when asm is false.
func axpyWith(asm bool, y []float32, alpha float32, x []float32) {
	if asm {
		Axpy(y, alpha, x)
		return
	}
	axpyGeneric(y, alpha, x)
}

// prefetchRows is how many weight rows ahead the small-batch product
// prefetches. Measured with BenchmarkMatMul's 8×32000×288 product (a
// decode step's classifier) on an AMD EPYC with AVX-512: prefetching into
// L2 (PREFETCHT1) 8 to 64 rows ahead halves its time against prefetching
// the next four rows into L1, which was no faster than not prefetching.
const prefetchRows = 32

// matVecRange computes rows [lo, hi) of out = W·x.
//
// With the assembly kernels each row is summed as gcc -Ofast vectorises
// llama2.c's matmul (dotRowsSeq), so that a llama2.c model's products are
// bit for bit llama2.c's whatever the threads, and the four quarters of
// the range are read side by side as four sequential streams
// (dotRows4SeqAVX512). Measured side by side on an AMD EPYC (Zen 5, loaded
// 2-vCPU VM, CPU time, BenchmarkMatVec and a 110M decode step), this is
// faster on every shape than the kernels it replaced: four 8-lane
// accumulators per row read one row at a time with PREFETCHT0 512 bytes
// ahead (which alone was up to 20% slower than no software prefetch on a
// stream from memory) and, from 1024 columns, four interleaved rows. One
// row at a time in llama2.c's order was as fast as llama2.c on a mapped
// model file but 1.5× slower on 4 KiB pages of the Go heap, where the
// hardware prefetcher stops at every page; the four streams fix that.
func matVecRange(asm, avx512 bool, out, w, x []float32, cols, lo, hi int) {
	if hi <= lo {
		return
	}
	if asm && cols > 0 {
		dotRowsSeq(avx512, out[lo:hi], w[lo*cols:hi*cols], x[:cols], cols)
		return
	}
	for r := lo; r < hi; r++ {
		out[r] = dotGeneric(w[r*cols:(r+1)*cols], x)
	}
}

// dotRowsSeq sets out[r] = Σᵢ w[r·cols+i]·x[i] for every r < len(out), in
// the order of gcc -Ofast -march=native's vectorisation of the plain loop
// `for j { val += w[i*n+j] * x[j]; }` on an AVX-512 machine: one 16-lane
// accumulator, lane l summing w[16k+l]·x[16k+l] in order of k by fused
// multiply-add; its two halves added (l + l+8); the next 8 elements, when
// 8 or more remain, added to those 8 lanes by one FMA; the 8 lanes reduced
// as (l + l+4), (l + l+2), (l + l+1); the last n mod 8 elements added one
// by one by FMA. The interleaving of rows changes no row's sums. It must
// only be called when the assembly kernels are usable; w must hold
// len(out)·cols elements and x cols.
func dotRowsSeq(avx512 bool, out, w, x []float32, cols int) {
	rows := len(out)
	if rows == 0 {
		return
	}
	_ = w[rows*cols-1]
	_ = x[cols-1]
	r := 0
	if h := rows / 4; h >= 2 {
		if avx512 {
			dotRows4SeqAVX512(&w[0], cols, &x[0], cols, &out[0], h)
		} else {
			dotRows4SeqAVX2(&w[0], cols, &x[0], cols, &out[0], h)
		}
		r = 4 * h
	}
	if r == rows {
		return
	}
	if avx512 {
		dotRowsSeqAVX512(&w[r*cols], cols, &x[0], cols, &out[r], rows-r)
	} else {
		dotRowsSeqAVX2(&w[r*cols], cols, &x[0], cols, &out[r], rows-r)
	}
}

// dot4 computes the dot products of four consecutive rows of length cols,
// starting at w[0], with x.
func dot4(asm bool, acc *[4]float32, w []float32, cols int, x []float32) {
	n8 := cols &^ 7
	if asm && n8 > 0 {
		_ = w[3*cols+cols-1]
		dot4AVX2(&w[0], cols, &x[0], n8, acc)
		if n8 < cols {
			for i := 0; i < 4; i++ {
				acc[i] += dotGeneric(w[i*cols+n8:(i+1)*cols], x[n8:cols])
			}
		}
		return
	}
	for i := 0; i < 4; i++ {
		acc[i] = dotGeneric(w[i*cols:(i+1)*cols], x[:cols])
	}
}

// rowTile4 writes out[b·rows+r+i] = w4ᵢ·x_b for the four weight rows in w4
// (4·cols elements) and every row b of x. When avx512 is set (the small
// batches of a server's decode step or a short prompt) every sum is
// MatVec's, in llama2.c's order, so that a batch gives each of its
// sequences the bits it would get alone: four input rows at a time through
// the 4×4 AVX-512 tile when cols is a multiple of 16, the rest through
// dotRowsSeq. Otherwise two input rows at a time go through the 4×2
// register tile when the assembly kernels are usable, in an order of its
// own. next, when not nil, starts four weight rows to be read later; the
// first 4×4 tile prefetches them.
func rowTile4(asm, avx512 bool, out, w4, x []float32, n, rows, cols, r int, next *float32) {
	b := 0
	if avx512 && cols > 0 {
		// Each sum in llama2.c's order, as MatVec gives it: the 4×4 tile
		// where the rows have no tail past the last 16 columns, and
		// dotRowsSeq, four rows for one input, for the other inputs.
		_ = w4[4*cols-1]
		if cols%16 == 0 {
			for ; b+4 <= n; b += 4 {
				_ = x[(b+4)*cols-1]
				_ = out[(b+3)*rows+r+3]
				dot4x4AVX512(&w4[0], cols, &x[b*cols], cols, cols, &out[b*rows+r], rows, next)
				next = nil
			}
		}
		for ; b < n; b++ {
			dotRowsSeq(true, out[b*rows+r:b*rows+r+4], w4, x[b*cols:(b+1)*cols], cols)
		}
		return
	}
	if asm && cols >= 8 {
		var acc8 [8]float32
		for ; b+2 <= n; b += 2 {
			dot4x2(&acc8, w4, cols, x[b*cols:(b+2)*cols])
			copy(out[b*rows+r:b*rows+r+4], acc8[:4])
			copy(out[(b+1)*rows+r:(b+1)*rows+r+4], acc8[4:])
		}
	}
	var acc [4]float32
	for ; b < n; b++ {
		dot4(asm, &acc, w4, cols, x[b*cols:(b+1)*cols])
		copy(out[b*rows+r:b*rows+r+4], acc[:])
	}
}

// dotWith is Dot, or its pure-Go form when asm is false.
func dotWith(asm bool, a, b []float32) float32 {
	if asm {
		return Dot(a, b)
	}
	return dotGeneric(a, b)
}

// dot4x2 computes the 4×2 dot products of four consecutive rows of length
// cols starting at w[0] with the two consecutive rows of x2 (2·cols
// elements): acc[i] for the first x row, acc[4+i] for the second. It must
// only be called when the assembly kernels are usable.
func dot4x2(acc *[8]float32, w []float32, cols int, x2 []float32) {
	n8 := cols &^ 7
	_ = w[4*cols-1]
	_ = x2[2*cols-1]
	dot4x2AVX2(&w[0], cols, &x2[0], cols, n8, acc)
	if n8 < cols {
		for i := 0; i < 4; i++ {
			wr := w[i*cols+n8 : (i+1)*cols]
			acc[i] += dotGeneric(wr, x2[n8:cols])
			acc[4+i] += dotGeneric(wr, x2[cols+n8:2*cols])
		}
	}
}

// Dot returns the dot product of a and b, which must have the same length.
func Dot(a, b []float32) float32 {
	if useAsm && len(a) >= 8 && len(a) == len(b) {
		n8 := len(a) &^ 7
		s := dot1AVX2(&a[0], &b[0], n8)
		return s + dotGeneric(a[n8:], b[n8:])
	}
	return dotGeneric(a, b)
}

// dotGeneric is the pure-Go dot product, unrolled eight ways so that the
// additions form independent chains.
func dotGeneric(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	i := 0
	for ; i+8 <= len(a); i += 8 {
		aa := a[i : i+8 : i+8]
		bb := b[i : i+8 : i+8]
		s0 += aa[0] * bb[0]
		s1 += aa[1] * bb[1]
		s2 += aa[2] * bb[2]
		s3 += aa[3] * bb[3]
		s4 += aa[4] * bb[4]
		s5 += aa[5] * bb[5]
		s6 += aa[6] * bb[6]
		s7 += aa[7] * bb[7]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
}

// Axpy computes y += alpha·x; x must be at least as long as y.
func Axpy(y []float32, alpha float32, x []float32) {
	if useAsm && len(y) >= 8 && len(x) >= len(y) {
		n8 := len(y) &^ 7
		axpyAVX2(&y[0], alpha, &x[0], n8)
		y, x = y[n8:], x[n8:]
	}
	axpyGeneric(y, alpha, x)
}

// axpyGeneric is the pure-Go y += alpha·x.
func axpyGeneric(y []float32, alpha float32, x []float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] += alpha * x[i]
	}
}
