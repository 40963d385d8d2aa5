package kernels

import "sync"

// This file holds the training-only products. Inference keeps MatMul,
// whose sums follow llama2.c's order closely enough for its goldens;
// training has no such goldens (it is compared with PyTorch within a
// rounding bound), so its forward product may use the faster
// outer-product form of a GEMM.

// trainMaxKC is the most of the summed dimension's values that one block
// of the training forward product covers: the packed block of weights, 32
// rows of kc values (kc·128 bytes), stays in L1 or close to it while every
// input row meets it. Measured with BenchmarkTrainProducts on an AMD EPYC
// (Zen 4): one block of all 288 columns ran as fast as blocks of 128 and
// faster than blocks of 64, whose partial sums are re-read between blocks.
const trainMaxKC = 512

// trainKC returns the block length for a sum over cols values: the fewest
// blocks of at most trainMaxKC, of equal length rounded up to a multiple
// of 32 (so that blocks end where runs end, see trainRun), the last one
// shorter.
func trainKC(cols int) int {
	blocks := (cols + trainMaxKC - 1) / trainMaxKC
	return ((cols+blocks-1)/blocks + 31) &^ 31
}

// trainRun returns the length of the runs that the training kernel sums
// in one FMA chain before adding them to the result, for a sum over cols
// products: every output element is the sum, in order, of runs of that
// many consecutive products (the last shorter), each summed in order. The
// rounding error then grows with run + cols/run terms instead of cols;
// run near √cols keeps it close to that of MatMul's eight-lane dot
// products (TestTrainMatMulAccuracy: within 25%, below it from 256
// columns), which the PyTorch comparison of runtime/train needs: runs of
// 32 at the tiny model's 64 columns moved it past its bound.
func trainRun(cols int) int {
	switch {
	case cols < 256:
		return 8
	case cols < 1024:
		return 16
	}
	return 32
}

// trainScratch is one goroutine's packing buffers for TrainMatMul.
type trainScratch struct {
	panel []float32 // [kc][32]: 32 weight rows, transposed
	a     []float32 // [8][kc]: the last input rows short of eight, zero-padded
	c     []float32 // [n8+8][32]: results of the tails (weight rows short of 32, input rows short of 8)
	wide  []float32 // [kc][32]: the weight gradient's 32 rows of Gᵀ, gathered (trainGemmRange)
}

var trainScratchPool = sync.Pool{New: func() any { return new(trainScratch) }}

// TrainMatMul computes out = X·Wᵀ for X [n, cols], W [rows, cols] and out
// [n, rows], all row-major, as MatMul does, for training. With AVX-512 it
// packs 32 weight rows at a time, transposed, and runs them through an
// 8×32 register tile of outer products; every output element's sum then
// runs over the columns in order, in runs of trainRun(cols) added in
// order, whatever the number of threads. Without AVX-512 it is MatMul.
func (e Exec) TrainMatMul(out, x, w []float32, n, rows, cols int) error {
	if !e.avx512() {
		return e.MatMul(out, x, w, n, rows, cols)
	}
	if err := checkDims("TrainMatMul", n, rows, cols); err != nil {
		return err
	}
	if err := checkLen("TrainMatMul", "out", len(out), n*rows); err != nil {
		return err
	}
	if err := checkLen("TrainMatMul", "X", len(x), n*cols); err != nil {
		return err
	}
	if err := checkLen("TrainMatMul", "W", len(w), rows*cols); err != nil {
		return err
	}
	e.parallelRows(rows, 32, n*cols, func(lo, hi int) {
		s := trainScratchPool.Get().(*trainScratch)
		trainForwardRange(out, x, w, n, rows, cols, lo, hi, s)
		trainScratchPool.Put(s)
	})
	return nil
}

// trainForwardRange computes the output columns [lo, hi) of TrainMatMul;
// lo is a multiple of 32.
func trainForwardRange(out, x, w []float32, n, rows, cols, lo, hi int, s *trainScratch) {
	kc := min(trainKC(cols), cols)
	run := trainRun(cols)
	n8 := n &^ 7
	s.panel = grow(s.panel, kc*32)
	if n8 < n {
		s.a = grow(s.a, 8*kc)
	}
	if (hi-lo)%32 != 0 || n8 < n {
		s.c = grow(s.c, (n8+8)*32)
	}
	for r0 := lo; r0 < hi; r0 += 32 {
		nr := min(32, hi-r0)
		full := nr == 32
		for p0 := 0; p0 < cols; p0 += kc {
			kb := min(kc, cols-p0)
			packPanel(s.panel, w, r0, nr, cols, p0, kb)
			add := p0 > 0
			// The next panel's weights stream into L2 while these
			// compute: a share of them before each tile of eight rows.
			var next []float32
			if r0+64 <= hi {
				next = w[(r0+32)*cols+p0:]
			}
			share := (32*cols/16 + n8/8) / max(n8/8, 1)
			for i := 0; i < n8; i += 8 {
				if next != nil && kb == cols {
					// The next 32 rows are one run of 32·cols values.
					off := (i / 8) * share * 16
					if off < 32*cols {
						trainPrefetchT1(&next[off], min(share, (32*cols-off+15)/16))
					}
				}
				_ = x[(i+7)*cols+p0+kb-1]
				if full {
					_ = out[(i+7)*rows+r0+31]
					trainGemm8x32AVX512(&x[i*cols+p0], cols, 1, &s.panel[0], 32, kb, &out[i*rows+r0], rows, run, add)
				} else {
					trainGemm8x32AVX512(&x[i*cols+p0], cols, 1, &s.panel[0], 32, kb, &s.c[i*32], 32, run, add)
				}
			}
			if n8 < n {
				a := s.a[:8*kb]
				clear(a)
				for r := range n - n8 {
					copy(a[r*kb:(r+1)*kb], x[(n8+r)*cols+p0:(n8+r)*cols+p0+kb])
				}
				trainGemm8x32AVX512(&a[0], kb, 1, &s.panel[0], 32, kb, &s.c[n8*32], 32, run, add)
			}
		}
		if !full {
			for i := range n8 {
				copy(out[i*rows+r0:i*rows+r0+nr], s.c[i*32:i*32+nr])
			}
		}
		for i := n8; i < n; i++ {
			copy(out[i*rows+r0:i*rows+r0+nr], s.c[i*32:i*32+nr])
		}
	}
}

// packPanel writes rows [r0, r0+nr) of W [·, cols], columns [p0, p0+kb),
// transposed into panel [kb][32], with zeros for the rows past nr.
func packPanel(panel, w []float32, r0, nr, cols, p0, kb int) {
	panel = panel[:kb*32]
	k8 := 0
	if nr == 32 && kb >= 8 {
		k8 = kb &^ 7
		_ = w[(r0+31)*cols+p0+k8-1]
		trainPack32AVX2(&w[r0*cols+p0], cols, &panel[0], k8)
	} else if nr < 32 {
		clear(panel)
	}
	for j := range nr {
		row := w[(r0+j)*cols+p0+k8 : (r0+j)*cols+p0+kb]
		for p, v := range row {
			panel[(k8+p)*32+j] = v
		}
	}
}
